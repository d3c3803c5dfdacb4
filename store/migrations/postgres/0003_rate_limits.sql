-- Token buckets shared by every server replica on one PostgreSQL database (issue 17): the
-- per-link limit on token and passcode checks and the per-address limit on logins hold across
-- replicas, not per process. One row per (scope, key); a take is one atomic
-- INSERT ... ON CONFLICT DO UPDATE ... RETURNING (store/src/postgres/rate_limit.rs). Times are
-- the database's clock, so replicas' clocks do not matter. A row is equivalent to no row once
-- its bucket has refilled, and such rows are pruned.
CREATE TABLE rate_limit_bucket (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    -- Tokens left after the last take (fractional: refill is continuous).
    tokens      DOUBLE PRECISION NOT NULL,
    -- Whether the last take found a token.
    taken       BOOLEAN NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX rate_limit_bucket_updated ON rate_limit_bucket (scope, updated_at);
