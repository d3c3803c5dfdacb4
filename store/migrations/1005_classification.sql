-- Classification levels and approved suppliers (docs/server.md#classification).
--
-- An organisation's levels, lowest rank first. An organisation with no rows here uses the
-- built-in four (Public, Internal, Confidential, Restricted: `classification::default_levels`),
-- so existing data needs no rows. A document's level is its name; the store refuses to drop a
-- level that a document still carries.
CREATE TABLE classification_levels (
    org_id              INTEGER NOT NULL REFERENCES organisations (id),
    rank                INTEGER NOT NULL,           -- 0 = lowest
    name                TEXT    NOT NULL COLLATE NOCASE,
    max_link_secs       INTEGER NOT NULL,           -- longest link lifetime
    max_views           INTEGER,                    -- NULL: no view ceiling
    passcode_required   INTEGER NOT NULL,
    owner_second_factor INTEGER NOT NULL,           -- owners acting on it need a second factor
    watermark           TEXT    NOT NULL CHECK (watermark IN ('light', 'standard', 'dense')),
    approved_only       INTEGER NOT NULL,           -- recipients must be approved suppliers
    PRIMARY KEY (org_id, rank),
    UNIQUE (org_id, name)
);

-- Documents made before levels existed are Internal, the default level for new ones.
ALTER TABLE documents ADD COLUMN level TEXT NOT NULL DEFAULT 'Internal';

-- Supplier companies, known by the e-mail domain of their people.
CREATE TABLE suppliers (
    org_id     INTEGER NOT NULL REFERENCES organisations (id),
    domain     TEXT    NOT NULL,                   -- lower case
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('approved', 'suspended', 'offboarded')),
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, domain)
);
