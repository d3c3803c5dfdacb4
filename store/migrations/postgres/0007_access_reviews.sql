-- Access reviews: the SQLite migration 1008 in intent.
ALTER TABLE links ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

ALTER TABLE organisations ADD COLUMN review_every_secs  BIGINT NOT NULL DEFAULT 7862400;
ALTER TABLE organisations ADD COLUMN review_window_secs BIGINT NOT NULL DEFAULT 1209600;
-- The schedule counts from here for organisations that existed before reviews.
ALTER TABLE organisations ADD COLUMN reviews_since BIGINT NOT NULL DEFAULT 0;
UPDATE organisations SET reviews_since = EXTRACT(EPOCH FROM now())::BIGINT;

CREATE TABLE access_reviews (
    id         TEXT   PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES organisations (id),
    started_at BIGINT NOT NULL,
    due_at     BIGINT NOT NULL,
    started_by TEXT   NOT NULL,
    closed_at  BIGINT
);
CREATE UNIQUE INDEX access_reviews_one_open ON access_reviews (org_id) WHERE closed_at IS NULL;

CREATE TABLE access_review_items (
    review_id  TEXT   NOT NULL REFERENCES access_reviews (id),
    link_id    TEXT   NOT NULL REFERENCES links (id),
    owner      TEXT   NOT NULL,
    decision   TEXT CHECK (decision IN ('confirmed', 'revoked', 'expired')),
    decided_at BIGINT,
    decided_by TEXT,
    PRIMARY KEY (review_id, link_id)
);

CREATE TABLE access_review_reminders (
    review_id TEXT   NOT NULL REFERENCES access_reviews (id),
    owner     TEXT   NOT NULL,
    kind      TEXT   NOT NULL CHECK (kind IN ('started', 'due-soon')),
    sent_at   BIGINT NOT NULL,
    PRIMARY KEY (review_id, owner, kind)
);
