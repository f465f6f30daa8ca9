#!/usr/bin/env bash
# Prepares the secrets docker-compose.yml mounts, none of which is committed:
#
#   docker/init-secrets.sh [SECRETS_DIR]      (default: docker/secrets)
#
# SECRETS_DIR (mode 0700) receives:
#   certs/ca.crt certs/server.crt certs/server.key   scripts/make-dev-certs.sh
#   mosquitto/passwd                 one account per station + svc.collector
#   config/collector.json            configs/compose/collector.json with the
#   config/agent-STATION.json        MQTT passwords (and API token hash) filled in
#   api-token                        the collector's admin API bearer token
#   grafana-admin-password
# Existing files are kept (re-running adds what is missing), so passwords
# stay stable across runs; delete SECRETS_DIR to start over.
#
# Files are mode 0644 inside the 0700 directory: each is bind-mounted into
# the one container that needs it, whose service user differs from the host
# user. The directory keeps other host users out.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/docker/secrets}
STATIONS=(abj-plateau abj-cocody abj-yopougon)

umask 077
mkdir -p "$DIR/certs" "$DIR/mosquitto" "$DIR/config" "$DIR/passwords"
chmod 700 "$DIR"

"$ROOT/scripts/make-dev-certs.sh" "$DIR/certs" --server-name broker >/dev/null

# One MQTT account each; the password is generated once and kept.
account() {  # name [--service]
  local name=$1
  shift
  if [ ! -s "$DIR/passwords/$name" ]; then
    "$ROOT/scripts/mosquitto-add-station.sh" "$@" --secret-out "$DIR/passwords/$name" \
      "$DIR/mosquitto/passwd" "$name" 2>/dev/null
  fi
}
account svc.collector --service
for s in "${STATIONS[@]}"; do account "$s"; done

if [ ! -s "$DIR/api-token" ]; then
  openssl rand -hex 32 >"$DIR/api-token"
fi
TOKEN_SHA256=$(tr -d '\n' <"$DIR/api-token" | sha256sum | cut -d' ' -f1)
if [ ! -s "$DIR/grafana-admin-password" ]; then
  openssl rand -base64 18 >"$DIR/grafana-admin-password"
fi

# Fills in the placeholders of a committed compose config. Passwords are
# base64 ([A-Za-z0-9+/=]) and the hash hex, so '|' is a safe sed delimiter.
render() {  # template account out
  local password
  password=$(head -n1 "$DIR/passwords/$2")
  sed -e "s|@MQTT_PASSWORD@|$password|" -e "s|@ADMIN_TOKEN_SHA256@|$TOKEN_SHA256|" \
    "$1" >"$3.tmp"
  mv "$3.tmp" "$3"
}
render "$ROOT/configs/compose/collector.json" svc.collector "$DIR/config/collector.json"
for s in "${STATIONS[@]}"; do
  render "$ROOT/configs/compose/agent-$s.json" "$s" "$DIR/config/agent-$s.json"
done

find "$DIR" -mindepth 1 -type d -exec chmod 755 {} +
find "$DIR" -type f ! -path "$DIR/passwords/*" -exec chmod 644 {} +
chmod 700 "$DIR" "$DIR/passwords"
chmod 600 "$DIR"/certs/ca.key "$DIR"/api-token
echo "init-secrets: ready in $DIR (API token in $DIR/api-token)"
