"""Unit tests of the whole-inventory validation behind the first play of site.yml."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.inventory_problems import inventory_problems
from ansible_collections.mediastack.core.plugins.plugin_utils.inventory_check import Spec, check_inventory

ROLES = Path(__file__).resolve().parents[4] / "roles"


# Every Swarm node backs up its catalog data (site.yml), so each needs the repository password; a throwaway
# test inventory keeps it in clear and says so.
BACKUP = {"backup_password": "unit-test-backup-password", "mediastack_plain_secrets_ok": True}


def good_inventory():
    hostvars = {
        "m1": dict(BACKUP), "m2": dict(BACKUP), "m3": dict(BACKUP),
        "w1": {"swarm_node_labels": {"type": "media", "gpu": "true"}, **BACKUP},
        "w2": {"swarm_node_labels": {"type": "data", "ssd": "true"}, "common_media_uid": 2001, **BACKUP},
    }
    groups = {"all": list(hostvars), "swarm_managers": ["m1", "m2", "m3"], "swarm_workers": ["w1", "w2"],
              "swarm": list(hostvars)}
    return hostvars, groups


def problems(hostvars, groups):
    return inventory_problems(hostvars, groups)


def test_good_inventory_has_no_problem():
    assert problems(*good_inventory()) == []


def test_missing_managers_group():
    hostvars, groups = good_inventory()
    del groups["swarm_managers"]
    out = problems(hostvars, groups)
    assert len(out) == 1
    assert "no 'swarm_managers' group" in out[0] and "odd number" in out[0]


@pytest.mark.parametrize("count", [2, 4, 6])
def test_even_managers(count):
    hostvars, groups = good_inventory()
    groups["swarm_managers"] = ["m%d" % i for i in range(1, count + 1)]
    for host in groups["swarm_managers"]:
        hostvars.setdefault(host, dict(BACKUP))
    groups["swarm"] = list(hostvars)
    out = problems(hostvars, groups)
    assert len(out) == 1 and "has %d hosts" % count in out[0] and "1, 3 or 5" in out[0]


def test_host_in_exclusive_groups():
    hostvars, groups = good_inventory()
    groups["swarm_workers"].append("m2")
    out = problems(hostvars, groups)
    assert out == ["host m2, groups swarm_managers + swarm_workers: is in swarm_managers and swarm_workers, which exclude "
                   "each other. Fix: keep m2 in exactly one of swarm_managers, swarm_workers"]


@pytest.mark.parametrize(
    "var,value,expect",
    [
        ("common_media_uid", "two thousand", "common_media_uid: is 'two thousand' (str) but role common expects type int"),
        ("common_packages", {"a": 1}, "common_packages"),
        ("common_timezone", 5, "common_timezone: is 5 (int) but role common expects type str"),
        ("swarm_node_labels", "type=media", "swarm_node_labels: is 'type=media' (str) but inventory expects type dict"),
        ("common_data_tree", ["media"], "expects type dict"),
    ],
)
def test_wrong_variable_type_names_host_variable_and_fix(var, value, expect):
    hostvars, groups = good_inventory()
    hostvars["w1"][var] = value
    out = problems(hostvars, groups)
    assert len(out) == 1, out
    assert out[0].startswith("host w1, " + var)
    assert expect in out[0]
    assert "Fix: give %s a value of type" % var in out[0]


def test_list_elements_are_checked():
    hostvars, groups = good_inventory()
    hostvars["m1"]["common_packages"] = ["curl", {"name": "jq"}]
    out = problems(hostvars, groups)
    assert len(out) == 1 and "common_packages[1] is {'name': 'jq'} (dict)" in out[0] and "expects type str there" in out[0]


@pytest.mark.parametrize(
    "labels,expect",
    [
        ({"type": "media server"}, "contains spaces"),
        ({"gpu": True}, "quote it as a string"),
        ({"Bad Key": "x"}, "not a valid Swarm label key"),
    ],
)
def test_label_problems(labels, expect):
    hostvars, groups = good_inventory()
    hostvars["w1"]["swarm_node_labels"] = labels
    out = problems(hostvars, groups)
    assert len(out) == 1 and expect in out[0] and out[0].startswith("host w1, swarm_node_labels.")


def test_problems_accumulate():
    hostvars, groups = good_inventory()
    groups["swarm_managers"] = ["m1", "m2"]
    groups["swarm_workers"].append("m1")
    hostvars["w2"]["common_media_gid"] = "x"
    assert len(problems(hostvars, groups)) == 3


def test_bad_groups_argument():
    with pytest.raises(AnsibleFilterError, match="groups"):
        inventory_problems({}, ["swarm_managers"])


def test_spec_covers_every_role_option():
    spec = Spec.from_roles(ROLES)
    for path in ROLES.glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(path.read_text())["argument_specs"].values():
            for name in entry.get("options", {}):
                assert name in spec.options, name
    assert spec.owner["swarm_node_labels"] == "inventory"


def test_check_inventory_is_pure():
    hostvars, groups = good_inventory()
    before = repr((hostvars, groups))
    check_inventory(hostvars, groups, Spec.from_roles(ROLES))
    assert repr((hostvars, groups)) == before


@pytest.mark.parametrize(
    "hostvar,value,expect",
    [
        ("swarm_reserved_networks", ["10.201.1.0/25"], "overlaps 10.201.1.0/25 in swarm_reserved_networks"),
        ("swarm_default_addr_pool", ["10.0.0.0/8"], "in swarm_default_addr_pool"),
        ("swarm_networks", [{"name": "media", "subnet": "10.201.1.0/24"}, {"name": "dmz", "subnet": "10.201.1.128/25"}],
         "overlaps 10.201.1.0/24 of network media"),
    ],
)
def test_overlay_problems_are_found_before_any_change(hostvar, value, expect):
    hostvars, groups = good_inventory()
    for host in groups["swarm_managers"]:
        hostvars[host][hostvar] = value
    out = problems(hostvars, groups)
    assert out and all(line.startswith("host m1, swarm_networks:") for line in out)
    assert any(expect in line for line in out), out


def test_default_overlays_are_clean():
    hostvars, groups = good_inventory()
    spec = Spec.from_roles(ROLES)
    assert spec.defaults["swarm_networks"][0]["subnet"] == "10.201.1.0/24"
    assert check_inventory(hostvars, groups, spec) == []


# ---------------------------------------------------------------------------------------- issue 20's checks


def one(hostvars, groups, *needles):
    """The single problem line; every needle must be in it."""
    out = problems(hostvars, groups)
    assert len(out) == 1, out
    for needle in needles:
        assert needle in out[0], (needle, out[0])
    return out[0]


@pytest.mark.parametrize("typo,suggestion", [
    ("common_timezon", "common_timezone"),
    ("swarm_netwroks", "swarm_networks"),
    ("services_secret", "services_secrets"),
    ("backup_retension", "backup_retention"),
])
def test_a_typo_in_a_role_variable_is_an_error_with_did_you_mean(typo, suggestion):
    hostvars, groups = good_inventory()
    hostvars["w1"][typo] = "x"
    one(hostvars, groups, "host w1, %s: is not a variable of role" % typo, "would be ignored and the default used",
        "Fix: did you mean %s?" % suggestion)


def test_an_unknown_role_variable_without_a_close_name_points_at_the_docs():
    hostvars, groups = good_inventory()
    hostvars["m1"]["docker_flux_capacitor"] = True
    one(hostvars, groups, "docker_flux_capacitor", "ansible-doc -t role mediastack.core.docker")


def test_variables_of_other_tools_and_private_ones_are_not_typos():
    hostvars, groups = good_inventory()
    # community.docker.docker_containers sets docker_* on the hosts it finds; _private and other prefixes are not ours
    hostvars["m1"].update({"docker_short_id": "abc", "docker_state": {"Running": True}, "_common_x": 1, "my_setting": 2})
    assert problems(hostvars, groups) == []


def test_a_problem_in_group_vars_is_one_line_naming_every_host():
    hostvars, groups = good_inventory()
    for host in hostvars:
        hostvars[host]["common_media_uid"] = "lots"
    out = problems(hostvars, groups)
    assert len(out) == 1, out
    assert out[0].startswith("hosts m1, m2, m3, w1, w2, common_media_uid: is 'lots' (str)")


@pytest.mark.parametrize("var,value,needles", [
    ("common_packages", "curl,jq", ["is 'curl,jq' (str) but role common expects type list", "write it as a YAML list"]),
    ("swarm_networks", [{"name": "media", "subnet": "10.201.1.0/24", "attachable": "sure"}], ["swarm_networks"]),
    ("backup_engine", "tar", ["backup_engine", "restic", "borg"]),
    ("common_media_uid", 20.5, ["common_media_uid"]),
])
def test_types_choices_and_nested_options_come_from_the_argument_specs(var, value, needles):
    hostvars, groups = good_inventory()
    hostvars["w2"][var] = value
    one(hostvars, groups, "host w2, %s" % var, *needles)


@pytest.mark.parametrize("hostvar,value,needles", [
    ("ansible_host", "10.0.0.300", ["'10.0.0.300' is not an IP address", "set ansible_host"]),
    ("ansible_host", "media server", ["neither an IP address nor a valid host name"]),
    ("ansible_host", "fe80::zz", ["not an IP address"]),
])
def test_host_addresses_are_addresses(hostvar, value, needles):
    hostvars, groups = good_inventory()
    hostvars["w1"][hostvar] = value
    one(hostvars, groups, "host w1, ansible_host", *needles)


def test_two_hosts_with_one_address():
    hostvars, groups = good_inventory()
    hostvars["w1"]["ansible_host"] = "192.0.2.7"
    hostvars["w2"]["ansible_host"] = "192.0.2.7"
    one(hostvars, groups, "host w2, ansible_host: '192.0.2.7' is also the address of w1", "give each host its own address")


def test_same_address_on_another_port_or_connection_is_allowed():
    hostvars, groups = good_inventory()
    hostvars["w1"].update({"ansible_host": "192.0.2.7", "ansible_port": 22})
    hostvars["w2"].update({"ansible_host": "192.0.2.7", "ansible_port": 2222})
    assert problems(hostvars, groups) == []


def test_a_node_name_must_be_a_host_name():
    hostvars, groups = good_inventory()
    hostvars["media_1"] = {"ansible_host": "192.0.2.9", **BACKUP}
    groups["swarm_workers"].append("media_1")
    groups["swarm"].append("media_1")
    one(hostvars, groups, "host media_1, inventory_hostname", "not a valid host name", "no spaces or underscores")


def test_a_worker_outside_the_swarm_group_is_never_reached():
    hostvars, groups = good_inventory()
    groups["swarm"].remove("w2")
    one(hostvars, groups, "host w2, group swarm: is in swarm_workers but not in swarm", "make swarm_workers a child group")


def test_time_zone_must_exist():
    hostvars, groups = good_inventory()
    hostvars["m2"]["common_timezone"] = "Europe/Berln"
    one(hostvars, groups, "host m2, common_timezone: 'Europe/Berln' is not an IANA time zone", "Europe/Berlin")


@pytest.mark.parametrize("var,value,needle", [
    ("common_media_uid", 0, "UID 0 is root"), ("common_media_gid", 0, "GID 0 is root"),
    ("common_media_uid", 65534, "UID 65534 is outside 1-65533"),
])
def test_media_account_is_not_root(var, value, needle):
    hostvars, groups = good_inventory()
    hostvars["w1"][var] = value
    one(hostvars, groups, "host w1, %s: %s" % (var, needle), "unprivileged")


def test_an_overlay_must_not_hold_a_host_address():
    hostvars, groups = good_inventory()
    hostvars["w1"]["ansible_host"] = "10.201.3.31"
    one(hostvars, groups, "host m1, swarm_networks: overlay data (10.201.3.0/24) contains 10.201.3.31, the address of host w1")


@pytest.mark.parametrize("engine,location,needle", [
    ("restic", "ftp://nas/backup", "uses backend 'ftp', which restic does not know"),
    ("restic", "backup/mediastack", "is not an absolute path"),
    ("borg", "s3:https://s3.example/bucket", "uses backend 's3', which borg does not know"),
])
def test_backup_repository_locations(engine, location, needle):
    hostvars, groups = good_inventory()
    hostvars["w2"].update({"backup_engine": engine, "backup_repositories": [{"name": "nas", "location": location}]})
    one(hostvars, groups, "host w2, backup_repositories[0] (nas): ", needle)


@pytest.mark.parametrize("engine,location", [
    ("restic", "/srv/backup"), ("restic", "sftp:backup@nas:/srv/restic"), ("restic", "s3:https://s3.example/bucket"),
    ("restic", "rest:https://backup.example:8000/"), ("borg", "/srv/borg"), ("borg", "backup@nas:/srv/borg"),
    ("borg", "ssh://backup@nas:22/srv/borg"),
])
def test_backup_repository_locations_that_work(engine, location):
    hostvars, groups = good_inventory()
    hostvars["w2"].update({"backup_engine": engine, "backup_repositories": [{"name": "nas", "location": location}]})
    assert problems(hostvars, groups) == []


def test_an_empty_secret_is_an_error_and_its_value_is_never_printed():
    hostvars, groups = good_inventory()
    hostvars["m1"]["services_secrets"] = {"authelia_jwt_secret": "", "postgres_password": "hunter2-very-secret"}
    out = problems(hostvars, groups)
    text = "\n".join(out)
    assert "services_secrets.authelia_jwt_secret: the secret is empty" in text
    assert "hunter2" not in text


def test_a_secret_in_clear_outside_the_vault_is_an_error_unless_the_lab_opts_out(tmp_path):
    from ansible._internal._datatag._tags import Origin

    plain = tmp_path / "all.yml"
    plain.write_text("services_secrets: {postgres_password: hunter2}\n")
    value = Origin(path=str(plain), line_num=1).tag("hunter2")
    hostvars, groups = good_inventory()
    hostvars["m1"]["mediastack_plain_secrets_ok"] = False
    hostvars["m1"]["services_secrets"] = {"postgres_password": value}
    line = one(hostvars, groups, "host m1, services_secrets.postgres_password: the secret is written in clear outside "
               "Ansible Vault", "ansible-vault", "mediastack_plain_secrets_ok: true")
    assert "hunter2" not in line
    hostvars["m1"]["mediastack_plain_secrets_ok"] = True
    assert problems(hostvars, groups) == []


def test_a_secret_from_a_vaulted_file_passes(tmp_path):
    from ansible._internal._datatag._tags import Origin
    from ansible.parsing.vault import VaultLib, VaultSecret

    vaulted = tmp_path / "vault.yml"
    vaulted.write_bytes(VaultLib([("default", VaultSecret(b"pw"))]).encrypt("services_secrets: {postgres_password: x}\n"))
    hostvars, groups = good_inventory()
    hostvars["m1"]["services_secrets"] = {"postgres_password": Origin(path=str(vaulted), line_num=1).tag("hunter2")}
    assert problems(hostvars, groups) == []


def test_every_secret_looking_option_is_marked_no_log():
    """The secret checks (and the hiding of values) key on no_log: an option named like a secret must carry it."""
    spec = Spec.from_roles(ROLES)
    names_of_secrets = {"grafana_admin_password_secret"}  # the name of a Docker secret, not its value
    looks_secret = [n for n, o in spec.options.items() if any(w in n for w in ("password", "secret", "token", "unlock_key"))
                    and o.get("type") not in ("bool", "path") and n not in names_of_secrets]
    assert looks_secret, "expected some secret options"
    assert [n for n in looks_secret if not spec.secret(n)] == []


@pytest.mark.parametrize("domain", ["media server.org", "localhost", "10.0.0.1", "-bad-.example.org"])
def test_the_services_domain_must_be_a_dns_domain(domain):
    hostvars, groups = good_inventory()
    hostvars["m1"]["services_domain"] = domain
    one(hostvars, groups, "host m1, services_domain: %r is not a DNS domain" % domain, "media.example.org")
