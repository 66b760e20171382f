-- Runs once, when the PostgreSQL volume is first created: the ledger gets a database of its own, next to
-- Temporal's, owned by the same role.
CREATE DATABASE consent_hub OWNER temporal;
