//! Evidence: the raw HTTP responses behind every hit, in WARC/1.1 files.
//!
//! WARC (ISO 28500) is what web archives and takedown tooling read, so a hit's page and image
//! are kept as `response` records holding the status line, headers and body exactly as
//! received, with SHA-256 block and payload digests (`sha256:<hex>`). One file per run (where
//! it lives is [`DataDir`]'s business), appended to (also across resumes) and synced before the
//! hit that points into it is stored, so a stored hit never points at missing evidence.
//!
//! The crawler writes with [`WarcWriter`]; the review console and evidence bundles read single
//! records with [`read_record`], which seeks to the record and reads only its bytes, so a
//! thumbnail from a 300 MB WARC costs one record, not the file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use crate::DataDir;

/// Longest WARC record header read back.
const MAX_HEADER: u64 = 64 * 1024;
/// Largest record block read back (the crawler never stores a larger response).
const MAX_BLOCK: u64 = 256 * 1024 * 1024;

/// Why a WARC record could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WarcReadError {
    /// The hit's evidence path is not a plain path under the evidence folder.
    #[error("evidence path {0:?} is not inside the evidence folder")]
    OutsideEvidence(String),
    /// The file is missing or unreadable.
    #[error("cannot read evidence file {path}: {source}")]
    Io {
        /// The relative path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No well-formed record starts at the offset.
    #[error("no WARC record at offset {offset} of {path}")]
    NoRecord {
        /// The relative path.
        path: String,
        /// The offset asked for.
        offset: i64,
    },
    /// The evidence object's SHA-256 differs from the one recorded when it was uploaded.
    #[error("evidence file {path} was altered: SHA-256 {found}, recorded {expected}")]
    Tampered {
        /// The relative path.
        path: String,
        /// The SHA-256 recorded at upload (hex), or `none recorded`.
        expected: String,
        /// The SHA-256 of the bytes stored now (hex).
        found: String,
    },
    /// The record is larger than the caller accepts.
    #[error("the WARC record at offset {offset} of {path} holds {len} bytes, more than {cap}")]
    TooLarge {
        /// The relative path.
        path: String,
        /// The offset asked for.
        offset: i64,
        /// The record's block length.
        len: u64,
        /// The most the caller accepts.
        cap: u64,
    },
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct WarcRecord {
    /// The WARC header lines.
    pub header: String,
    /// The record block (for a response: status line, headers, body).
    pub block: Vec<u8>,
}

impl WarcRecord {
    /// The HTTP body of a `response` record's block (empty when there is none).
    #[must_use]
    pub fn http_body(&self) -> &[u8] {
        self.block
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&[][..], |i| &self.block[i + 4..])
    }
}

/// How much of a WARC stream is whole records, from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Where the last whole record ends (the stream's length when every record is whole).
    pub whole_end: u64,
    /// Whole records before `whole_end`.
    pub records: u64,
}

/// Walks a WARC stream record by record from its start (reading each header, seeking past each
/// block) and reports where the whole records end: a record cut short, a header that does not
/// parse or a block not followed by its blank lines ends the walk.
///
/// # Errors
/// Reading or seeking fails.
pub fn scan<R: Read + Seek>(reader: &mut R) -> std::io::Result<Scan> {
    let len = reader.seek(SeekFrom::End(0))?;
    let mut at = 0u64;
    let mut records = 0u64;
    while at < len {
        reader.seek(SeekFrom::Start(at))?;
        let mut head = Vec::new();
        (&mut *reader).take(MAX_HEADER).read_to_end(&mut head)?;
        let Head::Found {
            end, len: block, ..
        } = parse_head(&head, u64::MAX)
        else {
            break;
        };
        let Some(next) = (end as u64 + 4)
            .checked_add(block)
            .and_then(|n| n.checked_add(4))
            .and_then(|n| n.checked_add(at))
        else {
            break;
        };
        if next > len {
            break;
        }
        let mut tail = [0u8; 4];
        reader.seek(SeekFrom::Start(next - 4))?;
        reader.read_exact(&mut tail)?;
        if &tail != b"\r\n\r\n" {
            break;
        }
        at = next;
        records += 1;
    }
    Ok(Scan {
        whole_end: at,
        records,
    })
}

