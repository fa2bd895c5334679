"""Adding a service is one catalog entry plus generated files (scripts/catalog_roles.py).

The thin per-service roles and site.yml's list of them are generated from the catalog: the repository's copies
must match it (``--check``), and a made-up service added to a copy of the collection touches exactly its catalog
entry and the generated files, plans and renders through the one deploy path, and is reachable as
``site.yml --tags <name>``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "catalog_roles.py"
CATALOG = Path("roles/services/files/catalog-seed.yml")
NEW = "shelfdemo"
# A made-up app, written as a newcomer would from docs/adding-a-service.md.
ENTRY = """
{name}:
  description: Made-up e-book shelf (the adding-a-service test)
  image: example/shelfdemo:1.4.2
  networks: [media]
  resources: {{cpus: 1, memory: 512M}}
  volumes:
    - {{kind: config, target: /config}}
    - {{kind: media, source: books, target: /books, read_only: true}}
  route: {{subdomain: shelf, port: 8083}}
  healthcheck: {{test: [CMD, curl, -fsS, "http://localhost:8083/"]}}
  backup_paths: [/config]
""".format(name=NEW)


def run(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, env=env, text=True, capture_output=True, check=False, timeout=600)


def digest_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_generated_files_match_the_catalog():
    proc = run(sys.executable, str(SCRIPT), "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "generated files match the catalog" in proc.stdout


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the collection as git sees it (tracked and untracked-but-not-ignored files)."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    assert listed.returncode == 0, "the test copies the checkout's files as git lists them: %s" % listed.stderr
    base = tmp_path_factory.mktemp("collections")
    dest = base / "ansible_collections" / "mediastack" / "core"
    for name in filter(None, listed.stdout.split("\0")):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def added(collection: Path) -> list[str]:
    """Add the made-up service's entry and run the generator: the files that changed."""
    before = digest_tree(collection)
    with (collection / CATALOG).open("a", encoding="utf-8") as handle:
        handle.write(ENTRY)
    proc = run(sys.executable, str(collection / "scripts" / "catalog_roles.py"), "--root", str(collection))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = digest_tree(collection)
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def test_a_made_up_service_is_one_catalog_entry_plus_generated_files(collection: Path, added: list[str]):
    print("\nadding %s touched: %s" % (NEW, ", ".join(added)))
    assert added == sorted([str(CATALOG), "playbooks/site.yml", "roles/%s/meta/argument_specs.yml" % NEW,
                            "roles/%s/meta/main.yml" % NEW, "roles/%s/tasks/main.yml" % NEW])
    again = run(sys.executable, str(collection / "scripts" / "catalog_roles.py"), "--root", str(collection), "--check")
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_made_up_service_plans_renders_and_has_its_tag(collection: Path, added: list[str]):
    assert "roles/%s/tasks/main.yml" % NEW in added
    sys.path.insert(0, str(collection.parents[2]))
    try:
        from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service
        from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import deploy_plan
        from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack
    finally:
        sys.path.pop(0)
    entries = yaml.safe_load((collection / CATALOG).read_text(encoding="utf-8"))
    platform = {"domain": "media.example.org", "gpu_nodes": ["w1"]}
    plan = deploy_plan(entries, platform, enabled=["traefik", "authelia", "redis", "postgres", NEW], only=[NEW])
    assert plan["order"][-1] == NEW and plan["routes"][NEW] == "shelf.media.example.org"
    assert [e for e in plan["backup"] if e["service"] == NEW], plan["backup"]
    stack = render_stack(parse_service(NEW, entries[NEW], platform), platform)
    assert stack["services"][NEW]["image"] == "example/shelfdemo:1.4.2"
    assert stack["services"][NEW]["deploy"]["labels"]["traefik.http.routers.%s.rule" % NEW] == "Host(`shelf.media.example.org`)"
    env = dict(os.environ, ANSIBLE_CONFIG=str(collection / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(collection.parents[2]),
               ANSIBLE_NOCOLOR="1")
    listed = run(str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/example", "site.yml", "--tags", NEW,
                 "--list-tasks", cwd=collection, env=env)
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    # The thin role includes the services role (an include, so --list-tasks shows the include, not what it runs;
    # the lab's test_tags_navidrome_touches_only_navidrome runs one for real).
    selected = [line for line in listed.stdout.splitlines() if NEW in line.split("TAGS:")[-1]]
    assert any("Deploy %s and its dependencies from the catalog" % NEW in line for line in selected), listed.stdout[-3000:]
