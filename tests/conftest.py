"""Make this checkout importable as ``ansible_collections.mediastack.core`` for pytest.

``make setup`` creates the same link; creating it here too lets ``pytest`` run on its own.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".cache" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "mediastack" / "core"
SHARED = ROOT.parent / "shared"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("../../../..", LINK)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder; tests that need it skip with a reason where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's clone has no reference fixtures)")
    return SHARED
