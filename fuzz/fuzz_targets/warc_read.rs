//! The WARC reader reads evidence files back for the review console and evidence bundles; a
//! damaged or planted file must give "no record", never a panic or a huge allocation.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use veilmark_store::warc::read_record_at;

fuzz_target!(|data: &[u8]| {
    // The first byte picks an offset into the rest (0 most of the time).
    let (offset, bytes) = match data.split_first() {
        Some((o, rest)) => (u64::from(*o % 8), rest),
        None => (0, data),
    };
    let mut reader = Cursor::new(bytes);
    if let Ok(Some(record)) = read_record_at(&mut reader, offset) {
        assert!(record.header.starts_with("WARC/"));
        let _ = record.http_body();
    }
    let _ = read_record_at(&mut reader, u64::MAX);
});
