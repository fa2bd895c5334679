#!/usr/bin/env bash
# Build the lab's offline stand-in images: the real images of the seed catalog (traefik, authelia,
# redis, postgres, jellyfin, navidrome, audiobookshelf, immich) cannot be pulled on the build
# machines, so each one gets a small image that is clearly NOT the application:
#   1. mediastack-standin-base:<hash>: Debian 12 from debootstrap (lab/standin/standin.packages),
#      imported with `docker import`; <hash> covers the package list and the build_base recipe
#      below, so the base is rebuilt only when they change (a few minutes; nothing else rebuilds it);
#   2. mediastack-standin/<service>:<hash> per service of lab/standin/services.yml: `docker build`
#      FROM the base with COPY only (no network), the entrypoint of its kind (stub, redis, postgres),
#      ENV STANDIN_SERVICE/STANDIN_PORTS and the labels mediastack.standin=true,
#      mediastack.standin.kind, mediastack.standin.of=<catalog image> and a description saying it
#      is a stand-in; <hash> covers the generated Dockerfile and every file it copies;
#   3. --registry REG also tags REG/<catalog repository without its registry host>:<catalog tag>
#      (127.0.0.1:5000/jellyfin/jellyfin:10.10.7, 127.0.0.1:5000/advplyr/audiobookshelf:2.21.0:
#      the reference the platform renders with image_registry: REG); --push REG tags and pushes.
# A second run builds nothing. Timings and sizes go to stderr.
#
# usage: scripts/standin-images.sh [--registry REG | --push REG] [--print] [SERVICE...]
#   --print   print "service<TAB>local tag<TAB>registry reference" per service and build nothing
#             (the registry reference has no host unless --registry/--push names one)
#   SERVICE   only these services (default: every service of the catalog)
# env: PYTHON (default .venv/bin/python where it exists, else python3; PyYAML is used when it
#      imports, else a parser of the YAML subset these files use), STANDIN_CATALOG
#      (roles/services/files/catalog-seed.yml), STANDIN_SUITE (bookworm), STANDIN_MIRROR (http://deb.debian.org/debian),
#      STANDIN_BASE_REPO (mediastack-standin-base), STANDIN_IMAGE_REPO (mediastack-standin).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
standin=$here/lab/standin
catalog=${STANDIN_CATALOG:-$here/roles/services/files/catalog-seed.yml}
suite=${STANDIN_SUITE:-bookworm}
mirror=${STANDIN_MIRROR:-http://deb.debian.org/debian}
base_repo=${STANDIN_BASE_REPO:-mediastack-standin-base}
image_repo=${STANDIN_IMAGE_REPO:-mediastack-standin}
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$here/.venv/bin/python" ]; then PYTHON=$here/.venv/bin/python; else PYTHON=python3; fi
fi

usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

registry='' push=no print=no
services=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --registry|--push)
      if [ "$#" -lt 2 ] || [ -z "$2" ]; then echo "$1 needs a registry (e.g. 127.0.0.1:5000)" >&2; usage; fi
      registry=${2%/}
      [ "$1" = --push ] && push=yes
      shift 2 ;;
    --print) print=yes; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) services+=("$1"); shift ;;
  esac
done

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $(( t / 1000 )); }
seconds_since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01d' $(( ms / 1000 )) $(( ms % 1000 / 100 )); }

