//! The owner commands end to end on a scratch data directory: seal, link, links, revoke,
//! audit (table, JSON, CSV, verify), and `audit --verify` failing after a hand edit; and the
//! organisation and account commands (`org`, `owner add/list/token/tokens/revoke-token/passwd`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn veilmark(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn seal_link_revoke_audit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("bracket.pdf");
    std::fs::write(&file, b"%PDF-1.7\n% bracket\n").unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(["owner", "add", "owner@brand.example", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    let doc = ok(&veilmark(
        &data,
        &["seal", file.to_str().unwrap(), "--title", "Bracket"],
    ));
    let doc = doc.trim();
    assert_eq!(doc.len(), 32, "{doc}");

    let out = veilmark(
        &data,
        &[
            "link",
            doc,
            "--to",
            "alice@supplier.example",
            "--expires",
            "2d",
            "--max-views",
            "2",
            "--passcode",
        ],
    );
    let url = ok(&out);
    assert!(url.starts_with("http://127.0.0.1:8080/v/"), "{url}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("passcode: "));

    let links: serde_json::Value =
        serde_json::from_str(&ok(&veilmark(&data, &["links", "--json"]))).unwrap();
    let link = &links[0];
    assert_eq!(link["recipient"], "alice@supplier.example");
    assert_eq!(link["max_views"], 2);
    assert_eq!(link["passcode"], true);
    let id = link["id"].as_str().unwrap().to_owned();

    ok(&veilmark(&data, &["revoke", &id]));
    let table = ok(&veilmark(&data, &["links"]));
    assert!(table.contains("revoked"), "{table}");

    let verify = veilmark(&data, &["audit", "--verify"]);
    ok(&verify);
    assert!(String::from_utf8_lossy(&verify.stderr).contains("audit chain intact: 3 entries"));
    let entries: serde_json::Value =
        serde_json::from_str(&ok(&veilmark(&data, &["audit", "--json"]))).unwrap();
    let kinds: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["document-sealed", "link-created", "revoke"]);
    assert!(ok(&veilmark(&data, &["audit", "--csv"])).starts_with("seq,at_ms,kind"));

    // Edit the database by hand: --verify must now fail with exit status 1.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("veilmark.db").display()))
                .await
                .unwrap();
        sqlx::query("UPDATE audit_log SET detail = 'to mallory@elsewhere.example' WHERE seq = 3")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let broken = veilmark(&data, &["audit", "--verify"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("audit entry 3 was edited"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}

fn err(out: &Output) -> String {
    assert!(!out.status.success(), "unexpectedly succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn levels_and_suppliers_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("gearbox.pdf");
    std::fs::write(&file, b"%PDF-1.7\n% gearbox\n").unwrap();
    let f = file.to_str().unwrap();

    let e = err(&veilmark(&data, &["seal", f, "--level", "Top Secret"]));
    assert!(
        e.contains("no classification level \"Top Secret\"; this organisation's levels are Public, Internal, Confidential, Restricted"),
        "{e}"
    );
    let doc: serde_json::Value = serde_json::from_str(&ok(&veilmark(
        &data,
        &["seal", f, "--level", "restricted", "--json"],
    )))
    .unwrap();
    assert_eq!(doc["level"], "Restricted");
    let id = doc["id"].as_str().unwrap();

    let e = err(&veilmark(&data, &["link", id, "--to", "bob@acme.example"]));
    assert!(
        e.contains("Restricted documents may only be shared with approved suppliers; acme.example is not a known supplier"),
        "{e}"
    );
    ok(&veilmark(
        &data,
        &["supplier", "approve", "acme.example", "--name", "Acme"],
    ));
    let e = err(&veilmark(
        &data,
        &["link", id, "--to", "bob@acme.example", "--expires", "8d"],
    ));
    assert!(e.contains("at most 7 days; asked for 8 days"), "{e}");
    let out = veilmark(&data, &["link", id, "--to", "bob@acme.example"]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(Restricted)") && stderr.contains("passcode: "),
        "{stderr}"
    );
    let links: serde_json::Value =
        serde_json::from_str(&ok(&veilmark(&data, &["links", "--json"]))).unwrap();
    assert_eq!(links[0]["level"], "Restricted");
    assert_eq!(links[0]["max_views"], 10);
    assert!(ok(&veilmark(&data, &["links"])).contains("Restricted"));

    let changed = ok(&veilmark(&data, &["level", "set", id, "Public"]));
    assert_eq!(
        changed.trim(),
        "level Restricted → Public: 0 live link(s) shortened, 0 revoked"
    );
    let list = ok(&veilmark(&data, &["level", "list"]));
    assert!(
        list.contains("Confidential") && list.contains("approved"),
        "{list}"
    );

    ok(&veilmark(&data, &["supplier", "suspend", "acme.example"]));
    let suppliers = ok(&veilmark(&data, &["supplier", "list"]));
    assert!(
        suppliers.contains("acme.example") && suppliers.contains("suspended"),
        "{suppliers}"
    );
    let e = err(&veilmark(
        &data,
        &["link", id, "--to", "carol@acme.example"],
    ));
    assert!(e.contains("acme.example is suspended"), "{e}");

    let e = err(&veilmark(&data, &["supplier", "offboard", "acme.example"]));
    assert!(e.contains("run again with --yes"), "{e}");
    let reports = dir.path().join("reports");
    let out = veilmark(
        &data,
        &[
            "supplier",
            "offboard",
            "acme.example",
            "--yes",
            "--report",
            reports.to_str().unwrap(),
        ],
    );
    let paths = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("off-boarded: 1 live link(s) revoked"),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(reports.join("supplier-access-acme.example.csv")).unwrap();
    assert!(csv.contains("bob@acme.example"), "{csv}");
    assert!(
        paths.contains("supplier-access-acme.example.pdf"),
        "{paths}"
    );
    let pdf = std::fs::read(reports.join("supplier-access-acme.example.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let links: serde_json::Value =
        serde_json::from_str(&ok(&veilmark(&data, &["links", "--json"]))).unwrap();
    assert!(links[0]["revoked_at"].is_i64(), "{links}");

    let nda = dir.path().join("nda.txt");
    std::fs::write(&nda, "Keep it secret.\n").unwrap();
    let e = err(&veilmark(
        &data,
        &[
            "terms",
            "set",
            nda.to_str().unwrap(),
            "--from-level",
            "Nope",
        ],
    ));
    assert!(e.contains("no classification level"), "{e}");
    let out = veilmark(
        &data,
        &[
            "terms",
            "set",
            nda.to_str().unwrap(),
            "--from-level",
            "Confidential",
        ],
    );
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Confidential documents and above"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ok(&veilmark(&data, &["terms", "show"])),
        "Keep it secret.\n"
    );
    ok(&veilmark(&data, &["terms", "clear"]));
    assert_eq!(ok(&veilmark(&data, &["terms", "show"])), "");

    let levels = dir.path().join("levels.json");
    std::fs::write(&levels, r#"[{"name": "Open", "max_link_days": 30}]"#).unwrap();
    let e = err(&veilmark(
        &data,
        &["level", "define", levels.to_str().unwrap()],
    ));
    assert!(e.contains("documents are classified Public"), "{e}");
    std::fs::write(
        &levels,
        r#"[{"name": "Public", "max_link_days": 30}, {"name": "Secret", "max_link_days": 2, "passcode_required": true, "watermark": "dense"}]"#,
    )
    .unwrap();
    ok(&veilmark(
        &data,
        &["level", "define", levels.to_str().unwrap()],
    ));
    let list = ok(&veilmark(&data, &["level", "list", "--json"]));
    assert!(
        list.contains("Secret") && !list.contains("Restricted"),
        "{list}"
    );
    ok(&veilmark(&data, &["level", "define", "--defaults"]));
    let audit = ok(&veilmark(&data, &["audit"]));
    assert!(
        audit.contains("level") && audit.contains("supplier"),
        "{audit}"
    );
}

#[test]
fn every_owner_command_explains_itself() {
    for cmd in [
        "serve", "seal", "link", "links", "revoke", "audit", "owner", "org", "level", "supplier",
        "review", "terms",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_veilmark"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{cmd}");
        assert!(help.contains("Usage: veilmark"), "{cmd}: {help}");
    }
}

#[test]
fn link_to_unknown_document_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = veilmark(
        dir.path(),
        &["link", &"ab".repeat(16), "--to", "a@b.example"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no document"));
}

#[test]
fn serve_refuses_embed_origins_that_are_not_scheme_host_port() {
    let dir = tempfile::tempdir().unwrap();
    for (origin, why) in [
        ("http://portal.example", "only https:// origins"),
        ("https://portal.example/docs", "has a path"),
        ("https://*.portal.example", "wildcard"),
        ("portal.example", "must start with https://"),
    ] {
        let out = veilmark(
            dir.path(),
            &["serve", "--listen", "127.0.0.1:0", "--embed-origin", origin],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{origin}: {stderr}");
        assert!(stderr.contains(why), "{origin}: {stderr}");
    }
}

#[test]
fn serve_refuses_a_trusted_proxy_that_is_not_an_address_range() {
    let dir = tempfile::tempdir().unwrap();
    for (cidr, why) in [
        ("proxy.internal", "is not an IP address range"),
        ("10.0.0.0/33", "prefix length"),
        ("10.0.0/8", "is not an IP address range"),
    ] {
        let out = veilmark(
            dir.path(),
            &["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", cidr],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cidr}: {stderr}");
        assert!(stderr.contains(why), "{cidr}: {stderr}");
    }
}

/// Runs `veilmark ARGS --data DATA` with `stdin` as standard input.
fn veilmark_with_stdin(data: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn organisations_accounts_and_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("gear.pdf");
    std::fs::write(&file, b"%PDF-1.7\n% gear\n").unwrap();

    ok(&veilmark(&data, &["org", "add", "Brand B"]));
    let dup = veilmark(&data, &["org", "add", "brand b"]);
    assert!(!dup.status.success(), "organisation names are unique");
    let bad_role = veilmark_with_stdin(
        &data,
        &[
            "owner",
            "add",
            "x@b.example",
            "--org",
            "Brand B",
            "--role",
            "root",
        ],
        b"correct horse battery\n",
    );
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));
    ok(&veilmark_with_stdin(
        &data,
        &[
            "owner",
            "add",
            "bea@b.example",
            "--org",
            "Brand B",
            "--role",
            "owner",
        ],
        b"correct horse battery\n",
    ));
    ok(&veilmark_with_stdin(
        &data,
        &["owner", "add", "ann@a.example"],
        b"correct horse battery\n",
    ));
    let orgs = ok(&veilmark(&data, &["org", "list"]));
    assert!(
        orgs.contains("Brand B") && orgs.contains("default"),
        "{orgs}"
    );
    let members = ok(&veilmark(&data, &["owner", "list", "--org", "Brand B"]));
    assert!(
        members.contains("bea@b.example") && members.contains("owner"),
        "{members}"
    );
    assert!(!members.contains("ann@a.example"), "{members}");

    // --org is checked against the account's organisation.
    let wrong_org = veilmark(
        &data,
        &["owner", "tokens", "ann@a.example", "--org", "Brand B"],
    );
    assert!(!wrong_org.status.success());
    assert!(String::from_utf8_lossy(&wrong_org.stderr).contains("not a member of"));

    let token = ok(&veilmark(
        &data,
        &[
            "owner",
            "token",
            "bea@b.example",
            "--expires",
            "30d",
            "--name",
            "build server",
        ],
    ));
    assert!(token.trim().len() > 30);
    let list = ok(&veilmark(&data, &["owner", "tokens", "bea@b.example"]));
    assert!(
        list.contains("build server") && list.contains("never"),
        "{list}"
    );
    let id = list
        .split_whitespace()
        .find(|w| w.starts_with("tok_"))
        .unwrap()
        .to_owned();
    let too_long = veilmark(
        &data,
        &["owner", "token", "bea@b.example", "--expires", "1000d"],
    );
    assert!(!too_long.status.success());
    ok(&veilmark(&data, &["owner", "revoke-token", &id]));
    let list = ok(&veilmark(&data, &["owner", "tokens", "bea@b.example"]));
    assert!(!list.contains(&id), "{list}");

    // Each organisation's documents, links and audit log are its own.
    let doc = ok(&veilmark(
        &data,
        &["seal", file.to_str().unwrap(), "--org", "Brand B"],
    ));
    let doc = doc.trim();
    let foreign = veilmark(
        &data,
        &[
            "link",
            doc,
            "--to",
            "s@supplier.example",
            "--url",
            "http://x",
        ],
    );
    assert!(
        !foreign.status.success(),
        "the default organisation cannot link B's document"
    );
    ok(&veilmark(
        &data,
        &[
            "link",
            doc,
            "--to",
            "s@supplier.example",
            "--url",
            "http://x",
            "--org",
            "Brand B",
        ],
    ));
    let links_a = ok(&veilmark(&data, &["links", "--json"]));
    assert_eq!(links_a.trim(), "[]");
    let links_b = ok(&veilmark(&data, &["links", "--json", "--org", "Brand B"]));
    assert!(links_b.contains("s@supplier.example"));
    let audit_b = veilmark(&data, &["audit", "--verify", "--org", "Brand B"]);
    assert!(audit_b.status.success());
    let audit_a = ok(&veilmark(&data, &["audit", "--json"]));
    assert!(!audit_a.contains("s@supplier.example"), "{audit_a}");
    let server_chain = veilmark(&data, &["audit", "--server", "--verify"]);
    assert!(server_chain.status.success());

    // A new password ends the account's tokens.
    let token = ok(&veilmark(&data, &["owner", "token", "bea@b.example"]));
    assert!(!token.trim().is_empty());
    ok(&veilmark_with_stdin(
        &data,
        &["owner", "passwd", "bea@b.example", "--org", "Brand B"],
        b"another long password\n",
    ));
    let list = ok(&veilmark(&data, &["owner", "tokens", "bea@b.example"]));
    assert!(!list.contains("tok_"), "{list}");
    let short = veilmark_with_stdin(&data, &["owner", "passwd", "bea@b.example"], b"short\n");
    assert!(!short.status.success());
}

/// Issue 16 row 8: hostile text in the audit log (an address, a user agent, a name set by a
/// remote party) never reaches the terminal as escape sequences or bidi overrides.
#[test]
fn audit_and_links_escape_hostile_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("bracket.pdf");
    std::fs::write(&file, b"%PDF-1.7\n% bracket\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(["owner", "add", "owner@brand.example", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let doc = ok(&veilmark(&data, &["seal", file.to_str().unwrap()]));
    ok(&veilmark(
        &data,
        &["link", doc.trim(), "--to", "alice@supplier.example"],
    ));
    let hostile = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\u{202e}gpj.exe\u{9b}";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("veilmark.db").display()))
                .await
                .unwrap();
        sqlx::query("UPDATE audit_log SET ip = ?1, actor = ?1, detail = ?1, link_id = ?1")
            .bind(hostile)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let table = ok(&veilmark(&data, &["audit"]));
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}'] {
        assert!(
            !table.contains(bad),
            "{bad:?} reached the terminal: {table:?}"
        );
    }
    assert!(table.contains("\\u{1b}]52;c;"), "{table}");
    assert!(table.contains("\\u{202e}gpj.exe"), "{table}");
    let csv = ok(&veilmark(&data, &["audit", "--csv"]));
    assert!(csv.lines().skip(1).all(|l| l.starts_with('"')), "{csv}");
}

/// `veilmark seal --objects s3://…` (and `VEILMARK_OBJECTS`) writes the envelope into the bucket
/// the replicas read, not the data directory; `link` works on that document; a bucket that
/// refuses the credentials stops `seal` before a document exists.
#[test]
fn seal_writes_the_envelope_to_the_bucket_objects_names() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s3 = runtime.block_on(veilmark_testkit::S3TestServer::start());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("bracket.pdf");
    std::fs::write(&file, b"%PDF-1.7\n% bracket in a bucket\n").unwrap();
    let url = s3.url("brand");
    let with_s3 = |args: &[&str], env: &[(&str, String)]| {
        Command::new(env!("CARGO_BIN_EXE_veilmark"))
            .args(args)
            .arg("--data")
            .arg(&data)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("VEILMARK_OBJECTS")
            .env_remove("VEILMARK_DATABASE_URL")
            .output()
            .unwrap()
    };
    let env = s3.env();
    let doc = ok(&with_s3(
        &["seal", file.to_str().unwrap(), "--objects", &url],
        &env,
    ));
    let doc = doc.trim().to_owned();
    let key = format!("brand/envelopes/{doc}.vmk");
    assert!(s3.keys().contains(&key), "{:?}", s3.keys());
    let envelope = std::fs::read(s3.object_file(&key)).unwrap();
    assert!(envelope.len() > 32, "an envelope, {} bytes", envelope.len());
    assert!(
        !data.join(format!("blobs/envelopes/{doc}.vmk")).exists(),
        "the envelope is in the bucket, not the data directory"
    );
    let link = ok(&with_s3(
        &[
            "link",
            &doc,
            "--to",
            "supplier@factory.example",
            "--objects",
            &url,
        ],
        &env,
    ));
    assert!(link.contains("/v/"), "{link}");

    // The environment variable names the bucket as well as the flag does.
    let mut env_var = env.clone();
    env_var.push(("VEILMARK_OBJECTS", url.clone()));
    let second = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(["seal", file.to_str().unwrap(), "--data"])
        .arg(&data)
        .envs(env_var.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let second = ok(&second).trim().to_owned();
    assert!(s3.keys().contains(&format!("brand/envelopes/{second}.vmk")));

    // Wrong credentials: a clear error, the secret not shown, no document recorded.
    let mut wrong = env.clone();
    wrong.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    wrong.push(("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789".into()));
    let out = with_s3(&["seal", file.to_str().unwrap(), "--objects", &url], &wrong);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(!err.trim().is_empty());
    let links = ok(&veilmark(&data, &["links", "--json"]));
    let objects = s3.keys().iter().filter(|k| k.ends_with(".vmk")).count();
    assert_eq!(
        objects,
        2,
        "the refused seal stored nothing: {:?}",
        s3.keys()
    );
    assert!(links.contains(&doc), "{links}");
}

#[test]
fn an_access_review_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("bracket.pdf");
    std::fs::write(&file, b"%PDF-1.7\n% bracket\n").unwrap();
    let doc = ok(&veilmark(
        &data,
        &["seal", file.to_str().unwrap(), "--title", "Bracket"],
    ));
    let doc = doc.trim();
    let mut links = Vec::new();
    for to in [
        "ann@supplier.example",
        "ben@supplier.example",
        "cat@supplier.example",
    ] {
        let out = ok(&veilmark(&data, &["link", doc, "--to", to, "--json"]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        links.push(v["link"]["id"].as_str().unwrap().to_owned());
    }
    // No review yet: status says how to start one; decisions need an open review.
    let out = veilmark(&data, &["review", "status"]);
    ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("veilmark review start"), "{said}");
    let e = err(&veilmark(
        &data,
        &["review", "decide", &links[0], "confirm"],
    ));
    assert!(e.contains("no access review is open"), "{e}");

    let id = ok(&veilmark(&data, &["review", "start", "--due-in", "2s"]));
    let id = id.trim().to_owned();
    assert!(id.starts_with("rev_"), "{id}");
    let e = err(&veilmark(&data, &["review", "start"]));
    assert!(e.contains("already open"), "{e}");
    ok(&veilmark(
        &data,
        &["review", "decide", &links[0], "confirm"],
    ));
    ok(&veilmark(&data, &["review", "decide", &links[1], "revoke"]));
    let e = err(&veilmark(
        &data,
        &["review", "decide", &links[1], "confirm"],
    ));
    assert!(e.contains("revoked already"), "{e}");
    let e = err(&veilmark(&data, &["review", "decide", &links[2], "maybe"]));
    assert!(e.contains("confirm"), "{e}");
    let status = ok(&veilmark(&data, &["review", "status"]));
    assert!(
        status.contains("3 link(s): 1 to decide, 1 confirmed, 1 revoked, 0 expired"),
        "{status}"
    );
    // After the due date, one run of the review task revokes the undecided link.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = veilmark(&data, &["review", "tick"]);
    ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1 link(s) revoked"), "{said}");
    let listed = ok(&veilmark(&data, &["links", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let revoked = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .map(|l| !l["revoked_at"].is_null())
            .unwrap()
    };
    assert_eq!(
        (revoked(&links[0]), revoked(&links[1]), revoked(&links[2])),
        (false, true, true)
    );
    let csv_path = dir.path().join("review.csv");
    ok(&veilmark(
        &data,
        &[
            "review",
            "export",
            "--review",
            &id,
            "--out",
            csv_path.to_str().unwrap(),
        ],
    ));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.contains("\"expired\",") && csv.contains("\"due date\""),
        "{csv}"
    );
    // The schedule: shown, changed, and refused when it makes no sense.
    let shown = ok(&veilmark(&data, &["review", "schedule"]));
    assert!(
        shown.contains("every 91 days; owners have 14 days"),
        "{shown}"
    );
    let shown = ok(&veilmark(
        &data,
        &["review", "schedule", "--every", "30d", "--window", "7d"],
    ));
    assert!(
        shown.contains("every 30 days; owners have 7 days"),
        "{shown}"
    );
    let e = err(&veilmark(
        &data,
        &["review", "schedule", "--every", "1d", "--window", "7d"],
    ));
    assert!(e.contains("more often than their window"), "{e}");
    let audit = ok(&veilmark(&data, &["audit", "--csv"]));
    assert_eq!(audit.matches(",\"review\",").count(), 4, "{audit}");
}
