# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalog: one typed description per service, its validation, and its Swarm stack.

A description is plain data (YAML in the inventory or ``roles/services/files/catalog-seed.yml``); ``parse_service``
turns it into a ``Service`` or raises ``CatalogError`` with one line per problem, each naming the
service, the field and the fix. ``validate_catalog`` adds the checks across services (duplicate
subdomains, host ports, dependencies, GPU nodes, secrets). ``render_stack`` turns one ``Service``
plus the platform settings into a Docker stack file (compose v3) for ``docker_stack``;
``authelia_rules`` builds Authelia's ``access_control.rules``.

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import difflib
import re
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field

from ansible_collections.mediastack.core.plugins.module_utils.catalog.placement import PlacementError, placement_constraints
from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import DEFAULT_KIND, KIND_PATTERN, PROFILE_ALIASES, PROFILES, driver_capabilities

SEGMENTS = ("media", "admin", "data", "dmz")
AUTH_POLICIES = ("bypass", "one_factor", "two_factor")
VOLUME_KINDS = ("config", "data", "media", "cache", "host")
PROTOCOLS = ("tcp", "udp")
PUBLISH_MODES = ("ingress", "host")
ENDPOINT_MODES = ("vip", "dnsrr")
RUN_AS = ("user", "env", "image")
MODES = ("replicated", "global")
FLOATING_TAGS = ("latest", "stable", "nightly", "develop", "main", "master", "edge")
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GROUP_NAME = re.compile(r"^[^\s:]+$")
UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}

SERVICE_KEYS = frozenset((
    "name", "description", "image", "version", "digest", "ports", "volumes", "env", "puid", "pgid", "run_as", "networks",
    "placement", "resources", "healthcheck", "route", "auth", "stateful", "mode", "replicas", "backup_paths", "metrics",
    "dependencies", "gpu", "secrets", "forward_auth", "labels", "command", "enabled", "configs",
))
PLATFORM_DEFAULTS = {
    "domain": "",
    "storage_root": "/srv/mediastack",
    "puid": 2000,
    "pgid": 2000,
    "endpoint_mode": "vip",
    "publish_mode": "ingress",
    "image_registry": "",
    "image_overrides": {},
    "network_names": {},
    "entrypoint": "websecure",
    "cert_resolver": "",
    "auth_middleware": "authelia",
    "secret_names": {},
    "config_names": {},
    "secrets": None,
    "gpu_nodes": None,
    # The Swarm generic-resource kind a GPU service reserves when no assignment of the nvidia role names one
    # (the services role passes nvidia_resource_kind, the kind the GPU nodes advertise).
    "gpu_resource_kind": DEFAULT_KIND,
    "reservation_ratio": 0.25,
    "stack_version": "3.8",
    "update_delay": "10s",
    "postgres_service": "postgres",
    "redis_service": "redis",
    "edge_service": "traefik",
    # Prometheus (on the first manager's host) cannot reach the overlays: it scrapes a catalog service's metrics
    # through the edge service's metrics entrypoint, at /metrics/<service> (module_utils/catalog/metrics.py).
    "metrics_entrypoint": "metrics",
    # A GPU service that reserves a generic resource gets a companion global service on the GPU nodes,
    # attached to the same networks: Swarm rejects a task with generic resources on a node that has no
    # attachment to the task's overlay yet ("node is missing network attachments"; docker/for-linux#1201,
    # moby/moby#44378). "" disables the anchor.
    "gpu_network_anchor_image": "busybox:1.37.0",
}


