# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reconcile mediastack's network segments into a pfSense ``config.xml`` tree (stdlib only).

Managed objects and how they are recognised, so that anything else is never touched:

* VLANs (``<vlans><vlan>``): ``descr`` starts with ``mediastack:<segment>``.
* Interface assignments (``<interfaces><optN>``): ``if`` is the ``vlanif`` of a managed VLAN.
  Only ``descr``, ``if``, ``enable``, ``ipaddr`` and ``subnet`` are managed; other keys set in the GUI stay.
* DHCP (``<dhcpd><optN>`` of a managed interface): ``enable``, ``range`` and ``staticmap`` entries whose
  ``descr`` starts with ``mediastack:``; lease times and other options set in the GUI stay.
* Aliases (``<aliases><alias>``): ``descr`` starts with ``mediastack:`` (names ``ms_n_<segment>``, ``ms_p_<flow>``).
* Firewall rules (``<filter><rule>``): ``tracker`` in the managed range and ``descr`` starts with ``mediastack:``.
"""
from __future__ import annotations

import ipaddress
import re
import time
import xml.etree.ElementTree as ET

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import TRACKER_BASE, TRACKER_SPAN
from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

MARKER = "mediastack"
MARK = MARKER + ":"
SEGMENT_MARK_RE = re.compile(r"^" + MARKER + r":([a-z][a-z0-9_]*)")
IFACE_KEYS = ("descr", "if", "enable", "ipaddr", "subnet")
INDENT = "\t"


class PfsenseConfigError(InputError):
    """config.xml cannot take the plan as it stands; the message says what to change."""


# --------------------------------------------------------------------------- XML in/out


def parse_config(data: bytes) -> tuple:
    """Parse config.xml bytes; return (root, xml declaration line or '')."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    try:
        root = ET.fromstring(data, parser=parser)
    except ET.ParseError as exc:
        raise PfsenseConfigError("config.xml does not parse as XML (%s); restore it from a pfSense backup "
                                 "(Diagnostics > Backup & Restore > Config History) before running again" % exc)
    if root.tag != "pfsense":
        raise PfsenseConfigError("the root element is <%s>, not <pfsense>; point 'path' at pfSense's config.xml" % root.tag)
    head = data.lstrip()[:200].decode("utf-8", "replace")
    declaration = head[:head.index("?>") + 2] if head.startswith("<?xml") and "?>" in head else ""
    return root, declaration


def serialize(root: ET.Element, declaration: str) -> str:
    body = ET.tostring(root, encoding="unicode")
    return (declaration + "\n" if declaration else "") + body + "\n"


def canonical(elem: ET.Element) -> tuple:
    """Whitespace-insensitive structural form of an element, for comparisons."""
    return (elem.tag if isinstance(elem.tag, str) else "#comment", (elem.text or "").strip(), tuple(sorted(elem.attrib.items())),
            tuple(canonical(child) for child in elem))


def _text(elem: ET.Element | None, path: str) -> str:
    if elem is None:
        return ""
    found = elem.find(path)
    return (found.text or "").strip() if found is not None else ""


def _build(tag: str, spec: object) -> ET.Element:
    """Build an element from a spec: str/None text, or a list of (tag, spec) children."""
    elem = ET.Element(tag)
    if isinstance(spec, list):
        for child_tag, child_spec in spec:
            elem.append(_build(child_tag, child_spec))
    elif spec is not None:
        elem.text = str(spec)
    return elem


def _indent(elem: ET.Element, depth: int) -> None:
    """Pretty-print a newly built element at ``depth`` (root's children are depth 1)."""
    if len(elem):
        elem.text = "\n" + INDENT * (depth + 1)
        for child in elem:
            _indent(child, depth + 1)
            child.tail = "\n" + INDENT * (depth + 1)
        elem[-1].tail = "\n" + INDENT * depth


