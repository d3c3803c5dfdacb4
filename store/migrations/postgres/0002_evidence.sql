-- Veilmark on PostgreSQL: catalog, crawl runs and frontier, last-seen pages and images, hits and
-- reviews (the SQLite schema of store/migrations/1001..1002 in intent). Filled in by the
-- PostgresStore EvidenceStore work.
SELECT 1;
