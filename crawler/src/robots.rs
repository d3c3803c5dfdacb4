//! robots.txt (RFC 9309) parsing and matching, plus `Crawl-delay`.
//!
//! Rules: every group whose `User-agent` names our product token (case-insensitive; the
//! token of a line like `VeilmarkBot/1.0` is `VeilmarkBot`) applies, merged into one; if none
//! does, every `*` group, merged. Within the merged rules the longest matching `Allow` or
//! `Disallow` pattern wins, `Allow` on ties; `*` matches any run of characters and a trailing
//! `$` anchors the end. A byte-order mark is skipped, lines may end in CR, LF or CRLF, and only
//! the first [`MAX_ROBOTS_BYTES`] are read (RFC 9309 §2.5). How robots.txt is fetched (redirects,
//! 4xx, 5xx) is [`crate::robots_fetch`]'s job.
//!
//! Where this parser deliberately differs from the `texting_robots` crate (the cross-check in
//! `crawler/tests/robots.rs`): rules and `Crawl-delay` before any `User-agent` line are ignored
//! (RFC 9309 puts every rule in a group; `texting_robots` applies them to everyone), and a
//! `User-agent: VeilmarkBot/1.0` line names us (its product token is compared, as Google's
//! parser does; `texting_robots` compares the whole value).

/// How much of a robots.txt is parsed: RFC 9309 §2.5 asks for at least 500 KiB.
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;

/// The rules that apply to us on one host.
#[derive(Debug, Clone, Default)]
pub struct Robots {
    rules: Vec<Rule>,
    /// Seconds between requests asked by the site (`Crawl-delay`), if any.
    pub crawl_delay: Option<f64>,
    disallow_all: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    allow: bool,
    pattern: String,
}

/// One group as written: its user agents (lower-case product tokens) and rules.
#[derive(Default)]
struct Group {
    agents: Vec<String>,
    rules: Vec<Rule>,
    delay: Option<f64>,
}

