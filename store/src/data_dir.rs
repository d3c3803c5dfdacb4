//! The layout of a Veilmark data directory, known here and nowhere else.
//!
//! ```text
//! DATA/
//!   veilmark.db            SQLite database (every table; see `docs/architecture.md`)
//!   blobs/                 sealed envelopes (object_store's local backend's layout)
//!     envelopes/ID.vmk     one envelope per document, written durably (`crate::durable`)
//!   keys/                  server secrets, mode 0700; files mode 0600, 32 raw bytes each
//!     signing.key          Ed25519 seed that signs licences
//!     wrap.key             AES-256-GCM key that wraps every document's content key
//!     watermark.key        key of the forensic watermark codec
//!   evidence/              WARC/1.1 files, one per crawl run (`run-<id>.warc`)
//!   tmp/                   uploads being received (removed when done; swept at startup)
//!   public-url             the base URL `veilmark serve` printed links with, for the CLI
//! ```
//!
//! Every directory is 0700 and every file 0600 ([`DataDir::create`] tightens what an older
//! version left wider): the database and envelopes are nobody else's business on a shared host.
//!
//! Callers name what they want ("the watermark key", "the evidence file this hit points at"),
//! never a path, so the layout can change (or move to object storage) in one place.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

use crate::durable;

/// Name of the database file.
const DATABASE_FILE: &str = "veilmark.db";
/// Folder of envelope blobs.
const BLOBS_DIR: &str = "blobs";
/// Folder of key files.
const KEYS_DIR: &str = "keys";
/// Folder of envelopes inside the blob folder (`crate::envelope_blob`'s prefix).
const ENVELOPES_DIR: &str = "envelopes";
/// Folder of WARC evidence files.
const EVIDENCE_DIR: &str = "evidence";
/// Folder of uploads being received.
const TEMP_DIR: &str = "tmp";
/// The URL the last `veilmark serve` printed links with.
const PUBLIC_URL_FILE: &str = "public-url";

/// One of the server's long-term secrets, each a 32-byte file under `keys/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFile {
    /// The Ed25519 seed licences are signed with.
    Signing,
    /// The AES-256-GCM key content keys are wrapped under.
    Wrap,
    /// The forensic watermark key.
    Watermark,
}

impl KeyFile {
    /// Every key, in the order the server loads them.
    pub const ALL: [Self; 3] = [Self::Signing, Self::Wrap, Self::Watermark];

    /// The environment variable that may hold this key (64 hex digits) instead of its file, so
    /// that server replicas on several machines share one set of keys without a shared disk.
    #[must_use]
    pub fn env_var(self) -> &'static str {
        match self {
            Self::Signing => "VEILMARK_SIGNING_KEY",
            Self::Wrap => "VEILMARK_WRAP_KEY",
            Self::Watermark => "VEILMARK_WATERMARK_KEY",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Self::Signing => "signing.key",
            Self::Wrap => "wrap.key",
            Self::Watermark => "watermark.key",
        }
    }
}

