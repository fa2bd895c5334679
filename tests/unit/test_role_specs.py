"""Every role's argument_specs and defaults name the same public variables, each with a type."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))
ALL_ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def test_every_role_has_argument_specs():
    missing = [r.name for r in ALL_ROLES if not (r / "meta" / "argument_specs.yml").is_file()]
    assert not missing, "roles without meta/argument_specs.yml: %s" % missing


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_specs_and_defaults_match(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    defaults_file = role / "defaults" / "main.yml"
    defaults = (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.exists() else {}
    spec_names: set[str] = set()
    for entry in specs.values():
        for name, opts in (entry.get("options") or {}).items():
            assert "type" in opts, "%s: %s has no explicit type" % (role.name, name)
            assert opts.get("description"), "%s: %s has no description" % (role.name, name)
            spec_names.add(name)
    assert set(defaults) <= spec_names, "%s: defaults not in argument_specs: %s" % (role.name, sorted(set(defaults) - spec_names))
    main_opts = set((specs.get("main", {}).get("options") or {}))
    undocumented = sorted(n for n in main_opts if n not in defaults and not specs["main"]["options"][n].get("required"))
    assert not undocumented, "%s: optional specs without a default: %s" % (role.name, undocumented)
    prefix = role.name + "_"
    bad = sorted(n for n in spec_names if not n.startswith(prefix))
    assert not bad, "%s: public variables must start with %s: %s" % (role.name, prefix, bad)
