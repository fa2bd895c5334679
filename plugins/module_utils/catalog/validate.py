# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validating the catalog as a whole: every problem of the enabled services at once, one line each.

``validate_catalog`` parses the enabled descriptions (``catalog/parse.py``) and adds the checks across
services: duplicate subdomains and host ports, routes the edge cannot reach, dependencies, metrics
Prometheus cannot scrape, GPU requests without a GPU node, undefined Docker secrets.

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError, Service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog, platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.problems import did_you_mean


def unknown_service(name: str, known: t.Iterable[str], what: str) -> str:
    """``<what>: unknown service name 'x'; did you mean y?`` for a name the catalog does not hold."""
    known = sorted(known)
    return "%s: unknown service name %r; %s" % (what, name, did_you_mean(name, known, "known services: %s" % (", ".join(known) or "none")))


def _is_enabled(name: str, raw: t.Any, enabled: t.Optional[t.Sequence[str]]) -> bool:
    if enabled is not None:
        return name in enabled
    return not (isinstance(raw, Mapping) and raw.get("enabled") is False)


def validate_catalog(catalog: t.Any, platform: t.Optional[t.Mapping[str, t.Any]] = None,
                     enabled: t.Optional[t.Sequence[str]] = None, overrides: t.Any = None) -> t.List[str]:
    """Every problem of the catalog, one line each (empty when it can be deployed).

    ``enabled`` limits the deployed services (default: all without ``enabled: false``); ``overrides``
    is the inventory's per-service override map, checked for unknown service names.
    """
    try:
        settings = platform_settings(platform)
    except CatalogError as exc:
        return exc.problems
    if not isinstance(catalog, Mapping):
        return ["catalog: must be a mapping of service name to description, got %s" % type(catalog).__name__]
    problems = []  # type: t.List[str]
    if enabled is not None:
        if isinstance(enabled, (str, bytes, Mapping)) or not isinstance(enabled, (list, tuple)):
            return ["enabled: must be a list of service names, got %r" % (enabled,)]
        problems.extend(unknown_service(str(n), catalog, "enabled") for n in enabled if n not in catalog)
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            return problems + ["overrides: must be a mapping of service name to fields"]
        problems.extend(unknown_service(str(n), catalog, "overrides") for n in overrides if n not in catalog)
    active = {n: r for n, r in catalog.items() if _is_enabled(n, r, enabled)}
    services, parse_problems = parse_catalog(active, settings)
    problems.extend(parse_problems)
    problems.extend(_cross_checks(services, settings))
    return problems


def _cross_checks(services: t.Dict[str, Service], settings: t.Dict[str, t.Any]) -> t.List[str]:
    problems = []
    subdomains = {}  # type: t.Dict[str, str]
    host_ports = {}  # type: t.Dict[t.Tuple[int, str], str]
    routed = [s for s in services.values() if s.route]
    if routed and not settings["domain"]:
        problems.append("platform: domain is empty but the routed services (%s) need it; set the platform domain "
                        "(services_domain in the inventory), e.g. media.example.org" % ", ".join(s.name for s in routed))
    edge = services.get(settings["edge_service"])
    gpu_nodes = settings["gpu_nodes"]

    available = settings["secrets"]
    for name in sorted(services):
        svc = services[name]
        if svc.route:
            other = subdomains.get(svc.route.subdomain)
            if other:
                problems.append("%s: route.subdomain %r is already used by %s; choose another subdomain" % (name, svc.route.subdomain, other))
            else:
                subdomains[svc.route.subdomain] = name
            if edge is not None and svc.route.network not in edge.networks:
                problems.append("%s: route.network %s is not a network of %s (%s); add it to %s's networks or route over one of those"
                                % (name, svc.route.network, edge.name, ", ".join(edge.networks), edge.name))
        for port in svc.ports:
            if port.published is None:
                continue
            key = (port.published, port.protocol)
            other = host_ports.get(key)
            if other:
                problems.append("%s: ports publishes host port %d/%s, which %s already publishes; choose another published port"
                                % (name, port.published, port.protocol, other))
            else:
                host_ports[key] = name
        problems.extend(_dependency_checks(svc, services, settings))
        problems.extend(_segment_checks(svc, services, settings))
        problems.extend(_metrics_checks(svc, edge))
        if svc.gpu and gpu_nodes is not None and not gpu_nodes:
            problems.append("%s: gpu requests a GPU (profiles %s) but no Swarm node has one; label a GPU node (swarm_node_labels: {gpu: \"true\"}) "
                            "or remove gpu from %s" % (name, ", ".join(svc.gpu.profiles), name))
        if available is not None:
            for secret in svc.required_secrets():
                if secret not in available:
                    problems.append("%s: secrets needs Docker secret %r, which is not defined; add it to services_secrets in the vault (services_secrets.%s)"
                                    % (name, secret, secret))
    return problems


