//! Reading the envelope test vectors in `docs/vectors/envelope/` (format in its README.md).

#![allow(dead_code)]

use veilmark_shared::envelope::{self, ContentKey, DocumentId};

/// One parsed vector file.
pub struct Vector {
    pub expect: String,
    pub key: [u8; 32],
    pub fields: std::collections::HashMap<String, String>,
    pub envelope: Vec<u8>,
}

/// Parses the `name: value` lines of a vector file; `#` lines are comments.
pub fn parse(text: &str) -> Vector {
    let mut fields = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (k, v) = line.split_once(':').expect("`name: value` line");
        fields.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    let hex =
        |k: &str| hex::decode(fields.get(k).unwrap_or_else(|| panic!("missing {k}"))).unwrap();
    Vector {
        expect: fields["expect"].clone(),
        key: hex("key").try_into().unwrap(),
        envelope: hex("envelope"),
        fields,
    }
}

/// Checks one vector against the implementation; returns a description of the mismatch.
pub fn check(v: &Vector) -> Result<(), String> {
    let key = ContentKey::from_bytes(v.key);
    let opened = envelope::open(&key, &v.envelope);
    if v.expect == "ok" {
        let opened = opened.map_err(|e| format!("expected ok, got {e}"))?;
        let plaintext = hex::decode(&v.fields["plaintext"]).unwrap();
        if opened.plaintext.as_slice() != plaintext.as_slice() {
            return Err("plaintext differs".into());
        }
        if opened.header.media_type() != v.fields["media type"] {
            return Err("media type differs".into());
        }
        // Sealing with the vector's parameters reproduces the envelope byte for byte.
        let resealed = envelope::seal(
            &key,
            DocumentId(
                hex::decode(&v.fields["document id"])
                    .unwrap()
                    .try_into()
                    .unwrap(),
            ),
            &v.fields["media type"],
            &plaintext,
            v.fields["chunk size"].parse().unwrap(),
            hex::decode(&v.fields["key salt"])
                .unwrap()
                .try_into()
                .unwrap(),
            hex::decode(&v.fields["nonce prefix"])
                .unwrap()
                .try_into()
                .unwrap(),
        )
        .map_err(|e| format!("reseal failed: {e}"))?;
        if resealed != v.envelope {
            return Err("resealing does not reproduce the envelope bytes".into());
        }
        Ok(())
    } else {
        match opened {
            Ok(_) => Err(format!("expected error {}, but it opened", v.expect)),
            Err(e) if e.code() == v.expect => Ok(()),
            Err(e) => Err(format!(
                "expected error {}, got {} ({e})",
                v.expect,
                e.code()
            )),
        }
    }
}
