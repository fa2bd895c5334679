# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-inventory validation shared by the ``inventory_problems`` filter.

Everything here is pure computation on plain data so it can be unit-tested without Ansible's
variable manager: the filter hands in host variables, group membership and the role argument
specs, and gets back a list of problems, each naming the host, the variable and the fix.

What is checked (the README's inventory section lists the same):

* groups: ``swarm_managers`` exists with an odd number of hosts, no host is both manager and
  worker, every manager and worker is in ``swarm`` (the group the plays run on);
* names: a variable that starts with a role's prefix (``common_``, ``swarm_``, ...) but is in no
  argument spec is a typo, reported with a "did you mean";
* types and values: every role variable set in the inventory goes through Ansible's own
  ``ArgumentSpecValidator`` with that role's spec (types, choices, elements, nested options,
  required sub-options); a string is never taken for a list or a mapping;
* semantics: host addresses are addresses or host names and unique, Swarm node names are host
  names, the time zone exists, the media account is not root, overlays overlap neither Docker's
  pools nor the hosts' own addresses, backup repositories use a backend the engine knows and
  absolute paths, secrets are non-empty and come from Ansible Vault (``mediastack_plain_secrets_ok``
  opts a lab out), Swarm node labels are usable.

Secret values (options marked ``no_log`` in an argument spec) are never printed.
"""
from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.mediastack.core.plugins.module_utils.problems import type_name

MANAGERS_GROUP = "swarm_managers"
WORKERS_GROUP = "swarm_workers"
SWARM_GROUP = "swarm"
# Groups a host may belong to at most one of.
EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = ((MANAGERS_GROUP, WORKERS_GROUP),)
# Docker accepts more, but label keys/values with spaces or quotes break constraints and shells.
LABEL_KEY_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9._:/@+-]*$")
# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
HOSTNAME_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Connection plugins whose ansible_host is a network address (others name a container, a jail, ...).
NETWORK_CONNECTIONS = {"ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh",
                       "ansible.netcommon.network_cli", "ansible.netcommon.httpapi"}
# Backends each engine can reach a repository through (restic's and borg's own URL schemes).
BACKUP_BACKENDS = {
    "restic": ("local", "sftp", "rest", "s3", "b2", "azure", "gs", "swift", "rclone"),
    "borg": ("local", "ssh"),
}
PLAIN_SECRETS_OK = "mediastack_plain_secrets_ok"

# Inventory-level variables that belong to no single role.
INVENTORY_VARS: dict[str, dict[str, Any]] = {
    "swarm_node_labels": {
        "type": "dict",
        "description": "Swarm node labels of this host, e.g. {type: media, gpu: 'true'}",
    },
    PLAIN_SECRETS_OK: {
        "type": "bool",
        "description": "Accept secrets written in clear outside Ansible Vault (throwaway labs only).",
    },
}


@dataclass
class Problem:
    """One reason the inventory cannot be served."""

    host: str
    variable: str
    message: str
    fix: str

    def __str__(self) -> str:
        return "host %s, %s: %s. Fix: %s" % (self.host, self.variable, self.message, self.fix)


def render(problems: Sequence[Problem]) -> list[str]:
    """One line per distinct problem, naming every host it concerns (a group_vars mistake is one line)."""
    merged: dict[tuple[str, str, str], list[str]] = {}
    for problem in problems:
        hosts = merged.setdefault((problem.variable, problem.message, problem.fix), [])
        if problem.host not in hosts:
            hosts.append(problem.host)
    lines = []
    for (variable, message, fix), hosts in merged.items():
        where = "host %s" % hosts[0] if len(hosts) == 1 else "hosts %s" % ", ".join(hosts)
        lines.append("%s, %s: %s. Fix: %s" % (where, variable, message, fix))
    return lines


@dataclass
class Spec:
    """The expected type of every public variable: role argument specs plus inventory vars."""

    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()

    @classmethod
    def from_roles(cls, roles_dir: Path) -> "Spec":
        """The specs of every role under roles_dir (read once per process: they do not change during a run)."""
        return _spec_of(Path(roles_dir).resolve())

    @classmethod
    def read(cls, roles_dir: Path) -> "Spec":
        spec = cls()
        for name, opts in INVENTORY_VARS.items():
            spec.options[name] = opts
            spec.owner[name] = "inventory"
        for path in sorted(roles_dir.glob("*/defaults/main.yml")):
            spec.defaults.update(yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {})
        for path in sorted(roles_dir.glob("*/meta/argument_specs.yml")):
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
            for entry in (data.get("argument_specs") or {}).values():
                for name, opts in (entry.get("options") or {}).items():
                    spec.options[name] = opts
                    spec.owner[name] = "role %s" % path.parent.parent.name
        spec.prefixes = tuple(sorted(p.name + "_" for p in roles_dir.iterdir() if (p / "meta").is_dir()))
        return spec

    def secret(self, name: str) -> bool:
        return bool(self.options.get(name, {}).get("no_log"))

    def role_doc(self, name: str) -> str:
        owner = self.owner.get(name, "")
        if owner.startswith("role "):
            return "ansible-doc -t role mediastack.core.%s" % owner[5:]
        return "the README's inventory section"


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=4)
def _spec_of(roles_dir: Path) -> Spec:
    return Spec.read(roles_dir)


# ---------------------------------------------------------------------------------------------- helpers

def _show(spec: Spec, name: str, value: Any) -> str:
    return "(hidden: secret)" if spec.secret(name) else repr(value)


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _external(name: str, hvars: Mapping[str, Any]) -> bool:
    """Variables that other tools set with a role's prefix: community.docker.docker_containers adds docker_*."""
    return name.startswith("docker_") and "docker_short_id" in hvars