/// The product token of a `User-agent` value or of our own user agent: the leading letters,
/// `-` and `_` (RFC 9309 §2.2.1), lower-cased; `*` stays `*`.
fn product_token(value: &str) -> String {
    let value = value.trim();
    if value.starts_with('*') {
        return "*".into();
    }
    value
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '-' || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Percent-encodes what a URL path would carry encoded (non-ASCII, controls, space), so that
/// a pattern written as `/café` matches the path `/caf%C3%A9` the URL parser produces.
fn encode_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if c.is_ascii() && !c.is_ascii_control() && c != ' ' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

impl Robots {
    /// Everything allowed (no robots.txt, or a 4xx answer).
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// Nothing allowed (robots.txt unreachable or 5xx).
    pub fn disallow_all() -> Robots {
        Robots {
            disallow_all: true,
            ..Robots::default()
        }
    }

    /// True for [`Robots::disallow_all`]: the host's robots.txt could not be read.
    pub fn is_disallow_all(&self) -> bool {
        self.disallow_all
    }

    /// Parses raw robots.txt bytes: at most [`MAX_ROBOTS_BYTES`] (cut at the last line end
    /// before the cap), a UTF-8 byte-order mark skipped, invalid UTF-8 replaced.
    pub fn parse_bytes(body: &[u8], user_agent: &str) -> Robots {
        let body = if body.len() > MAX_ROBOTS_BYTES {
            let head = &body[..MAX_ROBOTS_BYTES];
            match head.iter().rposition(|&b| b == b'\n' || b == b'\r') {
                Some(end) => &head[..end],
                None => head,
            }
        } else {
            body
        };
        Robots::parse(&String::from_utf8_lossy(body), user_agent)
    }

    /// Parses a robots.txt body for the product token of `user_agent` (its leading letters,
    /// `-` and `_`, case-insensitive: `VeilmarkBot/0.1 (…)` is `veilmarkbot`).
    pub fn parse(body: &str, user_agent: &str) -> Robots {
        let body = body.strip_prefix('\u{feff}').unwrap_or(body);
        let token = product_token(user_agent);
        // Groups: a run of user-agent lines followed by rules.
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in body.split(['\n', '\r']) {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group::default());
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.agents.push(product_token(value));
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        // An empty Disallow allows everything: no rule.
                        if !value.is_empty() {
                            g.rules.push(Rule {
                                allow: key == "allow",
                                pattern: encode_pattern(value),
                            });
                        }
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        g.delay = g.delay.or(value
                            .parse::<f64>()
                            .ok()
                            .filter(|d| d.is_finite() && *d >= 0.0));
                    }
                }
                _ => {}
            }
        }
        let names = |g: &&Group, who: &str| g.agents.iter().any(|a| a == who);
        let mut chosen: Vec<&Group> = if token.is_empty() {
            Vec::new()
        } else {
            groups.iter().filter(|g| names(g, &token)).collect()
        };
        if chosen.is_empty() {
            chosen = groups.iter().filter(|g| names(g, "*")).collect();
        }
        Robots {
            rules: chosen
                .iter()
                .flat_map(|g| g.rules.iter().cloned())
                .collect(),
            crawl_delay: chosen.iter().find_map(|g| g.delay),
            disallow_all: false,
        }
    }

    /// True when `path_and_query` (starting with `/`) may be fetched.
    pub fn allowed(&self, path_and_query: &str) -> bool {
        if path_and_query == "/robots.txt" {
            return true;
        }
        if self.disallow_all {
            return false;
        }
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.rules {
            if rule_matches(&rule.pattern, path_and_query) {
                let len = rule.pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, rule.allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

fn rule_matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let mut glob = pattern.to_string();
    if !anchored {
        glob.push('*');
    }
    crate::profile::glob_match(glob.as_bytes(), path.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "VeilmarkBot/0.1 (+test)";

    #[test]
    fn star_group_longest_match_and_allow_ties() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /private/\nAllow: /private/ok\nDisallow: /*.pdf$\nCrawl-delay: 0.5\n",
            UA,
        );
        assert!(r.allowed("/"));
        assert!(!r.allowed("/private/x"));
        assert!(r.allowed("/private/ok/1"));
        assert!(!r.allowed("/a/b.pdf"));
        assert!(r.allowed("/a/b.pdf?x=1"));
        assert_eq!(r.crawl_delay, Some(0.5));
    }

    #[test]
    fn specific_group_replaces_star() {
        let body = "User-agent: *\nDisallow: /\n\nUser-agent: OtherBot\nUser-agent: veilmarkbot\nDisallow: /secret\n";
        let r = Robots::parse(body, UA);
        assert!(r.allowed("/shop"));
        assert!(!r.allowed("/secret/1"));
        let other = Robots::parse(body, "SomeoneElse/1.0");
        assert!(!other.allowed("/shop"));
    }

    /// Issue 16 row 7: a byte-order mark must not hide the first group.
    #[test]
    fn bom_does_not_drop_the_first_group() {
        let body = "\u{feff}User-agent: *\nDisallow: /private/\n";
        assert!(!Robots::parse(body, UA).allowed("/private/x"));
        let bytes = b"\xEF\xBB\xBFUser-agent: *\r\nDisallow: /private/\r\n";
        assert!(!Robots::parse_bytes(bytes, UA).allowed("/private/x"));
    }

    /// Issue 16 row 7: two groups for the same agent are one group (RFC 9309 §2.2.1).
    #[test]
    fn repeated_groups_are_merged() {
        let body = "User-agent: VeilmarkBot\nDisallow: /a/\n\nUser-agent: other\nDisallow: /\n\nUser-agent: veilmarkbot/2.0\nDisallow: /b/\nAllow: /b/ok\n";
        let r = Robots::parse(body, UA);
        assert!(!r.allowed("/a/1"));
        assert!(!r.allowed("/b/1"));
        assert!(r.allowed("/b/ok"));
        assert!(r.allowed("/c"));
        let star = "User-agent: *\nDisallow: /a/\nUser-agent: *\nDisallow: /b/\n";
        let r = Robots::parse(star, UA);
        assert!(!r.allowed("/a/1") && !r.allowed("/b/1") && r.allowed("/c"));
    }

    /// CR-only line ends, non-ASCII patterns, and the 500 KiB cap.
    #[test]
    fn line_ends_encoding_and_cap() {
        let r = Robots::parse("User-agent: *\rDisallow: /caf\u{e9}/\r", UA);
        assert!(!r.allowed("/caf%C3%A9/menu"));
        let mut big = b"User-agent: *\nDisallow: /early/\n".to_vec();
        while big.len() < MAX_ROBOTS_BYTES + 10 {
            big.extend_from_slice(b"# padding padding padding\n");
        }
        big.extend_from_slice(b"Disallow: /late/\n");
        let r = Robots::parse_bytes(&big, UA);
        assert!(!r.allowed("/early/1"));
        assert!(r.allowed("/late/1"), "rules past the cap are not read");
    }

    #[test]
    fn empty_disallow_and_unreachable() {
        assert!(Robots::parse("User-agent: *\nDisallow:\n", UA).allowed("/x"));
        assert!(!Robots::disallow_all().allowed("/x"));
        assert!(Robots::allow_all().allowed("/x"));
    }
}
