# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy as the platform's load balancer: ``haproxy.cfg`` from the routed services of the catalog.

``render_haproxy(services, settings)`` takes the parsed catalog (name -> ``catalog.Service``, the
enabled services only) and the load-balancer settings, and returns the text of ``haproxy.cfg``:
one HTTP frontend routing by ``Host`` (``<subdomain>.<domain>``) to one backend per routed service,
round robin (plus an inserted ``MSSRV`` cookie for stateful services), HTTP health checks every 10 s
that take a dead replica out after two failures, and a stats frontend with the Prometheus exporter.

In Swarm the replicas are found by DNS (``server-template`` over ``tasks.<stack>_<service>`` with
Docker's resolver at 127.0.0.11); ``servers`` lists them explicitly instead (other sites, tests).
Bad settings raise ``HaproxyConfigError`` with one line per problem, each naming the setting and the fix.

Pure computation without Ansible imports, Python 3.8 compatible (it may run on targets).
"""
from __future__ import annotations

import difflib
import ipaddress
import re
import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import DOMAIN, Route, Service
from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

SETTINGS_DEFAULTS = {
    "domain": "",
    "bind_address": "",
    "frontend_port": 8080,
    "stats_port": 8404,
    "stats_socket": "",
    "health_path": "/health",
    "health_paths": {},
    "server_slots": None,
    "service_name_format": "{name}_{name}",
    "servers": {},
    "cookie_key": "mediastack",
    "timeouts": {},
}  # type: t.Dict[str, t.Any]
TIMEOUT_DEFAULTS = {
    "connect": "5s",
    "client": "60s",
    "server": "60s",
    "http-request": "10s",
    "http-keep-alive": "10s",
    "queue": "30s",
    "check": "5s",
    "tunnel": "1h",
}
COOKIE = "MSSRV"
CHECK = "inter 10s fall 2 rise 2"
DNS_SERVER = "127.0.0.11:53"
HAPROXY_DURATION = re.compile(r"^[0-9]+(us|ms|s|m|h|d)?$")
URL_PATH = re.compile(r"^/[!-~]*$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$")
HEALTH_URL = re.compile(r"^https?://(?:localhost|127\.0\.0\.1)(?::(?P<port>[0-9]+))?(?P<path>/[!-~]*)$")
TOKEN = re.compile(r"^[!#-~]+$")


class HaproxyConfigError(InputError):
    """The load-balancer settings or the catalog cannot be rendered; ``problems`` holds one actionable line each."""


def _hint(name: str, known: t.Iterable[str], fallback: str) -> str:
    known = sorted(known)
    match = difflib.get_close_matches(name, known, 1)
    if match:
        return "did you mean %s?" % match[0]
    return fallback % (", ".join(known) or "none")


def _port(value: t.Any, key: str, problems: t.List[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        problems.append("haproxy: %s must be a TCP port from 1 to 65535, got %r; set %s to a free port such as %d"
                        % (key, value, key, SETTINGS_DEFAULTS[key]))
        return 0
    return value


def _address(value: t.Any, key: str, problems: t.List[str]) -> str:
    """A ``host:port`` server address (IPv6 in brackets) in HAProxy's syntax, or '' with a problem."""
    text = value if isinstance(value, str) else ""
    match = re.match(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s\[\]]+)):(?P<port>[0-9]{1,5})$", text)
    fix = "write it as host:port, e.g. 10.0.0.5:8096 or [fd00::5]:8096"
    if not match:
        problems.append("haproxy: %s entry %r is not an address; %s" % (key, value, fix))
        return ""
    port = int(match.group("port"))
    if not 1 <= port <= 65535:
        problems.append("haproxy: %s entry %r has port %d, outside 1-65535; %s" % (key, value, port, fix))
        return ""
    if match.group("v6"):
        try:
            ipaddress.IPv6Address(match.group("v6"))
        except ValueError:
            problems.append("haproxy: %s entry %r is not a valid IPv6 address; %s" % (key, value, fix))
            return ""
    elif not HOSTNAME.match(match.group("host")):
        problems.append("haproxy: %s entry %r has no valid host name; %s" % (key, value, fix))
        return ""
    return text


