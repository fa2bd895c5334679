#!/usr/bin/env bash
# Run the named stages in order, stop at the first failure, and always print a timing table.
# Each stage is `make <stage>` (see the Makefile); the lab is torn down at the end either way.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
declare -a names=() times=() results=()
overall=0
print_table() {
  printf '\n%-12s %10s  %s\n' stage seconds result
  printf '%-12s %10s  %s\n' ------------ ---------- ------
  local total=0
  for i in "${!names[@]}"; do
    printf '%-12s %10s  %s\n' "${names[$i]}" "${times[$i]}" "${results[$i]}"
    total=$((total + times[i]))
  done
  printf '%-12s %10s\n' total "$total"
}
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  make --no-print-directory lab-down >/dev/null 2>&1 || echo "warning: lab-down failed" >&2
  make --no-print-directory molecule-clean >/dev/null 2>&1 || true
}
trap cleanup EXIT
for stage in "$@"; do
  echo
  echo "=============================== stage: $stage ==============================="
  start=$(date +%s)
  if make --no-print-directory "$stage"; then result=passed; else result=FAILED; overall=1; fi
  names+=("$stage"); times+=($(( $(date +%s) - start ))); results+=("$result")
  [ "$overall" -eq 0 ] || break
done
print_table
exit "$overall"
