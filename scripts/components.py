"""What runs for real in the lab and what is validated only. One list, printed by `make demo`
and checked against the README's table by tests/unit/test_readme.py, so the two never drift."""
from __future__ import annotations

from typing import NamedTuple


class Component(NamedTuple):
    name: str
    issue: str
    status: str  # "real" (runs in the lab / on this machine) or "validated-only"
    proof: str


COMPONENTS: list[Component] = [
    Component("Lab nodes (Debian 12 + systemd)", "#2", "real", "5 systemd containers, site.yml twice (changed=0)"),
    Component("Lab image registry (docker-registry 2.8)", "#2", "real", "push from the controller, pull by every node"),
    Component("common role", "#2", "real", "Molecule (check, converge, idempotence, verify) + lab e2e"),
    Component("Inventory validation", "#2", "real", "bad inventories stop before any host is reached"),
    Component("docker role, distro source (docker.io 20.10)", "#3", "real", "lab e2e; daemon.json merged, restart only on change"),
    Component("docker role, Docker's apt repository", "#3", "validated-only", "lint + specs; the repository is unreachable here"),
    Component("Docker Swarm: 3 managers + 2 workers", "#3", "real", "node table, labels, 4 overlays, placement, overlay traffic, drills"),
    Component("nftables host firewall (zero trust)", "#5", "real", "84-probe TCP matrix across network namespaces"),
    Component("pfSense VLANs/interfaces/DHCP/aliases/rules", "#5", "validated-only", "module run on real config.xml files (23.2, 18.9, 23.3)"),
    Component("Host VLAN interfaces (systemd-networkd)", "#5", "validated-only", "no 802.1Q here; keys checked against networkd 252"),
    Component("GPU facts and assignment (NVML)", "#4", "validated-only", "fake NVML (0/1/2/8 GPUs, MIG, no NVENC); no GPU here"),
    Component("nvidia and quicksync host roles", "#4", "validated-only", "run in the lab, where they skip (no GPU); merges unit-tested"),
    Component("Prometheus config + alert rules, Alertmanager", "#7", "real", "promtool check/test rules per alert, amtool check-config"),
    Component("Grafana dashboards, Loki, Promtail", "#7", "validated-only", "upstream JSON schemas; queries parsed by promtool"),
    Component("restic backups, backup_verify, restore", "#8", "real", "corrupted pack caught; restore drill byte-identical + rows"),
    Component("borg backups", "#8", "validated-only", "prune semantics unit-tested; borg not yet run"),
]
