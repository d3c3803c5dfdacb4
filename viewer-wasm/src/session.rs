//! The viewer's side of the licence protocol (`docs/server.md#viewer-api`, `docs/licence.md`),
//! as plain Rust so that the same code runs in wasm and in native tests.
//!
//! A [`Session`] owns the ephemeral X25519 key pair (made from randomness the platform layer
//! supplies), builds the licence request, checks the answer against the pinned server key and
//! unwraps the content key. The key lives only inside the session and is wiped by
//! [`Session::wipe`] or on drop.

use base64::Engine;
use veilmark_shared::envelope::ContentKey;
use veilmark_shared::licence::{Licence, LicenceError, LicenceTerms, ViewerKey};
use veilmark_shared::watermark::Embedder;
pub use veilmark_shared::wire::{
    DocumentInfo, ErrorBody, ErrorCode, LicenceRequest, LicenceResponse, SessionUrls,
};
use zeroize::Zeroizing;

/// Why the viewer cannot go on. Each variant maps to one error screen in the page.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerError {
    /// The server refused a request.
    #[error("{message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// What went wrong, for the viewer to act on.
        code: ErrorCode,
        /// The server's message (already safe to show).
        message: String,
    },
    /// The licence did not verify.
    #[error("licence refused: {0}")]
    Licence(#[from] LicenceError),
    /// The envelope did not open.
    #[error("the protected file is damaged or was altered: {0}")]
    Envelope(#[from] veilmark_shared::envelope::EnvelopeError),
    /// The server's answer was not what the protocol says.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The document is not a PDF this viewer can render.
    #[error("cannot render this document: {0}")]
    Render(String),
    /// The session was wiped (revoked, expired, hidden too long).
    #[error("the viewing session has ended")]
    Ended,
    /// The network failed.
    #[error("network error: {0}")]
    Network(String),
}

impl ViewerError {
    /// The error of an answer with a non-success `status` and body `body`: the server's
    /// [`ErrorBody`] when it sent one, else a code guessed from the status.
    #[must_use]
    pub fn from_answer(status: u16, body: &str) -> Self {
        match serde_json::from_str::<ErrorBody>(body) {
            Ok(b) => Self::Server {
                status,
                code: b.code,
                message: b.message,
            },
            Err(_) => Self::Server {
                status,
                code: ErrorCode::from_status(status),
                message: format!("the server answered {status}"),
            },
        }
    }

    /// A short machine-readable kind for the page to pick its error screen, from the server's
    /// [`ErrorCode`] (never from message text).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Server { code, .. } => match code {
                ErrorCode::LinkExpired => "link-expired",
                ErrorCode::LinkRevoked => "gone",
                // The session's lease is over (not the link): the same screen as a lease the
                // viewer saw expire itself.
                ErrorCode::LeaseExpired => "expired",
                ErrorCode::ViewLimitReached | ErrorCode::Forbidden => "view-limit",
                ErrorCode::PasscodeRequired | ErrorCode::PasscodeWrong | ErrorCode::Locked => {
                    "passcode"
                }
                // The message is the terms text: the page shows it for acceptance.
                ErrorCode::TermsRequired => "terms",
                ErrorCode::RateLimited => "rate-limited",
                ErrorCode::NotFound => "unknown-link",
                _ => "server",
            },
            Self::Licence(LicenceError::Expired { .. }) => "expired",
            Self::Licence(_) | Self::Envelope(_) | Self::Protocol(_) => "integrity",
            Self::Render(_) => "render",
            Self::Ended => "ended",
            Self::Network(_) => "network",
        }
    }
}

/// The ephemeral key pair, the pinned server key and, once licensed, the content key and the
/// session's forensic watermark.
pub struct Session {
    viewer: ViewerKey,
    server_key: [u8; 32],
    terms: Option<LicenceTerms>,
    content_key: Option<Zeroizing<[u8; 32]>>,
    forensic: Option<Embedder>,
    ended: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("viewer", &self.viewer)
            .field("licensed", &self.content_key.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}

impl Session {
    /// A session with a key pair derived from 32 bytes of fresh randomness, trusting licences
    /// signed by `server_key` only.
    #[must_use]
    pub fn new(seed: Zeroizing<[u8; 32]>, server_key: [u8; 32]) -> Self {
        Self {
            viewer: ViewerKey::from_seed(*seed),
            server_key,
            terms: None,
            content_key: None,
            forensic: None,
            ended: false,
        }
    }

