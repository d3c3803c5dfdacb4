//! Media-type sniffing runs on every uploaded file before anything else: it must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_shared::media::MediaType;

fuzz_target!(|data: &[u8]| {
    let _ = MediaType::detect(data, data.len() as u64);
    let _ = MediaType::detect(data, u64::MAX);
});
