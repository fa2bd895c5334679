# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""segment_plan_validate: check a segment plan as a whole (documented in segment_plan_validate.yml)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import NetPlanError, validate_plan


def segment_plan_validate(plan: list, docker_pools: list | None = None) -> bool:
    try:
        return validate_plan(plan, docker_pools)
    except NetPlanError as exc:
        raise AnsibleFilterError("segment_plan_validate: %s" % exc) from exc


class FilterModule:
    def filters(self) -> dict:
        return {"segment_plan_validate": segment_plan_validate}
