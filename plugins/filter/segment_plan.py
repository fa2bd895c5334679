# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""segment_plan: a segment plan with every allocation derived (documented in segment_plan.yml)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import NetPlanError, derive_plan


def segment_plan(plan: list, docker_pools: list | None = None) -> list:
    try:
        return derive_plan(plan, docker_pools)
    except NetPlanError as exc:
        raise AnsibleFilterError("segment_plan: %s" % exc) from exc


class FilterModule:
    def filters(self) -> dict:
        return {"segment_plan": segment_plan}
