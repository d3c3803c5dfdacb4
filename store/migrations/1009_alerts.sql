-- Unusual access (docs/server.md#alerts): the networks each recipient opened from, alerts
-- raised for the owners, webhooks that receive them, and each alert's delivery to each webhook.
CREATE TABLE recipient_networks (
    org_id     INTEGER NOT NULL REFERENCES organisations (id),
    recipient  TEXT    NOT NULL,      -- lower-cased e-mail
    network    TEXT    NOT NULL,      -- 203.0.113.0/24 or 2001:db8:1::/48
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (org_id, recipient, network)
);

CREATE TABLE alerts (
    id              TEXT    PRIMARY KEY,             -- alr_ + 16 hex digits
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    kind            TEXT    NOT NULL
        CHECK (kind IN ('new-network', 'many-sessions', 'wrong-passcodes', 'after-suspension')),
    link_id         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    ip              TEXT,
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT
);
CREATE INDEX alerts_by_link ON alerts (org_id, link_id, kind, created_at);

CREATE TABLE webhooks (
    id             TEXT    PRIMARY KEY,              -- whk_ + 16 hex digits
    org_id         INTEGER NOT NULL REFERENCES organisations (id),
    url            TEXT    NOT NULL,
    secret_wrapped BLOB    NOT NULL,                 -- signing secret under the server's wrap key
    created_at     INTEGER NOT NULL,
    created_by     TEXT    NOT NULL
);

CREATE TABLE webhook_deliveries (
    alert_id        TEXT    NOT NULL REFERENCES alerts (id),
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,                         -- NULL: delivered or given up
    delivered_at    INTEGER,
    last_error      TEXT,
    PRIMARY KEY (alert_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
