"""The shared library layout: an import from downloads into the media library is a hardlink, not a copy.

The catalog's volume kind ``library`` binds the library root (``downloads/`` and ``media/`` on one filesystem)
once; this test renders the bind mounts of made-up *arr entries with the catalog's own stack renderer, makes the
common role's library tree (its defaults, through the ``dir_tree`` filter) in a temporary root, and runs a real
container with exactly those mounts: inside one ``library`` mount ``ln`` makes a second name for the same inode;
across the two bind mounts of a ``downloads`` + ``media`` split the kernel refuses it (EXDEV, "Invalid
cross-device link"), which is why the catalog refuses that split. Needs a reachable Docker engine and the lab
base image (``make lab-image``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.plugins.filter.dir_tree import dir_tree
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack

from .helpers import ROOT, skip_or_fail

COMMON_DEFAULTS = yaml.safe_load((ROOT / "roles" / "common" / "defaults" / "main.yml").read_text(encoding="utf-8"))
ARR = {"image": "lscr.io/linuxserver/sonarr:4.0.14", "networks": ["media"], "placement": {"role": "media"},
       "resources": {"cpus": 1, "memory": "1G"}}


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode:
        skip_or_fail("no reachable Docker engine")
    proc = subprocess.run(["scripts/lab-image.sh"], cwd=ROOT, text=True, capture_output=True, check=False)
    if proc.returncode:
        skip_or_fail("the lab base image cannot be built here: %s" % proc.stderr[-500:])
    return proc.stdout.strip()


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    """The common role's library tree (its default common_library_tree), made below a temporary root."""
    root = tmp_path / "library"
    for entry in dir_tree(COMMON_DEFAULTS["common_library_tree"], str(root)):
        os.makedirs(entry["path"], exist_ok=True)
    return root


def mounts(volumes: list[dict[str, object]], library_root: Path) -> list[str]:
    """The catalog's rendered bind mounts of a made-up sonarr entry, as docker run --mount options."""
    svc = parse_service("sonarr", dict(ARR, volumes=volumes))
    stack = render_stack(svc, {"domain": "example.org", "storage_root": str(library_root.parent), "library_root": str(library_root)})
    out = []
    for vol in stack["services"]["sonarr"]["volumes"]:
        out += ["--mount", "type=bind,src=%s,dst=%s%s" % (vol["source"], vol["target"], ",readonly" if vol["read_only"] else "")]
    return out


def run(image: str, mount_args: list[str], script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "run", "--rm", "--entrypoint", "/bin/sh", *mount_args, image, "-c", script],
                          text=True, capture_output=True, check=False, timeout=120)


def test_library_tree_has_the_layout(library: Path) -> None:
    assert sorted(p.name for p in (library / "downloads").iterdir()) == ["torrents", "usenet"]
    assert sorted(p.name for p in (library / "media").iterdir()) == [
        "audiobooks", "books", "comics", "movies", "music", "photos", "podcasts", "tv"]


def test_import_inside_one_library_mount_is_a_hardlink(image: str, library: Path) -> None:
    proc = run(image, mounts([{"kind": "library", "target": "/data"}], library),
               "set -e; head -c 1048576 /dev/urandom > /data/downloads/torrents/show.s01e01.mkv;"
               " ln /data/downloads/torrents/show.s01e01.mkv /data/media/tv/show.s01e01.mkv;"
               " stat -c %i /data/downloads/torrents/show.s01e01.mkv /data/media/tv/show.s01e01.mkv")
    assert proc.returncode == 0, proc.stderr
    inside = proc.stdout.split()
    assert len(inside) == 2 and inside[0] == inside[1]
    # on the host: one file with two names, so the library costs no second megabyte
    seeded = library / "downloads" / "torrents" / "show.s01e01.mkv"
    imported = library / "media" / "tv" / "show.s01e01.mkv"
    assert seeded.stat().st_ino == imported.stat().st_ino and imported.stat().st_nlink == 2
    assert imported.stat().st_size == 1048576


def test_split_mounts_cannot_hardlink_and_the_catalog_refuses_them(image: str, library: Path) -> None:
    split = [{"kind": "downloads", "target": "/downloads"}, {"kind": "media", "target": "/media"}]
    with pytest.raises(CatalogError) as info:
        parse_service("sonarr", dict(ARR, volumes=split))
    assert any("volumes" in p and "{kind: library, target: /data}" in p for p in info.value.problems)
    # what the refusal prevents, for real: the same directories bound twice are two mounts to the kernel
    args = ["--mount", "type=bind,src=%s,dst=/downloads" % (library / "downloads"),
            "--mount", "type=bind,src=%s,dst=/media" % (library / "media")]
    proc = run(image, args, "set -e; echo x > /downloads/torrents/a.mkv; ln /downloads/torrents/a.mkv /media/tv/a.mkv")
    assert proc.returncode != 0
    assert "cross-device" in proc.stderr.lower()
    assert not (library / "media" / "tv" / "a.mkv").exists()
