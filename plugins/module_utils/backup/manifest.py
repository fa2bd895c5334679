# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checksummed file manifests: what a backup recorded, what a restore or a copy holds.

A manifest is a JSON object mapping a file path to the sha256 hex digest of its content. The
backup runner of ``roles/backup`` writes one per backup class (absolute paths) and stores it in
the snapshot; ``backup_verify`` compares restored samples against it and ``manifest_compare``
compares a primary with a copy. Only regular files are listed; symlinks are not followed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

CHUNK = 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(InputError):
    """A manifest is unreadable or malformed, or a path to scan does not exist."""


def sha256_file(path: str, chunk: int = CHUNK) -> str:
    """The sha256 hex digest of a file, read in chunks (hashlib releases the GIL on big updates)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def iter_files(paths: Iterable[str], excludes: Sequence[str] = ()) -> Iterator[str]:
    """Every regular file under ``paths`` (files or directories), sorted, skipping ``excludes``."""
    excluded = [os.path.normpath(item) for item in excludes]

    def skipped(path: str) -> bool:
        return any(path == item or path.startswith(item.rstrip(os.sep) + os.sep) for item in excluded)

    for root in paths:
        root = os.path.normpath(root)
        if not os.path.lexists(root):
            raise ManifestError("%s does not exist" % root)
        if skipped(root):
            continue
        mode = os.lstat(root).st_mode
        if stat.S_ISREG(mode):
            yield root
            continue
        if not stat.S_ISDIR(mode):
            continue
        for current, dirs, files in os.walk(root):
            dirs[:] = sorted(name for name in dirs if not skipped(os.path.join(current, name)))
            for name in sorted(files):
                full = os.path.join(current, name)
                if not skipped(full) and stat.S_ISREG(os.lstat(full).st_mode):
                    yield full


def build_manifest(
    paths: Iterable[str],
    relative_to: Optional[str] = None,
    excludes: Sequence[str] = (),
    workers: Optional[int] = None,
) -> Dict[str, str]:
    """Hash every regular file under ``paths`` with a thread pool.

    Keys are absolute paths, or paths relative to ``relative_to`` when given (used to compare
    two trees that live at different places).
    """
    files = list(iter_files(paths, excludes))
    count = workers or min(8, (os.cpu_count() or 1) + 1)
    if count > 1 and len(files) > 1:
        with ThreadPoolExecutor(max_workers=count) as pool:
            digests = list(pool.map(sha256_file, files))
    else:
        digests = [sha256_file(path) for path in files]
    manifest = {}  # type: Dict[str, str]
    for path, digest in zip(files, digests):
        key = os.path.relpath(path, relative_to) if relative_to else os.path.abspath(path)
        manifest[key] = digest
    return manifest


def validate_manifest(data: Any, source: str = "manifest") -> Dict[str, str]:
    """Check that ``data`` is a ``{path: sha256}`` mapping and return it."""
    if not isinstance(data, dict):
        raise ManifestError("%s is not a JSON object of path -> sha256" % source)
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str) or not _HEX64.match(value):
            raise ManifestError("%s: entry %r is not a path -> lowercase sha256 hex digest" % (source, key))
    return data


def load_manifest(path: str) -> Dict[str, str]:
    """Read and validate a manifest file."""
    try:
        with open(path, "r") as handle:
            data = json.load(handle)
    except (OSError, IOError) as exc:
        raise ManifestError("cannot read manifest %s: %s" % (path, exc))
    except ValueError as exc:
        raise ManifestError("manifest %s is not valid JSON: %s" % (path, exc))
    return validate_manifest(data, path)


def write_manifest(manifest: Dict[str, str], path: str) -> None:
    """Write a manifest atomically (sorted keys, so equal content gives equal bytes)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(manifest, handle, indent=0, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def compare_manifests(primary: Dict[str, str], copy: Dict[str, str], limit: int = 50) -> Dict[str, Any]:
    """Compare two manifests: missing from the copy, extra in the copy, content mismatches.

    The lists are cut to ``limit`` entries; the counts are always complete.
    """
    missing = sorted(set(primary) - set(copy))
    extra = sorted(set(copy) - set(primary))
    mismatched = sorted(key for key in set(primary) & set(copy) if primary[key] != copy[key])
    matched = len(set(primary) & set(copy)) - len(mismatched)
    return {
        "ok": not (missing or extra or mismatched),
        "primary_files": len(primary),
        "copy_files": len(copy),
        "matched": matched,
        "missing_count": len(missing),
        "extra_count": len(extra),
        "mismatched_count": len(mismatched),
        "missing": missing[:limit],
        "extra": extra[:limit],
        "mismatched": mismatched[:limit],
    }


def rebase(manifest: Dict[str, str], old_root: str, new_root: str = "") -> Dict[str, str]:
    """Re-key a manifest whose paths start with ``old_root`` (e.g. absolute → relative)."""
    old = old_root.rstrip("/") + "/"
    result = {}  # type: Dict[str, str]
    for key, value in manifest.items():
        if key.startswith(old):
            result[os.path.join(new_root, key[len(old):]) if new_root else key[len(old):]] = value
    return result


def sorted_sample(manifest: Dict[str, str], count: int, rng: Any) -> List[str]:
    """``count`` paths from the manifest chosen by ``rng`` (a ``random.Random``), sorted."""
    keys = sorted(manifest)
    if count >= len(keys):
        return keys
    return sorted(rng.sample(keys, count))
