# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``haproxy_config`` filter: the service catalog + load-balancer settings -> haproxy.cfg text."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog, platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.edge.haproxy import HaproxyConfigError, render_haproxy


def haproxy_config(catalog: Any, settings: Optional[Any] = None, enabled: Optional[Any] = None, platform: Optional[Any] = None) -> str:
    """Render haproxy.cfg for the routed, enabled services of ``catalog``; the domain defaults to the platform's."""
    if not isinstance(catalog, Mapping):
        raise AnsibleFilterError("haproxy_config: the catalog must be a mapping of service name to description, got %s" % type(catalog).__name__)
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("haproxy_config: settings must be a mapping such as {frontend_port: 8080}, got %s" % type(settings).__name__)
    if enabled is not None:
        if isinstance(enabled, (str, bytes, Mapping)) or not isinstance(enabled, (list, tuple)):
            raise AnsibleFilterError("haproxy_config: enabled must be a list of service names, got %r" % (enabled,))
        unknown = sorted(str(n) for n in enabled if n not in catalog)
        if unknown:
            raise AnsibleFilterError("haproxy_config: enabled names services that are not in the catalog: %s" % ", ".join(unknown))
        catalog = {k: v for k, v in catalog.items() if k in enabled}
    else:
        catalog = {k: v for k, v in catalog.items() if not (isinstance(v, Mapping) and v.get("enabled") is False)}
    try:
        platform = platform_settings(platform)
        services, problems = parse_catalog(catalog, platform)
        if problems:
            raise CatalogError(problems)
        settings = dict(settings)
        if not settings.get("domain"):
            settings["domain"] = platform["domain"]
        return render_haproxy(services, settings)
    except (CatalogError, HaproxyConfigError) as exc:
        raise AnsibleFilterError("haproxy_config: %s" % "; ".join(exc.problems)) from exc


class FilterModule:
    """HAProxy configuration from the service catalog."""

    def filters(self) -> dict[str, Any]:
        return {"haproxy_config": haproxy_config}
