#!/usr/bin/env bash
# Instructions per call of the call benchmark's scenarios, counted by
# callgrind: steady where CPU time on a shared machine is not.
#
#   cargo build --release -p iii-benches
#   tests/engine/run benches/instructions.sh [BINARY] [SCENARIO...]
#
# Each scenario (0 floor, 1 sdk -> bare, 2 bare -> sdk, 3 sdk -> sdk; all
# four by default) runs twice under valgrind, with 2,000 and with 8,000
# concurrent calls; the difference of the two totals, divided by 6,000, is
# the process's user-space instructions per call (caller and callee
# together; the engine's own work is not counted when III_URL names an
# engine in another process, as under tests/engine/run). The fixed costs
# (start-up, connecting, shutting down) cancel out.
#
# The count still depends on timing: how many frames each read finds
# decides how often the per-read and per-wake-up costs are paid. One
# measurement of the same binary moved by up to 3,000 instructions (7%)
# from one run to the next, so each scenario is measured III_INSTR_RUNS
# times (default 3) and the script prints every figure and their median.
set -euo pipefail
bin=${1:-target/release/iii-bench}
shift || true
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(0 1 2 3)
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 3; }
[ -x "$bin" ] || { echo "no benchmark binary at $bin (cargo build --release -p iii-benches)" >&2; exit 3; }
names=("bare -> bare (floor)" "sdk -> bare" "bare -> sdk" "sdk -> sdk")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Under valgrind every step takes far longer, and a thread may wait for
# the others' turns in the middle of one: a first step of 5 us natively
# would pass the SDK's 100 us budget and send the echo function to tasks
# of their own (WorkerBuilder::first_step_budget); 5 ms was not enough.
total() { # SCENARIO CALLS -> instructions of the whole run
  III_BENCH_FIRST_STEP_US=${III_BENCH_FIRST_STEP_US:-1000000} III_BENCH_ONLY=$1 valgrind --tool=callgrind --callgrind-out-file="$work/out" \
    "$bin" 1 "$2" 1 >/dev/null 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/log"
}

runs=${III_INSTR_RUNS:-3}
for s in "${scenarios[@]}"; do
  figures=()
  for _ in $(seq "$runs"); do
    small=$(total "$s" 2000)
    large=$(total "$s" 8000)
    figures+=($(((large - small) / 6000)))
  done
  median=$(printf '%s\n' "${figures[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  printf '%-22s %7d instructions per call (median of %s)\n' "${names[$s]}" "$median" "${figures[*]}"
done
