-- Classification levels and approved suppliers: the SQLite migration 1005 in intent
-- (docs/server.md#classification).
CREATE TABLE classification_levels (
    org_id              BIGINT  NOT NULL REFERENCES organisations (id),
    rank                INTEGER NOT NULL,
    name                TEXT    NOT NULL,
    max_link_secs       BIGINT  NOT NULL,
    max_views           BIGINT,
    passcode_required   BOOLEAN NOT NULL,
    owner_second_factor BOOLEAN NOT NULL,
    watermark           TEXT    NOT NULL CHECK (watermark IN ('light', 'standard', 'dense')),
    approved_only       BOOLEAN NOT NULL,
    PRIMARY KEY (org_id, rank)
);
CREATE UNIQUE INDEX classification_levels_name ON classification_levels (org_id, lower(name));

ALTER TABLE documents ADD COLUMN level TEXT NOT NULL DEFAULT 'Internal';

CREATE TABLE suppliers (
    org_id     BIGINT NOT NULL REFERENCES organisations (id),
    domain     TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    status     TEXT   NOT NULL CHECK (status IN ('approved', 'suspended', 'offboarded')),
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, domain)
);