    /// The body of `POST /api/v/{token}/licence`; `nonce` must be fresh randomness.
    #[must_use]
    pub fn licence_request(
        &self,
        nonce: [u8; 16],
        now: u64,
        passcode: Option<&str>,
    ) -> LicenceRequest {
        self.licence_request_accepting(nonce, now, passcode, None)
    }

    /// [`Self::licence_request`] that also accepts `terms` (the text a
    /// [`ErrorCode::TermsRequired`] answer carried): the request sends its digest.
    #[must_use]
    pub fn licence_request_accepting(
        &self,
        nonce: [u8; 16],
        now: u64,
        passcode: Option<&str>,
        terms: Option<&str>,
    ) -> LicenceRequest {
        LicenceRequest {
            viewer_key: hex::encode(self.viewer.public_key()),
            nonce: hex::encode(nonce),
            timestamp: now,
            passcode: passcode.map(str::to_owned),
            accept_terms: terms.map(|t| hex::encode(veilmark_shared::wire::terms_digest(t))),
        }
    }

    /// Verifies a licence (or renewal) answer at `now` and keeps its content key. The first
    /// licence must carry the session's forensic watermark tile (no marking, no viewing); a
    /// renewal must be for the same session and document as the first licence.
    pub fn accept(
        &mut self,
        resp: &LicenceResponse,
        now: u64,
    ) -> Result<&LicenceTerms, ViewerError> {
        if self.ended {
            return Err(ViewerError::Ended);
        }
        if let Some(claimed) = &resp.server_key
            && !claimed.eq_ignore_ascii_case(&hex::encode(self.server_key))
        {
            return Err(ViewerError::Protocol(
                "the licence names a server key other than the pinned one".into(),
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&resp.licence)
            .map_err(|_| ViewerError::Protocol("licence is not base64".into()))?;
        let licence = Licence::verify(&bytes, &self.server_key, now)?;
        if let Some(prev) = &self.terms
            && (prev.session_id != licence.terms.session_id
                || prev.document_id != licence.terms.document_id)
        {
            return Err(ViewerError::Protocol(
                "renewal is for another session".into(),
            ));
        }
        if self.forensic.is_none() {
            let tile = resp.watermark_tile.as_deref().ok_or_else(|| {
                ViewerError::Protocol("the licence answer carries no watermark tile".into())
            })?;
            let tile = base64::engine::general_purpose::STANDARD
                .decode(tile)
                .map_err(|_| ViewerError::Protocol("watermark tile is not base64".into()))?;
            self.forensic = Some(
                Embedder::from_bytes(&tile).map_err(|e| ViewerError::Protocol(e.to_string()))?,
            );
        }
        let key = licence.open_content_key(&self.viewer)?;
        self.content_key = Some(Zeroizing::new(*key.as_bytes()));
        Ok(self.terms.insert(licence.terms))
    }

    /// The signed terms of the current licence.
    #[must_use]
    pub fn terms(&self) -> Option<&LicenceTerms> {
        self.terms.as_ref()
    }

    /// The content key, while the lease is live at `now`.
    pub fn content_key(&self, now: u64) -> Result<ContentKey, ViewerError> {
        let terms = self.terms.as_ref().ok_or(ViewerError::Ended)?;
        if self.ended {
            return Err(ViewerError::Ended);
        }
        if now >= terms.lease_expires_at {
            return Err(ViewerError::Licence(LicenceError::Expired {
                expired_at: terms.lease_expires_at,
                now,
            }));
        }
        let key = self.content_key.as_ref().ok_or(ViewerError::Ended)?;
        Ok(ContentKey::from_bytes(**key))
    }

    /// The session's forensic watermark embedder, while the session lives.
    pub fn forensic(&self) -> Result<&Embedder, ViewerError> {
        if self.ended {
            return Err(ViewerError::Ended);
        }
        self.forensic.as_ref().ok_or(ViewerError::Ended)
    }

    /// Forgets the content key for good (revocation, expiry, tab hidden too long).
    pub fn wipe(&mut self) {
        self.content_key = None; // `Zeroizing` clears the bytes on drop.
        self.forensic = None;
        self.ended = true;
    }

    /// Whether [`Session::wipe`] ran.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.ended
    }
}
