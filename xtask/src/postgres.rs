//! A PostgreSQL server for the storage tests: the machine's own when one answers, otherwise a
//! throwaway one started here.
//!
//! Development and CI machines run PostgreSQL on 127.0.0.1:5432 from boot; the tests use it
//! (each test makes its own database and drops it, `veilmark-testkit`). On a machine where
//! nothing answers, this installs Debian's `postgresql` package if needed, creates a cluster in
//! a temporary folder with `initdb` as an unprivileged user, starts it with `pg_ctl` on a free
//! loopback port, hands its URL to the tests through `VEILMARK_TEST_POSTGRES`, and stops it and
//! deletes the folder when the run ends.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{setup, sh};

/// The environment variable the tests read (`veilmark_testkit::pg::SERVER_ENV`).
pub const SERVER_ENV: &str = "VEILMARK_TEST_POSTGRES";

/// The server the tests will use; stops a throwaway one on drop.
pub struct TestPostgres {
    url: String,
    throwaway: Option<Throwaway>,
}

struct Throwaway {
    pg_ctl: PathBuf,
    dir: tempfile::TempDir,
    run_as: Option<String>,
}

impl TestPostgres {
    /// The admin URL to pass to the tests.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Finds a server: `VEILMARK_TEST_POSTGRES` if set, the machine's on 127.0.0.1:5432 if it
    /// answers, else a throwaway one.
    pub fn ensure() -> Result<Self> {
        if let Ok(url) = std::env::var(SERVER_ENV)
            && !url.is_empty()
        {
            println!("PostgreSQL for the tests: {SERVER_ENV} (set by the caller)");
            return Ok(Self {
                url,
                throwaway: None,
            });
        }
        let local: SocketAddr = "127.0.0.1:5432".parse().expect("a socket address");
        if TcpStream::connect_timeout(&local, Duration::from_secs(1)).is_ok() {
            println!("PostgreSQL for the tests: the machine's own on 127.0.0.1:5432");
            return Ok(Self {
                url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
                throwaway: None,
            });
        }
        println!("nothing answers on 127.0.0.1:5432: starting a throwaway PostgreSQL");
        Self::start_throwaway()
    }

    fn start_throwaway() -> Result<Self> {
        let bin = match postgres_bin_dir() {
            Some(bin) => bin,
            None => {
                setup::ensure_debian_packages(&[("/usr/lib/postgresql", "postgresql")])?;
                postgres_bin_dir().context(
                    "Debian's postgresql package is installed but no /usr/lib/postgresql/*/bin/initdb",
                )?
            }
        };
        let is_root = sh::output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
        // initdb refuses to run as root: use the package's `postgres` account.
        let run_as = is_root.then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new()
            .prefix("veilmark-pg-")
            .tempdir()
            .context("cannot create a folder for the throwaway PostgreSQL")?;
        if let Some(user) = &run_as {
            sh::run("chown", &["-R", user, &dir.path().display().to_string()])?;
        }
        let data = dir.path().join("data");
        let port = free_port()?;
        let initdb = bin.join("initdb");
        as_user(
            run_as.as_deref(),
            &initdb.display().to_string(),
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        let pg_ctl = bin.join("pg_ctl");
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        as_user(
            run_as.as_deref(),
            &pg_ctl.display().to_string(),
            &[
                "-D",
                &data.display().to_string(),
                "-o",
                &options,
                "-l",
                &dir.path().join("server.log").display().to_string(),
                "-w",
                "start",
            ],
        )
        .with_context(|| {
            format!(
                "the throwaway PostgreSQL did not start (log: {})",
                dir.path().join("server.log").display()
            )
        })?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        println!("throwaway PostgreSQL on 127.0.0.1:{port} (stopped when the run ends)");
        Ok(Self {
            url,
            throwaway: Some(Throwaway {
                pg_ctl,
                dir,
                run_as,
            }),
        })
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(t) = &self.throwaway {
            let data = t.dir.path().join("data").display().to_string();
            let stopped = as_user(
                t.run_as.as_deref(),
                &t.pg_ctl.display().to_string(),
                &["-D", &data, "-m", "fast", "-w", "stop"],
            );
            if let Err(e) = stopped {
                eprintln!("warning: could not stop the throwaway PostgreSQL: {e:#}");
            }
        }
    }
}

/// `/usr/lib/postgresql/<newest version>/bin`, if Debian's package is installed.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

fn as_user(user: Option<&str>, program: &str, args: &[&str]) -> Result<()> {
    match user {
        None => sh::run(program, args),
        Some(user) => {
            let mut full = vec!["-u", user, "--", program];
            full.extend_from_slice(args);
            if !Path::new("/usr/sbin/runuser").exists() && !Path::new("/sbin/runuser").exists() {
                bail!("running PostgreSQL as root needs `runuser` (util-linux)");
            }
            sh::run("runuser", &full)
        }
    }
}
