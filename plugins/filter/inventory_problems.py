# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``inventory_problems`` filter: every reason site.yml cannot serve an inventory."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.plugin_utils.inventory_check import Spec, check_inventory, render

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"


def inventory_problems(hostvars: Any, groups: Mapping[str, Any], roles_dir: str | None = None) -> list[str]:
    """Return one human-readable line per problem (with every host it concerns); empty means usable."""
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("inventory_problems: 'groups' must be the groups mapping, got %s" % type(groups).__name__)
    try:
        spec = Spec.from_roles(Path(roles_dir) if roles_dir else ROLES_DIR)
        plain_hostvars = {str(host): hostvars[host] for host in hostvars}
        plain_groups = {str(name): list(members or []) for name, members in groups.items()}
        return render(check_inventory(plain_hostvars, plain_groups, spec))
    except (OSError, ValueError) as exc:
        raise AnsibleFilterError("inventory_problems: cannot read the role argument specs: %s" % exc) from exc


class FilterModule:
    """Inventory validation filters."""

    def filters(self) -> dict[str, Any]:
        return {"inventory_problems": inventory_problems}
