# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""zero_trust_nftables: render expanded zero-trust rules as an nftables table (documented in zero_trust_nftables.yml)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import NetPlanError, render_nftables


def zero_trust_nftables(rules: list, plan: list, chain_policy: str = "accept", table: str = "mediastack", log_denied: bool = True) -> str:
    try:
        return render_nftables(rules, plan, chain_policy=chain_policy, table=table, log_denied=log_denied)
    except NetPlanError as exc:
        raise AnsibleFilterError("zero_trust_nftables: %s" % exc) from exc


class FilterModule:
    def filters(self) -> dict:
        return {"zero_trust_nftables": zero_trust_nftables}
