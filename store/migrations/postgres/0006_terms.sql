-- Terms before viewing: the SQLite migration 1007 in intent.
CREATE TABLE org_terms (
    org_id     BIGINT  PRIMARY KEY REFERENCES organisations (id),
    text       TEXT    NOT NULL,
    from_rank  INTEGER NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE TABLE terms_acceptances (
    link_id     TEXT   NOT NULL REFERENCES links (id),
    sha256      BYTEA  NOT NULL,
    accepted_at BIGINT NOT NULL,
    ip          TEXT,
    session_id  TEXT,
    PRIMARY KEY (link_id, sha256)
);
