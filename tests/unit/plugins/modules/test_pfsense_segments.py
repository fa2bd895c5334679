"""mediastack.core.pfsense_segments driven through AnsibleModule against real pfSense config.xml files."""
from __future__ import annotations

import copy
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from unittest import mock

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mediastack.core.plugins.module_utils.network.pfsense import canonical
from ansible_collections.mediastack.core.plugins.modules import pfsense_segments

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "tests" / "integration" / "network" / "seed_plan.yml").read_text())
PLAN, POLICY = SEED["segments"], SEED["policy"]
CONFIGS = ["pfsense-default-config.xml", "pfsense_alias_config.xml", "pfsense_dhcp_server_config.xml",
           "pfsense_interface_config.xml", "pfsense_vlan_config.xml"]


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def _exit_json(self, **kwargs):  # noqa: ANN001 - mirrors AnsibleModule.exit_json
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, **kwargs):  # noqa: ANN001
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


def run_module(args: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """Run the module with ``args``; return its exit or fail JSON (JSON round-tripped, as Ansible would see it)."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json, fail_json=_fail_json):
        try:
            pfsense_segments.main()
        except (AnsibleExitJson, AnsibleFailJson) as result:
            return json.loads(json.dumps(result.args[0]))
    raise AssertionError("the module returned without exit_json or fail_json")


def parent_of(path: Path) -> str:
    """The fixture's LAN NIC: the trunk the seed VLANs ride on."""
    return ET.parse(path).getroot().findtext("interfaces/lan/if").strip()


def seed_args(path: Path, plan: list | None = None, policy: dict | None = None, **extra: object) -> dict:
    return dict({"path": str(path), "segments": plan if plan is not None else PLAN, "policy": policy if policy is not None else POLICY,
                 "parent_interface": parent_of(path)}, **extra)


def managed(root: ET.Element) -> dict:
    """Every managed object, keyed by kind and identity."""
    vlans = [v for v in root.iter("vlan") if (v.findtext("descr") or "").startswith("mediastack:")]
    vlanifs = {v.findtext("vlanif") for v in vlans}
    ifaces = [i for i in (root.find("interfaces") or []) if i.findtext("if") in vlanifs]
    keys = {i.tag for i in ifaces}
    dhcp = root.find("dhcpd")
    out = {}
    for v in vlans:
        out["vlan " + v.findtext("vlanif")] = canonical(v)
    for i in ifaces:
        out["interface " + i.findtext("descr")] = canonical(i)
    for d in (list(dhcp) if dhcp is not None else []):
        if d.tag in keys:
            out["dhcp " + d.tag] = canonical(d)
    for a in root.iter("alias"):
        if (a.findtext("descr") or "").startswith("mediastack:"):
            out["alias " + a.findtext("name")] = canonical(a)
    for r in root.iter("rule"):
        if (r.findtext("descr") or "").startswith("mediastack:"):
            out["rule " + r.findtext("descr")] = canonical(r)
    return out


def unrelated(root: ET.Element) -> tuple:
    """The tree minus every managed object, pfSense's revision stamp and managed sections left empty."""
    root = copy.deepcopy(root)
    vlanifs = set()
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == "vlan" and (child.findtext("descr") or "").startswith("mediastack:"):
                vlanifs.add(child.findtext("vlanif"))
    keys = {i.tag for i in (root.find("interfaces") or []) if i.findtext("if") in vlanifs}
    for parent in list(root.iter()):
        for child in list(parent):
            mark = (child.findtext("descr") or "").startswith("mediastack:")
            if (child.tag in ("vlan", "alias", "rule") and mark) or (parent.tag in ("interfaces", "dhcpd") and child.tag in keys):
                parent.remove(child)
    for tag in ("revision", "vlans", "aliases", "filter", "dhcpd"):
        elem = root.find(tag)
        if elem is not None and (tag == "revision" or len(elem) == 0):
            root.remove(elem)
    return canonical(root)


@pytest.fixture(params=CONFIGS)
def config(request: pytest.FixtureRequest, shared_dir: Path, tmp_path: Path) -> Path:
    source = shared_dir / "fixtures" / "pfsense" / request.param
    if not source.is_file():
        pytest.skip("%s is not in ../shared/fixtures/pfsense" % request.param)
    target = tmp_path / "config.xml"
    shutil.copyfile(source, target)
    return target


def tree(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


# ----------------------------------------------------------------------------- the real configs


def test_apply_seed_then_second_run_is_unchanged(config: Path) -> None:
    original = tree(config)
    first = run_module(seed_args(config), diff=True)
    assert first["changed"] is True, first
    assert first["apply_command"] == "/etc/rc.reload_all"
    assert set(first["interfaces"]) == {"media", "admin", "data", "dmz"}
    assert "+\t\t\t<tag>10</tag>" in "".join(first["diff"]["after"]) or "<tag>10</tag>" in first["diff"]["after"]
    after = tree(config)
    objects = managed(after)
    assert sorted(k for k in objects if k.startswith("vlan")) == ["vlan %s.%d" % (parent_of(config), v) for v in (10, 20, 30, 40)]
    assert sorted(k for k in objects if k.startswith("interface")) == ["interface ADMIN", "interface DATA", "interface DMZ", "interface MEDIA"]
    assert len([k for k in objects if k.startswith("dhcp")]) == 4
    assert len([k for k in objects if k.startswith("alias")]) == 7
    assert len([k for k in objects if k.startswith("rule")]) == first["rules"] == 9
    # Interface keys are new optN keys: no existing assignment was taken over.
    assert not set(first["interfaces"].values()) & {i.tag for i in original.find("interfaces")}
    # Every element that is not ours is as it was.
    assert unrelated(after) == unrelated(original)

    second = run_module(seed_args(config), diff=True)
    assert second["changed"] is False and second["actions"] == [] and "diff" not in second
    assert second["apply_command"] == ""
    assert canonical(tree(config)) == canonical(after)


def test_check_mode_writes_nothing_but_reports_the_diff(config: Path) -> None:
    before = config.read_bytes()
    result = run_module(seed_args(config), check_mode=True, diff=True)
    assert result["changed"] is True and result["actions"]
    assert "ms_n_media" in result["diff"]["after"] and "ms_n_media" not in result["diff"]["before"]
    assert result["apply_command"] == ""
    assert config.read_bytes() == before


def test_removing_a_segment_removes_exactly_its_objects(config: Path) -> None:
    run_module(seed_args(config))
    full = tree(config)
    plan = [s for s in PLAN if s["name"] != "dmz"]
    policy = {"default": "deny", "flows": [f for f in POLICY["flows"] if "dmz" not in (f["from"], f["to"])]}
    result = run_module(seed_args(config, plan, policy))
    assert result["changed"] is True
    reduced = tree(config)
    before, after = managed(full), managed(reduced)
    assert set(after) < set(before)
    assert {k: v for k, v in before.items() if k in after} == after  # the rest is unchanged
    gone = sorted(set(before) - set(after))
    # The rules that went are exactly those from or to dmz.
    gone_rules = {k for k in gone if k.startswith("rule")}
    dmz_rules = {"rule " + r.findtext("descr") for r in full.iter("rule")
                 if (r.findtext("descr") or "").startswith("mediastack:")
                 and ("ms_n_dmz" in (r.findtext("source/address"), r.findtext("destination/address")))}
    assert gone_rules == dmz_rules and len(dmz_rules) == 3
    assert set(gone) - gone_rules == {"alias ms_n_dmz", "alias ms_p_dmz_proxy", "interface DMZ", "vlan %s.40" % parent_of(config),
                                      "dhcp " + full.find("interfaces").find("./*[descr='DMZ']").tag}
    assert unrelated(reduced) == unrelated(full)


def test_state_absent_restores_the_original_tree(config: Path) -> None:
    original = tree(config)
    run_module(seed_args(config))
    result = run_module({"path": str(config), "state": "absent"})
    assert result["changed"] is True
    assert managed(tree(config)) == {}
    assert unrelated(tree(config)) == unrelated(original)
    assert run_module({"path": str(config), "state": "absent"})["changed"] is False


def test_a_changed_segment_is_updated_in_place(config: Path) -> None:
    first = run_module(seed_args(config))
    plan = copy.deepcopy(PLAN)
    plan[0]["vlan"] = 11
    plan[0]["dhcp"] = {"start": "10.10.1.200", "end": "10.10.1.220"}
    result = run_module(seed_args(config, plan))
    assert result["changed"] is True
    assert result["interfaces"] == first["interfaces"]  # same optN, new VLAN
    root = tree(config)
    media = root.find("interfaces").find(first["interfaces"]["media"])
    assert media.findtext("if") == "%s.11" % parent_of(config)
    assert root.find("dhcpd").find(first["interfaces"]["media"]).findtext("range/from") == "10.10.1.200"
    assert "vlan %s.10" % parent_of(config) not in managed(root)
    assert run_module(seed_args(config, plan))["changed"] is False


def test_gui_settings_on_a_managed_interface_survive(config: Path) -> None:
    first = run_module(seed_args(config))
    root = ET.parse(config)
    iface = root.getroot().find("interfaces").find(first["interfaces"]["media"])
    ET.SubElement(iface, "mtu").text = "9000"
    ET.SubElement(root.getroot().find("dhcpd").find(first["interfaces"]["media"]), "defaultleasetime").text = "7200"
    root.write(config)
    assert run_module(seed_args(config))["changed"] is False
    after = tree(config)
    assert after.find("interfaces").find(first["interfaces"]["media"]).findtext("mtu") == "9000"


def test_backup_keeps_the_old_file(config: Path) -> None:
    before = config.read_bytes()
    result = run_module(seed_args(config, backup=True))
    assert Path(result["backup_file"]).read_bytes() == before


# ----------------------------------------------------------------------------- bad input: clear error, nothing written


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda p, q: p[1].update(subnet="10.10.0.0/16"), "segment 'admin': subnet 10.10.0.0/16 overlaps segment 'media'"),
    (lambda p, q: p[2].update(vlan=20), "segment 'data': vlan 20 is already used by segment 'admin'"),
    (lambda p, q: p[0].update(vlan=4095), "segment 'media': vlan 4095 is out of range"),
    (lambda p, q: p[3].update(dhcp={"start": "10.10.9.1", "end": "10.10.9.9"}), "segment 'dmz': DHCP range 10.10.9.1-10.10.9.9 lies outside"),
    (lambda p, q: q["flows"].append({"name": "oops", "from": "media", "to": "backup", "ports": [873]}),
     "flow 'oops': 'to' names unknown segment 'backup'"),
])
def test_bad_plans_fail_and_write_nothing(config: Path, mutate, message: str) -> None:
    plan, policy = copy.deepcopy(PLAN), copy.deepcopy(POLICY)
    mutate(plan, policy)
    before = config.read_bytes()
    result = run_module(seed_args(config, plan, policy))
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert config.read_bytes() == before


