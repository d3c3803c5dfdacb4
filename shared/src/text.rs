//! Untrusted text (crawled listings, names and addresses from the network) made safe to store
//! and to show.
//!
//! A crawled seller name can carry terminal escape sequences (`ESC ] 52` writes the clipboard,
//! `ESC [ 2 J` clears the screen) or bidirectional overrides that make `gpj.exe` read as
//! `exe.jpg`; a title can be megabytes long. Two tools, used at the two borders:
//! - [`clean_field`] when the text comes in: controls and bidi overrides removed, whitespace
//!   collapsed, length bounded in characters;
//! - [`escape_for_terminal`] when any untrusted text goes out to a terminal: every control and
//!   bidi character shown as a visible `\u{…}` escape, so nothing reaches the terminal that it
//!   would act on, and what was there is still visible to the analyst.

use std::borrow::Cow;

/// True for characters a terminal or a text renderer acts on rather than shows: C0 and C1
/// controls, DEL, the bidirectional embeddings, overrides, isolates and marks, and the line
/// and paragraph separators.
#[must_use]
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' // Arabic letter mark
                | '\u{200E}' | '\u{200F}' // LRM, RLM
                | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
                | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
                | '\u{2028}' | '\u{2029}' // line and paragraph separators
        )
}

/// `text` cleaned for storage: whitespace controls (tab, newline, …) become spaces, other
/// controls and bidi characters are dropped, runs of whitespace become one space, both ends are
/// trimmed, and the result is cut to at most `max_chars` characters (the last one `…` when cut).
/// Reads no further into `text` than it needs, so a 5 MB title costs little.
#[must_use]
pub fn clean_field(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = count > 0;
            continue;
        }
        if is_hidden_control(c) {
            continue;
        }
        let need = usize::from(pending_space) + 1;
        if count + need > max_chars {
            // Cut: replace the last character kept (if any room) with an ellipsis.
            if max_chars > 0 {
                if count == max_chars {
                    out.pop();
                    if out.ends_with(' ') {
                        out.pop();
                    }
                }
                out.push('…');
            }
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// `text` safe to print on a terminal: each control or bidi character (see
/// [`is_hidden_control`]) and each backslash written as a visible escape (`\u{1b}`, `\\`);
/// everything else unchanged. Borrowed when there was nothing to escape.
#[must_use]
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hidden_control(c) || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hidden_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_field_strips_and_bounds() {
        assert_eq!(
            clean_field("  Bob\x1b[2J\u{202e}gpj.exe \n\t x ", 100),
            "Bob[2Jgpj.exe x"
        );
        assert_eq!(clean_field("abcdef", 4), "abc…");
        assert_eq!(clean_field("ab cdef", 3), "ab…");
        assert_eq!(clean_field("abc", 3), "abc");
        assert_eq!(clean_field("", 3), "");
        assert_eq!(clean_field("abc", 0), "");
        let huge = "é".repeat(5_000_000);
        let t = clean_field(&huge, 300);
        assert_eq!(t.chars().count(), 300);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn escape_for_terminal_shows_what_was_there() {
        assert!(matches!(
            escape_for_terminal("plain café"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            escape_for_terminal("a\x1b]52;c;SGVsbG8=\x07b\u{202e}c\\"),
            "a\\u{1b}]52;c;SGVsbG8=\\u{7}b\\u{202e}c\\\\"
        );
        assert_eq!(escape_for_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert!(!escape_for_terminal("x\ny\r").contains(['\n', '\r']));
    }
}
