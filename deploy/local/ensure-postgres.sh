#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite (Debian's package), idempotently, and print its DSN.
# Used by `make test`; needs root for apt-get and pg_ctlcluster (CI and the dev machines run as root).
set -euo pipefail
log() { echo "ensure-postgres: $*" >&2; }
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then log "PostgreSQL is not installed and we are not root: PostgreSQL tests will be skipped"; exit 0; fi
  log "installing Debian's postgresql"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
pg_isready -q -h 127.0.0.1 || { log "PostgreSQL $version did not start"; exit 1; }
psql_admin() { su postgres -c "psql -X -q -t -A -c \"$1\""; }
[ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='sendx'")" = 1 ] \
  || psql_admin "CREATE ROLE sendx LOGIN PASSWORD 'sendx' CREATEDB" >&2
[ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='sendx_test'")" = 1 ] \
  || psql_admin "CREATE DATABASE sendx_test OWNER sendx" >&2
echo "postgresql://sendx:sendx@127.0.0.1:5432/sendx_test"
