//! Runs every licence test vector in `docs/vectors/licence/`, one named case per behaviour
//! (format in `docs/licence.md#vectors`). `regenerate` (ignored) rewrites them from fixed seeds:
//! `cargo test -p veilmark-shared --test licence_vectors -- --ignored regenerate`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::{Signer, SigningKey};
use veilmark_shared::envelope::{ContentKey, DocumentId};
use veilmark_shared::licence::{
    self, Licence, LicenceTerms, Permissions, SIGNATURE_CONTEXT, ServerKey, SessionCode, SessionId,
    ViewerKey,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/licence")
}

struct Vector {
    fields: BTreeMap<String, String>,
}

impl Vector {
    fn parse(text: &str) -> Self {
        let fields = text
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { fields }
    }
    fn get(&self, k: &str) -> &str {
        self.fields
            .get(k)
            .unwrap_or_else(|| panic!("missing field {k}"))
    }
    fn hex32(&self, k: &str) -> [u8; 32] {
        hex::decode(self.get(k)).unwrap().try_into().unwrap()
    }
}

/// The error variant's name, as written after `expect: error `.
fn variant(e: &licence::LicenceError) -> String {
    format!("{e:?}")
        .split(['(', ' ', '{'])
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn every_vector_behaves_as_documented() {
    let mut count = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        count += 1;
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let v = Vector::parse(&std::fs::read_to_string(&path).unwrap());
        let bytes = hex::decode(v.get("licence")).unwrap();
        let now: u64 = v.get("now").parse().unwrap();
        let viewer = ViewerKey::from_seed(v.hex32("viewer seed"));
        let result = Licence::verify(&bytes, &v.hex32("server key"), now)
            .and_then(|l| l.open_content_key(&viewer).map(|k| (l, k)));
        let expect = v.get("expect");
        match (expect, result) {
            ("ok", Ok((lic, key))) => {
                assert_eq!(hex::encode(key.as_bytes()), v.get("content key"), "{name}");
                assert_eq!(lic.terms.recipient, v.get("recipient"), "{name}");
                assert_eq!(
                    lic.terms.session_code.to_string(),
                    v.get("session code"),
                    "{name}"
                );
            }
            (e, Err(err)) if e.strip_prefix("error ") == Some(variant(&err).as_str()) => {}
            (e, got) => panic!("{name}: expected {e}, got {:?}", got.map(|(l, _)| l.terms)),
        }
    }
    assert!(
        count >= 10,
        "only {count} vectors found in {}",
        dir().display()
    );
}

// ---------------------------------------------------------------------------------------------
// Generation from fixed seeds.

const SERVER_SEED: [u8; 32] = [0x11; 32];
const OTHER_SEED: [u8; 32] = [0x22; 32];
const VIEWER_SEED: [u8; 32] = [0x33; 32];
const CONTENT_KEY: [u8; 32] = [0x44; 32];
const NOW: u64 = 1_800_000_030;

fn terms() -> LicenceTerms {
    LicenceTerms {
        document_id: DocumentId(*b"bracket-drawing!"),
        session_id: SessionId([0x5a; 16]),
        session_code: SessionCode::new(0x0123_4567_89ab).unwrap(),
        permissions: Permissions::VIEW.union(Permissions::MEASURE),
        issued_at: 1_800_000_000,
        lease_expires_at: 1_800_000_060,
        viewer_key: ViewerKey::from_seed(VIEWER_SEED).public_key(),
        recipient: "alice@supplier.example".into(),
    }
}

fn issue(t: &LicenceTerms, seed: [u8; 32]) -> Vec<u8> {
    licence::issue(
        t,
        &ContentKey::from_bytes(CONTENT_KEY),
        &ServerKey::from_seed(seed),
        [0x66; 32],
    )
    .unwrap()
}

/// Re-signs edited bytes with `seed`, so that a case tests the check it names and not the
/// signature.
fn resign(mut bytes: Vec<u8>, seed: [u8; 32]) -> Vec<u8> {
    let body_len = bytes.len() - 64;
    bytes.truncate(body_len);
    let mut msg = SIGNATURE_CONTEXT.to_vec();
    msg.extend_from_slice(&bytes);
    let sig = SigningKey::from_bytes(&seed).sign(&msg);
    bytes.extend_from_slice(&sig.to_bytes());
    bytes
}

