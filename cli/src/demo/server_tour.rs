//! Part 2 of the demo: the link and licence server, seen from the owner and from a viewer.
//!
//! Starts `veilmark serve` in-process (on 127.0.0.1 unless `--listen` says otherwise), seals the samples into its store, creates
//! protected links, then does exactly what the browser viewer does — an ephemeral X25519 key, a
//! licence request, signature check, key unwrap, ranged envelope fetch, decryption — and shows a
//! revoked link refused and the audit chain verified.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use veilmark_server::service::{Actor, ClientMeta, NewLink};
use veilmark_server::{AppState, Config, now_secs};
use veilmark_shared::envelope::{Header, Opener};
use veilmark_shared::licence::{Licence, ViewerKey};
use veilmark_shared::media::MediaType;
use veilmark_shared::wire::{ErrorBody, LicenceRequest, LicenceResponse, ServerKeyResponse};
use veilmark_store::tenancy::Role;

use super::envelope_tour::file_name;

/// The owner account the demo creates.
const OWNER: &str = "owner@brand.example";

/// One thing to open in a browser at the end of the demo.
pub struct ToOpen {
    /// What it is, for the printed list.
    pub what: String,
    /// The URL.
    pub url: String,
}

/// The running demo server.
pub struct DemoServer {
    /// `http://HOST:PORT`.
    pub base: String,
    /// The owner console's login (e-mail, password).
    pub login: (String, String),
    /// Alice's links, in the order to open them: the PDF, then the CAD files.
    pub links: Vec<ToOpen>,
    /// The public id of Alice's PDF link (what the console's Links page lists).
    pub pdf_link_id: String,
    /// The example partner portal, when the checkout has it.
    pub portal: Option<String>,
    /// Its data directory (database, envelopes, keys).
    pub data_dir: PathBuf,
    /// What Alice's screen showed: a frame with her visible and forensic watermarks.
    pub alice_frame: image::RgbaImage,
    /// Alice's session code, as the forensic watermark carries it.
    pub alice_code: String,
}

