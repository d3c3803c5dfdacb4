//! The access-review page (`docs/server.md#reviews`): the open (or latest) review with every
//! link in it by owner, confirm and revoke buttons on the member's own undecided links (any,
//! for admins), a start button and the schedule for admins, and the CSV export.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use veilmark_store::review::{ReviewDecision, ReviewSchedule};
use veilmark_store::{Permission, Role};

use super::html::{Frame, Tab, page, render, when};
use super::{Session, posted_form, require};
use crate::service::ClientMeta;
use crate::{AppError, AppState};

/// One link of the review as the page shows it.
struct ItemRow {
    link_id: String,
    owner: String,
    recipient: String,
    supplier: String,
    supplier_status: String,
    title: String,
    level: String,
    created: String,
    last_view: String,
    views_left: String,
    decision: String,
    decision_class: &'static str,
    /// The member may decide it now.
    can_decide: bool,
    /// It was revoked or expired some other way meanwhile.
    gone: bool,
}

/// The review shown.
struct ReviewView {
    id: String,
    started: String,
    started_by: String,
    due: String,
    closed: Option<String>,
    links: i64,
    undecided: i64,
    confirmed: i64,
    revoked: i64,
    expired: i64,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    review: Option<ReviewView>,
    items: Vec<ItemRow>,
    mine_waiting: usize,
    can_start: bool,
    every_days: i64,
    window_days: i64,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

async fn render_page(
    state: &AppState,
    s: &Session,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<String, AppError> {
    let actor = s.actor();
    let schedule = state.review_schedule(&actor).await?;
    let status = state.review_status(None, &actor).await?;
    let admin = s.account.role == Role::Admin;
    let may_decide = s.account.may(Permission::ManageLinks);
    let now = crate::now_secs();
    let (review, items) = match status {
        None => (None, Vec::new()),
        Some(st) => {
            let open = st.review.closed_at.is_none();
            let items = st
                .items
                .into_iter()
                .map(|i| {
                    let mine = i.owner.eq_ignore_ascii_case(&s.account.email);
                    let gone = i.revoked_at.is_some() || i.expires_at <= now;
                    ItemRow {
                        can_decide: open && may_decide && i.decision.is_none() && (admin || mine),
                        gone,
                        link_id: i.link_id,
                        owner: if i.owner.is_empty() {
                            "(before reviews)".into()
                        } else {
                            i.owner
                        },
                        recipient: i.recipient,
                        supplier: i.supplier,
                        supplier_status: i.supplier_status.unwrap_or_else(|| "not listed".into()),
                        title: i.title,
                        level: i.level,
                        created: when(i.created_at),
                        last_view: i.last_view_at.map_or_else(|| "never".into(), when),
                        views_left: i
                            .views_left
                            .map_or_else(|| "unlimited".into(), |v| v.to_string()),
                        decision_class: match i.decision {
                            Some(ReviewDecision::Confirmed) => "live",
                            Some(ReviewDecision::Revoked) => "revoked",
                            Some(ReviewDecision::Expired) => "expired",
                            None => "pending",
                        },
                        decision: i
                            .decision
                            .map_or_else(|| "to decide".into(), |d| d.as_str().to_owned()),
                    }
                })
                .collect();
            let r = st.review;
            (
                Some(ReviewView {
                    started: when(r.started_at),
                    started_by: r.started_by,
                    due: when(r.due_at),
                    closed: r.closed_at.map(when),
                    links: r.links,
                    undecided: r.undecided,
                    confirmed: r.confirmed,
                    revoked: r.revoked,
                    expired: r.expired,
                    id: r.id,
                }),
                items,
            )
        }
    };
    let mine_waiting = items.iter().filter(|i: &&ItemRow| i.can_decide).count();
    render(&ReviewsPage {
        frame: Frame::new("Access review", Tab::Reviews, s.who()),
        csrf: &s.csrf,
        review,
        items,
        mine_waiting,
        can_start: admin,
        every_days: schedule.every_secs / 86_400,
        window_days: schedule.window_secs / 86_400,
        error,
        notice,
    })
}

async fn answer(state: &AppState, s: &Session, result: anyhow::Result<String>) -> Response {
    match result {
        Ok(msg) => page(
            StatusCode::OK,
            render_page(state, s, None, Some(&msg)).await,
        ),
        Err(e) => {
            let status = match crate::http::owner_reviews::review_error(e) {
                AppError::Internal(e) => return AppError::Internal(e).into_response(),
                AppError::NotFound(what) => {
                    return page(
                        StatusCode::NOT_FOUND,
                        render_page(state, s, Some(&format!("{what} not found")), None).await,
                    );
                }
                AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
                AppError::Refused(_, m) => (StatusCode::CONFLICT, m),
                other => return other.into_response(),
            };
            page(status.0, render_page(state, s, Some(&status.1), None).await)
        }
    }
}

/// `GET /console/reviews`.
pub async fn page_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match require(&state, &headers, Some(Permission::ReadLinks)).await {
        Ok(s) => page(StatusCode::OK, render_page(&state, &s, None, None).await),
        Err(r) => r,
    }
}

/// `POST /console/reviews`: an admin starts a review now.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, _form) =
        match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let result = state
        .start_review(None, &s.actor(), &meta)
        .await
        .map(|r| {
            format!(
                "Review {} started: {} live link(s) to confirm or revoke by {}. {}",
                r.id,
                r.links,
                when(r.due_at),
                if state.config.mail.is_some() {
                    "Owners are reminded by e-mail and on these pages."
                } else {
                    "Owners are reminded on these pages (e-mail reminders need `veilmark serve --smtp`)."
                }
            )
        });
    answer(&state, &s, result).await
}