def _path(value: t.Any, key: str, problems: t.List[str]) -> str:
    if not isinstance(value, str) or not URL_PATH.match(value):
        problems.append("haproxy: %s must be an URL path starting with / and without spaces, got %r; e.g. /health" % (key, value))
        return ""
    return value


def _service_keys(value: t.Any, key: str, routed: t.Mapping[str, Service], problems: t.List[str]) -> t.Dict[str, t.Any]:
    """A per-service mapping: every key must be a routed, enabled service."""
    if not isinstance(value, Mapping):
        problems.append("haproxy: %s must be a mapping of service name to value, got %s" % (key, type(value).__name__))
        return {}
    out = {}
    for name in sorted(value, key=str):
        if name not in routed:
            problems.append("haproxy: %s names %r, which is not a routed, enabled service of the catalog; %s"
                            % (key, name, _hint(str(name), routed, "routed services: %s")))
        else:
            out[name] = value[name]
    return out


def haproxy_settings(settings: t.Optional[t.Mapping[str, t.Any]], services: t.Mapping[str, Service]) -> t.Dict[str, t.Any]:
    """The settings with defaults, checked against ``services``; ``HaproxyConfigError`` lists every problem."""
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise HaproxyConfigError(["haproxy: settings must be a mapping such as {domain: media.example.org, frontend_port: 8080}, got %s"
                                  % type(settings).__name__])
    problems = []  # type: t.List[str]
    for key in sorted(set(settings) - set(SETTINGS_DEFAULTS), key=str):
        problems.append("haproxy: unknown setting %r; %s" % (key, _hint(str(key), SETTINGS_DEFAULTS, "use one of %s")))
    out = dict(SETTINGS_DEFAULTS)
    out.update({k: v for k, v in settings.items() if k in SETTINGS_DEFAULTS and v is not None})
    routed = {name: svc for name, svc in services.items() if balanced(svc)}

    if routed and not (isinstance(out["domain"], str) and out["domain"]):
        problems.append("haproxy: domain is empty but the routed services (%s) need it; set domain (or the platform domain), e.g. media.example.org"
                        % ", ".join(sorted(routed)))
    elif out["domain"] and not (isinstance(out["domain"], str) and DOMAIN.match(out["domain"])):
        problems.append("haproxy: domain %r is not a DNS name; set domain to e.g. media.example.org" % (out["domain"],))
    if out["bind_address"]:
        try:
            ipaddress.ip_address(out["bind_address"])
        except ValueError:
            problems.append("haproxy: bind_address %r is not an IP address; leave it empty to listen on every address or set e.g. 127.0.0.1"
                            % (out["bind_address"],))
    out["frontend_port"] = _port(out["frontend_port"], "frontend_port", problems)
    out["stats_port"] = _port(out["stats_port"], "stats_port", problems)
    if out["frontend_port"] and out["frontend_port"] == out["stats_port"]:
        problems.append("haproxy: frontend_port and stats_port are both %d; give the stats frontend another port (default 8404)" % out["stats_port"])
    if out["stats_socket"] and not (isinstance(out["stats_socket"], str) and out["stats_socket"].startswith("/") and TOKEN.match(out["stats_socket"])):
        problems.append("haproxy: stats_socket must be an absolute path such as /run/haproxy/admin.sock (or empty for none), got %r"
                        % (out["stats_socket"],))
    out["health_path"] = _path(out["health_path"], "health_path", problems)
    out["health_paths"] = {n: _path(p, "health_paths.%s" % n, problems)
                           for n, p in _service_keys(out["health_paths"], "health_paths", routed, problems).items()}

    slots = out["server_slots"]
    if slots is not None:
        per = _service_keys(slots, "server_slots", routed, problems) if isinstance(slots, Mapping) else {"": slots}
        for name, count in per.items():
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1024:
                problems.append("haproxy: server_slots%s must be a number of server slots from 1 to 1024, got %r; "
                                "leave it unset for max(replicas * 2, 4)" % ("." + name if name else "", count))
        out["server_slots"] = per if isinstance(slots, Mapping) else slots

    fmt = out["service_name_format"]
    try:
        example = fmt.format(name="jellyfin") if isinstance(fmt, str) else None
    except (KeyError, IndexError, ValueError, AttributeError):
        example = None
    if example is None or not HOSTNAME.match(example) or "{name}" not in fmt:
        problems.append("haproxy: service_name_format %r must build the Swarm service name from {name}, e.g. {name}_{name} "
                        "(stack_service) or mediastack_{name}" % (fmt,))

    servers = {}
    for name, entries in _service_keys(out["servers"], "servers", routed, problems).items():
        key = "servers.%s" % name
        if isinstance(entries, str):
            entries = [entries]
        if not isinstance(entries, (list, tuple)) or not entries:
            problems.append("haproxy: %s is an empty server list; list the replicas as host:port (e.g. [10.0.0.5:%d]) "
                            "or drop %s to find them by DNS" % (key, _route(routed[name]).port, name))
            continue
        addresses = [_address(entry, key, problems) for entry in entries]
        dupes = sorted({a for a in addresses if a and addresses.count(a) > 1})
        if dupes:
            problems.append("haproxy: %s lists %s more than once; list each replica once" % (key, ", ".join(dupes)))
        servers[name] = addresses
    out["servers"] = servers

    if not isinstance(out["cookie_key"], str) or not TOKEN.match(out["cookie_key"]) or '"' in out["cookie_key"]:
        problems.append("haproxy: cookie_key must be a non-empty string without spaces or quotes (it salts the sticky cookie values), got %r"
                        % (out["cookie_key"],))
    timeouts = dict(TIMEOUT_DEFAULTS)
    if not isinstance(out["timeouts"], Mapping):
        problems.append("haproxy: timeouts must be a mapping such as {server: 5m}, got %s" % type(out["timeouts"]).__name__)
    else:
        for key in sorted(out["timeouts"], key=str):
            value = out["timeouts"][key]
            if key not in TIMEOUT_DEFAULTS:
                problems.append("haproxy: timeouts has unknown timeout %r; %s" % (key, _hint(str(key), TIMEOUT_DEFAULTS, "use one of %s")))
            elif isinstance(value, bool) or not HAPROXY_DURATION.match(str(value)):
                problems.append("haproxy: timeouts.%s must be a duration such as 30s, 500ms or 1h, got %r" % (key, value))
            else:
                timeouts[key] = str(value)
    out["timeouts"] = timeouts

    subdomains = {}  # type: t.Dict[str, str]
    for name in sorted(routed):
        sub = _route(routed[name]).subdomain
        if sub in subdomains:
            problems.append("%s: route.subdomain %r is already used by %s; two backends cannot share one host, choose another subdomain"
                            % (name, sub, subdomains[sub]))
        else:
            subdomains[sub] = name
    if problems:
        raise HaproxyConfigError(problems)
    return out


