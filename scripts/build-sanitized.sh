#!/usr/bin/env bash
# Configures and builds build-fuzz/, the one sanitizer tree: clang, -O1,
# line tables only, every target instrumented with ASan + UBSan (any UB report
# aborts) and libFuzzer's coverage (fuzzer-no-link). The same objects serve
# the whole test suite (`SANITIZE=1 scripts/test.sh`) and the libFuzzer
# targets (scripts/fuzz.sh), so CI compiles the project twice, not three
# times. Benchmarks are off. docs: DEVELOPERS.md, "Sanitizers and fuzzing".
#
#   scripts/build-sanitized.sh             everything (tests and fuzzers)
#   scripts/build-sanitized.sh fuzzers     only these ninja targets
#   SAN_JOBS=N                             build parallelism (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  -DSENTINELLE_BUILD_FUZZ=ON -DSENTINELLE_BUILD_TESTS=ON -DSENTINELLE_BUILD_BENCH=OFF >/dev/null
targets=()
[ $# -gt 0 ] && targets=(--target "$@")
cmake --build "$build" --parallel "${SAN_JOBS:-$(nproc)}" "${targets[@]}"
