//! The console's HTML toolkit: one escaping function that every piece of text goes through, and
//! the page frame (header, navigation, external stylesheet and script; no inline code, so the
//! strict CSP in [`super::super::CSP`] holds).

use std::fmt::Write as _;

/// Escapes text for an HTML text node or a double-quoted attribute value.
///
/// Every value that did not come from a literal in this module (titles, sellers, URLs, e-mail
/// addresses, notes) goes through here before it is written into a page.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            c => out.push(c),
        }
    }
    out
}

/// `href` for a crawled URL: only `http:` and `https:` URLs become links; anything else
/// (`javascript:`, `data:`, relative paths) is `None` and is shown as text only.
#[must_use]
pub fn safe_http_url(url: &str) -> Option<String> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| esc(url))
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
}

/// A whole page: `body` is already-escaped HTML.
#[must_use]
pub fn page(title: &str, tab: Tab, who: Option<(&str, &str)>, body: &str) -> String {
    let mut nav = String::new();
    if let Some((email, csrf)) = who {
        nav.push_str("<nav aria-label=\"Console\"><ul>");
        for (t, href, label) in [
            (Tab::Documents, "/console/documents", "Documents"),
            (Tab::Links, "/console/links", "Links"),
            (Tab::Audit, "/console/audit", "Audit"),
            (Tab::Review, "/console/review", "Review hits"),
        ] {
            let cur = if t == tab {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(nav, "<li><a href=\"{href}\"{cur}>{label}</a></li>");
        }
        let _ = write!(
            nav,
            "</ul><form method=\"post\" action=\"/console/logout\" class=\"logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <span class=\"who\">{}</span> <button type=\"submit\" class=\"link\">Log out</button>\
             </form></nav>",
            esc(csrf),
            esc(email)
        );
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · Veilmark</title>\
<link rel=\"stylesheet\" href=\"/console/static/console.css\">\
<script src=\"/console/static/console.js\" defer></script></head>\
<body><header class=\"top\"><a class=\"brand\" href=\"/console\">Veilmark</a>{nav}</header>\
<main id=\"main\">{body}</main></body></html>",
        esc(title)
    )
}

/// A hidden CSRF field.
#[must_use]
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
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
            "https://a.example/?q=&quot;x&quot;"
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