def _vault_source(value: Any) -> bool | None:
    """True when a value comes from Ansible Vault (inline or a vaulted file), False when it does not,
    None when this ansible-core cannot tell (its data tags are internal and may move)."""
    try:
        from ansible._internal._datatag._tags import Origin, VaultedValue  # pylint: disable=import-outside-toplevel
        from ansible.parsing.vault import is_encrypted_file  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - another ansible-core
        return None
    if VaultedValue.is_tagged_on(value):
        return True
    origin = Origin.get_tag(value)
    if origin is None or not origin.path:
        return None
    try:
        with open(origin.path, "rb") as handle:
            return bool(is_encrypted_file(handle))
    except OSError:
        return None


def _strict(value: Any, opts: Mapping[str, Any], path: str = "") -> tuple[str, Any, str] | None:
    """Where Ansible would convert silently ('a,b' to a list, 'k=v' to a mapping, a mapping to its text),
    an inventory has made a mistake: the shape must already be right, at every depth.
    Returns (where, the value found there, the type expected) for the first misfit."""
    wanted = opts.get("type", "str")
    if value is None or _templated(value):
        return None
    if wanted == "list":
        if not isinstance(value, list):
            return path, value, "list"
        element = {"type": opts["elements"], "options": opts.get("options")} if opts.get("elements") else None
        for index, item in enumerate(value if element else []):
            found = _strict(item, element, "%s[%d]" % (path, index))
            if found:
                return found
    elif wanted == "dict":
        if not isinstance(value, Mapping):
            return path, value, "dict"
        for key, sub in (opts.get("options") or {}).items():
            if key in value:
                found = _strict(value[key], sub, "%s.%s" % (path, key))
                if found:
                    return found
    elif wanted == "str" and not isinstance(value, str):
        return path, value, "str"
    return None


def _plain(value: Any) -> Any:
    """The value with every mapping and sequence as a plain dict or list (the leaves as they are)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _validate_option(name: str, value: Any, opts: Mapping[str, Any], owner: str, spec: Spec) -> str | None:
    """One variable against its argument spec with Ansible's own validator; None when it fits."""
    option = {k: v for k, v in opts.items() if k not in ("description", "default", "version_added", "required")}
    option.setdefault("type", "str")
    strict = _strict(value, option)
    if strict:
        where, found, expected = strict
        hint = "; write it as a YAML list, e.g. [a, b]" if expected == "list" and isinstance(found, str) else ""
        if not where:
            return "is %s (%s) but %s expects type %s%s" % (_show(spec, name, found), type_name(found), owner, expected, hint)
        return "%s%s is %s (%s) but %s expects type %s there%s" % (
            name, where, _show(spec, name, found), type_name(found), owner, expected, hint)
    # Plain containers: the validator deep-copies its input, and a deep copy of Ansible's lazy containers copies
    # their templating context too (20 s on the lab inventory inside site.yml; well under 1 s like this).
    result = ArgumentSpecValidator({name: option}).validate({name: _plain(value)})
    messages = list(result.error_messages)
    if not messages:
        return None
    if spec.secret(name):
        messages = ["the value does not fit the spec"]
    head = messages[0]
    if "unable to convert" in head or "cannot be converted" in head:
        return "is %s (%s) but %s expects type %s (%s)" % (_show(spec, name, value), type_name(value), owner, option["type"], head)
    return "%s (%s)" % ("; ".join(messages), owner)


