//! Text values: TEXT's `%%` control codes and MTEXT's inline formatting.

/// Resolves TEXT's `%%c` (Ø), `%%d` (°), `%%p` (±), `%%%`, `%%nnn` and drops the `%%u`/`%%o`
/// underline/overline toggles; also `\U+XXXX` escapes.
pub(super) fn resolve_codes(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("%%") {
            let mut chars = after.chars();
            match chars.next().map(|c| c.to_ascii_lowercase()) {
                Some('c') => out.push('Ø'),
                Some('d') => out.push('°'),
                Some('p') => out.push('±'),
                Some('%') => out.push('%'),
                Some('u' | 'o' | 'k') => {}
                Some(d) if d.is_ascii_digit() => {
                    let digits: String = after
                        .chars()
                        .take(3)
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Some(ch) = digits.parse::<u32>().ok().and_then(char::from_u32) {
                        out.push(ch);
                    }
                    rest = &after[digits.len()..];
                    continue;
                }
                _ => {
                    out.push_str("%%");
                    rest = after;
                    continue;
                }
            }
            rest = chars.as_str();
        } else if let Some((ch, after)) = unicode_escape(rest) {
            out.push(ch);
            rest = after;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// `\U+XXXX` at the start of `s`: the character and what follows.
fn unicode_escape(s: &str) -> Option<(char, &str)> {
    let hex = s.strip_prefix("\\U+").or_else(|| s.strip_prefix("\\u+"))?;
    let digits = hex.get(..4)?;
    let ch = char::from_u32(u32::from_str_radix(digits, 16).ok()?)?;
    Some((ch, &hex[4..]))
}

/// MTEXT's value as plain lines: `\P` breaks lines, `{…}` groups and formatting codes
/// (`\f…;`, `\H…;`, `\C…;`, `\L`, …) are removed, `\S a^b;` stacks become "a/b",
/// `\~` is a space and `\\`, `\{`, `\}` are literal.
pub(super) fn mtext_lines(raw: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut chars = raw.chars().peekable();
    let push = |lines: &mut Vec<String>, c: char| {
        if let Some(line) = lines.last_mut() {
            line.push(c);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {}
            '\\' => match chars.next() {
                Some('P' | 'X') => lines.push(String::new()),
                Some('~') => push(&mut lines, ' '),
                Some(lit @ ('\\' | '{' | '}')) => push(&mut lines, lit),
                Some('U' | 'u') if chars.peek() == Some(&'+') => {
                    chars.next();
                    let digits: String = chars.by_ref().take(4).collect();
                    if let Some(ch) = u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                    {
                        push(&mut lines, ch);
                    }
                }
                Some('S') => {
                    for s in chars.by_ref().take_while(|&s| s != ';') {
                        push(&mut lines, if matches!(s, '^' | '#') { '/' } else { s });
                    }
                }
                Some('f' | 'F' | 'H' | 'W' | 'C' | 'c' | 'T' | 'Q' | 'A' | 'p') => {
                    chars.by_ref().take_while(|&s| s != ';').for_each(drop);
                }
                _ => {} // \L \l \O \o \K \k \N and unknown codes: formatting only
            },
            _ => push(&mut lines, c),
        }
    }
    lines.into_iter().map(|l| resolve_codes(&l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_codes() {
        assert_eq!(resolve_codes("4x %%c8 THRU"), "4x Ø8 THRU");
        assert_eq!(
            resolve_codes("45%%d %%p0.1 100%%% %%uU%%u"),
            "45° ±0.1 100% U"
        );
        assert_eq!(resolve_codes("%%"), "%%");
    }

    #[test]
    fn mtext_formatting() {
        assert_eq!(
            mtext_lines("{\\fArial|b1;Title}\\PSecond\\~line"),
            ["Title", "Second line"]
        );
        assert_eq!(
            mtext_lines("\\H2.5x;\\C1;1\\S1^2; in \\\\ {x}"),
            ["11/2 in \\ x"]
        );
        assert_eq!(mtext_lines("\\U+00D8"), ["Ø"]);
    }
}
