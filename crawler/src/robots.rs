//! robots.txt (RFC 9309) parsing and matching, plus `Crawl-delay`.
//!
//! Rules: the group whose `User-agent` is the longest prefix-insensitive match of our product
//! token applies, else the `*` group; within it the longest matching `Allow`/`Disallow` path
//! wins, `Allow` on ties; `*` matches any run of characters and a trailing `$` anchors the end.
//! A robots.txt that answers 4xx means "everything allowed"; one that cannot be fetched (5xx,
//! network error) means "nothing allowed" for this run, as RFC 9309 §2.3.1.3–4 ask.

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

    /// Parses a robots.txt body for the product token of `user_agent` (text before the first
    /// `/`, case-insensitive).
    pub fn parse(body: &str, user_agent: &str) -> Robots {
        let token = user_agent
            .split('/')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // Groups: a run of user-agent lines followed by rules.
        struct Group {
            agents: Vec<String>,
            rules: Vec<Rule>,
            delay: Option<f64>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in body.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group {
                            agents: Vec::new(),
                            rules: Vec::new(),
                            delay: None,
                        });
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.agents.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        // An empty Disallow allows everything: no rule.
                        if !value.is_empty() {
                            g.rules.push(Rule {
                                allow: key == "allow",
                                pattern: value.to_string(),
                            });
                        }
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        g.delay = value
                            .parse::<f64>()
                            .ok()
                            .filter(|d| d.is_finite() && *d >= 0.0);
                    }
                }
                _ => {}
            }
        }
        let specific = groups
            .iter()
            .filter_map(|g| {
                g.agents
                    .iter()
                    .filter(|a| *a != "*" && !a.is_empty() && token.starts_with(a.as_str()))
                    .map(|a| a.len())
                    .max()
                    .map(|len| (len, g))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, g)| g);
        let chosen: Vec<&Group> = match specific {
            Some(g) => vec![g],
            None => groups
                .iter()
                .filter(|g| g.agents.iter().any(|a| a == "*"))
                .collect(),
        };
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
        if self.disallow_all {
            return path_and_query == "/robots.txt";
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

    #[test]
    fn empty_disallow_and_unreachable() {
        assert!(Robots::parse("User-agent: *\nDisallow:\n", UA).allowed("/x"));
        assert!(!Robots::disallow_all().allowed("/x"));
        assert!(Robots::allow_all().allowed("/x"));
    }
}
