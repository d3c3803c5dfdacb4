//! `veilmark catalog` and `veilmark crawl` from the outside: arguments, output, exit codes.

use std::path::Path;
use std::process::Command;

fn veilmark(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn catalog_add_is_idempotent_and_list_shows_it() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/pdq/coffee.png");
    let img = img.to_str().unwrap();
    let (code, out, err) = veilmark(&[
        "catalog",
        "add",
        img,
        "--product",
        "MUG-1",
        "--title",
        "Coffee mug",
        "--data",
        d,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("added: #1 ") && out.contains("-> MUG-1"),
        "{out}"
    );
    let (_, again, _) = veilmark(&["catalog", "add", img, "--product", "MUG-1", "--data", d]);
    assert!(again.starts_with("already present: #1 "), "{again}");
    let (code, json, _) = veilmark(&["catalog", "list", "--json", "--data", d]);
    assert_eq!(code, 0);
    let row: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(row["sku"], "MUG-1");
    assert_eq!(row["title"], "Coffee mug");
    assert_eq!(row["pdq"].as_array().unwrap().len(), 8);
    let (_, table, _) = veilmark(&["catalog", "list", "--data", d]);
    assert!(
        table.contains("MUG-1") && table.contains("Coffee mug"),
        "{table}"
    );
    assert!(veilmark_store::DataDir::new(d).has_database());
}

#[test]
fn bad_inputs_are_reported_not_panicked() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let (code, _, err) = veilmark(&[
        "catalog",
        "add",
        "/nonexistent.png",
        "--product",
        "X",
        "--data",
        d,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /nonexistent.png"), "{err}");
    let profile = data.path().join("p.toml");
    std::fs::write(&profile, "name = \"m\"\nseeds = []\n").unwrap();
    let (code, _, err) = veilmark(&["crawl", "--profile", profile.to_str().unwrap(), "--data", d]);
    assert_eq!(code, 1);
    assert!(err.contains("at least one seed"), "{err}");
}
