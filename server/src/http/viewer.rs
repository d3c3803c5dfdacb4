//! Viewer API: licence grant, lease renewal, revocation push, page-view reports and the ranged
//! envelope. Each check that fails records a `deny` audit entry with its reason.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{Stream, StreamExt};
use object_store::path::Path as BlobPath;
use object_store::{GetOptions, GetRange};
use serde::Deserialize;
use veilmark_shared::envelope::DocumentId;
use veilmark_shared::licence::{self, LicenceTerms, Permissions, SessionCode, SessionId};
use veilmark_shared::watermark::{Embedder, WatermarkKey};
use veilmark_shared::wire::{
    self, Classification, DocumentInfo, ErrorCode, LicenceRequest, LicenceResponse, Report,
    RevokedEvent, ServerKeyResponse, SessionUrls, terms_digest,
};
use veilmark_store::classification::{SupplierStatus, find_level, recipient_domain};

use super::ApiJson;
use crate::audit::AuditKind;
use crate::service::ClientMeta;
use crate::store::{DocumentRecord, LinkRecord, PasscodeAttempt, SessionRecord, ViewRefusal};
use crate::{AppError, AppState, now_secs, rfc3339, secrets};

/// Seconds after a lease's expiry during which a renewal or envelope read is still accepted
/// (network latency); the viewer itself stops showing the document at expiry.
const LEASE_GRACE_SECS: i64 = 5;

/// `Retry-After` when an event stream is refused for too many open ones.
const STREAM_RETRY_SECS: u64 = 5;

/// Session codes are drawn below 2^48: the forensic watermark carries a 48-bit session code
/// (plus a keyed check), so every code the server issues must fit it.
const SESSION_CODE_MASK: u64 = SessionCode::MAX;

