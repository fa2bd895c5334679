# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalog's model: one typed description per service, and the constants its checks use.

A description is plain data (YAML in the inventory or ``roles/services/files/catalog-seed.yml``);
``catalog/parse.py`` turns it into a ``Service`` here (or raises ``CatalogError``), ``catalog/validate.py``
checks the services together, and each consumer derives its part from the ``Service`` objects:
``catalog/stack.py`` (the Swarm stack), ``catalog/access.py`` (Authelia's rules), ``catalog/plan.py``
(the deploy plan), ``catalog/backup.py``, ``catalog/metrics.py``, ``edge/``.

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import DEFAULT_KIND
from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

SEGMENTS = ("media", "admin", "data", "dmz")
AUTH_POLICIES = ("bypass", "one_factor", "two_factor")
VOLUME_KINDS = ("config", "data", "cache", "media", "downloads", "library", "host")
# Kinds under the shared library root (<library_root>/downloads and <library_root>/media on ONE filesystem), owned
# by the common role and shared by every service; the others are per service under <storage_root>/<kind>/<service>.
# An *arr app and its download client mount `library` (both trees in one bind mount), so an import hardlinks:
# link(2) across two bind mounts fails with EXDEV even on one filesystem.
LIBRARY_KINDS = ("media", "downloads", "library")
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
MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GROUP_NAME = re.compile(r"^[^\s:]+$")
UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}

SERVICE_KEYS = frozenset((
    "name", "description", "image", "version", "digest", "ports", "volumes", "env", "puid", "pgid", "run_as", "networks",
    "placement", "resources", "healthcheck", "route", "auth", "stateful", "mode", "replicas", "backup_paths", "metrics",
    "dependencies", "gpu", "secrets", "forward_auth", "labels", "command", "enabled", "configs", "quicksync",
))
# Host paths a `host` volume may bind: the container runtime's and the kernel's own interfaces. Anything else (a NAS
# mount, a disk) holds data, which belongs under the platform's storage: the storage root by kind, or the library.
HOST_PATH_PREFIXES = ("/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker/containers", "/dev", "/sys", "/proc",
                      "/etc/localtime", "/etc/timezone", "/lib/modules", "/usr/lib/modules")
# A bypass path: /segment/... ; `*` stands for exactly one path segment (e.g. Prowlarr's /*/api indexer feeds).
BYPASS_PATH = re.compile(r"^(/([A-Za-z0-9._~:@!$&'()+,;=-]+|\*))+/?$")
PLATFORM_DEFAULTS = {
    "domain": "",
    "storage_root": "/srv/mediastack",
    # Root of the shared library (downloads/ and media/ on one filesystem); "" = <storage_root>/library.
    "library_root": "",
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


class CatalogError(InputError):
    """A description or the catalog is invalid; ``problems`` holds one actionable line each."""


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
    # Paths the app's own clients and API use (native TV/phone apps, Subsonic /rest, the *arr apps' /api with the
    # app's key): they cannot pass the portal, so they bypass it and the app's own login or key protects them.
    bypass_paths: t.List[str] = field(default_factory=list)


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
    # Intel QuickSync (/dev/dri): Swarm services cannot take devices, so such a service runs as a node-pinned
    # container on a QuickSync node (roles/quicksync, tasks_from pinned_container), not as a Swarm stack.
    quicksync: bool = False

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


def backup_volume(svc: Service, path: str) -> t.Optional[Volume]:
    """The volume that holds a container path (the deepest target that is the path or a parent of it)."""
    holders = [v for v in svc.volumes if path == v.target or path.startswith(v.target.rstrip("/") + "/")]
    return max(holders, key=lambda v: len(v.target)) if holders else None


def volume_source(vol: Volume, service: str, settings: t.Mapping[str, t.Any]) -> str:
    """The host path a volume binds: per service under the storage root by kind, under the library root for
    the shared kinds (``library`` is the library root itself), or a host volume's own source."""
    if vol.kind == "host":
        return vol.source
    if vol.kind in LIBRARY_KINDS:
        base = library_root(settings)
        if vol.kind != "library":
            base = "%s/%s" % (base, vol.kind)
    else:
        base = "%s/%s/%s" % (settings["storage_root"].rstrip("/"), vol.kind, service)
    return "%s/%s" % (base, vol.source) if vol.source else base


def library_root(settings: t.Mapping[str, t.Any]) -> str:
    """The shared library's root: the platform's ``library_root``, or ``<storage_root>/library``."""
    return (settings.get("library_root") or "%s/library" % settings["storage_root"].rstrip("/")).rstrip("/") or "/"
