//! What server replicas share: keys, by copied key files or by environment variables, so that a
//! licence signed or a content key wrapped by one replica is good on every other.

use std::os::unix::fs::PermissionsExt;

use veilmark_server::keys::ServerKeys;
use veilmark_shared::envelope::{ContentKey, DocumentId};
use veilmark_store::{DataDir, KeyFile};

fn doc_id() -> DocumentId {
    DocumentId([7; 16])
}

/// Replica `a` wraps a content key; replica `b` must unwrap it and sign with the same key.
fn assert_same_keys(a: &ServerKeys, b: &ServerKeys) {
    assert_eq!(a.signing().verifying_key(), b.signing().verifying_key());
    assert_eq!(a.watermark(), b.watermark());
    let key = ContentKey::from_bytes([42; 32]);
    let wrapped = a.wrap_content_key(doc_id(), &key).unwrap();
    let unwrapped = b.unwrap_content_key(doc_id(), &wrapped).unwrap();
    assert_eq!(unwrapped.as_bytes(), key.as_bytes());
}

#[test]
fn replicas_share_keys_through_copied_key_files() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = ServerKeys::load_with_env(&DataDir::new(first.path()), &|_| None).unwrap();
    // What docs/deploy.md says to do: copy keys/ with its modes.
    let keys = second.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    for name in ["signing.key", "wrap.key", "watermark.key"] {
        let to = keys.join(name);
        std::fs::copy(first.path().join("keys").join(name), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let b = ServerKeys::load_with_env(&DataDir::new(second.path()), &|_| None).unwrap();
    assert_same_keys(&a, &b);
    // A replica that was not given the files makes its own, and they differ.
    let third = tempfile::tempdir().unwrap();
    let c = ServerKeys::load_with_env(&DataDir::new(third.path()), &|_| None).unwrap();
    assert_ne!(a.signing().verifying_key(), c.signing().verifying_key());
}

#[test]
fn replicas_share_keys_through_the_environment_without_key_files() {
    let env = |name: &str| {
        let fill = match name {
            "VEILMARK_SIGNING_KEY" => "11",
            "VEILMARK_WRAP_KEY" => "22",
            "VEILMARK_WATERMARK_KEY" => "33",
            _ => return None,
        };
        Some(fill.repeat(32))
    };
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = ServerKeys::load_with_env(&DataDir::new(first.path()), &env).unwrap();
    let b = ServerKeys::load_with_env(&DataDir::new(second.path()), &env).unwrap();
    assert_same_keys(&a, &b);
    assert_eq!(a.watermark(), &[0x33; 32]);
    for dir in [first.path(), second.path()] {
        for which in KeyFile::ALL {
            assert!(
                DataDir::new(dir).read_key(which).unwrap().is_none(),
                "no {which:?} key file was written"
            );
        }
    }
}