/// The session code a stored session record holds (a `u64` in the store), checked.
fn stored_code(session: &SessionRecord) -> Result<SessionCode, AppError> {
    SessionCode::new(session.session_code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored session code: {e}")))
}

/// `GET /api/server-key`: the Ed25519 key licences are signed with.
pub async fn server_key(State(state): State<AppState>) -> Json<ServerKeyResponse> {
    Json(ServerKeyResponse {
        ed25519: hex::encode(state.keys.signing().verifying_key()),
    })
}

/// Records a denial in the audit log, then returns `err`.
async fn deny(
    state: &AppState,
    meta: &ClientMeta,
    link: Option<&LinkRecord>,
    session: Option<&str>,
    reason: &str,
    err: AppError,
) -> AppError {
    let mut entry = meta.entry(link.map(|l| l.org), AuditKind::Deny, reason);
    if let Some(link) = link {
        entry.link_id = Some(link.id.clone());
        entry.document_id = Some(link.document_id.clone());
        entry.actor = Some(link.recipient.clone());
    }
    entry.session_id = session.map(str::to_owned);
    match state.store.append_audit(&entry).await {
        Ok(_) => err,
        Err(e) => AppError::Internal(e),
    }
}

/// Finds the link a token names. Per-IP limit: checked before the lookup, charged on every
/// licence request (`charge_always`) or only on failed lookups (other endpoints).
async fn find_link(
    state: &AppState,
    meta: &ClientMeta,
    token: &str,
    charge_always: bool,
) -> Result<LinkRecord, AppError> {
    let ip_key = meta.rate_key();
    if charge_always {
        state
            .ip_limiter
            .check(&ip_key)
            .map_err(AppError::TooManyRequests)?;
    } else {
        state
            .ip_limiter
            .peek(&ip_key)
            .map_err(AppError::TooManyRequests)?;
    }
    let hash = secrets::link_token_hash(token);
    let link = match hash {
        Some(h) => state
            .store
            .link_by_token_hash(&h)
            .await?
            .filter(|l| secrets::hashes_equal(&l.token_hash, &h)),
        None => None,
    };
    match link {
        Some(link) => Ok(link),
        None => {
            if !charge_always {
                let _ = state.ip_limiter.check(&ip_key);
            }
            let reason = if hash.is_some() {
                "unknown link token"
            } else {
                "malformed link token"
            };
            Err(deny(state, meta, None, None, reason, AppError::NotFound("link")).await)
        }
    }
}

/// A recipient whose supplier company is suspended or off-boarded gets no licence and no
/// renewal (a suspension keeps the links; an off-boarding also revoked them).
async fn check_supplier(
    state: &AppState,
    meta: &ClientMeta,
    link: &LinkRecord,
    session: Option<&str>,
) -> Result<(), AppError> {
    let domain = recipient_domain(&link.recipient);
    let Some(supplier) = state.store.supplier(link.org, &domain).await? else {
        return Ok(());
    };
    if supplier.status == SupplierStatus::Approved {
        return Ok(());
    }
    if supplier.status == SupplierStatus::Suspended {
        state
            .opened_while_suspended(link, meta, supplier.changed_at)
            .await;
    }
    let msg = format!(
        "access for {} is {}; ask the document's owner",
        supplier.name, supplier.status
    );
    Err(deny(
        state,
        meta,
        Some(link),
        session,
        &format!("supplier {}", supplier.status),
        AppError::Forbidden(msg),
    )
    .await)
}

/// The document's classification as the viewer shows it (`None` when its level is no longer
/// defined, which the store prevents).
async fn classification(
    state: &AppState,
    document: &DocumentRecord,
) -> Result<Option<Classification>, AppError> {
    let levels = state.store.levels(document.org).await?;
    Ok(
        find_level(&levels, &document.level).map(|l| Classification {
            level: l.name.clone(),
            rank: u8::try_from(l.rank).unwrap_or(u8::MAX),
            watermark: l.watermark.as_str().to_owned(),
        }),
    )
}

/// Revoked or expired links are gone for good.
async fn check_live(
    state: &AppState,
    meta: &ClientMeta,
    link: &LinkRecord,
    session: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    if let Some(at) = link.revoked_at {
        let msg = format!("this link was revoked on {}", rfc3339(at));
        return Err(deny(
            state,
            meta,
            Some(link),
            session,
            "link revoked",
            AppError::Refused(ErrorCode::LinkRevoked, msg),
        )
        .await);
    }
    if link.expires_at <= now {
        let msg = format!("this link expired on {}", rfc3339(link.expires_at));
        return Err(deny(
            state,
            meta,
            Some(link),
            session,
            "link expired",
            AppError::Refused(ErrorCode::LinkExpired, msg),
        )
        .await);
    }
    Ok(())
}

/// `POST /api/v/{token}/licence`.
pub async fn licence(
    State(state): State<AppState>,
    Path(token): Path<String>,
    meta: ClientMeta,
    ApiJson(req): ApiJson<LicenceRequest>,
) -> Result<Json<LicenceResponse>, AppError> {
    let now = now_secs();
    let link = find_link(&state, &meta, &token, true).await?;
    let limits = &state.config.limits;
    if let Err(retry) = state.link_limiter.check(&link.id).await {
        return Err(deny(
            &state,
            &meta,
            Some(&link),
            None,
            "rate limited (link)",
            AppError::TooManyRequests(retry),
        )
        .await);
    }
    let req = req
        .check()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let (viewer_key, nonce, timestamp) = (req.viewer_key, req.nonce, req.timestamp);
    if (timestamp - now).abs() > limits.request_window_secs {
        return Err(deny(
            &state,
            &meta,
            Some(&link),
            None,
            "stale request timestamp",
            AppError::Refused(
                ErrorCode::StaleTimestamp,
                format!(
                    "request timestamp is more than {} s from the server's clock; check the device's time",
                    limits.request_window_secs
                ),
            ),
        )
        .await);
    }
    check_live(&state, &meta, &link, None, now).await?;
    check_supplier(&state, &meta, &link, None).await?;
    if let Some(phc) = &link.passcode_hash {
        let Some(given) = req.passcode.clone() else {
            return Err(deny(
                &state,
                &meta,
                Some(&link),
                None,
                "passcode missing",
                AppError::PasscodeRequired,
            )
            .await);
        };
        // The attempt is counted (and refused while the link is locked) before the passcode is
        // checked, in one statement: parallel guesses cannot all be checked before the lock.
        let max = limits.passcode_max_failures;
        let attempt = match state
            .store
            .passcode_attempt(&link.id, now, max, limits.passcode_lockout_secs)
            .await?
        {
            PasscodeAttempt::Counted(n) => n,
            PasscodeAttempt::Locked(until) => {
                return Err(deny(
                    &state,
                    &meta,
                    Some(&link),
                    None,
                    "locked after wrong passcodes",
                    AppError::Locked(format!(
                        "too many wrong passcodes; this link is locked until {}",
                        rfc3339(until)
                    )),
                )
                .await);
            }
        };
        if !secrets::verify_password_async(given, phc.clone()).await {
            let left = max - attempt;
            if left <= 0 {
                state.passcode_locked(&link, &meta, attempt).await;
            }
            let err = if left <= 0 {
                AppError::Locked(format!(
                    "too many wrong passcodes; this link is locked until {}",
                    rfc3339(now + limits.passcode_lockout_secs)
                ))
            } else {
                AppError::WrongPasscode(format!("wrong passcode; {left} attempts left"))
            };
            return Err(deny(&state, &meta, Some(&link), None, "wrong passcode", err).await);
        }
        state
            .store
            .passcode_succeeded(&link.id, attempt, max)
            .await?;
    }
    let document = state
        .store
        .document(link.org, &link.document_id)
        .await?
        .ok_or(AppError::NotFound("document"))?;
    // Terms before the first view: checked after the passcode, so only the recipient sees them.
    let mut accepting = None;
    if let Some(terms) = state.terms_for(&document).await? {
        let digest = terms_digest(&terms.text);
        if !state.store.terms_accepted(&link.id, &digest).await? {
            if req.accept_terms != Some(digest) {
                let reason = if req.accept_terms.is_some() {
                    "terms accepted were not the current ones"
                } else {
                    "terms not accepted yet"
                };
                return Err(deny(
                    &state,
                    &meta,
                    Some(&link),
                    None,
                    reason,
                    AppError::Refused(ErrorCode::TermsRequired, terms.text),
                )
                .await);
            }
            accepting = Some(digest);
        }
    }
    let session = SessionRecord {
        id: SessionId(secrets::random()?).to_string(),
        link_id: link.id.clone(),
        session_code: u64::from_be_bytes(secrets::random()?) & SESSION_CODE_MASK,
        viewer_key,
        created_at: now,
        lease_expires_at: now + limits.lease_secs,
    };
    // Sign first, then record: a licence reaches the client only if its grant is on disk.
    let mut response = issue(&state, &token, &link, &document, &session)?;
    response.document.classification = classification(&state, &document).await?;
    let code = stored_code(&session)?;
    response.watermark_tile = Some(STANDARD.encode(session_tile(&state, code)));
    let mut entry = meta.entry(link.org, AuditKind::Grant, format!("session code {code}"));
    entry.link_id = Some(link.id.clone());
    entry.document_id = Some(link.document_id.clone());
    entry.session_id = Some(session.id.clone());
    entry.actor = Some(link.recipient.clone());
    let nonce_expires_at = now + 2 * limits.request_window_secs;
    let granted = state
        .store
        .grant_view(&session, &nonce, nonce_expires_at, now, &entry)
        .await?;
    if let Err(refusal) = granted {
        let (reason, err) = match refusal {
            ViewRefusal::Replayed => (
                "replayed request",
                AppError::Conflict(
                    "this licence request was already used; send a fresh nonce".into(),
                ),
            ),
            ViewRefusal::Revoked => (
                "link revoked",
                AppError::Refused(ErrorCode::LinkRevoked, "this link was revoked".into()),
            ),
            ViewRefusal::Expired => (
                "link expired",
                AppError::Refused(ErrorCode::LinkExpired, "this link has expired".into()),
            ),
            ViewRefusal::LimitReached => (
                "view limit reached",
                AppError::Refused(
                    ErrorCode::ViewLimitReached,
                    format!(
                        "this link allowed {} views and all were used",
                        link.max_views.unwrap_or(0)
                    ),
                ),
            ),
        };
        return Err(deny(&state, &meta, Some(&link), None, reason, err).await);
    }
    if let Some(digest) = accepting {
        let mut entry = meta.entry(
            link.org,
            AuditKind::TermsAccepted,
            format!("terms sha256 {}", hex::encode(digest)),
        );
        entry.link_id = Some(link.id.clone());
        entry.document_id = Some(link.document_id.clone());
        entry.session_id = Some(session.id.clone());
        entry.actor = Some(link.recipient.clone());
        state
            .store
            .accept_terms(
                &link.id,
                &digest,
                now,
                meta.ip.as_deref(),
                &session.id,
                &entry,
            )
            .await?;
    }
    // Unusual-access checks (new network, many sessions) after the answer is on its way.
    let alerts = state.clone();
    tokio::spawn(async move { alerts.check_opening(&link, &meta).await });
    Ok(Json(response))
}

/// The forensic watermark tile for a session code, built with the server's watermark key.
fn session_tile(state: &AppState, code: SessionCode) -> Vec<u8> {
    let key = WatermarkKey::from_bytes(*state.keys.watermark());
    Embedder::new(&key, code).to_bytes()
}

/// Signs a licence for `session` with its current lease.
fn issue(
    state: &AppState,
    token: &str,
    link: &LinkRecord,
    document: &DocumentRecord,
    session: &SessionRecord,
) -> Result<LicenceResponse, AppError> {
    let doc_id = DocumentId::from_hex(&document.id)
        .ok_or_else(|| anyhow::anyhow!("stored document id {} is not hex", document.id))?;
    let content_key = state
        .keys
        .unwrap_content_key(doc_id, &document.wrapped_key)?;
    let session_id = SessionId::from_hex(&session.id)
        .ok_or_else(|| anyhow::anyhow!("stored session id is not hex"))?;
    let terms = LicenceTerms {
        document_id: doc_id,
        session_id,
        session_code: stored_code(session)?,
        permissions: Permissions::VIEW.union(Permissions::MEASURE),
        issued_at: u64::try_from(now_secs())?,
        lease_expires_at: u64::try_from(session.lease_expires_at)?,
        viewer_key: session.viewer_key,
        recipient: link.recipient.clone(),
    };
    let bytes = licence::issue(
        &terms,
        &content_key,
        state.keys.signing(),
        secrets::random()?,
    )
    .map_err(|e| AppError::BadRequest(format!("cannot issue a licence: {e}")))?;
    let base = format!("/api/v/{token}");
    Ok(LicenceResponse {
        licence: STANDARD.encode(bytes),
        session_id: session.id.clone(),
        lease_expires_at: terms.lease_expires_at,
        lease_secs: u64::try_from(state.config.limits.lease_secs)?,
        server_key: Some(hex::encode(state.keys.signing().verifying_key())),
        document: DocumentInfo {
            id: document.id.clone(),
            title: document.title.clone(),
            media_type: document.media_type.clone(),
            plaintext_len: u64::try_from(document.plaintext_len)?,
            envelope_len: u64::try_from(document.envelope_len)?,
            classification: None,
        },
        urls: SessionUrls {
            envelope: format!("{base}/envelope?session={}", session.id),
            renew: format!("{base}/sessions/{}/renew", session.id),
            events: format!("{base}/sessions/{}/events", session.id),
            report: format!("{base}/sessions/{}/report", session.id),
        },
        watermark_tile: None,
    })
}

/// The link and session a session-scoped request names, both checked.
async fn find_session(
    state: &AppState,
    meta: &ClientMeta,
    token: &str,
    session_id: &str,
) -> Result<(LinkRecord, SessionRecord), AppError> {
    let link = find_link(state, meta, token, false).await?;
    let session = if session_id.len() == 32 {
        state.store.session(session_id).await?
    } else {
        None
    }
    .filter(|s| s.link_id == link.id)
    .ok_or(AppError::NotFound("session"))?;
    Ok((link, session))
}

/// `POST /api/v/{token}/sessions/{session}/renew`: a fresh licence with a new lease.
pub async fn renew(
    State(state): State<AppState>,
    Path((token, session_id)): Path<(String, String)>,
    meta: ClientMeta,
) -> Result<Json<LicenceResponse>, AppError> {
    let now = now_secs();
    let (link, mut session) = find_session(&state, &meta, &token, &session_id).await?;
    // Checked before anything is written: a renewal loop costs neither an audit row nor an
    // fsync once the session is over its budget (a viewer renews about twice per lease).
    state
        .renew_limiter
        .check(&session.id)
        .map_err(AppError::TooManyRequests)?;
    check_live(&state, &meta, &link, Some(&session.id), now).await?;
    check_supplier(&state, &meta, &link, Some(&session.id)).await?;
    if session.lease_expires_at + LEASE_GRACE_SECS < now {
        return Err(deny(
            &state,
            &meta,
            Some(&link),
            Some(&session.id),
            "lease already expired",
            AppError::Refused(
                ErrorCode::LeaseExpired,
                "the lease expired; open the link again".into(),
            ),
        )
        .await);
    }
    let document = state
        .store
        .document(link.org, &link.document_id)
        .await?
        .ok_or(AppError::NotFound("document"))?;
    session.lease_expires_at = now + state.config.limits.lease_secs;
    let mut response = issue(&state, &token, &link, &document, &session)?;
    response.document.classification = classification(&state, &document).await?;
    let mut entry = meta.entry(
        link.org,
        AuditKind::Renew,
        format!("lease until {}", rfc3339(session.lease_expires_at)),
    );
    entry.link_id = Some(link.id.clone());
    entry.document_id = Some(link.document_id.clone());
    entry.session_id = Some(session.id.clone());
    entry.actor = Some(link.recipient.clone());
    // The store checks revocation and expiry again inside its transaction: a revocation that
    // committed since `check_live` above wins.
    match state
        .store
        .renew_session(&session.id, session.lease_expires_at, now, &entry)
        .await?
    {
        Ok(_) => Ok(Json(response)),
        Err(ViewRefusal::Revoked) => Err(deny(
            &state,
            &meta,
            Some(&link),
            Some(&session.id),
            "link revoked",
            AppError::Refused(ErrorCode::LinkRevoked, "this link was revoked".into()),
        )
        .await),
        Err(_) => Err(deny(
            &state,
            &meta,
            Some(&link),
            Some(&session.id),
            "link expired",
            AppError::Refused(ErrorCode::LinkExpired, "this link has expired".into()),
        )
        .await),
    }
}

/// `GET /api/v/{token}/sessions/{session}/events`: server-sent events. `revoked` is sent as
/// soon as the link is revoked, `expired` when the session's lease runs out unrenewed or the
/// link reaches its expiry; the stream ends after either, so no stream outlives its lease.
/// Open streams are capped per session and per client address.
pub async fn events(
    State(state): State<AppState>,
    Path((token, session_id)): Path<(String, String)>,
    meta: ClientMeta,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let (link, session) = find_session(&state, &meta, &token, &session_id).await?;
    // Each open stream holds a connection: a few per session, a few dozen per address.
    let Some(session_slot) = state.streams_per_session.try_take(session.id.clone()) else {
        return Err(AppError::TooManyRequests(STREAM_RETRY_SECS));
    };
    let Some(addr_slot) = state.streams_per_addr.try_take(meta.rate_key()) else {
        return Err(AppError::TooManyRequests(STREAM_RETRY_SECS));
    };
    // Subscribe before reading the link again, so a revocation in between is not missed.
    let mut rx = state.revocations.subscribe();
    let current = state
        .store
        .link(link.org, &link.id)
        .await?
        .ok_or(AppError::NotFound("link"))?;
    let revoked = current.revoked_at.is_some();
    let stream = futures_util::stream::once(async move {
        // Held for as long as the stream is open.
        let _slots = (session_slot, addr_slot);
        if revoked {
            return revoked_event();
        }
        let mut link = current;
        let mut session = session;
        loop {
            let now = now_secs();
            if link.expires_at <= now {
                return expired_event(wire::ExpiredWhat::Link, "this link has expired");
            }
            if session.lease_expires_at + LEASE_GRACE_SECS <= now {
                return expired_event(wire::ExpiredWhat::Lease, "the lease ran out; open the link again");
            }
            let until = link.expires_at.min(session.lease_expires_at + LEASE_GRACE_SECS) - now;
            let wake = tokio::time::sleep(Duration::from_secs(u64::try_from(until).unwrap_or(1).max(1)));
            tokio::select! {
                () = wake => {
                    // The lease may have been renewed meanwhile: read both again.
                    match (state.store.session(&session.id).await, state.store.link(link.org, &link.id).await) {
                        (Ok(Some(s)), Ok(Some(l))) => {
                            if l.revoked_at.is_some() {
                                return revoked_event();
                            }
                            session = s;
                            link = l;
                        }
                        _ => return expired_event(wire::ExpiredWhat::Link, "this link is gone"),
                    }
                }
                got = rx.recv() => match got {
                    Ok(id) if id == link.id => return revoked_event(),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        return Ok(Event::default()
                            .event(wire::EVENT_CLOSED)
                            .json_data(wire::ClosedEvent {})
                            .unwrap_or_default());
                    }
                },
            }
        }
    })
    .boxed();
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn revoked_event() -> Result<Event, Infallible> {
    Ok(Event::default()
        .event(wire::EVENT_REVOKED)
        .json_data(RevokedEvent {
            reason: "the owner revoked this link".into(),
        })
        .unwrap_or_default())
}

fn expired_event(what: wire::ExpiredWhat, reason: &str) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event(wire::EVENT_EXPIRED)
        .json_data(wire::ExpiredEvent {
            what,
            reason: reason.into(),
        })
        .unwrap_or_default())
}

