//! Untrusted bytes as an envelope: parsing, key checks and opening must never panic, hang or
//! allocate without bound, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_shared::envelope::{self, ContentKey, Header};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Header::parse(data) {
        // Geometry must be self-consistent for any header that parses.
        let count = header.chunk_count();
        assert!(count >= 1);
        let last = header.chunk_range(count - 1).expect("last chunk exists");
        assert_eq!(last.end, header.envelope_len());
        assert!(header.chunk_range(count).is_none());
    }
    let _ = Header::declared_len(data);
    let _ = envelope::open(&ContentKey::from_bytes([0x42; 32]), data);
});
