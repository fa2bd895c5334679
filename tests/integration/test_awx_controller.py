"""The AWX/Tower/AAP objects (role awx_controller, playbooks/awx_controller.yml), offline: AWX cannot run here.

Every awx.awx task runs against a closed local port: its arguments must pass the module's own validation, so the
only failure allowed is "cannot connect" (an argument error fails the test). The survey's variables must be role
variables typed in an argument spec with a compatible type, and its choices are the catalog's services."""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import yaml

from .helpers import ROOT, json_result, playbook

# What AWX survey question types give a playbook, as argument spec types.
SURVEY_TYPES = {"text": "str", "textarea": "str", "password": "str", "integer": "int", "float": "float",
                "multiplechoice": "str", "multiselect": "list"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def _specs() -> dict[str, dict]:
    out = {}
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec.read_text())["argument_specs"] or {}).values():
            out.update(entry.get("options") or {})
    return out


def test_every_awx_task_passes_its_argument_validation_and_only_fails_to_connect(tmp_path: Path):
    wrapper = tmp_path / "controller.yml"
    # the documented playbook's play, with errors ignored so that every task runs against the closed port
    play = yaml.safe_load((ROOT / "playbooks/awx_controller.yml").read_text())[0]
    wrapper.write_text(yaml.safe_dump([{**play, "ignore_errors": True}]))
    port = _closed_port()
    proc = playbook("-i", "localhost,", str(wrapper), "-e", "awx_controller_scm_url=https://git.example.org/ops/mediastack.git",
                    "-e", "awx_controller_machine_credential=nodes", "-e", "ansible_python_interpreter=%s" % sys.executable,
                    json_output=True, env_extra={"CONTROLLER_HOST": "https://127.0.0.1:%d" % port, "CONTROLLER_USERNAME": "ci",
                                                 "CONTROLLER_PASSWORD": "ci", "CONTROLLER_VERIFY_SSL": "false"})
    doc = json_result(proc)
    results = []
    for task in doc["plays"][0]["tasks"]:
        action = task["task"].get("name", "")
        for result in task["hosts"].values():
            for item in result.get("results", [result]):
                results.append((action, item))
    awx = [(name, r) for name, r in results if "invocation" in r and r.get("failed")]
    assert len(awx) == 9, [(n, r.get("msg")) for n, r in results]  # EE, project, inventory, source, 4 templates, workflow
    for name, result in awx:
        msg = str(result.get("msg"))
        assert "unknown error when trying to connect" in msg or "Connection refused" in msg, (name, msg)
    templates = {r["invocation"]["module_args"]["name"]: r["invocation"]["module_args"] for n, r in awx
                 if n.endswith("Create the job templates")}
    assert set(templates) == {"mediastack validate", "mediastack site", "mediastack services", "mediastack monitoring"}
    assert templates["mediastack site"]["ask_tags_on_launch"] is True and templates["mediastack services"]["job_tags"] == "services"
    assert templates["mediastack validate"]["credentials"] == ["nodes"]
    survey = templates["mediastack services"]["survey_spec"]
    catalog = sorted(yaml.safe_load((ROOT / "roles/services/files/catalog-seed.yml").read_text()))
    assert survey["spec"][0]["choices"] == catalog


def test_every_survey_variable_is_a_typed_role_variable():
    surveys = yaml.safe_load((ROOT / "roles/awx_controller/vars/main.yml").read_text())["_awx_controller_surveys"]
    specs = _specs()
    checked = 0
    for survey in surveys.values():
        for question in survey["spec"]:
            option = specs.get(question["variable"])
            assert option is not None, "survey variable %s is in no argument spec" % question["variable"]
            assert option.get("type", "str") == SURVEY_TYPES[question["type"]], (question["variable"], option, question["type"])
            checked += 1
    assert checked >= 1
    assert json.dumps(surveys)  # AWX takes the spec as JSON
