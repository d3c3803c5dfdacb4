-- Unusual access: the SQLite migration 1009 in intent.
CREATE TABLE recipient_networks (
    org_id     BIGINT  NOT NULL REFERENCES organisations (id),
    recipient  TEXT    NOT NULL,      -- lower-cased e-mail
    network    TEXT    NOT NULL,      -- 203.0.113.0/24 or 2001:db8:1::/48
    first_seen BIGINT  NOT NULL,
    PRIMARY KEY (org_id, recipient, network)
);

CREATE TABLE alerts (
    id              TEXT    PRIMARY KEY,             -- alr_ + 16 hex digits
    org_id          BIGINT  NOT NULL REFERENCES organisations (id),
    kind            TEXT    NOT NULL
        CHECK (kind IN ('new-network', 'many-sessions', 'wrong-passcodes', 'after-suspension')),
    link_id         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    ip              TEXT,
    created_at      BIGINT  NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT
);
CREATE INDEX alerts_by_link ON alerts (org_id, link_id, kind, created_at);

CREATE TABLE webhooks (
    id             TEXT    PRIMARY KEY,              -- whk_ + 16 hex digits
    org_id         BIGINT  NOT NULL REFERENCES organisations (id),
    url            TEXT    NOT NULL,
    secret_wrapped BYTEA   NOT NULL,                 -- signing secret under the server's wrap key
    created_at     BIGINT  NOT NULL,
    created_by     TEXT    NOT NULL
);

CREATE TABLE webhook_deliveries (
    alert_id        TEXT    NOT NULL REFERENCES alerts (id),
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,                         -- NULL: delivered or given up
    delivered_at    BIGINT ,
    last_error      TEXT,
    PRIMARY KEY (alert_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
