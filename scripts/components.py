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
    Component("Lab image registry (docker-registry 2.8)", "#2", "real", "push from the controller, list from a node"),
    Component("common role", "#2", "real", "Molecule (check, converge, idempotence, verify) + lab e2e"),
    Component("Inventory validation", "#2", "real", "bad inventories stop before any host is reached"),
]
