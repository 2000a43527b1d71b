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
#
# III_INSTR_MODE=sequential counts calls made one at a time instead (2,000
# and 8,000 sequential calls): every frame then comes in a read of its
# own, so the figure pays every per-read cost and moves less with timing.
#
# glibc fills and copies blocks of 2 KiB and more with `rep stosb` and
# `rep movsb`, which valgrind counts as one instruction per byte: the 16
# KiB that tungstenite zeroes before every read attempt then counted some
# 16,000 instructions where the CPU runs a few hundred cycles, half of a
# sequential call's whole count. The script raises glibc's thresholds so
# that such blocks go through the vector loops, and each store counts once
# (set GLIBC_TUNABLES yourself to measure otherwise).
export GLIBC_TUNABLES=${GLIBC_TUNABLES-glibc.cpu.x86_rep_stosb_threshold=0x40000000:glibc.cpu.x86_rep_movsb_threshold=0x40000000}
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
mode=${III_INSTR_MODE:-concurrent}
case "$mode" in
  concurrent) calls() { echo "1 $1 1"; } ;;
  sequential) calls() { echo "$1 0 1"; } ;;
  *) echo "III_INSTR_MODE: concurrent or sequential, not $mode" >&2; exit 2 ;;
esac
total() { # SCENARIO CALLS -> instructions of the whole run
  # shellcheck disable=SC2046 # three numbers, split on purpose
  III_BENCH_FIRST_STEP_US=${III_BENCH_FIRST_STEP_US:-1000000} III_BENCH_ONLY=$1 valgrind --tool=callgrind --callgrind-out-file="$work/out" \
    "$bin" $(calls "$2") >/dev/null 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
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
  printf '%-22s %7d instructions per call, %s (median of %s)\n' "${names[$s]}" "$median" "$mode" "${figures[*]}"
done
