-- Veilmark on PostgreSQL: organisations, accounts, credentials, documents, links, sessions,
-- nonces, revocations and the audit log (the SQLite schema of store/migrations/0001..1002 in
-- intent). Filled in by the PostgresStore MetaStore work.
SELECT 1;