/// `POST /console/reviews/schedule`: an admin sets how often reviews start and how long
/// owners have.
pub async fn schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) =
        match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let days = |k: &str| {
        form.get(k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(|d| d.checked_mul(86_400))
    };
    let result = match (days("every_days"), days("window_days")) {
        (Some(every_secs), Some(window_secs)) => state
            .set_review_schedule(
                ReviewSchedule {
                    every_secs,
                    window_secs,
                },
                &s.actor(),
                &meta,
            )
            .await
            .map(|()| "Review schedule saved.".to_owned()),
        _ => Err(
            crate::review::ReviewError::Refused("Give both periods as whole days.".into()).into(),
        ),
    };
    answer(&state, &s, result).await
}

/// `POST /console/reviews/{id}/links/{link}`: confirm or revoke one link (`decision` field).
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path((id, link)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (s, form) = match posted_form(&state, &headers, &body, Some(Permission::ManageLinks)).await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.store.review(s.account.org, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return AppError::NotFound("review").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    let Some(decision) = form
        .get("decision")
        .and_then(ReviewDecision::parse)
        .filter(|d| *d != ReviewDecision::Expired)
    else {
        return page(
            StatusCode::BAD_REQUEST,
            render_page(&state, &s, Some("Choose confirm or revoke."), None).await,
        );
    };
    let result = state
        .decide_review(Some(&id), &link, decision, &s.actor(), &meta)
        .await
        .map(|outcome| {
            let closed = matches!(
                outcome,
                veilmark_store::review::DecideOutcome::Decided { closed: true }
            );
            format!(
                "Link {link} {decision}{}.",
                if closed {
                    "; every link is decided and the review is closed"
                } else {
                    ""
                }
            )
        });
    answer(&state, &s, result).await
}

/// `GET /console/reviews/{id}/export.csv`.
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match require(&state, &headers, Some(Permission::ReadLinks)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.review_export(Some(&id), &s.actor()).await {
        Ok((review_id, csv)) => crate::http::owner_reviews::csv_download(&review_id, csv),
        Err(e) => crate::http::owner_reviews::review_error(e).into_response(),
    }
}

/// The banner other console pages show while the member has links to decide.
pub async fn reminder(state: &AppState, s: &Session) -> Option<String> {
    if !s.account.may(Permission::ManageLinks) {
        return None;
    }
    let admin = s.account.role == Role::Admin;
    match state.review_reminder(&s.actor(), admin).await {
        Ok(Some((_, due, n))) => Some(format!(
            "Access review: {n} link(s) wait for your decision by {}.",
            when(due)
        )),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("review reminder: {e:#}");
            None
        }
    }
}
