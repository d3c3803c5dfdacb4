//! Every file in `docs/vectors/envelope/` is checked against the implementation: one named case
//! per behaviour, good and bad (after rage's testkit).
#![cfg(not(target_arch = "wasm32"))]

use crate::envelope_vectors;

#[test]
fn every_envelope_vector_holds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/envelope");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("vector folder exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 20,
        "expected the full vector set, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for path in &names {
        let vector = envelope_vectors::parse(&std::fs::read_to_string(path).unwrap());
        if let Err(why) = envelope_vectors::check(&vector) {
            failures.push(format!(
                "{}: {why}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "vector failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn vectors_cover_the_required_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/envelope");
    for required in [
        "empty",
        "multi_chunk",
        "exact_multiple",
        "stream_chunks_swapped",
        "wrong_key",
    ] {
        assert!(
            dir.join(format!("{required}.txt")).exists(),
            "{required} vector missing"
        );
    }
}
