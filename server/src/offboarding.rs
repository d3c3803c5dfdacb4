//! Off-boarding a supplier when its contract ends, and the access report for its termination
//! file (`docs/server.md#offboarding`).
//!
//! Off-boarding is one store transaction ([`crate::store::MetaStore::offboard_supplier`]): the
//! supplier is marked off-boarded and every live link of its people is revoked into the
//! revocation feed, which blanks their open viewers (this process at once, the others within a
//! second). The report lists every link the supplier's people ever had, with what they opened
//! (views, pages, first and last time, addresses), built from the links and the audit log; it
//! is written as CSV (every cell quoted and formula-guarded) and as PDF.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use serde::Serialize;
use veilmark_store::audit::csv_cell;
use veilmark_store::classification::{SupplierRecord, SupplierStatus, recipient_domain};

use crate::audit::AuditKind;
use crate::service::{Actor, ClientMeta};
use crate::{AppState, now_secs, rfc3339};

/// One link a supplier's people had, and what they did with it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccessRow {
    /// The recipient.
    pub recipient: String,
    /// The link's public id.
    pub link_id: String,
    /// The shared document.
    pub document_id: String,
    /// Its title.
    pub title: String,
    /// Its classification level.
    pub level: String,
    /// What of the document the link shared.
    pub shared: String,
    /// When the link was made, unix seconds.
    pub created_at: i64,
    /// When it expires (or expired), unix seconds.
    pub expires_at: i64,
    /// When it was revoked, unix seconds.
    pub revoked_at: Option<i64>,
    /// Licences granted (openings).
    pub views: u64,
    /// Pages the viewer reported shown, ascending.
    pub pages: Vec<u32>,
    /// First opening, unix milliseconds.
    pub first_view_ms: Option<i64>,
    /// Last activity (opening, renewal or page), unix milliseconds.
    pub last_view_ms: Option<i64>,
    /// Client addresses seen, sorted.
    pub addresses: Vec<String>,
}

/// Everything a supplier's people had access to and viewed.
#[derive(Debug, Clone, Serialize)]
pub struct AccessReport {
    /// The organisation's name.
    pub organisation: String,
    /// The supplier.
    pub supplier: SupplierRecord,
    /// When the report was made, unix seconds.
    pub generated_at: i64,
    /// Links revoked by the off-boarding this report belongs to (empty for a plain report).
    pub revoked_now: Vec<String>,
    /// One row per link, oldest first.
    pub rows: Vec<AccessRow>,
}

/// What an off-boarding did.
#[derive(Debug, Clone, Serialize)]
pub struct Offboarded {
    /// Links revoked by it.
    pub revoked: Vec<String>,
    /// The access report, made after the revocations.
    pub report: AccessReport,
}

fn ms_time(ms: Option<i64>) -> String {
    ms.map(|m| rfc3339(m.div_euclid(1000))).unwrap_or_default()
}

