-- Terms before viewing (docs/server.md#terms): an organisation's non-disclosure text, required
-- for documents from a level up, and each link's acceptance of a version of it (by SHA-256).
CREATE TABLE org_terms (
    org_id     INTEGER PRIMARY KEY REFERENCES organisations (id),
    text       TEXT    NOT NULL,
    from_rank  INTEGER NOT NULL,     -- required for documents at this level rank and above
    updated_at INTEGER NOT NULL
);

CREATE TABLE terms_acceptances (
    link_id     TEXT    NOT NULL REFERENCES links (id),
    sha256      BLOB    NOT NULL,    -- of the text accepted
    accepted_at INTEGER NOT NULL,
    ip          TEXT,
    session_id  TEXT,
    PRIMARY KEY (link_id, sha256)
);
