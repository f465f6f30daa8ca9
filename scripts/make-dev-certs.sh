#!/usr/bin/env bash
# Makes a development PKI for the broker's TLS listener with the openssl CLI:
# a CA, a server certificate and one client certificate per name given.
#
#   scripts/make-dev-certs.sh OUT_DIR [--server-name NAME]... [--days N] [CLIENT]...
#
# Writes into OUT_DIR (created 0700):
#   ca.crt ca.key                 the development CA (reused when already there,
#                                 so clients can be added later)
#   server.crt server.key         the broker; SAN: localhost, 127.0.0.1, broker,
#                                 and every --server-name
#   clients/CLIENT.crt .key       one per CLIENT (station id, svc.collector, ...)
# Keys are EC P-256 and mode 0600. Existing server and client files are kept;
# delete them to re-issue.
#
# This is for development, tests and the compose demo. A production network
# keeps its CA key offline and issues certificates from it (docs/OPERATIONS.md).
# Never commit the output: keys are secrets.
set -euo pipefail

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
OUT=$1
shift
DAYS=825
SERVER_NAMES=(localhost broker)
CLIENTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server-name) [ $# -ge 2 ] || usage; SERVER_NAMES+=("$2"); shift 2 ;;
    --days) [ $# -ge 2 ] || usage; DAYS=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "make-dev-certs: unknown option $1" >&2; usage ;;
    *) CLIENTS+=("$1"); shift ;;
  esac
done

command -v openssl >/dev/null || { echo "make-dev-certs: openssl not found" >&2; exit 1; }
umask 077
mkdir -p "$OUT/clients"
chmod 700 "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

new_key() {  # path
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

# Signs a CSR with the CA. $1 = csr, $2 = cert out, $3 = extensions file.
sign() {
  openssl x509 -req -in "$1" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" \
    -CAcreateserial -CAserial "$WORK/ca.srl" -days "$DAYS" -sha256 \
    -extfile "$3" -out "$2" 2>/dev/null
  chmod 644 "$2"
}

if [ ! -s "$OUT/ca.key" ] || [ ! -s "$OUT/ca.crt" ]; then
  new_key "$OUT/ca.key"
  openssl req -new -x509 -key "$OUT/ca.key" -sha256 -days "$DAYS" \
    -subj "/O=Sentinelle development/CN=Sentinelle dev CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$OUT/ca.crt"
  chmod 644 "$OUT/ca.crt"
  echo "make-dev-certs: new CA in $OUT/ca.crt"
fi

if [ ! -s "$OUT/server.key" ] || [ ! -s "$OUT/server.crt" ]; then
  san="IP:127.0.0.1"
  for n in "${SERVER_NAMES[@]}"; do san="$san,DNS:$n"; done
  new_key "$OUT/server.key"
  openssl req -new -key "$OUT/server.key" -subj "/O=Sentinelle development/CN=${SERVER_NAMES[1]}" \
    -out "$WORK/server.csr"
  cat >"$WORK/server.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EOF
  sign "$WORK/server.csr" "$OUT/server.crt" "$WORK/server.ext"
  echo "make-dev-certs: server certificate for $san"
fi

for c in "${CLIENTS[@]}"; do
  # Same alphabet as usernames in the password file and the ACL: station ids
  # ([a-z0-9_-]) and service accounts (svc.NAME).
  if ! [[ "$c" =~ ^[a-z0-9_.-]{1,64}$ ]]; then
    echo "make-dev-certs: invalid client name '$c'" >&2
    exit 1
  fi
  [ -s "$OUT/clients/$c.key" ] && [ -s "$OUT/clients/$c.crt" ] && continue
  new_key "$OUT/clients/$c.key"
  openssl req -new -key "$OUT/clients/$c.key" -subj "/O=Sentinelle development/CN=$c" \
    -out "$WORK/$c.csr"
  cat >"$WORK/client.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EOF
  sign "$WORK/$c.csr" "$OUT/clients/$c.crt" "$WORK/client.ext"
  echo "make-dev-certs: client certificate for $c"
done
