//! Content-key files for `veilmark envelope` (interoperability and debugging).
//!
//! One key per file, as a text line `veilmark-content-key-v1 <64 hex digits>`; lines starting
//! with `#` are comments. Files are created with mode 0600 and never overwritten silently.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use veilmark_shared::envelope::ContentKey;
use zeroize::Zeroizing;

const KEY_LINE_PREFIX: &str = "veilmark-content-key-v1 ";

/// Generates a random content key from the operating system's CSPRNG.
pub fn generate_key() -> Result<ContentKey> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).context("the operating system's random generator failed")?;
    Ok(ContentKey::from_bytes(*bytes))
}

/// Writes `key` to a new file at `path` (mode 0600). Refuses to replace an existing file unless
/// `force` is set.
pub fn write_key_file(path: &Path, key: &ContentKey, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!(
            "{} already exists; pass --force to replace it (the envelopes sealed with the old key will no longer open with this file)",
            path.display()
        );
    }
    let mut text = Zeroizing::new(String::new());
    text.push_str(
        "# Veilmark content key. Anyone holding this file can open envelopes sealed with it.\n",
    );
    text.push_str(KEY_LINE_PREFIX);
    text.push_str(&hex::encode(key.as_bytes()));
    text.push('\n');
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create key file {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write key file {}", path.display()))?;
    Ok(())
}

/// Reads a key file written by [`write_key_file`] (or by hand in the same format).
pub fn read_key_file(path: &Path) -> Result<ContentKey> {
    let bytes = read_key_line(
        path,
        KEY_LINE_PREFIX,
        "key file",
        "`veilmark envelope keygen`",
    )?;
    Ok(ContentKey::from_bytes(*bytes))
}

/// Reads a one-key text file: `#` comments and exactly one line `PREFIX<64 hex digits>`.
/// `kind` ("key file", "watermark key file") and `made_by` (what writes such files) make the
/// error messages specific.
pub fn read_key_line(
    path: &Path,
    prefix: &str,
    kind: &str,
    made_by: &str,
) -> Result<Zeroizing<[u8; 32]>> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?,
    );
    warn_if_readable_by_others(path);
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = keys
        .next()
        .with_context(|| format!("{} holds no key line", path.display()))?;
    if keys.next().is_some() {
        bail!("{} holds more than one key line", path.display());
    }
    let Some(hex_key) = line.strip_prefix(prefix) else {
        bail!(
            "{} is not a Veilmark {kind} (expected a line starting with {:?}; made by {made_by})",
            path.display(),
            prefix.trim_end()
        );
    };
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_key.trim(), bytes.as_mut()).with_context(|| {
        format!(
            "{}: the key must be exactly 64 hexadecimal digits",
            path.display()
        )
    })?;
    Ok(bytes)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: key file {} is readable by other users (mode {:o}); run `chmod 600` on it",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}