fn pages_text(pages: &[u32]) -> String {
    pages
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl AccessReport {
    /// The report as CSV: one header line, one line per link.
    #[must_use]
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "recipient,link,document,title,level,shared,created,expires,revoked,views,first_view,last_view,pages,addresses\n",
        );
        for r in &self.rows {
            let cells = [
                r.recipient.clone(),
                r.link_id.clone(),
                r.document_id.clone(),
                r.title.clone(),
                r.level.clone(),
                r.shared.clone(),
                rfc3339(r.created_at),
                rfc3339(r.expires_at),
                r.revoked_at.map(rfc3339).unwrap_or_default(),
                r.views.to_string(),
                ms_time(r.first_view_ms),
                ms_time(r.last_view_ms),
                pages_text(&r.pages),
                r.addresses.join(" "),
            ];
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                csv_cell(&mut out, c);
            }
            out.push('\n');
        }
        out
    }

    /// The lines the PDF shows, in order.
    fn lines(&self) -> Vec<(bool, String)> {
        let s = &self.supplier;
        let mut lines = vec![
            (
                true,
                format!("Supplier access report: {} ({})", s.name, s.domain),
            ),
            (
                false,
                format!(
                    "Organisation {}; status {}; generated {}",
                    self.organisation,
                    s.status,
                    rfc3339(self.generated_at)
                ),
            ),
            (
                false,
                format!(
                    "{} link(s) to its people; {} revoked by this off-boarding.",
                    self.rows.len(),
                    self.revoked_now.len()
                ),
            ),
            (false, String::new()),
        ];
        for r in &self.rows {
            lines.push((
                true,
                format!(
                    "{}  {}  \"{}\" ({}), {}",
                    r.link_id, r.recipient, r.title, r.level, r.shared
                ),
            ));
            lines.push((
                false,
                format!(
                    "    created {}, expires {}{}",
                    rfc3339(r.created_at),
                    rfc3339(r.expires_at),
                    r.revoked_at
                        .map(|t| format!(", revoked {}", rfc3339(t)))
                        .unwrap_or_default()
                ),
            ));
            lines.push((
                false,
                if r.views == 0 {
                    "    never opened".to_owned()
                } else {
                    format!(
                        "    {} view(s), first {}, last {}; pages {}",
                        r.views,
                        ms_time(r.first_view_ms),
                        ms_time(r.last_view_ms),
                        if r.pages.is_empty() {
                            "-".to_owned()
                        } else {
                            pages_text(&r.pages)
                        }
                    )
                },
            ));
            if !r.addresses.is_empty() {
                lines.push((false, format!("    from {}", r.addresses.join(", "))));
            }
        }
        lines
    }

    /// The report as a PDF (A4 landscape, Helvetica; characters outside printable ASCII are
    /// shown as `?`).
    #[must_use]
    pub fn pdf(&self) -> Vec<u8> {
        const W: f32 = 842.0;
        const H: f32 = 595.0;
        const MARGIN: f32 = 40.0;
        const LEADING: f32 = 13.0;
        // Lines that fit between the margins: (595 - 2 × 40) / 13.
        const PER_PAGE: usize = 39;
        let lines = self.lines();
        let pages: Vec<&[(bool, String)]> = lines.chunks(PER_PAGE).collect();

        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let mut next = 5;
        let mut page_ids = Vec::new();
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        let mut bodies = Vec::new();
        for (n, chunk) in pages.iter().enumerate() {
            let page = Ref::new(next);
            let content = Ref::new(next + 1);
            next += 2;
            page_ids.push(page);
            let mut c = Content::new();
            let mut y = H - MARGIN;
            for (strong, text) in *chunk {
                let ascii: Vec<u8> = text
                    .chars()
                    .map(|ch| {
                        if ch == ' ' || ch.is_ascii_graphic() {
                            ch as u8
                        } else {
                            b'?'
                        }
                    })
                    .collect();
                c.begin_text();
                c.set_font(Name(if *strong { b"F2" } else { b"F1" }), 9.0);
                c.next_line(MARGIN, y);
                c.show(Str(&ascii));
                c.end_text();
                y -= LEADING;
            }
            let footer = format!("page {} of {}", n + 1, pages.len());
            c.begin_text();
            c.set_font(Name(b"F1"), 8.0);
            c.next_line(W - MARGIN - 60.0, MARGIN / 2.0);
            c.show(Str(footer.as_bytes()));
            c.end_text();
            bodies.push((page, content, c.finish()));
        }
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
        for (page, content, body) in &bodies {
            let mut p = pdf.page(*page);
            p.media_box(Rect::new(0.0, 0.0, W, H));
            p.parent(tree);
            p.contents(*content);
            let mut resources = p.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), regular);
            fonts.pair(Name(b"F2"), bold);
            fonts.finish();
            resources.finish();
            p.finish();
            pdf.stream(*content, body.as_slice());
        }
        pdf.type1_font(regular).base_font(Name(b"Helvetica"));
        pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold"));
        pdf.finish()
    }
}

impl AppState {
    /// Everything the people of supplier `domain` had access to and viewed, from the links and
    /// the audit log of the actor's organisation.
    pub async fn access_report(&self, domain: &str, actor: &Actor) -> Result<AccessReport> {
        let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        let supplier = self
            .store
            .supplier(actor.org, &domain)
            .await?
            .with_context(|| format!("no supplier {domain}"))?;
        self.report_for(supplier, actor, Vec::new()).await
    }

    async fn report_for(
        &self,
        supplier: SupplierRecord,
        actor: &Actor,
        revoked_now: Vec<String>,
    ) -> Result<AccessReport> {
        let org = self.store.org(actor.org).await?;
        let docs: BTreeMap<String, (String, Option<String>)> = self
            .store
            .list_documents(actor.org)
            .await?
            .into_iter()
            .map(|d| (d.id, (d.title, d.shares)))
            .collect();
        let mut links: Vec<_> = self
            .store
            .list_links(actor.org)
            .await?
            .into_iter()
            .filter(|l| recipient_domain(&l.recipient) == supplier.domain)
            .collect();
        links.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut rows: BTreeMap<String, (AccessRow, BTreeSet<u32>, BTreeSet<String>)> = links
            .iter()
            .map(|l| {
                let row = AccessRow {
                    recipient: l.recipient.clone(),
                    link_id: l.id.clone(),
                    document_id: l.document_id.clone(),
                    title: docs
                        .get(&l.document_id)
                        .map(|d| d.0.clone())
                        .unwrap_or_default(),
                    level: l.level.clone(),
                    shared: docs
                        .get(&l.document_id)
                        .and_then(|d| d.1.clone())
                        .unwrap_or_else(|| "whole document".into()),
                    created_at: l.created_at,
                    expires_at: l.expires_at,
                    revoked_at: l.revoked_at,
                    views: 0,
                    pages: Vec::new(),
                    first_view_ms: None,
                    last_view_ms: None,
                    addresses: Vec::new(),
                };
                (l.id.clone(), (row, BTreeSet::new(), BTreeSet::new()))
            })
            .collect();
        // A page at a time, so a long log is never held whole.
        let mut after = 0;
        loop {
            let (page, next) = self.store.audit_range(Some(actor.org), after, 1000).await?;
            if page.is_empty() {
                break;
            }
            after = next;
            for e in &page {
                let Some((row, pages, addrs)) = e.link_id.as_ref().and_then(|id| rows.get_mut(id))
                else {
                    continue;
                };
                let seen = match e.kind.as_str() {
                    "grant" => {
                        row.views += 1;
                        row.first_view_ms.get_or_insert(e.at_ms);
                        true
                    }
                    "renew" => true,
                    "page-view" => {
                        if let Some(p) = e.detail.strip_prefix("page ").and_then(|p| p.parse().ok())
                        {
                            pages.insert(p);
                        }
                        true
                    }
                    _ => false,
                };
                if seen {
                    row.last_view_ms = Some(row.last_view_ms.map_or(e.at_ms, |l| l.max(e.at_ms)));
                    if let Some(ip) = &e.ip {
                        addrs.insert(ip.clone());
                    }
                }
            }
        }
        let mut rows: Vec<AccessRow> = rows
            .into_values()
            .map(|(mut row, pages, addrs)| {
                row.pages = pages.into_iter().collect();
                row.addresses = addrs.into_iter().collect();
                row
            })
            .collect();
        rows.sort_by(|a, b| (a.created_at, &a.link_id).cmp(&(b.created_at, &b.link_id)));
        Ok(AccessReport {
            organisation: org.name,
            supplier,
            generated_at: now_secs(),
            revoked_now,
            rows,
        })
    }

