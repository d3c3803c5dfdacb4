//! The crawler's and the review console's state behind one trait: the brand's reference
//! catalog, crawl runs and their frontier, what was last seen at each page and image URL, hits
//! with their evidence pointers, and the review state of each hit.
//!
//! Hits are deduplicated by (page, image bytes, cause), so a crawl resumed after `kill -9`
//! re-inserts nothing, and the frontier is persisted so that a resumed run carries on where it
//! stopped. Callers hold an [`Evidence`] handle: the store plus the [`DataDir`] whose evidence
//! files the hits point into.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::tenancy::OrgId;
use crate::warc::{WarcReadError, WarcRecord, WarcWriter};
use crate::{DataDir, StoreResult};
use object_store::ObjectStore;

/// A catalog entry as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReferenceRow {
    /// Row id (stable reference id in hits).
    pub id: i64,
    /// Product SKU.
    pub sku: String,
    /// Optional human title.
    pub title: Option<String>,
    /// Path the image was added from.
    pub source_path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Pixel width.
    pub width: i64,
    /// Pixel height.
    pub height: i64,
    /// PDQ quality (0–100).
    pub pdq_quality: i64,
    /// Eight PDQ hashes (hex), dihedral order.
    pub pdq: Vec<String>,
    /// Eight pHashes (hex), dihedral order.
    pub phash: Vec<String>,
    /// Sub-window PDQ hashes as `name:hex`.
    pub pdq_windows: Vec<String>,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

/// A hit as stored and exported (one JSON line each in `--export`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct HitRecord {
    /// Marketplace (profile name).
    pub marketplace: String,
    /// Listing page.
    pub page_url: String,
    /// Image URL.
    pub image_url: String,
    /// SHA-256 of the image bytes (hex).
    pub image_sha256: String,
    /// When the image was fetched (RFC 3339, UTC).
    pub fetched_at: String,
    /// HTTP status of the image response.
    pub http_status: u16,
    /// Response headers of the image, as a JSON object of name → value.
    pub http_headers: serde_json::Value,
    /// Listing title.
    pub listing_title: Option<String>,
    /// Listing price as written.
    pub listing_price: Option<String>,
    /// Seller or shop.
    pub listing_seller: Option<String>,
    /// Matched catalog reference id.
    pub reference_id: Option<i64>,
    /// Matched SKU.
    pub sku: Option<String>,
    /// Hash that matched (`pdq` or `phash`).
    pub hash_kind: Option<String>,
    /// Hamming distance of the match.
    pub distance: Option<i64>,
    /// Dihedral transform of the reference that matched (`orig`, `flipx`, ...).
    pub transform: Option<String>,
    /// Window of the crawled image that matched (`full`, `centre-80`, ...).
    pub window: Option<String>,
    /// Decoded forensic watermark session, if any.
    pub watermark_session: Option<String>,
    /// WARC file holding the page and image responses (relative to the data directory).
    pub warc_file: String,
    /// Offset of the page's response record in the WARC file.
    pub warc_page_offset: Option<i64>,
    /// Offset of the image's response record in the WARC file.
    pub warc_image_offset: i64,
}

/// A catalog entry to add: the image's fingerprints, already computed by the crawler's hasher.
#[derive(Debug, Clone)]
pub struct NewReference<'a> {
    /// Product SKU.
    pub sku: &'a str,
    /// Optional human title.
    pub title: Option<&'a str>,
    /// Path the image was added from, as the user gave it.
    pub source_path: &'a str,
    /// SHA-256 of the file (hex).
    pub sha256: &'a str,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// PDQ quality (0–100).
    pub pdq_quality: u8,
    /// Eight PDQ hashes (hex), dihedral order.
    pub pdq: Vec<String>,
    /// Eight pHashes (hex), dihedral order.
    pub phash: Vec<String>,
    /// Sub-window PDQ hashes as `name:hex`.
    pub pdq_windows: Vec<String>,
}

