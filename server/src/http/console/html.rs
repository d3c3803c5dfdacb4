//! The console's HTML toolkit: the escaper every template uses, the page frame that
//! `templates/layout.html` draws (header, navigation, external stylesheet and script; no inline
//! code, so the strict CSP in [`super::super::CSP`] holds), and small formatting helpers.
//!
//! # How pages are built
//!
//! Every console page is an [askama](https://askama.rs) template under `server/templates/`,
//! bound to a Rust struct. Askama compiles templates into the crate, so a misspelt field or a
//! template that does not parse is a build error, and it escapes every `{{ value }}` by default:
//! a forgotten escape cannot compile into a page, and marketplace text (titles, sellers, URLs,
//! notes) is hostile. The only way out is the `|safe` filter, which is easy to grep for; the
//! console uses none (even the SVG chart is a template over numbers and escaped names).
//! maud was the alternative; askama won because its templates read as HTML, designers can edit
//! them without knowing Rust, and unescaped output is a visible, searchable `|safe`.
//!
//! Escaping is [`ConsoleHtml`] (`server/askama.toml` makes it the escaper for `.html`), not
//! askama's default: it writes the named entities the pages have always had (`&lt;`, `&quot;`,
//! `&#39;`…) and also escapes the backtick.

use std::fmt;

use askama::Template;

use crate::AppError;
use veilmark_store::{Permission, Role};

/// The HTML escaper of every console template: `& < > " ' \`` become entities, so a value is
/// safe in a text node and in a double- or single-quoted attribute.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsoleHtml;

impl askama::filters::Escaper for ConsoleHtml {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                b'`' => "&#96;",
                _ => continue,
            };
            dest.write_str(&s[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&s[last..])
    }
}

/// A rendered page as an answer with `status`, or the error's own answer.
pub fn page(
    status: axum::http::StatusCode,
    html: Result<String, AppError>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match html {
        Ok(h) => (status, axum::response::Html(h)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Renders a page template.
pub fn render(t: &impl Template) -> Result<String, AppError> {
    Ok(t.render().map_err(anyhow::Error::from)?)
}

/// `href` for a crawled URL: only `http:` and `https:` URLs become links; anything else
/// (`javascript:`, `data:`, relative paths) is `None` and is shown as text only. The URL is
/// returned as it is: the template escapes it like any other value.
#[must_use]
pub fn safe_http_url(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then_some(url)
}

/// Which navigation tab is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The login page (no navigation).
    None,
    /// Documents.
    Documents,
    /// Links.
    Links,
    /// Audit log.
    Audit,
    /// Review console.
    Review,
    /// Supplier companies: status, off-boarding, access reports.
    Suppliers,
    /// Access reviews of the live links.
    Reviews,
    /// Unusual-access alerts and webhooks.
    Alerts,
    /// Members of the organisation (admins).
    Members,
    /// The member's own account: password, second factor, API tokens.
    Account,
}

/// The page frame every template extends (`templates/layout.html`): the title, the current tab
/// and, when logged in, who is (for the navigation and the logout form).
pub struct Frame<'a> {
    /// Page title (before ` · Veilmark`).
    pub title: &'a str,
    /// The current tab.
    pub tab: Tab,
    /// The logged-in owner, if any: navigation and logout are shown only then.
    pub who: Option<Who<'a>>,
    /// A banner linking to the access review while the member has links to decide.
    pub review_reminder: Option<String>,
}

/// The logged-in member as the frame shows them.
#[derive(Clone, Copy)]
pub struct Who<'a> {
    /// E-mail address.
    pub email: &'a str,
    /// The organisation's name, shown in the header.
    pub org: &'a str,
    /// The member's role: which tabs are shown.
    pub role: Role,
    /// The CSRF token of the logout form.
    pub csrf: &'a str,
}

/// One navigation entry.
pub struct NavItem {
    /// Where it goes.
    pub href: &'static str,
    /// Its text.
    pub label: &'static str,
    /// Whether it is the current page.
    pub current: bool,
}

impl<'a> Frame<'a> {
    /// A frame; `who` as [`super::Session::who`] gives it.
    #[must_use]
    pub fn new(title: &'a str, tab: Tab, who: Option<Who<'a>>) -> Self {
        Self {
            title,
            tab,
            who,
            review_reminder: None,
        }
    }

    /// The frame with the access-review banner (`reviews::reminder` makes its text).
    #[must_use]
    pub fn with_review_reminder(mut self, reminder: Option<String>) -> Self {
        self.review_reminder = reminder;
        self
    }

    /// The navigation entries the member's role may use, the current one marked.
    #[must_use]
    pub fn nav(&self) -> Vec<NavItem> {
        let Some(who) = self.who else {
            return Vec::new();
        };
        nav_for(who.role)
            .into_iter()
            .map(|(t, href, label)| NavItem {
                href,
                label,
                current: t == self.tab,
            })
            .collect()
    }
}

/// The console's tabs a role may use, in order: `(tab, path, label)`.
#[must_use]
pub fn nav_for(role: Role) -> Vec<(Tab, &'static str, &'static str)> {
    [
        (
            Tab::Documents,
            "/console/documents",
            "Documents",
            Some(Permission::ReadDocuments),
        ),
        (
            Tab::Links,
            "/console/links",
            "Links",
            Some(Permission::ReadLinks),
        ),
        (
            Tab::Suppliers,
            "/console/suppliers",
            "Suppliers",
            Some(Permission::ReadLinks),
        ),
        (
            Tab::Reviews,
            "/console/reviews",
            "Access review",
            Some(Permission::ReadLinks),
        ),
        (
            Tab::Alerts,
            "/console/alerts",
            "Alerts",
            Some(Permission::ReadLinks),
        ),
        (
            Tab::Audit,
            "/console/audit",
            "Audit",
            Some(Permission::ReadAudit),
        ),
        (
            Tab::Review,
            "/console/review",
            "Review hits",
            Some(Permission::ReviewHits),
        ),
        (
            Tab::Members,
            "/console/members",
            "Members",
            Some(Permission::ManageMembers),
        ),
        (Tab::Account, "/console/account", "Account", None),
    ]
    .into_iter()
    .filter(|(.., p)| p.is_none_or(|p| role.permits(p)))
    .map(|(t, href, label, _)| (t, href, label))
    .collect()
}

/// Formats a byte count for people.
#[must_use]
pub fn bytes(n: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{:.1} MiB", f / (1024.0 * 1024.0))
    }
}

/// Unix seconds → `2026-11-30 12:00 UTC`.
#[must_use]
pub fn when(secs: i64) -> String {
    let s = crate::rfc3339(secs);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// `YYYY-MM-DD` → unix seconds at 00:00 UTC.
#[must_use]
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    Some(veilmark_shared::civil::days_from_civil(y, m, d) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        askama::filters::escape(s, ConsoleHtml).unwrap().to_string()
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("\"><img src=x onerror='a'>&`"),
            "&quot;&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&#96;"
        );
    }

    #[test]
    fn only_http_urls_become_links() {
        assert!(safe_http_url("javascript:alert(1)").is_none());
        assert!(safe_http_url(" JavaScript:alert(1)").is_none());
        assert!(safe_http_url("data:text/html,x").is_none());
        assert_eq!(
            safe_http_url("https://a.example/?q=\"x\"").unwrap(),
            "https://a.example/?q=\"x\""
        );
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_date("2027-01-15"), Some(1_800_000_000 - 8 * 3600));
        assert_eq!(parse_date("nope"), None);
    }
}
