//! Access reviews (`docs/server.md#reviews`): on its schedule (quarterly by default) each
//! organisation puts every live link before the member who made it, who confirms or revokes it
//! by the due date; links nobody confirmed are revoked then. Owners are reminded by e-mail when
//! a review starts and again near its due date, and in the console.
//!
//! The rules and records are `veilmark_store::review`'s; this module checks who may decide
//! what, writes the audit entries, and runs the review task ([`AppState::spawn_review_task`]):
//! every [`crate::Config::review_tick`] it starts the reviews the schedules call for, closes
//! due ones (their revocations reach open viewers through the revocation feed) and sends the
//! reminders it claimed from the store, so that with several replicas each goes out once.

use anyhow::Result;
use thiserror::Error;
use veilmark_store::Role;
use veilmark_store::audit::NewAuditEntry;
use veilmark_store::review::{
    ClosedReview, DecideOutcome, NewReview, Reminder, ReminderKind, ReviewDecision, ReviewItem,
    ReviewRecord, ReviewSchedule, review_csv,
};
use veilmark_store::tenancy::OrgId;

use crate::audit::AuditKind;
use crate::mail::Mailer;
use crate::service::{Actor, ClientMeta};
use crate::{AppState, now_ms, now_secs, rfc3339, secrets};

/// A review request that cannot be done, with what to do instead.
#[derive(Debug, Error)]
pub enum ReviewError {
    /// No such review (or not this organisation's), or the link is not in it.
    #[error("{0}")]
    NotFound(&'static str),
    /// Refused: the member may not decide another owner's link, or the request makes no sense.
    #[error("{0}")]
    Refused(String),
    /// Conflicts with the current state: a review is already open, the link was decided, the
    /// review is closed, no review is open.
    #[error("{0}")]
    Conflict(String),
}

/// A review with its links.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewStatus {
    /// The review and its counts.
    pub review: ReviewRecord,
    /// Its links, by owner then age.
    pub items: Vec<ReviewItem>,
}

/// What one run of the review task did.
#[derive(Debug, Clone, Default)]
pub struct ReviewTick {
    /// Reviews started by the schedule.
    pub started: Vec<String>,
    /// Reviews closed at their due date.
    pub closed: Vec<ClosedReview>,
    /// Reminders sent: (to, review, kind).
    pub reminded: Vec<(String, String, ReminderKind)>,
}

fn new_review_id() -> Result<String> {
    Ok(format!("rev_{}", hex::encode(secrets::random::<8>()?)))
}

impl AppState {
    /// The organisation's review schedule.
    ///
    /// # Errors
    /// The store failing.
    pub async fn review_schedule(&self, actor: &Actor) -> Result<ReviewSchedule> {
        self.store.review_schedule(actor.org).await
    }