# build_base ROOTFS REF: the base image's recipe. Its text is part of the base's hash.
build_base() {
  local rootfs=$1 ref=$2 packages log
  packages=$(grep -vE '^\s*(#|$)' "$standin/standin.packages" | paste -sd, -)
  log=$rootfs.log
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "debootstrap failed (full log above, last 40 lines)" >&2
    return 1
  fi
  # Debian's postgresql-15 creates a "main" cluster; the stand-in's entrypoint makes its own in PGDATA.
  rm -rf "$rootfs/var/lib/postgresql/15" "$rootfs/etc/postgresql/15"
  # PostgreSQL's JIT provider (LLVM and its Z3, over 130 MB, used by nothing else here) is
  # optional: without llvmjit.so the server runs with JIT unavailable (pg_jit_available() = f),
  # which changes nothing a stand-in is used for. dpkg still lists the packages.
  rm -rf "$rootfs"/usr/lib/postgresql/15/lib/llvmjit* "$rootfs"/usr/lib/postgresql/15/lib/bitcode \
         "$rootfs"/usr/lib/*-linux-gnu/libLLVM-*.so* "$rootfs"/usr/lib/*-linux-gnu/libz3.so*
  # Documentation, manuals and translations (the copyright files stay).
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  # apt works in derived images after `apt-get update`; no caches or lists in the image.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/90-no-recommends"
  mkdir -p "$rootfs/docker-entrypoint-initdb.d" "$rootfs/data"
  rm -f "$rootfs"/var/log/*.log "$rootfs/var/log/apt/"*
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' \
    -c 'LABEL mediastack.standin=true mediastack.standin.kind=base' \
    -c "LABEL org.opencontainers.image.description=\"mediastack lab stand-in base (Debian $suite; not any real application)\"" \
    -m "mediastack lab stand-in base ($suite; not any real application)" - "$ref" >&2
}

base_hash=$( { cat "$standin/standin.packages"; declare -f build_base; echo "$suite $mirror"; } | sha256sum | cut -c1-12)
base_ref=$base_repo:$base_hash

work=$(mktemp -d /var/tmp/mediastack-standin.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The plan: one line per service, "service<TAB>local ref<TAB>registry ref<TAB>catalog ref<TAB>context",
# with each build context (Dockerfile and the files it copies) written under $work.
plan=$("$PYTHON" - "$catalog" "$standin/services.yml" "$standin/bin" "$base_ref" "$image_repo" "$registry" "$work" \
  "${services[@]}" <<'PY'
import hashlib
import json
import os
import re
import shutil
import sys

(catalog_path, services_path, bin_dir, base_ref, image_repo, registry, work), only = sys.argv[1:8], sys.argv[8:]
KINDS = {
    "stub": {"files": ["standin-app", "standin-healthcheck"], "entrypoint": "standin-app", "cmd": []},
    "redis": {"files": ["standin-redis"], "entrypoint": "standin-redis", "cmd": ["redis-server"]},
    "postgres": {"files": ["standin-postgres"], "entrypoint": "standin-postgres", "cmd": ["postgres"]},
}
KIND_EXTRA = {
    "stub": [],
    "redis": ["WORKDIR /data", "VOLUME /data"],
    "postgres": ['ENV PATH="/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" '
                 'PGDATA="/var/lib/postgresql/data"',
                 "VOLUME /var/lib/postgresql/data", "STOPSIGNAL SIGINT"],
}

# --- the YAML subset of the catalog and services.yml, for interpreters without PyYAML -------------
SCALARS = [
    (re.compile(r"^(?:~|null|Null|NULL)?$"), lambda s: None),
    (re.compile(r"^(?:true|True|TRUE|yes|Yes|YES|on|On|ON)$"), lambda s: True),
    (re.compile(r"^(?:false|False|FALSE|no|No|NO|off|Off|OFF)$"), lambda s: False),
    (re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), lambda s: int(s.replace("_", ""))),
    (re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+][0-9]+)?$"), lambda s: float(s.replace("_", ""))),
]


def scalar(text):
    text = text.strip()
    for pattern, convert in SCALARS:
        if pattern.match(text):
            return convert(text)
    return text


def quoted(text, pos):
    quote, pos, out = text[pos], pos + 1, []
    while pos < len(text):
        char = text[pos]
        if quote == "'" and char == "'" and text[pos + 1:pos + 2] == "'":
            out.append("'")
            pos += 2
        elif char == quote:
            return "".join(out), pos + 1
        elif quote == '"' and char == "\\":
            out.append(json.loads('"\\%s"' % text[pos + 1]))
            pos += 2
        else:
            out.append(char)
            pos += 1
    raise ValueError("unterminated quoted string in %r" % text)


def flow(text, pos=0, stops=""):
    """One flow node at text[pos:]: [..], {..}, a quoted or a plain scalar; returns (value, end)."""
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if pos < len(text) and text[pos] in "[{":
        closing, items, mapping = ("]" if text[pos] == "[" else "}"), [], text[pos] == "{"
        pos += 1
        while True:
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos >= len(text):
                raise ValueError("unterminated flow collection in %r" % text)
            if text[pos] == closing:
                return (dict(items) if mapping else items), pos + 1
            if mapping:
                key, pos = flow(text, pos, ":,}")
                if text[pos:pos + 1] != ":":
                    raise ValueError("a flow mapping entry needs 'key: value' in %r" % text)
                value, pos = flow(text, pos + 1, ",}")
                items.append((key, value))
            else:
                value, pos = flow(text, pos, ",]")
                items.append(value)
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if text[pos:pos + 1] == ",":
                pos += 1
    if pos < len(text) and text[pos] in "'\"":
        return quoted(text, pos)
    end = pos
    while end < len(text):
        if text[end] in stops and (text[end] != ":" or text[end + 1:end + 2] in (" ", "", ",", "}")):
            break
        end += 1
    return scalar(text[pos:end]), end


def strip_comment(line):
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index].rstrip()
    return line.rstrip()


def mini_load(text):
    lines = []
    for raw in text.splitlines():
        line = strip_comment(raw)
        if line.strip() and line.strip() != "---":
            if line.lstrip().startswith(("|", ">", "&", "*", "!")) or line.rstrip().endswith((": |", ": >")):
                raise ValueError("YAML beyond the supported subset (install PyYAML): %r" % raw)
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))

    def block(pos, indent):
        if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
            seq = []
            while pos < len(lines) and lines[pos][0] == indent and (lines[pos][1].startswith("- ") or lines[pos][1] == "-"):
                item = lines[pos][1][1:].strip()
                if not item:
                    value, pos = block(pos + 1, lines[pos + 1][0])
                elif re.match(r"^[^\[{'\"][^:]*:( |$)", item):
                    lines[pos] = (indent + 2, item)
                    value, pos = block(pos, indent + 2)
                else:
                    value, end = flow(item)
                    if item[end:].strip():
                        raise ValueError("unexpected text after a value: %r" % item)
                    pos += 1
                seq.append(value)
            return seq, pos
        mapping = {}
        while pos < len(lines) and lines[pos][0] == indent:
            match = re.match(r"^([^\[{'\"#][^:]*|'[^']*'|\"[^\"]*\"):(?: (.*))?$", lines[pos][1])
            if not match:
                raise ValueError("expected 'key: value', got %r" % lines[pos][1])
            key, rest = scalar(match.group(1).strip("'\"")), (match.group(2) or "").strip()
            if rest:
                if rest[0] in "[{'\"":
                    value, end = flow(rest)
                    if rest[end:].strip():
                        raise ValueError("unexpected text after a value: %r" % rest)
                else:
                    value = scalar(rest)
                pos += 1
            elif pos + 1 < len(lines) and (lines[pos + 1][0] > indent or (
                    lines[pos + 1][0] == indent and lines[pos + 1][1].startswith("- "))):
                value, pos = block(pos + 1, lines[pos + 1][0])
            else:
                value, pos = None, pos + 1
            mapping[key] = value
        if pos < len(lines) and lines[pos][0] > indent:
            raise ValueError("bad indentation at %r" % lines[pos][1])
        return mapping, pos

    if not lines:
        return None
    value, pos = block(0, lines[0][0])
    if pos != len(lines):
        raise ValueError("unexpected text at %r" % lines[pos][1])
    return value


def load(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        import yaml
    except ImportError:
        return mini_load(text)
    return yaml.safe_load(text)


# --- the plan -------------------------------------------------------------------------------------
def image_ref(raw):
    """(catalog reference, repository, tag, digest) as mediastack.core's catalog reads `image`/`version`."""
    value, digest = str(raw.get("image") or ""), raw.get("digest")
    if "@" in value:
        value, inline = value.split("@", 1)
        digest = digest or inline
    repo, tag = value, raw.get("version")
    if ":" in value.rsplit("/", 1)[-1]:
        repo, tag = value.rsplit(":", 1)
    ref = "%s:%s" % (repo, tag) + ("@%s" % digest if digest else "")
    return ref, repo, None if tag is None else str(tag), digest


def registry_path(repo):
    """The repository without its registry host, as the platform's image_registry setting replaces it."""
    first = repo.split("/", 1)
    if len(first) == 2 and ("." in first[0] or ":" in first[0] or first[0] == "localhost"):
        return first[1]
    return repo


def catalog_ports(raw):
    out = {int(p["target"]) for p in raw.get("ports") or [] if str(p.get("protocol", "tcp")) == "tcp"}
    for field in ("route", "forward_auth", "metrics"):
        if isinstance(raw.get(field), dict) and raw[field].get("port") is not None:
            out.add(int(raw[field]["port"]))
    return out


def health_command(raw):
    test = (raw.get("healthcheck") or {}).get("test") or []
    if isinstance(test, str):
        return test.split()[0] if test.strip() else None
    if test and test[0] == "CMD" and len(test) > 1:
        return str(test[1])
    if test and test[0] == "CMD-SHELL" and len(test) > 1:
        return str(test[1]).split()[0]
    return None


catalog, standins = load(catalog_path), load(services_path)
problems, lines = [], []
if not isinstance(catalog, dict) or not isinstance(standins, dict):
    sys.exit("standin-images: %s and %s must be mappings of services" % (catalog_path, services_path))
names = only or list(catalog)
for name in names:
    if name not in catalog:
        problems.append("%s: not a service of %s" % (name, catalog_path))
for name in catalog:
    if name not in standins:
        problems.append("%s: no stand-in in %s; add one (kind stub, redis or postgres)" % (name, services_path))
for name in standins:
    if name not in catalog:
        problems.append("%s: has a stand-in in %s but is not in %s; remove it" % (name, services_path, catalog_path))
for name in names:
    if name not in catalog or name not in standins:
        continue
    raw, spec = catalog[name], standins[name] or {}
    kind = spec.get("kind")
    if kind not in KINDS:
        problems.append("%s: kind %r is not one of %s" % (name, kind, ", ".join(KINDS)))
        continue
    ref, repo, tag, digest = image_ref(raw)
    if not repo or not tag:
        problems.append("%s: the catalog's image %r has no pinned tag" % (name, raw.get("image")))
        continue
    if digest:
        sys.stderr.write("%s: the catalog pins %s; a stand-in cannot match that digest, so point the lab at it "
                         "with image_overrides instead of image_registry\n" % (name, digest))
    ports = [int(p) for p in spec.get("ports") or []]
    if not ports:
        problems.append("%s: ports is empty; list the ports the stand-in serves" % name)
    if kind == "stub":
        missing = sorted(catalog_ports(raw) - set(ports))
        if missing:
            problems.append("%s: ports lacks %s, which the catalog publishes, routes or scrapes" % (name, missing))
        health = spec.get("health") or {}
        if int(health.get("port") or 0) not in ports or not str(health.get("path") or "").startswith("/"):
            problems.append("%s: health needs {port: one of %s, path: /...}" % (name, ports))
    helpers = spec.get("helpers") or []
    command = health_command(raw)
    if command and command not in [h.get("command") for h in helpers]:
        problems.append("%s: the catalog's healthcheck runs %r, which helpers does not provide" % (name, command))
    context = os.path.join(work, name)
    os.makedirs(context)
    files = list(KINDS[kind]["files"])
    copies = ["COPY %s /usr/local/bin/" % " ".join(files)]
    for helper in helpers:
        source = helper.get("from")
        if not source:
            continue
        if not os.path.isfile(os.path.join(bin_dir, source)):
            problems.append("%s: helper %s comes from bin/%s, which does not exist" % (name, helper.get("command"), source))
            continue
        target = str(helper["command"])
        copies.append("COPY %s %s" % (source, target if target.startswith("/") else "/usr/local/bin/" + target))
        files.append(source)
    for source in files:
        if os.path.isfile(os.path.join(bin_dir, source)):
            shutil.copyfile(os.path.join(bin_dir, source), os.path.join(context, source))
            os.chmod(os.path.join(context, source), 0o755)
        else:
            problems.append("%s: bin/%s is missing" % (name, source))
    env = {"STANDIN_SERVICE": name, "STANDIN_KIND": kind, "STANDIN_OF": ref, "STANDIN_PORTS": ",".join(map(str, ports))}
    if kind == "stub" and spec.get("health"):
        env["STANDIN_HEALTH_URL"] = "http://127.0.0.1:%s%s" % (spec["health"]["port"], spec["health"]["path"])
    description = "mediastack lab stand-in for %s (not the real application)" % ref
    labels = {"mediastack.standin": "true", "mediastack.standin.kind": kind, "mediastack.standin.of": ref,
              "mediastack.standin.service": name, "org.opencontainers.image.description": description,
              "org.opencontainers.image.title": "%s/%s" % (image_repo, name)}
    dockerfile = [
        "# %s. Generated by scripts/standin-images.sh from lab/standin/services.yml." % description,
        "FROM %s" % base_ref,
        *copies,
        "ENV " + " ".join("%s=%s" % (k, json.dumps(v)) for k, v in env.items()),
        "LABEL " + " ".join("%s=%s" % (k, json.dumps(v)) for k, v in labels.items()),
        "EXPOSE " + " ".join("%d/tcp" % p for p in ports),
        *KIND_EXTRA[kind],
        "ENTRYPOINT %s" % json.dumps(["/usr/bin/tini", "--", "/usr/local/bin/" + KINDS[kind]["entrypoint"]]),
        "CMD %s" % json.dumps(KINDS[kind]["cmd"]),
    ]
    text = "\n".join(dockerfile) + "\n"
    with open(os.path.join(context, "Dockerfile"), "w", encoding="utf-8") as handle:
        handle.write(text)
    digest_of = hashlib.sha256(text.encode())
    for source in sorted(set(files)):
        path = os.path.join(context, source)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                digest_of.update(b"\0" + source.encode() + b"\0" + handle.read())
    local = "%s/%s:%s" % (image_repo, name, digest_of.hexdigest()[:12])
    remote = "%s:%s" % (registry_path(repo), tag)
    lines.append("\t".join([name, local, "%s/%s" % (registry, remote) if registry else remote, ref, context]))
if problems:
    sys.stderr.write("".join("standin-images: %s\n" % p for p in problems))
    sys.exit(1)
print("\n".join(lines))
PY
)

if [ "$print" = yes ]; then
  cut -f1-3 <<<"$plan"
  exit 0
fi

if ! docker info >/dev/null 2>&1; then
  echo "docker is not reachable (start dockerd first)" >&2
  exit 1
fi

total_start=$(now_ms)
if docker image inspect "$base_ref" >/dev/null 2>&1; then
  echo "base $base_ref is up to date" >&2
else
  command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  echo "building $base_ref with debootstrap ($suite, $mirror)" >&2
  start=$(now_ms)
  build_base "$work/rootfs" "$base_ref"
  rm -rf "$work/rootfs"
  echo "built $base_ref in $(seconds_since "$start") s" >&2
fi

report=()
while IFS=$'\t' read -r service local remote ref context; do
  if docker image inspect "$local" >/dev/null 2>&1; then
    took=cached
  else
    start=$(now_ms)
    if ! docker build --quiet --tag "$local" "$context" >"$work/build.log" 2>&1; then
      cat "$work/build.log" >&2
      echo "building $local ($service) failed" >&2
      exit 1
    fi
    took="$(seconds_since "$start") s"
    echo "built $local (stand-in for $ref) in $took" >&2
  fi
  if [ -n "$registry" ]; then
    docker tag "$local" "$remote"
    if [ "$push" = yes ]; then
      start=$(now_ms)
      docker push --quiet "$remote" >&2
      echo "pushed $remote in $(seconds_since "$start") s" >&2
    fi
  fi
  size=$(docker image inspect --format '{{.Size}}' "$local")
  report+=("$(printf '%-15s %-48s %6d MB  %s' "$service" "$local" $(( size / 1000000 )) "$took")")
done <<<"$plan"

# The base itself (no entrypoint) serves the catalog's GPU network anchor in the lab
# (gpu_network_anchor_image: <registry>/mediastack/standin-base:lab, inventories/lab/group_vars).
if [ -n "$registry" ]; then
  docker tag "$base_ref" "$registry/mediastack/standin-base:lab"
  if [ "$push" = yes ]; then
    docker push --quiet "$registry/mediastack/standin-base:lab" >&2
  fi
fi

base_size=$(docker image inspect --format '{{.Size}}' "$base_ref")
{
  printf '%-15s %-48s %6d MB\n' base "$base_ref" $(( base_size / 1000000 ))
  printf '%s\n' "${report[@]}"
  echo "stand-in images ready in $(seconds_since "$total_start") s (each service image is the base plus a few kB)"
} >&2
