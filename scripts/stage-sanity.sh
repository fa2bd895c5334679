#!/usr/bin/env bash
# ansible-test sanity, offline. ansible-test wants to download pip's bootstrap script; it first
# looks in its cache, so a stand-in there bootstraps pip with ensurepip and installs the pinned
# sanity requirements from PyPI (../shared/LAB.md). The collection must sit at
# .../ansible_collections/<ns>/<name>/ and be a git checkout, so the working tree (tracked and
# untracked-not-ignored files) is copied to one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
core_version=$(python -c 'from ansible.release import __version__; print(__version__)')
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for v in 24_2 24_3 25_0 25_1; do
  cat > "$cache/get_pip_$v.py" <<'PY'
"""Offline stand-in for pip's get-pip.py used by ansible-test: ensurepip, then pip install."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
PY
done
dest="$root/.cache/sanity/ansible_collections/mediastack/core"
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  # the checkout's links to itself (collections/ansible_collections/mediastack/core, playbooks/collections) are
  # for plain checkouts (ansible.cfg); ansible-test wants no directory links, and the copy sits where they point
  if [ -L "$f" ] && [ -d "$f" ]; then continue; fi
  mkdir -p "$dest/$(dirname "$f")"
  cp -a "$f" "$dest/$f"
done
cd "$dest"
git init -q
git add -A
git -c user.email=ci@localhost -c user.name=ci commit -q -m sanity
echo "ansible-test sanity on ansible-core $core_version"
# shellcheck disable=SC2086  # SANITY_ARGS holds several arguments
ansible-test sanity --color no --venv --python 3.11 ${SANITY_ARGS:-}
