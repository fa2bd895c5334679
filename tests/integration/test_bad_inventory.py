"""site.yml stops in its validation (or preflight) plays, before any host changes, for each inventory it cannot serve.

The hosts of these inventories point at containers that do not exist, so any task that tried to reach a
host would report it unreachable; the tests assert that no host was reached, that the failing task is
one of the validation or preflight plays' checks, that no play after it ran a task, and that the message
names the variable and the fix. The preflight cases (facts needed) run against this machine through the
local connection: the preflight only gathers facts and reads, so nothing changes here either.
Positive controls: the example inventory with its vault values, and a 1-manager inventory, pass.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.plugins.modules import node_features

from .helpers import ROOT, env, json_result, playbook

VALIDATION_PLAYS = ("Validate the controller and the inventory before any host is touched",
                    "Validate the service catalog and plan the deployment before any host is touched",
                    "Preflight on every node (facts only; nothing changes)")
SECRETS = {
    "postgres_password": "ci-postgres-password",
    "authelia_db_password": "ci-authelia-db-password",
    "authelia_jwt_secret": "ci-authelia-jwt-secret-0123456789abcdef",
    "authelia_session_secret": "ci-authelia-session-secret-0123456789",
    "authelia_storage_encryption_key": "ci-authelia-storage-key-0123456789abcdef",
    "grafana_admin_password": "ci-grafana-admin-password-0123",
}
USERS = {"admin": {"displayname": "CI Admin", "email": "admin@example.org", "groups": ["admins", "media"],
                   "password": "$argon2id$v=19$m=65536,t=3,p=4$Y2lzYWx0Y2lzYWx0$0Tl3t+4j7Q0tqvYg0wXJ2lGk8b9gkqJmfXo4m0z6yS8"}}
BACKUP_PASSWORD = "ci-backup-password-0123456789"
# What the services plan and the backups need; a throwaway inventory may keep its secrets in clear (it says so).
SERVICES = {"services_domain": "media.example.org", "services_edge": {"acme": {"email": "a@example.org", "challenge": "http"}},
            "services_secrets": SECRETS, "services_authelia_users": USERS, "backup_password": BACKUP_PASSWORD,
            "mediastack_plain_secrets_ok": True}


SCRAPE_TARGET = {"name": "x", "hosts": ["m1"], "port": 1}


def _host(**extra) -> dict:
    return {"ansible_connection": "community.docker.docker", "ansible_host": "mediastack-absent-%s" % uuid.uuid4().hex[:8], **extra}


def _inventory(managers: list[str], workers: list[str], hostvars: dict | None = None, all_vars: dict | None = None,
               in_swarm: bool = True) -> dict:
    hostvars = hostvars or {}
    labels = {"w1": {"swarm_node_labels": {"type": "media", "gpu": "true"}}}
    children = {}
    if managers:
        children["swarm_managers"] = {"hosts": {h: {**_host(), **hostvars.get(h, {})} for h in managers}}
    if workers:
        children["swarm_workers"] = {"hosts": {h: {**_host(), **labels.get(h, {}), **hostvars.get(h, {})} for h in workers}}
    tree = {"all": {"vars": {**SERVICES, **(all_vars or {})}, "children": {"swarm": {"children": children}}}}
    if not in_swarm:
        tree["all"]["children"] = children
    return tree


def _without_plain_ok() -> dict:
    return {"mediastack_plain_secrets_ok": False}


BAD_NETWORK = {"name": "media", "subnet": "10.201.1.0/24", "attachable": "perhaps"}
# case: (inventory, the lines the message must hold)
CASES = {
    "no_managers_group": (_inventory([], ["w1", "w2"]), ["(inventory), group swarm_managers", "add a 'swarm_managers' group"]),
    "even_managers": (_inventory(["m1", "m2"], ["w1"]), ["has 2 hosts (m1, m2)", "add or remove one manager"]),
    "host_in_two_exclusive_groups": (_inventory(["m1", "m2", "m3"], ["w1", "m3"]),
                                     ["host m3, groups swarm_managers + swarm_workers", "keep m3 in exactly one of"]),
    "groups_outside_swarm": (_inventory(["m1"], ["w1"], in_swarm=False),
                             ["host m1, group swarm: is in swarm_managers but not in swarm", "make swarm_managers a child group"]),
    "wrong_variable_type": (_inventory(["m1"], ["w1"], {"w1": {"common_media_uid": "lots"}}),
                            ["host w1, common_media_uid: is 'lots' (str) but role common expects type int",
                             "give common_media_uid a value of type int"]),
    "string_for_a_list": (_inventory(["m1"], ["w1"], all_vars={"common_packages": "curl,jq"}),
                          ["hosts m1, w1, common_packages: is 'curl,jq' (str) but role common expects type list",
                           "write it as a YAML list"]),
    "typo_in_a_variable_name": (_inventory(["m1"], ["w1"], all_vars={"common_timezon": "Europe/Berlin"}),
                                ["hosts m1, w1, common_timezon: is not a variable of role common",
                                 "Fix: did you mean common_timezone?"]),
    "nested_option_type": (_inventory(["m1"], ["w1"], {"m1": {"swarm_networks": [BAD_NETWORK]}}),
                           ["host m1, swarm_networks:", "attachable"]),
    "label_not_a_mapping": (_inventory(["m1"], ["w1"], {"w1": {"swarm_node_labels": ["gpu"]}}),
                            ["host w1, swarm_node_labels", "expects type dict"]),
    "label_value_with_space": (_inventory(["m1"], ["w1"], {"w1": {"swarm_node_labels": {"type": "media server", "gpu": "true"}}}),
                               ["host w1, swarm_node_labels.type", "contains spaces"]),
    "address_not_an_address": (_inventory(["m1"], ["w1"], {"w1": {"ansible_connection": "ssh", "ansible_host": "192.0.2.300"}}),
                               ["host w1, ansible_host: '192.0.2.300' is not an IP address", "set ansible_host"]),
    "advertise_address_not_an_address": (_inventory(["m1"], ["w1"], {"m1": {"swarm_advertise_addr": "not-an-ip"}}),
                                         ["host m1, swarm_advertise_addr: 'not-an-ip' is not an IPv4 address",
                                          "Fix: set it to this host's IPv4 address on the nodes' network"]),
    "acme_email_not_an_address": (_inventory(["m1"], ["w1"], all_vars={"services_edge": {"acme": {"email": "admin", "challenge": "http"}}}),
                                  ["The service configs cannot be rendered; nothing was changed: authelia_configuration: "
                                   "edge.acme.email: 'admin' (str) is not valid; give the ACME account's e-mail address"]),
    "two_hosts_one_address": (_inventory(["m1"], ["w1", "w2"], {"w1": {"ansible_connection": "ssh", "ansible_host": "192.0.2.7"},
                                                                "w2": {"ansible_connection": "ssh", "ansible_host": "192.0.2.7"}}),
                              ["host w2, ansible_host: '192.0.2.7' is also the address of w1", "give each host its own address"]),
    "node_name_not_a_host_name": (_inventory(["m1"], ["media_1"]),
                                  ["host media_1, inventory_hostname: 'media_1' is not a valid host name", "no spaces or underscores"]),
    "unknown_time_zone": (_inventory(["m1"], ["w1"], all_vars={"common_timezone": "Europe/Berln"}),
                          ["common_timezone: 'Europe/Berln' is not an IANA time zone", "Europe/Berlin"]),
    "media_account_is_root": (_inventory(["m1"], ["w1"], all_vars={"common_media_uid": 0}),
                              ["common_media_uid: UID 0 is root", "unprivileged UID"]),
    "overlay_overlaps_reserved_network": (_inventory(["m1"], ["w1"], {"m1": {"swarm_reserved_networks": ["10.201.3.0/24"]}}),
                                          ["host m1, swarm_networks", "overlaps 10.201.3.0/24 in swarm_reserved_networks"]),
    "overlay_holds_a_host_address": (_inventory(["m1"], ["w1"], {"w1": {"ansible_connection": "ssh", "ansible_host": "10.201.1.21"}}),
                                     ["overlay media (10.201.1.0/24) contains 10.201.1.21, the address of host w1",
                                      "give the overlay a subnet outside the hosts' networks"]),
    "backup_backend_unknown": (_inventory(["m1"], ["w1"], all_vars={"backup_repositories": [{"name": "nas", "location": "ftp://nas/b"}]}),
                               ["backup_repositories[0] (nas): location 'ftp://nas/b' uses backend 'ftp', which restic does not know",
                                "use one of local, sftp"]),
    "backup_password_too_short": (_inventory(["m1"], ["w1"], all_vars={"backup_password": "short"}),
                                  ["backup_password: site.yml backs up this node's service data to repository 'nas', which has no "
                                   "password of 8 characters or more"]),
    "backup_services_in_the_inventory": (_inventory(["m1"], ["w1"], all_vars={"backup_services": [{"name": "x", "paths": {}}]}),
                                         ["backup_services: is derived by site.yml from the service catalog",
                                          "services_catalog_overrides: {<service>: {backup_paths: [...]}}"]),
    "scrape_targets_in_the_inventory": (_inventory(["m1"], ["w1"], all_vars={"prometheus_service_targets": [SCRAPE_TARGET]}),
                                        ["prometheus_service_targets: is derived by site.yml from the service catalog",
                                         "add targets outside the catalog to prometheus_scrape_jobs"]),
    "metrics_port_not_exposed": (_inventory(["m1"], ["w1"], all_vars={"services_catalog_overrides": {"loki": {"networks": ["data"]}}}),
                                 ["The service catalog cannot be deployed; nothing was changed",
                                  "loki: metrics are scraped through traefik's metrics entrypoint, which reaches loki on its first network"]),
    "backup_path_relative": (_inventory(["m1"], ["w1"], all_vars={"backup_repositories": [{"name": "nas", "location": "backup/ms"}]}),
                             ["backup_repositories[0] (nas): local location 'backup/ms' is not an absolute path"]),
    "empty_secret": (_inventory(["m1"], ["w1"], all_vars={"services_secrets": {**SECRETS, "postgres_password": ""}}),
                     ["services_secrets.postgres_password: the secret is empty", "vault"]),
    "secret_in_clear_outside_the_vault": (_inventory(["m1"], ["w1"], all_vars=_without_plain_ok()),
                                          ["services_secrets.postgres_password: the secret is written in clear outside Ansible Vault",
                                           "ansible-vault"]),
    "catalog_needs_a_domain": (_inventory(["m1"], ["w1"], all_vars={"services_domain": ""}),
                               ["The service catalog cannot be deployed; nothing was changed",
                                "platform: domain is empty", "services_domain in the inventory"]),
    "catalog_needs_a_secret": (_inventory(["m1"], ["w1"], all_vars={"services_secrets": {k: v for k, v in SECRETS.items()
                                                                                         if k != "authelia_jwt_secret"}}),
                               ["authelia: secrets needs Docker secret 'authelia_jwt_secret', which is not defined",
                                "add it to services_secrets in the vault"]),
}


def _failed_check(doc: dict) -> tuple[str, str, str]:
    """(play, task, message) of the failure that stopped the run (the last failing task of the first play with a
    failure: a rescue's own failure comes after the task it rescued); asserts that no task of a later play ran."""
    plays = doc["plays"]
    for index, play in enumerate(plays):
        failing = [(task, r) for task in play["tasks"] for r in task["hosts"].values() if r.get("failed")]
        if failing:
            task, result = failing[-1]
            ran_later = [t["task"]["name"] for p in plays[index + 1:] for t in p["tasks"] if t["hosts"]]
            assert ran_later == [], "tasks ran after the failing check: %s" % ran_later
            msg = result.get("msg")
            return play["play"]["name"], task["task"]["name"], "\n".join(msg) if isinstance(msg, list) else str(msg)
    raise AssertionError("no task failed: %s" % [p["play"]["name"] for p in plays])


# site.yml imports validate.yml as its first plays: these cases run through the whole site.yml (proving that no
# later play starts); the others through validate.yml alone, which is the same plays without parsing every role.
THROUGH_SITE = {"typo_in_a_variable_name", "catalog_needs_a_secret", "two_hosts_one_address"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validation_stops_before_any_host_is_touched(case: str, tmp_path: Path):
    inventory, expected = CASES[case]
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump(copy.deepcopy(inventory)))
    proc = playbook("-i", str(inv), "site.yml" if case in THROUGH_SITE else "playbooks/validate.yml", json_output=True)
    assert proc.returncode != 0, proc.stdout[-2000:]
    doc = json_result(proc)
    play, task, message = _failed_check(doc)
    assert play in VALIDATION_PLAYS[:2], (play, task)
    assert "nothing was changed" in message, message
    flat = " ".join(message.split())
    for line in expected:
        assert " ".join(line.split()) in flat, (line, message)
    stats = doc["stats"]
    assert all(s["unreachable"] == 0 and s["changed"] == 0 for s in stats.values()), stats


def test_each_problem_is_printed_once_with_the_hosts_it_concerns(tmp_path: Path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump(_inventory(["m1", "m2", "m3"], ["w1", "w2"], all_vars={"common_media_gid": "many"})))
    doc = json_result(playbook("-i", str(inv), "playbooks/validate.yml", json_output=True))
    _play, _task, message = _failed_check(doc)
    lines = [line.strip().removeprefix("- ") for line in message.splitlines() if "common_media_gid" in line]
    assert len(lines) == 1 and lines[0].startswith("hosts m1, m2, m3, w1, w2, common_media_gid:"), message


def test_an_unparsable_inventory_is_an_error_naming_the_file(tmp_path: Path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    swarm_managers:\n      hosts:\n        m1: {ansible_host: 10.0.0.1\n")
    proc = subprocess.run(["ansible-playbook", "-i", str(inv), "site.yml"], cwd=ROOT, env=env(), text=True,
                          capture_output=True, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "Completely failed to parse inventory source %s" % inv in out, out[-2000:]
    assert "PLAY [" not in out, "a play started on an inventory that did not parse"


def _site_on_this_machine(tmp_path: Path, **all_vars):
    """site.yml with this machine (local connection) as the only node, a GPU media manager; the preflight only reads."""
    inv = tmp_path / "hosts.yml"
    inventory = {"all": {"vars": {**SERVICES, "common_hardware_check": "warn", **all_vars},
                         "children": {"swarm": {"children": {"swarm_managers": {"hosts": {"localnode": {
                             "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                             "swarm_node_labels": {"type": "media", "gpu": "true"}}}}}}}}}
    inv.write_text(yaml.safe_dump(inventory))
    return playbook("-i", str(inv), "site.yml", json_output=True)


def test_a_preflight_problem_stops_before_the_first_changing_play(tmp_path: Path):
    """Facts needed: this machine (local connection) as the only node; Jellyfin asks for more CPUs than it has."""
    proc = _site_on_this_machine(tmp_path, services_catalog_overrides={"jellyfin": {"resources": {"cpus": 512}}})
    assert proc.returncode != 0, proc.stdout[-2000:]
    doc = json_result(proc)
    play, task, message = _failed_check(doc)
    assert (play, task) == (VALIDATION_PLAYS[2], "Check the service plan against the nodes"), (play, task, message)
    assert "The nodes cannot run the service plan; nothing was changed" in message
    assert "jellyfin: resources.cpus 512 is more than every node it may run on has (localnode:" in message, message
    assert "services_catalog_overrides: {jellyfin: {resources: {cpus: N}}}" in message
    assert all(s["changed"] == 0 for s in doc["stats"].values()), doc["stats"]


def _local_kernel_options() -> dict:
    """This machine's kernel build options as node_features reads them ({} when its configuration is unreadable)."""
    release = os.uname().release
    source = node_features.kernel_config_path(None, release)
    return node_features.read_kernel_config(source) if source else {}


def test_missing_kernel_features_and_gpus_stop_the_preflight(tmp_path: Path):
    """Facts needed: this machine as the only node. Jellyfin asks for 16 GPUs (the most gpu.count allows) on a node
    labelled gpu=true (no test machine has them); with VIP endpoints (the production default) a kernel without IPVS
    is named too."""
    proc = _site_on_this_machine(tmp_path, swarm_service_endpoint_mode="vip",
                                 services_catalog_overrides={"jellyfin": {"gpu": {"count": 16}}})
    assert proc.returncode != 0, proc.stdout[-2000:]
    doc = json_result(proc)
    play, task, message = _failed_check(doc)
    assert (play, task) == (VALIDATION_PLAYS[2], "Check the service plan against the nodes"), (play, task, message)
    flat = " ".join(message.split())
    assert "The nodes cannot run the service plan; nothing was changed" in flat
    assert "jellyfin: needs 16 NVIDIA GPUs (gpu.count) and no node it may run on has that many (localnode: " in flat, message
    assert "remove the gpu label from nodes without one (swarm_node_labels)" in flat
    if _local_kernel_options().get("IP_VS", "n") not in ("y", "m"):  # this machine's kernel (the CI machine's has none)
        assert "localnode (%s, " % os.uname().release in flat and "(CONFIG_IP_VS not set); set swarm_service_endpoint_mode: dnsrr" in flat, message
    else:
        assert "CONFIG_IP_VS" not in flat, message
    assert all(s["changed"] == 0 for s in doc["stats"].values()), doc["stats"]


def _this_machines_network() -> tuple[str, str] | None:
    """(interface, network) of this machine's first IPv4 network that is not loopback or Docker's, or None."""
    proc = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=False)
    if proc.returncode:
        return None
    for iface in json.loads(proc.stdout):
        name = iface.get("ifname", "")
        if name == "lo" or name.startswith(("docker", "br-", "veth")):
            continue
        for addr in iface.get("addr_info", []):
            net = ipaddress.IPv4Interface("%s/%s" % (addr["local"], addr["prefixlen"])).network
            if net.prefixlen <= 29:
                return name, str(net)
    return None


def test_an_overlay_on_a_network_the_nodes_are_on_stops_the_preflight(tmp_path: Path):
    """Facts needed: the overlay media takes the subnet of this machine's own network (read with ip), which the
    validation play cannot know; the preflight names the overlay, the network, the node and its interface."""
    found = _this_machines_network()
    if found is None:
        pytest.skip("this machine has no IPv4 network of /29 or larger outside loopback and Docker")
    iface, network = found
    networks = [{"name": "media", "subnet": network, "attachable": True, "encrypted": False},
                {"name": "admin", "subnet": "10.201.2.0/24", "attachable": True, "encrypted": False},
                {"name": "data", "subnet": "10.201.3.0/24", "attachable": True, "encrypted": False},
                {"name": "dmz", "subnet": "10.201.4.0/24", "attachable": True, "encrypted": False}]
    proc = _site_on_this_machine(tmp_path, swarm_service_endpoint_mode="dnsrr", swarm_networks=networks)
    assert proc.returncode != 0, proc.stdout[-2000:]
    doc = json_result(proc)
    play, task, message = _failed_check(doc)
    assert (play, task) == (VALIDATION_PLAYS[2], "mediastack.core.swarm : Check the overlay networks against the networks the nodes are on"), \
        (play, task, message)
    flat = " ".join(message.split())
    assert "nothing was changed" in flat
    assert "overlay media (%s) overlaps %s, the network of localnode (%s " % (network, network, iface) in flat, message
    assert "Change its subnet in swarm_networks" in flat
    assert all(s["changed"] == 0 for s in doc["stats"].values()), doc["stats"]


def test_a_filesystem_mounted_below_the_library_root_stops_the_preflight(tmp_path: Path):
    """Hardlinks cannot cross mounts: a disk (here a bind mount) at <library>/media stops the run before any change."""
    library, disk = tmp_path / "library", tmp_path / "disk"
    (library / "media").mkdir(parents=True)
    disk.mkdir()
    if subprocess.run(["mount", "--bind", str(disk), str(library / "media")], capture_output=True, check=False).returncode:
        pytest.skip("bind mounts need root and CAP_SYS_ADMIN")
    try:
        proc = _site_on_this_machine(tmp_path, common_library_root=str(library))
    finally:
        subprocess.run(["umount", str(library / "media")], check=True)
    assert proc.returncode != 0, proc.stdout[-2000:]
    doc = json_result(proc)
    play, task, message = _failed_check(doc)
    assert (play, task) == (VALIDATION_PLAYS[2], "mediastack.core.common : Check that the library is one filesystem"), (play, task, message)
    assert "filesystems mounted below common_library_root (%s): %s/media" % (library, library) in message, message
    assert "Nothing was changed" in message and "set common_library_root to its mount point" in message
    assert all(s["changed"] == 0 for s in doc["stats"].values()), doc["stats"]


def _validate(inventory: str | Path, *extra: str):
    return playbook("-i", str(inventory), "playbooks/validate.yml", *extra, json_output=True)


def _passed(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json_result(proc)
    checked = [t for p in doc["plays"] for t in p["tasks"]
               if t["task"]["name"] in ("Check the inventory as a whole", "mediastack.core.services : Validate the catalog")]
    assert len(checked) == 2 and all(not r.get("failed") for t in checked for r in t["hosts"].values()), checked
    assert all(s["unreachable"] == 0 and s["failures"] == 0 and s["changed"] == 0 for s in doc["stats"].values())


def test_the_example_inventory_names_the_vault_values_it_lacks_and_passes_with_them(tmp_path: Path):
    """Without its vault file the example inventory stops on each missing secret; with it (encrypted) it passes.

    The inventory check comes first (the backup password every node's backups need), then the catalog's
    secrets; with all of them in an encrypted vault file the validation passes.
    """
    example = ROOT / "inventories" / "example"
    without = _validate(example)
    assert without.returncode != 0
    _play, _task, message = _failed_check(json_result(without))
    assert "backup_password" in message and "vault" in message, message
    site = tmp_path / "site"
    shutil.copytree(example, site)
    (site / "group_vars" / "all.yml").rename(tmp_path / "all.yml")
    (site / "group_vars" / "all").mkdir()
    (tmp_path / "all.yml").rename(site / "group_vars" / "all" / "main.yml")
    vault = site / "group_vars" / "all" / "vault.yml"
    password = tmp_path / "vault-password"
    password.write_text("ci-vault-password\n")

    def write_vault(values: dict) -> None:
        vault.write_text(yaml.safe_dump(values))
        subprocess.run(["ansible-vault", "encrypt", "--vault-password-file", str(password), str(vault)], cwd=ROOT, env=env(),
                       check=True, capture_output=True)
        assert vault.read_text().startswith("$ANSIBLE_VAULT;")

    write_vault({"backup_password": BACKUP_PASSWORD})
    partial = _validate(site, "--vault-password-file", str(password))
    assert partial.returncode != 0
    _play, _task, message = _failed_check(json_result(partial))
    for name in SECRETS:
        assert "services_secrets.%s" % name in message, message
    write_vault({"backup_password": BACKUP_PASSWORD, "services_secrets": SECRETS, "services_authelia_users": USERS})
    _passed(_validate(site, "--vault-password-file", str(password)))


class _Vaulted(str):
    """A value to write as an inline `!vault` scalar."""


class _VaultDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """SafeDumper that writes _Vaulted values as `!vault |` scalars."""


_VaultDumper.add_representer(_Vaulted, lambda d, v: d.represent_scalar("!vault", str(v), style="|"))


def _vault_leaves(value, vault):
    if isinstance(value, dict):
        return {k: _vault_leaves(v, vault) for k, v in value.items()}
    if isinstance(value, list):
        return [_vault_leaves(v, vault) for v in value]
    return _Vaulted(vault.encrypt(str(value)).decode())


def test_inline_vaulted_secrets_pass_as_an_awx_inventory_sync_needs_them(tmp_path: Path):
    """AWX syncs an inventory without a vault password, so secrets live as inline `!vault` values in plain files
    (docs/awx.md); the validation play takes them as coming from the vault and passes."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel

    vault = VaultLib([("default", VaultSecret(b"ci-vault-password"))])
    site = tmp_path / "site"
    shutil.copytree(ROOT / "inventories" / "example", site)
    secrets = {"backup_password": BACKUP_PASSWORD, "services_secrets": SECRETS, "services_authelia_users": USERS}
    text = yaml.dump(_vault_leaves(secrets, vault), Dumper=_VaultDumper)
    assert "$ANSIBLE_VAULT;" in text and "ci-postgres-password" not in text
    (site / "group_vars" / "swarm.yml").write_text(text)  # a plain file, no vault-encrypted file anywhere
    password = tmp_path / "vault-password"
    password.write_text("ci-vault-password\n")
    _passed(_validate(site, "--vault-password-file", str(password)))


def test_a_one_manager_inventory_passes(tmp_path: Path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump(_inventory(["m1"], ["w1"])))
    _passed(_validate(inv))
