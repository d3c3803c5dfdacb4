//! Untrusted bytes as the body of `POST /api/v/{token}/licence`: the JSON parse and the field
//! checks the server runs (`LicenceRequest::check`) must never panic, and whatever passes them
//! must have the shapes the server relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_shared::wire::LicenceRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<LicenceRequest>(data) else {
        return;
    };
    if let Ok(checked) = req.check() {
        assert!((16..=32).contains(&checked.nonce.len()));
        assert!(checked.timestamp >= 0);
        assert_eq!(req.viewer_key.len(), 64);
    }
});
