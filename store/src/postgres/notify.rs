//! Revocations reach every replica at once: each server's revocation watcher holds a
//! `LISTEN veilmark_revocations` connection, and [`MetaStore::revoke_link`] sends
//! `NOTIFY` in its transaction, from whichever process revokes (a replica, the owner CLI).
//!
//! No extra broker: PostgreSQL delivers the notification at commit. A notification carries
//! no state the watcher relies on; it only wakes it to read the revocation feed table from its
//! last position. So a lost connection loses nothing: after reconnecting, the listener wakes
//! the watcher once more and it catches up from the feed.
//!
//! [`MetaStore::revoke_link`]: crate::MetaStore::revoke_link

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::PostgresStore;
use super::meta::REVOCATION_CHANNEL;
use crate::meta::RevocationWakeups;

/// The safety net under notifications: the watcher reads the feed at least this often.
const FALLBACK_POLL: Duration = Duration::from_secs(5);
/// The pause before reconnecting a listener that failed.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

impl PostgresStore {
    /// Starts a listener on its own connection and returns the wake-ups it drives. The
    /// listener ends when the returned value is dropped.
    pub(super) fn listen_for_revocations(&self) -> RevocationWakeups {
        let (tx, rx) = watch::channel(0u64);
        let store = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tx.closed() => {}
                () = store.listen_loop(&tx) => {}
            }
        });
        RevocationWakeups::notified(rx, FALLBACK_POLL)
    }

    /// Connects, listens and bumps `tx` on each notification; reconnects for ever.
    async fn listen_loop(&self, tx: &watch::Sender<u64>) {
        let mut failures = 0u32;
        loop {
            let mut listener = match self.listener().await {
                Ok(l) => l,
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(
                            "cannot listen for revocations on {} (polling every {} s until it \
                             comes back): {e:#}",
                            self.redacted_url(),
                            FALLBACK_POLL.as_secs()
                        );
                    }
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            };
            if failures > 0 {
                tracing::info!("listening for revocations again");
            }
            failures = 0;
            // Anything revoked while no connection listened: read the feed now.
            tx.send_modify(|n| *n = n.wrapping_add(1));
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => tx.send_modify(|n| *n = n.wrapping_add(1)),
                    // The connection was lost (notifications may be lost with it): connect
                    // afresh, then wake the watcher to catch up.
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("the revocation listener failed, reconnecting: {e:#}");
                        break;
                    }
                }
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }

    async fn listener(&self) -> sqlx::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(REVOCATION_CHANNEL).await?;
        Ok(listener)
    }
}
