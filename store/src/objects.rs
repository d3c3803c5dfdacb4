//! Where envelopes and WARC evidence live: the one place that turns an `--objects` value into
//! an object store.
//!
//! The embedded default keeps objects in the data directory (`blobs/` for envelopes,
//! `evidence/` for WARC files). A scale-out installation names a bucket instead,
//! `s3://bucket/prefix`, so that several stateless servers and crawler workers share one set of
//! objects; endpoint, region and credentials come from the usual AWS environment variables
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_ALLOW_HTTP`), never from the URL, so no secret ever sits on a command line or in a
//! message. Inside the bucket every key is under the prefix: `PREFIX/envelopes/ID.vmk`,
//! `PREFIX/evidence/run-N.warc` (and its `.sha256`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, Result};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::prefix::PrefixStore;
use zeroize::Zeroizing;

use crate::{DataDir, durable};

/// Environment variable `veilmark serve` and `veilmark crawl` read `--objects` from.
pub const OBJECTS_ENV: &str = "VEILMARK_OBJECTS";

/// A parsed `--objects` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectsUrl {
    /// A local folder (envelopes under `envelopes/`, evidence under `evidence/`).
    Folder(PathBuf),
    /// A bucket on an S3-compatible store, and a key prefix inside it (empty: the bucket's
    /// root; otherwise plain segments without a trailing `/`).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, `a/b` (no leading or trailing `/`), or empty.
        prefix: String,
    },
}

/// Why an `--objects` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectsUrlError {
    /// Nothing was given.
    #[error("the objects location is empty; give a folder or s3://bucket/prefix")]
    Empty,
    /// A scheme other than `s3://` or `file://`.
    #[error(
        "unknown objects location scheme {0:?}: give a folder, file:///folder or s3://bucket/prefix"
    )]
    UnknownScheme(String),
    /// `s3://` with no bucket.
    #[error("{0:?} names no bucket: give s3://bucket or s3://bucket/prefix")]
    NoBucket(String),
    /// A bucket name S3 does not allow.
    #[error(
        "{0:?} is not a valid bucket name (3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)"
    )]
    BadBucket(String),
    /// A prefix with empty, `.` or `..` segments, or characters a key must not hold.
    #[error(
        "the key prefix {0:?} is not a plain path (no empty, '.' or '..' segments, no '\\', '?', '#' or control characters)"
    )]
    BadPrefix(String),
    /// Credentials in the URL, which would end up in logs and process listings.
    #[error(
        "credentials do not belong in the objects URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead"
    )]
    CredentialsInUrl,
}

impl FromStr for ObjectsUrl {
    type Err = ObjectsUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ObjectsUrlError::Empty);
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Ok(Self::Folder(PathBuf::from(s)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => {}
            "file" if rest.starts_with('/') => return Ok(Self::Folder(PathBuf::from(rest))),
            "file" => return Err(ObjectsUrlError::UnknownScheme(format!("{scheme}://"))),
            _ => {
                // Only the scheme is echoed: the rest could hold a key someone pasted.
                let shown: String = scheme.chars().take(16).collect();
                return Err(ObjectsUrlError::UnknownScheme(format!("{shown}://")));
            }
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.contains('@') || bucket.contains(':') {
            return Err(ObjectsUrlError::CredentialsInUrl);
        }
        if bucket.is_empty() {
            return Err(ObjectsUrlError::NoBucket(s.to_owned()));
        }
        // The prefix first: a path escape is the more important thing to report.
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        if !prefix.is_empty() && !valid_prefix(prefix) {
            return Err(ObjectsUrlError::BadPrefix(prefix.to_owned()));
        }
        if !valid_bucket(bucket) {
            return Err(ObjectsUrlError::BadBucket(bucket.to_owned()));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for ObjectsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Folder(p) => write!(f, "{}", p.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl ObjectsUrl {
    /// Whether the objects live outside this machine (a bucket), so that envelopes are uploaded
    /// rather than written durably into the data directory.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::S3 { .. })
    }
}

/// S3 bucket rules: 3–63 characters of lowercase letters, digits, `.` and `-`, starting and
/// ending with a letter or digit, no `..`.
fn valid_bucket(b: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&b.len())
        && b.chars().all(ok_char)
        && edge(b.chars().next())
        && edge(b.chars().last())
        && !b.contains("..")
}

/// Plain `/`-separated segments: none empty, `.` or `..`, no backslash, query, fragment or
/// control characters.
fn valid_prefix(p: &str) -> bool {
    p.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && !seg
                .chars()
                .any(|c| c.is_control() || matches!(c, '\\' | '?' | '#'))
    })
}