#[test]
#[ignore = "rewrites docs/vectors/licence from fixed seeds"]
fn regenerate() {
    let good = issue(&terms(), SERVER_SEED);
    let n = terms().recipient.len();
    // (name, expect, comment, licence bytes, now, viewer seed)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Vec<u8>,
        u64,
        [u8; 32],
    );
    let mut cases: Vec<Case> = Vec::new();
    let v = VIEWER_SEED;
    cases.push((
        "ok_view_and_measure",
        "ok",
        "a valid licence, opened 30 s into its lease",
        good.clone(),
        NOW,
        v,
    ));
    let long = LicenceTerms {
        recipient: format!("{}@supplier.example", "a".repeat(301)),
        ..terms()
    };
    assert_eq!(long.recipient.len(), 318);
    cases.push((
        "ok_long_recipient",
        "ok",
        "a 318-byte recipient",
        issue(&long, SERVER_SEED),
        NOW,
        v,
    ));
    cases.push((
        "expired_at_lease_end",
        "error Expired",
        "now equals the lease expiry: the lease is over",
        good.clone(),
        1_800_000_060,
        v,
    ));
    cases.push((
        "not_yet_valid",
        "error NotYetValid",
        "issued more than 300 s after the viewer's now",
        good.clone(),
        1_799_999_000,
        v,
    ));
    let mut flipped = good.clone();
    flipped[100] ^= 0x20; // 'a' -> 'A' in the recipient, still UTF-8
    cases.push((
        "bad_signature_recipient_edited",
        "error BadSignature",
        "one recipient byte changed after signing",
        flipped,
        NOW,
        v,
    ));
    cases.push((
        "resigned_by_other_key",
        "error BadSignature",
        "a well-formed licence signed by a key other than the server's",
        issue(&terms(), OTHER_SEED),
        NOW,
        v,
    ));
    cases.push((
        "truncated_signature",
        "error Truncated",
        "the last byte is missing",
        good[..good.len() - 1].to_vec(),
        NOW,
        v,
    ));
    let mut trailing = good.clone();
    trailing.push(0);
    cases.push((
        "trailing_garbage",
        "error TrailingBytes",
        "one byte after the signature",
        trailing,
        NOW,
        v,
    ));
    let mut magic = good.clone();
    magic[0] = b'X';
    cases.push((
        "bad_magic",
        "error NotALicence",
        "does not start with VMLC",
        magic,
        NOW,
        v,
    ));
    let mut version = good.clone();
    version[4] = 2;
    cases.push((
        "unsupported_version",
        "error UnsupportedVersion",
        "version byte 2, re-signed",
        resign(version, SERVER_SEED),
        NOW,
        v,
    ));
    let mut suite = good.clone();
    suite[5] = 9;
    cases.push((
        "unsupported_suite",
        "error UnsupportedSuite",
        "suite byte 9, re-signed",
        resign(suite, SERVER_SEED),
        NOW,
        v,
    ));
    let mut perms = good.clone();
    perms[49] |= 0x80;
    cases.push((
        "unknown_permission_bit",
        "error UnknownPermissions",
        "permission bit 7 set, re-signed: unknown permissions are refused",
        resign(perms, SERVER_SEED),
        NOW,
        v,
    ));
    let mut utf8 = good.clone();
    utf8[100] = 0xff;
    cases.push((
        "recipient_not_utf8",
        "error BadRecipient",
        "recipient byte 0xff, re-signed",
        resign(utf8, SERVER_SEED),
        NOW,
        v,
    ));
    let inverted = LicenceTerms {
        lease_expires_at: 1_800_000_000,
        ..terms()
    };
    let mut inv = issue(
        &LicenceTerms {
            lease_expires_at: 1_800_000_001,
            ..terms()
        },
        SERVER_SEED,
    );
    inv[58..66].copy_from_slice(&inverted.lease_expires_at.to_be_bytes());
    cases.push((
        "lease_inverted",
        "error LeaseInverted",
        "lease expiry equals issue time, re-signed",
        resign(inv, SERVER_SEED),
        NOW,
        v,
    ));
    cases.push((
        "wrong_viewer_key",
        "error WrongViewerKey",
        "a valid licence opened with another viewer's key",
        good.clone(),
        NOW,
        [0x77; 32],
    ));
    let other_session = issue(
        &LicenceTerms {
            session_id: SessionId([0x5b; 16]),
            ..terms()
        },
        SERVER_SEED,
    );
    let mut moved = good.clone();
    moved[100 + n..180 + n].copy_from_slice(&other_session[100 + n..180 + n]);
    let mut wide = good.clone();
    wide[38] = 0x01;
    cases.push((
        "session_code_wider_than_48_bits",
        "error SessionCodeTooLarge",
        "a session code field with a bit above bit 47 set, re-signed",
        resign(wide, SERVER_SEED),
        NOW,
        v,
    ));
    cases.push(("sealed_key_moved_from_other_licence", "error KeyUnwrapFailed", "HPKE enc and sealed key taken from another session's licence, re-signed: the terms are the HPKE associated data", resign(moved, SERVER_SEED), NOW, v));

    let server_pub = ServerKey::from_seed(SERVER_SEED).verifying_key();
    std::fs::create_dir_all(dir()).unwrap();
    for (name, expect, comment, bytes, now, viewer) in cases {
        let mut text = format!(
            "expect: {expect}\ncomment: {comment}\nserver key: {}\nviewer seed: {}\nnow: {now}\n",
            hex::encode(server_pub),
            hex::encode(viewer)
        );
        if expect == "ok" {
            let lic = Licence::verify(&bytes, &server_pub, now).unwrap();
            text.push_str(&format!(
                "content key: {}\nrecipient: {}\nsession code: {}\n",
                hex::encode(CONTENT_KEY),
                lic.terms.recipient,
                lic.terms.session_code
            ));
        }
        text.push_str(&format!("licence: {}\n", hex::encode(&bytes)));
        std::fs::write(dir().join(format!("{name}.txt")), text).unwrap();
    }
}
