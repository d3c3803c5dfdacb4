//! Power loss, for real rather than `kill -9`: the server's data directory lives on an ext4 file
//! system in a loop-mounted image, the kernel's periodic writeback is off and ext4 commits its
//! journal only when someone calls `fsync`. A power cut freezes the server (SIGSTOP), copies the
//! image as the disk holds it at that instant (what was synced, not what sits in the page
//! cache), kills the server, and mounts the copy in place of the disk (ext4 replays its
//! journal), as a machine would find its disk after the power came back. A write that was
//! acknowledged without its `fsync` calls is simply not on the copy.
//!
//! The `kill -9` campaign (`crash.rs`) cannot show this: the page cache survives a killed
//! process. This one needs root (a loop mount, `/proc/sys/vm`), so it is ignored in a plain
//! `cargo test` and run by `cargo xtask powerloss` (and, 5 cuts, by `cargo xtask test`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::child::ChildServer;
use crate::crash::{Campaign, random_below};

/// Cuts per campaign: `VEILMARK_POWER_CUTS` (`cargo xtask powerloss` sets 50), else 5.
const CUTS: &str = "VEILMARK_POWER_CUTS";

/// Mount options: journal commits only on `fsync` (or after 10 minutes), and no implicit data
/// flush on rename or truncate (`auto_da_alloc` would hide a missing `fsync` before a rename).
const MOUNT_OPTIONS: &str = "loop,commit=600,noauto_da_alloc";

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd}: {e}");
    });
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A kernel setting changed for the campaign and put back afterwards.
struct Sysctl {
    path: &'static str,
    old: String,
}

impl Sysctl {
    fn set(path: &'static str, value: &str) -> Self {
        let old = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path} (root needed): {e}"));
        std::fs::write(path, value).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        Self { path, old }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(self.path, self.old.trim());
    }
}

/// The disk: an ext4 image and where it is mounted.
struct Disk {
    image: PathBuf,
    snapshot: PathBuf,
    mount: PathBuf,
    mounted: bool,
}

impl Disk {
    fn create(dir: &Path) -> Self {
        let disk = Self {
            image: dir.join("disk.img"),
            snapshot: dir.join("cut.img"),
            mount: dir.join("disk"),
            mounted: false,
        };
        std::fs::create_dir_all(&disk.mount).unwrap();
        run("truncate", &["-s", "2G", arg(&disk.image)]);
        run("mkfs.ext4", &["-q", "-F", arg(&disk.image)]);
        disk
    }

    fn mount(&mut self) {
        run(
            "mount",
            &["-o", MOUNT_OPTIONS, arg(&self.image), arg(&self.mount)],
        );
        self.mounted = true;
    }

    /// The power cut: the disk's contents at this instant, kept aside.
    fn cut(&self) {
        run(
            "cp",
            &["--sparse=always", arg(&self.image), arg(&self.snapshot)],
        );
    }

    /// Power back: the kept contents become the disk, mounted again.
    fn power_back(&mut self) {
        run("umount", &[arg(&self.mount)]);
        self.mounted = false;
        std::fs::rename(&self.snapshot, &self.image).unwrap();
        self.mount();
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if self.mounted {
            // Lazily: a store closing in the background may still hold a file.
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
    }
}

fn pause(child: &ChildServer) {
    run("kill", &["-STOP", &child.process.id().to_string()]);
}

/// The campaign: clients seal documents, create links and revoke them while the power is cut
/// at random moments, again and again on the same disk. After each cut the server starts on
/// what the disk kept and reports no acknowledged envelope missing; at the end every
/// acknowledged document, link and revocation is there, whole, and the audit chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs root (loop mount, /proc/sys/vm): run by `cargo xtask powerloss` and `cargo xtask test`"]
async fn power_cut_at_random_points_loses_no_acknowledged_write() {
    let cuts: u32 = std::env::var(CUTS)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let _writeback = Sysctl::set("/proc/sys/vm/dirty_writeback_centisecs", "0");
    let mut disk = Disk::create(dir.path());
    disk.mount();

    // The harness first: what was synced survives a cut, what was not does not. Without this
    // the campaign could pass on a disk that keeps everything.
    let synced = disk.mount.join("synced");
    let unsynced = disk.mount.join("unsynced");
    std::fs::write(&unsynced, vec![7u8; 100_000]).unwrap();
    std::fs::write(&synced, vec![7u8; 100_000]).unwrap();
    std::fs::File::open(&synced).unwrap().sync_all().unwrap();
    disk.cut();
    disk.power_back();
    assert_eq!(std::fs::read(&synced).unwrap().len(), 100_000);
    let kept = std::fs::read(&unsynced).map_or(0, |b| b.len());
    assert_eq!(
        kept, 0,
        "the simulated disk kept data nobody synced: the campaign would prove nothing"
    );

    let mut campaign = Campaign::new(disk.mount.join("data"));
    for cut in 0..cuts {
        let round = campaign
            .start_round(1 << 20, &format!("the restart after power cut {cut}"))
            .await;
        tokio::time::sleep(Duration::from_millis(
            30 + u64::try_from(random_below(370)).unwrap(),
        ))
        .await;
        // Everything the server acknowledged so far happened before this instant.
        pause(&round.child);
        disk.cut();
        campaign.end_round(round).await;
        disk.power_back();
    }
    campaign
        .finish(&format!("power-loss campaign: {cuts} cuts"))
        .await;
}
