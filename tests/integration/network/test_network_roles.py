"""roles/pfsense and roles/host_network run for real on this machine (localhost, paths in a temp dir).

pfsense: against a copy of the factory config.xml (delegated to localhost, no apply): changes, then changed=0,
check mode writes nothing, a bad plan fails before anything is written.
host_network: networkd files checked against the keys systemd-networkd itself knows, the firewall unit with
`systemd-analyze verify`, the ruleset with `nft -c` (the template's validate) and compared with the renderer
that the packet matrix loads; second run changed=0.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import expand_policy, render_nftables

ROOT = Path(__file__).resolve().parents[3]
SEED = yaml.safe_load((Path(__file__).resolve().parent / "seed_plan.yml").read_text())
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
NETWORKD = Path("/lib/systemd/systemd-networkd")
SHARED_LIB = sorted(Path("/usr/lib/x86_64-linux-gnu/systemd").glob("libsystemd-shared-*.so"))


def playbook(tmp: Path, role: str, role_vars: dict, *extra: str) -> tuple:
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"mediastack_segments": SEED["segments"], "mediastack_policy": SEED["policy"],
                      "ansible_python_interpreter": os.sys.executable},
             "roles": [{"role": "mediastack.core.%s" % role, "vars": role_vars}]}]
    path = tmp / ("play-%s.yml" % role)
    path.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    binary = str(Path(os.sys.executable).parent / "ansible-playbook")
    proc = subprocess.run([binary, "-i", "localhost,", str(path), *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    match = RECAP.search(proc.stdout)
    assert match, proc.stdout + proc.stderr
    ok, changed, unreachable, failed = (int(x) for x in match.groups())
    return changed, failed, proc.stdout


# ----------------------------------------------------------------------------- pfsense


def test_pfsense_role_on_a_fetched_factory_config(shared_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.xml"
    shutil.copyfile(shared_dir / "fixtures" / "pfsense" / "pfsense-default-config.xml", config)
    role_vars = {"pfsense_parent_interface": "em1", "pfsense_config_path": str(config), "pfsense_delegate_to": "localhost",
                 "pfsense_backup": False}
    original = config.read_bytes()
    changed, failed, out = playbook(tmp_path, "pfsense", role_vars, "--check", "--diff")
    assert (changed, failed) == (1, 0), out
    assert "+\t\t\t<vlanif>em1.10</vlanif>" in out
    assert config.read_bytes() == original
    changed, failed, out = playbook(tmp_path, "pfsense", role_vars)
    assert (changed, failed) == (1, 0), out
    assert "rc.reload_all" not in out  # a fetched copy is never applied on the machine running the module
    assert "<vlanif>em1.40</vlanif>" in config.read_text()
    changed, failed, out = playbook(tmp_path, "pfsense", role_vars)
    assert (changed, failed) == (0, 0), out


def test_pfsense_role_rejects_a_bad_plan_before_writing(shared_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.xml"
    shutil.copyfile(shared_dir / "fixtures" / "pfsense" / "pfsense-default-config.xml", config)
    original = config.read_bytes()
    bad = [dict(s) for s in SEED["segments"]]
    bad[3]["vlan"] = 10
    role_vars = {"pfsense_parent_interface": "em1", "pfsense_config_path": str(config), "pfsense_delegate_to": "localhost",
                 "pfsense_segments": bad}
    changed, failed, out = playbook(tmp_path, "pfsense", role_vars)
    assert failed == 1
    assert "segment 'dmz': vlan 10 is already used by segment 'media'; VLAN IDs must be unique" in out
    assert config.read_bytes() == original


# ----------------------------------------------------------------------------- host_network


def networkd_keys() -> set:
    """Section.Key names from the installed systemd-networkd's own parser tables."""
    keys = set()
    for binary in [NETWORKD] + SHARED_LIB:
        out = subprocess.run(["strings", str(binary)], capture_output=True, text=True, check=True).stdout
        keys |= set(re.findall(r"^(?:Match|Link|NetDev|VLAN|Network|Address|Route|DHCPv4|DHCP)\.[A-Za-z0-9]+$", out, re.M))
    return keys


