#!/usr/bin/env bash
# Makes sure a PostgreSQL answers on 127.0.0.1:5432 with the role and database the ledger tests use.
# Idempotent: safe to run again with PostgreSQL already running. Runs as root on Debian 12.
set -euo pipefail

role=consent_hub
password=consent_hub
database=consent_hub_test

if ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
  fi
  # The newest installed major version; Debian 12 ships 15, but a backport may have added another.
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 || { echo "PostgreSQL $version did not start; see /var/log/postgresql/" >&2; exit 1; }
fi

as_postgres() { runuser -u postgres -- "$@"; }
# Local socket, peer authentication as the postgres superuser.
psql_admin() { as_postgres psql -v ON_ERROR_STOP=1 -qtAX "$@"; }

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $role LOGIN PASSWORD '$password'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $database OWNER $role"
fi

echo "PostgreSQL ready: postgres://$role:***@127.0.0.1:5432/$database ($(as_postgres psql -qtAX -c 'SHOW server_version'))"
