# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``catalog_validate`` filter: every problem of a service catalog, one actionable line each."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.validate import validate_catalog


def catalog_validate(catalog: Any, platform: Optional[Any] = None, enabled: Optional[Any] = None, overrides: Optional[Any] = None) -> list[str]:
    """Return the catalog's problems (empty when every enabled service can be deployed)."""
    if not isinstance(catalog, Mapping):
        raise AnsibleFilterError("catalog_validate: the catalog must be a mapping of service name to description, got %s" % type(catalog).__name__)
    if platform is not None and not isinstance(platform, Mapping):
        raise AnsibleFilterError("catalog_validate: platform must be a mapping of settings such as {domain: media.example.org}")
    return validate_catalog(catalog, platform, enabled, overrides)


class FilterModule:
    """Service catalog validation."""

    def filters(self) -> dict[str, Any]:
        return {"catalog_validate": catalog_validate}