    /// Sets the organisation's review schedule (`every_secs` 0: reviews only by hand).
    ///
    /// # Errors
    /// [`ReviewError::Refused`] for a schedule that makes no sense; the store failing.
    pub async fn set_review_schedule(
        &self,
        schedule: ReviewSchedule,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<()> {
        schedule.check().map_err(ReviewError::Refused)?;
        let entry = actor.entry(
            meta,
            AuditKind::Settings,
            format!(
                "access reviews: {}, {} to decide",
                if schedule.every_secs == 0 {
                    "started by hand only".to_owned()
                } else {
                    format!(
                        "every {}",
                        veilmark_store::classification::duration(schedule.every_secs)
                    )
                },
                veilmark_store::classification::duration(schedule.window_secs)
            ),
        );
        self.store
            .set_review_schedule(actor.org, schedule, &entry)
            .await
    }

    /// Starts a review of every live link of the actor's organisation, due `window_secs` from
    /// now (default: the schedule's window).
    ///
    /// # Errors
    /// [`ReviewError::Refused`] when one is open already or the window makes no sense; the
    /// store failing.
    pub async fn start_review(
        &self,
        window_secs: Option<i64>,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<ReviewRecord> {
        let schedule = self.store.review_schedule(actor.org).await?;
        let window = window_secs.unwrap_or(schedule.window_secs);
        if !(1..=366 * 86_400).contains(&window) {
            return Err(ReviewError::Refused(
                "a review must be due between a second and a year from now".into(),
            )
            .into());
        }
        let id = self
            .begin_review(actor.org, window, &actor.name, &|n| {
                actor.entry(
                    meta,
                    AuditKind::Review,
                    started_detail(n, now_secs() + window),
                )
            })
            .await?
            .ok_or_else(|| {
                ReviewError::Conflict(
                    "an access review is already open; decide its links or wait for its due date"
                        .into(),
                )
            })?;
        Ok(self
            .store
            .review(actor.org, &id)
            .await?
            .ok_or(ReviewError::NotFound("review"))?)
    }

    async fn begin_review(
        &self,
        org: OrgId,
        window: i64,
        by: &str,
        audit: &(dyn Fn(i64) -> NewAuditEntry + Send + Sync),
    ) -> Result<Option<String>> {
        let now = now_secs();
        let review = NewReview {
            id: new_review_id()?,
            started_at: now,
            due_at: now + window,
            started_by: by.to_owned(),
        };
        Ok(self
            .store
            .start_review(org, &review, audit)
            .await?
            .map(|_| review.id))
    }

    /// The organisation's reviews, newest first.
    ///
    /// # Errors
    /// The store failing.
    pub async fn reviews(&self, actor: &Actor) -> Result<Vec<ReviewRecord>> {
        self.store.reviews(actor.org).await
    }

    /// Review `id` (default: the open one, else the latest) with its links; `None` when the
    /// organisation has had no review.
    ///
    /// # Errors
    /// [`ReviewError::NotFound`] for an id that is not the organisation's; the store failing.
    pub async fn review_status(
        &self,
        id: Option<&str>,
        actor: &Actor,
    ) -> Result<Option<ReviewStatus>> {
        let reviews = self.store.reviews(actor.org).await?;
        let review = match id {
            Some(id) => Some(
                reviews
                    .into_iter()
                    .find(|r| r.id == id)
                    .ok_or(ReviewError::NotFound("review"))?,
            ),
            None => {
                let open = reviews.iter().position(|r| r.closed_at.is_none());
                match open {
                    Some(i) => reviews.into_iter().nth(i),
                    None => reviews.into_iter().next(),
                }
            }
        };
        let Some(review) = review else {
            return Ok(None);
        };
        let items = self.store.review_items(actor.org, &review.id).await?;
        Ok(Some(ReviewStatus { review, items }))
    }

    /// A review as CSV (`veilmark review export`, the console's and the API's download).
    ///
    /// # Errors
    /// As [`AppState::review_status`]; [`ReviewError::NotFound`] when there is no review.
    pub async fn review_export(&self, id: Option<&str>, actor: &Actor) -> Result<(String, String)> {
        let status = self
            .review_status(id, actor)
            .await?
            .ok_or(ReviewError::NotFound("review"))?;
        Ok((
            status.review.id.clone(),
            review_csv(&status.review, &status.items, &rfc3339),
        ))
    }

    /// Records the actor's decision on `link_id` in the open review (or review `id`): confirm
    /// keeps the link, revoke revokes it (open viewers blank at once). A member decides the
    /// links they made; admins and the operator decide any.
    ///
    /// # Errors
    /// [`ReviewError`] when the link is not in the review, was decided, the review is closed,
    /// or the link is another member's; the store failing.
    pub async fn decide_review(
        &self,
        id: Option<&str>,
        link_id: &str,
        decision: ReviewDecision,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<DecideOutcome> {
        if decision == ReviewDecision::Expired {
            return Err(ReviewError::Refused("decide confirm or revoke".into()).into());
        }
        let review_id = match id {
            Some(id) => id.to_owned(),
            None => self
                .store
                .reviews(actor.org)
                .await?
                .into_iter()
                .find(|r| r.closed_at.is_none())
                .map(|r| r.id)
                .ok_or_else(|| ReviewError::Conflict("no access review is open".into()))?,
        };
        let items = self.store.review_items(actor.org, &review_id).await?;
        let item = items
            .iter()
            .find(|i| i.link_id == link_id)
            .ok_or(ReviewError::NotFound("link in this review"))?;
        let is_admin = match actor.account_id {
            None => true,
            Some(id) => self
                .store
                .account(actor.org, id)
                .await?
                .is_some_and(|a| a.role == Role::Admin),
        };
        if !is_admin && !item.owner.eq_ignore_ascii_case(&actor.name) {
            return Err(ReviewError::Refused(format!(
                "link {link_id} is {}'s to decide (or an admin's)",
                if item.owner.is_empty() {
                    "an admin"
                } else {
                    item.owner.as_str()
                }
            ))
            .into());
        }
        let entry = NewAuditEntry {
            link_id: Some(link_id.to_owned()),
            ..actor.entry(
                meta,
                AuditKind::Review,
                format!(
                    "{review_id}: {decision} link to {} ({})",
                    item.recipient, item.title
                ),
            )
        };
        let outcome = self
            .store
            .decide_review(
                actor.org,
                &review_id,
                link_id,
                decision,
                &actor.name,
                now_secs(),
                &entry,
            )
            .await?;
        match &outcome {
            DecideOutcome::Decided { .. } => {
                if decision == ReviewDecision::Revoked {
                    let _ = self.revocations.send(link_id.to_owned());
                }
                Ok(outcome)
            }
            DecideOutcome::NotInReview => Err(ReviewError::NotFound("link in this review").into()),
            DecideOutcome::AlreadyDecided(d) => Err(ReviewError::Conflict(format!(
                "link {link_id} was {d} already in {review_id}"
            ))
            .into()),
            DecideOutcome::Closed => {
                Err(ReviewError::Conflict(format!("review {review_id} is closed")).into())
            }
        }
    }

    /// What the console shows a member: the open review's due date and how many of their
    /// links (any, for admins) wait for a decision; `None` when nothing waits.
    ///
    /// # Errors
    /// The store failing.
    pub async fn review_reminder(
        &self,
        actor: &Actor,
        admin: bool,
    ) -> Result<Option<(String, i64, i64)>> {
        let Some(open) = self
            .store
            .reviews(actor.org)
            .await?
            .into_iter()
            .find(|r| r.closed_at.is_none())
        else {
            return Ok(None);
        };
        let items = self.store.review_items(actor.org, &open.id).await?;
        let waiting = items
            .iter()
            .filter(|i| i.decision.is_none())
            .filter(|i| admin || i.owner.eq_ignore_ascii_case(&actor.name))
            .count();
        Ok((waiting > 0).then(|| {
            (
                open.id,
                open.due_at,
                i64::try_from(waiting).unwrap_or(i64::MAX),
            )
        }))
    }

    /// One run of the review task: starts scheduled reviews, closes due ones, sends reminders
    /// (with `mailer`; without one they are claimed and logged as not sent).
    ///
    /// # Errors
    /// The store failing; a failed e-mail is logged and does not stop the others.
    pub async fn review_tick(&self, mailer: Option<&Mailer>) -> Result<ReviewTick> {
        let mut tick = ReviewTick::default();
        let now = now_secs();
        for (org, schedule) in self.store.orgs_due_for_review(now).await? {
            let due = now + schedule.window_secs;
            let started = self
                .begin_review(org, schedule.window_secs, "schedule", &|n| NewAuditEntry {
                    org: Some(org),
                    actor: Some("schedule".into()),
                    ..NewAuditEntry::new(AuditKind::Review, now_ms(), started_detail(n, due))
                })
                .await?;
            tick.started.extend(started);
        }
        let closed = self
            .store
            .close_due_reviews(now, &|c| NewAuditEntry {
                org: Some(c.org),
                actor: Some("due date".into()),
                ..NewAuditEntry::new(
                    AuditKind::Review,
                    now_ms(),
                    format!(
                        "{}: closed at its due date; {} unconfirmed link(s) revoked{}",
                        c.review_id,
                        c.expired.len(),
                        if c.expired.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", c.expired.join(", "))
                        }
                    ),
                )
            })
            .await?;
        for c in &closed {
            for link in &c.expired {
                let _ = self.revocations.send(link.clone());
            }
        }
        tick.closed = closed;
        for reminder in self.store.claim_reminders(now).await? {
            let recipients = self.reminder_recipients(&reminder).await?;
            let mut sent = 0;
            for to in &recipients {
                match mailer {
                    Some(m) => {
                        let (subject, body) = self.reminder_text(&reminder).await?;
                        match m.send(to, &subject, &body).await {
                            Ok(()) => {
                                sent += 1;
                                tick.reminded.push((
                                    to.clone(),
                                    reminder.review_id.clone(),
                                    reminder.kind,
                                ));
                            }
                            Err(e) => {
                                tracing::warn!("access review reminder to {to} not sent: {e:#}")
                            }
                        }
                    }
                    None => tracing::info!(
                        "access review {}: {} reminder for {to} not sent (no --smtp)",
                        reminder.review_id,
                        reminder.kind.as_str()
                    ),
                }
            }
            // Nobody got it: give the claim back, so that the next run tries again.
            if mailer.is_some() && sent == 0 && !recipients.is_empty() {
                self.store.release_reminder(&reminder).await?;
            }
        }
        Ok(tick)
    }

    /// The reminder goes to the link's owner when that is a member; links made by the
    /// operator's command line (or before reviews) go to the organisation's admins.
    async fn reminder_recipients(&self, r: &Reminder) -> Result<Vec<String>> {
        if let Some(a) = self.store.account_by_email(&r.owner).await?
            && a.org == r.org
        {
            return Ok(vec![a.email]);
        }
        Ok(self
            .store
            .list_accounts(r.org)
            .await?
            .into_iter()
            .filter(|a| a.role == Role::Admin)
            .map(|a| a.email)
            .collect())
    }

    async fn reminder_text(&self, r: &Reminder) -> Result<(String, String)> {
        let org = self.store.org(r.org).await?;
        let due = rfc3339(r.due_at);
        let subject = match r.kind {
            ReminderKind::Started => format!(
                "Access review: {} link(s) to confirm by {}",
                r.undecided,
                &due[..10]
            ),
            ReminderKind::DueSoon => format!(
                "Access review due {}: {} link(s) still undecided",
                &due[..10],
                r.undecided
            ),
        };
        let body = format!(
            "{org} is reviewing who can still open its shared documents (review {id}).\n\n\
             {n} link(s) you are responsible for wait for your decision. Confirm each link \
             that is still needed or revoke it by {due}; links not confirmed by then are revoked.\n\n\
             Review them in the console: {url}/console/reviews\n",
            org = org.name,
            id = r.review_id,
            n = r.undecided,
            url = self.config.public_url.trim_end_matches('/'),
        );
        Ok((subject, body))
    }

    /// Runs [`AppState::review_tick`] every [`crate::Config::review_tick`] until the process
    /// ends; e-mail goes through `--smtp` when configured.
    pub fn spawn_review_task(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let mailer = match state.config.mail.as_ref().map(Mailer::new) {
                Some(Ok(m)) => Some(m),
                Some(Err(e)) => {
                    tracing::error!("access review e-mail disabled: {e:#}");
                    None
                }
                None => None,
            };
            let mut every = tokio::time::interval(state.config.review_tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match state.review_tick(mailer.as_ref()).await {
                    Ok(t) => {
                        for id in &t.started {
                            tracing::info!("access review {id} started by the schedule");
                        }
                        for c in &t.closed {
                            tracing::info!(
                                "access review {} closed: {} link(s) revoked",
                                c.review_id,
                                c.expired.len()
                            );
                        }
                    }
                    Err(e) => tracing::warn!("access review task: {e:#}"),
                }
            }
        })
    }
}

fn started_detail(links: i64, due: i64) -> String {
    format!(
        "review started: {links} live link(s) to confirm or revoke by {}",
        rfc3339(due)
    )
}
