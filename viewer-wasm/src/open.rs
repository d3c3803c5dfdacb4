//! The viewer's open sequence as plain Rust, driven through a [`Transport`]: pin the server key,
//! make the ephemeral key pair, ask for a licence, fetch the envelope in few ranged reads and
//! decrypt it in memory, render and mark frames, renew the lease, and wipe on revocation.
//!
//! This is the one implementation of the sequence: the browser runs it over `fetch`
//! (`web.rs`), the native tests over HTTP to a real server (`tests/open.rs`). Platform code
//! only moves bytes; every decision (what to ask, what to trust, when to wipe) is made here.

use std::future::Future;
use std::ops::Range;

use veilmark_shared::media::MediaType;
use veilmark_shared::wire::{
    DocumentInfo, ErrorCode, LicenceRequest, LicenceResponse, Report, RevokedEvent,
    ServerKeyResponse, SessionUrls,
};
use zeroize::Zeroizing;

use crate::cad::is_cad;
use crate::envelope::{EnvelopeReader, FETCH_BATCH};
use crate::mark::{MarkCache, mark_frame_cached};
use crate::render::{Frame, PdfDocument};
use crate::session::{Session, ViewerError};

/// What the open sequence needs from its platform: the viewer API's exchanges, a clock and
/// randomness. Failed answers are [`ViewerError::Server`] with the server's
/// [`ErrorCode`] ([`ViewerError::from_answer`] builds it);
/// network failures are [`ViewerError::Network`]. URLs are relative to the server's origin, as
/// the server writes them.
pub trait Transport {
    /// `GET /api/server-key`.
    fn server_key(&self) -> impl Future<Output = Result<ServerKeyResponse, ViewerError>>;
    /// `POST url` with a licence request (`/api/v/{token}/licence`).
    fn licence(
        &self,
        url: &str,
        request: &LicenceRequest,
    ) -> impl Future<Output = Result<LicenceResponse, ViewerError>>;
    /// `POST url` with no body: a lease renewal.
    fn renew(&self, url: &str) -> impl Future<Output = Result<LicenceResponse, ViewerError>>;
    /// `GET url` with `Range: bytes=start-(end-1)`: sealed envelope bytes.
    fn envelope(
        &self,
        url: &str,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, ViewerError>>;
    /// `POST url` with a page-view report.
    fn report(&self, url: &str, report: Report) -> impl Future<Output = Result<(), ViewerError>>;
    /// The clock, unix seconds.
    fn now(&self) -> u64;
    /// Fills `buf` with fresh randomness from the platform's CSPRNG.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ViewerError>;
}

/// The URL of a link's licence endpoint, relative to the origin.
#[must_use]
pub fn licence_url(token: &str) -> String {
    format!("/api/v/{token}/licence")
}

/// What can be shown: PDF pages, or a CAD model or drawing.
#[must_use]
pub fn viewable(media_type: &str) -> Option<MediaType> {
    MediaType::ALL
        .into_iter()
        .find(|m| m.mime() == media_type)
        .filter(|m| *m == MediaType::Pdf || is_cad(*m))
}

/// A link opened: a licensed session and the decrypted document, still to be parsed.
pub struct Opened {
    /// The licensed session (content key, terms, forensic watermark).
    pub session: Session,
    /// The document's facts from the licence answer.
    pub document: DocumentInfo,
    /// The session's URLs.
    pub urls: SessionUrls,
    /// The document's media type (one this viewer shows).
    pub media: MediaType,
    /// The plaintext, in wasm memory only; wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("session", &self.session)
            .field("media", &self.media)
            .field("plaintext_len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

/// Random bytes from the transport, in a buffer wiped on drop.
fn random<const N: usize>(t: &impl Transport) -> Result<Zeroizing<[u8; N]>, ViewerError> {
    let mut buf = Zeroizing::new([0u8; N]);
    t.fill_random(&mut buf[..])?;
    Ok(buf)
}

/// Opens link `token`: pins the server key, makes the ephemeral key pair, gets and verifies a
/// licence, then fetches and decrypts the envelope, calling `on_progress(fraction)` after each
/// batch.
pub async fn open<T: Transport>(
    t: &T,
    token: &str,
    passcode: Option<&str>,
    on_progress: impl FnMut(f64),
) -> Result<Opened, ViewerError> {
    open_accepting(t, token, passcode, None, on_progress).await
}

/// [`open`], accepting `terms` (the text of an earlier [`ErrorCode::TermsRequired`] answer,
/// which the recipient accepted on the page) with the licence request.
pub async fn open_accepting<T: Transport>(
    t: &T,
    token: &str,
    passcode: Option<&str>,
    terms: Option<&str>,
    mut on_progress: impl FnMut(f64),
) -> Result<Opened, ViewerError> {
    let key = t.server_key().await?;
    let server_key: [u8; 32] = hex::decode(&key.ed25519)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ViewerError::Protocol("server key is not 32 hex bytes".into()))?;
    let mut session = Session::new(random::<32>(t)?, server_key);
    let nonce = *random::<16>(t)?;
    let request = session.licence_request_accepting(nonce, t.now(), passcode, terms);
    let lic = t.licence(&licence_url(token), &request).await?;
    session.accept(&lic, t.now())?;
    let doc = lic.document;
    let urls = lic.urls;
    let media = viewable(&doc.media_type).ok_or_else(|| {
        ViewerError::Render(format!(
            "{} files cannot be shown by this viewer",
            doc.media_type
        ))
    })?;
    let plaintext =
        fetch_and_decrypt(t, &session, &urls, doc.envelope_len, &mut on_progress).await?;
    Ok(Opened {
        session,
        document: doc,
        urls,
        media,
        plaintext,
    })
}

/// Fetches the envelope in few round trips (the header and the first chunks in one answer,
/// then batches doubling from 1 MiB to 8 MiB) and decrypts it chunk by chunk.
async fn fetch_and_decrypt<T: Transport>(
    t: &T,
    session: &Session,
    urls: &SessionUrls,
    envelope_len: u64,
    on_progress: &mut impl FnMut(f64),
) -> Result<Zeroizing<Vec<u8>>, ViewerError> {
    let first = t
        .envelope(&urls.envelope, EnvelopeReader::first_fetch(envelope_len))
        .await?;
    let header_len = EnvelopeReader::header_len(&first)?;
    let longer_header;
    let header = if first.len() < header_len {
        longer_header = t.envelope(&urls.envelope, 0..header_len as u64).await?;
        &longer_header
    } else {
        &first
    };
    let key = session.content_key(t.now())?;
    let mut reader = EnvelopeReader::new(&key, header, envelope_len)?;
    drop(key);
    reader.push_batch(0, &first)?;
    on_progress(reader.progress());
    // Batches double up to 8 MiB: small files still arrive in few round trips, and a 100 MB
    // model takes about 17 instead of 100.
    let mut batch = FETCH_BATCH;
    while let Some(range) = reader.next_batch(batch) {
        batch = (batch * 2).min(8 * FETCH_BATCH);
        let at = range.start;
        let sealed = t.envelope(&urls.envelope, range).await?;
        if reader.push_batch(at, &sealed)? == 0 {
            return Err(ViewerError::Protocol(
                "the server's answer holds no whole chunk".into(),
            ));
        }
        on_progress(reader.progress());
    }
    reader.finish()
}

/// Renders page `index` of `doc` at `scale` and marks it (visible and forensic watermarks) at
/// `now`: the only way a PDF frame is made. No frame without a live lease.
pub fn marked_page(
    doc: &PdfDocument,
    session: &Session,
    marks: &mut MarkCache,
    index: u32,
    scale: f32,
    now: u64,
) -> Result<Frame, ViewerError> {
    session.content_key(now)?;
    let mut frame = doc.render(index, scale)?;
    mark(session, marks, &mut frame, now)?;
    Ok(frame)
}

/// Marks `frame` with the session's visible and forensic watermarks at `now`, while the lease
/// is live.
pub fn mark(
    session: &Session,
    marks: &mut MarkCache,
    frame: &mut Frame,
    now: u64,
) -> Result<(), ViewerError> {
    session.content_key(now)?;
    let terms = session.terms().ok_or(ViewerError::Ended)?;
    let forensic = session.forensic()?;
    mark_frame_cached(
        marks,
        frame,
        &terms.recipient,
        now,
        terms.session_code,
        forensic,
    )
}

/// Whether a refusal means the session is over for good (revoked or expired link, lease
/// over): the viewer wipes key and pixels.
#[must_use]
pub fn ends_session(error: &ViewerError) -> bool {
    matches!(
        error,
        ViewerError::Server {
            code: ErrorCode::LinkRevoked | ErrorCode::LinkExpired | ErrorCode::LeaseExpired,
            ..
        }
    )
}

/// Takes a renewal answer into `session` at `now`; returns the new lease expiry. A refusal that
/// ends the session ([`ends_session`]) wipes it before the error is returned.
pub fn accept_renewal(
    session: &mut Session,
    answer: Result<LicenceResponse, ViewerError>,
    now: u64,
) -> Result<u64, ViewerError> {
    match answer {
        Ok(lic) => Ok(session.accept(&lic, now)?.lease_expires_at),
        Err(e) => {
            if ends_session(&e) {
                session.wipe();
            }
            Err(e)
        }
    }
}

/// Renews the lease: asks the server ([`Transport::renew`]) and takes the answer
/// ([`accept_renewal`]).
pub async fn renew<T: Transport>(
    t: &T,
    session: &mut Session,
    urls: &SessionUrls,
) -> Result<u64, ViewerError> {
    let answer = t.renew(&urls.renew).await;
    accept_renewal(session, answer, t.now())
}

/// The revocation push arrived (the `revoked` server-sent event): wipes the session and says
/// why, for the page to show.
pub fn revoked(session: &mut Session, event: &RevokedEvent) -> ViewerError {
    session.wipe();
    ViewerError::Server {
        status: ErrorCode::LinkRevoked.status(),
        code: ErrorCode::LinkRevoked,
        message: event.reason.clone(),
    }
}