/// `POST /api/v/{token}/sessions/{session}/report`: the viewer shows a page.
pub async fn report(
    State(state): State<AppState>,
    Path((token, session_id)): Path<(String, String)>,
    meta: ClientMeta,
    ApiJson(report): ApiJson<Report>,
) -> Result<StatusCode, AppError> {
    let now = now_secs();
    let (link, session) = find_session(&state, &meta, &token, &session_id).await?;
    if session.lease_expires_at + LEASE_GRACE_SECS < now {
        return Err(AppError::Refused(
            ErrorCode::LeaseExpired,
            "the lease expired".into(),
        ));
    }
    // Reports write to the audit log: bound them per session so a viewer cannot flood it.
    state
        .ip_limiter
        .check(&format!("report:{}", session.id))
        .map_err(AppError::TooManyRequests)?;
    let mut entry = meta.entry(
        link.org,
        AuditKind::PageView,
        format!("page {}", report.page),
    );
    entry.link_id = Some(link.id.clone());
    entry.document_id = Some(link.document_id.clone());
    entry.session_id = Some(session.id.clone());
    entry.actor = Some(link.recipient.clone());
    state.store.append_audit(&entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of an envelope request.
#[derive(Deserialize)]
pub struct EnvelopeQuery {
    /// The session reading it.
    session: String,
}

/// `GET /api/v/{token}/envelope?session=…`: the encrypted envelope, whole or by one byte range
/// (`Range: bytes=a-b`), for a session with a live lease on a live link.
pub async fn envelope(
    State(state): State<AppState>,
    Path(token): Path<String>,
    query: Result<Query<EnvelopeQuery>, axum::extract::rejection::QueryRejection>,
    meta: ClientMeta,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Query(q) = query.map_err(|_| {
        AppError::BadRequest("the envelope URL needs ?session=SESSION_ID from the licence".into())
    })?;
    let now = now_secs();
    let (link, session) = find_session(&state, &meta, &token, &q.session).await?;
    check_live(&state, &meta, &link, Some(&session.id), now).await?;
    if session.lease_expires_at + LEASE_GRACE_SECS < now {
        return Err(AppError::Refused(
            ErrorCode::LeaseExpired,
            "the lease expired; renew it first".into(),
        ));
    }
    let document = state
        .store
        .document(link.org, &link.document_id)
        .await?
        .ok_or(AppError::NotFound("document"))?;
    let len = u64::try_from(document.envelope_len)?;
    let blob = BlobPath::from(document.blob.as_str());
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => Some(parse_range(v.to_str().unwrap_or(""), len)?),
    };
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes");
    let opts = GetOptions {
        range: range.clone().map(GetRange::Bounded),
        ..GetOptions::default()
    };
    let result = state.blobs.get_opts(&blob, opts).await?;
    let stream = result.into_stream();
    match range {
        Some(r) => {
            builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{len}", r.start, r.end - 1),
                )
                .header(header::CONTENT_LENGTH, r.end - r.start);
        }
        None => {
            builder = builder
                .status(StatusCode::OK)
                .header(header::CONTENT_LENGTH, len);
        }
    }
    Ok(builder
        .body(Body::from_stream(stream))
        .map_err(anyhow::Error::from)?
        .into_response())
}

/// Parses one `bytes=` range against a length of `len` (multiple ranges are refused).
fn parse_range(value: &str, len: u64) -> Result<std::ops::Range<u64>, AppError> {
    let bad = || AppError::RangeNotSatisfiable(len);
    let spec = value.strip_prefix("bytes=").ok_or_else(bad)?.trim();
    if spec.contains(',') {
        return Err(bad());
    }
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let range = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| bad())?;
            len.saturating_sub(n)..len
        }
        (start, "") => start.parse().map_err(|_| bad())?..len,
        (start, end) => {
            let s: u64 = start.parse().map_err(|_| bad())?;
            let e: u64 = end.parse().map_err(|_| bad())?;
            s..e.saturating_add(1).min(len)
        }
    };
    if range.start >= range.end || range.start >= len {
        return Err(bad());
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), 0..10);
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), 90..100);
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), 90..100);
        assert_eq!(parse_range("bytes=95-200", 100).unwrap(), 95..100);
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=0-1,5-6", 100).is_err());
        assert!(parse_range("items=0-1", 100).is_err());
    }
}