def balanced(svc: Service) -> bool:
    """Whether HAProxy balances ``svc``: routed to a container port (not to a Traefik internal service such as api@internal)."""
    return svc.route is not None and not svc.route.service


def health_path(svc: Service, settings: t.Mapping[str, t.Any]) -> str:
    """The check path: ``health_paths[name]``, else the path of the service's own HTTP healthcheck on its routed port, else ``health_path``."""
    if svc.name in settings["health_paths"]:
        return settings["health_paths"][svc.name]
    if svc.healthcheck and svc.route:
        for arg in svc.healthcheck.test:
            match = HEALTH_URL.match(arg)
            if match and int(match.group("port") or (443 if arg.startswith("https") else 80)) == svc.route.port:
                return match.group("path")
    return settings["health_path"]


def server_slots(svc: Service, settings: t.Mapping[str, t.Any]) -> int:
    """How many ``server-template`` slots the backend gets: the setting, else room for a doubled replica count (at least 4)."""
    slots = settings["server_slots"]
    if isinstance(slots, Mapping):
        slots = slots.get(svc.name)
    return slots if slots else max(svc.replicas * 2, 4)


def _route(svc: Service) -> Route:
    if svc.route is None:
        raise HaproxyConfigError(["%s: has no route, so HAProxy has nothing to balance" % svc.name])
    return svc.route