/// Runs the server part of the demo and leaves the server running on the current runtime.
pub async fn run(
    dir: &Path,
    samples: &[PathBuf],
    cad: &[PathBuf],
    listen: std::net::IpAddr,
) -> Result<DemoServer> {
    let data_dir = dir.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("cannot clear {}", data_dir.display()))?;
    }
    let listener = veilmark_server::conn::bind_listener(std::net::SocketAddr::new(listen, 0))
        .with_context(|| format!("cannot listen on {listen}"))?;
    let host = link_host(listen);
    let base = format!("http://{host}:{}", listener.local_addr()?.port());
    // The example partner portal gets an origin of its own, allowed to frame the viewer.
    let portal_listener = TcpListener::bind((listen, 0)).await?;
    let portal_origin = format!("http://{host}:{}", portal_listener.local_addr()?.port());
    let mut config = Config::new(&data_dir);
    config.public_url = base.clone();
    // Beyond loopback there is no certificate for the example portal: its plain-HTTP origin is
    // allowed for the demo only (`--listen` already warned that the network must be trusted).
    config.embed_origins = vec![if listen.is_loopback() {
        portal_origin.parse()?
    } else {
        veilmark_server::embed::EmbedOrigin::parse_allowing_plain_http(&portal_origin)?
    }];
    let www_dir = config.www_dir.clone();
    let state = AppState::open(config).await?;
    tokio::spawn(veilmark_server::serve(state.clone(), listener));
    let cli = ClientMeta::cli();

    println!(
        "\n7. The owner runs `veilmark serve` (here in-process, {base}, data in {}):",
        data_dir.display()
    );
    let password = hex::encode(veilmark_server::secrets::random::<9>()?);
    state.create_owner(OWNER, &password).await?;
    let owner = Actor::account(&state.account_named(OWNER).await?);
    println!("   owner console login: {OWNER} / {password} (admin of the organisation `default`)");
    let mut docs = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        let bytes = std::fs::read(sample)?;
        // The last sample goes to an outside machine shop: classified Confidential.
        let level = (i + 1 == samples.len() && samples.len() > 1).then_some("Confidential");
        let doc = state
            .ingest_plaintext(&bytes, &file_name(sample), level, &owner, &cli)
            .await?;
        println!(
            "   sealed {:<32} document {}  ({}, {}, content key wrapped under the server key)",
            file_name(sample),
            doc.id,
            MediaType::from_mime(&doc.media_type).describe(),
            doc.level
        );
        docs.push(doc);
    }
    // Classification (docs/server.md#classification): Confidential documents go to approved
    // suppliers only, with a passcode, for 30 days at most.
    let confidential = &docs[docs.len() - 1];
    // The same 60-day link to bob, refused before and after his company is approved.
    let bob_60_days = NewLink {
        document_id: confidential.id.clone(),
        recipient: "bob@machining.example".into(),
        expires_in_secs: Some(60 * 24 * 3600),
        max_views: None,
        passcode: None,
        pages: None,
        parts: None,
    };
    let refused = state.create_link(&bob_60_days, &owner, &cli).await;
    if let Err(e) = refused {
        println!("   a link to bob@machining.example is refused: {e:#}");
    }
    state
        .set_supplier(
            "machining.example",
            Some("Machining Partners Ltd"),
            veilmark_store::classification::SupplierStatus::Approved,
            &owner,
            &cli,
        )
        .await?;
    let too_long = state.create_link(&bob_60_days, &owner, &cli).await;
    if let Err(e) = too_long {
        println!(
            "   `veilmark supplier approve machining.example`; a 60-day link is still refused: {e:#}"
        );
    }
    // Alice's terms; the partner portal below gets more links on the same terms.
    let alice_link = NewLink {
        document_id: docs[0].id.clone(),
        recipient: "alice@supplier.example".into(),
        expires_in_secs: Some(7 * 24 * 3600),
        max_views: Some(20),
        passcode: None,
        pages: None,
        parts: None,
    };
    let alice = state.create_link(&alice_link, &owner, &cli).await?;
    let bob = state
        .create_link(
            &NewLink {
                document_id: docs[docs.len() - 1].id.clone(),
                recipient: "bob@machining.example".into(),
                expires_in_secs: Some(24 * 3600),
                max_views: None,
                passcode: Some(true),
                pages: None,
                parts: None,
            },
            &owner,
            &cli,
        )
        .await?;
    println!(
        "   protected link for alice@supplier.example (7 days, 20 views):\n      {}",
        alice.url
    );
    println!(
        "   protected link for bob@machining.example ({}, 1 day, {} views, passcode {}):\n      {}",
        bob.link.level,
        bob.link
            .max_views
            .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
        bob.passcode.as_deref().unwrap_or("?"),
        bob.url
    );
    // Terms before viewing (docs/server.md#terms): Confidential and above.
    state
        .set_terms(
            Some("MUTUAL NON-DISCLOSURE (demo)\nThe recipient keeps these drawings confidential and uses them only for the quoted work."),
            Some("Confidential"),
            &owner,
            &cli,
        )
        .await?;
    println!(
        "   `veilmark terms set nda.txt --from-level Confidential`: bob accepts the non-disclosure text before his first view (audited with its SHA-256)"
    );
    // Need-to-know (docs/server.md#subsets): pages of a PDF, under a key of their own.
    if docs[0].media_type == "application/pdf" {
        let subset = state
            .create_link(
                &NewLink {
                    document_id: docs[0].id.clone(),
                    recipient: "dave@supplier.example".into(),
                    expires_in_secs: None,
                    max_views: None,
                    passcode: None,
                    pages: Some("1-2".into()),
                    parts: None,
                },
                &owner,
                &cli,
            )
            .await;
        match subset {
            Ok(s) => println!(
                "   need-to-know: `veilmark link {} --to dave@supplier.example --pages 1-2` seals those pages as a document of their own; his licence cannot decrypt the rest:\n      {}",
                docs[0].id, s.url
            ),
            Err(e) => println!("   need-to-know link not made: {e:#}"),
        }
    }
    // Off-boarding (docs/server.md#offboarding): a casting shop whose contract ended loses
    // every link at once, and its access report goes to the termination file.
    state
        .set_supplier(
            "castings.example",
            Some("Castings & Co"),
            veilmark_store::classification::SupplierStatus::Approved,
            &owner,
            &cli,
        )
        .await?;
    let carol = state
        .create_link(
            &NewLink {
                document_id: confidential.id.clone(),
                recipient: "carol@castings.example".into(),
                expires_in_secs: None,
                max_views: None,
                passcode: None,
                pages: None,
                parts: None,
            },
            &owner,
            &cli,
        )
        .await?;
    let done = state
        .offboard_supplier("castings.example", &owner, &cli)
        .await?;
    let report_stem = dir.join("supplier-access-castings.example");
    std::fs::write(
        dir.join("supplier-access-castings.example.csv"),
        done.report.csv(),
    )?;
    std::fs::write(
        dir.join("supplier-access-castings.example.pdf"),
        done.report.pdf(),
    )?;
    println!(
        "   `veilmark supplier offboard castings.example --yes`: {} live link(s) revoked ({}); access report for the termination file:\n      {}.csv and .pdf",
        done.revoked.len(),
        carol.link.id,
        report_stem.display()
    );
    // Access reviews (docs/server.md#reviews): every live link before the member who made it;
    // alice's is confirmed, the rest wait in the console for their owner.
    let review = state.start_review(None, &owner, &cli).await?;
    state
        .decide_review(
            None,
            &alice.link.id,
            veilmark_store::review::ReviewDecision::Confirmed,
            &owner,
            &cli,
        )
        .await?;
    println!(
        "   `veilmark review start`: access review {} of {} live link(s), due {}; alice's link confirmed (`veilmark review decide`), the others wait on the console's Access review page; links nobody confirms are revoked at the due date, and owners are e-mailed reminders when the server has --smtp",
        review.id,
        review.links,
        veilmark_server::rfc3339(review.due_at)
    );
    let mut links = vec![ToOpen {
        what: format!(
            "the PDF shared with alice@supplier.example ({})",
            file_name(&samples[0])
        ),
        url: alice.url.clone(),
    }];
    links.extend(share_cad(&state, &owner, cad, &alice_link, dir).await?);
    let mut portal = None;

    match www_dir.filter(|w| w.join("embed/example-portal/index.html").exists()) {
        Some(www) => {
            let mut portal_links = Vec::new();
            for _ in 0..3 {
                portal_links.push(state.create_link(&alice_link, &owner, &cli).await?.url);
            }
            super::portal::spawn(portal_listener, &www, &base, portal_links)?;
            portal = Some(format!("{portal_origin}/"));
            println!(
                "   a partner portal embeds her documents with <veilmark-viewer> (docs/embedding.md):\n      {portal_origin}/   (served by `veilmark serve --embed-origin {portal_origin}`)"
            );
        }
        None => println!("   (partner-portal example skipped: no www/embed/example-portal here)"),
    }

    println!(
        "\n8. Alice opens her link; her viewer does this (all of it inside wasm in the browser):"
    );
    veilmark_crawler::fetch::use_ring_provider();
    let client = reqwest::Client::builder()
        .user_agent("veilmark-demo-viewer")
        .build()?;
    let token = alice.url.rsplit('/').next().unwrap_or_default().to_owned();
    let viewer = ViewerKey::from_seed(veilmark_server::secrets::random()?);
    let server_key: ServerKeyResponse = client
        .get(format!("{base}/api/server-key"))
        .send()
        .await?
        .json()
        .await?;
    let server_key: [u8; 32] = hex::decode(&server_key.ed25519)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the server key is not 32 bytes"))?;
    let resp = licence_request(&client, &base, &token, &viewer, None).await?;
    if !resp.status().is_success() {
        bail!("the licence request failed: {}", resp.text().await?);
    }
    let body: LicenceResponse = resp.json().await?;
    let licence_bytes = base64_decode(&body.licence)?;
    let licence = Licence::verify(&licence_bytes, &server_key, u64::try_from(now_secs())?)?;
    let content_key = licence.open_content_key(&viewer)?;
    println!(
        "   licence: session {} code {} for {}, lease until +{} s, Ed25519 signature verified",
        licence.terms.session_id,
        licence.terms.session_code,
        licence.terms.recipient,
        licence
            .terms
            .lease_expires_at
            .saturating_sub(u64::try_from(now_secs())?)
    );
    println!("   content key unwrapped with the viewer's ephemeral X25519 key (HPKE)");
    let url = format!("{base}{}", body.urls.envelope);
    let head = client
        .get(&url)
        .header("Range", "bytes=0-1023")
        .send()
        .await?
        .bytes()
        .await?;
    let header = Header::parse(&head)?;
    let opener = Opener::new(&content_key, &head)?;
    let r = header.chunk_range(0).context("no chunk 0")?;
    let mut chunk = client
        .get(&url)
        .header("Range", format!("bytes={}-{}", r.start, r.end - 1))
        .send()
        .await?
        .bytes()
        .await?
        .to_vec();
    opener.open_chunk(0, &mut chunk)?;
    println!(
        "   chunk 0 of {} fetched by HTTP range and decrypted in memory: starts {:?}",
        header.chunk_count(),
        String::from_utf8_lossy(&chunk[..8.min(chunk.len())])
    );
    zeroize::Zeroize::zeroize(&mut chunk);
    let tile = base64_decode(body.watermark_tile.as_deref().unwrap_or_default())?;
    let alice_frame = watermarked_frame(&licence, &tile)?;
    println!(
        "   every frame she sees carries her name, the time and her session (visible) and session code {} (invisible),",
        licence.terms.session_code
    );
    println!(
        "   marked with the {}-byte session tile that came with the licence: the viewer never holds the watermark key",
        tile.len()
    );

    // Unusual access (docs/server.md#alerts): bob tries to open while his company is
    // suspended; the owner is alerted (console, signed webhooks).
    let bob_token = bob.url.rsplit('/').next().unwrap_or_default().to_owned();
    let machining = |status| state.set_supplier("machining.example", None, status, &owner, &cli);
    machining(veilmark_store::classification::SupplierStatus::Suspended).await?;
    let suspended = licence_request(
        &client,
        &base,
        &bob_token,
        &ViewerKey::from_seed(veilmark_server::secrets::random()?),
        bob.passcode.as_deref(),
    )
    .await?;
    machining(veilmark_store::classification::SupplierStatus::Approved).await?;
    let alerts = state.alerts(&owner, 10).await?;
    println!(
        "   `veilmark supplier suspend machining.example`; bob opens anyway: HTTP {}; alert raised ({}) on the console's Alerts page and, signed and retried, to the organisation's webhooks",
        suspended.status().as_u16(),
        alerts
            .iter()
            .map(|a| format!("{}: {}", a.kind.describe(), a.detail))
            .collect::<Vec<_>>()
            .join("; ")
    );

    println!("\n9. The owner revokes Bob's link; the audit log is hash-chained:");
    state.revoke(&bob.link.id, &owner, &cli).await?;
    let refused = licence_request(
        &client,
        &base,
        &bob_token,
        &ViewerKey::from_seed(veilmark_server::secrets::random()?),
        bob.passcode.as_deref(),
    )
    .await?;
    let status = refused.status();
    let why: ErrorBody = refused.json().await?;
    println!(
        "   Bob's next licence request: HTTP {} {:?}: {}",
        status.as_u16(),
        why.code,
        why.message
    );
    let log = state.audit_log(owner.org).await?;
    let verdict = veilmark_server::audit::verify(&log);
    println!(
        "   audit: {} entries ({}), chain {}",
        log.len(),
        summarise_kinds(&log),
        if verdict.is_ok() {
            "verified"
        } else {
            "BROKEN"
        }
    );
    second_organisation(&state, &client, &base, &alice.link.id).await?;
    Ok(DemoServer {
        base,
        login: (OWNER.to_owned(), password),
        links,
        pdf_link_id: alice.link.id.clone(),
        portal,
        data_dir,
        alice_frame,
        alice_code: licence.terms.session_code.to_string(),
    })
}