def _metrics_checks(svc: Service, edge: t.Optional[Service]) -> t.List[str]:
    """Prometheus can reach the service's metrics: the edge publishes its own port, the others share a network with it."""
    if not svc.metrics:
        return []
    port = svc.metrics["port"]
    if edge is not None and svc.name != edge.name and not edge.metrics:
        return ["%s: metrics are scraped through %s's metrics entrypoint, and %s declares no metrics (the entrypoint's port); "
                "add metrics: {port: 8082, path: /metrics} to %s or drop metrics from %s" % (svc.name, edge.name, edge.name, edge.name, svc.name)]
    if edge is None:
        return []  # no edge service enabled: nothing scrapes the catalog's metrics (catalog/metrics.py scrape_targets)
    if svc.name == edge.name:
        if not any(p.target == port and p.published is not None for p in svc.ports):
            return ["%s: metrics.port %d is not published in ports, so Prometheus on the first manager cannot scrape it; add "
                    "{target: %d, published: %d} to %s's ports or set metrics.port to the metrics entrypoint's port"
                    % (svc.name, port, port, port, svc.name)]
        return []
    if not svc.route and (not svc.networks or svc.networks[0] not in edge.networks):
        # Traefik reaches a service without a route on its first network
        return ["%s: metrics are scraped through %s's metrics entrypoint, which reaches %s on its first network (%s), not a "
                "network of %s (%s); list one of those first in networks, or drop metrics"
                % (svc.name, edge.name, svc.name, svc.networks[0] if svc.networks else "none", edge.name, ", ".join(edge.networks))]
    if svc.route and port == svc.route.port and svc.metrics["path"] == "/":
        return ["%s: metrics.path / would expose the whole app on the metrics entrypoint; give the metrics path (e.g. /metrics)"
                % svc.name]
    return []


def _segment_checks(svc: Service, services: t.Dict[str, Service], settings: t.Dict[str, t.Any]) -> t.List[str]:
    """The zero-trust segments: dmz holds only what faces the internet (the edge and the SSO portal it asks), data only
    the databases and the services that use them."""
    problems = []
    if "dmz" in svc.networks and svc.name != settings["edge_service"] and not svc.forward_auth:
        problems.append("%s: networks has dmz, the public-facing segment, which only the edge (%s) and the SSO portal join; "
                        "drop dmz: %s reaches %s over route.network%s"
                        % (svc.name, settings["edge_service"], settings["edge_service"], svc.name,
                           "" if svc.route else " once it has a route"))
    if "data" in svc.networks and svc.placement.get("role") != "data" \
            and svc.name not in (settings["postgres_service"], settings["redis_service"]):
        users_data = svc.postgres is not None or svc.redis or any(
            "data" in services[d].networks for d in svc.depends_on if d in services)
        if not users_data:
            problems.append("%s: networks has data, the databases' segment, but %s uses no database there (dependencies "
                            "postgres, redis or a service on data); drop data from networks or declare the dependency"
                            % (svc.name, svc.name))
    return problems


def _dependency_checks(svc: Service, services: t.Dict[str, Service], settings: t.Dict[str, t.Any]) -> t.List[str]:
    problems = []
    wanted = list(svc.depends_on)
    if svc.postgres:
        wanted.append(settings["postgres_service"])
    if svc.redis:
        wanted.append(settings["redis_service"])
    for dep in wanted:
        if dep == svc.name:
            problems.append("%s: dependencies name the service itself" % svc.name)
            continue
        target = services.get(dep)
        if target is None:
            problems.append("%s (enable %s or drop the dependency)" % (unknown_service(dep, services, "%s: dependencies" % svc.name), dep))
        elif not set(svc.networks) & set(target.networks):
            problems.append("%s: networks share no segment with its dependency %s (%s); add one of them to %s's networks"
                            % (svc.name, dep, ", ".join(target.networks), svc.name))
    return problems
