# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the catalog: one description (plain data) into a typed ``Service``, and the platform settings.

``parse_service`` reads every field of one description through a ``Problems`` collector and raises
``CatalogError`` with one line per problem, each naming the service, the field and the fix;
``parse_catalog`` parses them all and keeps the problems of the rest; ``platform_settings`` fills in
and checks the platform settings. The checks across services are in ``catalog/validate.py``.

Pure computation, no Ansible imports beyond module_utils: runs on targets too, so the syntax stays
Python 3.8 compatible.
"""
from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import (
    AUTH_POLICIES, BYPASS_PATH, DIGEST, DOMAIN, HOST_PATH_PREFIXES, ENDPOINT_MODES, ENV_NAME, FLOATING_TAGS, GROUP_NAME, MODES, PLATFORM_DEFAULTS, PROTOCOLS,
    PUBLISH_MODES, REPOSITORY, RUN_AS, SECRET_NAME, SEGMENTS, SERVICE_KEYS, SERVICE_NAME, SUBDOMAIN, TAG, UNITS, VOLUME_KINDS,
    Auth, CatalogError, GpuRequest, Healthcheck, Image, Port, Postgres, Resources, Route, Service, Volume, backup_volume,
    format_cpus, format_memory, parse_memory,
)
from ansible_collections.mediastack.core.plugins.module_utils.catalog.placement import PlacementError, placement_constraints
from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import KIND_PATTERN, PROFILE_ALIASES, PROFILES
from ansible_collections.mediastack.core.plugins.module_utils.problems import Problems, did_you_mean


def _image(check: Problems, raw: t.Dict[str, t.Any]) -> Image:
    value = raw.get("image")
    if not isinstance(value, str) or not value:
        check.bad("image", "is required: the image repository with a pinned version, e.g. jellyfin/jellyfin:10.10.7")
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
            check.bad("version", "is %r but image names tag %r; give the version once" % (tag, inline_tag))
        tag = inline_tag
    if not REPOSITORY.match(repo):
        check.bad("image", "%r is not a valid image repository (lowercase, e.g. ghcr.io/owner/name)" % repo)
    if tag is None or tag == "":
        check.bad("version", "is missing for image %s; pin a version, e.g. image: %s:1.2.3 or version: 1.2.3 (latest is refused)" % (repo, repo))
        tag = "invalid"
    tag = str(tag)
    if tag.lower() in FLOATING_TAGS:
        check.bad("version", "%r is a floating tag for image %s; pin a released version (and optionally a digest)" % (tag, repo))
    elif not TAG.match(tag):
        check.bad("version", "%r is not a valid image tag" % tag)
    if digest is not None and (not isinstance(digest, str) or not DIGEST.match(digest)):
        check.bad("digest", "must be sha256: followed by 64 lowercase hex digits, got %r" % (digest,))
        digest = None
    return Image(repo, tag, digest)


def _ports(check: Problems, raw: t.Any) -> t.List[Port]:
    out = []
    for index, item in enumerate(check.seq(raw, "ports")):
        path = "ports[%d]" % index
        if isinstance(item, int) and not isinstance(item, bool):
            item = {"target": item}
        item = check.mapping(item, path) or {}
        if not item:
            continue
        check.keys(item, path, ("target", "published", "protocol", "mode"))
        target = check.integer(item.get("target"), path + ".target", 1, 65535)
        published = item.get("published")
        if published is not None:
            published = check.integer(published, path + ".published", 1, 65535)
        protocol = check.choice(item.get("protocol", "tcp"), path + ".protocol", PROTOCOLS) or "tcp"
        mode = item.get("mode")
        if mode is not None:
            mode = check.choice(mode, path + ".mode", PUBLISH_MODES)
        if target is not None:
            out.append(Port(target, published, protocol, mode))
    return out


def _volumes(check: Problems, raw: t.Any) -> t.List[Volume]:
    out = []
    for index, item in enumerate(check.seq(raw, "volumes")):
        path = "volumes[%d]" % index
        item = check.mapping(item, path) or {}
        if not item:
            continue
        check.keys(item, path, ("kind", "target", "source", "read_only"))
        kind = check.choice(item.get("kind"), path + ".kind", VOLUME_KINDS)
        target = item.get("target")
        if not isinstance(target, str) or not target.startswith("/"):
            check.bad(path + ".target", "must be an absolute path inside the container, got %r" % (target,))
            continue
        source = item.get("source", "")
        if kind == "host":
            if not isinstance(source, str) or not source.startswith("/") or ".." in source.split("/"):
                check.bad(path + ".source", "must be an absolute host path for kind host (e.g. /var/run/docker.sock), got %r" % (source,))
                continue
            if not any(source == p or source.startswith(p.rstrip("/") + "/") for p in HOST_PATH_PREFIXES):
                check.bad(path + ".source", "host path %s is outside the platform's storage; data lives under the storage root "
                                            "(kinds config, data, cache) or the library (kinds media, downloads, library: e.g. "
                                            "{kind: media, source: movies, target: %s} for a media folder; point common_library_root "
                                            "at the disk that holds it). kind host is for %s"
                          % (source, target, ", ".join(HOST_PATH_PREFIXES)))
                continue
        elif not isinstance(source, str) or source.startswith("/") or ".." in source.split("/"):
            check.bad(path + ".source", "must be a path relative to the %s directory (no leading / or ..), got %r" % (kind, source))
            continue
        read_only = check.boolean(item.get("read_only", False), path + ".read_only")
        if kind:
            out.append(Volume(kind, target, source if kind == "host" else source.strip("/"), read_only))
    # An import from downloads into the library hardlinks only inside one bind mount (link(2) across two mounts
    # fails with EXDEV even on one filesystem, and the app silently copies instead): refuse the split.
    writable = sorted({v.kind for v in out if v.kind in ("downloads", "media") and not v.read_only})
    if writable == ["downloads", "media"]:
        check.bad("volumes", "mounts downloads and media as two writable bind mounts, so an import copies every file instead of "
                             "hardlinking it; mount the library once instead: {kind: library, target: /data} and use /data/downloads "
                             "and /data/media inside the app")
    return out


def _env(check: Problems, raw: t.Any) -> t.Dict[str, str]:
    out = {}
    for key, value in (check.mapping(raw, "env") or {}).items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            check.bad("env.%s" % key, "is not a valid environment variable name")
        elif isinstance(value, (Mapping, list, tuple)) or value is None:
            check.bad("env.%s" % key, "must be a string, number or boolean, got %r" % (value,))
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _resources(check: Problems, raw: t.Any) -> Resources:
    res = check.mapping(raw, "resources") or {}
    if not res:
        check.bad("resources", "is required: give cpus and memory limits, e.g. {cpus: 2, memory: 2G}")
        return Resources(1.0, UNITS["g"])
    check.keys(res, "resources", ("cpus", "memory", "reserve_cpus", "reserve_memory"))
    values = {}  # type: t.Dict[str, t.Any]
    for key in ("cpus", "reserve_cpus"):
        value = res.get(key)
        if value is None and key == "reserve_cpus":
            values[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            check.bad("resources.%s" % key, "must be a positive number of CPUs such as 2 or 0.5, got %r" % (value,))
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
            check.bad("resources.%s" % key, "must be a size such as 8G or 512M, got %r" % (value,))
            values[key] = UNITS["g"]
    out = Resources(values["cpus"], values["memory"], values["reserve_cpus"], values["reserve_memory"])
    if out.reserve_cpus is not None and out.reserve_cpus > out.cpus:
        check.bad("resources.reserve_cpus", "(%s) exceeds the cpus limit (%s)" % (format_cpus(out.reserve_cpus), format_cpus(out.cpus)))
    if out.reserve_memory is not None and out.reserve_memory > out.memory:
        check.bad("resources.reserve_memory", "(%s) exceeds the memory limit (%s)" % (format_memory(out.reserve_memory), format_memory(out.memory)))
    return out


def _healthcheck(check: Problems, raw: t.Any) -> t.Optional[Healthcheck]:
    if raw is None:
        return None
    hc = check.mapping(raw, "healthcheck") or {}
    check.keys(hc, "healthcheck", ("test", "interval", "timeout", "retries", "start_period"))
    test = hc.get("test")
    if isinstance(test, str) and test:
        test = ["CMD-SHELL", test]
    elif not (isinstance(test, list) and test and all(isinstance(i, str) for i in test)):
        check.bad("healthcheck.test", "must be a command string or a list such as [CMD, curl, -f, http://localhost:8096/health]")
        return None
    elif test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        test = ["CMD"] + test
    retries = check.integer(hc.get("retries", 3), "healthcheck.retries", 1, 100) or 3
    return Healthcheck(test, check.duration(hc.get("interval", "30s"), "healthcheck.interval") or "30s",
                       check.duration(hc.get("timeout", "10s"), "healthcheck.timeout") or "30s", retries,
                       check.duration(hc.get("start_period", "30s"), "healthcheck.start_period") or "30s")


def _route(check: Problems, raw: t.Any, networks: t.List[str]) -> t.Optional[Route]:
    if raw is None:
        return None
    route = check.mapping(raw, "route") or {}
    check.keys(route, "route", ("subdomain", "port", "network", "service"))
    sub = route.get("subdomain")
    if not isinstance(sub, str) or not SUBDOMAIN.match(sub):
        check.bad("route.subdomain", "must be one DNS label (lowercase letters, digits, -), got %r" % (sub,))
        sub = ""
    port = check.integer(route.get("port"), "route.port", 1, 65535)
    network = route.get("network", networks[0] if networks else None)
    if network not in networks:
        check.bad("route.network", "%r is not one of the service's networks (%s); Traefik reaches the service on it"
                  % (network, ", ".join(networks) or "none"))
    service = route.get("service", "")
    if not isinstance(service, str):
        check.bad("route.service", "must be a Traefik service name such as api@internal")
        service = ""
    return Route(sub, port or 0, str(network), service)


def _auth(check: Problems, raw: t.Any, routed: bool) -> Auth:
    if raw is None:
        return Auth()
    if isinstance(raw, str):
        raw = {"policy": raw}
    auth = check.mapping(raw, "auth") or {}
    check.keys(auth, "auth", ("policy", "groups", "bypass_paths"))
    policy = check.choice(auth.get("policy", "two_factor"), "auth.policy", AUTH_POLICIES) or "two_factor"
    groups = []
    for group in check.seq(auth.get("groups"), "auth.groups"):
        if not isinstance(group, str) or not GROUP_NAME.match(group):
            check.bad("auth.groups", "entry %r is not a group name (no spaces or colons)" % (group,))
        else:
            groups.append(group)
    if groups and policy == "bypass":
        check.bad("auth.groups", "cannot restrict a bypass policy to groups; use one_factor or two_factor")
    if not routed and "policy" in auth and policy != "two_factor":
        check.bad("auth", "is set but the service has no route; add a route or drop auth")
    bypass_paths = []
    for entry in check.seq(auth.get("bypass_paths"), "auth.bypass_paths"):
        if not isinstance(entry, str) or not BYPASS_PATH.match(entry) or entry == "/":
            check.bad("auth.bypass_paths", "entry %r is not a URL path prefix such as /api or /rest (not /; * stands for one "
                                           "path segment)" % (entry,))
        elif entry not in bypass_paths:
            bypass_paths.append(entry)
    if bypass_paths and (policy == "bypass" or not routed):
        check.bad("auth.bypass_paths", "are only meaningful on a routed service behind the portal (policy one_factor or "
                                       "two_factor); drop them")
    return Auth(policy, groups, bypass_paths)


def _dependencies(check: Problems, raw: t.Any, name: str) -> t.Tuple[t.Optional[Postgres], bool, t.List[str]]:
    deps = check.mapping(raw, "dependencies") or {}
    check.keys(deps, "dependencies", ("postgres", "redis", "services"))
    postgres = None
    if deps.get("postgres") is not None:
        pg = check.mapping(deps["postgres"], "dependencies.postgres") or {}
        check.keys(pg, "dependencies.postgres", ("database", "user", "password_secret"))
        ident = name.replace("-", "_")
        database = pg.get("database", ident)
        user = pg.get("user", ident)
        for key, value in (("database", database), ("user", user)):
            if not isinstance(value, str) or not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
                check.bad("dependencies.postgres.%s" % key, "must be a lowercase SQL identifier, got %r" % (value,))
        secret = pg.get("password_secret", "%s_db_password" % ident)
        if not isinstance(secret, str) or not SECRET_NAME.match(secret):
            check.bad("dependencies.postgres.password_secret", "must be a Docker secret name, got %r" % (secret,))
        postgres = Postgres(str(database), str(user), str(secret))
    redis = check.boolean(deps.get("redis", False), "dependencies.redis")
    others = []
    for dep in check.seq(deps.get("services"), "dependencies.services"):
        if not isinstance(dep, str) or not SERVICE_NAME.match(dep):
            check.bad("dependencies.services", "entry %r is not a service name" % (dep,))
        else:
            others.append(dep)
    return postgres, redis, others


def _gpu(check: Problems, raw: t.Any) -> t.Optional[GpuRequest]:
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {"profiles": ["ml"]}
    gpu = check.mapping(raw, "gpu") or {}
    check.keys(gpu, "gpu", ("profiles", "count"))
    profiles = []
    for profile in check.seq(gpu.get("profiles"), "gpu.profiles"):
        canonical = PROFILE_ALIASES.get(profile, profile)
        if canonical not in PROFILES:
            check.bad("gpu.profiles", "entry %r is not a GPU profile; use %s" % (profile, ", ".join(PROFILES)))
        elif canonical not in profiles:
            profiles.append(canonical)
    if not profiles:
        check.bad("gpu.profiles", "must name at least one of %s" % ", ".join(PROFILES))
    count = check.integer(gpu.get("count", 1), "gpu.count", 1, 16) or 1
    return GpuRequest(profiles, count)


def _metrics(check: Problems, raw: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    if raw is None:
        return None
    metrics = check.mapping(raw, "metrics") or {}
    check.keys(metrics, "metrics", ("port", "path"))
    port = check.integer(metrics.get("port"), "metrics.port", 1, 65535)
    path = metrics.get("path", "/metrics")
    if not isinstance(path, str) or not path.startswith("/"):
        check.bad("metrics.path", "must be an URL path starting with /, got %r" % (path,))
    return {"port": port, "path": path}


def parse_service(name: str, raw: t.Any, platform: t.Optional[t.Mapping[str, t.Any]] = None) -> Service:
    """Validate one description and return the typed ``Service``; ``CatalogError`` lists every problem."""
    settings = platform_settings(platform)
    check = Problems(str(name))
    if not isinstance(name, str) or not SERVICE_NAME.match(name):
        check.bad("name", "must be lowercase letters, digits and - (a Swarm service name), got %r" % (name,))
    if not isinstance(raw, Mapping):
        raise CatalogError(check.lines + ["%s: the description must be a mapping of fields, got %s" % (name, type(raw).__name__)])
    raw = dict(raw)
    check.keys(raw, "", SERVICE_KEYS)
    if "name" in raw and raw["name"] != name:
        check.bad("name", "is %r but the service is listed as %r" % (raw["name"], name))
    image = _image(check, raw)
    networks = []
    for net in check.seq(raw.get("networks"), "networks"):
        if check.choice(net, "networks", SEGMENTS) and net not in networks:
            networks.append(net)
    if not networks:
        check.bad("networks", "must name at least one segment (%s)" % ", ".join(SEGMENTS))
    placement = check.mapping(raw.get("placement"), "placement") or {}
    gpu = _gpu(check, raw.get("gpu"))
    if gpu and placement.get("gpu") is False:
        check.bad("placement.gpu", "is false but the service requests a GPU; drop placement.gpu or the gpu request")
    needs = dict(placement)
    if gpu:
        needs["gpu"] = True
    constraints = []  # type: t.List[str]
    try:
        constraints = placement_constraints(needs)
    except PlacementError as exc:
        check.bad("placement", "%s" % exc)
    route = _route(check, raw.get("route"), networks)
    postgres, redis, others = _dependencies(check, raw.get("dependencies"), str(name))
    secrets = []
    for secret in check.seq(raw.get("secrets"), "secrets"):
        if not isinstance(secret, str) or not SECRET_NAME.match(secret):
            check.bad("secrets", "entry %r is not a Docker secret name" % (secret,))
        else:
            secrets.append(secret)
    puid = check.integer(raw.get("puid", settings["puid"]), "puid", 0, 2 ** 31 - 1)
    pgid = check.integer(raw.get("pgid", settings["pgid"]), "pgid", 0, 2 ** 31 - 1)
    backup = []
    for path in check.seq(raw.get("backup_paths"), "backup_paths"):
        if not isinstance(path, str) or not path.startswith("/"):
            check.bad("backup_paths", "entry %r must be an absolute container path" % (path,))
        else:
            backup.append(path)
    forward_auth = None
    if raw.get("forward_auth") is not None:
        forward_auth = check.mapping(raw["forward_auth"], "forward_auth") or {}
        check.keys(forward_auth, "forward_auth", ("port", "path"))
        check.integer(forward_auth.get("port"), "forward_auth.port", 1, 65535)
        check.string(forward_auth.get("path", "/api/authz/forward-auth"), "forward_auth.path")
    labels = {}
    for key, value in (check.mapping(raw.get("labels"), "labels") or {}).items():
        if isinstance(value, (Mapping, list, tuple)) or value is None:
            check.bad("labels.%s" % key, "must be a string")
        else:
            labels[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    command = raw.get("command")
    if command is not None:
        if isinstance(command, str):
            command = command.split()
        if not (isinstance(command, list) and command and all(isinstance(i, str) for i in command)):
            check.bad("command", "must be a list of arguments")
            command = None
    configs = []
    for index, entry in enumerate(check.seq(raw.get("configs"), "configs")):
        where = "configs[%d]" % index
        entry = check.mapping(entry, where) or {}
        check.keys(entry, where, ("source", "target"))
        source, target = entry.get("source"), entry.get("target")
        if not isinstance(source, str) or not SECRET_NAME.match(source):
            check.bad(where + ".source", "must be a Docker config name such as traefik_static, got %r" % (source,))
        elif not isinstance(target, str) or not target.startswith("/"):
            check.bad(where + ".target", "must be an absolute path in the container, got %r" % (target,))
        else:
            configs.append({"source": source, "target": target})
    stateful = check.boolean(raw.get("stateful", False), "stateful")
    replicas = check.integer(raw.get("replicas", 1), "replicas", 0, 100)
    mode = check.choice(raw.get("mode", "replicated"), "mode", MODES) or "replicated"
    quicksync = check.boolean(raw.get("quicksync", False), "quicksync")
    if quicksync and gpu:
        check.bad("quicksync", "and gpu are both set; a service uses Intel QuickSync or an NVIDIA GPU, not both")
    if quicksync and (mode == "global" or (replicas or 1) > 1):
        check.bad("quicksync", "services run as one container pinned to a QuickSync node; drop mode global and replicas")
    if quicksync and (secrets or postgres or configs):
        check.bad("quicksync", "services run as a plain container pinned to a QuickSync node, which cannot read Docker secrets "
                               "or configs (nor a database password secret); drop secrets, configs and dependencies.postgres")
    if mode == "global" and raw.get("replicas") is not None:
        check.bad("replicas", "is set, but mode global runs one task on every node the placement allows; drop replicas or the mode")
    service = Service(
        name=str(name), image=image, resources=_resources(check, raw.get("resources")), ports=_ports(check, raw.get("ports")),
        volumes=_volumes(check, raw.get("volumes")), env=_env(check, raw.get("env")), puid=puid, pgid=pgid,
        run_as=check.choice(raw.get("run_as", "user"), "run_as", RUN_AS) or "user", networks=networks, placement=needs,
        constraints=constraints, healthcheck=_healthcheck(check, raw.get("healthcheck")), route=route,
        auth=_auth(check, raw.get("auth"), route is not None), stateful=stateful, mode=mode,
        replicas=1 if replicas is None else replicas,
        backup_paths=backup, metrics=_metrics(check, raw.get("metrics")), postgres=postgres, redis=redis, depends_on=others,
        gpu=gpu, secrets=secrets, forward_auth=forward_auth, labels=labels, command=command, configs=configs,
        quicksync=bool(quicksync),
    )
    for path in service.backup_paths:
        volume = backup_volume(service, path)
        if volume is None:
            check.bad("backup_paths", "entry %r is not inside any of the service's volumes (%s); mount a volume there or drop the entry"
                      % (path, ", ".join(v.target for v in service.volumes) or "none"))
        elif volume.kind == "cache":
            check.bad("backup_paths", "entry %r is in the cache volume %s; caches are rebuilt, not backed up: drop the entry"
                      % (path, volume.target))
    check.raise_if_any(CatalogError)
    return service


def platform_settings(platform: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    """The platform settings with defaults; unknown keys and bad values raise ``CatalogError``."""
    if platform is None:
        platform = {}
    if not isinstance(platform, Mapping):
        raise CatalogError(["platform: settings must be a mapping such as {domain: media.example.org, endpoint_mode: vip}"])
    check = Problems()
    for key in sorted(set(platform) - set(PLATFORM_DEFAULTS), key=str):
        fix = did_you_mean(str(key), PLATFORM_DEFAULTS, "use one of " + ", ".join(sorted(PLATFORM_DEFAULTS)))
        check.bad("platform", "unknown setting %r; %s" % (key, fix))
    out = dict(PLATFORM_DEFAULTS)
    out.update({k: v for k, v in platform.items() if k in PLATFORM_DEFAULTS and v is not None})
    if out["endpoint_mode"] not in ENDPOINT_MODES:
        check.bad("platform", "endpoint_mode %r is not one of %s (vip in production, dnsrr where the kernel has no IPVS)"
                  % (out["endpoint_mode"], ", ".join(ENDPOINT_MODES)))
    if out["publish_mode"] not in PUBLISH_MODES:
        check.bad("platform", "publish_mode %r is not one of %s" % (out["publish_mode"], ", ".join(PUBLISH_MODES)))
    if out["domain"] and not DOMAIN.match(str(out["domain"])):
        check.bad("platform", "domain %r is not a DNS name such as media.example.org" % (out["domain"],))
    for key in ("image_overrides", "network_names", "secret_names", "config_names"):
        if not isinstance(out[key], Mapping):
            check.bad("platform", "%s must be a mapping" % key)
    for key in ("secrets", "gpu_nodes"):
        if platform.get(key) is not None and (isinstance(out[key], (str, bytes, Mapping)) or not isinstance(out[key], (list, tuple))):
            check.bad("platform", "%s must be a list of names (or left unset to skip the check)" % key)
    if not isinstance(out["gpu_resource_kind"], str) or not KIND_PATTERN.match(out["gpu_resource_kind"]):
        check.bad("platform", "gpu_resource_kind %r is not a Swarm generic-resource kind (letters, digits, '.', '_', '-'); "
                              "set nvidia_resource_kind to one such as NVIDIA-GPU" % (out["gpu_resource_kind"],))
    ratio = out["reservation_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        check.bad("platform", "reservation_ratio must be a number from 0 to 1, got %r" % (ratio,))
    if not isinstance(out["storage_root"], str) or not out["storage_root"].startswith("/"):
        check.bad("platform", "storage_root must be an absolute path, got %r" % (out["storage_root"],))
    if not isinstance(out["library_root"], str) or (out["library_root"] and not out["library_root"].startswith("/")):
        check.bad("platform", "library_root must be an absolute path (or empty for <storage_root>/library), got %r; "
                              "set common_library_root" % (out["library_root"],))
    check.raise_if_any(CatalogError)
    return out


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
