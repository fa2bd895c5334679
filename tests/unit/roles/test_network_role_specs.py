"""roles/pfsense and roles/host_network: argument specs and defaults name the same variables, each typed and described."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("role", ["pfsense", "host_network"])
def test_specs_and_defaults_name_the_same_variables(role: str) -> None:
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)
    assert all(name.startswith(role + "_") for name in defaults)
    for name, spec in options.items():
        assert spec.get("type"), name
        assert spec.get("description"), name


@pytest.mark.parametrize("role", ["pfsense", "host_network"])
def test_templates_start_with_ansible_managed(role: str) -> None:
    templates = sorted((ROOT / "roles" / role).glob("templates/**/*.j2"))
    for template in templates:
        assert template.read_text().startswith("{{ ansible_managed | comment }}"), template
    assert role == "pfsense" or templates
