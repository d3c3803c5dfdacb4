//! Several crawl workers on one run, through the store alone: frontier leases, each host's
//! shared request slots and permits, and robots.txt fetched once. Every test runs on both
//! backends, each worker with its own connection pool (as separate processes would have).

#[path = "common/evidence_backends.rs"]
mod evidence_backends;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use evidence_backends::{BACKENDS, Backend, EvidenceBackend};
use veilmark_store::evidence::{RobotsClaim, StoredRobots};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_never_lease_one_url_twice() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        let (run, _) = b.ev.resume_or_start_run("shop").await.unwrap();
        for i in 0..300 {
            assert!(
                b.ev.enqueue(run, &format!("http://s/{i}"), 1)
                    .await
                    .unwrap()
            );
        }
        // Enqueue is idempotent: the same URL again is not a second entry.
        assert!(!b.ev.enqueue(run, "http://s/7", 2).await.unwrap());
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..6 {
            let ev = b.another_pool().await;
            workers.spawn(async move {
                let id = format!("worker-{w}");
                let mut got = Vec::new();
                loop {
                    let batch = ev.lease_frontier(run, &id, 7, LONG).await.unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for e in batch {
                        assert!(
                            ev.complete_leased(run, &id, &e.url, "done").await.unwrap(),
                            "{id} finished {} it held",
                            e.url
                        );
                        got.push(e.url);
                    }
                }
                got
            });
        }
        let mut all = Vec::new();
        while let Some(got) = workers.join_next().await {
            all.extend(got.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "{backend:?}: a URL leased twice");
        assert_eq!(all.len(), 300, "{backend:?}: every URL leased once");
        assert_eq!(b.ev.queued_count(run).await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_goes_to_another_worker_and_a_done_url_never_does() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        let (run, _) = b.ev.resume_or_start_run("shop").await.unwrap();
        let w2 = b.another_pool().await;
        for u in ["http://s/a", "http://s/b", "http://s/c"] {
            b.ev.enqueue(run, u, 0).await.unwrap();
        }
        let short = Duration::from_millis(600);
        let held = b.ev.lease_frontier(run, "killed", 2, short).await.unwrap();
        let held: Vec<_> = held.into_iter().map(|e| e.url).collect();
        assert_eq!(
            held,
            ["http://s/a", "http://s/b"],
            "{backend:?}: oldest first"
        );
        // "killed" finishes a, then dies holding b.
        assert!(
            b.ev.complete_leased(run, "killed", "http://s/a", "done")
                .await
                .unwrap()
        );
        let now: Vec<_> = w2.lease_frontier(run, "w2", 10, LONG).await.unwrap();
        assert_eq!(
            now.iter().map(|e| e.url.as_str()).collect::<Vec<_>>(),
            ["http://s/c"],
            "{backend:?}: a live lease is not taken"
        );
        tokio::time::sleep(short + Duration::from_millis(200)).await;
        let after: Vec<_> = w2.lease_frontier(run, "w2", 10, LONG).await.unwrap();
        assert_eq!(
            after.iter().map(|e| e.url.as_str()).collect::<Vec<_>>(),
            ["http://s/b"],
            "{backend:?}: the dead worker's lease expired and b came back; a (done) did not"
        );
        // The dead worker coming back late cannot give w2's lease away.
        assert!(
            !b.ev
                .complete_leased(run, "killed", "http://s/b", "queued")
                .await
                .unwrap()
        );
        assert!(
            w2.complete_leased(run, "w2", "http://s/b", "done")
                .await
                .unwrap()
        );
        assert!(
            w2.complete_leased(run, "w2", "http://s/c", "failed")
                .await
                .unwrap()
        );
        assert!(
            !b.ev
                .complete_leased(run, "killed", "http://s/b", "done")
                .await
                .unwrap(),
            "{backend:?}: the first completion wins"
        );
        // Done entries are never leased again, not even when re-enqueued.
        assert!(!b.ev.enqueue(run, "http://s/a", 0).await.unwrap());
        tokio::time::sleep(short).await;
        assert!(
            w2.lease_frontier(run, "w2", 10, LONG)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(b.ev.queued_count(run).await.unwrap(), 0);
        assert!(
            b.ev.complete_leased(run, "w2", "http://s/a", "bogus")
                .await
                .is_err()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_leases_stay_and_released_ones_come_back_at_once() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        let (run, _) = b.ev.resume_or_start_run("shop").await.unwrap();
        let w2 = b.another_pool().await;
        for i in 0..4 {
            b.ev.enqueue(run, &format!("http://s/{i}"), 0)
                .await
                .unwrap();
        }
        let short = Duration::from_millis(500);
        assert_eq!(
            b.ev.lease_frontier(run, "h:1:a:w0", 2, short)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            b.ev.lease_frontier(run, "h:2:b:w0", 1, short)
                .await
                .unwrap()
                .len(),
            1
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(b.ev.renew_leases(run, "h:1:a:w0", short).await.unwrap(), 2);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // h:2's lease ran out; h:1's renewed two did not.
        let got = w2.lease_frontier(run, "w2", 10, LONG).await.unwrap();
        assert_eq!(got.len(), 2, "{backend:?}: {got:?}");
        let holders = b.ev.lease_holders(run).await.unwrap();
        assert!(holders.contains(&"h:1:a:w0".to_string()), "{holders:?}");
        // A crawl restarted on this machine frees what its dead predecessor held.
        assert_eq!(b.ev.release_holder(run, "h:1:").await.unwrap(), 2);
        assert_eq!(
            w2.lease_frontier(run, "w2", 10, LONG).await.unwrap().len(),
            2
        );
        assert_eq!(w2.release_leases(run, "w2").await.unwrap(), 4);
        // A finished run leases nothing: its workers stop.
        b.ev.finish_run(run, 0, 0).await.unwrap();
        assert!(
            w2.lease_frontier(run, "w2", 10, LONG)
                .await
                .unwrap()
                .is_empty()
        );
        // Another organisation neither sees nor leases the run.
        let (run_b, _) = b.other.resume_or_start_run("shop").await.unwrap();
        assert_ne!(run_b, run);
        assert!(
            b.other
                .lease_frontier(run, "x", 10, LONG)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!b.other.enqueue(run, "http://s/evil", 0).await.unwrap());
        assert!(
            b.other
                .host_slot(run, "s:80", Duration::from_millis(1))
                .await
                .is_err()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_together_keep_a_hosts_rate() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        let (run, _) = b.ev.resume_or_start_run("shop").await.unwrap();
        // Long enough that the 32 slots are all taken well before the first ones pass, so
        // that every slot lies after the previous one: one lost update (two workers reading
        // the same next_at) would end the schedule one interval early.
        let interval = Duration::from_millis(200);
        let start = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let ev = b.another_pool().await;
            workers.spawn(async move {
                let mut slots = Vec::new();
                for _ in 0..8 {
                    let wait = ev
                        .host_slot(run, "shop.example:443", interval)
                        .await
                        .unwrap();
                    slots.push(Instant::now() + wait);
                }
                slots
            });
        }
        let mut slots = Vec::new();
        while let Some(s) = workers.join_next().await {
            slots.extend(s.unwrap());
        }
        slots.sort();
        // Measured on this side of the connection: a loaded machine adds round-trip jitter.
        let jitter = Duration::from_millis(60);
        for pair in slots.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap + jitter >= interval,
                "{backend:?}: two requests {gap:?} apart at one every {interval:?}"
            );
        }
        let next = Instant::now()
            + b.ev
                .host_slot(run, "shop.example:443", interval)
                .await
                .unwrap();
        assert!(
            next + jitter >= start + interval * 32,
            "{backend:?}: the 33rd slot is only {:?} after the start",
            next - start
        );
        // Another host has its own schedule.
        let other =
            b.ev.host_slot(run, "other.example:443", interval)
                .await
                .unwrap();
        assert!(other < Duration::from_millis(5), "{backend:?}: {other:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_permits_bound_concurrency_and_a_dead_holders_permit_expires() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        let (run, _) = b.ev.resume_or_start_run("shop").await.unwrap();
        let w2 = b.another_pool().await;
        let hold = Duration::from_millis(500);
        let p1 = b.ev.take_host_permit(run, "h", "a", 2, hold).await.unwrap();
        let p2 = w2.take_host_permit(run, "h", "b", 2, LONG).await.unwrap();
        assert!(p1.is_some() && p2.is_some() && p1 != p2, "{backend:?}");
        assert_eq!(
            w2.take_host_permit(run, "h", "c", 2, LONG).await.unwrap(),
            None
        );
        assert!(
            w2.take_host_permit(run, "other", "c", 2, LONG)
                .await
                .unwrap()
                .is_some()
        );
        w2.release_host_permit(run, "h", "b", p2.unwrap())
            .await
            .unwrap();
        assert_eq!(
            w2.take_host_permit(run, "h", "c", 2, LONG).await.unwrap(),
            p2
        );
        // "a" died holding p1: it comes back when its hold runs out.
        assert_eq!(
            w2.take_host_permit(run, "h", "d", 2, LONG).await.unwrap(),
            None
        );
        tokio::time::sleep(hold + Duration::from_millis(100)).await;
        assert_eq!(
            w2.take_host_permit(run, "h", "d", 2, LONG).await.unwrap(),
            p1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_txt_is_fetched_by_one_worker_and_shared() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        let (run, _) = b.ev.resume_or_start_run("shop").await.unwrap();
        let w2 = b.another_pool().await;
        let claim = Duration::from_millis(400);
        assert_eq!(
            b.ev.claim_robots(run, "h", "a", claim).await.unwrap(),
            RobotsClaim::Fetch
        );
        assert_eq!(
            w2.claim_robots(run, "h", "b", claim).await.unwrap(),
            RobotsClaim::Wait
        );
        let rules = StoredRobots::Rules(b"User-agent: *\nDisallow: /x\n".to_vec());
        b.ev.store_robots(run, "h", &rules, None).await.unwrap();
        assert_eq!(
            w2.claim_robots(run, "h", "b", claim).await.unwrap(),
            RobotsClaim::Stored(rules),
            "{backend:?}"
        );
        // A claimer that dies lets another fetch once its claim runs out.
        assert_eq!(
            w2.claim_robots(run, "g", "b", claim).await.unwrap(),
            RobotsClaim::Fetch
        );
        assert_eq!(
            b.ev.claim_robots(run, "g", "a", claim).await.unwrap(),
            RobotsClaim::Wait
        );
        tokio::time::sleep(claim + Duration::from_millis(100)).await;
        assert_eq!(
            b.ev.claim_robots(run, "g", "a", claim).await.unwrap(),
            RobotsClaim::Fetch
        );
        // Unreachable: stored, then due again after its retry delay.
        let down = StoredRobots::Unreachable("status 503".into());
        b.ev.store_robots(run, "g", &down, Some(Duration::from_millis(300)))
            .await
            .unwrap();
        assert_eq!(
            w2.claim_robots(run, "g", "b", claim).await.unwrap(),
            RobotsClaim::Stored(down)
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            w2.claim_robots(run, "g", "b", claim).await.unwrap(),
            RobotsClaim::Fetch
        );
        if backend == Backend::Postgres {
            // Another run has its own robots.txt and schedule.
            b.ev.finish_run(run, 0, 0).await.unwrap();
            let (run2, _) = b.ev.resume_or_start_run("shop").await.unwrap();
            assert_eq!(
                b.ev.claim_robots(run2, "h", "a", claim).await.unwrap(),
                RobotsClaim::Fetch
            );
        }
    }
}
