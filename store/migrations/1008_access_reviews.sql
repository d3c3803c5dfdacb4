-- Access reviews (docs/server.md#reviews): each organisation reviews its live links on a
-- schedule; each link's owner confirms or revokes it, and links left undecided at the due date
-- are revoked. Links remember who made them, so that a review knows whom to ask.
ALTER TABLE links ADD COLUMN created_by TEXT NOT NULL DEFAULT '';   -- e-mail or cli:USER; '' before 1008

ALTER TABLE organisations ADD COLUMN review_every_secs  INTEGER NOT NULL DEFAULT 7862400;  -- 91 days
ALTER TABLE organisations ADD COLUMN review_window_secs INTEGER NOT NULL DEFAULT 1209600;  -- 14 days
-- The schedule counts from here for organisations that existed before reviews: an upgrade
-- must not start a review (and revoke what nobody confirms a fortnight later) at once.
ALTER TABLE organisations ADD COLUMN reviews_since INTEGER NOT NULL DEFAULT 0;
UPDATE organisations SET reviews_since = CAST(strftime('%s', 'now') AS INTEGER);

CREATE TABLE access_reviews (
    id         TEXT    PRIMARY KEY,                  -- rev_ + 16 hex digits
    org_id     INTEGER NOT NULL REFERENCES organisations (id),
    started_at INTEGER NOT NULL,
    due_at     INTEGER NOT NULL,
    started_by TEXT    NOT NULL,                     -- e-mail, cli:USER or 'schedule'
    closed_at  INTEGER
);
-- At most one open review per organisation.
CREATE UNIQUE INDEX access_reviews_one_open ON access_reviews (org_id) WHERE closed_at IS NULL;

CREATE TABLE access_review_items (
    review_id  TEXT    NOT NULL REFERENCES access_reviews (id),
    link_id    TEXT    NOT NULL REFERENCES links (id),
    owner      TEXT    NOT NULL,                     -- the link's created_by when the review began
    decision   TEXT CHECK (decision IN ('confirmed', 'revoked', 'expired')),
    decided_at INTEGER,
    decided_by TEXT,
    PRIMARY KEY (review_id, link_id)
);

-- Reminders claimed (and then sent) once per review, owner and kind.
CREATE TABLE access_review_reminders (
    review_id TEXT    NOT NULL REFERENCES access_reviews (id),
    owner     TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('started', 'due-soon')),
    sent_at   INTEGER NOT NULL,
    PRIMARY KEY (review_id, owner, kind)
);
