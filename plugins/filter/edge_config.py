# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge configuration filters: Traefik v3 static/dynamic configuration, Authelia 4.39 configuration and users database.

Each filter is documented by its sidecar YAML (``traefik_static_config.yml``, ``traefik_dynamic_config.yml``,
``authelia_configuration.yml``, ``authelia_users_database.yml``); the work is in ``module_utils/edge/traefik_authelia.py``.
"""
from __future__ import annotations

from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.edge import traefik_authelia as edge


def _fail(name: str, exc: edge.EdgeError) -> AnsibleFilterError:
    return AnsibleFilterError("%s: %s" % (name, "; ".join(exc.problems)))


def traefik_static_config(settings: Any) -> dict[str, Any]:
    """The edge settings -> Traefik's static configuration (traefik.yml)."""
    try:
        return edge.traefik_static(settings)
    except edge.EdgeError as exc:
        raise _fail("traefik_static_config", exc) from exc


def traefik_dynamic_config(settings: Any, catalog: Optional[Any] = None, platform: Optional[Any] = None,
                           enabled: Optional[Any] = None) -> dict[str, Any]:
    """The edge settings -> the file provider's dynamic configuration (TLS options, certificates, secure headers; with
    the catalog, the routes of its node-pinned QuickSync services, which the swarm provider cannot see)."""
    try:
        return edge.traefik_dynamic(settings, catalog, platform, enabled)
    except edge.EdgeError as exc:
        raise _fail("traefik_dynamic_config", exc) from exc


def authelia_configuration(catalog: Any, settings: Any, enabled: Optional[Any] = None) -> dict[str, Any]:
    """The service catalog + edge settings -> Authelia's configuration.yml."""
    try:
        return edge.authelia_configuration(catalog, settings, enabled)
    except edge.EdgeError as exc:
        raise _fail("authelia_configuration", exc) from exc


def authelia_users_database(users: Any) -> dict[str, Any]:
    """Users (with password digests) -> Authelia's users_database.yml."""
    try:
        return edge.authelia_users(users)
    except edge.EdgeError as exc:
        raise _fail("authelia_users_database", exc) from exc


class FilterModule:
    """Traefik and Authelia configuration for the platform edge."""

    def filters(self) -> dict[str, Any]:
        return {
            "traefik_static_config": traefik_static_config,
            "traefik_dynamic_config": traefik_dynamic_config,
            "authelia_configuration": authelia_configuration,
            "authelia_users_database": authelia_users_database,
        }
