"""Every role of the collection is reachable from site.yml by its name as a tag.

For each directory under roles/, `site.yml --tags <role> --list-tasks` on the example inventory must list
at least one task of that role that does work (not only its always-tagged argument validation or
preflight, which every tag selects). A thin service role (roles/navidrome, ...) does its work through the
role it includes (mediastack.core.services, with its tag applied): --list-tasks cannot look inside a dynamic
include, so its include task counts (the lab e2e runs one: test_tags_navidrome_touches_only_navidrome).
A role that site.yml does not run yet is listed in NOT_IN_SITE with the reason; the test also fails when
such a role becomes reachable, so the list cannot go stale.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from .helpers import ROOT, playbook

INVENTORY = "inventories/example"
# role -> why site.yml does not run it (yet)
NOT_IN_SITE = {
    "lab": "builds the test lab itself (playbooks/lab.yml), not part of a site",
    "awx_controller": "configures an AWX/Tower/AAP controller's API from localhost (playbooks/awx_controller.yml), not the site's hosts",
}
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
IMPORT_RE = re.compile(r"^\s+name: mediastack\.core\.(\w+)\s*$", re.M)
TASK_RE = re.compile(r"^\s+mediastack\.core\.(?P<role>\w+) : (?P<name>.*)\tTAGS: \[(?P<tags>[^\]]*)\]$", re.M)
# The include task of a thin service role (an include is listed without its role's name).
INCLUDE_RE = re.compile(r"^\s+(?P<name>Deploy (?P<role>\w+) and its dependencies from the catalog)\tTAGS: \[(?P<tags>[^\]]*)\]$", re.M)


def _imported(role: str) -> set[str]:
    """The collection roles that the role's tasks import or include."""
    return {m for path in (ROOT / "roles" / role / "tasks").glob("*.yml") for m in IMPORT_RE.findall(path.read_text())}


def _working_tasks(tag: str) -> dict[str, list[str]]:
    """role -> names of the tasks `--tags <tag> --list-tasks` selects that carry the tag and not always."""
    proc = playbook("-i", INVENTORY, "site.yml", "--tags", tag, "--list-tasks")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out: dict[str, list[str]] = {}
    for match in list(TASK_RE.finditer(proc.stdout)) + list(INCLUDE_RE.finditer(proc.stdout)):
        tags = {t.strip() for t in match["tags"].split(",")}
        if tag in tags and "always" not in tags:
            out.setdefault(match["role"], []).append(match["name"])
    return out


@pytest.fixture(scope="module")
def listed() -> dict[str, dict[str, list[str]]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(ROLES, pool.map(_working_tasks, ROLES)))


def test_the_exempt_roles_exist():
    assert set(NOT_IN_SITE) <= set(ROLES), set(NOT_IN_SITE) - set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_a_tag_of_site_yml(role: str, listed: dict[str, dict[str, list[str]]]):
    tasks = [name for owner in {role} | _imported(role) for name in listed[role].get(owner, [])]
    if role in NOT_IN_SITE:
        assert tasks == [], "%s is now reachable from site.yml; remove it from NOT_IN_SITE (%s)" % (role, NOT_IN_SITE[role])
    else:
        assert tasks, "site.yml --tags %s lists no task of the role that does work: %s" % (role, listed[role])