# ---------------------------------------------------------------------------------------------- checks

def _group_problems(groups: Mapping[str, Sequence[str]]) -> list[Problem]:
    problems: list[Problem] = []
    managers = list(groups.get(MANAGERS_GROUP) or [])
    if not managers:
        problems.append(Problem(
            "(inventory)", "group %s" % MANAGERS_GROUP, "there is no '%s' group or it has no hosts" % MANAGERS_GROUP,
            "add a '%s' group with an odd number of hosts (1, 3 or 5); see inventories/example/hosts.yml" % MANAGERS_GROUP))
    elif len(managers) % 2 == 0:
        problems.append(Problem(
            "(inventory)", "group %s" % MANAGERS_GROUP,
            "has %d hosts (%s); Raft needs an odd number of managers to keep quorum" % (len(managers), ", ".join(managers)),
            "add or remove one manager so the group holds 1, 3 or 5 hosts"))
    for exclusive in EXCLUSIVE_GROUPS:
        members: dict[str, list[str]] = {}
        for group in exclusive:
            for host in groups.get(group) or []:
                members.setdefault(host, []).append(group)
        for host, in_groups in sorted(members.items()):
            if len(in_groups) > 1:
                problems.append(Problem(
                    host, "groups %s" % " + ".join(in_groups), "is in %s, which exclude each other" % " and ".join(in_groups),
                    "keep %s in exactly one of %s" % (host, ", ".join(exclusive))))
    swarm = set(groups.get(SWARM_GROUP) or [])
    for group in (MANAGERS_GROUP, WORKERS_GROUP):
        for host in groups.get(group) or []:
            if host not in swarm:
                problems.append(Problem(
                    host, "group %s" % SWARM_GROUP, "is in %s but not in %s, so no play would reach it" % (group, SWARM_GROUP),
                    "make %s a child group of %s (see inventories/example/hosts.yml)" % (group, SWARM_GROUP)))
    return problems


# Role variables that site.yml sets from the service catalog: set in the inventory they would be overridden.
DERIVED = {
    "backup_services": ("is derived by site.yml from the service catalog for each node (the backup paths of the services it may "
                        "run), so the inventory's value would be ignored",
                        "remove it; change what a service backs up with services_catalog_overrides: {<service>: {backup_paths: "
                        "[...]}}"),
    "prometheus_service_targets": ("is derived by site.yml from the service catalog (every enabled service's metrics, scraped "
                                   "through Traefik's metrics entrypoint), so the inventory's value would be ignored",
                                   "remove it; change a service's metrics with services_catalog_overrides: {<service>: {metrics: "
                                   "{port: N, path: /metrics}}}, and add targets outside the catalog to prometheus_scrape_jobs"),
}


def _variable_problems(host: str, hvars: Mapping[str, Any], spec: Spec) -> list[Problem]:
    problems: list[Problem] = []
    known = list(spec.options)
    for name in sorted(str(n) for n in hvars):
        if name in DERIVED:
            problems.append(Problem(host, name, DERIVED[name][0], DERIVED[name][1]))
        elif name in spec.options:
            try:
                value = hvars[name]
            except Exception as exc:  # pylint: disable=broad-except  # a template that cannot be rendered
                problems.append(Problem(host, name, "cannot be templated (%s)" % str(exc).splitlines()[0],
                                        "fix the expression or the variable it uses"))
                continue
            if _templated(value):
                continue
            message = _validate_option(name, value, spec.options[name], spec.owner[name], spec)
            if message:
                problems.append(Problem(host, name, message, "give %s a value of type %s; see %s" % (
                    name, spec.options[name].get("type", "str"), spec.role_doc(name))))
        elif name.startswith(spec.prefixes) and not _external(name, hvars):
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            prefix = next(p for p in spec.prefixes if name.startswith(p))
            problems.append(Problem(
                host, name, "is not a variable of role %s, so it would be ignored and the default used" % prefix[:-1],
                ("did you mean %s?" % close[0]) if close else
                "remove it, or see `ansible-doc -t role mediastack.core.%s` for the role's variables" % prefix[:-1]))
    return problems