class CatalogError(ValueError):
    """A description or the catalog is invalid; ``problems`` holds one actionable line each."""

    def __init__(self, problems: t.List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Image:
    repository: str
    tag: str
    digest: t.Optional[str] = None

    def reference(self, registry: str = "") -> str:
        """The image reference, through ``registry`` (a mirror or private registry prefix) when given."""
        repo = self.repository
        if registry:
            first = repo.split("/", 1)
            if len(first) == 2 and ("." in first[0] or ":" in first[0] or first[0] == "localhost"):
                repo = first[1]
            repo = "%s/%s" % (registry.rstrip("/"), repo)
        out = "%s:%s" % (repo, self.tag)
        return "%s@%s" % (out, self.digest) if self.digest else out


@dataclass
class Port:
    target: int
    published: t.Optional[int] = None
    protocol: str = "tcp"
    mode: t.Optional[str] = None


@dataclass
class Volume:
    kind: str
    target: str
    source: str = ""
    read_only: bool = False


@dataclass
class Healthcheck:
    test: t.List[str]
    interval: str = "30s"
    timeout: str = "10s"
    retries: int = 3
    start_period: str = "30s"


@dataclass
class Route:
    subdomain: str
    port: int
    network: str
    service: str = ""


@dataclass
class Auth:
    policy: str = "two_factor"
    groups: t.List[str] = field(default_factory=list)


@dataclass
class Resources:
    cpus: float
    memory: int
    reserve_cpus: t.Optional[float] = None
    reserve_memory: t.Optional[int] = None


@dataclass
class Postgres:
    database: str
    user: str
    password_secret: str


@dataclass
class GpuRequest:
    profiles: t.List[str]
    count: int = 1


@dataclass
class Service:  # pylint: disable=too-many-instance-attributes
    name: str
    image: Image
    resources: Resources
    ports: t.List[Port] = field(default_factory=list)
    volumes: t.List[Volume] = field(default_factory=list)
    env: t.Dict[str, str] = field(default_factory=dict)
    puid: t.Optional[int] = None
    pgid: t.Optional[int] = None
    run_as: str = "user"
    networks: t.List[str] = field(default_factory=list)
    placement: t.Dict[str, t.Any] = field(default_factory=dict)
    constraints: t.List[str] = field(default_factory=list)
    healthcheck: t.Optional[Healthcheck] = None
    route: t.Optional[Route] = None
    auth: Auth = field(default_factory=Auth)
    stateful: bool = False
    mode: str = "replicated"
    replicas: int = 1
    backup_paths: t.List[str] = field(default_factory=list)
    metrics: t.Optional[t.Dict[str, t.Any]] = None
    postgres: t.Optional[Postgres] = None
    redis: bool = False
    depends_on: t.List[str] = field(default_factory=list)
    gpu: t.Optional[GpuRequest] = None
    secrets: t.List[str] = field(default_factory=list)
    forward_auth: t.Optional[t.Dict[str, t.Any]] = None
    labels: t.Dict[str, str] = field(default_factory=dict)
    command: t.Optional[t.List[str]] = None
    configs: t.List[t.Dict[str, str]] = field(default_factory=list)

    def required_secrets(self) -> t.List[str]:
        """Secrets the service reads: its own plus its database password."""
        out = list(self.secrets)
        if self.postgres and self.postgres.password_secret not in out:
            out.append(self.postgres.password_secret)
        return out


def parse_memory(value: t.Any) -> int:
    """``8G``, ``512M``, ``1.5GiB``, ``1024`` (bytes) -> bytes; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(value)
        return value
    match = MEMORY.match(str(value).strip())
    if not match:
        raise ValueError(value)
    size = int(float(match.group(1)) * UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(value)
    return size


def format_memory(size: int) -> str:
    """Bytes -> the shortest exact Docker size (``8G``, ``512M``, ``100k``, ``123b``)."""
    for unit, factor in (("G", UNITS["g"]), ("M", UNITS["m"]), ("k", UNITS["k"])):
        if size % factor == 0:
            return "%d%s" % (size // factor, unit)
    return "%db" % size


def format_cpus(cpus: float) -> str:
    return ("%.3f" % cpus).rstrip("0").rstrip(".")


class _Reader:
    """Collects problems for one service: every message names the service and the field."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems = []  # type: t.List[str]

    def bad(self, path: str, message: str) -> None:
        self.problems.append("%s: %s %s" % (self.name, path, message))

    def mapping(self, value: t.Any, path: str) -> t.Dict[str, t.Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.bad(path, "must be a mapping, got %s" % type(value).__name__)
            return {}
        return dict(value)

    def seq(self, value: t.Any, path: str) -> t.List[t.Any]:
        if value is None:
            return []
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            self.bad(path, "must be a list, got %r" % (value,))
            return []
        return list(value)

    def keys(self, value: t.Dict[str, t.Any], path: str, allowed: t.Iterable[str]) -> None:
        allowed = sorted(allowed)
        for key in sorted(set(value) - set(allowed), key=str):
            hint = difflib.get_close_matches(str(key), allowed, 1)
            fix = "did you mean %s?" % hint[0] if hint else "use one of %s" % ", ".join(allowed)
            self.bad("%s.%s" % (path, key) if path else str(key), "is not a known field; %s" % fix)

    def integer(self, value: t.Any, path: str, low: int, high: int) -> t.Optional[int]:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.bad(path, "must be an integer from %d to %d, got %r" % (low, high, value))
            return None
        return value

    def boolean(self, value: t.Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.bad(path, "must be true or false, got %r" % (value,))
            return False
        return value

    def choice(self, value: t.Any, path: str, choices: t.Sequence[str]) -> t.Optional[str]:
        if value not in choices:
            self.bad(path, "is %r; use one of %s" % (value, ", ".join(choices)))
            return None
        return value

    def duration(self, value: t.Any, path: str) -> str:
        if not isinstance(value, str) or not DURATION.match(value):
            self.bad(path, "must be a duration such as 30s, 1m30s or 500ms, got %r" % (value,))
            return "30s"
        return value

    def string(self, value: t.Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            self.bad(path, "must be a non-empty string, got %r" % (value,))
            return ""
        return value


def _image(reader: _Reader, raw: t.Dict[str, t.Any]) -> Image:
    value = raw.get("image")
    if not isinstance(value, str) or not value:
        reader.bad("image", "is required: the image repository with a pinned version, e.g. jellyfin/jellyfin:10.10.7")
        return Image("invalid", "invalid")
    digest = raw.get("digest")
    if "@" in value:
        value, _sep, inline = value.partition("@")
        digest = digest or inline
    repo, tag = value, raw.get("version")
    last = value.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _sep, inline_tag = value.rpartition(":")
        if tag is not None and str(tag) != inline_tag:
            reader.bad("version", "is %r but image names tag %r; give the version once" % (tag, inline_tag))
        tag = inline_tag
    if not REPOSITORY.match(repo):
        reader.bad("image", "%r is not a valid image repository (lowercase, e.g. ghcr.io/owner/name)" % repo)
    if tag is None or tag == "":
        reader.bad("version", "is missing for image %s; pin a version, e.g. image: %s:1.2.3 or version: 1.2.3 (latest is refused)" % (repo, repo))
        tag = "invalid"
    tag = str(tag)
    if tag.lower() in FLOATING_TAGS:
        reader.bad("version", "%r is a floating tag for image %s; pin a released version (and optionally a digest)" % (tag, repo))
    elif not TAG.match(tag):
        reader.bad("version", "%r is not a valid image tag" % tag)
    if digest is not None and (not isinstance(digest, str) or not DIGEST.match(digest)):
        reader.bad("digest", "must be sha256: followed by 64 lowercase hex digits, got %r" % (digest,))
        digest = None
    return Image(repo, tag, digest)


def _ports(reader: _Reader, raw: t.Any) -> t.List[Port]:
    out = []
    for index, item in enumerate(reader.seq(raw, "ports")):
        path = "ports[%d]" % index
        if isinstance(item, int) and not isinstance(item, bool):
            item = {"target": item}
        item = reader.mapping(item, path)
        if not item:
            continue
        reader.keys(item, path, ("target", "published", "protocol", "mode"))
        target = reader.integer(item.get("target"), path + ".target", 1, 65535)
        published = item.get("published")
        if published is not None:
            published = reader.integer(published, path + ".published", 1, 65535)
        protocol = reader.choice(item.get("protocol", "tcp"), path + ".protocol", PROTOCOLS) or "tcp"
        mode = item.get("mode")
        if mode is not None:
            mode = reader.choice(mode, path + ".mode", PUBLISH_MODES)
        if target is not None:
            out.append(Port(target, published, protocol, mode))
    return out


def _volumes(reader: _Reader, raw: t.Any) -> t.List[Volume]:
    out = []
    for index, item in enumerate(reader.seq(raw, "volumes")):
        path = "volumes[%d]" % index
        item = reader.mapping(item, path)
        if not item:
            continue
        reader.keys(item, path, ("kind", "target", "source", "read_only"))
        kind = reader.choice(item.get("kind"), path + ".kind", VOLUME_KINDS)
        target = item.get("target")
        if not isinstance(target, str) or not target.startswith("/"):
            reader.bad(path + ".target", "must be an absolute path inside the container, got %r" % (target,))
            continue
        source = item.get("source", "")
        if kind == "host":
            if not isinstance(source, str) or not source.startswith("/") or ".." in source.split("/"):
                reader.bad(path + ".source", "must be an absolute host path for kind host (e.g. /var/run/docker.sock), got %r" % (source,))
                continue
        elif not isinstance(source, str) or source.startswith("/") or ".." in source.split("/"):
            reader.bad(path + ".source", "must be a path relative to the %s directory (no leading / or ..), got %r" % (kind, source))
            continue
        read_only = reader.boolean(item.get("read_only", False), path + ".read_only")
        if kind:
            out.append(Volume(kind, target, source if kind == "host" else source.strip("/"), read_only))
    return out


def _env(reader: _Reader, raw: t.Any) -> t.Dict[str, str]:
    out = {}
    for key, value in reader.mapping(raw, "env").items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            reader.bad("env.%s" % key, "is not a valid environment variable name")
        elif isinstance(value, (Mapping, list, tuple)) or value is None:
            reader.bad("env.%s" % key, "must be a string, number or boolean, got %r" % (value,))
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _resources(reader: _Reader, raw: t.Any) -> Resources:
    res = reader.mapping(raw, "resources")
    if not res:
        reader.bad("resources", "is required: give cpus and memory limits, e.g. {cpus: 2, memory: 2G}")
        return Resources(1.0, UNITS["g"])
    reader.keys(res, "resources", ("cpus", "memory", "reserve_cpus", "reserve_memory"))
    values = {}  # type: t.Dict[str, t.Any]
    for key in ("cpus", "reserve_cpus"):
        value = res.get(key)
        if value is None and key == "reserve_cpus":
            values[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            reader.bad("resources.%s" % key, "must be a positive number of CPUs such as 2 or 0.5, got %r" % (value,))
            value = 1.0
        values[key] = float(value)
    for key in ("memory", "reserve_memory"):
        value = res.get(key)
        if value is None and key == "reserve_memory":
            values[key] = None
            continue
        try:
            values[key] = parse_memory(value)
        except ValueError:
            reader.bad("resources.%s" % key, "must be a size such as 8G or 512M, got %r" % (value,))
            values[key] = UNITS["g"]
    out = Resources(values["cpus"], values["memory"], values["reserve_cpus"], values["reserve_memory"])
    if out.reserve_cpus is not None and out.reserve_cpus > out.cpus:
        reader.bad("resources.reserve_cpus", "(%s) exceeds the cpus limit (%s)" % (format_cpus(out.reserve_cpus), format_cpus(out.cpus)))
    if out.reserve_memory is not None and out.reserve_memory > out.memory:
        reader.bad("resources.reserve_memory", "(%s) exceeds the memory limit (%s)" % (format_memory(out.reserve_memory), format_memory(out.memory)))
    return out


def _healthcheck(reader: _Reader, raw: t.Any) -> t.Optional[Healthcheck]:
    if raw is None:
        return None
    hc = reader.mapping(raw, "healthcheck")
    reader.keys(hc, "healthcheck", ("test", "interval", "timeout", "retries", "start_period"))
    test = hc.get("test")
    if isinstance(test, str) and test:
        test = ["CMD-SHELL", test]
    elif not (isinstance(test, list) and test and all(isinstance(i, str) for i in test)):
        reader.bad("healthcheck.test", "must be a command string or a list such as [CMD, curl, -f, http://localhost:8096/health]")
        return None
    elif test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        test = ["CMD"] + test
    retries = reader.integer(hc.get("retries", 3), "healthcheck.retries", 1, 100) or 3
    return Healthcheck(test, reader.duration(hc.get("interval", "30s"), "healthcheck.interval"),
                       reader.duration(hc.get("timeout", "10s"), "healthcheck.timeout"), retries,
                       reader.duration(hc.get("start_period", "30s"), "healthcheck.start_period"))


def _route(reader: _Reader, raw: t.Any, networks: t.List[str]) -> t.Optional[Route]:
    if raw is None:
        return None
    route = reader.mapping(raw, "route")
    reader.keys(route, "route", ("subdomain", "port", "network", "service"))
    sub = route.get("subdomain")
    if not isinstance(sub, str) or not SUBDOMAIN.match(sub):
        reader.bad("route.subdomain", "must be one DNS label (lowercase letters, digits, -), got %r" % (sub,))
        sub = ""
    port = reader.integer(route.get("port"), "route.port", 1, 65535)
    network = route.get("network", networks[0] if networks else None)
    if network not in networks:
        reader.bad("route.network", "%r is not one of the service's networks (%s); Traefik reaches the service on it"
                   % (network, ", ".join(networks) or "none"))
    service = route.get("service", "")
    if not isinstance(service, str):
        reader.bad("route.service", "must be a Traefik service name such as api@internal")
        service = ""
    return Route(sub, port or 0, str(network), service)


def _auth(reader: _Reader, raw: t.Any, routed: bool) -> Auth:
    if raw is None:
        return Auth()
    if isinstance(raw, str):
        raw = {"policy": raw}
    auth = reader.mapping(raw, "auth")
    reader.keys(auth, "auth", ("policy", "groups"))
    policy = reader.choice(auth.get("policy", "two_factor"), "auth.policy", AUTH_POLICIES) or "two_factor"
    groups = []
    for group in reader.seq(auth.get("groups"), "auth.groups"):
        if not isinstance(group, str) or not GROUP_NAME.match(group):
            reader.bad("auth.groups", "entry %r is not a group name (no spaces or colons)" % (group,))
        else:
            groups.append(group)
    if groups and policy == "bypass":
        reader.bad("auth.groups", "cannot restrict a bypass policy to groups; use one_factor or two_factor")
    if not routed and "policy" in auth and policy != "two_factor":
        reader.bad("auth", "is set but the service has no route; add a route or drop auth")
    return Auth(policy, groups)


def _dependencies(reader: _Reader, raw: t.Any, name: str) -> t.Tuple[t.Optional[Postgres], bool, t.List[str]]:
    deps = reader.mapping(raw, "dependencies")
    reader.keys(deps, "dependencies", ("postgres", "redis", "services"))
    postgres = None
    if deps.get("postgres") is not None:
        pg = reader.mapping(deps["postgres"], "dependencies.postgres")
        reader.keys(pg, "dependencies.postgres", ("database", "user", "password_secret"))
        ident = name.replace("-", "_")
        database = pg.get("database", ident)
        user = pg.get("user", ident)
        for key, value in (("database", database), ("user", user)):
            if not isinstance(value, str) or not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
                reader.bad("dependencies.postgres.%s" % key, "must be a lowercase SQL identifier, got %r" % (value,))
        secret = pg.get("password_secret", "%s_db_password" % ident)
        if not isinstance(secret, str) or not SECRET_NAME.match(secret):
            reader.bad("dependencies.postgres.password_secret", "must be a Docker secret name, got %r" % (secret,))
        postgres = Postgres(str(database), str(user), str(secret))
    redis = reader.boolean(deps.get("redis", False), "dependencies.redis")
    others = []
    for dep in reader.seq(deps.get("services"), "dependencies.services"):
        if not isinstance(dep, str) or not SERVICE_NAME.match(dep):
            reader.bad("dependencies.services", "entry %r is not a service name" % (dep,))
        else:
            others.append(dep)
    return postgres, redis, others


def _gpu(reader: _Reader, raw: t.Any) -> t.Optional[GpuRequest]:
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {"profiles": ["ml"]}
    gpu = reader.mapping(raw, "gpu")
    reader.keys(gpu, "gpu", ("profiles", "count"))
    profiles = []
    for profile in reader.seq(gpu.get("profiles"), "gpu.profiles"):
        canonical = PROFILE_ALIASES.get(profile, profile)
        if canonical not in PROFILES:
            reader.bad("gpu.profiles", "entry %r is not a GPU profile; use %s" % (profile, ", ".join(PROFILES)))
        elif canonical not in profiles:
            profiles.append(canonical)
    if not profiles:
        reader.bad("gpu.profiles", "must name at least one of %s" % ", ".join(PROFILES))
    count = reader.integer(gpu.get("count", 1), "gpu.count", 1, 16) or 1
    return GpuRequest(profiles, count)


def _metrics(reader: _Reader, raw: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    if raw is None:
        return None
    metrics = reader.mapping(raw, "metrics")
    reader.keys(metrics, "metrics", ("port", "path"))
    port = reader.integer(metrics.get("port"), "metrics.port", 1, 65535)
    path = metrics.get("path", "/metrics")
    if not isinstance(path, str) or not path.startswith("/"):
        reader.bad("metrics.path", "must be an URL path starting with /, got %r" % (path,))
    return {"port": port, "path": path}


def parse_service(name: str, raw: t.Any, platform: t.Optional[t.Mapping[str, t.Any]] = None) -> Service:
    """Validate one description and return the typed ``Service``; ``CatalogError`` lists every problem."""
    settings = platform_settings(platform)
    reader = _Reader(str(name))
    if not isinstance(name, str) or not SERVICE_NAME.match(name):
        reader.bad("name", "must be lowercase letters, digits and - (a Swarm service name), got %r" % (name,))
    if not isinstance(raw, Mapping):
        raise CatalogError(reader.problems + ["%s: the description must be a mapping of fields, got %s" % (name, type(raw).__name__)])
    raw = dict(raw)
    reader.keys(raw, "", SERVICE_KEYS)
    if "name" in raw and raw["name"] != name:
        reader.bad("name", "is %r but the service is listed as %r" % (raw["name"], name))
    image = _image(reader, raw)
    networks = []
    for net in reader.seq(raw.get("networks"), "networks"):
        if reader.choice(net, "networks", SEGMENTS) and net not in networks:
            networks.append(net)
    if not networks:
        reader.bad("networks", "must name at least one segment (%s)" % ", ".join(SEGMENTS))
    placement = reader.mapping(raw.get("placement"), "placement")
    gpu = _gpu(reader, raw.get("gpu"))
    if gpu and placement.get("gpu") is False:
        reader.bad("placement.gpu", "is false but the service requests a GPU; drop placement.gpu or the gpu request")
    needs = dict(placement)
    if gpu:
        needs["gpu"] = True
    constraints = []  # type: t.List[str]
    try:
        constraints = placement_constraints(needs)
    except PlacementError as exc:
        reader.bad("placement", "%s" % exc)
    route = _route(reader, raw.get("route"), networks)
    postgres, redis, others = _dependencies(reader, raw.get("dependencies"), str(name))
    secrets = []
    for secret in reader.seq(raw.get("secrets"), "secrets"):
        if not isinstance(secret, str) or not SECRET_NAME.match(secret):
            reader.bad("secrets", "entry %r is not a Docker secret name" % (secret,))
        else:
            secrets.append(secret)
    puid = reader.integer(raw.get("puid", settings["puid"]), "puid", 0, 2 ** 31 - 1)
    pgid = reader.integer(raw.get("pgid", settings["pgid"]), "pgid", 0, 2 ** 31 - 1)
    backup = []
    for path in reader.seq(raw.get("backup_paths"), "backup_paths"):
        if not isinstance(path, str) or not path.startswith("/"):
            reader.bad("backup_paths", "entry %r must be an absolute container path" % (path,))
        else:
            backup.append(path)
    forward_auth = None
    if raw.get("forward_auth") is not None:
        forward_auth = reader.mapping(raw["forward_auth"], "forward_auth")
        reader.keys(forward_auth, "forward_auth", ("port", "path"))
        reader.integer(forward_auth.get("port"), "forward_auth.port", 1, 65535)
        reader.string(forward_auth.get("path", "/api/authz/forward-auth"), "forward_auth.path")
    labels = {}
    for key, value in reader.mapping(raw.get("labels"), "labels").items():
        if isinstance(value, (Mapping, list, tuple)) or value is None:
            reader.bad("labels.%s" % key, "must be a string")
        else:
            labels[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    command = raw.get("command")
    if command is not None:
        if isinstance(command, str):
            command = command.split()
        if not (isinstance(command, list) and command and all(isinstance(i, str) for i in command)):
            reader.bad("command", "must be a list of arguments")
            command = None
    configs = []
    for index, entry in enumerate(reader.seq(raw.get("configs"), "configs")):
        where = "configs[%d]" % index
        entry = reader.mapping(entry, where)
        reader.keys(entry, where, ("source", "target"))
        source, target = entry.get("source"), entry.get("target")
        if not isinstance(source, str) or not SECRET_NAME.match(source):
            reader.bad(where + ".source", "must be a Docker config name such as traefik_static, got %r" % (source,))
        elif not isinstance(target, str) or not target.startswith("/"):
            reader.bad(where + ".target", "must be an absolute path in the container, got %r" % (target,))
        else:
            configs.append({"source": source, "target": target})
    stateful = reader.boolean(raw.get("stateful", False), "stateful")
    replicas = reader.integer(raw.get("replicas", 1), "replicas", 0, 100)
    mode = reader.choice(raw.get("mode", "replicated"), "mode", MODES) or "replicated"
    if mode == "global" and raw.get("replicas") is not None:
        reader.bad("replicas", "is set, but mode global runs one task on every node the placement allows; drop replicas or the mode")
    service = Service(
        name=str(name), image=image, resources=_resources(reader, raw.get("resources")), ports=_ports(reader, raw.get("ports")),
        volumes=_volumes(reader, raw.get("volumes")), env=_env(reader, raw.get("env")), puid=puid, pgid=pgid,
        run_as=reader.choice(raw.get("run_as", "user"), "run_as", RUN_AS) or "user", networks=networks, placement=needs,
        constraints=constraints, healthcheck=_healthcheck(reader, raw.get("healthcheck")), route=route,
        auth=_auth(reader, raw.get("auth"), route is not None), stateful=stateful, mode=mode,
        replicas=1 if replicas is None else replicas,
        backup_paths=backup, metrics=_metrics(reader, raw.get("metrics")), postgres=postgres, redis=redis, depends_on=others,
        gpu=gpu, secrets=secrets, forward_auth=forward_auth, labels=labels, command=command, configs=configs,
    )
    for path in service.backup_paths:
        volume = backup_volume(service, path)
        if volume is None:
            reader.bad("backup_paths", "entry %r is not inside any of the service's volumes (%s); mount a volume there or drop the entry"
                       % (path, ", ".join(v.target for v in service.volumes) or "none"))
        elif volume.kind == "cache":
            reader.bad("backup_paths", "entry %r is in the cache volume %s; caches are rebuilt, not backed up: drop the entry"
                       % (path, volume.target))
    if reader.problems:
        raise CatalogError(reader.problems)
    return service


def backup_volume(svc: Service, path: str) -> t.Optional[Volume]:
    """The volume that holds a container path (the deepest target that is the path or a parent of it)."""
    holders = [v for v in svc.volumes if path == v.target or path.startswith(v.target.rstrip("/") + "/")]
    return max(holders, key=lambda v: len(v.target)) if holders else None


def platform_settings(platform: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    """The platform settings with defaults; unknown keys and bad values raise ``CatalogError``."""
    if platform is None:
        platform = {}
    if not isinstance(platform, Mapping):
        raise CatalogError(["platform: settings must be a mapping such as {domain: media.example.org, endpoint_mode: vip}"])
    problems = []
    for key in sorted(set(platform) - set(PLATFORM_DEFAULTS), key=str):
        hint = difflib.get_close_matches(str(key), list(PLATFORM_DEFAULTS), 1)
        fix = "did you mean %s?" % hint[0] if hint else "use one of " + ", ".join(sorted(PLATFORM_DEFAULTS))
        problems.append("platform: unknown setting %r; %s" % (key, fix))
    out = dict(PLATFORM_DEFAULTS)
    out.update({k: v for k, v in platform.items() if k in PLATFORM_DEFAULTS and v is not None})
    if out["endpoint_mode"] not in ENDPOINT_MODES:
        problems.append("platform: endpoint_mode %r is not one of %s (vip in production, dnsrr where the kernel has no IPVS)"
                        % (out["endpoint_mode"], ", ".join(ENDPOINT_MODES)))
    if out["publish_mode"] not in PUBLISH_MODES:
        problems.append("platform: publish_mode %r is not one of %s" % (out["publish_mode"], ", ".join(PUBLISH_MODES)))
    if out["domain"] and not DOMAIN.match(str(out["domain"])):
        problems.append("platform: domain %r is not a DNS name such as media.example.org" % (out["domain"],))
    for key in ("image_overrides", "network_names", "secret_names", "config_names"):
        if not isinstance(out[key], Mapping):
            problems.append("platform: %s must be a mapping" % key)
    for key in ("secrets", "gpu_nodes"):
        if platform.get(key) is not None and (isinstance(out[key], (str, bytes, Mapping)) or not isinstance(out[key], (list, tuple))):
            problems.append("platform: %s must be a list of names (or left unset to skip the check)" % key)
    if not isinstance(out["gpu_resource_kind"], str) or not KIND_PATTERN.match(out["gpu_resource_kind"]):
        problems.append("platform: gpu_resource_kind %r is not a Swarm generic-resource kind (letters, digits, '.', '_', '-'); "
                        "set nvidia_resource_kind to one such as NVIDIA-GPU" % (out["gpu_resource_kind"],))
    ratio = out["reservation_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        problems.append("platform: reservation_ratio must be a number from 0 to 1, got %r" % (ratio,))
    if not isinstance(out["storage_root"], str) or not out["storage_root"].startswith("/"):
        problems.append("platform: storage_root must be an absolute path, got %r" % (out["storage_root"],))
    if problems:
        raise CatalogError(problems)
    return out


def _unknown(name: str, known: t.Iterable[str], what: str) -> str:
    known = sorted(known)
    hint = difflib.get_close_matches(name, known, 1)
    fix = "did you mean %s?" % hint[0] if hint else "known services: %s" % (", ".join(known) or "none")
    return "%s: unknown service name %r; %s" % (what, name, fix)


def parse_catalog(catalog: t.Any, platform: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Tuple[t.Dict[str, Service], t.List[str]]:
    """Parse every description; returns the services that parsed and the problems of the rest."""
    if not isinstance(catalog, Mapping):
        raise CatalogError(["catalog: must be a mapping of service name to description, got %s" % type(catalog).__name__])
    services, problems = {}, []
    for name in sorted(catalog, key=str):
        try:
            services[name] = parse_service(name, catalog[name], platform)
        except CatalogError as exc:
            problems.extend(exc.problems)
    return services, problems


def _is_enabled(name: str, raw: t.Any, enabled: t.Optional[t.Sequence[str]]) -> bool:
    if enabled is not None:
        return name in enabled
    return not (isinstance(raw, Mapping) and raw.get("enabled") is False)


def validate_catalog(catalog: t.Any, platform: t.Optional[t.Mapping[str, t.Any]] = None,
                     enabled: t.Optional[t.Sequence[str]] = None, overrides: t.Any = None) -> t.List[str]:
    """Every problem of the catalog, one line each (empty when it can be deployed).

    ``enabled`` limits the deployed services (default: all without ``enabled: false``); ``overrides``
    is the inventory's per-service override map, checked for unknown service names.
    """
    try:
        settings = platform_settings(platform)
    except CatalogError as exc:
        return exc.problems
    if not isinstance(catalog, Mapping):
        return ["catalog: must be a mapping of service name to description, got %s" % type(catalog).__name__]
    problems = []  # type: t.List[str]
    if enabled is not None:
        if isinstance(enabled, (str, bytes, Mapping)) or not isinstance(enabled, (list, tuple)):
            return ["enabled: must be a list of service names, got %r" % (enabled,)]
        problems.extend(_unknown(str(n), catalog, "enabled") for n in enabled if n not in catalog)
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            return problems + ["overrides: must be a mapping of service name to fields"]
        problems.extend(_unknown(str(n), catalog, "overrides") for n in overrides if n not in catalog)
    active = {n: r for n, r in catalog.items() if _is_enabled(n, r, enabled)}
    services, parse_problems = parse_catalog(active, settings)
    problems.extend(parse_problems)
    problems.extend(_cross_checks(services, settings))
    return problems


def _cross_checks(services: t.Dict[str, Service], settings: t.Dict[str, t.Any]) -> t.List[str]:
    problems = []
    subdomains = {}  # type: t.Dict[str, str]
    host_ports = {}  # type: t.Dict[t.Tuple[int, str], str]
    routed = [s for s in services.values() if s.route]
    if routed and not settings["domain"]:
        problems.append("platform: domain is empty but the routed services (%s) need it; set the platform domain "
                        "(services_domain in the inventory), e.g. media.example.org" % ", ".join(s.name for s in routed))
    edge = services.get(settings["edge_service"])
    gpu_nodes = settings["gpu_nodes"]

    available = settings["secrets"]
    for name in sorted(services):
        svc = services[name]
        if svc.route:
            other = subdomains.get(svc.route.subdomain)
            if other:
                problems.append("%s: route.subdomain %r is already used by %s; choose another subdomain" % (name, svc.route.subdomain, other))
            else:
                subdomains[svc.route.subdomain] = name
            if edge is not None and svc.route.network not in edge.networks:
                problems.append("%s: route.network %s is not a network of %s (%s); add it to %s's networks or route over one of those"
                                % (name, svc.route.network, edge.name, ", ".join(edge.networks), edge.name))
        for port in svc.ports:
            if port.published is None:
                continue
            key = (port.published, port.protocol)
            other = host_ports.get(key)
            if other:
                problems.append("%s: ports publishes host port %d/%s, which %s already publishes; choose another published port"
                                % (name, port.published, port.protocol, other))
            else:
                host_ports[key] = name
        problems.extend(_dependency_checks(svc, services, settings))
        problems.extend(_metrics_checks(svc, edge))
        if svc.gpu and gpu_nodes is not None and not gpu_nodes:
            problems.append("%s: gpu requests a GPU (profiles %s) but no Swarm node has one; label a GPU node (swarm_node_labels: {gpu: \"true\"}) "
                            "or remove gpu from %s" % (name, ", ".join(svc.gpu.profiles), name))
        if available is not None:
            for secret in svc.required_secrets():
                if secret not in available:
                    problems.append("%s: secrets needs Docker secret %r, which is not defined; add it to services_secrets in the vault (services_secrets.%s)"
                                    % (name, secret, secret))
    return problems


def _metrics_checks(svc: Service, edge: t.Optional[Service]) -> t.List[str]:
    """Prometheus can reach the service's metrics: the edge publishes its own port, the others share a network with it."""
    if not svc.metrics:
        return []
    port = svc.metrics["port"]
    if edge is not None and svc.name != edge.name and not edge.metrics:
        return ["%s: metrics are scraped through %s's metrics entrypoint, and %s declares no metrics (the entrypoint's port); "
                "add metrics: {port: 8082, path: /metrics} to %s or drop metrics from %s" % (svc.name, edge.name, edge.name, edge.name, svc.name)]
    if edge is None:
        return []  # no edge service enabled: nothing scrapes the catalog's metrics (catalog_metrics.scrape_targets)
    if svc.name == edge.name:
        if not any(p.target == port and p.published is not None for p in svc.ports):
            return ["%s: metrics.port %d is not published in ports, so Prometheus on the first manager cannot scrape it; add "
                    "{target: %d, published: %d} to %s's ports or set metrics.port to the metrics entrypoint's port"
                    % (svc.name, port, port, port, svc.name)]
        return []
    if not svc.route and (not svc.networks or svc.networks[0] not in edge.networks):
        # Traefik reaches a service without a route on its first network
        return ["%s: metrics are scraped through %s's metrics entrypoint, which reaches %s on its first network (%s), not a "
                "network of %s (%s); list one of those first in networks, or drop metrics"
                % (svc.name, edge.name, svc.name, svc.networks[0] if svc.networks else "none", edge.name, ", ".join(edge.networks))]
    if svc.route and port == svc.route.port and svc.metrics["path"] == "/":
        return ["%s: metrics.path / would expose the whole app on the metrics entrypoint; give the metrics path (e.g. /metrics)"
                % svc.name]
    return []


def _dependency_checks(svc: Service, services: t.Dict[str, Service], settings: t.Dict[str, t.Any]) -> t.List[str]:
    problems = []
    wanted = list(svc.depends_on)
    if svc.postgres:
        wanted.append(settings["postgres_service"])
    if svc.redis:
        wanted.append(settings["redis_service"])
    for dep in wanted:
        if dep == svc.name:
            problems.append("%s: dependencies name the service itself" % svc.name)
            continue
        target = services.get(dep)
        if target is None:
            problems.append("%s (enable %s or drop the dependency)" % (_unknown(dep, services, "%s: dependencies" % svc.name), dep))
        elif not set(svc.networks) & set(target.networks):
            problems.append("%s: networks share no segment with its dependency %s (%s); add one of them to %s's networks"
                            % (svc.name, dep, ", ".join(target.networks), svc.name))
    return problems


def _volume_source(vol: Volume, service: str, root: str) -> str:
    root = root.rstrip("/")
    if vol.kind == "host":
        return vol.source
    if vol.kind == "media":
        base = "%s/media" % root
    else:
        base = "%s/%s/%s" % (root, vol.kind, service)
    return "%s/%s" % (base, vol.source) if vol.source else base


def _traefik_labels(svc: Service, settings: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    labels = {}  # type: t.Dict[str, str]
    name = svc.name
    if svc.forward_auth:
        prefix = "traefik.http.middlewares.%s.forwardauth." % settings["auth_middleware"]
        labels[prefix + "address"] = "http://%s:%d%s" % (name, svc.forward_auth["port"], svc.forward_auth.get("path", "/api/authz/forward-auth"))
        labels[prefix + "trustForwardHeader"] = "true"
        labels[prefix + "authResponseHeaders"] = "Remote-User,Remote-Groups,Remote-Email,Remote-Name"
    if not svc.route:
        if labels:
            labels["traefik.enable"] = "true"
            labels["traefik.swarm.network"] = settings["network_names"].get(svc.networks[0], svc.networks[0])
        return labels
    if not settings["domain"]:
        raise CatalogError(["%s: route needs the platform domain; set platform.domain, e.g. media.example.org" % name])
    router = "traefik.http.routers.%s." % name
    labels["traefik.enable"] = "true"
    labels["traefik.swarm.network"] = settings["network_names"].get(svc.route.network, svc.route.network)
    labels[router + "rule"] = "Host(`%s.%s`)" % (svc.route.subdomain, settings["domain"])
    labels[router + "entrypoints"] = settings["entrypoint"]
    labels[router + "tls"] = "true"
    if settings["cert_resolver"]:
        labels[router + "tls.certresolver"] = settings["cert_resolver"]
    labels[router + "service"] = svc.route.service or name
    if svc.auth.policy != "bypass":
        labels[router + "middlewares"] = "%s@swarm" % settings["auth_middleware"]
    lb = "traefik.http.services.%s.loadbalancer." % name
    labels[lb + "server.port"] = str(svc.route.port)
    if svc.stateful:
        labels[lb + "sticky.cookie"] = "true"
        labels[lb + "sticky.cookie.name"] = "mediastack_%s" % name.replace("-", "_")
        labels[lb + "sticky.cookie.secure"] = "true"
        labels[lb + "sticky.cookie.httpOnly"] = "true"
    return labels


def _metrics_labels(svc: Service, settings: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    """Traefik routes /metrics/<service> on its metrics entrypoint to the service's metrics port and path."""
    if not svc.metrics or svc.name == settings["edge_service"]:
        return {}
    name = svc.name + "-metrics"
    router = "traefik.http.routers.%s." % name
    labels = {
        "traefik.enable": "true",
        router + "rule": "Path(`/metrics/%s`)" % svc.name,
        router + "entrypoints": str(settings["metrics_entrypoint"]),
        router + "service": name,
        router + "middlewares": "%s@swarm" % name,
        "traefik.http.middlewares.%s.replacepath.path" % name: svc.metrics["path"],
        "traefik.http.services.%s.loadbalancer.server.port" % name: str(svc.metrics["port"]),
    }
    if not svc.route:
        # the network Traefik reaches it on (a routed service has it already: its route network)
        labels["traefik.swarm.network"] = settings["network_names"].get(svc.networks[0], svc.networks[0])
    return labels


def _network_anchor(svc: Service, settings: t.Dict[str, t.Any], anchor_image: str) -> t.Dict[str, t.Any]:
    """A tiny global service on the GPU service's nodes that holds their attachments to its overlays."""
    name = svc.name + "-netanchor"
    if name in settings["image_overrides"]:
        image = str(settings["image_overrides"][name])
    else:
        repo, _sep, tag = anchor_image.rpartition(":")
        image = Image(repo, tag).reference(str(settings["image_registry"] or "")) if repo and "/" not in tag else anchor_image
    return {
        "image": image,
        "command": ["sleep", "2147483647"],
        "networks": list(svc.networks),
        "deploy": {
            "mode": "global",
            "endpoint_mode": settings["endpoint_mode"],
            "placement": {"constraints": list(svc.constraints)},
            "resources": {"limits": {"cpus": "0.05", "memory": "16M"}},
            "restart_policy": {"condition": "any", "delay": "5s"},
            "labels": {"mediastack.service": svc.name, "mediastack.role": "gpu-network-anchor"},
        },
    }


def render_stack(svc: Service, platform: t.Optional[t.Mapping[str, t.Any]] = None,
                 gpu_assignment: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    """One service -> a Docker stack file (compose v3 dict) for ``community.docker.docker_stack``."""
    settings = platform_settings(platform)
    name = svc.name
    env = dict(svc.env)
    if svc.run_as == "env" and svc.puid is not None:
        env.setdefault("PUID", str(svc.puid))
        env.setdefault("PGID", str(svc.pgid))
    reservations = {}  # type: t.Dict[str, t.Any]
    constraints = list(svc.constraints)
    if svc.gpu:
        generic = [{"kind": str(settings["gpu_resource_kind"]), "value": svc.gpu.count}]
        env.setdefault("NVIDIA_DRIVER_CAPABILITIES", driver_capabilities(svc.gpu.profiles))
        if gpu_assignment is not None:
            if not isinstance(gpu_assignment, Mapping):
                raise CatalogError(["%s: gpu_assignment must be the service's entry of gpu_assign's assignments" % name])
            # The assignment decides: its reservation ([] for a shared GPU, which Swarm does not count), its
            # GPU UUID and capabilities, and its node when one node made it (NVIDIA_VISIBLE_DEVICES names a GPU
            # of that node; a shared GPU is reserved by nothing, so only the pin keeps the service there).
            generic = list(gpu_assignment.get("generic_resources") or [])
            for key, value in dict(gpu_assignment.get("env") or {}).items():
                env[key] = str(value)
            node = gpu_assignment.get("node")
            if node:
                pin = "node.hostname == %s" % node
                if pin not in constraints:
                    constraints.append(pin)
        if generic:
            reservations["generic_resources"] = [{"discrete_resource_spec": {"kind": str(g["kind"]), "value": g["value"]}} for g in generic]
    ratio = float(settings["reservation_ratio"])
    res = svc.resources
    reserve_cpus = res.reserve_cpus if res.reserve_cpus is not None else res.cpus * ratio
    reserve_memory = res.reserve_memory if res.reserve_memory is not None else int(res.memory * ratio) // UNITS["m"] * UNITS["m"]
    if reserve_cpus > 0:
        reservations["cpus"] = format_cpus(reserve_cpus)
    if reserve_memory > 0:
        reservations["memory"] = format_memory(reserve_memory)
    order = "stop-first" if svc.stateful else "start-first"
    labels = {"mediastack.service": name, "mediastack.stateful": "true" if svc.stateful else "false"}
    if svc.backup_paths:
        labels["mediastack.backup.paths"] = ",".join(svc.backup_paths)
    if svc.metrics:
        labels["mediastack.metrics.port"] = str(svc.metrics["port"])
        labels["mediastack.metrics.path"] = svc.metrics["path"]
    labels.update(_traefik_labels(svc, settings))
    labels.update(_metrics_labels(svc, settings))
    labels.update(svc.labels)
    deploy = {
        "mode": svc.mode,
        "replicas": svc.replicas,
        "endpoint_mode": settings["endpoint_mode"],
        "placement": {"constraints": constraints},
        "resources": {"limits": {"cpus": format_cpus(res.cpus), "memory": format_memory(res.memory)}, "reservations": reservations},
        "update_config": {"parallelism": 1, "delay": settings["update_delay"], "order": order, "failure_action": "rollback", "monitor": "30s"},
        "rollback_config": {"parallelism": 1, "order": order},
        "restart_policy": {"condition": "any", "delay": "5s", "window": "120s"},
        "labels": labels,
    }  # type: t.Dict[str, t.Any]
    if svc.mode == "global":
        del deploy["replicas"]  # one task per node the placement allows
    elif svc.stateful and svc.replicas > 1 and not svc.route:
        deploy["placement"]["max_replicas_per_node"] = 1
    registry = str(settings["image_registry"] or "")
    image = settings["image_overrides"].get(name) or svc.image.reference(registry)
    service = {"image": image, "deploy": deploy}  # type: t.Dict[str, t.Any]
    if svc.command:
        service["command"] = list(svc.command)
    if svc.run_as == "user" and svc.puid is not None:
        service["user"] = "%d:%d" % (svc.puid, svc.pgid)
    if env:
        service["environment"] = dict(sorted(env.items()))
    if svc.ports:
        ports = []
        for port in svc.ports:
            mode = port.mode or settings["publish_mode"]
            if settings["endpoint_mode"] == "dnsrr" and mode == "ingress":
                if port.mode:
                    raise CatalogError(["%s: ports publishes %d in ingress mode, which Swarm refuses with endpoint_mode dnsrr; use mode: host"
                                        % (name, port.target)])
                mode = "host"
            entry = {"target": port.target, "protocol": port.protocol, "mode": mode}  # type: t.Dict[str, t.Any]
            if port.published is not None:
                entry["published"] = port.published
            ports.append(entry)
        service["ports"] = ports
    if svc.volumes:
        service["volumes"] = [{"type": "bind", "source": _volume_source(v, name, settings["storage_root"]), "target": v.target, "read_only": v.read_only}
                              for v in svc.volumes]
    if svc.healthcheck:
        hc = svc.healthcheck
        service["healthcheck"] = {"test": list(hc.test), "interval": hc.interval, "timeout": hc.timeout, "retries": hc.retries, "start_period": hc.start_period}
    service["networks"] = list(svc.networks)
    stack = {"version": str(settings["stack_version"]), "services": {name: service},
             "networks": {n: {"external": True, "name": str(settings["network_names"].get(n, n))} for n in svc.networks}}  # type: t.Dict[str, t.Any]
    anchor_image = str(settings["gpu_network_anchor_image"] or "")
    if anchor_image and reservations.get("generic_resources"):
        stack["services"][name + "-netanchor"] = _network_anchor(svc, settings, anchor_image)
    if svc.configs:
        service["configs"] = [{"source": c["source"], "target": c["target"]} for c in svc.configs]
        stack["configs"] = {c["source"]: {"external": True, "name": str(settings["config_names"].get(c["source"], c["source"]))}
                            for c in svc.configs}
    secrets = svc.required_secrets()
    if secrets:
        service["secrets"] = [{"source": s, "target": s} for s in secrets]
        stack["secrets"] = {s: {"external": True, "name": str(settings["secret_names"].get(s, s))} for s in secrets}
    return stack


def authelia_rules(services: t.Iterable[Service], domain: str) -> t.List[t.Dict[str, t.Any]]:
    """Authelia ``access_control.rules`` for the routed services: bypass first, then one rule per
    protected host (restricted to its groups, followed by a deny for everyone else)."""
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
        rule = {"domain": [host], "policy": svc.auth.policy}  # type: t.Dict[str, t.Any]
        if svc.auth.groups:
            rule["subject"] = ["group:%s" % g for g in svc.auth.groups]
            protected.extend([rule, {"domain": [host], "policy": "deny"}])
        else:
            protected.append(rule)
    return bypass + protected
