# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalog service that is not a Swarm stack: a QuickSync service (``quicksync: true``) runs as a plain container
pinned to one node with an Intel iGPU, because Swarm services cannot take devices (/dev/dri; docs/gpu.md).

``pinned_container`` turns its ``Service`` into the description ``roles/quicksync`` ``tasks_from: pinned_container``
runs (``quicksync_pinned_service``), from the same data and with the same image, networks, environment and mounts
as ``catalog/stack.py`` would give a Swarm service; ``pinned_node`` picks the node (the first eligible one with
QuickSync) and ``pinned_reason`` says why there is none; ``traefik_routes`` renders the routers and services of the
file provider for them, as the Swarm services get them from their labels (Traefik's swarm provider cannot see a
plain container).

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import typing as t

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError, Service, format_memory, volume_source
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import node_matches
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import image_reference, service_env

PINNED_LABEL = "mediastack.service"
STICKY_PREFIX = "mediastack_"


def pinned_container(svc: Service, settings: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    """One service -> ``quicksync_pinned_service`` (roles/quicksync, tasks_from pinned_container), without ``node``."""
    settings = platform_settings(settings)
    name = svc.name
    env = service_env(svc)
    container = {
        "name": name,
        "image": image_reference(svc, settings),
        "networks": [str(settings["network_names"].get(n, n)) for n in svc.networks],
        "env": dict(sorted(env.items())),
        "volumes": ["%s:%s%s" % (volume_source(v, name, settings), v.target, ":ro" if v.read_only else "") for v in svc.volumes],
        # a plain container publishes on its node only (no routing mesh); an unpublished port is reached on the overlay
        "ports": ["%d:%d/%s" % (p.published, p.target, p.protocol) for p in svc.ports if p.published is not None],
        "memory": format_memory(svc.resources.memory),
        "cpus": float(svc.resources.cpus),
        "labels": dict({PINNED_LABEL: name}, **svc.labels),
    }  # type: t.Dict[str, t.Any]
    if svc.run_as == "user" and svc.puid is not None:
        container["user"] = "%d:%d" % (svc.puid, svc.pgid)
    if svc.command:
        container["command"] = list(svc.command)
    return container


def _eligible(constraints: t.Sequence[str], nodes: t.Mapping[str, t.Mapping[str, t.Any]]) -> t.List[str]:
    return [h for h, n in nodes.items() if node_matches(constraints, h, str(n.get("role") or "worker"), n.get("labels") or {})]


def pinned_node(constraints: t.Sequence[str], nodes: t.Mapping[str, t.Mapping[str, t.Any]]) -> t.Optional[str]:
    """The one node that runs a pinned service: the first (in ``nodes``' order, the inventory's) that satisfies the
    service's placement constraints and has QuickSync; ``None`` when none does.

    ``nodes``: inventory host -> {role: manager|worker, labels: its Swarm labels, quicksync: True, False or None
    (its features were not read)}, as ``catalog_capacity_problems`` builds it from the hosts' variables.
    """
    for host in _eligible(constraints, nodes):
        if nodes[host].get("quicksync") is True:
            return host
    return None


def pinned_reason(constraints: t.Sequence[str], nodes: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    """Why ``pinned_node`` found no node, as a sentence that says what to do."""
    if not nodes:
        return "no Swarm node is known (the hosts list is empty)"
    eligible = _eligible(constraints, nodes)
    if not eligible:
        return ("no node satisfies its placement (%s); change the service's placement or the nodes' swarm_node_labels"
                % (", ".join(constraints) or "no constraints"))
    unread = [h for h in eligible if nodes[h].get("quicksync") is None]
    if unread:
        return ("none of the nodes it may run on has QuickSync, and the features of %s were not read (site.yml's preflight "
                "registers __mediastack_node_features on every Swarm host; was the node left out with --limit?)" % ", ".join(unread))
    return ("none of the nodes it may run on (%s) has an Intel iGPU with a render node; run it on a node with one (placement), "
            "drop quicksync, or disable the service" % ", ".join(eligible))


def traefik_routes(services: t.Iterable[Service], settings: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The file provider's ``http`` routers, services and middlewares of the pinned (QuickSync) services: the route and
    the metrics route each gets, as ``catalog/stack.py`` gives a Swarm service through its labels.

    Traefik reaches the container by its name, its alias on the overlay (``route.network``, one of the edge service's
    networks). The forward-auth middleware is the one the auth service's Swarm labels define (``<name>@swarm``).
    """
    settings = platform_settings(settings)
    routers = {}  # type: t.Dict[str, t.Any]
    lbs = {}  # type: t.Dict[str, t.Any]
    middlewares = {}  # type: t.Dict[str, t.Any]
    for svc in sorted((s for s in services if s.quicksync), key=lambda s: s.name):
        name = svc.name
        if svc.route:
            if not settings["domain"]:
                raise CatalogError(["%s: route needs the platform domain; set platform.domain, e.g. media.example.org" % name])
            router = {
                "rule": "Host(`%s.%s`)" % (svc.route.subdomain, settings["domain"]),
                "entryPoints": [str(settings["entrypoint"])],
                "service": svc.route.service or name,
                "tls": {"certResolver": str(settings["cert_resolver"])} if settings["cert_resolver"] else {},
            }  # type: t.Dict[str, t.Any]
            if svc.auth.policy != "bypass":
                router["middlewares"] = ["%s@swarm" % settings["auth_middleware"]]
            routers[name] = router
            lb = {"servers": [{"url": "http://%s:%d" % (name, svc.route.port)}]}  # type: t.Dict[str, t.Any]
            if svc.stateful:
                lb["sticky"] = {"cookie": {"name": STICKY_PREFIX + name.replace("-", "_"), "secure": True, "httpOnly": True}}
            lbs[name] = {"loadBalancer": lb}
        if svc.metrics and name != settings["edge_service"]:
            metrics = name + "-metrics"
            routers[metrics] = {"rule": "Path(`/metrics/%s`)" % name, "entryPoints": [str(settings["metrics_entrypoint"])],
                                "service": metrics, "middlewares": [metrics]}
            middlewares[metrics] = {"replacePath": {"path": svc.metrics["path"]}}
            lbs[metrics] = {"loadBalancer": {"servers": [{"url": "http://%s:%d" % (name, svc.metrics["port"])}]}}
    return {"routers": routers, "services": lbs, "middlewares": middlewares}
