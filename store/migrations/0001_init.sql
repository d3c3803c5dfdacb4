-- Veilmark server schema, version 1. Server migrations use versions 1..999; the crawler adds its
-- own from 1001 to the same database, so the migrator ignores versions it does not know.
-- Times are unix seconds unless the column name ends in _ms.

CREATE TABLE owners (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,          -- argon2id PHC string
    created_at    INTEGER NOT NULL
);

-- Browser session cookies and CLI API tokens, stored only as SHA-256 of the secret.
CREATE TABLE owner_credentials (
    token_hash BLOB    PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES owners(id),
    kind       TEXT    NOT NULL CHECK (kind IN ('cookie', 'api-token')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER                        -- NULL: until deleted
);

CREATE TABLE documents (
    id            TEXT    PRIMARY KEY,         -- 32 hex digits, the envelope's document id
    title         TEXT    NOT NULL,
    media_type    TEXT    NOT NULL,
    plaintext_len INTEGER NOT NULL,
    envelope_len  INTEGER NOT NULL,
    blob          TEXT    NOT NULL,            -- object_store path of the envelope
    wrapped_key   BLOB    NOT NULL,            -- nonce(12) || AES-256-GCM(content key) under the wrap key
    created_at    INTEGER NOT NULL
);

CREATE TABLE links (
    id               TEXT    PRIMARY KEY,      -- public id the owner revokes by
    token_hash       BLOB    NOT NULL UNIQUE,  -- SHA-256 of the 128-bit link token
    document_id      TEXT    NOT NULL REFERENCES documents(id),
    recipient        TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    max_views        INTEGER,                  -- NULL: unlimited
    views            INTEGER NOT NULL DEFAULT 0,
    passcode_hash    TEXT,                     -- argon2id PHC string, NULL: no passcode
    failed_passcodes INTEGER NOT NULL DEFAULT 0,
    locked_until     INTEGER,
    revoked_at       INTEGER
);

-- Append-only feed of revocations, polled by every server process to push them to viewers.
CREATE TABLE revocations (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id TEXT    NOT NULL REFERENCES links(id),
    at      INTEGER NOT NULL
);

CREATE TABLE sessions (
    id               TEXT    PRIMARY KEY,      -- 32 hex digits
    link_id          TEXT    NOT NULL REFERENCES links(id),
    session_code     INTEGER NOT NULL UNIQUE,  -- the watermark payload (u64 stored as i64 bits)
    viewer_key       BLOB    NOT NULL,
    created_at       INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    renewals         INTEGER NOT NULL DEFAULT 0
);

-- Licence-request nonces seen recently, to refuse replays.
CREATE TABLE request_nonces (
    link_id    TEXT    NOT NULL,
    nonce      BLOB    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (link_id, nonce)
);

-- Hash-chained audit log: hash = SHA-256(prev_hash || canonical row), see docs/server.md#audit.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    link_id     TEXT,
    session_id  TEXT,
    document_id TEXT,
    actor       TEXT,
    ip          TEXT,
    user_agent  TEXT,
    detail      TEXT    NOT NULL,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