def _label_problems(host: str, labels: Any) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(labels, Mapping):
        return problems
    for key, value in sorted(labels.items(), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or not LABEL_KEY_RE.match(key):
            problems.append(Problem(host, "swarm_node_labels.%s" % key, "label key %r is not a valid Swarm label key" % key,
                                    "use lower-case letters, digits, '.', '-' and '_' only"))
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems.append(Problem(host, "swarm_node_labels.%s" % key, "label value %r is %s" % (value, type_name(value)),
                                    "quote it as a string, e.g. %s: \"%s\"" % (key, str(value).lower())))
        elif not LABEL_VALUE_RE.match(str(value)):
            problems.append(Problem(host, "swarm_node_labels.%s" % key, "label value %r contains spaces or special characters" % value,
                                    "use letters, digits and . _ : / @ + - only"))
    return problems


def valid_hostname(name: str) -> bool:
    return 0 < len(name) <= 253 and all(HOSTNAME_LABEL_RE.match(label) for label in name.rstrip(".").split("."))


def _address_problem(address: str) -> str | None:
    """None for an IP address or a host name; else why it is neither."""
    if re.fullmatch(r"[0-9.]+", address) or ":" in address:
        try:
            ipaddress.ip_address(address)
            return None
        except ValueError:
            return "%r is not an IP address" % address
    if not valid_hostname(address):
        return "%r is neither an IP address nor a valid host name" % address
    return None


def _host_problems(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Sequence[str]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str], str] = {}
    swarm = set(groups.get(SWARM_GROUP) or [])
    for host in sorted(hostvars):
        hvars = hostvars[host]
        advertise = hvars.get("swarm_advertise_addr") if host in swarm else None
        if isinstance(advertise, str) and not _templated(advertise):
            try:
                ipaddress.IPv4Address(advertise.strip())
            except ValueError:
                problems.append(Problem(host, "swarm_advertise_addr", "%r is not an IPv4 address; the other Swarm nodes reach "
                                        "this one on it" % advertise,
                                        "set it to this host's IPv4 address on the nodes' network, or remove it to use the "
                                        "address of the host's default route"))
        connection = str(hvars.get("ansible_connection", "ssh"))
        address = hvars.get("ansible_host", host)
        if not isinstance(address, str) or _templated(address):
            continue
        if connection in NETWORK_CONNECTIONS:
            why = _address_problem(address)
            if why:
                problems.append(Problem(host, "ansible_host", why, "set ansible_host to the host's IP address or DNS name"))
                continue
            kind = "network"
        else:
            kind = connection
        key = (kind, address.lower(), str(hvars.get("ansible_port", "")))
        if key in seen:
            problems.append(Problem(host, "ansible_host", "%r is also the address of %s, so both names would configure one machine"
                                    % (address, seen[key]), "give each host its own address, or remove the duplicate host"))
        else:
            seen[key] = host
        if host in swarm and not valid_hostname(host):
            problems.append(Problem(host, "inventory_hostname", "%r is not a valid host name; it becomes the Swarm node's name "
                                    "and its `node` label in monitoring" % host,
                                    "rename the host with letters, digits and inner hyphens only (no spaces or underscores)"))
    return problems


def _value(hvars: Mapping[str, Any], spec: Spec, name: str) -> Any:
    found = hvars[name] if name in hvars else spec.defaults.get(name)
    return None if _templated(found) else found


def _zone_exists(zone: str) -> bool | None:
    for root in (os.environ.get("TZDIR"), "/usr/share/zoneinfo"):
        if root and os.path.isdir(root):
            path = os.path.normpath(os.path.join(root, zone))
            return path.startswith(os.path.normpath(root) + os.sep) and os.path.isfile(path)
    try:
        import zoneinfo  # pylint: disable=import-outside-toplevel

        return zone in zoneinfo.available_timezones() or None
    except ImportError:  # pragma: no cover
        return None


