#!/usr/bin/env bash
# Build the collection artifact and prove it carries no test, Molecule, lab or CI content, and that
# ansible-doc can render every plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/mediastack-core-*.tar.gz)
echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) entries)"
bad=$(tar -tzf "$tarball" | grep -E '^(tests|molecule|lab|scripts|\.ci|\.cache|\.venv|benchmarks|roles/lab|inventories/lab)(/|$)|playbooks/lab|collections/ansible_collections|playbooks/collections' || true)
if [ -n "$bad" ]; then
  echo "the artifact carries files it must not:" >&2
  echo "$bad" >&2
  exit 1
fi
# ansible-doc on every plugin, from the installed artifact (not the checkout).
ansible-galaxy collection install --force -p "$out/installed" "$tarball" --no-deps >/dev/null
site=$(python -c 'import ansible_collections, os; print(os.path.dirname(list(ansible_collections.__path__)[-1]))')
export ANSIBLE_COLLECTIONS_PATH="$out/installed:$site"
count=0
for kind in module filter; do
  dir=plugins/${kind}s; [ "$kind" = filter ] && dir=plugins/filter
  for f in "$dir"/*.py; do
    [ -e "$f" ] || continue
    base=$(basename "$f" .py)
    if [ "$kind" = filter ]; then
      names=$(python - "$f" <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.FunctionDef) and node.name == "filters":
        for ret in ast.walk(node):
            if isinstance(ret, ast.Dict):
                print(" ".join(k.value for k in ret.keys))
PY
)
    else
      names=$base
    fi
    for name in $names; do
      ansible-doc -t "$kind" "mediastack.core.$name" > "$out/doc.txt" 2>&1 || { cat "$out/doc.txt" >&2; echo "ansible-doc failed for $kind mediastack.core.$name" >&2; exit 1; }
      grep -q 'WARNING' "$out/doc.txt" && { cat "$out/doc.txt" >&2; echo "ansible-doc warned for $kind mediastack.core.$name" >&2; exit 1; }
      count=$((count + 1))
    done
  done
done
echo "ansible-doc rendered $count plugins"
