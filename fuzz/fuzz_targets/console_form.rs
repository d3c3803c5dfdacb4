//! Untrusted bytes as a console form body (`application/x-www-form-urlencoded`): the parser
//! every console form handler starts with (`veilmark_shared::form::Form::parse`) must never
//! panic, and a parsed form answers its lookups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_shared::form::Form;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(data) {
        for (k, _) in &form.0 {
            assert!(form.get(k).is_some());
            assert!(form.all(k).count() >= 1);
        }
        let _ = form.get("csrf");
    }
});
