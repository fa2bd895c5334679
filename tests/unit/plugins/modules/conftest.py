"""The module-test harness of the modules that run on the node: run main() with arguments, read its JSON."""
from __future__ import annotations

import json
from types import ModuleType

import pytest
from ansible.module_utils.testing import patch_module_args


def module_result(module: ModuleType, capsys: pytest.CaptureFixture[str], args: dict) -> dict:
    """Run ``module.main()`` with ``args`` (``_ansible_check_mode`` and ``_ansible_diff`` included) and return the JSON
    it printed, after Ansible's no_log masking."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)