def _bind(address: str, port: int) -> str:
    if ":" in address:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def _backend(svc: Service, settings: t.Mapping[str, t.Any], fqdn: str) -> t.List[str]:
    route = _route(svc)
    lines = ["", "backend be_%s" % svc.name, "    balance roundrobin"]
    explicit = settings["servers"].get(svc.name)
    if svc.stateful:
        lines.append("    cookie %s insert indirect nocache httponly%s" % (COOKIE, "" if explicit else " dynamic"))
        if not explicit:
            lines.append("    dynamic-cookie-key %s-%s" % (settings["cookie_key"], svc.name))
    lines += [
        "    option httpchk",
        "    http-check send meth GET uri %s ver HTTP/1.1 hdr Host %s" % (health_path(svc, settings), fqdn),
        "    http-check expect status 200-399",
        "    default-server %s" % CHECK,
    ]
    if explicit:
        for index, address in enumerate(explicit, 1):
            server = "%s%d" % (svc.name, index)
            lines.append("    server %s %s check%s" % (server, address, " cookie %s" % server if svc.stateful else ""))
    else:
        target = "tasks.%s" % settings["service_name_format"].format(name=svc.name)
        lines.append("    server-template %s %d %s:%d check resolvers docker init-addr none resolve-prefer ipv4"
                     % (svc.name, server_slots(svc, settings), target, route.port))
    return lines


def render_haproxy(services: t.Mapping[str, Service], settings: t.Optional[t.Mapping[str, t.Any]] = None) -> str:
    """``haproxy.cfg`` for every routed service of ``services`` (the enabled ones); ``HaproxyConfigError`` on bad settings."""
    conf = haproxy_settings(settings, services)
    routed = [services[name] for name in sorted(services) if balanced(services[name])]
    discovery = [svc for svc in routed if svc.name not in conf["servers"]]
    bind = conf["bind_address"]
    lines = [
        "global",
        "    log stdout format raw local0",
    ]
    if conf["stats_socket"]:
        lines.append("    stats socket %s mode 600 level admin" % conf["stats_socket"])
    lines += [
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    option forwardfor",
        "    option redispatch",
        "    retries 3",
    ]
    lines += ["    timeout %s %s" % (key, value) for key, value in conf["timeouts"].items()]
    if discovery:
        lines += [
            "",
            "# Docker's embedded DNS: tasks.<service> answers one address per running task",
            "resolvers docker",
            "    nameserver dns %s" % DNS_SERVER,
            "    resolve_retries 3",
            "    timeout resolve 1s",
            "    timeout retry 1s",
            "    hold valid 10s",
            "    hold other 10s",
            "    hold refused 10s",
            "    hold nx 10s",
            "    hold timeout 10s",
            "    hold obsolete 10s",
            "    accepted_payload_size 8192",
        ]
    lines += [
        "",
        "frontend fe_stats",
        "    bind %s" % _bind(bind, conf["stats_port"]),
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 10s",
        "    no log",
        "",
        "frontend fe_http",
        "    bind %s" % _bind(bind, conf["frontend_port"]),
        "    option httplog",
        "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
    ]
    for svc in routed:
        lines.append("    use_backend be_%s if { var(txn.host) -m str %s.%s }" % (svc.name, _route(svc).subdomain, conf["domain"]))
    lines += [
        "    default_backend be_no_route",
        "",
        "backend be_no_route",
        '    http-request return status 404 content-type text/plain string "no service is routed for this host"',
    ]
    for svc in routed:
        lines += _backend(svc, conf, "%s.%s" % (_route(svc).subdomain, conf["domain"]))
    return "\n".join(lines) + "\n"
