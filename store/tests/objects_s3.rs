//! Issue 17, evidence on S3: a finished run's WARC file goes to a real S3-compatible server
//! (`s3s-fs` on loopback, signatures checked) by a streamed multipart upload, its records are
//! read back by range (only their own bytes) equal to the local reads, an altered object is
//! reported, and a wrong key or a missing bucket is caught by the startup check.

use veilmark_store::objects::{ObjectsLocation, S3Settings};
use veilmark_store::tenancy::DEFAULT_ORG;
use veilmark_store::warc::{HttpRecord, WarcReadError, WarcRecord};
use veilmark_store::{DataDir, Evidence};
use veilmark_testkit::S3TestServer;
use zeroize::Zeroizing;

fn settings(s3: &S3TestServer) -> S3Settings {
    S3Settings {
        endpoint: Some(s3.endpoint().to_owned()),
        region: Some(veilmark_testkit::s3::REGION.to_owned()),
        access_key_id: Some(s3.access_key().to_owned()),
        secret_access_key: Some(Zeroizing::new(s3.secret_key().to_owned())),
        allow_http: true,
    }
}

fn location(url: &str, settings: S3Settings) -> ObjectsLocation {
    ObjectsLocation {
        url: url.parse().unwrap(),
        settings: Some(settings),
    }
}

/// A body of `len` bytes that differs from record to record.
fn body(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 7 + seed * 13 + i / 1000) % 256).unwrap())
        .collect()
}

/// The default organisation's evidence in `data`, finished files going to the bucket under
/// `prefix`.
async fn evidence_with_objects(s3: &S3TestServer, data: &DataDir, prefix: &str) -> Evidence {
    let objects = location(&s3.url(prefix), settings(s3))
        .open_checked()
        .await
        .unwrap();
    Evidence::open(data, DEFAULT_ORG)
        .await
        .unwrap()
        .with_objects(objects)
}

struct Run {
    ev: Evidence,
    relative: String,
    /// (offset, record read locally before the upload)
    records: Vec<(i64, WarcRecord)>,
    file: Vec<u8>,
    _dir: tempfile::TempDir,
}

