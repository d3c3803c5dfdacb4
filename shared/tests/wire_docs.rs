//! Every JSON example in `docs/licence.md` parses into the `wire` type the comment above it
//! names, and says nothing that type would drop: the page cannot drift from the code.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use veilmark_shared::wire::{
    ClosedEvent, ErrorBody, ExpiredEvent, LicenceRequest, LicenceResponse, Report, RevokedEvent,
    ServerKeyResponse,
};

/// `(type name, JSON text)` for each ```json block of `docs/licence.md`, the type taken from the
/// `<!-- wire: Type -->` line above the block.
fn blocks() -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/licence.md");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```json" {
            let name = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix("<!-- wire:"))
                .and_then(|l| l.strip_suffix("-->"))
                .unwrap_or_else(|| panic!("json block at line {} names no wire type", i + 1))
                .trim()
                .to_owned();
            let end = i
                + 1
                + lines[i + 1..]
                    .iter()
                    .position(|l| l.trim() == "```")
                    .unwrap_or_else(|| panic!("unterminated block at line {}", i + 1));
            out.push((name, lines[i + 1..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    out
}

/// Parses `json` as `T` and checks that writing it back gives the same JSON value.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str, json: &str) {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: not JSON: {e}\n{json}"));
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{name}: does not parse: {e}\n{json}"));
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        value,
        "{name}: fields the type drops or adds"
    );
}

#[test]
fn every_json_example_in_the_licence_doc_parses_into_its_wire_type() {
    let blocks = blocks();
    let mut seen = std::collections::BTreeSet::new();
    for (name, json) in &blocks {
        match name.as_str() {
            "LicenceRequest" => round_trip::<LicenceRequest>(name, json),
            "LicenceResponse" => round_trip::<LicenceResponse>(name, json),
            "ServerKeyResponse" => round_trip::<ServerKeyResponse>(name, json),
            "Report" => round_trip::<Report>(name, json),
            "RevokedEvent" => round_trip::<RevokedEvent>(name, json),
            "ClosedEvent" => round_trip::<ClosedEvent>(name, json),
            "ExpiredEvent" => round_trip::<ExpiredEvent>(name, json),
            "ErrorBody" => round_trip::<ErrorBody>(name, json),
            other => panic!("unknown wire type {other}"),
        }
        seen.insert(name.clone());
    }
    assert_eq!(seen.len(), 8, "every message appears in the doc: {seen:?}");
}

#[test]
fn every_error_code_in_the_doc_table_is_a_code_with_that_status() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/licence.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = 0;
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(code) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        let Ok(status) = cells[2].parse::<u16>() else {
            continue;
        };
        let parsed: veilmark_shared::wire::ErrorCode =
            serde_json::from_value(serde_json::Value::String(code.into())).unwrap();
        assert_ne!(parsed, veilmark_shared::wire::ErrorCode::Unknown, "{code}");
        assert_eq!(parsed.status(), status, "{code}");
        rows += 1;
    }
    assert_eq!(rows, 18, "one row per code");
}