/// The host printed links use: the listening address, or this machine's name when it listens
/// on every address (`0.0.0.0`, `::`), which no browser can open.
fn link_host(listen: std::net::IpAddr) -> String {
    if listen.is_unspecified() {
        if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname")
            && !name.trim().is_empty()
        {
            return name.trim().to_owned();
        }
        return "localhost".to_owned();
    }
    match listen {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    }
}

/// A 1280×800 drawing-like frame as the viewer would show it, with both watermarks: the visible
/// one (recipient, time, session) and the forensic one from the session tile the licence
/// answer carried (`docs/watermark.md#session-tile`), exactly as the viewer marks frames.
fn watermarked_frame(licence: &Licence, tile: &[u8]) -> Result<image::RgbaImage> {
    use veilmark_shared::visible::{DEFAULT_FONT, MarkStyle, VisibleMark};
    use veilmark_shared::watermark::Embedder;
    let (w, h) = (1280u32, 800u32);
    let mut frame = image::RgbaImage::from_pixel(w, h, image::Rgba([255, 255, 255, 255]));
    // A title block and a bracket outline, drawn as a technical sheet would be.
    let mut line = |x0: u32, y0: u32, x1: u32, y1: u32| {
        for t in 0..=1000u32 {
            let x = x0 + (x1.abs_diff(x0) * t / 1000) * u32::from(x1 >= x0)
                - (x0.abs_diff(x1) * t / 1000) * u32::from(x1 < x0);
            let y = y0 + (y1.abs_diff(y0) * t / 1000) * u32::from(y1 >= y0)
                - (y0.abs_diff(y1) * t / 1000) * u32::from(y1 < y0);
            for d in 0..2 {
                frame.put_pixel(
                    (x + d).min(w - 1),
                    y.min(h - 1),
                    image::Rgba([20, 20, 20, 255]),
                );
            }
        }
    };
    line(40, 40, 1240, 40);
    line(40, 760, 1240, 760);
    line(40, 40, 40, 760);
    line(1240, 40, 1240, 760);
    line(900, 640, 1240, 640);
    line(900, 640, 900, 760);
    line(200, 200, 700, 200);
    line(200, 200, 200, 560);
    line(200, 560, 760, 560);
    line(700, 200, 700, 480);
    line(700, 480, 760, 560);
    let lines = [
        licence.terms.recipient.clone(),
        "2026-11-23 UTC".to_owned(),
        format!("session {}", licence.terms.session_code),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    VisibleMark::prepare(DEFAULT_FONT, &refs, w, h, &MarkStyle::default())?.apply(&mut frame)?;
    Embedder::from_bytes(tile)
        .context("the licence answer carried no valid watermark session tile")?
        .embed(&mut frame, w, h)?;
    Ok(frame)
}

async fn licence_request(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    viewer: &ViewerKey,
    passcode: Option<&str>,
) -> Result<reqwest::Response> {
    let nonce: [u8; 16] = veilmark_server::secrets::random()?;
    Ok(client
        .post(format!("{base}/api/v/{token}/licence"))
        .json(&LicenceRequest {
            viewer_key: hex::encode(viewer.public_key()),
            nonce: hex::encode(nonce),
            timestamp: u64::try_from(now_secs())?,
            passcode: passcode.map(str::to_owned),
            accept_terms: None,
        })
        .send()
        .await?)
}

fn base64_decode(text: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}

fn summarise_kinds(log: &[veilmark_server::audit::AuditEntry]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in log {
        match counts.iter_mut().find(|(k, _)| *k == e.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((e.kind.clone(), 1)),
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A second organisation on the same server: its admin's API token sees none of the first
/// organisation's links, and revoking one of them answers 404, as if it did not exist.
async fn second_organisation(
    state: &AppState,
    client: &reqwest::Client,
    base: &str,
    first_org_link: &str,
) -> Result<()> {
    const RIVAL: &str = "admin@rival-brand.example";
    let org = state.create_org("Rival Brand").await?;
    let password = hex::encode(veilmark_server::secrets::random::<9>()?);
    state
        .create_account(org, RIVAL, Some(&password), Role::Admin)
        .await?;
    let token = state.create_api_token(RIVAL).await?;
    let links: serde_json::Value = client
        .get(format!("{base}/api/owner/links"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let revoke = client
        .post(format!("{base}/api/owner/links/{first_org_link}/revoke"))
        .bearer_auth(&token)
        .send()
        .await?;
    println!(
        "   a second organisation, Rival Brand, shares this server (console login {RIVAL} / {password}):"
    );
    println!(
        "      its API token lists {} links, and revoking Alice's link {first_org_link} answers HTTP {} (as if it did not exist)",
        links.as_array().map_or(0, Vec::len),
        revoke.status().as_u16()
    );
    Ok(())
}

/// Seals the CAD samples, links them for Alice, and renders the model's reference views the
/// way `veilmark render` does (for the crawler's catalog).
async fn share_cad(
    state: &AppState,
    owner: &Actor,
    cad: &[PathBuf],
    terms: &NewLink,
    dir: &Path,
) -> Result<Vec<ToOpen>> {
    if cad.is_empty() {
        println!("   (CAD part skipped: no tests/fixtures/cad here; pass --cad MODEL)");
        return Ok(Vec::new());
    }
    let mut links = Vec::new();
    let cli = ClientMeta::cli();
    for file in cad {
        let bytes = std::fs::read(file)?;
        let doc = state
            .ingest_plaintext(&bytes, &file_name(file), None, owner, &cli)
            .await?;
        let link = state
            .create_link(
                &NewLink {
                    document_id: doc.id.clone(),
                    ..terms.clone()
                },
                owner,
                &cli,
            )
            .await?;
        let (what, kind) = match MediaType::from_mime(&doc.media_type) {
            MediaType::Dxf => (
                "2D drawing: pan, zoom, layers, measuring",
                "the DXF drawing",
            ),
            _ => (
                "3D model: orbit, standard views, section plane, part tree, measuring",
                "the 3D assembly",
            ),
        };
        links.push(ToOpen {
            what: format!("{kind} ({}; {what})", file_name(file)),
            url: link.url.clone(),
        });
        println!(
            "   sealed {:<32} document {}  ({})\n   protected link for alice@supplier.example ({what}):\n      {}",
            file_name(file),
            doc.id,
            MediaType::from_mime(&doc.media_type).describe(),
            link.url
        );
        // Need-to-know parts (docs/server.md#subsets): the machinist gets the shaft only.
        if MediaType::from_mime(&doc.media_type) == MediaType::Step {
            match state
                .create_link(
                    &NewLink {
                        document_id: doc.id.clone(),
                        recipient: "bob@machining.example".into(),
                        parts: Some("shaft".into()),
                        ..terms.clone()
                    },
                    owner,
                    &cli,
                )
                .await
            {
                Ok(l) => {
                    println!(
                        "   need-to-know: `veilmark link {} --to bob@machining.example --parts shaft` seals that part alone as a model of its own; his licence cannot decrypt the rest:\n      {}",
                        doc.id, l.url
                    );
                    links.push(ToOpen {
                        what: "the shaft alone, cut from the assembly for bob@machining.example"
                            .into(),
                        url: l.url,
                    });
                }
                Err(e) => println!("   (need-to-know parts link not made: {e:#})"),
            }
        }
    }
    let model = &cad[0];
    let out = dir.join("references");
    match crate::render_cmd::render_views(model, &out, &["iso", "front", "top"], (800, 600)) {
        Ok(files) => println!(
            "   reference views for the crawler's catalog (`veilmark render`, native wgpu):\n      {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join("\n      ")
        ),
        Err(e) => println!("   (reference renders skipped: {e:#})"),
    }
    Ok(links)
}
