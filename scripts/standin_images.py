# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the lab's offline stand-in images, one per service of the catalog.

The real images of the catalog (roles/services/files/catalog-seed.yml) cannot be pulled on the build machines,
so each service gets a small image that is clearly NOT the application:

1. mediastack-standin-base:<hash>: Debian 12 from debootstrap (lab/standin/standin.packages), imported with
   `docker import`; <hash> covers the package list and the recipe below (build_base, clean_rootfs,
   prune_docs, BASE_REMOVE, IMPORT_CHANGES), so the base is rebuilt only when they change (a few minutes).
2. mediastack-standin/<service>:<hash> per catalog service: `docker build` FROM the base with COPY only (no
   network). Everything is derived from the catalog entry (derive()): the kind (the image repository's last
   segment: redis, postgres, anything else a stub), the ports, the healthcheck's helper commands and the stub's
   health URL. <hash> covers the generated Dockerfile and every file it copies.
3. --registry REG also tags REG/<catalog repository without its registry host>:<catalog tag> (the reference the
   platform renders with image_registry: REG); --push REG tags and pushes. The base is also tagged (pushed)
   as REG/mediastack/standin-base:lab (the lab's GPU network anchor).

A second run builds nothing. Timings and sizes go to stderr.

    python scripts/standin_images.py [--registry REG | --push REG] [--print] [SERVICE...]

env: STANDIN_CATALOG (roles/services/files/catalog-seed.yml), STANDIN_SUITE (bookworm), STANDIN_MIRROR
(http://deb.debian.org/debian), STANDIN_BASE_REPO (mediastack-standin-base), STANDIN_IMAGE_REPO (mediastack-standin).
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STANDIN_DIR = ROOT / "lab" / "standin"
BIN_DIR = STANDIN_DIR / "bin"
PACKAGES = STANDIN_DIR / "standin.packages"
DEFAULT_CATALOG = ROOT / "roles" / "services" / "files" / "catalog-seed.yml"
PREFIX = "standin_images: "

# What each kind runs: the files of lab/standin/bin/ it copies to /usr/local/bin, its entrypoint and CMD, the
# port its server always listens on, and the Dockerfile lines that follow the common ones.
KINDS: dict[str, dict] = {
    "stub": {"files": ("standin-app", "standin-healthcheck"), "entrypoint": "standin-app", "cmd": [],
             "ports": (), "extra": ()},
    "redis": {"files": ("standin-redis",), "entrypoint": "standin-redis", "cmd": ["redis-server"],
              "ports": (6379,), "extra": ("WORKDIR /data", "VOLUME /data")},
    "postgres": {"files": ("standin-postgres",), "entrypoint": "standin-postgres", "cmd": ["postgres"],
                 "ports": (5432,),
                 "extra": ('ENV PATH="/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" '
                           'PGDATA="/var/lib/postgresql/data"',
                           "VOLUME /var/lib/postgresql/data", "STOPSIGNAL SIGINT")},
}

# The commands a catalog healthcheck may run without a helper file in lab/standin/bin/, and the Debian package of
# the base image that provides each (standin.packages, or Essential in a minbase debootstrap). All are on PATH in
# /usr/bin (Debian 12 is merged-/usr), so /bin/<command> and /usr/bin/<command> are accepted too.
BASE_COMMANDS: dict[str, str] = {
    "bash": "bash",
    "cat": "coreutils",
    "curl": "curl",
    "ip": "iproute2",
    "pg_isready": "postgresql-client-15",
    "pgrep": "procps",
    "ps": "procps",
    "psql": "postgresql-client-15",
    "python": "python-is-python3",
    "python3": "python3",
    "redis-cli": "redis-tools",
    "sh": "dash",
    "test": "coreutils",
    "true": "coreutils",
    "wget": "wget",
}
ESSENTIAL_PACKAGES = frozenset({"bash", "coreutils", "dash"})

HEALTH_URL = re.compile(r"http://(?:localhost|127\.0\.0\.1)(?::(?P<port>[0-9]+))?(?P<path>/[^\s'\"?#]*)?")
HEALTH_PATH_LINE = re.compile(r"^#\s*standin-health-path:\s*(?P<path>/\S*)\s*$", re.M)
FLOATING_TAGS = frozenset({"latest", "stable", "edge", "nightly", "main", "master"})

# The base image's recipe: what debootstrap leaves that no stand-in needs. Part of the base's hash.
BASE_REMOVE = (
    # Debian's postgresql-15 creates a "main" cluster; the stand-in's entrypoint makes its own in PGDATA.
    "var/lib/postgresql/15", "etc/postgresql/15",
    # PostgreSQL's JIT provider (LLVM and its Z3, over 130 MB, used by nothing else here) is optional: without
    # llvmjit.so the server runs with JIT unavailable, which changes nothing a stand-in is used for.
    "usr/lib/postgresql/15/lib/llvmjit*", "usr/lib/postgresql/15/lib/bitcode",
    "usr/lib/*-linux-gnu/libLLVM-*.so*", "usr/lib/*-linux-gnu/libz3.so*",
    # Manuals and translations (documentation is pruned by prune_docs, which keeps the copyright files).
    "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
    # apt works in derived images after `apt-get update`; no caches or lists in the image.
    "var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*",
    "var/log/*.log", "var/log/apt/*",
)
BASE_DIRS = ("docker-entrypoint-initdb.d", "data")
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
    "LABEL mediastack.standin=true mediastack.standin.kind=base",
    'LABEL org.opencontainers.image.description="mediastack lab stand-in base (Debian {suite}; not any real application)"',
)
IMPORT_MESSAGE = "mediastack lab stand-in base ({suite}; not any real application)"


class StandinError(Exception):
    """The catalog cannot be turned into stand-ins; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    """Where things are and what they are called (the environment's STANDIN_* variables)."""

    catalog: Path = DEFAULT_CATALOG
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    base_repo: str = "mediastack-standin-base"
    image_repo: str = "mediastack-standin"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(catalog=Path(environ.get("STANDIN_CATALOG") or DEFAULT_CATALOG),
                   suite=environ.get("STANDIN_SUITE") or cls.suite,
                   mirror=environ.get("STANDIN_MIRROR") or cls.mirror,
                   base_repo=environ.get("STANDIN_BASE_REPO") or cls.base_repo,
                   image_repo=environ.get("STANDIN_IMAGE_REPO") or cls.image_repo)


@dataclass(frozen=True)
class ImageRef:
    """A catalog image as mediastack.core's catalog reads ``image``/``version``/``digest``."""

    repository: str
    tag: str
    digest: str | None = None

    @property
    def reference(self) -> str:
        return "%s:%s" % (self.repository, self.tag) + ("@%s" % self.digest if self.digest else "")


@dataclass(frozen=True)
class Helper:
    """A command the catalog's healthcheck runs: a file of lab/standin/bin/ installed at ``target``, or the base's."""

    command: str
    source: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Standin:
    """What one catalog service's stand-in is, derived from its catalog entry."""

    service: str
    kind: str
    image: ImageRef
    ports: tuple[int, ...]
    helpers: tuple[Helper, ...] = ()
    health_url: str | None = None
    health_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Build:
    """One stand-in image: its Dockerfile and build context, its local tag and its registry reference."""

    standin: Standin
    dockerfile: str
    files: Mapping[str, bytes] = field(repr=False)
    local: str
    remote: str


# --- reading ---------------------------------------------------------------------------------------------------------

def load_catalog(path: Path) -> dict[str, dict]:
    """The catalog file as a mapping of service name to entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise StandinError("cannot read the catalog %s: %s" % (path, exc)) from exc
    if not isinstance(data, dict) or not all(isinstance(entry, dict) for entry in data.values()):
        raise StandinError("%s: expected a mapping of service name to description" % path)
    return data


def read_bin(bin_dir: Path = BIN_DIR) -> dict[str, bytes]:
    """Every file under lab/standin/bin/, by its path relative to it ("traefik", "app/healthcheck.sh")."""
    return {path.relative_to(bin_dir).as_posix(): path.read_bytes()
            for path in sorted(bin_dir.rglob("*")) if path.is_file()}


# --- the plan: pure functions of the catalog and the files of lab/standin/bin/ ----------------------------------------

def image_ref(name: str, raw: Mapping) -> ImageRef:
    """The catalog's image of ``name``; refuses one without a pinned tag."""
    value, digest = str(raw.get("image") or ""), raw.get("digest")
    if "@" in value:
        value, _sep, inline = value.partition("@")
        digest = digest or inline
    repo, tag = value, raw.get("version")
    if ":" in value.rsplit("/", 1)[-1]:
        repo, _sep, tag = value.rpartition(":")
    if not repo or tag is None or str(tag) == "" or str(tag).lower() in FLOATING_TAGS:
        raise StandinError("%s: the catalog's image %r has no pinned tag; pin a version (image: repo:1.2.3 or "
                           "version: 1.2.3)" % (name, raw.get("image")))
    return ImageRef(repo, str(tag), str(digest) if digest else None)


def registry_path(repo: str) -> str:
    """The repository without its registry host, as the platform's image_registry setting replaces it."""
    first = repo.split("/", 1)
    if len(first) == 2 and ("." in first[0] or ":" in first[0] or first[0] == "localhost"):
        return first[1]
    return repo


def standin_kind(repository: str) -> str:
    """redis and postgres by the repository's last path segment; anything else is an HTTP stub."""
    last = repository.rsplit("/", 1)[-1]
    return last if last in ("redis", "postgres") else "stub"


def catalog_ports(raw: Mapping) -> tuple[int, ...]:
    """The catalog's TCP port targets, route port, forward_auth port and metrics port, sorted and unique."""
    out = {int(port["target"]) for port in raw.get("ports") or []
           if isinstance(port, dict) and str(port.get("protocol", "tcp")) == "tcp"}
    out.update(int(port) for port in raw.get("ports") or [] if isinstance(port, int) and not isinstance(port, bool))
    for key in ("route", "forward_auth", "metrics"):
        section = raw.get(key)
        if isinstance(section, dict) and section.get("port") is not None:
            out.add(int(section["port"]))
    return tuple(sorted(out))


def health_test(raw: Mapping) -> list[str]:
    """The healthcheck's test as Docker's list form ([CMD, ...] or [CMD-SHELL, "..."]); [] without one."""
    test = (raw.get("healthcheck") or {}).get("test") or []
    if isinstance(test, str):
        return ["CMD-SHELL", test] if test.strip() else []
    test = [str(item) for item in test]
    return test if len(test) > 1 and test[0] in ("CMD", "CMD-SHELL") else []


def health_command(test: Sequence[str]) -> str | None:
    """The command a healthcheck test runs: [CMD, cmd, ...] -> cmd; [CMD-SHELL, "cmd ..."] -> its first word."""
    if not test:
        return None
    if test[0] == "CMD":
        return test[1]
    words = test[1].split()
    return words[0] if words else None


def helper_for(service: str, command: str, bin_files: Mapping[str, bytes]) -> Helper:
    """Where the healthcheck's command comes from: a file of lab/standin/bin/, or the base image's packages."""
    absolute = command.startswith("/")
    source = posixpath.normpath(command).lstrip("/")
    if not absolute and "/" in command:
        raise StandinError("%s: the healthcheck runs %r, a relative path; write a bare command or an absolute path"
                           % (service, command))
    if source in bin_files:
        return Helper(command, source, "/" + source if absolute else "/usr/local/bin/" + source)
    bare = posixpath.basename(command) if posixpath.dirname(command) in ("/bin", "/usr/bin") else command
    if bare in BASE_COMMANDS:
        return Helper(command)
    raise StandinError(
        "%s: the healthcheck runs %r, which neither lab/standin/bin/%s nor the stand-in base provides (the base has %s); "
        "add a stand-in script as lab/standin/bin/%s, or add the Debian package that installs it to "
        "lab/standin/standin.packages and the command to BASE_COMMANDS in scripts/standin_images.py"
        % (service, command, source, ", ".join(sorted(BASE_COMMANDS)), source))


def declared_health_path(text: bytes) -> str | None:
    """The path a helper file declares in a line ``# standin-health-path: /ping``."""
    match = HEALTH_PATH_LINE.search(text.decode("utf-8", errors="replace"))
    return match.group("path") if match else None


def stub_health(service: str, raw: Mapping, test: Sequence[str], helper: Helper | None,
                ports: Sequence[int], bin_files: Mapping[str, bytes]) -> tuple[int, str] | None:
    """The (port, path) a stub's healthcheck queries: the test's localhost URL, else the helper's declared path
    on the route port (else the first port); None without a healthcheck."""
    if not test:
        return None
    match = HEALTH_URL.search(" ".join(test[1:]))
    if match:
        return int(match.group("port") or 80), match.group("path") or "/"
    if helper is None or helper.source is None:
        raise StandinError("%s: the healthcheck %s names no http://localhost:PORT/PATH URL, so the stub does not know "
                           "which path to answer; put that URL in the healthcheck's arguments, or run a helper of "
                           "lab/standin/bin/ with a line '# standin-health-path: /path'" % (service, test))
    path = declared_health_path(bin_files[helper.source])
    if path is None:
        raise StandinError("%s: the healthcheck %s names no http://localhost:PORT/PATH URL and lab/standin/bin/%s "
                           "declares no path; add a line '# standin-health-path: /path' to it"
                           % (service, test, helper.source))
    route = raw.get("route")
    port = int(route["port"]) if isinstance(route, dict) and route.get("port") is not None else ports[0]
    return port, path


def derive(service: str, raw: Mapping, bin_files: Mapping[str, bytes]) -> Standin:
    """The stand-in of one catalog entry: kind, ports, healthcheck helpers and (stubs) health URL and paths."""
    image = image_ref(service, raw)
    kind = standin_kind(image.repository)
    ports = set(catalog_ports(raw)) | set(KINDS[kind]["ports"])
    test = health_test(raw)
    command = health_command(test)
    helper = helper_for(service, command, bin_files) if command else None
    health_url, paths = None, []
    if kind == "stub":
        url = HEALTH_URL.search(" ".join(test[1:])) if test else None
        if not ports and url:  # an internal service (no route, no published port): the port its healthcheck asks
            ports.add(int(url.group("port") or 80))
        if not ports:
            raise StandinError("%s: the stand-in would serve no port; give the catalog entry ports, a route or metrics"
                               % service)
        health = stub_health(service, raw, test, helper, sorted(ports), bin_files)
        if health:
            ports.add(health[0])
            health_url = "http://127.0.0.1:%d%s" % health
            paths.append(health[1])
        forward_auth = raw.get("forward_auth")
        if isinstance(forward_auth, dict) and str(forward_auth.get("path") or "").startswith("/"):
            paths.append(str(forward_auth["path"]))
    return Standin(service=service, kind=kind, image=image, ports=tuple(sorted(ports)),
                   helpers=(helper,) if helper else (), health_url=health_url, health_paths=tuple(sorted(set(paths))))


def plan(catalog: Mapping[str, Mapping], bin_files: Mapping[str, bytes], only: Sequence[str] = (),
         catalog_name: str = "the catalog") -> list[Standin]:
    """The stand-ins of ``only`` in its order (default: every catalog service in catalog order); every problem at once."""
    problems = ["%s: not a service of %s" % (name, catalog_name) for name in only if name not in catalog]
    out = []
    for name in dict.fromkeys(only or catalog):
        if name not in catalog:
            continue
        try:
            out.append(derive(name, catalog[name], bin_files))
        except StandinError as exc:
            problems.append(str(exc))
    if problems:
        raise StandinError("\n".join(problems))
    return out


def context_files(standin: Standin, bin_files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files of a stand-in's build context besides its Dockerfile: the kind's and the helpers'."""
    names = list(KINDS[standin.kind]["files"]) + [h.source for h in standin.helpers if h.source]
    missing = [name for name in names if name not in bin_files]
    if missing:
        raise StandinError("%s: lab/standin/bin/ lacks %s" % (standin.service, ", ".join(missing)))
    return {name: bin_files[name] for name in sorted(set(names))}


def dockerfile(standin: Standin, base_ref: str, image_repo: str) -> str:
    """The stand-in's Dockerfile: FROM the base, COPY only, its ENV, labels, ports and entrypoint."""
    kind, ref = KINDS[standin.kind], standin.image.reference
    copies = ["COPY %s /usr/local/bin/" % " ".join(kind["files"])]
    copies += ["COPY %s %s" % (h.source, h.target) for h in standin.helpers if h.source]
    env = {"STANDIN_SERVICE": standin.service, "STANDIN_KIND": standin.kind, "STANDIN_OF": ref,
           "STANDIN_PORTS": ",".join(str(port) for port in standin.ports)}
    if standin.health_url:
        env["STANDIN_HEALTH_URL"] = standin.health_url
    if standin.health_paths:
        env["STANDIN_HEALTH_PATHS"] = ",".join(standin.health_paths)
    description = "mediastack lab stand-in for %s (not the real application)" % ref
    labels = {"mediastack.standin": "true", "mediastack.standin.kind": standin.kind, "mediastack.standin.of": ref,
              "mediastack.standin.service": standin.service, "org.opencontainers.image.description": description,
              "org.opencontainers.image.title": "%s/%s" % (image_repo, standin.service)}
    lines = [
        "# %s. Generated by scripts/standin_images.py from its catalog entry." % description,
        "FROM %s" % base_ref,
        *copies,
        "ENV " + " ".join("%s=%s" % (key, json.dumps(value)) for key, value in env.items()),
        "LABEL " + " ".join("%s=%s" % (key, json.dumps(value)) for key, value in labels.items()),
    ]
    if standin.ports:
        lines.append("EXPOSE " + " ".join("%d/tcp" % port for port in standin.ports))
    lines += [*kind["extra"],
              "ENTRYPOINT %s" % json.dumps(["/usr/bin/tini", "--", "/usr/local/bin/" + kind["entrypoint"]]),
              "CMD %s" % json.dumps(kind["cmd"])]
    return "\n".join(lines) + "\n"


def content_tag(dockerfile_text: str, files: Mapping[str, bytes]) -> str:
    """12 hex digits of the sha256 of the Dockerfile and every file it copies."""
    digest = hashlib.sha256(dockerfile_text.encode())
    for name in sorted(files):
        digest.update(b"\0" + name.encode() + b"\0" + files[name])
    return digest.hexdigest()[:12]


def remote_ref(image: ImageRef, registry: str) -> str:
    """The catalog's repo:tag through ``registry`` (no host without one); a digest is not kept."""
    ref = "%s:%s" % (registry_path(image.repository), image.tag)
    return "%s/%s" % (registry, ref) if registry else ref


def builds(standins: Iterable[Standin], bin_files: Mapping[str, bytes], base_ref: str, image_repo: str,
           registry: str = "") -> list[Build]:
    """The image of every stand-in: Dockerfile, context files, local tag and registry reference."""
    out = []
    for standin in standins:
        text = dockerfile(standin, base_ref, image_repo)
        files = context_files(standin, bin_files)
        out.append(Build(standin=standin, dockerfile=text, files=files,
                         local="%s/%s:%s" % (image_repo, standin.service, content_tag(text, files)),
                         remote=remote_ref(standin.image, registry)))
    return out


def recipe_text() -> str:
    """The base image's recipe as text: the functions and the data that make it. Part of the base's hash."""
    parts = [inspect.getsource(function) for function in (build_base, clean_rootfs, prune_docs)]
    parts.append(json.dumps([BASE_REMOVE, BASE_DIRS, IMPORT_CHANGES, IMPORT_MESSAGE]))
    return "\n".join(parts)


def base_tag(packages_text: str, recipe: str, suite: str, mirror: str) -> str:
    """12 hex digits of the sha256 of the package list, the recipe, the suite and the mirror."""
    digest = hashlib.sha256()
    for part in (packages_text, recipe, "%s %s" % (suite, mirror)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def package_list(packages_text: str) -> list[str]:
    """The packages of standin.packages: one a line, comments and blank lines left out."""
    return [line.strip() for line in packages_text.splitlines() if line.strip() and not line.strip().startswith("#")]


# --- the base image (needs root, debootstrap and docker) -------------------------------------------------------------

def clean_rootfs(rootfs: Path) -> None:
    """Remove what no stand-in needs (BASE_REMOVE, documentation), add the apt setting and BASE_DIRS."""
    for pattern in BASE_REMOVE:
        for path in sorted(rootfs.glob(pattern)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    prune_docs(rootfs / "usr" / "share" / "doc")
    (rootfs / "etc" / "apt" / "apt.conf.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "apt" / "apt.conf.d" / "90-no-recommends").write_text('APT::Install-Recommends "false";\n',
                                                                            encoding="utf-8")
    for name in BASE_DIRS:
        (rootfs / name).mkdir(parents=True, exist_ok=True)


def prune_docs(doc: Path) -> None:
    """Documentation goes, the copyright files stay; directories left empty go too."""
    if not doc.is_dir():
        return
    for top, dirs, files in os.walk(doc, topdown=False):
        for name in files + [d for d in dirs if (Path(top) / d).is_symlink()]:
            if name != "copyright":
                (Path(top) / name).unlink()
        if Path(top) != doc and not any(Path(top).iterdir()):
            Path(top).rmdir()


def build_base(rootfs: Path, ref: str, packages: Sequence[str], settings: Settings) -> None:
    """debootstrap minbase with the packages, clean_rootfs, then `docker import` as ``ref``."""
    log = rootfs.with_suffix(".log")
    with log.open("w", encoding="utf-8") as handle:
        proc = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(packages), settings.suite,
                               str(rootfs), settings.mirror], stdout=handle, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        sys.stderr.write("".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-40:]))
        raise StandinError("debootstrap failed (full log above, last 40 lines)")
    clean_rootfs(rootfs)
    changes = [arg for change in IMPORT_CHANGES for arg in ("-c", change.format(suite=settings.suite))]
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar, \
            subprocess.Popen(["docker", "import", *changes, "-m", IMPORT_MESSAGE.format(suite=settings.suite), "-", ref],
                             stdin=tar.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as imported:
        tar.stdout.close()  # docker import holds the only reader: tar gets SIGPIPE if it stops early
        out, err = imported.communicate()
        tar.wait()
    sys.stderr.write(out + err)
    if tar.returncode != 0 or imported.returncode != 0:
        raise StandinError("importing the base %s failed (tar rc %s, docker import rc %s)"
                           % (ref, tar.returncode, imported.returncode))


# --- docker ----------------------------------------------------------------------------------------------------------

def docker(*args: str) -> subprocess.CompletedProcess[str]:
    """`docker ARGS`, its output captured."""
    return subprocess.run(["docker", *args], text=True, capture_output=True, check=False)


def image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref).returncode == 0


def image_size_mb(ref: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip() or 0) // 1000000


def since(start: float) -> str:
    return "%.1f s" % (time.monotonic() - start)


def ensure_base(ref: str, settings: Settings, work: Path) -> None:
    """Build the base unless an image of that content hash exists."""
    if image_exists(ref):
        sys.stderr.write("base %s is up to date\n" % ref)
        return
    if shutil.which("debootstrap") is None:
        raise StandinError("debootstrap is missing (apt-get install debootstrap)")
    sys.stderr.write("building %s with debootstrap (%s, %s)\n" % (ref, settings.suite, settings.mirror))
    start = time.monotonic()
    build_base(work / "rootfs", ref, package_list(PACKAGES.read_text(encoding="utf-8")), settings)
    shutil.rmtree(work / "rootfs", ignore_errors=True)
    sys.stderr.write("built %s in %s\n" % (ref, since(start)))


def write_context(build: Build, directory: Path) -> None:
    """The build context: the Dockerfile and the copied files (mode 0755)."""
    directory.mkdir(parents=True)
    (directory / "Dockerfile").write_text(build.dockerfile, encoding="utf-8")
    for name, data in build.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755)


def build_image(build: Build, work: Path) -> str:
    """Build the stand-in unless its tag exists; how long it took, or "cached"."""
    if image_exists(build.local):
        return "cached"
    context = work / build.standin.service
    write_context(build, context)
    start = time.monotonic()
    proc = docker("build", "--quiet", "--tag", build.local, str(context))
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise StandinError("building %s (%s) failed" % (build.local, build.standin.service))
    took = since(start)
    sys.stderr.write("built %s (stand-in for %s) in %s\n" % (build.local, build.standin.image.reference, took))
    return took


def tag_and_push(local: str, remote: str, push: bool) -> None:
    if docker("tag", local, remote).returncode != 0:
        raise StandinError("docker tag %s %s failed" % (local, remote))
    if push:
        start = time.monotonic()
        proc = docker("push", "--quiet", remote)
        sys.stderr.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise StandinError("docker push %s failed" % remote)
        sys.stderr.write("pushed %s in %s\n" % (remote, since(start)))


def build_all(plans: Sequence[Build], base_ref: str, settings: Settings, registry: str, push: bool) -> None:
    """The base, every stand-in, the registry tags (and pushes); a size table on stderr."""
    if docker("info").returncode != 0:
        raise StandinError("docker is not reachable (start dockerd first)")
    total = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="mediastack-standin.", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    try:
        ensure_base(base_ref, settings, work)
        report = []
        for build in plans:
            took = build_image(build, work)
            if registry:
                tag_and_push(build.local, build.remote, push)
            report.append("%-15s %-48s %6d MB  %s" % (build.standin.service, build.local, image_size_mb(build.local), took))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The base itself (no entrypoint) serves the catalog's GPU network anchor in the lab
    # (gpu_network_anchor_image: <registry>/mediastack/standin-base:lab, inventories/lab/group_vars).
    if registry:
        tag_and_push(base_ref, "%s/mediastack/standin-base:lab" % registry, push)
    sys.stderr.write("%-15s %-48s %6d MB\n" % ("base", base_ref, image_size_mb(base_ref)))
    sys.stderr.write("".join(line + "\n" for line in report))
    sys.stderr.write("stand-in images ready in %s (each service image is the base plus a few kB)\n" % since(total))


# --- the command line ------------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/standin_images.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--registry", metavar="REG", help="also tag REG/<catalog repository>:<catalog tag>")
    where.add_argument("--push", metavar="REG", help="tag as --registry does and push")
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help='print "service<TAB>local tag<TAB>registry reference" per service and build nothing')
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="only these services (default: every one)")
    args = parser.parse_args(argv)
    registry = args.push if args.push is not None else args.registry
    if registry is not None and not registry.strip("/"):
        parser.error("--registry/--push needs a registry (e.g. 127.0.0.1:5000)")
    args.registry = (registry or "").rstrip("/")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env(os.environ)
    try:
        bin_files = read_bin()
        standins = plan(load_catalog(settings.catalog), bin_files, args.services, str(settings.catalog))
        base_ref = "%s:%s" % (settings.base_repo, base_tag(PACKAGES.read_text(encoding="utf-8"), recipe_text(),
                                                           settings.suite, settings.mirror))
        plans = builds(standins, bin_files, base_ref, settings.image_repo, args.registry)
        for build in plans:
            if build.standin.image.digest:
                sys.stderr.write("%s: the catalog pins %s; a stand-in cannot match that digest, so point the lab at it "
                                 "with image_overrides instead of image_registry\n"
                                 % (build.standin.service, build.standin.image.digest))
        if args.print_only:
            sys.stdout.write("".join("%s\t%s\t%s\n" % (b.standin.service, b.local, b.remote) for b in plans))
            return 0
        build_all(plans, base_ref, settings, args.registry, args.push is not None)
    except StandinError as exc:
        sys.stderr.write("".join(PREFIX + line + "\n" for line in str(exc).splitlines()))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