def _insert(parent: ET.Element, child: ET.Element, depth: int, index: int | None = None) -> None:
    """Insert ``child`` (at ``depth``) into ``parent`` keeping the file's indentation."""
    _indent(child, depth)
    if index is None:
        index = len(parent)
    if len(parent) == 0:
        parent.text = "\n" + INDENT * depth
        child.tail = "\n" + INDENT * (depth - 1)
    elif index >= len(parent):
        child.tail = parent[-1].tail
        parent[-1].tail = "\n" + INDENT * depth
    else:
        child.tail = "\n" + INDENT * depth
    parent.insert(index, child)


def _remove(parent: ET.Element, child: ET.Element) -> None:
    index = list(parent).index(child)
    if index == len(parent) - 1:
        if index > 0:
            parent[index - 1].tail = child.tail
        else:
            parent.text = child.tail
    parent.remove(child)


def _section(root: ET.Element, tag: str) -> ET.Element:
    found = root.find(tag)
    if found is None:
        found = ET.Element(tag)
        _insert(root, found, 1)
    return found


def _set_child(parent: ET.Element, tag: str, value: str | None, depth: int) -> bool:
    """Make ``parent/tag`` hold ``value`` (None = absent, '' = empty flag element). True when changed."""
    found = parent.find(tag)
    if value is None:
        if found is None:
            return False
        _remove(parent, found)
        return True
    if found is None:
        elem = ET.Element(tag)
        elem.text = value or None
        _insert(parent, elem, depth)
        return True
    if (found.text or "").strip() != value or len(found):
        for sub in list(found):
            found.remove(sub)
        found.text = value or None
        return True
    return False


def _marked(elem: ET.Element) -> bool:
    return _text(elem, "descr").startswith(MARK)


def _segment_of(elem: ET.Element) -> str:
    match = SEGMENT_MARK_RE.match(_text(elem, "descr"))
    return match.group(1) if match else ""


def _is_managed_rule(rule: ET.Element) -> bool:
    tracker = _text(rule, "tracker")
    return tracker.isdigit() and TRACKER_BASE <= int(tracker) < TRACKER_BASE + TRACKER_SPAN and _marked(rule)


def _iface_net(iface: ET.Element) -> tuple:
    """(address, prefix) of a statically addressed interface, else None."""
    addr, prefix = _text(iface, "ipaddr"), _text(iface, "subnet")
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", addr) and prefix.isdigit():
        return addr, int(prefix)
    return None


# --------------------------------------------------------------------------- desired objects


def alias_segment(name: str) -> str:
    return "ms_n_%s" % name


def alias_ports(flow: str) -> str:
    return "ms_p_%s" % flow.replace("-", "_")


def _vlan_spec(seg: dict, parent: str) -> list:
    return [("if", parent), ("tag", str(seg["vlan"])), ("pcp", None),
            ("descr", "%s%s %s" % (MARK, seg["name"], seg["description"])), ("vlanif", "%s.%d" % (parent, seg["vlan"]))]


def _alias_spec(name: str, kind: str, addresses: list, descr: str) -> list:
    return [("name", name), ("type", kind), ("address", " ".join(addresses)), ("descr", MARK + " " + descr),
            ("detail", "||".join([MARKER] * len(addresses)))]


def _rule_spec(rule: dict, iface: str) -> list:
    spec = [("id", None), ("tracker", str(rule["tracker"])), ("type", rule["action"]), ("interface", iface),
            ("ipprotocol", "inet"), ("statetype", "keep state")]
    if rule["action"] == "pass":
        dst = [("address", rule["dst_net"].split("/")[0] if rule["to_host"] else alias_segment(rule["dst"])),
               ("port", alias_ports(rule["flow"]))]
        spec += [("protocol", rule["proto"]), ("source", [("address", alias_segment(rule["src"]))]), ("destination", dst)]
    else:
        spec += [("source", [("address", alias_segment(rule["src"]))]), ("destination", [("any", None)]), ("log", None)]
    spec.append(("descr", "%s %s" % (MARK, rule["description"])))
    return spec


# --------------------------------------------------------------------------- reconciliation


