#!/usr/bin/env bash
# Timed figures that survive a noisy machine: pairs of adjacent runs.
#
#   cargo build --release -p iii-benches
#   tests/engine/run benches/pairs.sh PAIRS BIN_A SCENARIO_A BIN_B SCENARIO_B
#
# On a shared machine, a run's CPU per call moves by a third from one run
# to the next (the floor's went from 10.5 to 17.5 us between identical
# runs), and the machine stays fast or slow for a while. So two figures
# are compared run by run: each pair runs A and B back to back (A first in
# odd pairs, B first in even ones), and the script prints the median and
# the range over the pairs of B's CPU per call, throughput and sequential
# p50 against A's. Scenarios as in the benchmark (0 floor, 1 sdk -> bare,
# 2 bare -> sdk, 3 sdk -> sdk). Examples:
#
#   benches/pairs.sh 16 target/release/iii-bench 0 target/release/iii-bench 3
#       the SDK pair against the floor
#   benches/pairs.sh 16 /tmp/old-iii-bench 3 target/release/iii-bench 3
#       a change to the SDK, old binary against new
#
# Each run makes 200 sequential calls, then III_PAIRS_CALLS (20,000) with
# 64 in flight.
#
# III_PAIRS_CPUS=1 pins the benchmark's process (both workers, and
# iii-embedded when no III_URL is set) to CPU 1 (`taskset -c`, a CPU list:
# 0,1 names two); an engine started by tests/engine/run is not pinned.
# The SDK's callers are 64 tasks and the floor's one loop: on two cores
# the SDK pair spends about a third more CPU time than on one, moving
# tasks and the cache lines they touch between the cores, where the
# floor's time hardly moves. Pinned, the figure is the code's own cost.
# (Keeping the 64 calls in flight from one task instead, III_BENCH_JOINED=1
# through a wrapper script as BIN_B, cost 0.98x (0.74-1.26) the CPU of 64
# tasks over 12 pairs in issue 20's fifteenth round: the number of tasks
# is not what costs.)
set -euo pipefail
[ $# -eq 5 ] || { sed -n '2,34p' "$0" >&2; exit 2; }
pairs=$1 bin_a=$2 scen_a=$3 bin_b=$4 scen_b=$5
calls=${III_PAIRS_CALLS:-20000}
pin=()
if [ -n "${III_PAIRS_CPUS:-}" ]; then
  command -v taskset >/dev/null || { echo "III_PAIRS_CPUS needs taskset (util-linux)" >&2; exit 3; }
  pin=(taskset -c "$III_PAIRS_CPUS")
fi
for bin in "$bin_a" "$bin_b"; do
  [ -x "$bin" ] || { echo "no benchmark binary at $bin (cargo build --release -p iii-benches)" >&2; exit 3; }
done

# One run: "p50_us calls_per_s cpu_us" of its only scenario.
run() {
  III_BENCH_ONLY=$2 ${pin[@]+"${pin[@]}"} "$1" 200 "$calls" 1 2>&1 |
    awk '/^(sdk|bare) -> (sdk|bare)/ { gsub("µs", ""); print $(NF-4), $(NF-2), $(NF-1); exit }'
}

ratios=$(mktemp)
trap 'rm -f "$ratios"' EXIT
for i in $(seq "$pairs"); do
  if [ $((i % 2)) -eq 1 ]; then
    a=$(run "$bin_a" "$scen_a"); b=$(run "$bin_b" "$scen_b")
  else
    b=$(run "$bin_b" "$scen_b"); a=$(run "$bin_a" "$scen_a")
  fi
  [ -n "$a" ] && [ -n "$b" ] || { echo "pair $i: a run printed no figures" >&2; exit 1; }
  echo "pair $i: A $a | B $b (p50 us, calls/s, CPU us per call)"
  echo "$a $b" | awk '{ printf "%f %f %f\n", $6 / $3, $5 / $2, $4 / $1 }' >> "$ratios"
done

# Median and range of one column of the ratios.
summary() {
  cut -d' ' -f"$1" "$ratios" | sort -g |
    awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
      printf "%.2fx (%.2f-%.2f)", m, v[1], v[NR] }'
}
echo "B against A over $pairs pairs, median (range):"
echo "  CPU per call at 64 in flight: $(summary 1)"
echo "  calls/s at 64 in flight:      $(summary 2)"
echo "  sequential p50:               $(summary 3)"
