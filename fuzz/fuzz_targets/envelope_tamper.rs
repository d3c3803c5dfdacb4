//! Valid envelopes, then fuzzer-chosen damage: every damaged envelope must be refused (never
//! opened to different plaintext), and the untouched one must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_shared::envelope::{self, ContentKey, DocumentId};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (ops, plaintext) = data.split_at(8);
    let key = ContentKey::from_bytes([7; 32]);
    let sealed = envelope::seal(
        &key,
        DocumentId([1; 16]),
        "model/step",
        plaintext,
        1024,
        [2; 16],
        [3; 7],
    )
    .expect("valid parameters");
    let opened = envelope::open(&key, &sealed).expect("fresh envelope opens");
    assert_eq!(opened.plaintext.as_slice(), plaintext);

    let mut damaged = sealed.clone();
    let pos = usize::from(u16::from_le_bytes([ops[0], ops[1]])) % damaged.len();
    match ops[2] % 4 {
        0 => damaged[pos] ^= ops[3] | 1,
        1 => damaged.truncate(pos),
        2 => damaged.insert(pos, ops[3]),
        _ => {
            let other = usize::from(u16::from_le_bytes([ops[4], ops[5]])) % damaged.len();
            if damaged[pos] == damaged[other] {
                return;
            }
            damaged.swap(pos, other);
        }
    }
    if damaged != sealed {
        assert!(
            envelope::open(&key, &damaged).is_err(),
            "damaged envelope opened"
        );
    }
});
