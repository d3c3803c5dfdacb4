//! The console's form bodies (`application/x-www-form-urlencoded`), parsed here rather than in
//! the server so that the parser of these untrusted bytes is pure, shared and fuzzed on its own
//! (`fuzz/fuzz_targets/console_form.rs`) without building the server.

/// A body that is not `application/x-www-form-urlencoded`.
#[derive(Debug, thiserror::Error)]
#[error("malformed form: {0}")]
pub struct FormError(String);

/// A form body as ordered key/value pairs (repeated keys kept, for checkboxes).
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`.
    ///
    /// # Errors
    /// [`FormError`] when the body cannot be decoded as form pairs (bytes that are not UTF-8
    /// after percent-decoding are replaced with U+FFFD, not refused).
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        serde_urlencoded::from_bytes(body)
            .map(Self)
            .map_err(|e| FormError(e.to_string()))
    }

    /// First value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All values of `key`.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Form;

    #[test]
    fn repeated_keys_are_kept_in_order_and_bad_bytes_are_replaced() {
        let f = Form::parse(b"id=1&csrf=x%20y&id=2").unwrap();
        assert_eq!(f.get("csrf"), Some("x y"));
        assert_eq!(f.all("id").collect::<Vec<_>>(), ["1", "2"]);
        // Bytes that are not UTF-8 after percent-decoding become U+FFFD, never a panic.
        let bad = Form::parse(b"a=%FF%FE&b").unwrap();
        assert_eq!(bad.get("a"), Some("\u{FFFD}\u{FFFD}"));
        assert_eq!(bad.get("b"), Some(""));
    }
}
