//! Rate limits shared by server replicas: two connection pools (two replicas) on one PostgreSQL
//! database together allow no more than one burst.

use std::time::Duration;

use veilmark_store::PostgresStore;
use veilmark_testkit::PgTestDb;

#[tokio::test]
async fn two_pools_on_one_database_together_allow_no_more_than_the_burst() {
    let db = PgTestDb::create().await;
    let a = PostgresStore::connect(db.url())
        .await
        .unwrap()
        .rate_buckets();
    let b = PostgresStore::connect(db.url())
        .await
        .unwrap()
        .rate_buckets();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let buckets = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            buckets.take("link", "lnk_one", 10, 0.001).await.unwrap()
        }));
    }
    let mut allowed = 0;
    let mut retries = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => allowed += 1,
            Err(retry) => retries.push(retry),
        }
    }
    assert_eq!(allowed, 10, "exactly the burst, across both pools");
    assert_eq!(retries.len(), 50);
    // One token takes 1 000 s at 0.001/s.
    assert!(
        retries.iter().all(|r| (900..=1000).contains(r)),
        "{retries:?}"
    );
    // Another key and another scope have their own buckets.
    assert_eq!(a.take("link", "lnk_two", 10, 0.001).await.unwrap(), Ok(()));
    assert_eq!(b.take("login", "lnk_one", 10, 0.001).await.unwrap(), Ok(()));
}

#[tokio::test]
async fn a_bucket_refills_at_its_rate_and_idle_full_buckets_are_pruned() {
    let db = PgTestDb::create().await;
    let store = PostgresStore::connect(db.url()).await.unwrap();
    let buckets = store.rate_buckets();
    let take = || buckets.take("login", "10.0.0.1", 2, 4.0);
    assert_eq!(take().await.unwrap(), Ok(()));
    assert_eq!(take().await.unwrap(), Ok(()));
    assert_eq!(
        take().await.unwrap(),
        Err(1),
        "empty; a token is back within a second"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    // 0.6 s at 4/s: 2.4 tokens, capped at the bucket's two.
    assert_eq!(take().await.unwrap(), Ok(()));
    assert_eq!(take().await.unwrap(), Ok(()));
    assert!(take().await.unwrap().is_err());
    // Not refilled yet: kept. Idle for longer than a full refill (0.5 s): pruned, and the
    // bucket starts full again.
    assert_eq!(buckets.prune("login", 2, 4.0).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(buckets.prune("login", 2, 4.0).await.unwrap(), 1);
    assert_eq!(take().await.unwrap(), Ok(()));
    assert_eq!(take().await.unwrap(), Ok(()));
    // A bucket of size zero never allows.
    assert!(
        buckets
            .take("login", "10.0.0.2", 0, 4.0)
            .await
            .unwrap()
            .is_err()
    );
}