/// A response to archive.
pub struct HttpRecord<'a> {
    /// Request URL.
    pub url: &'a str,
    /// When it was fetched (RFC 3339, UTC).
    pub fetched_at: &'a str,
    /// HTTP status.
    pub status: u16,
    /// Response headers in order.
    pub headers: &'a [(String, String)],
    /// Body bytes as received.
    pub body: &'a [u8],
}

/// Appends WARC records to one file.
pub struct WarcWriter {
    file: File,
    relative: String,
    counter: u64,
}

impl WarcWriter {
    /// Opens (or creates) the evidence file of crawl run `run` for appending; a new file starts
    /// with a `warcinfo` record.
    pub fn open(data: &DataDir, run: i64) -> std::io::Result<WarcWriter> {
        let (relative, path) = data.run_evidence(run);
        Self::open_at(relative, &path)
    }

    /// Opens (or creates) worker `worker`'s own evidence file of crawl run `run` (characters
    /// other than ASCII letters, digits and `-` in the name become `_`).
    pub fn open_for_worker(data: &DataDir, run: i64, worker: &str) -> std::io::Result<WarcWriter> {
        let (relative, path) = data.worker_run_evidence(run, worker);
        Self::open_at(relative, &path)
    }

    fn open_at(relative: String, path: &std::path::Path) -> std::io::Result<WarcWriter> {
        // Private, and its name synced into the directory before any hit can point at it.
        let file = crate::durable::open_append(path)?;
        cut_torn_tail(&file, path, &relative)?;
        let mut w = WarcWriter {
            file,
            relative,
            counter: 0,
        };
        if w.file.metadata()?.len() == 0 {
            let info = format!(
                "software: veilmark-crawler/{}\r\nformat: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
                env!("CARGO_PKG_VERSION")
            );
            w.append(
                "warcinfo",
                None,
                "application/warc-fields",
                info.as_bytes(),
                None,
            )?;
        }
        Ok(w)
    }

    /// The file's name as hits store it (relative to the data directory).
    #[must_use]
    pub fn relative_path(&self) -> &str {
        &self.relative
    }

    /// Appends a `response` record and syncs it to disk; returns its offset in the file.
    pub fn write_response(&mut self, r: &HttpRecord<'_>) -> std::io::Result<u64> {
        let mut block = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status)).into_bytes();
        for (name, value) in r.headers {
            block.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        block.extend_from_slice(b"\r\n");
        block.extend_from_slice(r.body);
        let payload_digest = hex::encode(Sha256::digest(r.body));
        let offset = self.append(
            "response",
            Some((r.url, r.fetched_at)),
            "application/http;msgtype=response",
            &block,
            Some(&payload_digest),
        )?;
        self.file.sync_data()?;
        Ok(offset)
    }

    fn append(
        &mut self,
        kind: &str,
        target: Option<(&str, &str)>,
        content_type: &str,
        block: &[u8],
        payload_digest: Option<&str>,
    ) -> std::io::Result<u64> {
        let offset = self.file.metadata()?.len();
        self.counter += 1;
        let date = target.map_or_else(crate::now_rfc3339, |(_, d)| d.to_string());
        let id = record_id(&[
            kind.as_bytes(),
            date.as_bytes(),
            &offset.to_le_bytes(),
            &self.counter.to_le_bytes(),
            block,
        ]);
        let mut head = format!(
            "WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: <urn:uuid:{id}>\r\nWARC-Date: {date}\r\n"
        );
        if let Some((url, _)) = target {
            head.push_str(&format!("WARC-Target-URI: {url}\r\n"));
        }
        head.push_str(&format!(
            "WARC-Block-Digest: sha256:{}\r\n",
            hex::encode(Sha256::digest(block))
        ));
        if let Some(d) = payload_digest {
            head.push_str(&format!("WARC-Payload-Digest: sha256:{d}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            block.len()
        ));
        let mut record = head.into_bytes();
        record.extend_from_slice(block);
        record.extend_from_slice(b"\r\n\r\n");
        self.file.write_all(&record)?;
        Ok(offset)
    }
}