/// Endpoint, region and credentials of an S3-compatible store, given explicitly (tests, tools)
/// rather than read from the environment. The secret is wiped on drop and never printed.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// Endpoint URL (`http://127.0.0.1:9000`); `None`: AWS's own for the region.
    pub endpoint: Option<String>,
    /// Region; `None`: `us-east-1`.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<Zeroizing<String>>,
    /// Allow plain `http://` endpoints (a loopback test server, a private network).
    pub allow_http: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Where a process keeps its objects: a parsed `--objects` value and, optionally, explicit S3
/// settings (`None`: the AWS environment variables, as `veilmark serve` and `veilmark crawl`
/// use).
#[derive(Debug, Clone)]
pub struct ObjectsLocation {
    /// The `--objects` value.
    pub url: ObjectsUrl,
    /// Explicit S3 settings; `None` reads the environment.
    pub settings: Option<S3Settings>,
}

impl ObjectsLocation {
    /// `url` with S3 settings from the environment.
    #[must_use]
    pub fn from_env(url: ObjectsUrl) -> Self {
        Self {
            url,
            settings: None,
        }
    }

    /// Opens the store ([`open`] or [`open_with`]) and [`check`]s it: a wrong key, a wrong
    /// endpoint or a missing bucket is an error here, before anything is served or crawled.
    pub async fn open_checked(&self) -> Result<Arc<dyn ObjectStore>> {
        let store = match &self.settings {
            Some(s) => open_with(&self.url, s)?,
            None => open(&self.url)?,
        };
        check(store.as_ref(), &self.url).await?;
        Ok(store)
    }
}

/// Opens the object store `url` names, with S3 settings from the environment
/// (`AmazonS3Builder::from_env`: `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`, ...). Nothing is contacted yet; call [`check`]
/// to find a wrong key or a missing bucket before serving.
pub fn open(url: &ObjectsUrl) -> Result<Arc<dyn ObjectStore>> {
    match url {
        ObjectsUrl::Folder(dir) => open_folder(dir),
        ObjectsUrl::S3 { bucket, prefix } => {
            s3_store(AmazonS3Builder::from_env(), bucket, prefix, url)
        }
    }
}

/// [`open`] with explicit S3 settings instead of the environment's.
pub fn open_with(url: &ObjectsUrl, settings: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    match url {
        ObjectsUrl::Folder(dir) => open_folder(dir),
        ObjectsUrl::S3 { bucket, prefix } => {
            let mut b = AmazonS3Builder::new().with_allow_http(settings.allow_http);
            if let Some(e) = &settings.endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(r) = &settings.region {
                b = b.with_region(r);
            }
            if let Some(k) = &settings.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(s) = &settings.secret_access_key {
                b = b.with_secret_access_key(s.as_str());
            }
            s3_store(b, bucket, prefix, url)
        }
    }
}

/// The data directory's own envelope folder (the embedded default), as an object store.
pub fn data_dir_store(data: &DataDir) -> Result<Arc<dyn ObjectStore>> {
    Ok(Arc::new(data.blob_store()?))
}

fn open_folder(dir: &std::path::Path) -> Result<Arc<dyn ObjectStore>> {
    durable::create_private_dir_all(dir)
        .with_context(|| format!("cannot create the objects folder {}", dir.display()))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
        .with_context(|| format!("cannot open the objects folder {}", dir.display()))?;
    Ok(Arc::new(store))
}

fn s3_store(
    builder: AmazonS3Builder,
    bucket: &str,
    prefix: &str,
    url: &ObjectsUrl,
) -> Result<Arc<dyn ObjectStore>> {
    // reqwest's rustls has no crypto provider of its own here; ring is the one the workspace
    // builds. Already installed (by the server's TLS or the crawler) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s3 = builder
        .with_bucket_name(bucket)
        .with_retry(retry())
        .build()
        // object_store's configuration errors name keys and values it was given, never the
        // secret (it is only used to sign).
        .with_context(|| format!("cannot configure the S3 store for {url}"))?;
    if prefix.is_empty() {
        return Ok(Arc::new(s3));
    }
    Ok(Arc::new(PrefixStore::new(s3, prefix)))
}

/// Retries of a failed request: a few, within seconds. object_store's default (10 retries
/// within 3 minutes) would hold a viewer's chunk read, or the startup check of a mistyped
/// endpoint, for minutes.
fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(20),
        ..object_store::RetryConfig::default()
    }
}