def _semantic_problems(host: str, hvars: Mapping[str, Any], spec: Spec) -> list[Problem]:
    problems: list[Problem] = []
    zone = _value(hvars, spec, "common_timezone")
    if isinstance(zone, str) and _zone_exists(zone) is False:
        close = difflib.get_close_matches(zone, _zone_names(), n=1)
        problems.append(Problem(host, "common_timezone", "%r is not an IANA time zone" % zone,
                                "use a name from /usr/share/zoneinfo such as %s" % (close[0] if close else "Europe/Berlin")))
    for name, what in (("common_media_uid", "UID"), ("common_media_gid", "GID")):
        number = _value(hvars, spec, name)
        if isinstance(number, int) and not isinstance(number, bool) and not 1 <= number <= 65533:
            problems.append(Problem(host, name, "%s %d %s" % (what, number, "is root: every media container would run as root"
                                                              if number == 0 else "is outside 1-65533"),
                                    "use an unprivileged %s such as 2000 (the same on every node)" % what))
    domain = _value(hvars, spec, "services_domain")
    if isinstance(domain, str) and domain and (not valid_hostname(domain) or "." not in domain.strip(".")
                                               or re.fullmatch(r"[0-9.]+", domain)):
        problems.append(Problem(host, "services_domain", "%r is not a DNS domain; every routed service is served as "
                                "<subdomain>.<domain>" % domain, "use a domain you control, e.g. media.example.org"))
    problems.extend(_backup_problems(host, hvars, spec))
    problems.extend(_secret_problems(host, hvars, spec))
    return problems


def _zone_names() -> list[str]:
    root = "/usr/share/zoneinfo"
    names = []
    for base, _dirs, files in os.walk(root):
        names += [os.path.relpath(os.path.join(base, f), root) for f in files if f[0].isupper()]
    return names


def _backup_problems(host: str, hvars: Mapping[str, Any], spec: Spec) -> list[Problem]:
    problems: list[Problem] = []
    if "backup_repositories" not in hvars and "backup_engine" not in hvars:
        return problems
    engine = _value(hvars, spec, "backup_engine") or "restic"
    repositories = _value(hvars, spec, "backup_repositories")
    if engine not in BACKUP_BACKENDS or not isinstance(repositories, list):
        return problems  # the type check reports these
    backends = BACKUP_BACKENDS[engine]
    for index, repo in enumerate(repositories):
        if not isinstance(repo, Mapping) or not isinstance(repo.get("location"), str) or _templated(repo.get("location")):
            continue
        where = "backup_repositories[%d] (%s)" % (index, repo.get("name", "?"))
        location = repo["location"]
        scheme = location.split(":", 1)[0] if re.match(r"^[a-z0-9]+:", location) else "local"
        if engine == "borg" and re.match(r"^[^/:@\s]+@[^/:\s]+:", location):
            scheme = "ssh"  # borg's scp-like user@host:path
        if scheme not in backends:
            problems.append(Problem(host, where, "location %r uses backend %r, which %s does not know" % (location, scheme, engine),
                                    "use one of %s (e.g. /srv/backup, sftp:user@host:/path, s3:https://host/bucket)"
                                    % ", ".join(backends)))
        elif scheme == "local" and not location.startswith("/"):
            problems.append(Problem(host, where, "local location %r is not an absolute path" % location,
                                    "write the full path, e.g. /srv/backup/mediastack"))
    return problems


def _backup_password_problems(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Sequence[str]],
                              spec: Spec) -> list[Problem]:
    """site.yml backs up every Swarm node's catalog data: each enabled repository needs a password (8+ characters)."""
    problems: list[Problem] = []
    for host in sorted(set(groups.get(SWARM_GROUP) or []) & set(hostvars)):
        hvars = hostvars[host]
        repositories = _value(hvars, spec, "backup_repositories")
        if not isinstance(repositories, list):
            continue  # templated (not checked here) or a wrong type (the type check reports it)
        default = hvars.get("backup_password", spec.defaults.get("backup_password"))
        for repo in repositories:
            if not isinstance(repo, Mapping) or repo.get("enabled", True) is False:
                continue
            password = repo.get("password", default)
            if password is None or (isinstance(password, str) and not _templated(password) and len(password.strip()) < 8):
                where = "backup_password" if "password" not in repo else "backup_repositories (%s).password" % repo.get("name", "?")
                problems.append(Problem(host, where, "site.yml backs up this node's service data to repository %r, which has "
                                        "no password of 8 characters or more" % repo.get("name", "?"),
                                        "set backup_password in the inventory's vault file, e.g. backup_password: "
                                        "\"{{ vault_backup_password }}\" (or disable the repository)"))
    return problems


