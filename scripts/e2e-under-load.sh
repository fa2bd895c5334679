#!/usr/bin/env bash
# Run the e2e stage RUNS times in a row (default 3) with BURNERS CPU-bound processes (default 1)
# running beside it, stop at the first failure, and print one line per run. This is how issue 22's
# "passes on a machine under load three times in a row" is checked; it is not part of `make test`.
# Usage: scripts/e2e-under-load.sh [RUNS] [BURNERS]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
runs=${1:-3}
burners=${2:-1}
declare -a pids=()
# shellcheck disable=SC2317  # called through the EXIT trap
stop_burners() { [ "${#pids[@]}" -eq 0 ] || kill "${pids[@]}" 2>/dev/null; }
trap stop_burners EXIT
for _ in $(seq "$burners"); do
  # a pure CPU loop: no I/O, no memory growth; killed when this script exits
  python3 -c 'while True: pass' &
  pids+=("$!")
done
echo "load: $burners CPU-bound process(es) on $(nproc) cores: pids ${pids[*]}"
declare -a lines=()
overall=0
for run in $(seq "$runs"); do
  echo
  echo "=============================== e2e under load: run $run of $runs ==============================="
  start=$(date +%s)
  log=$(mktemp)
  if make --no-print-directory e2e 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then result=passed; else result=FAILED; overall=1; fi
  summary=$(grep -E '(passed|failed|error).* in [0-9.]+s' "$log" | tail -1 | tr -d '=' | sed 's/^ *//;s/ *$//')
  rm -f "$log"
  make --no-print-directory lab-down >/dev/null 2>&1 || true
  lines+=("$(printf 'run %s  %6s s  %-7s %s' "$run" "$(( $(date +%s) - start ))" "$result" "$summary")")
  [ "$overall" -eq 0 ] || break
done
echo
echo "e2e under load ($burners CPU-bound process(es), $(nproc) cores):"
printf '%s\n' "${lines[@]}"
exit "$overall"
