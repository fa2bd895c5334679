"""The execution environment (AWX/Tower/AAP, ansible-navigator), offline: ansible-builder writes a build context from
ee/execution-environment.yml with this collection's own tarball in it, and introspects the built collection's Python
and system dependencies from meta/execution-environment.yml. Building the image needs the registries (validated only)."""
from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import yaml

from .helpers import ROOT

CONTEXT_LINE = re.compile(r"^execution environment build context: (?P<context>\S+) ")


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[name.split("[")[0].strip().lower()] = version.strip()
    return out


def test_ansible_builder_writes_a_context_that_installs_this_collection(tmp_path: Path):
    context = tmp_path / "context"
    proc = subprocess.run(["scripts/ee-context.sh", str(context)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert CONTEXT_LINE.match(proc.stdout.strip().splitlines()[-1]), proc.stdout
    containerfile = (context / "Containerfile").read_text()
    assert "quay.io/centos/centos:stream9" in containerfile and "ansible-core==2.19.14" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "COPY _build /build" in containerfile
    # the galaxy step installs mediastack.core from the tarball the context carries, where requirements.yml says
    wanted = yaml.safe_load((context / "_build/requirements.yml").read_text())["collections"]
    local = [c["name"] for c in wanted if c.get("type") == "file"]
    assert local == ["/build/collection/mediastack-core.tar.gz"], wanted
    tarball = context / "_build/collection/mediastack-core.tar.gz"
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        names = tar.getnames()
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("mediastack", "core", galaxy["version"])
    assert "meta/execution-environment.yml" in names and not any(n.startswith(("ee/", "tests/")) for n in names)


def test_introspect_reads_the_collections_dependencies(tmp_path: Path):
    out = tmp_path / "dist"
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(ROOT)],
                   capture_output=True, check=True, timeout=600)
    installed = tmp_path / "installed"
    subprocess.run(["ansible-galaxy", "collection", "install", "--force", "--no-deps", "-p", str(installed), *map(str, out.glob("*.tar.gz"))],
                   capture_output=True, check=True, timeout=600)
    proc = subprocess.run(["ansible-builder", "introspect", str(installed)], capture_output=True, text=True,
                          check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    found = yaml.safe_load(proc.stdout)
    ours = {kind: [line.split("#")[0].strip() for line in found[kind] if line.endswith("# from collection mediastack.core")]
            for kind in ("python", "system")}
    # meta/ee-requirements.txt less PyYAML, which ansible-builder leaves out (ansible-core brings it)
    assert ours["python"] == ["docker>=7.0.0", "netaddr>=1.0.0"], proc.stdout
    assert "openssh-client [platform:dpkg]" in ours["system"], proc.stdout


def test_the_ee_pins_agree_with_the_toolchain():
    """ee/ pins what requirements.txt pins (the same Python packages, the collections PyPI's ansible ships)."""
    ee, tool = _pins(ROOT / "ee/requirements.txt"), _pins(ROOT / "requirements.txt")
    assert {k: v for k, v in ee.items() if k in tool} == {k: v for k, v in tool.items() if k in ee} and len(set(ee) & set(tool)) >= 4
    definition = yaml.safe_load((ROOT / "ee/execution-environment.yml").read_text())
    assert definition["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==%s" % tool["ansible-core"]
    # the image is tagged with the collection's version, and ansible-navigator runs that image
    image = "mediastack-ee:%s" % yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    assert definition["options"]["tags"] == [image]
    navigator = yaml.safe_load((ROOT / "ansible-navigator.yml").read_text())["ansible-navigator"]
    assert navigator["execution-environment"]["image"] == image
    import ansible_collections  # the venv's PyPI ansible package
    site = Path(list(ansible_collections.__path__)[-1])
    for entry in yaml.safe_load((ROOT / "ee/requirements.yml").read_text())["collections"]:
        if entry.get("type") == "file":
            continue
        namespace, name = entry["name"].split(".")
        shipped = json.loads((site / namespace / name / "MANIFEST.json").read_text())["collection_info"]["version"]
        assert entry["version"] == shipped, (entry, shipped)
