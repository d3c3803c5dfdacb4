-- Organisations and roles (docs/server.md#organisations). Everything a tenant owns carries the
-- organisation it belongs to; data from before this version goes to the organisation
-- `default` (id 1), and its accounts become admins of it.
--
-- `org_id` columns added to existing tables have no REFERENCES clause: SQLite refuses an added
-- column with a foreign key and a non-NULL default. The store is the only writer and always
-- binds the organisation; tables created here carry real foreign keys.

CREATE TABLE organisations (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    require_totp INTEGER NOT NULL DEFAULT 0,   -- every member must use a second factor
    created_at   INTEGER NOT NULL
);
INSERT INTO organisations (id, name, created_at)
VALUES (1, 'default', CAST(strftime('%s', 'now') AS INTEGER));

-- Accounts: one organisation each, with a role in it. `password_hash` is '!' for an account
-- whose member has not yet set a password (the set-password link is a credential below).
ALTER TABLE owners ADD COLUMN org_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE owners ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
    CHECK (role IN ('admin', 'owner', 'reviewer', 'auditor'));
ALTER TABLE owners ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE owners ADD COLUMN locked_until INTEGER;
ALTER TABLE owners ADD COLUMN totp_secret BLOB;      -- wrapped under the server's wrap key
ALTER TABLE owners ADD COLUMN totp_enabled_at INTEGER; -- NULL: enrolment not confirmed
ALTER TABLE owners ADD COLUMN totp_last_step INTEGER;  -- last accepted 30 s step (no replay)
CREATE INDEX owners_org ON owners (org_id);

-- Every secret an account holds, stored only as SHA-256 of the secret: browser sessions, API
-- tokens, the half-done login waiting for a second factor, and one-time set-password links.
CREATE TABLE credentials (
    id           TEXT    PRIMARY KEY,          -- public id (tok_…), what revoke-token takes
    token_hash   BLOB    NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL
        CHECK (kind IN ('cookie', 'api-token', 'second-factor', 'set-password')),
    label        TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,             -- absolute end
    last_used_at INTEGER
);
-- Tokens made before expiry existed now end 90 days after this upgrade.
INSERT INTO credentials (id, token_hash, account_id, kind, label, created_at, expires_at)
SELECT 'tok_' || lower(hex(randomblob(8))), token_hash, owner_id, kind, '', created_at,
       COALESCE(expires_at, CAST(strftime('%s', 'now') AS INTEGER) + 90 * 86400)
FROM owner_credentials;
DROP TABLE owner_credentials;
CREATE INDEX credentials_account ON credentials (account_id);

-- One-time recovery codes for the second factor, as SHA-256 (docs/totp.md).
CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    code_hash  BLOB    NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, code_hash)
);

ALTER TABLE documents ADD COLUMN org_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX documents_org ON documents (org_id, created_at);
ALTER TABLE links ADD COLUMN org_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX links_org ON links (org_id, created_at);

-- The audit log becomes one hash chain per organisation (plus a server chain, org_id NULL, for
-- logins naming no account). `seq` stays the storage order; `org_seq` is the position in the
-- organisation's chain. Entries written before this version keep format 1 (their hash covers
-- no organisation) and are all in `default`, where org_seq = seq, so their chain verifies as
-- it did. Format 2 also hashes the organisation and the acting account.
ALTER TABLE audit_log ADD COLUMN org_id INTEGER;
ALTER TABLE audit_log ADD COLUMN org_seq INTEGER;
ALTER TABLE audit_log ADD COLUMN account_id INTEGER;
ALTER TABLE audit_log ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
UPDATE audit_log SET org_id = 1, org_seq = seq;
CREATE INDEX audit_log_chain ON audit_log (org_id, org_seq);

-- Crawling: runs, the catalog, hits and last-seen URLs belong to an organisation. Tables whose
-- uniqueness becomes per organisation are rebuilt (children before the parents they reference,
-- so that no foreign key ever points at a dropped table).
ALTER TABLE crawl_run ADD COLUMN org_id INTEGER NOT NULL DEFAULT 1;

CREATE TABLE catalog_reference_v2 (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations (id),
    sku         TEXT NOT NULL,
    title       TEXT,
    source_path TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    pdq_quality INTEGER NOT NULL,
    pdq         TEXT NOT NULL,
    phash       TEXT NOT NULL,
    pdq_windows TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    UNIQUE (org_id, sku, sha256)
);
INSERT INTO catalog_reference_v2 (id, org_id, sku, title, source_path, sha256, width, height,
    pdq_quality, pdq, phash, pdq_windows, added_at)
SELECT id, 1, sku, title, source_path, sha256, width, height, pdq_quality, pdq, phash,
    pdq_windows, added_at FROM catalog_reference;

CREATE TABLE crawl_hit_v2 (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES organisations (id),
    dedup_key         TEXT NOT NULL,
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
    reference_id      INTEGER REFERENCES catalog_reference_v2 (id),
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
    created_at        TEXT NOT NULL,
    UNIQUE (org_id, dedup_key)
);
INSERT INTO crawl_hit_v2 (id, org_id, dedup_key, run_id, marketplace, page_url, image_url,
    image_sha256, fetched_at, http_status, http_headers, listing_title, listing_price,
    listing_seller, reference_id, sku, hash_kind, distance, transform, hash_window,
    watermark_session, warc_file, warc_page_offset, warc_image_offset, review_state, created_at)
SELECT id, 1, dedup_key, run_id, marketplace, page_url, image_url, image_sha256, fetched_at,
    http_status, http_headers, listing_title, listing_price, listing_seller, reference_id, sku,
    hash_kind, distance, transform, hash_window, watermark_session, warc_file, warc_page_offset,
    warc_image_offset, review_state, created_at FROM crawl_hit;

DROP TABLE crawl_hit;
DROP TABLE catalog_reference;
ALTER TABLE catalog_reference_v2 RENAME TO catalog_reference;
ALTER TABLE crawl_hit_v2 RENAME TO crawl_hit;
CREATE INDEX crawl_hit_reference ON crawl_hit (reference_id);
CREATE INDEX crawl_hit_org ON crawl_hit (org_id, id);

CREATE TABLE crawl_image_v2 (
    org_id      INTEGER NOT NULL REFERENCES organisations (id),
    url         TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    etag        TEXT,
    fetched_at  TEXT NOT NULL,
    catalog_gen INTEGER NOT NULL,
    hit         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, url)
);
INSERT INTO crawl_image_v2 SELECT 1, url, sha256, etag, fetched_at, catalog_gen, hit
FROM crawl_image;
DROP TABLE crawl_image;
ALTER TABLE crawl_image_v2 RENAME TO crawl_image;

CREATE TABLE crawl_page_v2 (
    org_id      INTEGER NOT NULL REFERENCES organisations (id),
    url         TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    etag        TEXT,
    fetched_at  TEXT NOT NULL,
    catalog_gen INTEGER NOT NULL,
    hit         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, url)
);
INSERT INTO crawl_page_v2 SELECT 1, url, sha256, etag, fetched_at, catalog_gen, hit
FROM crawl_page;
DROP TABLE crawl_page;
ALTER TABLE crawl_page_v2 RENAME TO crawl_page;
