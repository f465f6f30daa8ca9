#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# whole network on this machine (broker, collector, simulated stations on an
# accelerated clock) with a live view. Flags go to scripts/demo.py:
#   --stations N  --speed X  --duration SECONDS  --keep-running  --check
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=build scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec python3 scripts/demo.py "$@"