/// A hit as the review console shows it: the stored hit with its review state.
#[derive(Debug, Clone)]
pub struct ReviewedHit {
    /// Hit id.
    pub id: i64,
    /// The hit as the crawler stored it.
    pub hit: HitRecord,
    /// `new`, `confirmed` or `dismissed`.
    pub review_state: String,
    /// Reviewer's note.
    pub note: String,
}

/// Previously seen content of a URL.
#[derive(Debug, Clone)]
pub struct Seen {
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// `ETag` the server gave.
    pub etag: Option<String>,
    /// Catalog generation it was matched against.
    pub catalog_gen: i64,
    /// Whether it produced a hit last time.
    pub hit: bool,
}

/// Storage of the catalog, crawl state, hits and reviews. Every method reads and writes one
/// organisation's rows only: `org` is the first argument of each.
#[async_trait]
pub trait EvidenceStore: Send + Sync + 'static {
    /// Adds a reference; returns its id and whether it was new (same SKU + bytes = same row).
    async fn add_reference(
        &self,
        org: OrgId,
        reference: &NewReference<'_>,
    ) -> StoreResult<(i64, bool)>;
    /// Every catalog entry, oldest first.
    async fn references(&self, org: OrgId) -> StoreResult<Vec<ReferenceRow>>;
    /// Where reference `id`'s image was added from.
    async fn reference_source(&self, org: OrgId, id: i64) -> StoreResult<Option<String>>;
    /// A number that grows whenever the catalog grows (re-crawls re-match when it changes).
    async fn catalog_generation(&self, org: OrgId) -> StoreResult<i64>;

    /// The unfinished run of `profile` if there is one (a crash or kill), else a new run.
    /// Returns `(run id, resumed)`.
    async fn resume_or_start_run(&self, org: OrgId, profile: &str) -> StoreResult<(i64, bool)>;
    /// Marks a run finished with its counters.
    async fn finish_run(&self, org: OrgId, run: i64, pages: u64, images: u64) -> StoreResult<()>;
    /// Adds a URL to a run's frontier; false if it was already there.
    async fn enqueue(&self, org: OrgId, run: i64, url: &str, depth: u32) -> StoreResult<bool>;
    /// Sets the state of a frontier entry (`done`, `failed`, `skipped`).
    async fn set_frontier_state(
        &self,
        org: OrgId,
        run: i64,
        url: &str,
        state: &str,
    ) -> StoreResult<()>;
    /// Every frontier URL of a run with its depth and state, in the order they were added.
    async fn frontier(&self, org: OrgId, run: i64) -> StoreResult<Vec<(String, u32, String)>>;
    /// Adds a URL to a run's frontier directly in `state` (a redirect target being fetched
    /// now is `done` from the start); false if it was already there.
    async fn enqueue_in_state(
        &self,
        org: OrgId,
        run: i64,
        url: &str,
        depth: u32,
        state: &str,
    ) -> StoreResult<bool>;
    /// Up to `limit` `queued` frontier entries of a run added after position `after` (0: from
    /// the start), in the order they were added: the crawler's in-memory window is paged in
    /// from here, so the frontier of a large site lives in the database, not in memory.
    async fn queued_frontier(
        &self,
        org: OrgId,
        run: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<FrontierEntry>>;
    /// How many frontier entries of a run are `queued`.
    async fn queued_count(&self, org: OrgId, run: i64) -> StoreResult<u64>;
    /// The unfinished run of `profile`, if there is one, without starting one (what
    /// `crawl --join` joins).
    async fn running_run(&self, org: OrgId, profile: &str) -> StoreResult<Option<i64>>;
    /// Whether run `run` of `org` exists and is finished (its evidence files are complete).
    async fn run_finished(&self, org: OrgId, run: i64) -> StoreResult<bool>;
    /// Leases up to `limit` free `queued` entries of a running run to `worker` for `lease`, in
    /// the order they were added. An entry is free when it was never leased or its lease ran
    /// out (its worker died); two workers never hold the same entry, and a finished entry is
    /// never leased again.
    async fn lease_frontier(
        &self,
        org: OrgId,
        run: i64,
        worker: &str,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<FrontierEntry>>;
    /// Extends every lease `worker` holds in a run to `lease` from now; returns how many.
    async fn renew_leases(
        &self,
        org: OrgId,
        run: i64,
        worker: &str,
        lease: Duration,
    ) -> StoreResult<u64>;
    /// Finishes a leased entry: `done`, `failed` or `skipped` mark it (if it is still
    /// `queued`: the first completion wins); `queued` gives `worker`'s lease back unfinished.
    /// Returns whether the entry changed.
    async fn complete_leased(
        &self,
        org: OrgId,
        run: i64,
        worker: &str,
        url: &str,
        state: &str,
    ) -> StoreResult<bool>;
    /// Gives back every lease `worker` still holds in a run; returns how many.
    async fn release_leases(&self, org: OrgId, run: i64, worker: &str) -> StoreResult<u64>;
    /// Every worker holding a lease, a host permit or a robots.txt claim in a run.
    async fn lease_holders(&self, org: OrgId, run: i64) -> StoreResult<Vec<String>>;
    /// Gives back everything held in a run by workers whose id starts with `prefix` (leases,
    /// host permits, robots.txt claims): a restarted crawl frees what its dead predecessor on
    /// the same machine held without waiting for the expiries. Returns how many.
    async fn release_holder(&self, org: OrgId, run: i64, prefix: &str) -> StoreResult<u64>;
    /// Takes the next request slot of `host` in a run, `interval` after the previous one
    /// (atomically, so that all workers together keep the host's rate); returns how long to
    /// wait for it.
    async fn host_slot(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        interval: Duration,
    ) -> StoreResult<Duration>;
    /// Takes one of `max` request permits of `host` in a run for `worker`, held at most `hold`
    /// (a killed worker's permit comes back then); `None` when all are taken.
    async fn take_host_permit(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        worker: &str,
        max: u32,
        hold: Duration,
    ) -> StoreResult<Option<u32>>;
    /// Gives back a permit [`EvidenceStore::take_host_permit`] returned.
    async fn release_host_permit(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        worker: &str,
        slot: u32,
    ) -> StoreResult<()>;
    /// The robots.txt answer of `host` stored for the run, or the right to fetch it (for
    /// `claim_for`, after which another worker may), or `Wait` while another worker fetches.
    async fn claim_robots(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        worker: &str,
        claim_for: Duration,
    ) -> StoreResult<RobotsClaim>;
    /// Stores the robots.txt answer of `host` for the run; an unreachable one is asked again
    /// after `retry_after`.
    async fn store_robots(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        answer: &StoredRobots,
        retry_after: Option<Duration>,
    ) -> StoreResult<()>;
    /// What was seen at a page or image URL last time.
    async fn seen(&self, org: OrgId, table: SeenTable, url: &str) -> StoreResult<Option<Seen>>;
    /// Records what was seen at a URL.
    async fn record_seen(
        &self,
        org: OrgId,
        table: SeenTable,
        url: &str,
        seen: &Seen,
    ) -> StoreResult<()>;

    /// Stores a hit unless the same (page, image bytes, cause) is already stored; true if new.
    async fn insert_hit(&self, org: OrgId, run: i64, hit: &HitRecord) -> StoreResult<bool>;
    /// Every stored hit of a marketplace (all runs), oldest first.
    async fn hits(&self, org: OrgId, marketplace: &str) -> StoreResult<Vec<HitRecord>>;
    /// The newest `limit` hits with their review state, newest first.
    async fn reviewed_hits(&self, org: OrgId, limit: u32) -> StoreResult<Vec<ReviewedHit>>;
    /// One hit with its review state.
    async fn reviewed_hit(&self, org: OrgId, id: i64) -> StoreResult<Option<ReviewedHit>>;
    /// Sets the review state (and, if given, the note) of the hits `ids` that exist, in one
    /// transaction; returns how many were updated.
    async fn set_review(
        &self,
        org: OrgId,
        ids: &[i64],
        state: Option<&str>,
        note: Option<&str>,
        reviewer: &str,
        now: i64,
    ) -> StoreResult<u64>;
}

/// One organisation's evidence: the store, that organisation, and the data directory whose
/// evidence files its hits point into (and, for a scale-out installation, the object store
/// finished evidence files are uploaded to). Cheap to clone. Every call is scoped to the
/// organisation it was made for.
#[derive(Clone)]
pub struct Evidence {
    store: Arc<dyn EvidenceStore>,
    data: DataDir,
    org: OrgId,
    objects: Option<Arc<dyn ObjectStore>>,
}

impl Evidence {
    /// Wraps any [`EvidenceStore`] whose evidence files are under `data`, for `org`.
    pub fn new(store: Arc<dyn EvidenceStore>, data: DataDir, org: OrgId) -> Self {
        Self {
            store,
            data,
            org,
            objects: None,
        }
    }

    /// Keeps finished evidence files in `objects` (a bucket, `crate::objects`) as
    /// `evidence/<file name>`: a run's WARC file is written locally while the run goes on,
    /// uploaded and checked when the run finishes ([`Evidence::finish_run`]), and read back by
    /// ranged requests wherever it is not local.
    #[must_use]
    pub fn with_objects(mut self, objects: Arc<dyn ObjectStore>) -> Self {
        self.objects = Some(objects);
        self
    }

    /// Opens the embedded SQLite store of `data` for crawling (creating it if needed), for the
    /// organisation named `org`.
    pub async fn open(data: &DataDir, org: &str) -> anyhow::Result<Self> {
        Self::open_on(&crate::Backend::Embedded, data, org).await
    }

    /// Opens the evidence of the organisation named `org` on `backend` (`--database`; the
    /// embedded one in `data` is created if needed, with crawl durability); evidence files stay
    /// under `data`.
    pub async fn open_on(
        backend: &crate::Backend,
        data: &DataDir,
        org: &str,
    ) -> anyhow::Result<Self> {
        let stores = crate::open_stores(backend, data, crate::Durability::Normal).await?;
        let found = stores.meta.org_by_name(org).await?.ok_or_else(|| {
            anyhow::anyhow!("no organisation {org:?}; create it with `veilmark org add`")
        })?;
        Ok(Self::new(stores.evidence, data.clone(), found.id))
    }

    /// The organisation this handle reads and writes.
    #[must_use]
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// See [`EvidenceStore::add_reference`].
    pub async fn add_reference(&self, r: &NewReference<'_>) -> StoreResult<(i64, bool)> {
        self.store.add_reference(self.org, r).await
    }

    /// See [`EvidenceStore::references`].
    pub async fn references(&self) -> StoreResult<Vec<ReferenceRow>> {
        self.store.references(self.org).await
    }

    /// See [`EvidenceStore::reference_source`].
    pub async fn reference_source(&self, id: i64) -> StoreResult<Option<String>> {
        self.store.reference_source(self.org, id).await
    }

    /// See [`EvidenceStore::catalog_generation`].
    pub async fn catalog_generation(&self) -> StoreResult<i64> {
        self.store.catalog_generation(self.org).await
    }

    /// See [`EvidenceStore::resume_or_start_run`].
    pub async fn resume_or_start_run(&self, profile: &str) -> StoreResult<(i64, bool)> {
        self.store.resume_or_start_run(self.org, profile).await
    }

    /// See [`EvidenceStore::finish_run`]. With an object store ([`Evidence::with_objects`])
    /// the run's evidence files in this data directory — the run's own and each local
    /// worker's (`run-N.warc`, `run-N-WORKER.warc`) — are then uploaded, checked and removed
    /// locally ([`Evidence::publish_warc`]); an upload that fails leaves the local file in
    /// place and is reported. Every crawl process ends a run this way, so each publishes
    /// the files its own workers wrote.
    pub async fn finish_run(&self, run: i64, pages: u64, images: u64) -> StoreResult<()> {
        self.store.finish_run(self.org, run, pages, images).await?;
        if self.objects.is_some() {
            let files = self.data.run_evidence_files(run);
            for file in files {
                self.publish_warc(&file).await?;
            }
        }
        Ok(())
    }

    /// See [`EvidenceStore::enqueue`].
    pub async fn enqueue(&self, run: i64, url: &str, depth: u32) -> StoreResult<bool> {
        self.store.enqueue(self.org, run, url, depth).await
    }

    /// See [`EvidenceStore::set_frontier_state`].
    pub async fn set_frontier_state(&self, run: i64, url: &str, state: &str) -> StoreResult<()> {
        self.store
            .set_frontier_state(self.org, run, url, state)
            .await
    }

    /// See [`EvidenceStore::frontier`].
    pub async fn frontier(&self, run: i64) -> StoreResult<Vec<(String, u32, String)>> {
        self.store.frontier(self.org, run).await
    }

    /// See [`EvidenceStore::enqueue_in_state`].
    pub async fn enqueue_in_state(
        &self,
        run: i64,
        url: &str,
        depth: u32,
        state: &str,
    ) -> StoreResult<bool> {
        self.store
            .enqueue_in_state(self.org, run, url, depth, state)
            .await
    }

    /// See [`EvidenceStore::queued_frontier`].
    pub async fn queued_frontier(
        &self,
        run: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<FrontierEntry>> {
        self.store
            .queued_frontier(self.org, run, after, limit)
            .await
    }

    /// See [`EvidenceStore::queued_count`].
    pub async fn queued_count(&self, run: i64) -> StoreResult<u64> {
        self.store.queued_count(self.org, run).await
    }

    /// See [`EvidenceStore::running_run`].
    pub async fn running_run(&self, profile: &str) -> StoreResult<Option<i64>> {
        self.store.running_run(self.org, profile).await
    }

    /// Uploads the evidence files that finished runs of this organisation left in the data
    /// directory: a crawl process that stopped between [`Evidence::finish_run`] and the upload
    /// (killed, or the bucket unreachable) leaves its files local, where replicas on other
    /// machines cannot read them. Files of runs still running, or of other organisations, are
    /// left alone. Returns the files published; nothing without an object store.
    pub async fn publish_left_behind(&self) -> StoreResult<Vec<String>> {
        if self.objects.is_none() {
            return Ok(Vec::new());
        }
        let mut published = Vec::new();
        for (run, file) in self.data.local_evidence_files() {
            if self.store.run_finished(self.org, run).await?
                && self.publish_warc(&file).await?.is_some()
            {
                published.push(file);
            }
        }
        Ok(published)
    }

    /// See [`EvidenceStore::lease_frontier`].
    pub async fn lease_frontier(
        &self,
        run: i64,
        worker: &str,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<FrontierEntry>> {
        self.store
            .lease_frontier(self.org, run, worker, limit, lease)
            .await
    }

    /// See [`EvidenceStore::renew_leases`].
    pub async fn renew_leases(&self, run: i64, worker: &str, lease: Duration) -> StoreResult<u64> {
        self.store.renew_leases(self.org, run, worker, lease).await
    }

    /// See [`EvidenceStore::complete_leased`].
    pub async fn complete_leased(
        &self,
        run: i64,
        worker: &str,
        url: &str,
        state: &str,
    ) -> StoreResult<bool> {
        self.store
            .complete_leased(self.org, run, worker, url, state)
            .await
    }

    /// See [`EvidenceStore::release_leases`].
    pub async fn release_leases(&self, run: i64, worker: &str) -> StoreResult<u64> {
        self.store.release_leases(self.org, run, worker).await
    }

    /// See [`EvidenceStore::lease_holders`].
    pub async fn lease_holders(&self, run: i64) -> StoreResult<Vec<String>> {
        self.store.lease_holders(self.org, run).await
    }

    /// See [`EvidenceStore::release_holder`].
    pub async fn release_holder(&self, run: i64, prefix: &str) -> StoreResult<u64> {
        self.store.release_holder(self.org, run, prefix).await
    }

    /// See [`EvidenceStore::host_slot`].
    pub async fn host_slot(
        &self,
        run: i64,
        host: &str,
        interval: Duration,
    ) -> StoreResult<Duration> {
        self.store.host_slot(self.org, run, host, interval).await
    }

    /// See [`EvidenceStore::take_host_permit`].
    pub async fn take_host_permit(
        &self,
        run: i64,
        host: &str,
        worker: &str,
        max: u32,
        hold: Duration,
    ) -> StoreResult<Option<u32>> {
        self.store
            .take_host_permit(self.org, run, host, worker, max, hold)
            .await
    }

    /// See [`EvidenceStore::release_host_permit`].
    pub async fn release_host_permit(
        &self,
        run: i64,
        host: &str,
        worker: &str,
        slot: u32,
    ) -> StoreResult<()> {
        self.store
            .release_host_permit(self.org, run, host, worker, slot)
            .await
    }

    /// See [`EvidenceStore::claim_robots`].
    pub async fn claim_robots(
        &self,
        run: i64,
        host: &str,
        worker: &str,
        claim_for: Duration,
    ) -> StoreResult<RobotsClaim> {
        self.store
            .claim_robots(self.org, run, host, worker, claim_for)
            .await
    }

    /// See [`EvidenceStore::store_robots`].
    pub async fn store_robots(
        &self,
        run: i64,
        host: &str,
        answer: &StoredRobots,
        retry_after: Option<Duration>,
    ) -> StoreResult<()> {
        self.store
            .store_robots(self.org, run, host, answer, retry_after)
            .await
    }

    /// See [`EvidenceStore::seen`].
    pub async fn seen(&self, table: SeenTable, url: &str) -> StoreResult<Option<Seen>> {
        self.store.seen(self.org, table, url).await
    }

    /// See [`EvidenceStore::record_seen`].
    pub async fn record_seen(&self, table: SeenTable, url: &str, seen: &Seen) -> StoreResult<()> {
        self.store.record_seen(self.org, table, url, seen).await
    }

    /// See [`EvidenceStore::insert_hit`].
    pub async fn insert_hit(&self, run: i64, hit: &HitRecord) -> StoreResult<bool> {
        self.store.insert_hit(self.org, run, hit).await
    }

    /// See [`EvidenceStore::hits`].
    pub async fn hits(&self, marketplace: &str) -> StoreResult<Vec<HitRecord>> {
        self.store.hits(self.org, marketplace).await
    }

    /// See [`EvidenceStore::reviewed_hits`].
    pub async fn reviewed_hits(&self, limit: u32) -> StoreResult<Vec<ReviewedHit>> {
        self.store.reviewed_hits(self.org, limit).await
    }

    /// See [`EvidenceStore::reviewed_hit`].
    pub async fn reviewed_hit(&self, id: i64) -> StoreResult<Option<ReviewedHit>> {
        self.store.reviewed_hit(self.org, id).await
    }

    /// See [`EvidenceStore::set_review`].
    pub async fn set_review(
        &self,
        ids: &[i64],
        state: Option<&str>,
        note: Option<&str>,
        reviewer: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.store
            .set_review(self.org, ids, state, note, reviewer, now)
            .await
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// Opens the evidence file of crawl run `run` for appending.
    pub fn warc_writer(&self, run: i64) -> std::io::Result<WarcWriter> {
        WarcWriter::open(&self.data, run)
    }

    /// Opens worker `worker`'s own evidence file of crawl run `run` for appending (several
    /// workers of a run never append to one file).
    pub fn worker_warc_writer(&self, run: i64, worker: &str) -> std::io::Result<WarcWriter> {
        WarcWriter::open_for_worker(&self.data, run, worker)
    }

    /// Reads the WARC record a hit points at (`warc_file`, offset) from the local file
    /// (blocking; [`Evidence::warc_record_within`] also reads uploaded files).
    pub fn warc_record(&self, warc_file: &str, offset: i64) -> Result<WarcRecord, WarcReadError> {
        crate::warc::read_record(&self.data, warc_file, offset)
    }

    /// Reads the WARC record a hit points at, only its own bytes, refusing one longer than
    /// `cap` bytes (a thumbnail never reads a whole WARC file): from the local file on a
    /// blocking thread, or, where the file is not local and an object store is set, with ranged
    /// `GET`s of the uploaded object (`crate::warc::read_record_remote`).
    pub async fn warc_record_within(
        &self,
        warc_file: &str,
        offset: i64,
        cap: u64,
    ) -> Result<WarcRecord, WarcReadError> {
        let data = self.data.clone();
        let file = warc_file.to_owned();
        let local = tokio::task::spawn_blocking(move || {
            crate::warc::read_record_within(&data, &file, offset, cap)
        })
        .await
        .unwrap_or_else(|e| {
            Err(WarcReadError::Io {
                path: warc_file.to_owned(),
                source: std::io::Error::other(e),
            })
        });
        match (local, &self.objects) {
            // Not here (never was, or uploaded and removed since): the bucket has it.
            (Err(WarcReadError::Io { source, .. }), Some(objects))
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                crate::warc::read_record_remote(objects.as_ref(), warc_file, offset, cap).await
            }
            (result, _) => result,
        }
    }

    /// Opens the local evidence file a hit points at (see [`Evidence::open_warc`], which also
    /// finds an uploaded one).
    pub fn open_warc_file(&self, warc_file: &str) -> Result<std::fs::File, WarcReadError> {
        let path = self
            .data
            .evidence_file(warc_file)
            .ok_or_else(|| WarcReadError::OutsideEvidence(warc_file.to_owned()))?;
        std::fs::File::open(&path).map_err(|source| WarcReadError::Io {
            path: warc_file.to_owned(),
            source,
        })
    }

    /// Opens the evidence file a hit points at, to be streamed (for an evidence bundle): the
    /// local file, or, where it is not local, the uploaded object downloaded (streamed, not
    /// held in memory) into an unlinked private temporary file and checked against the SHA-256
    /// recorded at upload ([`WarcReadError::Tampered`] when it differs).
    pub async fn open_warc(&self, warc_file: &str) -> Result<std::fs::File, WarcReadError> {
        match (self.open_warc_file(warc_file), &self.objects) {
            (Err(WarcReadError::Io { source, .. }), Some(objects))
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                crate::evidence_objects::download_verified(&self.data, objects.as_ref(), warc_file)
                    .await
            }
            (result, _) => result,
        }
    }

    /// Checks the uploaded evidence object `warc_file` against the SHA-256 recorded when it was
    /// uploaded, reading it as a stream; returns that SHA-256 (hex).
    pub async fn verify_warc(&self, warc_file: &str) -> Result<String, WarcReadError> {
        let objects = self.objects.as_ref().ok_or_else(|| WarcReadError::Io {
            path: warc_file.to_owned(),
            source: std::io::Error::other("no object store is configured for evidence"),
        })?;
        crate::evidence_objects::verify(objects.as_ref(), warc_file).await
    }

    /// Uploads the finished local evidence file `warc_file` (a hit's path, `evidence/…`) to the
    /// object store with a streamed multipart upload, reads the object back to check its
    /// SHA-256, records that SHA-256 beside it (`evidence/<name>.sha256`) and removes the local
    /// file. Returns the SHA-256, or `None` when there is no local file (already published) or
    /// no object store. A failed check leaves the local file in place and is an error.
    pub async fn publish_warc(&self, warc_file: &str) -> StoreResult<Option<String>> {
        let Some(objects) = &self.objects else {
            return Ok(None);
        };
        crate::evidence_objects::publish(&self.data, objects.as_ref(), warc_file).await
    }

    /// Reads the image reference `id` was added from: the path as stored, and for a relative
    /// one also under the data directory (the server may run elsewhere than `catalog add` did).
    /// A file longer than `cap` bytes is not read (`None`).
    pub async fn reference_image(&self, id: i64, cap: u64) -> StoreResult<Option<Vec<u8>>> {
        let Some(path) = self.reference_source(id).await? else {
            return Ok(None);
        };
        let path = std::path::PathBuf::from(path);
        let mut tries = vec![path.clone()];
        if path.is_relative() {
            tries.push(self.data.root().join(&path));
        }
        for p in tries {
            if tokio::fs::metadata(&p).await.is_ok_and(|m| m.len() > cap) {
                return Ok(None);
            }
            if let Ok(bytes) = tokio::fs::read(&p).await {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }
}

/// A queued frontier entry, with its position in the run's frontier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontierEntry {
    /// Position (increases in the order entries were added); page on from the last one.
    pub position: i64,
    /// Canonical URL.
    pub url: String,
    /// Link hops from a seed.
    pub depth: u32,
}

/// Which "last seen" table.
#[derive(Debug, Clone, Copy)]
pub enum SeenTable {
    /// `crawl_page`.
    Page,
    /// `crawl_image`.
    Image,
}

/// A host's robots.txt as fetched once for a run and shared by its workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredRobots {
    /// A 2xx answer: the file's bytes (each worker parses them for its user agent).
    Rules(Vec<u8>),
    /// A 4xx answer: everything is allowed.
    Unavailable,
    /// Unreachable (5xx, network error, ...), with why: nothing is allowed until it answers.
    Unreachable(String),
}

/// What [`EvidenceStore::claim_robots`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotsClaim {
    /// The answer already stored for the run.
    Stored(StoredRobots),
    /// Nothing stored (or an unreachable answer due for a retry): the caller fetches it now.
    Fetch,
    /// Another worker is fetching it: ask again shortly.
    Wait,
}

impl StoredRobots {
    /// The kind column's value.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            StoredRobots::Rules(_) => "rules",
            StoredRobots::Unavailable => "unavailable",
            StoredRobots::Unreachable(_) => "unreachable",
        }
    }

    /// The body column's value.
    pub(crate) fn body(&self) -> Option<&[u8]> {
        match self {
            StoredRobots::Rules(b) => Some(b),
            _ => None,
        }
    }

    /// The note column's value.
    pub(crate) fn note(&self) -> Option<&str> {
        match self {
            StoredRobots::Unreachable(why) => Some(why),
            _ => None,
        }
    }

    /// Rebuilds a stored answer from its columns (an unknown kind reads as unreachable).
    pub(crate) fn from_columns(kind: &str, body: Option<Vec<u8>>, note: Option<String>) -> Self {
        match (kind, body) {
            ("rules", Some(b)) => StoredRobots::Rules(b),
            ("unavailable", _) => StoredRobots::Unavailable,
            _ => StoredRobots::Unreachable(note.unwrap_or_default()),
        }
    }
}

/// The frontier states a worker may finish a leased entry with (or `queued`: give it back).
pub(crate) fn check_completion_state(state: &str) -> StoreResult<()> {
    anyhow::ensure!(
        matches!(state, "queued" | "done" | "failed" | "skipped"),
        "not a frontier state: {state:?}"
    );
    Ok(())
}
