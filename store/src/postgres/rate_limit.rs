//! Token buckets in PostgreSQL, so that a rate limit holds across every server replica on one
//! database rather than once per process (an attacker spreading guesses over N replicas would
//! otherwise get N times the burst).
//!
//! A take is one statement: `INSERT … ON CONFLICT DO UPDATE … RETURNING`. The row lock that the
//! conflict takes serialises concurrent takes of one key, on whatever replica they run, and the
//! refill is computed from the database's clock inside the same statement, so there is no
//! read-then-write window and replicas' clocks do not matter. Table: migration
//! `0003_rate_limits.sql`.

use sqlx::PgPool;

use crate::StoreResult;

/// Refilled tokens of the row `b`, for burst `$3` and rate `$4` per second, at the statement's
/// time (never less than the stored tokens, should a statement that waited for the row lock
/// carry an earlier `now()` than the take before it).
macro_rules! refilled {
    () => {
        "LEAST($3::float8, b.tokens + GREATEST(0, \
         EXTRACT(EPOCH FROM (now() - b.updated_at))::float8) * $4::float8)"
    };
}

const TAKE: &str = concat!(
    "INSERT INTO rate_limit_bucket AS b (scope, key, tokens, taken, updated_at) \
     VALUES ($1, $2, $3::float8 - 1, TRUE, now()) \
     ON CONFLICT (scope, key) DO UPDATE SET \
       tokens = CASE WHEN ",
    refilled!(),
    " >= 1 THEN ",
    refilled!(),
    " - 1 ELSE ",
    refilled!(),
    " END, taken = ",
    refilled!(),
    " >= 1, updated_at = GREATEST(b.updated_at, now()) \
     RETURNING tokens, taken"
);

/// Token buckets shared by every process connected to one PostgreSQL database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SharedBuckets {
    pool: PgPool,
}

impl SharedBuckets {
    pub(super) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Takes one token from bucket `key` of `scope` (`link`, `login`, …), whose size is `burst`
    /// and which refills `per_sec` tokens a second. `Ok(Err(seconds))`: no token left; retry
    /// after that many whole seconds (1 to a day).
    pub async fn take(
        &self,
        scope: &str,
        key: &str,
        burst: u32,
        per_sec: f64,
    ) -> StoreResult<Result<(), u64>> {
        if burst == 0 {
            return Ok(Err(retry_after(0.0, per_sec)));
        }
        let (tokens, taken): (f64, bool) = sqlx::query_as(TAKE)
            .bind(scope)
            .bind(key)
            .bind(f64::from(burst))
            .bind(per_sec)
            .fetch_one(&self.pool)
            .await?;
        Ok(if taken {
            Ok(())
        } else {
            Err(retry_after(tokens, per_sec))
        })
    }

    /// Deletes the buckets of `scope` idle long enough to have refilled completely (a full
    /// bucket and no bucket are the same); returns how many.
    pub async fn prune(&self, scope: &str, burst: u32, per_sec: f64) -> StoreResult<u64> {
        let full_after = f64::from(burst) / per_sec.max(1e-9);
        let done = sqlx::query(
            "DELETE FROM rate_limit_bucket WHERE scope = $1 \
             AND updated_at < now() - make_interval(secs => $2)",
        )
        .bind(scope)
        .bind(full_after.min(1e9))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Whole seconds until one token is back, between 1 and a day (for `Retry-After`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 1..=86 400 first
fn retry_after(tokens: f64, per_sec: f64) -> u64 {
    let wait = (1.0 - tokens) / per_sec.max(1e-9);
    wait.ceil().clamp(1.0, 86_400.0) as u64
}