    /// Off-boards supplier `domain` (known or not): marks it off-boarded and revokes every
    /// live link of its people in one transaction, tells open viewers, and returns the access
    /// report for the termination file. Audited with the revoked links.
    pub async fn offboard_supplier(
        &self,
        domain: &str,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<Offboarded> {
        let domain = crate::classification::supplier_domain(domain)?;
        let existing = self.store.supplier(actor.org, &domain).await?;
        let record = SupplierRecord {
            name: existing
                .as_ref()
                .map_or_else(|| domain.clone(), |s| s.name.clone()),
            domain,
            status: SupplierStatus::Offboarded,
            changed_at: now_secs(),
        };
        let describe = |ids: &[String]| {
            actor.entry(
                meta,
                AuditKind::Supplier,
                format!(
                    "{} ({}): off-boarded{}; {} live link(s) revoked{}",
                    record.name,
                    record.domain,
                    existing
                        .as_ref()
                        .map(|e| format!(", was {}", e.status))
                        .unwrap_or_default(),
                    ids.len(),
                    if ids.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", ids.join(", "))
                    }
                ),
            )
        };
        let revoked = self
            .store
            .offboard_supplier(actor.org, &record, record.changed_at, &describe)
            .await?;
        for id in &revoked {
            let _ = self.revocations.send(id.clone());
        }
        let report = self.report_for(record, actor, revoked.clone()).await?;
        Ok(Offboarded { revoked, report })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> AccessReport {
        AccessReport {
            organisation: "Brand".into(),
            supplier: SupplierRecord {
                domain: "acme.example".into(),
                name: "Acme Machining".into(),
                status: SupplierStatus::Offboarded,
                changed_at: 0,
            },
            generated_at: 86_400,
            revoked_now: vec!["lnk_1".into()],
            rows: vec![AccessRow {
                recipient: "bob@acme.example".into(),
                link_id: "lnk_1".into(),
                document_id: "d".repeat(32),
                title: "=HYPERLINK(\"x\") Gearbox – rev B".into(),
                level: "Confidential".into(),
                shared: "whole document".into(),
                created_at: 0,
                expires_at: 7 * 86_400,
                revoked_at: Some(86_400),
                views: 2,
                pages: vec![1, 3],
                first_view_ms: Some(1_000),
                last_view_ms: Some(60_000),
                addresses: vec!["192.0.2.7".into()],
            }],
        }
    }

    #[test]
    fn the_csv_quotes_every_cell_and_defuses_formulas() {
        let csv = report().csv();
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("recipient,link,document,title")
        );
        let row = lines.next().unwrap();
        assert!(
            row.contains(r#""'=HYPERLINK(""x"") Gearbox – rev B""#),
            "{row}"
        );
        assert!(
            row.contains(r#""1 3""#) && row.contains(r#""192.0.2.7""#),
            "{row}"
        );
        assert!(row.contains(r#""1970-01-02T00:00:00Z""#), "{row}");
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn the_pdf_is_a_pdf_with_every_link_on_it() {
        let pdf = report().pdf();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
        // Content streams are not compressed: the text is in the file as written.
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains("Supplier access report: Acme Machining"),
            "{text}"
        );
        assert!(text.contains("lnk_1  bob@acme.example"));
        assert!(text.contains("Gearbox ? rev B"), "non-ASCII is shown as ?");
        assert!(text.contains("first 1970-01-01T00:00:01Z"));
        assert!(text.contains("page 1 of 1"));
        // Many links are spread over pages.
        let mut big = report();
        big.rows = (0..200).map(|_| report().rows[0].clone()).collect();
        let big = String::from_utf8_lossy(&big.pdf()).into_owned();
        assert!(
            big.contains("page 2 of ") && !big.contains("page 1 of 1)"),
            "paginated"
        );
    }
}
