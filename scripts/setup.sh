#!/usr/bin/env bash
# Installs the Debian packages Sentinelle needs (as root), only when missing.
# Package list and the reason for each: DEVELOPERS.md.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libpaho-mqtt-dev libpaho-mqttpp-dev libsqlite3-dev sqlite3 libxgboost-dev
  nlohmann-json3-dev libcurl4-openssl-dev prometheus-cpp-dev libcivetweb-dev
  libspdlog-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  mosquitto mosquitto-clients prometheus curl python3 chromium
  python3-numpy python3-scipy
  openssl docker-compose prometheus-blackbox-exporter
  clang libclang-rt-dev llvm
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian mosquitto package starts a system broker on :1883; Sentinelle's
# tests and demo run their own brokers on free loopback ports and need none.
