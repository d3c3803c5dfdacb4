//! A real SMTP server on loopback for tests that send e-mail: Python's `aiosmtpd` (a maintained
//! RFC 5321 server from PyPI) run as a child process with its `Mailbox` handler, which writes
//! each message it accepts into a Maildir. The test reads the messages back from there.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The `To:` header.
    pub to: String,
    /// The `From:` header.
    pub from: String,
    /// The `Subject:` header.
    pub subject: String,
    /// The body (after the blank line), with quoted-printable soft line breaks joined.
    pub body: String,
}

/// An `aiosmtpd` server on a free loopback port, stopped when dropped.
pub struct SmtpTestServer {
    port: u16,
    maildir: tempfile::TempDir,
    child: Child,
}

impl std::fmt::Debug for SmtpTestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTestServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl SmtpTestServer {
    /// Starts the server and waits until it accepts connections.
    ///
    /// # Panics
    /// When it cannot start (aiosmtpd not installed: `python3 -m pip install aiosmtpd`, which
    /// `cargo xtask test` does), with the reason: a test that needs SMTP fails rather than
    /// passing without it.
    #[must_use]
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(s) => s,
            Err(e) => panic!(
                "cannot start the SMTP test server (python3 -m aiosmtpd; install it with `python3 -m pip install aiosmtpd`): {e:#}"
            ),
        }
    }

    /// [`SmtpTestServer::start`], returning the error instead of panicking.
    pub fn try_start() -> Result<Self> {
        let maildir = tempfile::Builder::new()
            .prefix("veilmark-smtp-")
            .tempdir()
            .context("cannot create the Maildir")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("Maildir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run python3")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                bail!("aiosmtpd exited ({status}): {}", err.trim());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("aiosmtpd did not listen on 127.0.0.1:{port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            port,
            maildir,
            child,
        })
    }

    /// The URL to give the code under test (`smtp://127.0.0.1:PORT`, plain SMTP on loopback).
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn new_dir(&self) -> PathBuf {
        self.maildir.path().join("Maildir").join("new")
    }

    /// Every message delivered so far, oldest first.
    ///
    /// # Errors
    /// The Maildir cannot be read.
    pub fn messages(&self) -> Result<Vec<ReceivedMail>> {
        let dir = self.new_dir();
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| {
                    let t = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    (t, e.path())
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).context("cannot read the Maildir"),
        };
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| {
                let raw = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                Ok(parse(&raw))
            })
            .collect()
    }

    /// Waits up to `timeout` until at least `n` messages were delivered, and returns them all.
    ///
    /// # Errors
    /// Fewer arrived in time (the error says how many did).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedMail>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages()?;
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!("{} message(s) arrived, {n} expected", got.len());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpTestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(raw: &str) -> ReceivedMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    // Unfold continuation lines, then read the headers by name.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    ReceivedMail {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        body: body.replace("=\n", ""),
    }
}
