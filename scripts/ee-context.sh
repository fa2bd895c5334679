#!/usr/bin/env bash
# Build the collection tarball into ee/collection/ and write the execution environment's build context
# (ansible-builder create) to ${1:-.cache/ee/context}. The image build itself needs the registries:
#   podman build -t mediastack-ee:0.1.0 .cache/ee/context
set -euo pipefail
cd "$(dirname "$0")/.."
context=${1:-.cache/ee/context}
rm -rf ee/collection "$context"
mkdir -p ee/collection
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
# ee/requirements.yml installs it under a fixed name
cp "$out"/mediastack-core-*.tar.gz ee/collection/mediastack-core.tar.gz
ansible-builder create --file ee/execution-environment.yml --context "$context" --output-filename Containerfile >/dev/null
echo "execution environment build context: $context (Containerfile, _build/: $(find "$context/_build" -mindepth 1 -maxdepth 1 -printf '%f '))"
