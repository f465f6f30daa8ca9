#!/usr/bin/env bash
# Creates (or replaces) one MQTT account in a Mosquitto password file.
#
#   scripts/mosquitto-add-station.sh [options] PASSWORD_FILE USERNAME
#
# USERNAME is a station id ([a-z0-9_-]{1,64}, the username the ACL's %u
# patterns expect) or, with --service, a service account: svc.NAME for
# Sentinelle's own services (svc.collector), sub.NAME for read-only consumers
# (sub.public). The dot keeps these names out of the station id alphabet, so
# the station patterns of configs/mosquitto/acl never grant them a real
# station's topics.
#
# The password is read from the file given with --password-from (first line),
# or generated (32 random base64 characters, about 190 bits) when absent.
# A generated password is written to the --secret-out file (mode 0600) when
# given, otherwise printed once on stdout. It never appears on a command line
# (mosquitto_passwd reads it from a pipe), so `ps` does not show it.
#
# Options:
#   --service              USERNAME is a service account (svc.NAME or sub.NAME)
#   --password-from FILE   take the password from FILE instead of generating it
#   --secret-out FILE      write the generated password to FILE (0600)
#   --delete               remove USERNAME (revoking a stolen station)
#
# The file is created when missing. Mosquitto reads it at start-up and on
# SIGHUP (`systemctl reload mosquitto`): reload it after every change.
set -euo pipefail

usage() {
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

SERVICE=0
DELETE=0
PASSWORD_FROM=""
SECRET_OUT=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --service) SERVICE=1; shift ;;
    --delete) DELETE=1; shift ;;
    --password-from) [ $# -ge 2 ] || usage; PASSWORD_FROM=$2; shift 2 ;;
    --secret-out) [ $# -ge 2 ] || usage; SECRET_OUT=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "mosquitto-add-station: unknown option $1" >&2; usage ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[ ${#ARGS[@]} -eq 2 ] || usage
FILE=${ARGS[0]}
NAME=${ARGS[1]}

if [ "$SERVICE" = 1 ]; then
  [[ "$NAME" =~ ^(svc|sub)\.[a-z0-9_-]{1,60}$ ]] || {
    echo "mosquitto-add-station: service account names look like svc.NAME or sub.NAME, got '$NAME'" >&2
    exit 1
  }
else
  [[ "$NAME" =~ ^[a-z0-9_-]{1,64}$ ]] || {
    echo "mosquitto-add-station: station ids match [a-z0-9_-]{1,64}, got '$NAME'" >&2
    exit 1
  }
fi

PASSWD=$(command -v mosquitto_passwd || true)
[ -n "$PASSWD" ] || { echo "mosquitto-add-station: mosquitto_passwd not found (Debian: mosquitto)" >&2; exit 1; }

umask 077
if [ ! -e "$FILE" ]; then
  : >"$FILE"
  # The broker drops root for the mosquitto user and rereads the file on SIGHUP.
  if getent group mosquitto >/dev/null 2>&1; then
    chgrp mosquitto "$FILE" && chmod 640 "$FILE"
  fi
fi

if [ "$DELETE" = 1 ]; then
  if ! grep -q "^${NAME//./\\.}:" "$FILE"; then
    echo "mosquitto-add-station: $NAME is not in $FILE" >&2
    exit 1
  fi
  "$PASSWD" -D "$FILE" "$NAME"
  echo "mosquitto-add-station: removed $NAME; reload the broker (SIGHUP) to apply" >&2
  exit 0
fi

if [ -n "$PASSWORD_FROM" ]; then
  IFS= read -r PASSWORD <"$PASSWORD_FROM" || true
  [ -n "${PASSWORD:-}" ] || { echo "mosquitto-add-station: empty password in $PASSWORD_FROM" >&2; exit 1; }
  GENERATED=0
else
  PASSWORD=$(openssl rand -base64 24)
  GENERATED=1
fi
case "$PASSWORD" in
  *$'\n'*|*$'\r'*) echo "mosquitto-add-station: password must be one line" >&2; exit 1 ;;
esac

printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | "$PASSWD" "$FILE" "$NAME" >/dev/null
grep -q "^${NAME//./\\.}:" "$FILE" || { echo "mosquitto-add-station: mosquitto_passwd failed" >&2; exit 1; }

if [ "$GENERATED" = 1 ]; then
  if [ -n "$SECRET_OUT" ]; then
    (umask 077 && printf '%s\n' "$PASSWORD" >"$SECRET_OUT")
    echo "mosquitto-add-station: $NAME added; password in $SECRET_OUT" >&2
  else
    printf '%s\n' "$PASSWORD"
    echo "mosquitto-add-station: $NAME added; the password above is shown once" >&2
  fi
else
  echo "mosquitto-add-station: $NAME added" >&2
fi
