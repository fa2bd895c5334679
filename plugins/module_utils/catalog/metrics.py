# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus scrape targets from the service catalog's ``metrics`` (the deploy plan's ``metrics``).

Prometheus runs on the first manager's host (roles/prometheus) and cannot reach the Swarm overlays. The edge
service (Traefik; without it enabled nothing is scraped) publishes its metrics entrypoint (its own ``metrics.port``, 8082) on the hosts and routes
``/metrics/<service>`` there to each service's metrics port and path on a network they share (the catalog's
``traefik.http.routers.<service>-metrics`` labels, ``catalog/stack.py``); its own metrics are ``/metrics``.
So each service with metrics is one scrape job, ``<host>:<entrypoint port>/metrics/<service>``, in the
``prometheus_service_targets`` format of the filter ``prometheus_scrape_configs``.
"""
from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError


def scrape_targets(plan: t.Mapping[str, t.Any], hosts: t.Sequence[str]) -> t.List[t.Dict[str, t.Any]]:
    """One ``prometheus_service_targets`` entry per catalog service with metrics, scraped through the edge on ``hosts``."""
    metrics = plan.get("metrics")
    edge = plan.get("edge_service")
    if not isinstance(metrics, Mapping) or not isinstance(edge, str):
        raise CatalogError(["the input must be catalog_deploy_plan's result (it has no metrics or edge_service)"])
    if not metrics:
        return []
    hosts = [str(h) for h in hosts or []]
    if not hosts:
        raise CatalogError(["no host to scrape the catalog's metrics on: give the hosts that publish %s's metrics entrypoint "
                            "(the first Swarm manager)" % edge])
    if edge not in metrics:
        return []  # the edge service is not enabled: Prometheus cannot reach the overlays (the plan's checks allow it)
    port = int(metrics[edge]["port"])
    return [{"name": name, "hosts": list(hosts), "port": port,
             "path": str(metrics[name]["path"]) if name == edge else "/metrics/%s" % name}
            for name in sorted(metrics)]
