# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/versions.md's table from the service catalog: service, pinned image, upstream (the entry's
``# upstream:`` comment), the route's port, the access policy and whether the tag was verified.

    .venv/bin/python scripts/versions_doc.py            rewrite the table between the markers
    .venv/bin/python scripts/versions_doc.py --check    write nothing; exit 1 when the doc differs (a unit test runs it)

The catalog is the one description of each service; this table is derived from it, never edited by hand.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "roles" / "services" / "files" / "catalog-seed.yml"
DOC = ROOT / "docs" / "versions.md"
BEGIN, END = "<!-- versions:start -->\n", "<!-- versions:end -->\n"
ENTRY = re.compile(r"^(?P<name>[a-z][a-z0-9-]*):\s*$")
UPSTREAM = re.compile(r"^\s+# upstream: (?P<url>\S+)(?P<rest>.*)$")
NOT_VERIFIED = re.compile(r"tag not verified|tag unverified|no pinnable|floating", re.I)


def upstreams(text: str) -> dict[str, tuple[str, str]]:
    """Per service the first ``# upstream: URL ...`` comment of its entry: (URL, the rest of the comment block)."""
    out, current, notes = {}, None, {}
    for line in text.splitlines():
        match = ENTRY.match(line)
        if match:
            current = match.group("name")
            continue
        if current is None or not line.startswith("  #"):
            continue
        notes.setdefault(current, []).append(line.strip("# ").strip())
        match = UPSTREAM.match(line)
        if match and current not in out:
            out[current] = match.group("url")
    return {name: (out.get(name, "?"), " ".join(notes.get(name, []))) for name in set(out) | set(notes)}


def auth_cell(entry: dict) -> str:
    if not entry.get("route"):
        return "- (internal)"
    auth = entry.get("auth") or {}
    auth = {"policy": auth} if isinstance(auth, str) else auth
    cell = str(auth.get("policy", "two_factor"))
    if auth.get("groups"):
        cell += " " + ",".join(auth["groups"])
    if auth.get("bypass_paths"):
        cell += "; clients: " + " ".join("`%s`" % p for p in auth["bypass_paths"])
    return cell


def table(text: str) -> str:
    catalog = yaml.safe_load(text)
    info = upstreams(text)
    rows = ["| service | image | upstream | port | auth | tag verified |", "|---|---|---|---|---|---|"]
    for name, entry in catalog.items():
        url, notes = info.get(name, ("?", ""))
        verified = "**no** (see the entry's comment)" if NOT_VERIFIED.search(notes) else "yes"
        port = (entry.get("route") or {}).get("port", "-")
        rows.append("| %s | `%s` | %s | %s | %s | %s |" % (name, entry["image"], url, port, auth_cell(entry), verified))
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    doc = DOC.read_text(encoding="utf-8")
    if doc.count(BEGIN) != 1 or doc.count(END) != 1:
        print("versions_doc: %s must hold the markers %s and %s once each" % (DOC, BEGIN.strip(), END.strip()), file=sys.stderr)
        return 2
    head, rest = doc.split(BEGIN)
    _old, tail = rest.split(END)
    wanted = head + BEGIN + table(CATALOG.read_text(encoding="utf-8")) + END + tail
    if wanted == doc:
        print("versions_doc: docs/versions.md matches the catalog")
        return 0
    if args.check:
        print("versions_doc: docs/versions.md differs from the catalog; run .venv/bin/python scripts/versions_doc.py", file=sys.stderr)
        return 1
    DOC.write_text(wanted, encoding="utf-8")
    print("versions_doc: wrote docs/versions.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