/// A run whose WARC file holds 40 responses of 150 KiB and one small one (about 6 MiB in all),
/// read locally, then finished (and so published to the bucket under `prefix`).
async fn finished_run(s3: &S3TestServer, prefix: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let ev = evidence_with_objects(s3, &data, prefix).await;
    let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
    let mut w = ev.warc_writer(run).unwrap();
    let headers = [("Content-Type".to_string(), "image/png".to_string())];
    let mut offsets = Vec::new();
    for i in 0..41 {
        let len = if i == 20 { 300 } else { 150 << 10 };
        let off = w
            .write_response(&HttpRecord {
                url: &format!("http://shop.example/{i}.png"),
                fetched_at: "2026-12-06T00:00:00Z",
                status: 200,
                headers: &headers,
                body: &body(i, len),
            })
            .unwrap();
        offsets.push(i64::try_from(off).unwrap());
    }
    let relative = w.relative_path().to_owned();
    drop(w);
    let records = offsets
        .iter()
        .map(|&o| (o, ev.warc_record(&relative, o).unwrap()))
        .collect();
    let file = std::fs::read(dir.path().join(&relative)).unwrap();
    ev.finish_run(run, 41, 41).await.unwrap();
    Run {
        ev,
        relative,
        records,
        file,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_finished_warc_is_uploaded_and_records_are_read_back_by_range() {
    let s3 = S3TestServer::start().await;
    let (puts, posts) = (s3.stats().put_requests(), s3.stats().post_requests());
    let run = finished_run(&s3, "evidence-prefix").await;
    let key = format!("evidence-prefix/{}", run.relative);
    assert!(run.file.len() > 6_000_000, "{}", run.file.len());

    // Uploaded in parts (8 MiB parts: one part here, still the multipart protocol) with its
    // SHA-256 beside it, and gone from the data directory.
    assert!(
        s3.stats().post_requests() - posts >= 2,
        "multipart start and completion"
    );
    assert!(
        s3.stats().put_requests() - puts >= 2,
        "a part and the .sha256"
    );
    assert_eq!(s3.keys(), vec![key.clone(), format!("{key}.sha256")]);
    assert_eq!(std::fs::read(s3.object_file(&key)).unwrap(), run.file);
    assert!(
        !run.ev.data_dir().root().join(&run.relative).exists(),
        "the local copy is removed once the upload is checked"
    );
    let sha = run.ev.verify_warc(&run.relative).await.unwrap();
    let recorded = std::fs::read_to_string(s3.object_file(&format!("{key}.sha256"))).unwrap();
    assert_eq!(recorded.trim(), sha);

    // Each record, read by range from the bucket, is the record read locally before, and only
    // that record's bytes (plus at most the 8 KiB first read) crossed the wire.
    for (i, (offset, local)) in run.records.iter().enumerate() {
        let before = s3.stats().get_body_bytes();
        let remote = run
            .ev
            .warc_record_within(&run.relative, *offset, 32 << 20)
            .await
            .unwrap();
        let served = s3.stats().get_body_bytes() - before;
        assert_eq!(remote.header, local.header, "record {i}");
        assert_eq!(remote.block, local.block, "record {i}");
        let record_len = (local.header.len() + 4 + local.block.len()) as u64;
        assert!(
            served <= record_len.max(8 << 10),
            "record {i}: {served} bytes fetched for a {record_len}-byte record"
        );
        assert!(served < run.file.len() as u64 / 20);
    }

    // The caps hold remotely too: a record over the cap is refused after the first read.
    let (big, _) = &run.records[0];
    let before = s3.stats().get_body_bytes();
    let capped = run.ev.warc_record_within(&run.relative, *big, 1000).await;
    assert!(
        matches!(capped, Err(WarcReadError::TooLarge { .. })),
        "{capped:?}"
    );
    assert!(s3.stats().get_body_bytes() - before <= 8 << 10);

    // Offsets that are not a record's, and paths outside the evidence folder, are refused.
    let (off, _) = &run.records[5];
    let not_a_record = run
        .ev
        .warc_record_within(&run.relative, off + 1, 1 << 20)
        .await;
    assert!(
        matches!(not_a_record, Err(WarcReadError::NoRecord { .. })),
        "{not_a_record:?}"
    );
    let past_the_end = i64::try_from(run.file.len()).unwrap() + 10;
    let past = run
        .ev
        .warc_record_within(&run.relative, past_the_end, 1 << 20)
        .await;
    assert!(
        matches!(past, Err(WarcReadError::NoRecord { .. })),
        "{past:?}"
    );
    let outside = run
        .ev
        .warc_record_within("evidence/../keys/wrap.key", 0, 1 << 20)
        .await;
    assert!(
        matches!(outside, Err(WarcReadError::OutsideEvidence(_))),
        "{outside:?}"
    );
    let missing = run
        .ev
        .warc_record_within("evidence/run-999.warc", 0, 1 << 20)
        .await;
    assert!(
        matches!(missing, Err(WarcReadError::Io { .. })),
        "{missing:?}"
    );

    // The whole file, for an evidence bundle: downloaded, checked, the same bytes.
    use std::io::Read;
    let mut whole = Vec::new();
    run.ev
        .open_warc(&run.relative)
        .await
        .unwrap()
        .read_to_end(&mut whole)
        .unwrap();
    assert_eq!(whole, run.file);
    // Finishing again (a resumed run finishing twice) has nothing local left to publish.
    assert_eq!(run.ev.publish_warc(&run.relative).await.unwrap(), None);
}

#[tokio::test]
async fn an_altered_evidence_object_is_reported() {
    let s3 = S3TestServer::start().await;
    let run = finished_run(&s3, "").await;
    let object = s3.object_file(&run.relative);
    let mut bytes = std::fs::read(&object).unwrap();
    // Someone with write access to the bucket changes one byte of a captured image.
    let (offset, _) = run.records[3];
    let at = usize::try_from(offset).unwrap() + 1000;
    bytes[at] ^= 0x01;
    std::fs::write(&object, &bytes).unwrap();

    let err = run.ev.verify_warc(&run.relative).await.unwrap_err();
    assert!(matches!(err, WarcReadError::Tampered { .. }), "{err:?}");
    assert!(err.to_string().contains("was altered"), "{err}");
    let err = run.ev.open_warc(&run.relative).await.unwrap_err();
    assert!(matches!(err, WarcReadError::Tampered { .. }), "{err:?}");

    // Without its recorded SHA-256 the file cannot be vouched for either.
    std::fs::remove_file(s3.object_file(&format!("{}.sha256", run.relative))).unwrap();
    let err = run.ev.verify_warc(&run.relative).await.unwrap_err();
    assert!(err.to_string().contains("none recorded"), "{err}");
}

#[tokio::test]
async fn a_wrong_key_or_a_missing_bucket_fails_the_check() {
    let s3 = S3TestServer::start().await;
    let mut wrong = settings(&s3);
    wrong.secret_access_key = Some(Zeroizing::new("not-the-secret-0123456789".into()));
    let err = location(&s3.url("p"), wrong)
        .open_checked()
        .await
        .err()
        .unwrap();
    let err = format!("{err:#}");
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");

    let err = location("s3://missing-bucket-17", settings(&s3))
        .open_checked()
        .await
        .err()
        .unwrap();
    let err = format!("{err:#}");
    assert!(err.contains("\"missing-bucket-17\""), "{err}");

    location(&s3.url(""), settings(&s3))
        .open_checked()
        .await
        .unwrap();
}

#[tokio::test]
async fn evidence_left_behind_by_a_crash_is_uploaded_by_the_next_crawl() {
    let s3 = S3TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    // A crawl process that died after finishing its run and before uploading: the run is
    // finished in the store, its file still local (here: finished without an object store).
    let plain = Evidence::open(&data, DEFAULT_ORG).await.unwrap();
    let (done, _) = plain.resume_or_start_run("shop").await.unwrap();
    let record = HttpRecord {
        url: "http://shop.example/a.png",
        fetched_at: "2026-12-07T00:00:00Z",
        status: 200,
        headers: &[],
        body: &body(1, 4000),
    };
    let mut w = plain.warc_writer(done).unwrap();
    w.write_response(&record).unwrap();
    let done_file = w.relative_path().to_owned();
    drop(w);
    plain.finish_run(done, 1, 1).await.unwrap();
    // Another profile's run still running: its file is being written and must stay.
    let (running, _) = plain.resume_or_start_run("other-shop").await.unwrap();
    let mut w = plain.warc_writer(running).unwrap();
    w.write_response(&record).unwrap();
    let running_file = w.relative_path().to_owned();
    drop(w);

    let ev = evidence_with_objects(&s3, &data, "p").await;
    let published = ev.publish_left_behind().await.unwrap();
    assert_eq!(published, vec![done_file.clone()]);
    assert!(
        s3.keys().contains(&format!("p/{done_file}")),
        "{:?}",
        s3.keys()
    );
    assert!(s3.keys().contains(&format!("p/{done_file}.sha256")));
    assert!(
        !dir.path().join(&done_file).exists(),
        "uploaded, then removed"
    );
    assert!(
        dir.path().join(&running_file).exists(),
        "a running run's file stays"
    );
    assert!(!s3.keys().iter().any(|k| k.ends_with(&running_file)));
    ev.verify_warc(&done_file).await.unwrap();
    // Nothing left the second time.
    assert!(ev.publish_left_behind().await.unwrap().is_empty());
}
