-- Review state of crawler hits (the review console). Keyed by `crawl_hit.id` without a foreign
-- key, so this server migration (version 2) does not depend on the crawler's tables (1001+)
-- existing yet; rows are only written for hits the console has shown.
CREATE TABLE IF NOT EXISTS hit_review (
    hit_id      INTEGER PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('new', 'confirmed', 'dismissed')),
    note        TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL,
    reviewed_at INTEGER NOT NULL
);
