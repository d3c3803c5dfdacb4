//! Behaviour of the envelope through its public API: round trips at the size boundaries, random
//! access, and a distinct error for each kind of damage.
// Test data is made by deliberately truncating counters to bytes.
#![allow(clippy::cast_possible_truncation)]
#![cfg(not(target_arch = "wasm32"))]

use veilmark_shared::envelope::{
    self, ContentKey, DocumentId, EnvelopeError, Header, Opener, SealParams, Sealer,
};

const CHUNK: u32 = 1024;

fn key() -> ContentKey {
    ContentKey::from_bytes([0x42; 32])
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn seal(pt: &[u8]) -> Vec<u8> {
    envelope::seal(
        &key(),
        DocumentId([1; 16]),
        "application/pdf",
        pt,
        CHUNK,
        [2; 16],
        [3; 7],
    )
    .unwrap()
}

fn open_err(env: &[u8]) -> EnvelopeError {
    match envelope::open(&key(), env) {
        Ok(_) => panic!("damaged envelope opened"),
        Err(e) => e,
    }
}

#[test]
fn round_trips_at_every_size_boundary() {
    let c = CHUNK as usize;
    for len in [
        0,
        1,
        c - 1,
        c,
        c + 1,
        2 * c - 1,
        2 * c,
        2 * c + 1,
        5 * c + 17,
    ] {
        let pt = data(len);
        let env = seal(&pt);
        let header = Header::parse(&env).unwrap();
        assert_eq!(
            header.envelope_len(),
            env.len() as u64,
            "length formula at {len}"
        );
        assert_eq!(
            header.chunk_count() as usize,
            len.div_ceil(c).max(1),
            "chunk count at {len}"
        );
        let opened = envelope::open(&key(), &env).unwrap();
        assert_eq!(
            opened.plaintext.as_slice(),
            pt.as_slice(),
            "round trip at {len}"
        );
        assert_eq!(opened.header.media_type(), "application/pdf");
    }
}

#[test]
fn chunks_open_independently_in_any_order() {
    let pt = data(10 * CHUNK as usize + 5);
    let env = seal(&pt);
    let opener = Opener::new(&key(), &env).unwrap();
    let h = opener.header().clone();
    for i in (0..h.chunk_count()).rev() {
        let r = h.chunk_range(i).unwrap();
        let mut buf = env[r.start as usize..r.end as usize].to_vec();
        opener.open_chunk(i, &mut buf).unwrap();
        let start = i as usize * CHUNK as usize;
        assert_eq!(buf, pt[start..start + buf.len()]);
    }
    assert!(matches!(
        opener.open_chunk(h.chunk_count(), &mut vec![0; 16]),
        Err(EnvelopeError::ChunkIndexOutOfRange { .. })
    ));
}

#[test]
fn each_kind_of_damage_has_its_own_error() {
    let pt = data(4 * CHUNK as usize);
    let env = seal(&pt);
    let h = Header::parse(&env).unwrap();
    let range = |i| {
        let r = h.chunk_range(i).unwrap();
        r.start as usize..r.end as usize
    };

    assert_eq!(open_err(&env[..env.len() - 1]).code(), "truncated");
    assert_eq!(open_err(&env[..range(3).start]).code(), "truncated");
    let mut longer = env.clone();
    longer.push(0);
    assert_eq!(open_err(&longer).code(), "trailing-data");

    let mut swapped = env.clone();
    swapped[range(1)].copy_from_slice(&env[range(2)]);
    swapped[range(2)].copy_from_slice(&env[range(1)]);
    assert_eq!(
        open_err(&swapped),
        EnvelopeError::ChunkOutOfOrder {
            position: 1,
            sealed_as: 2
        }
    );
    // The final chunk (flagged) moved to the front is recognised too.
    let mut rotated = env.clone();
    rotated[range(0)].copy_from_slice(&env[range(3)]);
    rotated[range(3)].copy_from_slice(&env[range(0)]);
    assert_eq!(
        open_err(&rotated),
        EnvelopeError::ChunkOutOfOrder {
            position: 0,
            sealed_as: 3
        }
    );

    let other = envelope::seal(
        &key(),
        DocumentId([1; 16]),
        "application/pdf",
        &pt,
        CHUNK,
        [9; 16],
        [3; 7],
    )
    .unwrap();
    let mut foreign = env.clone();
    foreign[range(2)].copy_from_slice(&other[range(2)]);
    assert_eq!(
        open_err(&foreign),
        EnvelopeError::ChunkTampered { index: 2 }
    );

    let mut flipped = env.clone();
    flipped[range(3).start + 3] ^= 4;
    assert_eq!(
        open_err(&flipped),
        EnvelopeError::ChunkTampered { index: 3 }
    );

    let mut edited = env.clone();
    edited[20] ^= 1; // document id
    assert_eq!(open_err(&edited), EnvelopeError::HeaderTampered);

    let wrong = envelope::open(&ContentKey::from_bytes([0x43; 32]), &env)
        .err()
        .unwrap();
    assert_eq!(wrong, EnvelopeError::WrongKey);

    assert_eq!(open_err(b"%PDF-1.7 plain file").code(), "not-an-envelope");
    assert_eq!(open_err(b"VEIL").code(), "header-truncated");
    assert_eq!(open_err(b"").code(), "header-truncated");
}

#[test]
fn every_single_bit_flip_and_truncation_is_rejected() {
    let env = seal(&data(2 * CHUNK as usize + 3));
    for pos in 0..env.len() {
        for bit in [0x01u8, 0x80] {
            let mut damaged = env.clone();
            damaged[pos] ^= bit;
            let err = open_err(&damaged);
            assert!(err.is_integrity_failure(), "flip at {pos}: {err}");
        }
    }
    for len in 0..env.len() {
        let err = open_err(&env[..len]);
        assert!(err.is_integrity_failure(), "truncation to {len}: {err}");
    }
}

#[test]
fn sealer_refuses_bad_parameters_and_wrong_chunk_lengths() {
    let params = |chunk_size, media: &str| SealParams {
        document_id: DocumentId([0; 16]),
        media_type: media.into(),
        plaintext_len: 3000,
        chunk_size,
        key_salt: [0; 16],
        nonce_prefix: [0; 7],
    };
    assert!(matches!(
        Sealer::new(&key(), &params(100, "model/stl")),
        Err(EnvelopeError::InvalidParameters(_))
    ));
    assert!(matches!(
        Sealer::new(&key(), &params(CHUNK, "Model/STL")),
        Err(EnvelopeError::InvalidParameters(_))
    ));
    assert!(matches!(
        Sealer::new(&key(), &params(CHUNK, "no-slash")),
        Err(EnvelopeError::InvalidParameters(_))
    ));
    let sealer = Sealer::new(&key(), &params(CHUNK, "model/stl")).unwrap();
    let mut short = vec![0u8; 10];
    assert!(matches!(
        sealer.seal_chunk(0, &mut short),
        Err(EnvelopeError::ChunkLength {
            index: 0,
            expected: 1024,
            actual: 10
        })
    ));
    let mut last = vec![0u8; 3000 - 2048];
    sealer.seal_chunk(2, &mut last).unwrap();
    assert_eq!(last.len(), 3000 - 2048 + envelope::TAG_LEN);
}

#[test]
fn huge_declared_lengths_are_refused_without_allocating() {
    let env = seal(b"small");
    let header = Header::parse(&env).unwrap();
    // A header may legitimately describe a 1 TiB file; the length check catches the mismatch.
    let mut big = env[..header.len()].to_vec();
    big[32..40].copy_from_slice(&(1u64 << 40).to_be_bytes());
    assert!(Header::parse(&big).is_ok());
    // More chunks than the 32-bit counter allows is malformed.
    big[32..40].copy_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(Header::parse(&big).unwrap_err().code(), "malformed-header");
}

#[test]
fn keys_are_redacted_in_debug_output() {
    assert_eq!(format!("{:?}", key()), "ContentKey(<redacted>)");
}