def parse_unit(path: Path) -> list:
    """systemd unit syntax: [Section] headers and Key=Value lines (keys may repeat); anything else fails."""
    section, entries = None, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        assert section and "=" in line, "%s:%d: not 'Key=Value' inside a section: %r" % (path.name, number, line)
        key, value = line.split("=", 1)
        assert key == key.strip() and key, "%s:%d: bad key %r" % (path.name, number, key)
        entries.append((section, key, value))
    return entries


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes files as root and nft -c needs CAP_NET_ADMIN")
@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (Debian package nftables) is not installed")
def test_host_network_role_renders_valid_files(tmp_path: Path) -> None:
    if not NETWORKD.exists() or shutil.which("strings") is None:
        pytest.skip("systemd-networkd or binutils' strings is missing: cannot read networkd's key tables")
    out_dir = tmp_path / "etc"
    (out_dir / "systemd" / "system").mkdir(parents=True)  # exists on every systemd host
    role_vars = {
        "host_network_trunk_interface": "eno1", "host_network_attach": ["media", "data"], "host_network_host_name": "swarm1",
        "host_network_default_segment": "media", "host_network_networkd_dir": str(out_dir / "systemd" / "network"),
        "host_network_nftables_path": str(out_dir / "mediastack" / "nftables.nft"), "host_network_unit_dir": str(out_dir / "systemd" / "system"),
        "host_network_manage_services": False,
    }
    changed, failed, out = playbook(tmp_path, "host_network", role_vars)
    assert failed == 0 and changed > 0, out
    network_dir = out_dir / "systemd" / "network"
    files = sorted(p.name for p in network_dir.iterdir())
    assert files == ["05-mediastack-trunk.network", "20-mediastack-data.netdev", "20-mediastack-data.network",
                     "20-mediastack-media.netdev", "20-mediastack-media.network"]
    known = networkd_keys()
    assert {"NetDev.Name", "VLAN.Id", "Network.VLAN"} <= known
    parsed = {}
    for name in files:
        entries = parse_unit(network_dir / name)
        unknown = ["%s.%s" % (s, k) for s, k, _unused1 in entries if "%s.%s" % (s, k) not in known]
        assert unknown == [], "%s: keys systemd-networkd does not know: %s" % (name, unknown)
        parsed[name] = entries
    assert ("VLAN", "Id", "10") in parsed["20-mediastack-media.netdev"]
    assert ("NetDev", "Kind", "vlan") in parsed["20-mediastack-data.netdev"]
    assert ("Network", "Address", "10.10.1.11/24") in parsed["20-mediastack-media.network"]
    assert ("Network", "Gateway", "10.10.1.1") in parsed["20-mediastack-media.network"]
    assert ("Network", "Address", "10.10.3.11/24") in parsed["20-mediastack-data.network"]
    assert not any(k == "Gateway" for _unused2, k, _unused3 in parsed["20-mediastack-data.network"])
    assert [v for s, k, v in parsed["05-mediastack-trunk.network"] if k == "VLAN"] == ["eno1.10", "eno1.30"]

    unit = out_dir / "systemd" / "system" / "mediastack-firewall.service"
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr

    ruleset = (out_dir / "mediastack" / "nftables.nft").read_text()
    assert ruleset.startswith("#")
    body = ruleset[ruleset.index("# zero-trust policy"):]
    assert body.strip() == render_nftables(expand_policy(SEED["policy"], SEED["segments"]), SEED["segments"]).strip()
    check = subprocess.run(["nft", "-c", "-f", str(out_dir / "mediastack" / "nftables.nft")], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr

    changed, failed, out = playbook(tmp_path, "host_network", role_vars)
    assert (changed, failed) == (0, 0), out


def test_host_network_role_names_an_unknown_segment(tmp_path: Path) -> None:
    role_vars = {"host_network_trunk_interface": "eno1", "host_network_attach": ["media", "backup"], "host_network_firewall": False,
                 "host_network_networkd_dir": str(tmp_path / "net"), "host_network_manage_services": False, "host_network_packages": []}
    changed, failed, out = playbook(tmp_path, "host_network", role_vars)
    assert failed == 1 and "host_network_attach names ['media', 'backup']; known segments are media, admin, data, dmz" in out
    assert not (tmp_path / "net").exists()
    json.dumps(out)
