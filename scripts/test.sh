#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test.
#   scripts/test.sh            release build (build/), all tests
#   SANITIZE=1 scripts/test.sh then the sanitizer tree (build-fuzz/: clang, ASan + UBSan,
#                              scripts/build-sanitized.sh) and all tests again there;
#                              the end-to-end tests (label e2e: demo, chaos,
#                              dashboards; serial, the slowest) then run in the
#                              sanitizer tree only, where every process they
#                              start is checked too (CI default, .ci/run)
# Each stage prints its duration (CI budget: DEVELOPERS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
stage() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "== test.sh: $name done in $((SECONDS - start)) s"
}
scripts/setup.sh
stage "release build" env BUILD_DIR=build scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo
release_only=()
[ "${SANITIZE:-0}" = "1" ] && release_only=(-LE e2e)
stage "release tests" bash -c 'cd build && ctest --output-on-failure --timeout 600 -j2 "$@"' _ \
  "${release_only[@]}"
if [ "${SANITIZE:-0}" = "1" ]; then
  stage "sanitizer build" scripts/build-sanitized.sh
  # Every process's report (the test binaries and the agents and collectors
  # they start) goes to a file, so a finding in a child process fails the run
  # too. Leaks are checked; any UB report aborts. Suppressions (third-party
  # code only, each with its reason): cmake/sanitizers/.
  reports=$PWD/build-fuzz/sanitizer-reports
  rm -rf "$reports"
  mkdir -p "$reports"
  status=0
  stage "sanitizer tests" env \
    ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan:suppressions=$PWD/cmake/sanitizers/asan.supp" \
    LSAN_OPTIONS="suppressions=$PWD/cmake/sanitizers/lsan.supp" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan" \
    bash -c 'cd build-fuzz && ctest --output-on-failure --timeout 1800 -j2' || status=1
  for f in "$reports"/*; do
    [ -e "$f" ] || continue
    echo "== sanitizer report $f" >&2
    cat "$f" >&2
    status=1
  done
  exit $status
fi
