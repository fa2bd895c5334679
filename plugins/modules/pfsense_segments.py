#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: pfsense_segments
short_description: Manage network segments (VLANs, interfaces, DHCP, aliases, zero-trust rules) in pfSense's config.xml
version_added: 0.1.0
description:
  - Brings the segments of a mediastack segment plan into a pfSense C(config.xml) - VLANs on a trunk interface, interface
    assignments (C(optN)) with the gateway address, DHCP ranges and static mappings, network and port aliases, and firewall rules
    expanded from a zero-trust policy - and leaves every other element of the file as it was.
  - Managed objects carry a C(mediastack:) description prefix (rules also a tracker in a reserved range), so removing a segment
    from the plan removes exactly its VLAN, interface, DHCP server, aliases and rules.
  - The plan and policy are checked with the same code as the P(mediastack.core.segment_plan#filter) and
    P(mediastack.core.zero_trust_rules#filter) filters; a bad plan fails before anything is written.
  - Runs on the pfSense box itself (its Python, standard library only) against C(/cf/conf/config.xml), or on any host against a
    copy fetched from the firewall.
  - The module only writes the file. pfSense applies it with C(/etc/rc.reload_all) (interfaces, VLANs, DHCP, filter); on the live
    file the module also removes C(/tmp/config.cache) so pfSense reads the new file. A fetched copy is restored through
    Diagnostics > Backup & Restore, which applies it. See RV(apply_command).
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    support: full
    description: Computes the changes and the diff and writes nothing.
  diff_mode:
    support: full
    description: Shows the change to config.xml as a text diff (both sides serialised the same way, so only real changes show).
options:
  path:
    description:
      - The pfSense configuration file.
    type: path
    default: /cf/conf/config.xml
  segments:
    description:
      - The segment plan, a list of segments as documented for P(mediastack.core.segment_plan_validate#filter)
        (C(name), C(vlan), C(subnet), optional C(gateway), C(dhcp), C(reserved), C(static), C(description), C(parent)).
      - Segments managed earlier but missing here are removed with everything that belongs to them.
      - Required when O(state=present).
    type: list
    elements: dict
    default: []
  policy:
    description:
      - The zero-trust policy, as documented for P(mediastack.core.zero_trust_rules#filter) (C(default=deny) and C(flows)).
      - Without flows every segment gets only its default-deny rule.
    type: dict
    default: {}
  parent_interface:
    description:
      - The physical trunk interface (for example C(em1), C(igb1), C(vmx1)) that carries the segment VLANs.
      - A segment's C(parent) key overrides it for that segment.
      - Required when O(state=present).
    type: str
  docker_pools:
    description:
      - Docker address pools the segments must not overlap (CIDR strings or C({base, size}) mappings).
    type: list
    elements: raw
    default: []
  state:
    description:
      - V(present) makes the managed objects match O(segments) and O(policy).
      - V(absent) removes every object this module manages and nothing else.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
  config_cache:
    description:
      - pfSense's parsed-config cache, removed after a write so pfSense reads the new file.
      - Defaults to C(/tmp/config.cache) when O(path) is C(/cf/conf/config.xml), and to nothing otherwise.
    type: path
notes:
  - Comments survive; CDATA sections are written back as escaped text and empty elements in the short form, which pfSense reads the same.
  - The interface description is the segment name in upper case; pfSense shows it in the GUI and in rule lists.
seealso:
  - name: pfSense configuration file
    description: Where pfSense keeps its configuration and how to restore it.
    link: https://docs.netgate.com/pfsense/en/latest/backup/index.html
"""

EXAMPLES = r"""
- name: Segments and zero-trust rules on the firewall itself
  mediastack.core.pfsense_segments:
    parent_interface: igb1
    segments:
      - {name: media, vlan: 10, subnet: 10.10.1.0/24, static: [{name: proxy, address: 10.10.1.10, mac: "52:54:00:00:01:10"}]}
      - {name: admin, vlan: 20, subnet: 10.10.2.0/24}
      - {name: data, vlan: 30, subnet: 10.10.3.0/24, dhcp: false}
      - {name: dmz, vlan: 40, subnet: 10.10.4.0/24, dhcp: {start: 10.10.4.100, end: 10.10.4.150}}
    policy:
      default: deny
      flows:
        - {name: dmz-proxy, from: dmz, to: media, ports: [80, 443]}
        - {name: admin-mgmt, from: admin, to: all, ports: [22, 9090, 9100]}
        - {name: media-db, from: media, to: data, ports: [5432, 6379]}
    backup: true
  register: pfsense

- name: Apply on pfSense (interfaces, VLANs, DHCP, filter)
  ansible.builtin.command: /etc/rc.reload_all
  when: pfsense is changed
  changed_when: true

- name: Preview the change on a fetched copy
  mediastack.core.pfsense_segments:
    path: /srv/backups/pfsense/config.xml
    parent_interface: igb1
    segments: "{{ mediastack_segments }}"
    policy: "{{ mediastack_policy }}"
  check_mode: true
  diff: true
  delegate_to: localhost

- name: Remove everything mediastack manages
  mediastack.core.pfsense_segments:
    state: absent
"""

RETURN = r"""
actions:
  description: What changed, one line per object (empty when nothing changed).
  returned: always
  type: list
  elements: str
  sample: ["add vlan igb1.10 (media)", "add interface opt3 (MEDIA on igb1.10)", "add alias ms_n_media"]
interfaces:
  description: The pfSense interface key (C(optN)) of each segment.
  returned: when O(state=present)
  type: dict
  sample: {"media": "opt3", "admin": "opt4"}
rules:
  description: Number of managed firewall rules after the run.
  returned: always
  type: int
  sample: 9
backup_file:
  description: The copy made before the change.
  returned: when O(backup=true) and the file changed
  type: str
  sample: /cf/conf/config.xml.12345.2024-01-01@00:00:00~
apply_command:
  description: The command that makes pfSense use the changed file (empty when nothing changed or in check mode).
  returned: always
  type: str
  sample: /etc/rc.reload_all
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import NetPlanError, derive_plan, expand_policy
from ansible_collections.mediastack.core.plugins.module_utils.network.pfsense import (
    PfsenseConfigError,
    SegmentConfig,
    canonical,
    parse_config,
    serialize,
    stamp_revision,
)

LIVE_CONFIG = "/cf/conf/config.xml"
LIVE_CACHE = "/tmp/config.cache"
APPLY_COMMAND = "/etc/rc.reload_all"


class PfsenseSegments:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params

    def desired(self) -> tuple:
        if self.params["state"] == "absent":
            return [], []
        if not self.params["segments"]:
            self.module.fail_json(msg="segments is empty; give the segment plan, or use state=absent to remove every managed object")
        if not self.params["parent_interface"]:
            self.module.fail_json(msg="parent_interface is required with state=present; name the trunk NIC that carries the VLANs (e.g. igb1)")
        try:
            segments = derive_plan(self.params["segments"], self.params["docker_pools"])
            policy = self.params["policy"] or {"default": "deny", "flows": []}
            rules = expand_policy(policy, self.params["segments"], self.params["docker_pools"])
        except NetPlanError as exc:
            self.module.fail_json(msg="invalid segment plan or policy: %s" % exc)
        return segments, rules

    def read(self) -> bytes:
        path = self.params["path"]
        if not os.path.isfile(path):
            self.module.fail_json(msg="%s does not exist; on pfSense use /cf/conf/config.xml, elsewhere fetch it first "
                                      "(Diagnostics > Backup & Restore, or ansible.builtin.fetch)" % path)
        with open(path, "rb") as handle:
            return handle.read()

    def write(self, text: str) -> str | None:
        path = self.params["path"]
        backup = self.module.backup_local(path) if self.params["backup"] else None
        fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".xml", dir=os.path.dirname(os.path.abspath(path)))
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        self.module.atomic_move(tmp, path)
        cache = self.params["config_cache"] or (LIVE_CACHE if os.path.abspath(path) == LIVE_CONFIG else None)
        if cache and os.path.exists(cache):
            os.unlink(cache)
        return backup

    def run(self) -> dict:
        segments, rules = self.desired()
        data = self.read()
        try:
            root, declaration = parse_config(data)
            before_tree = canonical(root)
            before = serialize(root, declaration)
            config = SegmentConfig(root, segments, rules, self.params["parent_interface"] or "")
            actions = config.apply()
        except PfsenseConfigError as exc:
            self.module.fail_json(msg="%s: %s" % (self.params["path"], to_native(exc)))
        changed = bool(actions) and canonical(root) != before_tree
        result = {"changed": changed, "actions": actions if changed else [], "rules": len(rules), "apply_command": ""}
        if self.params["state"] == "present":
            result["interfaces"] = config.interfaces
        if changed:
            stamp_revision(root, "mediastack.core.pfsense_segments: %d change(s) to segments, DHCP, aliases and rules" % len(actions))
            after = serialize(root, declaration)
            if self.module._diff:
                result["diff"] = {"before": before, "after": after, "before_header": self.params["path"], "after_header": self.params["path"]}
            if not self.module.check_mode:
                backup = self.write(after)
                if backup:
                    result["backup_file"] = backup
                result["apply_command"] = APPLY_COMMAND
        return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default=LIVE_CONFIG),
            segments=dict(type="list", elements="dict", default=[]),
            policy=dict(type="dict", default={}),
            parent_interface=dict(type="str"),
            docker_pools=dict(type="list", elements="raw", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            backup=dict(type="bool", default=False),
            config_cache=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**PfsenseSegments(module).run())


if __name__ == "__main__":
    main()
