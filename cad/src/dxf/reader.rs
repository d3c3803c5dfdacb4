//! DXF's tagged-data layer: a stream of (group code, value) pairs, two lines each.

use crate::model::CadError;

use super::FORMAT;

/// One group: a code saying what the value is, and the value's text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group<'a> {
    /// Group code (0 starts an entity, 10/20 are x/y, 62 is colour …).
    pub code: i32,
    /// The value line, without its line break.
    pub value: &'a str,
    /// 1-based line number of the code line, for error messages.
    pub line: usize,
}

impl Group<'_> {
    /// True for a `0` group with the given value, e.g. `is(0, "ENDSEC")`.
    pub fn is_marker(&self, value: &str) -> bool {
        self.code == 0 && self.value.trim() == value
    }

    /// The value as a finite number.
    pub fn number(&self) -> Result<f64, CadError> {
        let v: f64 = self
            .value
            .trim()
            .parse()
            .map_err(|_| self.error("is not a number"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.error("is not a finite number"))
        }
    }

    /// The value as an integer (DXF writes flags and colours as integers).
    pub fn integer(&self) -> Result<i64, CadError> {
        self.value
            .trim()
            .parse()
            .map_err(|_| self.error("is not an integer"))
    }

    /// The value as a name (layer, block): surrounding blanks removed.
    pub fn name(&self) -> &str {
        self.value.trim()
    }

    fn error(&self, what: &str) -> CadError {
        let shown: String = self.value.trim().chars().take(40).collect();
        CadError::Malformed {
            format: FORMAT,
            reason: format!(
                "line {}: group {} value '{shown}' {what}",
                self.line + 1,
                self.code
            ),
        }
    }
}

/// Reads groups one at a time with one group of look-ahead; never allocates per group.
pub(super) struct GroupReader<'a> {
    lines: std::str::Split<'a, char>,
    line: usize,
    peeked: Option<Group<'a>>,
}

impl<'a> GroupReader<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            lines: text.split('\n'),
            line: 0,
            peeked: None,
        }
    }

    fn read(&mut self) -> Result<Option<Group<'a>>, CadError> {
        let Some(code_line) = self.lines.next() else {
            return Ok(None);
        };
        self.line += 1;
        let code_text = code_line.trim();
        if code_text.is_empty() && self.lines.clone().next().is_none() {
            return Ok(None); // the final line break
        }
        // A file cut off between a code and its value ends here.
        let Some(value) = self.lines.next() else {
            return Ok(None);
        };
        self.line += 1;
        let code = code_text.parse().map_err(|_| CadError::Malformed {
            format: FORMAT,
            reason: format!(
                "line {}: '{}' is not a group code",
                self.line - 1,
                code_text.chars().take(40).collect::<String>()
            ),
        })?;
        Ok(Some(Group {
            code,
            value: value.strip_suffix('\r').unwrap_or(value),
            line: self.line - 2,
        }))
    }

    /// The next group, consuming it.
    pub fn next_group(&mut self) -> Result<Option<Group<'a>>, CadError> {
        match self.peeked.take() {
            Some(g) => Ok(Some(g)),
            None => self.read(),
        }
    }

    /// The next group, leaving it to be read again.
    pub fn peek(&mut self) -> Result<Option<Group<'a>>, CadError> {
        if self.peeked.is_none() {
            self.peeked = self.read()?;
        }
        Ok(self.peeked)
    }

    /// The groups up to (not including) the next `0` group: one entity's or record's body.
    pub fn body(&mut self) -> Result<Vec<Group<'a>>, CadError> {
        let mut out = Vec::new();
        while let Some(g) = self.peek()? {
            if g.code == 0 {
                break;
            }
            out.push(g);
            self.peeked = None;
        }
        Ok(out)
    }
}