def test_conflicts_with_unmanaged_objects_fail(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "config.xml"
    shutil.copyfile(shared_dir / "fixtures" / "pfsense" / "pfsense_vlan_config.xml", path)
    before = path.read_bytes()
    plan = copy.deepcopy(PLAN)
    plan[0]["vlan"] = 100  # vmx1.100 exists, unmanaged
    result = run_module(seed_args(path, plan))
    assert "segment 'media': VLAN 100 on vmx1 already exists in config.xml and is not managed by mediastack" in result["msg"]
    plan = copy.deepcopy(PLAN)
    plan[0]["subnet"], plan[0]["static"] = "192.168.1.0/24", []
    result = run_module(seed_args(path, plan))
    assert "segment 'media': subnet 192.168.1.0/24 overlaps interface lan" in result["msg"]
    policy = {"flows": [{"name": "ssh", "from": "admin", "to": "media", "ports": [22]}]}
    root = ET.parse(path)
    alias = ET.SubElement(root.getroot().find("aliases"), "alias")
    ET.SubElement(alias, "name").text = "ms_p_ssh"
    root.write(path)
    before = path.read_bytes()
    result = run_module(seed_args(path, PLAN, policy))
    assert "alias 'ms_p_ssh' already exists in config.xml and is not managed by mediastack" in result["msg"]
    assert path.read_bytes() == before


def test_missing_file_and_parameters_fail_with_a_fix(tmp_path: Path) -> None:
    result = run_module({"path": str(tmp_path / "nope.xml"), "segments": PLAN, "parent_interface": "em1"})
    assert "does not exist" in result["msg"] and "fetch it first" in result["msg"]
    result = run_module({"path": str(tmp_path / "nope.xml"), "segments": PLAN})
    assert "parent_interface is required with state=present" in result["msg"]
    (tmp_path / "bad.xml").write_text("<opnsense><version>1</version></opnsense>")
    result = run_module({"path": str(tmp_path / "bad.xml"), "segments": PLAN, "parent_interface": "em1"})
    assert "not <pfsense>" in result["msg"]
