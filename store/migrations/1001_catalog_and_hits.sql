-- Crawler tables (veilmark-crawler). Versions 1001+ so they live beside the server's 1..999 in
-- the same SQLite database; table names carry the catalog_/crawl_ prefixes.

-- Reference images of the brand's products.
CREATE TABLE IF NOT EXISTS catalog_reference (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL,
    title       TEXT,
    source_path TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    pdq_quality INTEGER NOT NULL,
    -- Eight 64-hex-digit PDQ hashes (dihedral order: orig rot90 rot180 rot270 flipx flipy
    -- flipplus1 flipminus1), space separated.
    pdq         TEXT NOT NULL,
    -- Eight 16-hex-digit pHashes, same order.
    phash       TEXT NOT NULL,
    -- PDQ of sub-windows of the untransformed image, `name:hex` space separated.
    pdq_windows TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    UNIQUE (sku, sha256)
);

-- One crawl of one profile. A run that is still 'running' when the crawler starts again was
-- interrupted and is resumed.
CREATE TABLE IF NOT EXISTS crawl_run (
    id          INTEGER PRIMARY KEY,
    profile     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    state       TEXT NOT NULL CHECK (state IN ('running', 'finished')),
    pages       INTEGER NOT NULL DEFAULT 0,
    images      INTEGER NOT NULL DEFAULT 0
);

-- The frontier of a run: pages discovered, and whether they (and all their images) are done.
CREATE TABLE IF NOT EXISTS crawl_frontier (
    run_id  INTEGER NOT NULL REFERENCES crawl_run (id),
    url     TEXT NOT NULL,
    depth   INTEGER NOT NULL,
    state   TEXT NOT NULL CHECK (state IN ('queued', 'done', 'failed', 'skipped')),
    PRIMARY KEY (run_id, url)
);

-- Last seen state of every image URL, so that re-crawls skip unchanged content.
CREATE TABLE IF NOT EXISTS crawl_image (
    url         TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    etag        TEXT,
    fetched_at  TEXT NOT NULL,
    -- catalog_reference count when this image was last matched; a larger catalog re-matches.
    catalog_gen INTEGER NOT NULL,
    -- 1 when it produced a hit: then it is processed again on every page that shows it, so
    -- that each listing gets its own hit and evidence.
    hit         INTEGER NOT NULL DEFAULT 0
);

-- Last seen state of every page URL (re-crawls skip image work on unchanged pages).
CREATE TABLE IF NOT EXISTS crawl_page (
    url         TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    etag        TEXT,
    fetched_at  TEXT NOT NULL,
    catalog_gen INTEGER NOT NULL,
    hit         INTEGER NOT NULL DEFAULT 0
);

-- A listing image that matches the catalog or carries our watermark, with its evidence.
CREATE TABLE IF NOT EXISTS crawl_hit (
    id                INTEGER PRIMARY KEY,
    -- page URL | image SHA-256 | reference id or '-' | watermark session or '-': one hit per
    -- listing image and cause, however often it is crawled.
    dedup_key         TEXT NOT NULL UNIQUE,
    run_id            INTEGER NOT NULL REFERENCES crawl_run (id),
    marketplace       TEXT NOT NULL,
    page_url          TEXT NOT NULL,
    image_url         TEXT NOT NULL,
    image_sha256      TEXT NOT NULL,
    fetched_at        TEXT NOT NULL,
    http_status       INTEGER NOT NULL,
    http_headers      TEXT NOT NULL,
    listing_title     TEXT,
    listing_price     TEXT,
    listing_seller    TEXT,
    reference_id      INTEGER REFERENCES catalog_reference (id),
    sku               TEXT,
    hash_kind         TEXT,
    distance          INTEGER,
    transform         TEXT,
    hash_window       TEXT,
    watermark_session TEXT,
    warc_file         TEXT NOT NULL,
    warc_page_offset  INTEGER,
    warc_image_offset INTEGER NOT NULL,
    review_state      TEXT NOT NULL DEFAULT 'new',
    created_at        TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS crawl_hit_reference ON crawl_hit (reference_id);
