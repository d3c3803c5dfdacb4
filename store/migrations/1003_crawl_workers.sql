-- Several crawl workers on one run's frontier (docs/crawler.md#several-workers): leases on
-- frontier entries, and the per-host politeness every worker shares. Times are Unix
-- milliseconds.

-- A `queued` entry is free when lease_until is NULL or past.
ALTER TABLE crawl_frontier ADD COLUMN lease_owner TEXT;
ALTER TABLE crawl_frontier ADD COLUMN lease_until INTEGER;

CREATE TABLE crawl_host (
    run_id             INTEGER NOT NULL REFERENCES crawl_run (id),
    host               TEXT NOT NULL,
    next_at            INTEGER NOT NULL,
    robots_kind        TEXT CHECK (robots_kind IN ('rules', 'unavailable', 'unreachable')),
    robots_body        BLOB,
    robots_note        TEXT,
    robots_retry_at    INTEGER,
    robots_claim       TEXT,
    robots_claim_until INTEGER,
    PRIMARY KEY (run_id, host)
);

CREATE TABLE crawl_host_permit (
    run_id INTEGER NOT NULL REFERENCES crawl_run (id),
    host   TEXT NOT NULL,
    slot   INTEGER NOT NULL,
    holder TEXT,
    until  INTEGER,
    PRIMARY KEY (run_id, host, slot)
);
