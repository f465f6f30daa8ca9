#!/usr/bin/env bash
# Builds the fuzzers in build-fuzz/ (clang, libFuzzer + ASan + UBSan; the tree
# the sanitizer test suite uses too, scripts/build-sanitized.sh) and fuzzes
# every parser of outside data for a bounded time each (DEVELOPERS.md,
# "Sanitizers and fuzzing").
#
#   scripts/fuzz.sh                    every target, FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh manifest http_request   only these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh   the longer run (before a release)
#   FUZZ_JOBS=2                        build parallelism (default: nproc)
#   FUZZ_SEED=N                        libFuzzer seed (default 1; 0 = random)
#   FUZZ_RUNS_FILE=fuzz/ci-runs        a fixed number of inputs per target instead of a
#                                      time (lines "<target> <runs>"; CI): with the seed
#                                      and a fresh build-fuzz/corpus/, a run explores as
#                                      far on any machine (nearly the same inputs), not
#                                      further on a faster one. FUZZ_SECONDS then only caps
#                                      a target far slower than expected (default 300).
#
# Each target starts from its committed seeds (fuzz/corpus/<name>/); what it
# learns goes to build-fuzz/corpus/<name>/ (not committed). A crash stops the
# script with the reproducer saved as build-fuzz/artifacts/<name>/crash-*;
# reproduce with build-fuzz/bin/fuzz_<name> <file>. Exit status: non-zero on
# any crash, leak, UB report, timeout or out-of-memory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
runs_file=${FUZZ_RUNS_FILE:-}
if [ -n "$runs_file" ]; then
  [ -f "$runs_file" ] || { echo "fuzz.sh: FUZZ_RUNS_FILE $runs_file not found" >&2; exit 2; }
  seconds=${FUZZ_SECONDS:-300}
fi
jobs=${FUZZ_JOBS:-$(nproc)}
build=build-fuzz

SAN_JOBS=$jobs scripts/build-sanitized.sh fuzzers

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for d in fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
  bin="$build/bin/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  budget=(-max_total_time="$seconds")
  what="${seconds}s"
  if [ -n "$runs_file" ]; then
    runs=$(awk -v t="$t" '$1 == t { print $2 }' "$runs_file")
    [[ "$runs" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: no run count for $t in $runs_file" >&2; exit 2; }
    budget+=(-runs="$runs")
    what="$runs inputs (at most ${seconds}s)"
  fi
  echo "== fuzz_$t: $what"
  # New inputs go to the first directory; the committed seeds are read only.
  if ! "$bin" "$build/corpus/$t" "fuzz/corpus/$t" "${dict[@]}" \
      -seed="${FUZZ_SEED:-1}" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" 2>"$build/artifacts/$t/log"; then
    echo "fuzz.sh: fuzz_$t FAILED; log: $build/artifacts/$t/log" >&2
    tail -n 40 "$build/artifacts/$t/log" >&2
    status=1
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$build/artifacts/$t/log" | tr '\n' ' '
    echo
    if [ -n "$runs_file" ]; then
      done_runs=$(awk '/^stat::number_of_executed_units/ { print $2 }' "$build/artifacts/$t/log")
      if [ "${done_runs:-0}" -lt "$runs" ]; then
        echo "fuzz.sh: fuzz_$t reached the ${seconds}s cap after ${done_runs:-0} of $runs inputs" >&2
      fi
    fi
  fi
done
exit $status
