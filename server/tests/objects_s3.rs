//! Issue 17, objects: `--objects s3://bucket/prefix` against a real S3-compatible server
//! (`s3s-fs` on loopback, signatures checked). Uploads through the owner API reach the bucket
//! by a streamed multipart upload and never the data directory; the viewer's ranged envelope
//! reads fetch exactly the bytes asked for; a wrong key or a missing bucket stops the server
//! at startup; finished WARC evidence is read back from the bucket by the review side.

use futures_util::StreamExt;
use serde_json::Value;
use veilmark_server::service::{ClientMeta, NewLink};
use veilmark_server::{AppState, Config, now_secs};
use veilmark_shared::envelope::{Header, Opener};
use veilmark_shared::licence::Licence;
use veilmark_store::objects::{ObjectsLocation, S3Settings};
use veilmark_store::warc::HttpRecord;
use veilmark_testkit::S3TestServer;
use zeroize::Zeroizing;

use crate::common::{self, OWNER, TestServer, relaxed, viewer};

const PREFIX: &str = "tenant-a/veilmark";

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

async fn start_on(s3: &S3TestServer) -> TestServer {
    let loc = location(&s3.url(PREFIX), settings(s3));
    common::start_with(relaxed(), move |c| c.objects = Some(loc)).await
}

/// A plaintext of `len` bytes that starts like a PDF and differs in every chunk.
fn plaintext(len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len)
        .map(|i| u8::try_from((i * 31 + i / 65_536) % 251).unwrap())
        .collect();
    p[..9].copy_from_slice(b"%PDF-1.7\n");
    p
}