/// Checks that the store answers and the credentials are accepted, by listing (at most one
/// page of) the top level: a wrong endpoint, a wrong key or a missing bucket is reported here,
/// at startup, rather than on the first upload. Reads nothing but the listing.
pub async fn check(store: &dyn ObjectStore, url: &ObjectsUrl) -> Result<()> {
    match store.list_with_delimiter(None).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let hint = match url {
                ObjectsUrl::S3 { bucket, .. } => format!(
                    "check AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                     and that the bucket {bucket:?} exists"
                ),
                ObjectsUrl::Folder(_) => "check the folder's permissions".to_owned(),
            };
            Err(anyhow::anyhow!(
                "the object store {url} is not usable: {}; {hint}",
                describe(&e)
            ))
        }
    }
}

/// A one-line description of an object store error, without any credential (object_store's
/// messages carry the request URL and the server's error document, never the secret key).
fn describe(e: &object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { .. } => "the bucket or prefix was not found".to_owned(),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("access was refused ({e})")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> ObjectsUrl {
        ObjectsUrl::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn good_urls_parse() {
        assert_eq!("s3://bucket".parse(), Ok(s3("bucket", "")));
        assert_eq!("s3://bucket/".parse(), Ok(s3("bucket", "")));
        assert_eq!("s3://my.bucket-1/a/b".parse(), Ok(s3("my.bucket-1", "a/b")));
        assert_eq!(
            "s3://bucket/veilmark/".parse(),
            Ok(s3("bucket", "veilmark"))
        );
        assert_eq!(
            " /srv/objects ".parse(),
            Ok(ObjectsUrl::Folder("/srv/objects".into()))
        );
        assert_eq!(
            "file:///srv/objects".parse(),
            Ok(ObjectsUrl::Folder("/srv/objects".into()))
        );
        assert_eq!(
            "relative/dir".parse(),
            Ok(ObjectsUrl::Folder("relative/dir".into()))
        );
        assert_eq!(s3("b12", "p").to_string(), "s3://b12/p");
        assert_eq!(s3("b12", "").to_string(), "s3://b12");
        assert!(s3("b12", "").is_remote());
        assert!(!ObjectsUrl::Folder("/x".into()).is_remote());
    }

    #[test]
    fn hostile_urls_are_refused_clearly() {
        let err = |s: &str| s.parse::<ObjectsUrl>().unwrap_err();
        assert_eq!(err(""), ObjectsUrlError::Empty);
        assert_eq!(err("   "), ObjectsUrlError::Empty);
        assert!(matches!(err("s3://"), ObjectsUrlError::NoBucket(_)));
        assert!(matches!(err("s3:///x"), ObjectsUrlError::NoBucket(_)));
        for bad in [
            "s3://b/../x",
            "s3://bkt/a/../x",
            "s3://bkt/a//b",
            "s3://bkt/./a",
        ] {
            assert!(matches!(err(bad), ObjectsUrlError::BadPrefix(_)), "{bad}");
        }
        for bad in [
            "s3://bkt/a?x=1",
            "s3://bkt/a#f",
            "s3://bkt/a\\b",
            "s3://bkt/a\nb",
        ] {
            assert!(matches!(err(bad), ObjectsUrlError::BadPrefix(_)), "{bad:?}");
        }
        for bad in [
            "s3://B",
            "s3://ab",
            "s3://Bucket",
            "s3://-bkt",
            "s3://bkt-",
            "s3://a..b",
        ] {
            assert!(matches!(err(bad), ObjectsUrlError::BadBucket(_)), "{bad}");
        }
        assert_eq!(
            err("s3://AKIA:secret@bucket/x"),
            ObjectsUrlError::CredentialsInUrl
        );
        let e = err("gs://bucket/x");
        assert_eq!(e, ObjectsUrlError::UnknownScheme("gs://".into()));
        let shown = err("https://user:hunter2@host/x").to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("https://"), "{shown}");
        assert!(matches!(
            err("file://relative"),
            ObjectsUrlError::UnknownScheme(_)
        ));
    }

    #[test]
    fn settings_never_print_the_secret() {
        let s = S3Settings {
            secret_access_key: Some(Zeroizing::new("wJalrXUtnFEMI-very-secret".into())),
            access_key_id: Some("AKIDEXAMPLE".into()),
            ..S3Settings::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
    }
}
