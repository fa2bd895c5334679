"""Run a module's ``main()`` through AnsibleModule and get its result JSON back (for the GPU module tests).

The community.general ``tests/unit/plugins/modules/utils.py`` pattern: the module arguments are
set with ansible-core's ``patch_module_args`` and ``exit_json``/``fail_json`` raise instead of
exiting, carrying the result; ``warn`` is captured so tests can assert on warnings.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Dict, List, Optional
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    """Raised by the patched exit_json/fail_json with the module's result."""

    def __init__(self, result: Dict[str, Any]) -> None:
        super().__init__(result)
        self.result = result


def run_module(module: ModuleType, args: Dict[str, Any], lib: Any = None, check_mode: bool = False) -> Dict[str, Any]:
    """Run ``module.main()`` with ``args`` and the NVML binding ``lib``; return the result dict.

    A failed run returns the fail_json arguments plus ``failed: True``; warnings land in
    ``result["warnings"]``.
    """
    warnings: List[str] = []

    def exit_json(self: basic.AnsibleModule, **kwargs: Any) -> None:
        kwargs.setdefault("changed", False)
        raise ModuleExit(dict(kwargs, warnings=warnings))

    def fail_json(self: basic.AnsibleModule, msg: str, **kwargs: Any) -> None:
        kwargs.pop("exception", None)
        raise ModuleExit(dict(kwargs, msg=msg, failed=True, warnings=warnings))

    def warn(self: basic.AnsibleModule, warning: str, **kwargs: Any) -> None:
        warnings.append(warning)

    module_args = dict(args)
    if check_mode:
        module_args["_ansible_check_mode"] = True
    with patch_module_args(module_args), mock.patch.object(module, "pynvml", lib), mock.patch.multiple(
        basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json, warn=warn
    ):
        with pytest.raises(ModuleExit) as excinfo:
            module.main()
    return excinfo.value.result


def _fake_module(behaviour: str) -> ModuleType:
    """A minimal module that exercises each path of the harness."""
    fake = ModuleType("fake_module")
    fake.pynvml: Optional[object] = None  # type: ignore[attr-defined,misc]

    def main() -> None:
        module = basic.AnsibleModule(argument_spec={"name": {"type": "str", "required": True}}, supports_check_mode=True)
        if behaviour == "warn":
            module.warn("careful with %s" % module.params["name"])
        if behaviour == "fail":
            module.fail_json(msg="no %s here" % module.params["name"])
        module.exit_json(name=module.params["name"], check_mode=module.check_mode, lib=fake.pynvml)  # type: ignore[attr-defined]

    fake.main = main  # type: ignore[attr-defined]
    return fake


def test_harness_returns_exit_json_with_args_lib_and_check_mode() -> None:
    result = run_module(_fake_module("exit"), {"name": "gpu"}, lib="the-lib", check_mode=True)
    assert result == {"name": "gpu", "check_mode": True, "lib": "the-lib", "changed": False, "warnings": []}


def test_harness_returns_fail_json_and_warnings() -> None:
    assert run_module(_fake_module("fail"), {"name": "gpu"})["msg"] == "no gpu here"
    assert run_module(_fake_module("warn"), {"name": "gpu"})["warnings"] == ["careful with gpu"]


def test_harness_reports_argument_errors_through_fail_json() -> None:
    result = run_module(_fake_module("exit"), {})
    assert result["failed"] is True
    assert "missing required arguments: name" in result["msg"]