/// What starts every record this writer appends; a torn tail holds at most one.
const RECORD_START: &[u8] = b"WARC/1.1\r\nWARC-Type: ";

/// Cuts the bytes after the last whole record of `file`, when they are what a crash leaves: the
/// beginning of one record that was never synced (so no hit points at it). Anything else after
/// the last whole record (another record start further on: damage in the middle of the file,
/// not a torn append) is refused with `InvalidData` and left as it is: appending after it would
/// hide it, and cutting it could lose records that hits point at.
fn cut_torn_tail(file: &File, path: &std::path::Path, relative: &str) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // The appending handle is write-only: read through another.
    let mut reader = File::open(path)?;
    let whole_end = scan(&mut reader)?.whole_end;
    if whole_end == len {
        return Ok(());
    }
    // Look for a second record start in the tail, a chunk at a time.
    reader.seek(SeekFrom::Start(whole_end + 1))?;
    let mut window: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        window.extend_from_slice(&chunk[..n]);
        if window
            .windows(RECORD_START.len())
            .any(|w| w == RECORD_START)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "evidence file {relative} is damaged at byte {whole_end} (records follow \
                     a record that does not parse); not appending to it"
                ),
            ));
        }
        let keep = window.len().min(RECORD_START.len() - 1);
        window.drain(..window.len() - keep);
    }
    tracing::warn!(
        "evidence file {relative}: {} bytes of a record cut short by a crash removed from \
         its end",
        len - whole_end
    );
    file.set_len(whole_end)?;
    file.sync_all()
}

/// A UUID-shaped record id derived from the record's content and position (version nibble 8,
/// "custom", RFC 9562 §5.8), so no random-number source is needed.
fn record_id(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0F) | 0x80;
    b[8] = (b[8] & 0x3F) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        203 => "Non-Authoritative Information",
        206 => "Partial Content",
        _ => "",
    }
}

/// What the first bytes at a record's offset say.
enum Head {
    /// A WARC header of `end` bytes (before its blank line) announcing a block of `len` bytes.
    Found {
        header: String,
        end: usize,
        len: u64,
    },
    /// No blank line yet: more bytes are needed (or, past [`MAX_HEADER`], no record).
    Incomplete,
    /// Not a WARC record.
    NotARecord,
    /// A record whose block is longer than the caller accepts.
    TooLarge(u64),
}

/// Parses the WARC header at the start of `head` (the local and the remote reader share it).
fn parse_head(head: &[u8], cap: u64) -> Head {
    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Head::Incomplete;
    };
    let header = String::from_utf8_lossy(&head[..end]).into_owned();
    if !header.starts_with("WARC/") {
        return Head::NotARecord;
    }
    let Some(len) = header
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&n| n <= MAX_BLOCK)
    else {
        return Head::NotARecord;
    };
    if len > cap {
        return Head::TooLarge(len);
    }
    Head::Found { header, end, len }
}

/// How much a remote read fetches first: a WARC header is a few hundred bytes, a thumbnail's
/// record a few KiB, so one request usually brings the whole record.
const REMOTE_FIRST_READ: u64 = 8 * 1024;

