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
    Component("GPU facts and assignment (NVML)", "#4", "validated-only", "fake NVML (0/1/2/8 GPUs); real H100 run kept in docs/device"),
    Component("Swarm GPU scheduling (generic resources)", "#4", "real", "lab GPU node advertises a made-up GPU; exclusive + pending drill"),
    Component("nvidia and quicksync host roles", "#4", "validated-only",
              "driver/toolkit/NVML not run (no GPU); in the lab the nvidia role runs on a **simulated** GPU "
              "(stand-in, `nvidia_simulated_gpus`): assignment, daemon.json, the UUID the GPU service's container gets; merges unit-tested"),
    Component("Prometheus config + alert rules, Alertmanager", "#7", "real", "promtool check/test rules per alert, amtool check-config"),
    Component("Prometheus, Alertmanager, node exporter in the lab", "#7", "real", "5 node targets up; DiskUsage drill reaches Alertmanager"),
    Component("Grafana, Loki, Promtail (catalog services)", "#13", "validated-only",
              "configs against upstream JSON schemas, queries parsed by promtool; lab: stand-ins, Promtail on every node"),
    Component("restic backups, backup_verify, restore", "#8", "real", "corrupted pack caught; restore drill byte-identical + rows"),
    Component("borg backups", "#8", "real", "lab: backup, destroy, dr.yml restore byte-identical; corrupt segment caught"),
    Component("DR playbook (dr.yml) on a lab node", "#8", "real", "files + Postgres rows restored, RPO/RTO printed against 1 h / 4 h"),
    Component("Service deploy path (catalog -> stacks)", "#6", "real", "10 stacks converge from site.yml, changed=0, --tags navidrome touches one"),
    Component("Redis, PostgreSQL (Debian, stand-in images)", "#6", "real", "Authelia DB/user created; reachable from data, not dmz"),
    Component("HAProxy (Debian 2.6)", "#6", "real",
              "deployed by a test, not yet by site.yml: on the lab Swarm 300 requests split 100/100/100; sticky cookie; "
              "killed replica out of rotation in ~11 s"),
    Component("Traefik v3 static/dynamic config", "#6", "validated-only", "upstream traefik-v3 JSON schemas; image is a stand-in"),
    Component("Authelia 4.39 config + users DB", "#6", "validated-only", "upstream authelia-v4.39 JSON schemas; image is a stand-in"),
    Component("Jellyfin, Navidrome, AudioBookshelf", "#6", "validated-only", "stacks run as HTTP stand-ins; stack schema v3.13"),
    Component("The seed's other apps (Plex ... Deluge, Jellyseerr, Immich ML: catalog entries)", "#15", "validated-only",
              "each renders a stack that passes docker/cli's schema v3.13 and derives a lab stand-in; not enabled in the lab "
              "(services_enabled); versions and upstreams in docs/versions.md"),
    Component("Client/API paths past the SSO portal (auth.bypass_paths)", "#15", "validated-only",
              "Authelia rules against the authelia-v4.39 schema; first-match decisions per path unit-tested"),
    Component("QuickSync services as node-pinned containers (PhotoPrism)", "#15", "validated-only",
              "no iGPU here: placement, container description (quicksync role's spec) and Traefik file routes unit-tested"),
]
