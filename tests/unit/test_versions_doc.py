"""docs/versions.md's table is the catalog's (scripts/versions_doc.py): every service, its pinned image and upstream."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import versions_doc  # noqa: E402  (scripts/versions_doc.py)


def test_the_doc_matches_the_catalog():
    proc = subprocess.run([sys.executable, "scripts/versions_doc.py", "--check"], cwd=ROOT, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_service_names_its_upstream_and_a_pinned_image():
    text = versions_doc.CATALOG.read_text(encoding="utf-8")
    catalog = yaml.safe_load(text)
    info = versions_doc.upstreams(text)
    assert [name for name in catalog if not info.get(name, ("?", ""))[0].startswith("http")] == []
    doc = versions_doc.DOC.read_text(encoding="utf-8")
    for name, entry in catalog.items():
        assert "| %s | `%s` |" % (name, entry["image"]) in doc, name


def test_a_changed_pin_is_seen(tmp_path):
    text = versions_doc.CATALOG.read_text(encoding="utf-8").replace("lscr.io/linuxserver/sonarr:4.0.14", "lscr.io/linuxserver/sonarr:4.0.15")
    assert "sonarr:4.0.15" in versions_doc.table(text) and "sonarr:4.0.15" not in versions_doc.DOC.read_text(encoding="utf-8")