def _secret_problems(host: str, hvars: Mapping[str, Any], spec: Spec) -> list[Problem]:
    problems: list[Problem] = []
    plain_ok = bool(hvars.get(PLAIN_SECRETS_OK, False)) if not isinstance(hvars.get(PLAIN_SECRETS_OK), str) else \
        hvars[PLAIN_SECRETS_OK].lower() in ("true", "yes", "1")
    for name in sorted(n for n in spec.options if spec.secret(n) and n in hvars):
        value = hvars[name]
        leaves: list[tuple[str, Any]] = []
        if isinstance(value, Mapping):
            leaves = [("%s.%s" % (name, key), val) for key, val in sorted(value.items(), key=lambda kv: str(kv[0]))]
        elif not isinstance(value, list):
            leaves = [(name, value)]
        for where, leaf in leaves:
            if isinstance(leaf, Mapping):
                continue
            if leaf is None or (isinstance(leaf, str) and not leaf.strip()):
                problems.append(Problem(host, where, "the secret is empty",
                                        "set it in the inventory's vault file (ansible-vault edit ...)"))
            elif not plain_ok and _vault_source(leaf) is False:
                problems.append(Problem(host, where, "the secret is written in clear outside Ansible Vault",
                                        "move it into a vault file (ansible-vault create group_vars/all/vault.yml) or encrypt "
                                        "it with ansible-vault encrypt_string; a throwaway lab may set %s: true"
                                        % PLAIN_SECRETS_OK))
    return problems


def _network_problems(hostvars: Mapping[str, Mapping[str, Any]], managers: Sequence[str], spec: Spec) -> list[Problem]:
    """The Swarm overlay networks, as the bootstrap manager will create them, checked before any change."""
    # imported here: the filter module imports nothing from this one, so there is no cycle
    from ansible_collections.mediastack.core.plugins.filter.swarm_network_problems import swarm_network_problems

    if not managers:
        return []
    host = sorted(managers)[0]
    hvars = hostvars.get(host, {})
    networks = _value(hvars, spec, "swarm_networks")
    if not isinstance(networks, list):
        return []
    pools = _value(hvars, spec, "docker_default_address_pools") or []
    reserved = {
        "docker_default_address_pools": [p.get("base") for p in pools if isinstance(p, Mapping) and p.get("base")],
        "swarm_default_addr_pool": list(_value(hvars, spec, "swarm_default_addr_pool") or []),
        "swarm_reserved_networks": list(_value(hvars, spec, "swarm_reserved_networks") or []),
    }
    problems = [Problem(host, "swarm_networks", line, "change the subnet in swarm_networks or the overlapping setting")
                for line in swarm_network_problems(networks, reserved)]
    # An overlay that holds a host's own address hides that host (and its LAN) from every container on it.
    for net in networks:
        if not isinstance(net, Mapping):
            continue
        try:
            subnet = ipaddress.ip_network(str(net.get("subnet")), strict=False)
        except ValueError:
            continue
        for other in sorted(hostvars):
            address = hostvars[other].get("ansible_host", other)
            try:
                ip = ipaddress.ip_address(str(address))
            except ValueError:
                continue
            if ip in subnet:
                problems.append(Problem(host, "swarm_networks", "overlay %s (%s) contains %s, the address of host %s: containers "
                                        "on it could not reach that host's network" % (net.get("name"), subnet, ip, other),
                                        "give the overlay a subnet outside the hosts' networks, or add the hosts' network to "
                                        "swarm_reserved_networks to have this checked"))
    return problems


CHECKS: tuple[Callable[..., list[Problem]], ...] = (_variable_problems, _semantic_problems)


def check_inventory(
    hostvars: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, Sequence[str]],
    spec: Spec,
) -> list[Problem]:
    """Every reason site.yml cannot serve this inventory; empty when it can."""
    problems = _group_problems(groups)
    for host in sorted(hostvars):
        hvars = hostvars[host]
        for check in CHECKS:
            problems.extend(check(host, hvars, spec))
        problems.extend(_label_problems(host, hvars.get("swarm_node_labels")))
    problems.extend(_host_problems(hostvars, groups))
    problems.extend(_backup_password_problems(hostvars, groups, spec))
    problems.extend(_network_problems(hostvars, list(groups.get(MANAGERS_GROUP) or []), spec))
    return problems
