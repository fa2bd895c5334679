"""The network filter plugins: thin wrappers that raise AnsibleFilterError, documented by sidecar YAML."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter import segment_plan, segment_plan_validate, zero_trust_nftables, zero_trust_rules

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "tests" / "integration" / "network" / "seed_plan.yml").read_text())
PLAN, POLICY = SEED["segments"], SEED["policy"]
FILTERS = {
    "segment_plan": segment_plan,
    "segment_plan_validate": segment_plan_validate,
    "zero_trust_rules": zero_trust_rules,
    "zero_trust_nftables": zero_trust_nftables,
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_file_exports_one_prefixed_filter_with_sidecar_docs(name: str) -> None:
    exported = FILTERS[name].FilterModule().filters()
    assert list(exported) == [name]
    docs = yaml.safe_load((ROOT / "plugins" / "filter" / ("%s.yml" % name)).read_text())
    assert docs["DOCUMENTATION"]["name"] == name
    assert "_input" in docs["DOCUMENTATION"]["options"]
    assert "mediastack.core.%s" % name in docs["EXAMPLES"]
    assert "_value" in docs["RETURN"]


def test_filters_chain_from_plan_to_ruleset() -> None:
    assert segment_plan_validate.segment_plan_validate(PLAN, ["172.17.0.0/16"]) is True
    derived = segment_plan.segment_plan(PLAN)
    assert [s["gateway"] for s in derived] == ["10.10.1.1", "10.10.2.1", "10.10.3.1", "10.10.4.1"]
    rules = zero_trust_rules.zero_trust_rules(POLICY, PLAN)
    text = zero_trust_nftables.zero_trust_nftables(rules, PLAN, chain_policy="drop", table="ms_test")
    assert text.startswith("# zero-trust policy") and "table inet ms_test {" in text


@pytest.mark.parametrize(("call", "message"), [
    (lambda: segment_plan_validate.segment_plan_validate([dict(PLAN[0]), dict(PLAN[0], name="copy")]),
     "segment_plan_validate: segment 'copy': vlan 10 is already used by segment 'media'"),
    (lambda: segment_plan.segment_plan([dict(PLAN[0], vlan=4095)]), "segment_plan: segment 'media': vlan 4095 is out of range"),
    (lambda: segment_plan.segment_plan(PLAN, ["10.0.0.0/8"]), "segment_plan: segment 'media': subnet 10.10.1.0/24 overlaps Docker address pool"),
    (lambda: zero_trust_rules.zero_trust_rules({"flows": [{"name": "f", "from": "dmz", "to": "vault", "ports": [1]}]}, PLAN),
     "zero_trust_rules: flow 'f': 'to' names unknown segment 'vault'"),
    (lambda: zero_trust_nftables.zero_trust_nftables([], PLAN, table="Bad-Name"), "zero_trust_nftables: nftables table name 'Bad-Name' is invalid"),
])
def test_bad_input_raises_ansible_filter_error(call, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert message in str(err.value)


def test_filters_do_not_mutate_their_input() -> None:
    plan, policy = copy.deepcopy(PLAN), copy.deepcopy(POLICY)
    zero_trust_nftables.zero_trust_nftables(zero_trust_rules.zero_trust_rules(policy, plan), plan)
    assert (plan, policy) == (PLAN, POLICY)
