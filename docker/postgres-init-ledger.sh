#!/bin/sh
# Runs once, when the PostgreSQL volume is first created: the ledger gets a database of its own, next to
# Temporal's, owned by a role of its own (consent_hub), so the hub's processes cannot touch Temporal's data.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v ledger_password="$LEDGER_DB_PASSWORD" <<'SQL'
CREATE ROLE consent_hub LOGIN PASSWORD :'ledger_password';
CREATE DATABASE consent_hub OWNER consent_hub;
REVOKE ALL ON DATABASE consent_hub FROM PUBLIC;
SQL
