# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""zero_trust_rules: expand a zero-trust policy into an ordered rule list (documented in zero_trust_rules.yml)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import NetPlanError, expand_policy


def zero_trust_rules(policy: dict, plan: list, docker_pools: list | None = None) -> list:
    try:
        return expand_policy(policy, plan, docker_pools)
    except NetPlanError as exc:
        raise AnsibleFilterError("zero_trust_rules: %s" % exc) from exc


class FilterModule:
    def filters(self) -> dict:
        return {"zero_trust_rules": zero_trust_rules}