class SegmentConfig:
    """Bring the managed part of one config tree to the desired segments and rules; record what changed."""

    def __init__(self, root: ET.Element, segments: list, rules: list, parent: str) -> None:
        self.root = root
        self.segments = segments
        self.rules = rules
        self.parent = parent
        self.actions = []  # type: list
        self.interfaces = {}  # type: dict

    # -- helpers ---------------------------------------------------------
    def _managed_vlans(self) -> dict:
        vlans = self.root.find("vlans")
        found = {}
        if vlans is not None:
            for vlan in vlans.findall("vlan"):
                name = _segment_of(vlan)
                if name:
                    found[name] = vlan
        return found

    def _check_conflicts(self, managed_vlans: dict) -> None:
        managed_ifs = set(_text(v, "vlanif") for v in managed_vlans.values())
        vlans = self.root.find("vlans")
        for seg in self.segments:
            parent = seg["parent"] or self.parent
            for vlan in (vlans.findall("vlan") if vlans is not None else []):
                if _segment_of(vlan):
                    continue
                if _text(vlan, "if") == parent and _text(vlan, "tag") == str(seg["vlan"]):
                    raise PfsenseConfigError(
                        "segment '%s': VLAN %d on %s already exists in config.xml and is not managed by mediastack (descr '%s'); "
                        "pick another vlan for the segment, or delete that VLAN in pfSense (Interfaces > Assignments > VLANs)"
                        % (seg["name"], seg["vlan"], parent, _text(vlan, "descr")))
        interfaces = self.root.find("interfaces")
        for iface in (list(interfaces) if interfaces is not None else []):
            if _text(iface, "if") in managed_ifs:
                continue
            for seg in self.segments:
                vlanif = "%s.%d" % (seg["parent"] or self.parent, seg["vlan"])
                if _text(iface, "if") == vlanif:
                    raise PfsenseConfigError("segment '%s': interface %s (%s) already uses %s and is not managed by mediastack; "
                                             "unassign it in pfSense or pick another vlan" % (seg["name"], iface.tag, _text(iface, "descr"), vlanif))
                net = _iface_net(iface)
                if net is None:
                    continue
                other = ipaddress.ip_interface("%s/%d" % net).network
                if other.overlaps(ipaddress.ip_network(seg["subnet"])):
                    raise PfsenseConfigError("segment '%s': subnet %s overlaps interface %s (%s, %s/%d); move the segment "
                                             "or renumber that interface" % (seg["name"], seg["subnet"], iface.tag,
                                                                             _text(iface, "descr") or iface.tag, net[0], net[1]))
        aliases = self.root.find("aliases")
        wanted = set(alias_segment(s["name"]) for s in self.segments) | set(alias_ports(r["flow"]) for r in self.rules if r["action"] == "pass")
        for alias in (aliases.findall("alias") if aliases is not None else []):
            if not _marked(alias) and _text(alias, "name") in wanted:
                raise PfsenseConfigError("alias '%s' already exists in config.xml and is not managed by mediastack; rename or delete it "
                                         "in pfSense (Firewall > Aliases)" % _text(alias, "name"))
        trackers = set(str(r["tracker"]) for r in self.rules)
        filt = self.root.find("filter")
        for rule in (filt.findall("rule") if filt is not None else []):
            if not _is_managed_rule(rule) and _text(rule, "tracker") in trackers:
                raise PfsenseConfigError("firewall rule '%s' uses tracker %s, which mediastack reserves; edit and re-save that rule "
                                         "in pfSense to give it a new tracker" % (_text(rule, "descr"), _text(rule, "tracker")))

    def _replace_or_add(self, parent: ET.Element, existing: ET.Element | None, tag: str, spec: list, depth: int, what: str) -> None:
        desired = _build(tag, spec)
        if existing is not None:
            if canonical(existing) == canonical(desired):
                return
            index = list(parent).index(existing)
            tail = existing.tail
            parent.remove(existing)
            _indent(desired, depth)
            desired.tail = tail
            parent.insert(index, desired)
            self.actions.append("update %s" % what)
        else:
            _insert(parent, desired, depth)
            self.actions.append("add %s" % what)

    # -- sections --------------------------------------------------------
    def _vlans(self, managed: dict) -> dict:
        vlans = _section(self.root, "vlans")
        old_ifs = {}
        for name, vlan in managed.items():
            old_ifs[name] = _text(vlan, "vlanif")
        for seg in self.segments:
            parent = seg["parent"] or self.parent
            self._replace_or_add(vlans, managed.get(seg["name"]), "vlan", _vlan_spec(seg, parent), 2,
                                 "vlan %s.%d (%s)" % (parent, seg["vlan"], seg["name"]))
        return old_ifs

    def _interfaces(self, old_ifs: dict) -> None:
        interfaces = _section(self.root, "interfaces")
        by_if = dict((_text(i, "if"), i) for i in interfaces)
        used = set(i.tag for i in interfaces)
        for seg in self.segments:
            vlanif = "%s.%d" % (seg["parent"] or self.parent, seg["vlan"])
            iface = by_if.get(old_ifs.get(seg["name"], vlanif)) or by_if.get(vlanif)
            if iface is None:
                number = 1
                while "opt%d" % number in used:
                    number += 1
                iface = ET.Element("opt%d" % number)
                used.add(iface.tag)
                _insert(interfaces, iface, 2)
                self.actions.append("add interface %s (%s on %s)" % (iface.tag, seg["name"].upper(), vlanif))
                changed = True
            else:
                changed = False
            values = {"descr": seg["name"].upper(), "if": vlanif, "enable": "", "ipaddr": seg["gateway"], "subnet": str(seg["prefixlen"])}
            for key in IFACE_KEYS:
                if _set_child(iface, key, values[key], 3) and not changed:
                    changed = True
                    self.actions.append("update interface %s (%s)" % (iface.tag, seg["name"].upper()))
            self.interfaces[seg["name"]] = iface.tag

    def _dhcpd(self) -> None:
        dhcpd = _section(self.root, "dhcpd")
        for seg in self.segments:
            key = self.interfaces[seg["name"]]
            entry = dhcpd.find(key)
            before = canonical(entry) if entry is not None else None
            if not seg["dhcp"]["enabled"]:
                if entry is not None and _set_child(entry, "enable", None, 3):
                    self.actions.append("disable dhcp on %s (%s)" % (key, seg["name"]))
                continue
            if entry is None:
                entry = ET.Element(key)
                _insert(dhcpd, entry, 2)
            _set_child(entry, "enable", "", 3)
            rng = entry.find("range")
            desired = _build("range", [("from", seg["dhcp"]["start"]), ("to", seg["dhcp"]["end"])])
            if rng is None or canonical(rng) != canonical(desired):
                if rng is not None:
                    _remove(entry, rng)
                _insert(entry, desired, 3)
            for smap in entry.findall("staticmap"):
                if _marked(smap):
                    _remove(entry, smap)
            for host, mac in sorted(seg["static_macs"].items()):
                smap = _build("staticmap", [("mac", mac), ("ipaddr", seg["static"][host]), ("hostname", host),
                                            ("descr", "%s %s" % (MARK, host))])
                _insert(entry, smap, 3)
            if before is None:
                self.actions.append("add dhcp range %s-%s on %s (%s)" % (seg["dhcp"]["start"], seg["dhcp"]["end"], key, seg["name"]))
            elif canonical(entry) != before:
                self.actions.append("update dhcp on %s (%s)" % (key, seg["name"]))

    def _aliases(self) -> None:
        aliases = _section(self.root, "aliases") if self.segments else self.root.find("aliases")
        if aliases is None:
            return
        managed = dict((_text(a, "name"), a) for a in aliases.findall("alias") if _marked(a))
        wanted = []
        for seg in self.segments:
            wanted.append((alias_segment(seg["name"]), "network", [seg["subnet"]], "%s subnet" % seg["name"]))
        flows = []
        for rule in self.rules:
            if rule["action"] == "pass" and rule["flow"] not in [f[0] for f in flows]:
                flows.append((rule["flow"], rule["ports"], rule["proto"]))
        for flow, ports, proto in flows:
            wanted.append((alias_ports(flow), "port", [p.replace("-", ":") for p in ports], "%s ports (%s)" % (flow, proto)))
        names = set()
        for name, kind, addresses, descr in wanted:
            names.add(name)
            self._replace_or_add(aliases, managed.get(name), "alias", _alias_spec(name, kind, addresses, descr), 2, "alias %s" % name)
        for name, alias in managed.items():
            if name not in names:
                _remove(aliases, alias)
                self.actions.append("remove alias %s" % name)

    def _filter(self) -> None:
        filt = _section(self.root, "filter") if self.rules else self.root.find("filter")
        if filt is None:
            return
        existing = [r for r in filt.findall("rule") if _is_managed_rule(r)]
        desired = [_build("rule", _rule_spec(rule, self.interfaces[rule["src"]])) for rule in self.rules]
        if [canonical(r) for r in existing] == [canonical(r) for r in desired]:
            return
        old = dict((_text(r, "tracker"), r) for r in existing)
        new = dict((_text(r, "tracker"), r) for r in desired)
        for tracker, rule in old.items():
            if tracker not in new:
                self.actions.append("remove rule %s (%s)" % (tracker, _text(rule, "descr")))
            elif canonical(rule) != canonical(new[tracker]):
                self.actions.append("update rule %s (%s)" % (tracker, _text(new[tracker], "descr")))
        for tracker, rule in new.items():
            if tracker not in old:
                self.actions.append("add rule %s (%s)" % (tracker, _text(rule, "descr")))
        if set(old) == set(new) and not any(canonical(old[t]) != canonical(new[t]) for t in old):
            self.actions.append("reorder managed rules")
        children = list(filt)
        index = children.index(existing[0]) if existing else None
        for rule in existing:
            _remove(filt, rule)
        for offset, rule in enumerate(desired):
            _insert(filt, rule, 2, None if index is None else index + offset)

    def _remove_segments(self, managed: dict, keep: set) -> None:
        interfaces = self.root.find("interfaces")
        dhcpd = self.root.find("dhcpd")
        vlans = self.root.find("vlans")
        for name, vlan in managed.items():
            if name in keep:
                continue
            vlanif = _text(vlan, "vlanif")
            for iface in (list(interfaces) if interfaces is not None else []):
                if _text(iface, "if") == vlanif:
                    entry = dhcpd.find(iface.tag) if dhcpd is not None else None
                    if entry is not None:
                        _remove(dhcpd, entry)
                        self.actions.append("remove dhcp on %s (%s)" % (iface.tag, name))
                    _remove(interfaces, iface)
                    self.actions.append("remove interface %s (%s)" % (iface.tag, name))
            _remove(vlans, vlan)
            self.actions.append("remove vlan %s (%s)" % (vlanif, name))

    def apply(self) -> list:
        """Reconcile; return the list of actions (empty when the tree already matched)."""
        managed = self._managed_vlans()
        self._check_conflicts(managed)
        keep = set(s["name"] for s in self.segments)
        # Rules and aliases first: they reference interfaces and aliases that may go away.
        old_ifs = self._vlans(managed) if self.segments else {}
        if self.segments:
            self._interfaces(old_ifs)
            self._dhcpd()
        self._filter()
        self._aliases()
        self._remove_segments(managed, keep)
        return self.actions


def stamp_revision(root: ET.Element, description: str, now: int | None = None) -> None:
    """Record the change in ``<revision>`` as pfSense's write_config() does."""
    revision = root.find("revision")
    if revision is None:
        revision = ET.Element("revision")
        _insert(root, revision, 1)
    _set_child(revision, "time", str(int(now if now is not None else time.time())), 2)
    _set_child(revision, "description", description, 2)
    _set_child(revision, "username", "%s.core (Ansible)" % MARKER, 2)