#[tokio::test]
async fn an_api_upload_goes_to_the_bucket_and_the_viewer_reads_it_by_range() {
    let s3 = S3TestServer::start().await;
    let s = start_on(&s3).await;
    s.state
        .create_owner(OWNER, "correct horse battery")
        .await
        .unwrap();
    let token = s.state.create_api_token(OWNER).await.unwrap();

    // A 6 MiB document, sent by the client as a stream of 256 KiB pieces.
    let plain = plaintext(6 << 20);
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        plain.chunks(256 << 10).map(|c| Ok(c.to_vec())).collect();
    let (puts, posts) = (s3.stats().put_requests(), s3.stats().post_requests());
    let resp = s
        .client
        .post(format!("{}/api/owner/documents?title=Big", s.base))
        .bearer_auth(&token)
        .header("Content-Type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    let doc: Value = resp.json().await.unwrap();
    let id = doc["id"].as_str().unwrap().to_owned();
    let envelope_len = doc["envelope_len"].as_u64().unwrap();

    // Multipart: started and completed (2 POSTs), at least two 5 MiB parts (PUTs).
    let parts = s3.stats().put_requests() - puts;
    assert!(parts >= 2, "{parts} PUTs for a 6 MiB envelope");
    assert_eq!(s3.stats().post_requests() - posts, 2);
    // In the bucket under the prefix, byte for byte as long as the row says; nowhere local.
    let key = format!("{PREFIX}/envelopes/{id}.vmk");
    assert!(s3.keys().contains(&key), "{:?}", s3.keys());
    let object = std::fs::read(s3.object_file(&key)).unwrap();
    assert_eq!(object.len() as u64, envelope_len);
    assert!(
        !s.dir
            .path()
            .join(format!("blobs/envelopes/{id}.vmk"))
            .exists()
    );
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path().join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A viewer opens a link to it.
    let link = s
        .state
        .create_link(
            &NewLink {
                document_id: id.clone(),
                recipient: "alice@supplier.example".into(),
                expires_in_secs: None,
                max_views: None,
                passcode: None,
                pages: None,
                parts: None,
            },
            &s.operator(),
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    let viewer = viewer();
    let resp = s
        .request_licence(&TestServer::token(&link), &viewer, None)
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let licence = base64_decode(body["licence"].as_str().unwrap());
    let server_key: Value = s
        .client
        .get(format!("{}/api/server-key", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let server_key: [u8; 32] = hex::decode(server_key["ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let lic = Licence::verify(&licence, &server_key, u64::try_from(now_secs()).unwrap()).unwrap();
    let content_key = lic.open_content_key(&viewer).unwrap();

    let url = format!("{}{}", s.base, body["urls"]["envelope"].as_str().unwrap());
    let get = |range: String| {
        let c = s.client.clone();
        let url = url.clone();
        async move { c.get(url).header("Range", range).send().await.unwrap() }
    };
    let served = || s3.stats().get_body_bytes();

    let before = served();
    let head = get("bytes=0-1023".into()).await;
    assert_eq!(head.status(), 206);
    let head = head.bytes().await.unwrap();
    assert_eq!(served() - before, 1024, "the header read fetched 1 KiB");
    assert_eq!(&head[..], &object[..1024]);
    let header = Header::parse(&head).unwrap();
    let opener = Opener::new(&content_key, &head).unwrap();
    let chunk_size = usize::try_from(header.chunk_size()).unwrap();
    for index in [0, header.chunk_count() / 2, header.chunk_count() - 1] {
        let r = header.chunk_range(index).unwrap();
        let before = served();
        let resp = get(format!("bytes={}-{}", r.start, r.end - 1)).await;
        assert_eq!(resp.status(), 206);
        let mut buf = resp.bytes().await.unwrap().to_vec();
        assert_eq!(
            served() - before,
            r.end - r.start,
            "chunk {index}: the bucket sent exactly the chunk's bytes"
        );
        let (a, b) = (
            usize::try_from(r.start).unwrap(),
            usize::try_from(r.end).unwrap(),
        );
        assert_eq!(buf, object[a..b]);
        opener.open_chunk(index, &mut buf).unwrap();
        let p = usize::try_from(index).unwrap() * chunk_size;
        assert_eq!(buf, plain[p..p + buf.len()], "chunk {index} decrypts");
    }
    // The whole envelope, streamed, is the object.
    let before = served();
    let whole = s.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    let mut stream = whole.bytes_stream();
    let mut n = 0u64;
    while let Some(piece) = stream.next().await {
        n += piece.unwrap().len() as u64;
    }
    assert_eq!(n, envelope_len);
    assert_eq!(served() - before, envelope_len);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[tokio::test]
async fn a_wrong_key_or_a_missing_bucket_stops_the_start() {
    let s3 = S3TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let open = |loc: ObjectsLocation| {
        let mut config = Config::new(dir.path());
        config.www_dir = None;
        config.objects = Some(loc);
        AppState::open(config)
    };

    let mut wrong = settings(&s3);
    let wrong_secret = "0123456789abcdef-not-the-secret";
    wrong.secret_access_key = Some(Zeroizing::new(wrong_secret.into()));
    let err = format!(
        "{:#}",
        open(location(&s3.url(PREFIX), wrong)).await.err().unwrap()
    );
    assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    assert!(
        !err.contains(wrong_secret),
        "the secret is never shown: {err}"
    );
    assert!(!err.contains(s3.secret_key()), "{err}");

    let err = open(location("s3://no-such-bucket-here/x", settings(&s3)))
        .await
        .err()
        .unwrap();
    let err = format!("{err:#}");
    assert!(err.contains("no-such-bucket-here"), "{err}");
    assert!(err.contains("s3://no-such-bucket-here/x"), "{err}");

    // Nothing listening there at all.
    let mut nowhere = settings(&s3);
    nowhere.endpoint = Some("http://127.0.0.1:9".into());
    let err = format!(
        "{:#}",
        open(location(&s3.url(PREFIX), nowhere))
            .await
            .err()
            .unwrap()
    );
    assert!(err.contains("not usable"), "{err}");

    // And the right settings open.
    open(location(&s3.url(PREFIX), settings(&s3)))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_review_side_reads_finished_evidence_from_the_bucket() {
    let s3 = S3TestServer::start().await;
    let s = start_on(&s3).await;
    let ev = s.state.evidence(s.org);
    let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
    let mut w = ev.warc_writer(run).unwrap();
    let body = plaintext(300_000);
    let off = w
        .write_response(&HttpRecord {
            url: "http://shop.example/i.png",
            fetched_at: "2026-12-06T00:00:00Z",
            status: 200,
            headers: &[("Content-Type".into(), "image/png".into())],
            body: &body,
        })
        .unwrap();
    let off = i64::try_from(off).unwrap();
    let relative = w.relative_path().to_owned();
    drop(w);
    ev.finish_run(run, 1, 1).await.unwrap();
    assert!(
        s3.keys().contains(&format!("{PREFIX}/{relative}")),
        "{:?}",
        s3.keys()
    );
    assert!(ev.open_warc_file(&relative).is_err(), "no longer local");
    // A fresh handle (as a console request makes) reads the record from the bucket.
    let record = s
        .state
        .evidence(s.org)
        .warc_record_within(&relative, off, 1 << 20)
        .await
        .unwrap();
    assert_eq!(record.http_body(), &body[..]);
}
