#!/usr/bin/env bash
# Every Molecule scenario (docker driver, the offline lab image): check mode on the fresh host,
# converge, idempotence (changed=0), verify.
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIASTACK_LAB_IMAGE=$(scripts/lab-image.sh)
export MEDIASTACK_LAB_IMAGE
for scenario in molecule/*/molecule.yml; do
  name=$(basename "$(dirname "$scenario")")
  echo "--- molecule scenario: $name (image $MEDIASTACK_LAB_IMAGE)"
  molecule test -s "$name"
done
