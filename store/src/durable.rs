//! Writing files so that a write the server acknowledged survives `kill -9` and power loss.
//!
//! A file that a database row points at (an envelope, a WARC file) must be on disk *before* the
//! row commits: SQLite commits with `synchronous=FULL`, so a row written after an unsynced file
//! could outlive the file across a power cut. Every such file is therefore written under a
//! temporary name in its final directory, synced, renamed into place, and the directory synced
//! (the rename itself is only durable once the directory entry is), in that order.
//!
//! Interrupted writes leave temporary files; [`is_temp_name`] tells them apart so that the
//! startup sweep ([`crate::sweep`]) can remove them. Everything is created private: directories
//! 0700, files 0600.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Marks a temporary file name (`.NAME.tmp-RANDOM`).
const TEMP_MARKER: &str = ".tmp-";

/// Mode of every directory the server creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the server creates.
pub const FILE_MODE: u32 = 0o600;

/// Whether `name` is one of our temporary names, or a staging file another writer (the
/// `object_store` crate's `NAME#N`) left behind.
#[must_use]
pub fn is_temp_name(name: &str) -> bool {
    (name.starts_with('.') && name.contains(TEMP_MARKER)) || name.contains('#')
}

/// Creates `dir` and its missing parents with mode 0700, and tightens `dir` itself to 0700 if
/// it already existed with a wider mode.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Sets `path` to `mode` if group or others have any access to it; returns whether it changed.
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let current = fs::metadata(path)?.permissions().mode();
    if current & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Syncs a directory, making the names created, renamed or removed in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A new file written under a temporary name beside `target` and moved into place by
/// [`AtomicFile::commit`]; dropped without a commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file (mode 0600) in `target`'s directory, creating that directory
    /// (0700) if needed.
    pub fn create(target: &Path) -> io::Result<Self> {
        let dir = parent(target)?;
        create_private_dir_all(dir)?;
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_string_lossy();
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(io::Error::other)?;
        let temp = dir.join(format!(".{name}{TEMP_MARKER}{}", hex::encode(random)));
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&temp)?;
        Ok(Self {
            file,
            temp,
            target: target.to_owned(),
            committed: false,
        })
    }

    /// Where the temporary file is until the commit.
    #[must_use]
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Syncs the file, renames it to its target and syncs the directory: when this returns,
    /// the file is on disk under its final name.
    pub fn commit(mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        sync_dir(parent(&self.target)?)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` durably (temporary name, sync, rename, directory sync).
pub fn write_file(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(target)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Creates a new private file (0600) for appending, or opens the existing one; a new file's
/// directory entry is synced, so that data synced into it later cannot be lost with its name.
pub fn open_append(path: &Path) -> io::Result<File> {
    let dir = parent(path)?;
    create_private_dir_all(dir)?;
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    if !existed {
        file.sync_all()?;
        sync_dir(dir)?;
    }
    Ok(file)
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_committed_file_is_private_and_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/envelope.vmk");
        write_file(&target, b"sealed").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"sealed");
        assert_eq!(mode(&target), 0o600);
        assert_eq!(mode(target.parent().unwrap()), 0o700);
        let names: Vec<_> = fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn an_abandoned_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.vmk");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn temporary_names_are_recognised() {
        assert!(is_temp_name(".abc.vmk.tmp-0011223344556677"));
        assert!(is_temp_name("abc.vmk#3"));
        assert!(!is_temp_name("abc.vmk"));
        assert!(!is_temp_name("run-1.warc"));
    }
}