/// Reads the record at `offset` of the evidence object `key` in `store` with ranged `GET`s:
/// the first `REMOTE_FIRST_READ` (8 KiB) bytes (more, up to the 64 KiB header limit, only for an
/// unusually long header), then the rest of the block if it is longer; never the whole file.
/// A block over `cap` is refused before any of it beyond the first read is fetched.
pub async fn read_record_remote(
    store: &dyn object_store::ObjectStore,
    relative: &str,
    offset: i64,
    cap: u64,
) -> Result<WarcRecord, WarcReadError> {
    let key = remote_key(relative)?;
    let no_record = || WarcReadError::NoRecord {
        path: relative.to_owned(),
        offset,
    };
    let start = u64::try_from(offset).map_err(|_| no_record())?;
    let mut head =
        match get_range(store, &key, start, start.saturating_add(REMOTE_FIRST_READ)).await {
            Ok(bytes) => bytes,
            Err(e) => {
                // An offset at or past the end is "no record there", as for a local file.
                use object_store::ObjectStoreExt;
                return match store.head(&key).await {
                    Ok(meta) if start >= meta.size => Err(no_record()),
                    _ => Err(remote_io(relative, e)),
                };
            }
        };
    let mut asked = REMOTE_FIRST_READ;
    loop {
        match parse_head(&head, cap) {
            Head::Found { header, end, len } => {
                let block_start = end + 4;
                let len_usize = usize::try_from(len).map_err(|_| no_record())?;
                let have = head.len() - block_start.min(head.len());
                if have < len_usize {
                    let from = start + head.len() as u64;
                    let to = start + block_start as u64 + len;
                    let rest = get_range(store, &key, from, to)
                        .await
                        .map_err(|e| remote_io(relative, e))?;
                    head.extend_from_slice(&rest);
                }
                if head.len() < block_start + len_usize {
                    return Err(no_record());
                }
                head.truncate(block_start + len_usize);
                let block = head.split_off(block_start);
                return Ok(WarcRecord { header, block });
            }
            Head::NotARecord => return Err(no_record()),
            Head::TooLarge(len) => {
                return Err(WarcReadError::TooLarge {
                    path: relative.to_owned(),
                    offset,
                    len,
                    cap,
                });
            }
            Head::Incomplete => {
                // The object ended, or the header is longer than any we write back.
                if (head.len() as u64) < asked || asked >= MAX_HEADER {
                    return Err(no_record());
                }
                let more = get_range(store, &key, start + asked, start + MAX_HEADER)
                    .await
                    .map_err(|e| remote_io(relative, e))?;
                asked = MAX_HEADER;
                head.extend_from_slice(&more);
            }
        }
    }
}

/// The object key of an evidence file a hit names: the same relative path, checked to be a
/// plain path under `evidence/` (a row edited to point elsewhere is refused).
pub(crate) fn remote_key(relative: &str) -> Result<object_store::path::Path, WarcReadError> {
    let outside = || WarcReadError::OutsideEvidence(relative.to_owned());
    let plain = relative.starts_with("evidence/")
        && relative
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !plain {
        return Err(outside());
    }
    object_store::path::Path::parse(relative).map_err(|_| outside())
}

/// Bytes `from..to` of `key` (fewer at the end of the object).
async fn get_range(
    store: &dyn object_store::ObjectStore,
    key: &object_store::path::Path,
    from: u64,
    to: u64,
) -> object_store::Result<Vec<u8>> {
    let opts = object_store::GetOptions {
        range: Some(object_store::GetRange::Bounded(from..to)),
        ..object_store::GetOptions::default()
    };
    let bytes = store.get_opts(key, opts).await?.bytes().await?;
    Ok(bytes.to_vec())
}

