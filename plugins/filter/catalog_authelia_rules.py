# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``catalog_authelia_rules`` filter: Authelia access_control rules from the service catalog."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.access import authelia_rules
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog


def catalog_authelia_rules(catalog: Any, domain: str, enabled: Optional[Any] = None) -> list[dict[str, Any]]:
    """Return ``access_control.rules``: bypass hosts first, then each protected host (its groups, then deny)."""
    if not isinstance(catalog, Mapping):
        raise AnsibleFilterError("catalog_authelia_rules: the catalog must be a mapping of service name to description, got %s" % type(catalog).__name__)
    if enabled is not None:
        if isinstance(enabled, (str, bytes, Mapping)) or not isinstance(enabled, (list, tuple)):
            raise AnsibleFilterError("catalog_authelia_rules: enabled must be a list of service names")
        catalog = {k: v for k, v in catalog.items() if k in enabled}
    else:
        catalog = {k: v for k, v in catalog.items() if not (isinstance(v, Mapping) and v.get("enabled") is False)}
    try:
        services, problems = parse_catalog(catalog)
        if problems:
            raise CatalogError(problems)
        return authelia_rules(services.values(), domain)
    except CatalogError as exc:
        raise AnsibleFilterError("catalog_authelia_rules: %s" % "; ".join(exc.problems)) from exc


class FilterModule:
    """Authelia rules from the service catalog."""

    def filters(self) -> dict[str, Any]:
        return {"catalog_authelia_rules": catalog_authelia_rules}
