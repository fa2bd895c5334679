# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalog service's Swarm stack: ``render_stack`` turns one ``Service`` plus the platform settings into a
Docker stack file (compose v3) for ``community.docker.docker_stack``: deploy settings, resources, Traefik's
labels (route, forward auth, the metrics route), volumes, secrets and configs, and the GPU reservation
(with its network anchor service, see ``PLATFORM_DEFAULTS``).

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import (
    UNITS, CatalogError, Image, Service, format_cpus, format_memory, volume_source,
)
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import driver_capabilities


def _traefik_labels(svc: Service, settings: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    labels = {}  # type: t.Dict[str, str]
    name = svc.name
    if svc.forward_auth:
        prefix = "traefik.http.middlewares.%s.forwardauth." % settings["auth_middleware"]
        labels[prefix + "address"] = "http://%s:%d%s" % (name, svc.forward_auth["port"], svc.forward_auth.get("path", "/api/authz/forward-auth"))
        labels[prefix + "trustForwardHeader"] = "true"
        labels[prefix + "authResponseHeaders"] = "Remote-User,Remote-Groups,Remote-Email,Remote-Name"
    if not svc.route:
        if labels:
            labels["traefik.enable"] = "true"
            labels["traefik.swarm.network"] = settings["network_names"].get(svc.networks[0], svc.networks[0])
        return labels
    if not settings["domain"]:
        raise CatalogError(["%s: route needs the platform domain; set platform.domain, e.g. media.example.org" % name])
    router = "traefik.http.routers.%s." % name
    labels["traefik.enable"] = "true"
    labels["traefik.swarm.network"] = settings["network_names"].get(svc.route.network, svc.route.network)
    labels[router + "rule"] = "Host(`%s.%s`)" % (svc.route.subdomain, settings["domain"])
    labels[router + "entrypoints"] = settings["entrypoint"]
    labels[router + "tls"] = "true"
    if settings["cert_resolver"]:
        labels[router + "tls.certresolver"] = settings["cert_resolver"]
    labels[router + "service"] = svc.route.service or name
    if svc.auth.policy != "bypass":
        labels[router + "middlewares"] = "%s@swarm" % settings["auth_middleware"]
    lb = "traefik.http.services.%s.loadbalancer." % name
    labels[lb + "server.port"] = str(svc.route.port)
    if svc.stateful:
        labels[lb + "sticky.cookie"] = "true"
        labels[lb + "sticky.cookie.name"] = "mediastack_%s" % name.replace("-", "_")
        labels[lb + "sticky.cookie.secure"] = "true"
        labels[lb + "sticky.cookie.httpOnly"] = "true"
    return labels


def _metrics_labels(svc: Service, settings: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    """Traefik routes /metrics/<service> on its metrics entrypoint to the service's metrics port and path."""
    if not svc.metrics or svc.name == settings["edge_service"]:
        return {}
    name = svc.name + "-metrics"
    router = "traefik.http.routers.%s." % name
    labels = {
        "traefik.enable": "true",
        router + "rule": "Path(`/metrics/%s`)" % svc.name,
        router + "entrypoints": str(settings["metrics_entrypoint"]),
        router + "service": name,
        router + "middlewares": "%s@swarm" % name,
        "traefik.http.middlewares.%s.replacepath.path" % name: svc.metrics["path"],
        "traefik.http.services.%s.loadbalancer.server.port" % name: str(svc.metrics["port"]),
    }
    if not svc.route:
        # the network Traefik reaches it on (a routed service has it already: its route network)
        labels["traefik.swarm.network"] = settings["network_names"].get(svc.networks[0], svc.networks[0])
    return labels


def _network_anchor(svc: Service, settings: t.Dict[str, t.Any], anchor_image: str) -> t.Dict[str, t.Any]:
    """A tiny global service on the GPU service's nodes that holds their attachments to its overlays."""
    name = svc.name + "-netanchor"
    if name in settings["image_overrides"]:
        image = str(settings["image_overrides"][name])
    else:
        repo, _sep, tag = anchor_image.rpartition(":")
        image = Image(repo, tag).reference(str(settings["image_registry"] or "")) if repo and "/" not in tag else anchor_image
    return {
        "image": image,
        "command": ["sleep", "2147483647"],
        "networks": list(svc.networks),
        "deploy": {
            "mode": "global",
            "endpoint_mode": settings["endpoint_mode"],
            "placement": {"constraints": list(svc.constraints)},
            "resources": {"limits": {"cpus": "0.05", "memory": "16M"}},
            "restart_policy": {"condition": "any", "delay": "5s"},
            "labels": {"mediastack.service": svc.name, "mediastack.role": "gpu-network-anchor"},
        },
    }


def image_reference(svc: Service, settings: t.Mapping[str, t.Any]) -> str:
    """The service's image as it is pulled: the platform's ``image_overrides`` entry for it, or its reference through
    ``image_registry`` (a Swarm stack and a node-pinned container, ``catalog/pinned.py``, use the same)."""
    return settings["image_overrides"].get(svc.name) or svc.image.reference(str(settings["image_registry"] or ""))


def service_env(svc: Service) -> t.Dict[str, str]:
    """The service's environment, with PUID/PGID for ``run_as: env`` (a stack and a node-pinned container alike)."""
    env = dict(svc.env)
    if svc.run_as == "env" and svc.puid is not None:
        env.setdefault("PUID", str(svc.puid))
        env.setdefault("PGID", str(svc.pgid))
    return env


def render_stack(svc: Service, platform: t.Optional[t.Mapping[str, t.Any]] = None,
                 gpu_assignment: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    """One service -> a Docker stack file (compose v3 dict) for ``community.docker.docker_stack``."""
    settings = platform_settings(platform)
    name = svc.name
    env = service_env(svc)
    reservations = {}  # type: t.Dict[str, t.Any]
    constraints = list(svc.constraints)
    if svc.gpu:
        generic = [{"kind": str(settings["gpu_resource_kind"]), "value": svc.gpu.count}]
        env.setdefault("NVIDIA_DRIVER_CAPABILITIES", driver_capabilities(svc.gpu.profiles))
        if gpu_assignment is not None:
            if not isinstance(gpu_assignment, Mapping):
                raise CatalogError(["%s: gpu_assignment must be the service's entry of gpu_assign's assignments" % name])
            # The assignment decides: its reservation ([] for a shared GPU, which Swarm does not count), its
            # GPU UUID and capabilities, and its node when one node made it (NVIDIA_VISIBLE_DEVICES names a GPU
            # of that node; a shared GPU is reserved by nothing, so only the pin keeps the service there).
            generic = list(gpu_assignment.get("generic_resources") or [])
            for key, value in dict(gpu_assignment.get("env") or {}).items():
                env[key] = str(value)
            node = gpu_assignment.get("node")
            if node:
                pin = "node.hostname == %s" % node
                if pin not in constraints:
                    constraints.append(pin)
        if generic:
            reservations["generic_resources"] = [{"discrete_resource_spec": {"kind": str(g["kind"]), "value": g["value"]}} for g in generic]
    ratio = float(settings["reservation_ratio"])
    res = svc.resources
    reserve_cpus = res.reserve_cpus if res.reserve_cpus is not None else res.cpus * ratio
    reserve_memory = res.reserve_memory if res.reserve_memory is not None else int(res.memory * ratio) // UNITS["m"] * UNITS["m"]
    if reserve_cpus > 0:
        reservations["cpus"] = format_cpus(reserve_cpus)
    if reserve_memory > 0:
        reservations["memory"] = format_memory(reserve_memory)
    order = "stop-first" if svc.stateful else "start-first"
    labels = {"mediastack.service": name, "mediastack.stateful": "true" if svc.stateful else "false"}
    if svc.backup_paths:
        labels["mediastack.backup.paths"] = ",".join(svc.backup_paths)
    if svc.metrics:
        labels["mediastack.metrics.port"] = str(svc.metrics["port"])
        labels["mediastack.metrics.path"] = svc.metrics["path"]
    labels.update(_traefik_labels(svc, settings))
    labels.update(_metrics_labels(svc, settings))
    labels.update(svc.labels)
    deploy = {
        "mode": svc.mode,
        "replicas": svc.replicas,
        "endpoint_mode": settings["endpoint_mode"],
        "placement": {"constraints": constraints},
        "resources": {"limits": {"cpus": format_cpus(res.cpus), "memory": format_memory(res.memory)}, "reservations": reservations},
        "update_config": {"parallelism": 1, "delay": settings["update_delay"], "order": order, "failure_action": "rollback", "monitor": "30s"},
        "rollback_config": {"parallelism": 1, "order": order},
        "restart_policy": {"condition": "any", "delay": "5s", "window": "120s"},
        "labels": labels,
    }  # type: t.Dict[str, t.Any]
    if svc.mode == "global":
        del deploy["replicas"]  # one task per node the placement allows
    elif svc.stateful and svc.replicas > 1 and not svc.route:
        deploy["placement"]["max_replicas_per_node"] = 1
    service = {"image": image_reference(svc, settings), "deploy": deploy}  # type: t.Dict[str, t.Any]
    if svc.command:
        service["command"] = list(svc.command)
    if svc.run_as == "user" and svc.puid is not None:
        service["user"] = "%d:%d" % (svc.puid, svc.pgid)
    if env:
        service["environment"] = dict(sorted(env.items()))
    if svc.ports:
        ports = []
        for port in svc.ports:
            mode = port.mode or settings["publish_mode"]
            if settings["endpoint_mode"] == "dnsrr" and mode == "ingress":
                if port.mode:
                    raise CatalogError(["%s: ports publishes %d in ingress mode, which Swarm refuses with endpoint_mode dnsrr; use mode: host"
                                        % (name, port.target)])
                mode = "host"
            entry = {"target": port.target, "protocol": port.protocol, "mode": mode}  # type: t.Dict[str, t.Any]
            if port.published is not None:
                entry["published"] = port.published
            ports.append(entry)
        service["ports"] = ports
    if svc.volumes:
        service["volumes"] = [{"type": "bind", "source": volume_source(v, name, settings), "target": v.target, "read_only": v.read_only}
                              for v in svc.volumes]
    if svc.healthcheck:
        hc = svc.healthcheck
        service["healthcheck"] = {"test": list(hc.test), "interval": hc.interval, "timeout": hc.timeout, "retries": hc.retries, "start_period": hc.start_period}
    service["networks"] = list(svc.networks)
    stack = {"version": str(settings["stack_version"]), "services": {name: service},
             "networks": {n: {"external": True, "name": str(settings["network_names"].get(n, n))} for n in svc.networks}}  # type: t.Dict[str, t.Any]
    anchor_image = str(settings["gpu_network_anchor_image"] or "")
    if anchor_image and reservations.get("generic_resources"):
        stack["services"][name + "-netanchor"] = _network_anchor(svc, settings, anchor_image)
    if svc.configs:
        service["configs"] = [{"source": c["source"], "target": c["target"]} for c in svc.configs]
        stack["configs"] = {c["source"]: {"external": True, "name": str(settings["config_names"].get(c["source"], c["source"]))}
                            for c in svc.configs}
    secrets = svc.required_secrets()
    if secrets:
        service["secrets"] = [{"source": s, "target": s} for s in secrets]
        stack["secrets"] = {s: {"external": True, "name": str(settings["secret_names"].get(s, s))} for s in secrets}
    return stack