/// A Veilmark data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (nothing is created or checked yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself, for messages to the user.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory and its folders if missing, all private (0700), and tightens
    /// every directory under it to 0700 and every file to 0600.
    pub fn create(&self) -> Result<()> {
        for dir in [self.envelope_dir(), self.temp_dir()] {
            durable::create_private_dir_all(&dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        }
        durable::tighten(&self.root, durable::DIR_MODE)?;
        self.secure()
            .with_context(|| format!("cannot tighten the modes under {}", self.root.display()))
    }

    /// Tightens every directory under the data directory to 0700 and every file to 0600 (what
    /// a version before issue 16 created 0755/0644). Symbolic links are left alone, and so is
    /// `keys/`: a key file others could read is refused, not silently repaired.
    ///
    /// An entry that disappears during the walk (a temporary file another process, or an
    /// earlier server's sweep, removes at that moment) is skipped: it no longer needs tightening.
    pub fn secure(&self) -> std::io::Result<()> {
        fn gone(e: &std::io::Error) -> bool {
            e.kind() == std::io::ErrorKind::NotFound
        }
        fn walk(dir: &Path, keys: &Path) -> std::io::Result<()> {
            durable::tighten(dir, durable::DIR_MODE)?;
            for entry in fs::read_dir(dir)? {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) if gone(&e) => continue,
                    Err(e) => return Err(e),
                };
                if entry.path() == keys {
                    continue;
                }
                let result = match entry.file_type() {
                    Ok(kind) if kind.is_dir() => walk(&entry.path(), keys),
                    Ok(kind) if kind.is_file() => {
                        durable::tighten(&entry.path(), durable::FILE_MODE)
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                };
                match result {
                    Err(e) if gone(&e) => {}
                    other => other?,
                }
            }
            Ok(())
        }
        walk(&self.root, &self.root.join(KEYS_DIR))
    }

    /// The folder of envelope files.
    pub(crate) fn envelope_dir(&self) -> PathBuf {
        self.root.join(BLOBS_DIR).join(ENVELOPES_DIR)
    }

    /// The file the local blob store keeps the envelope of `document_id` in (the same place as
    /// [`crate::envelope_blob`] names inside [`DataDir::blob_store`]).
    #[must_use]
    pub fn envelope_file(&self, document_id: &str) -> PathBuf {
        self.envelope_dir().join(format!("{document_id}.vmk"))
    }

    /// The folder uploads are received into before they are sealed (private, swept at start).
    #[must_use]
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join(TEMP_DIR)
    }

    /// The folder of WARC evidence files.
    pub(crate) fn evidence_dir(&self) -> PathBuf {
        self.root.join(EVIDENCE_DIR)
    }

    /// Path of the SQLite database file (only the SQLite store opens it).
    pub(crate) fn database_path(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// Whether this directory holds a database yet.
    #[must_use]
    pub fn has_database(&self) -> bool {
        self.database_path().exists()
    }

    /// The database file, for messages to the user ("hits are in …").
    #[must_use]
    pub fn database_display(&self) -> String {
        self.database_path().display().to_string()
    }

    /// The envelope blob store: a local folder under the data directory.
    pub fn blob_store(&self) -> Result<object_store::local::LocalFileSystem> {
        let blobs = self.root.join(BLOBS_DIR);
        durable::create_private_dir_all(&blobs)
            .with_context(|| format!("cannot create blob folder {}", blobs.display()))?;
        object_store::local::LocalFileSystem::new_with_prefix(blobs)
            .context("cannot open the blob folder")
    }

    /// Remembers the base URL the server prints links with, so that owner commands run from
    /// the CLI print the same links.
    pub fn record_public_url(&self, url: &str) -> Result<()> {
        let path = self.root.join(PUBLIC_URL_FILE);
        durable::write_file(&path, url.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The base URL the last server recorded, if any.
    #[must_use]
    pub fn public_url(&self) -> Option<String> {
        fs::read_to_string(self.root.join(PUBLIC_URL_FILE))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// Loads a server key, creating it (random, mode 0600, synced) when missing. A key file that
    /// group or others can read is refused.
    pub fn load_or_create_key(&self, which: KeyFile) -> Result<Zeroizing<[u8; 32]>> {
        let dir = self.root.join(KEYS_DIR);
        durable::create_private_dir_all(&dir)
            .with_context(|| format!("cannot create key directory {}", dir.display()))?;
        let path = dir.join(which.file_name());
        let mut key = Zeroizing::new([0u8; 32]);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                getrandom::fill(key.as_mut())
                    .context("the operating system's random generator failed")?;
                file.write_all(key.as_ref())?;
                file.sync_all()?;
                durable::sync_dir(&dir)?;
                return Ok(key);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
        read_private_key(&path)
    }

    /// Reads an existing server key; `None` when this directory has none yet.
    pub fn read_key(&self, which: KeyFile) -> Result<Option<Zeroizing<[u8; 32]>>> {
        let path = self.root.join(KEYS_DIR).join(which.file_name());
        if !path.exists() {
            return Ok(None);
        }
        read_private_key(&path).map(Some)
    }

    /// A server key from its environment variable ([`KeyFile::env_var`]) when `env` has it,
    /// else [`DataDir::load_or_create_key`]. `env` is the process environment in production
    /// (`|name| std::env::var(name).ok()`) and a map in tests. A variable that is set but not
    /// 64 hex digits is an error naming the variable, never showing its value.
    pub fn server_key(
        &self,
        which: KeyFile,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Zeroizing<[u8; 32]>> {
        match env(which.env_var()) {
            Some(value) => key_from_hex(which.env_var(), &value),
            None => self.load_or_create_key(which),
        }
    }

    /// [`DataDir::read_key`], preferring the key's environment variable as
    /// [`DataDir::server_key`] does.
    pub fn read_server_key(
        &self,
        which: KeyFile,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Zeroizing<[u8; 32]>>> {
        match env(which.env_var()) {
            Some(value) => key_from_hex(which.env_var(), &value).map(Some),
            None => self.read_key(which),
        }
    }

    /// Path of the WARC evidence file of crawl run `run`, relative to the data directory (what a
    /// hit stores) and absolute (what the writer opens).
    pub(crate) fn run_evidence(&self, run: i64) -> (String, PathBuf) {
        let relative = format!("{EVIDENCE_DIR}/run-{run}.warc");
        let absolute = self.root.join(&relative);
        (relative, absolute)
    }

    /// Path of worker `worker`'s own WARC evidence file of crawl run `run` (relative, absolute).
    pub(crate) fn worker_run_evidence(&self, run: i64, worker: &str) -> (String, PathBuf) {
        let worker: String = worker
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let relative = format!("{EVIDENCE_DIR}/run-{run}-{worker}.warc");
        let absolute = self.root.join(&relative);
        (relative, absolute)
    }

    /// The relative paths of run `run`'s evidence files in this directory: the run's own
    /// ([`DataDir::run_evidence`]) and each local worker's ([`DataDir::worker_run_evidence`]),
    /// those that exist.
    pub(crate) fn run_evidence_files(&self, run: i64) -> Vec<String> {
        self.local_evidence_files()
            .into_iter()
            .filter(|(r, _)| *r == run)
            .map(|(_, file)| file)
            .collect()
    }

    /// Every run evidence file in this directory (`evidence/run-N.warc`, `evidence/run-N-W.warc`)
    /// with its run id, in name order.
    pub(crate) fn local_evidence_files(&self) -> Vec<(i64, String)> {
        let Ok(entries) = std::fs::read_dir(self.root.join(EVIDENCE_DIR)) else {
            return Vec::new();
        };
        let mut files: Vec<(i64, String)> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|name| {
                let stem = name.strip_prefix("run-")?.strip_suffix(".warc")?;
                let digits = stem.split('-').next()?;
                let run = digits.parse().ok()?;
                Some((run, format!("{EVIDENCE_DIR}/{name}")))
            })
            .collect();
        files.sort_by(|a, b| a.1.cmp(&b.1));
        files
    }

    /// The absolute path of an evidence file a hit points at, or `None` when `relative` is not a
    /// plain path under `evidence/` (a row edited to point at `../keys/wrap.key` is refused).
    pub(crate) fn evidence_file(&self, relative: &str) -> Option<PathBuf> {
        let rel = Path::new(relative);
        let plain = rel.starts_with(EVIDENCE_DIR)
            && rel.components().all(|c| matches!(c, Component::Normal(_)));
        plain.then(|| self.root.join(rel))
    }
}

/// Parses a key given as 64 hex digits in the environment variable `var`. Errors name the
/// variable and what is wrong, never the value (a near-miss of a key is still a secret).
fn key_from_hex(var: &str, value: &str) -> Result<Zeroizing<[u8; 32]>> {
    let value = Zeroizing::new(value.trim().to_owned());
    if value.is_empty() {
        bail!(
            "{var} is set but empty: give 64 hex digits (32 bytes), or unset it to use the key file"
        );
    }
    if value.len() != 64 {
        bail!(
            "{var} must be 64 hex digits (32 bytes); it has {} characters",
            value.len()
        );
    }
    let mut key = Zeroizing::new([0u8; 32]);
    if hex::decode_to_slice(value.as_bytes(), key.as_mut()).is_err() {
        bail!("{var} must be 64 hex digits (32 bytes); it holds other characters");
    }
    Ok(key)
}

fn read_private_key(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let mut file =
        fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users (mode {:o}); run `chmod 600` on it and keep it secret",
            path.display(),
            mode & 0o777
        );
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)?;
    if bytes.len() != 32 {
        bail!("{} must hold exactly 32 bytes", path.display());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_stable_and_refused_when_readable() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        assert!(data.read_key(KeyFile::Wrap).unwrap().is_none());
        let a = data.load_or_create_key(KeyFile::Wrap).unwrap();
        let path = dir.path().join("keys/wrap.key");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = data.load_or_create_key(KeyFile::Wrap).unwrap();
        assert_eq!(*a, *b);
        assert_eq!(*data.read_key(KeyFile::Wrap).unwrap().unwrap(), *a);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(data.load_or_create_key(KeyFile::Wrap).is_err());
        assert!(data.read_key(KeyFile::Wrap).is_err());
    }

    #[test]
    fn a_key_in_the_environment_wins_over_the_file_and_creates_none() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let env = |name: &str| (name == "VEILMARK_WRAP_KEY").then(|| format!(" {hex_key}\n"));
        let key = data.server_key(KeyFile::Wrap, &env).unwrap();
        assert_eq!(hex::encode(*key), hex_key.to_ascii_lowercase());
        assert!(!dir.path().join("keys/wrap.key").exists(), "no file made");
        let read = data.read_server_key(KeyFile::Wrap, &env).unwrap().unwrap();
        assert_eq!(*read, *key);
        // The other keys still come from (new) files.
        let signing = data.server_key(KeyFile::Signing, &env).unwrap();
        assert!(dir.path().join("keys/signing.key").exists());
        assert_eq!(*data.read_key(KeyFile::Signing).unwrap().unwrap(), *signing);
    }

    #[test]
    fn a_bad_key_in_the_environment_names_the_variable_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let secret_ish = "c0ffee".repeat(10);
        for (value, why) in [
            (String::new(), "empty"),
            (secret_ish.clone(), "60 characters"),
            (format!("{secret_ish}zzzz"), "other characters"),
        ] {
            let env = |name: &str| (name == "VEILMARK_SIGNING_KEY").then(|| value.clone());
            let e = format!("{:#}", data.server_key(KeyFile::Signing, &env).unwrap_err());
            assert!(e.contains("VEILMARK_SIGNING_KEY"), "{e}");
            assert!(e.contains(why), "{e}");
            assert!(!e.contains("c0ffee"), "the value leaked: {e}");
            assert!(data.read_server_key(KeyFile::Signing, &env).is_err());
        }
        assert!(
            !dir.path().join("keys/signing.key").exists(),
            "no fallback to a file"
        );
    }

    #[test]
    fn evidence_paths_stay_under_evidence() {
        let data = DataDir::new("/srv/veilmark");
        assert_eq!(
            data.evidence_file("evidence/run-1.warc"),
            Some(PathBuf::from("/srv/veilmark/evidence/run-1.warc"))
        );
        for bad in [
            "evidence/../keys/wrap.key",
            "/etc/passwd",
            "keys/wrap.key",
            "./evidence/run-1.warc",
            "",
        ] {
            assert_eq!(data.evidence_file(bad), None, "{bad}");
        }
        assert_eq!(data.run_evidence(7).0, "evidence/run-7.warc");
    }

    #[test]
    fn the_public_url_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        assert_eq!(data.public_url(), None);
        data.record_public_url("https://share.brand.example")
            .unwrap();
        assert_eq!(
            data.public_url().as_deref(),
            Some("https://share.brand.example")
        );
    }
}
