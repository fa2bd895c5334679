"""packages_installed: the apt task is skipped only when package_facts show every package, at its pinned version."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.test.packages_installed import TestModule as PackageTests, packages_installed

FACTS = {
    "curl": [{"name": "curl", "version": "7.88.1-10+deb12u8", "arch": "amd64", "source": "apt"}],
    "docker-ce": [{"name": "docker-ce", "version": "5:27.5.1-1~debian.12~bookworm", "arch": "amd64", "source": "apt"}],
    "containerd.io": [{"name": "containerd.io", "version": "1.7.25-1", "arch": "amd64", "source": "apt"}],
}


def test_names_need_only_to_be_installed():
    assert packages_installed(["curl", "docker-ce"], FACTS) is True
    assert packages_installed(["curl", "jq"], FACTS) is False
    assert packages_installed("curl", FACTS) is True and packages_installed(["curl:amd64"], FACTS) is True


def test_pinned_versions_must_match_exactly_or_by_apts_trailing_wildcard():
    assert packages_installed(["docker-ce=5:27.5.1-1~debian.12~bookworm", "containerd.io=1.7.25-1"], FACTS) is True
    assert packages_installed(["docker-ce=5:27.5.1*"], FACTS) is True
    assert packages_installed(["docker-ce=5:28.0.0-1~debian.12~bookworm"], FACTS) is False  # an upgrade is due: apt runs
    assert packages_installed(["containerd.io=1.7.2"], FACTS) is False  # a prefix is not a match without *


def test_without_facts_the_apt_task_runs():
    assert packages_installed(["curl"], {}) is False and packages_installed(["curl"], None) is False
    assert packages_installed([], FACTS) is True  # nothing to install


def test_a_bad_input_is_named_and_the_test_is_registered():
    with pytest.raises(AnsibleFilterError, match="must be a list of apt package names"):
        packages_installed({"curl": 1}, FACTS)
    assert PackageTests().tests()["packages_installed"] is packages_installed
