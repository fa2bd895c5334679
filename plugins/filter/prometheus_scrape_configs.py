# Copyright: (c) 2025, mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn inventory groups and service metric endpoints into Prometheus ``scrape_configs``."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

JOB_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SCHEMES = ("http", "https")
JOB_KEYS = {"name", "group", "hosts", "port", "path", "scheme", "labels", "node_labels", "optional", "scrape_interval"}


def _fail(msg: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"prometheus_scrape_configs: {msg}")


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(f"{what} must be a list, got {type(value).__name__}")
    return list(value)


def _label_matches(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Node labels compare as lower-case strings, so ``gpu: true`` matches ``gpu: "true"``."""
    for key, value in wanted.items():
        if key not in actual or str(actual[key]).lower() != str(value).lower():
            return False
    return True


class _Resolver:
    """Resolves group names, inventory hostnames and literal addresses to scrape targets."""

    def __init__(self, hostvars: Mapping[str, Any], groups: Mapping[str, Any], address_var: str, labels_var: str):
        if not isinstance(hostvars, Mapping):
            raise _fail("hostvars must be a mapping (pass `hostvars`)")
        if not isinstance(groups, Mapping):
            raise _fail("groups must be a mapping (pass `groups`)")
        self.hostvars = hostvars
        self.groups = groups
        self.address_var = address_var
        self.labels_var = labels_var

    def node_labels(self, host: str) -> Mapping[str, Any]:
        labels = (self.hostvars.get(host) or {}).get(self.labels_var) or {}
        if not isinstance(labels, Mapping):
            raise _fail(f"host {host}: {self.labels_var} must be a mapping of node labels, got {type(labels).__name__}")
        return labels

    def address(self, host: str) -> str:
        address = (self.hostvars.get(host) or {}).get(self.address_var) or host
        return str(address)

    def resolve(self, job: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        """Return ``(address, inventory_hostname or None)`` pairs, in inventory order, without duplicates."""
        found: list[tuple[str, str | None]] = []
        names: list[str] = []
        if job.get("group") is not None:
            names.append(str(job["group"]))
        names.extend(str(h) for h in _as_list(job.get("hosts"), f"job {job['name']}: hosts"))
        wanted = job.get("node_labels") or {}
        for name in names:
            if name in self.groups:
                members = [(self.address(h), h) for h in self.groups[name] or []]
            elif name in self.hostvars:
                members = [(self.address(name), name)]
            elif "group" in job and name == str(job["group"]):
                members = []  # an unknown group is empty, never a literal address
            else:
                members = [(name, None)]
            for address, host in members:
                if wanted and (host is None or not _label_matches(self.node_labels(host), wanted)):
                    continue
                if (address, host) not in found:
                    found.append((address, host))
        return found


def _check_job(job: Any, index: int, what: str) -> dict[str, Any]:
    if not isinstance(job, Mapping):
        raise _fail(f"{what}[{index}] must be a mapping, got {type(job).__name__}")
    name = job.get("name")
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise _fail(f"{what}[{index}]: name {name!r} must match {JOB_NAME.pattern}")
    unknown = sorted(set(job) - JOB_KEYS)
    if unknown:
        raise _fail(f"job {name}: unknown keys {unknown}; allowed: {sorted(JOB_KEYS)}")
    if job.get("group") is None and not job.get("hosts"):
        raise _fail(f"job {name}: set `group` (an inventory group) or `hosts` (hostnames, groups or addresses)")
    port = job.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _fail(f"job {name}: port {port!r} must be an integer between 1 and 65535")
    path = job.get("path", "/metrics")
    if not isinstance(path, str) or not path.startswith("/"):
        raise _fail(f"job {name}: path {path!r} must start with '/'")
    scheme = job.get("scheme", "http")
    if scheme not in SCHEMES:
        raise _fail(f"job {name}: scheme {scheme!r} must be one of {list(SCHEMES)}")
    for key in ("labels", "node_labels"):
        value = job.get(key) or {}
        if not isinstance(value, Mapping):
            raise _fail(f"job {name}: {key} must be a mapping")
        bad = [k for k in value if not LABEL_NAME.match(str(k))]
        if key == "labels" and bad:
            raise _fail(f"job {name}: label names {bad} must match {LABEL_NAME.pattern}")
    return dict(job)


def _scrape_config(job: Mapping[str, Any], targets: list[tuple[str, str | None]], extra: Mapping[str, str]) -> dict[str, Any]:
    labels = {str(k): str(v) for k, v in (job.get("labels") or {}).items()}
    labels.update(extra)
    static_configs = []
    for address, host in targets:
        entry_labels = dict(labels)
        if host is not None:
            entry_labels["node"] = host
        entry: dict[str, Any] = {"targets": [f"{address}:{job['port']}"]}
        if entry_labels:
            entry["labels"] = entry_labels
        static_configs.append(entry)
    config: dict[str, Any] = {
        "job_name": job["name"],
        "metrics_path": job.get("path", "/metrics"),
        "scheme": job.get("scheme", "http"),
    }
    if job.get("scrape_interval"):
        config["scrape_interval"] = str(job["scrape_interval"])
    config["static_configs"] = static_configs
    return config


def _probe_config(probe_targets: list[Any], blackbox_exporter: str | None, module: str) -> dict[str, Any]:
    if not blackbox_exporter:
        raise _fail("probe_targets are set but blackbox_exporter (host:port of the blackbox exporter) is empty")
    urls = []
    for url in probe_targets:
        if not isinstance(url, str) or not re.match(r"^https?://\S+$", url):
            raise _fail(f"probe target {url!r} must be an http:// or https:// URL")
        urls.append(url)
    return {
        "job_name": "blackbox_http",
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "static_configs": [{"targets": urls}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox_exporter},
        ],
    }


def prometheus_scrape_configs(
    jobs: Any,
    hostvars: Mapping[str, Any],
    groups: Mapping[str, Any],
    service_targets: Any = None,
    probe_targets: Any = None,
    blackbox_exporter: str | None = None,
    blackbox_module: str = "http_2xx",
    address_var: str = "ansible_host",
    labels_var: str = "swarm_node_labels",
) -> list[dict[str, Any]]:
    """Build the ``scrape_configs`` list; see the sidecar documentation for the job format."""
    resolver = _Resolver(hostvars, groups, address_var, labels_var)
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    sources = [("jobs", j, {}) for j in _as_list(jobs, "jobs")]
    sources += [("service_targets", s, None) for s in _as_list(service_targets, "service_targets")]
    counters = {"jobs": 0, "service_targets": 0}
    for what, raw, extra in sources:
        job = _check_job(raw, counters[what], what)
        counters[what] += 1
        if job["name"] in seen:
            raise _fail(f"job name {job['name']!r} is used twice; job names must be unique")
        seen.add(job["name"])
        targets = resolver.resolve(job)
        if not targets:
            if job.get("optional", False):
                continue
            selector = f"group {job['group']!r}" if job.get("group") is not None else f"hosts {job.get('hosts')!r}"
            if job.get("node_labels"):
                selector += f" with node labels {dict(job['node_labels'])!r} (read from host var {labels_var})"
            raise _fail(
                f"job {job['name']}: {selector} resolves to no target; add hosts to the inventory, "
                "fix the selector, or mark the job `optional: true`"
            )
        labels = {"service": job["name"]} if extra is None else extra
        result.append(_scrape_config(job, targets, labels))
    probes = _as_list(probe_targets, "probe_targets")
    if probes:
        if "blackbox_http" in seen:
            raise _fail("job name 'blackbox_http' is reserved for probe_targets")
        result.append(_probe_config(probes, blackbox_exporter, blackbox_module))
    return result


class FilterModule:
    """Prometheus scrape configuration filters."""

    def filters(self) -> dict[str, Any]:
        return {"prometheus_scrape_configs": prometheus_scrape_configs}
