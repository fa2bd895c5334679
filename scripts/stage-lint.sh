#!/usr/bin/env bash
# ansible-lint with the production profile (offline: Galaxy is unreachable), then yamllint.
set -euo pipefail
cd "$(dirname "$0")/.."
ansible-lint --offline --profile production
yamllint -s .