/// A remote read failure as the local reader reports I/O errors.
pub(crate) fn remote_io(relative: &str, e: object_store::Error) -> WarcReadError {
    let kind = match e {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    WarcReadError::Io {
        path: relative.to_owned(),
        source: std::io::Error::new(kind, e),
    }
}

/// Reads back the record at `offset` of the evidence file `relative` (as a hit stores it),
/// reading only that record's bytes.
pub fn read_record(
    data: &DataDir,
    relative: &str,
    offset: i64,
) -> Result<WarcRecord, WarcReadError> {
    read_record_within(data, relative, offset, MAX_BLOCK)
}

/// [`read_record`], refusing ([`WarcReadError::TooLarge`]) a record whose block is longer than
/// `cap` bytes before reading it: blocking I/O, call it from a blocking thread.
pub fn read_record_within(
    data: &DataDir,
    relative: &str,
    offset: i64,
    cap: u64,
) -> Result<WarcRecord, WarcReadError> {
    let path = data
        .evidence_file(relative)
        .ok_or_else(|| WarcReadError::OutsideEvidence(relative.to_owned()))?;
    let io = |source| WarcReadError::Io {
        path: relative.to_owned(),
        source,
    };
    let no_record = || WarcReadError::NoRecord {
        path: relative.to_owned(),
        offset,
    };
    let start = u64::try_from(offset).map_err(|_| no_record())?;
    let mut file = File::open(&path).map_err(io)?;
    match read_record_capped(&mut file, start, cap).map_err(io)? {
        RecordAt::Found(record) => Ok(record),
        RecordAt::NotARecord => Err(no_record()),
        RecordAt::TooLarge(len) => Err(WarcReadError::TooLarge {
            path: relative.to_owned(),
            offset,
            len,
            cap,
        }),
    }
}

/// What [`read_record_capped`] found at an offset.
enum RecordAt {
    Found(WarcRecord),
    /// No well-formed record starts there.
    NotARecord,
    /// A record whose block (this many bytes) is over the caller's cap; nothing of it was read.
    TooLarge(u64),
}

/// Reads the record starting at byte `start` of a WARC stream, reading only that record's
/// bytes (at most a 64 KiB header and a 256 MiB block); `None` when no well-formed record
/// starts there. The untrusted-bytes half of [`read_record`], and the `warc_read` fuzz target's
/// entry point.
pub fn read_record_at<R: Read + Seek>(
    reader: &mut R,
    start: u64,
) -> std::io::Result<Option<WarcRecord>> {
    Ok(match read_record_capped(reader, start, MAX_BLOCK)? {
        RecordAt::Found(record) => Some(record),
        RecordAt::NotARecord | RecordAt::TooLarge(_) => None,
    })
}

/// [`read_record_at`], refusing a block longer than `cap` before reading any of it.
fn read_record_capped<R: Read + Seek>(
    reader: &mut R,
    start: u64,
    cap: u64,
) -> std::io::Result<RecordAt> {
    reader.seek(SeekFrom::Start(start))?;
    let mut head = Vec::new();
    (&mut *reader).take(MAX_HEADER).read_to_end(&mut head)?;
    let (header, end, len) = match parse_head(&head, cap) {
        Head::Found { header, end, len } => (header, end, len),
        Head::Incomplete | Head::NotARecord => return Ok(RecordAt::NotARecord),
        Head::TooLarge(len) => return Ok(RecordAt::TooLarge(len)),
    };
    let Some(block_start) = start.checked_add(end as u64 + 4) else {
        return Ok(RecordAt::NotARecord);
    };
    reader.seek(SeekFrom::Start(block_start))?;
    let mut block = Vec::new();
    reader.take(len).read_to_end(&mut block)?;
    if block.len() as u64 != len {
        return Ok(RecordAt::NotARecord);
    }
    Ok(RecordAt::Found(WarcRecord { header, block }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let headers = vec![("Content-Type".to_string(), "image/png".to_string())];
        let rec = HttpRecord {
            url: "http://s.example/a.png",
            fetched_at: "2026-11-23T12:00:00Z",
            status: 200,
            headers: &headers,
            body: b"\x89PNG...",
        };
        let data = DataDir::new(dir.path());
        let first = WarcWriter::open(&data, 7)
            .unwrap()
            .write_response(&rec)
            .unwrap();
        let mut again = WarcWriter::open(&data, 7).unwrap();
        let second = again.write_response(&rec).unwrap();
        assert!(
            first > 0 && second > first,
            "warcinfo first, then appended records"
        );
        let path = dir.path().join(again.relative_path());
        let second = i64::try_from(second).unwrap();
        let record = read_record(&data, again.relative_path(), second).unwrap();
        let (head, block) = (&record.header, &record.block);
        assert_eq!(record.http_body(), b"\x89PNG...");
        assert!(matches!(
            read_record(&data, again.relative_path(), second + 1),
            Err(WarcReadError::NoRecord { .. })
        ));
        assert!(matches!(
            read_record(&data, "evidence/../keys/wrap.key", 0),
            Err(WarcReadError::OutsideEvidence(_))
        ));
        assert!(
            head.starts_with("WARC/1.1\r\nWARC-Type: response"),
            "{head}"
        );
        assert!(head.contains("WARC-Target-URI: http://s.example/a.png"));
        assert!(block.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n"));
        assert!(block.ends_with(b"\x89PNG..."));
        let whole = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert_eq!(whole.matches("WARC-Type: warcinfo").count(), 1);
    }

    #[test]
    fn a_torn_record_left_by_a_crash_is_cut_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let rec = |url| HttpRecord {
            url,
            fetched_at: "2026-12-07T12:00:00Z",
            status: 200,
            headers: &[],
            body: b"image bytes",
        };
        let mut w = WarcWriter::open(&data, 3).unwrap();
        w.write_response(&rec("http://s.example/1.png")).unwrap();
        let path = dir.path().join(w.relative_path());
        let whole = std::fs::metadata(&path).unwrap().len();
        // Power is cut while a second record is being written: only its first bytes reach the
        // disk (its hit was never stored: the record was not synced).
        drop(w);
        let mut torn = std::fs::read(&path).unwrap();
        torn.extend_from_slice(b"WARC/1.1\r\nWARC-Type: response\r\nContent-Len");
        std::fs::write(&path, &torn).unwrap();
        assert_eq!(
            scan(&mut File::open(&path).unwrap()).unwrap().whole_end,
            whole
        );

        // The next run appends after the last whole record, not after the torn bytes.
        let mut w = WarcWriter::open(&data, 3).unwrap();
        let next = w.write_response(&rec("http://s.example/2.png")).unwrap();
        assert_eq!(next, whole);
        let len = std::fs::metadata(&path).unwrap().len();
        let found = scan(&mut File::open(&path).unwrap()).unwrap();
        assert_eq!(
            (found.whole_end, found.records),
            (len, 3),
            "warcinfo and two responses"
        );
        let back = read_record(&data, w.relative_path(), i64::try_from(next).unwrap()).unwrap();
        assert!(
            back.header
                .contains("WARC-Target-URI: http://s.example/2.png")
        );
    }

    #[test]
    fn scan_stops_at_a_record_without_its_closing_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let w = WarcWriter::open(&data, 4).unwrap();
        let path = dir.path().join(w.relative_path());
        let info_end = std::fs::metadata(&path).unwrap().len();
        let mut bytes = std::fs::read(&path).unwrap();
        // A whole second record but for its last two bytes.
        let copy = bytes.clone();
        bytes.extend_from_slice(&copy[..copy.len() - 2]);
        let found = scan(&mut std::io::Cursor::new(&bytes)).unwrap();
        assert_eq!((found.whole_end, found.records), (info_end, 1));
        // Garbage in place of a record stops the scan too.
        let found = scan(&mut std::io::Cursor::new(b"not a warc file")).unwrap();
        assert_eq!((found.whole_end, found.records), (0, 0));
    }

    #[test]
    fn damage_in_the_middle_of_a_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let mut w = WarcWriter::open(&data, 5).unwrap();
        let rec = HttpRecord {
            url: "http://s.example/1.png",
            fetched_at: "2026-12-07T12:00:00Z",
            status: 200,
            headers: &[],
            body: b"image bytes",
        };
        let first = w.write_response(&rec).unwrap();
        w.write_response(&rec).unwrap();
        let path = dir.path().join(w.relative_path());
        drop(w);
        // One byte of the first response's header flipped: the records after it are whole,
        // and hits may point at them.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[usize::try_from(first).unwrap() + 2] = b'X';
        std::fs::write(&path, &bytes).unwrap();
        let err = WarcWriter::open(&data, 5).err().expect("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("damaged"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing cut");
    }
}
