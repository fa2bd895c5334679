# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authelia's access rules from the catalog: ``authelia_rules`` turns the routed services' ``auth``
(policy, groups) into ``access_control.rules`` (filter ``catalog_authelia_rules``, ``edge/traefik_authelia.py``).

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import DOMAIN, CatalogError, Service


def authelia_rules(services: t.Iterable[Service], domain: str) -> t.List[t.Dict[str, t.Any]]:
    """Authelia ``access_control.rules`` for the routed services: bypass first (whole hosts, then the paths a protected
    app's own clients use: ``auth.bypass_paths``), then one rule per protected host (restricted to its groups,
    followed by a deny for everyone else)."""
    if not isinstance(domain, str) or not DOMAIN.match(domain):
        raise CatalogError(["platform: domain %r is not a DNS name such as media.example.org" % (domain,)])
    bypass, protected = [], []
    for svc in sorted(services, key=lambda s: s.name):
        if not svc.route:
            continue
        host = "%s.%s" % (svc.route.subdomain, domain)
        if svc.auth.policy == "bypass":
            bypass.append({"domain": [host], "policy": "bypass"})
            continue
        if svc.auth.bypass_paths:
            bypass.append({"domain": [host], "resources": [path_pattern(p) for p in svc.auth.bypass_paths], "policy": "bypass"})
        rule = {"domain": [host], "policy": svc.auth.policy}  # type: t.Dict[str, t.Any]
        if svc.auth.groups:
            rule["subject"] = ["group:%s" % g for g in svc.auth.groups]
            protected.extend([rule, {"domain": [host], "policy": "deny"}])
        else:
            protected.append(rule)
    return bypass + protected


def path_pattern(prefix: str) -> str:
    """An ``auth.bypass_paths`` prefix as the regular expression Authelia matches against the path and query:
    ``/api`` matches ``/api``, ``/api/...`` and ``/api?...`` (never ``/apiary``); ``*`` is one path segment."""
    parts = [r"[^/?]+" if part == "*" else re.escape(part) for part in prefix.strip("/").split("/")]
    return "^/%s([/?].*)?$" % "/".join(parts)
