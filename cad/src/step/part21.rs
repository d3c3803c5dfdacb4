//! The ISO 10303-21 exchange structure ("Part 21", the text form of a STEP file) as records.
//!
//! This is the only place that looks at bytes: the rest of the loader works on [`Exchange`],
//! a map from instance id (`#12`) to [`Entity`]. The parser is a hand-written recursive descent
//! over bytes with bounded list nesting ([`MAX_DEPTH`]); every entity costs at least a few input
//! bytes, so memory grows linearly with the file. Header entities are parsed (to reject broken
//! files early) and dropped.
//!
//! Strings decode `''` and the ISO 10303-21 control directives `\X2\…\X0\` (UTF-16),
//! `\X4\…\X0\` (UTF-32), `\X\hh` (ISO 8859-1), `\S\c` and `\\`; `\P?\` page switches are dropped.

use std::collections::BTreeMap;

use crate::CadError;

/// Deepest list nesting accepted (real files nest three or four levels: B-spline surfaces).
pub const MAX_DEPTH: usize = 32;

/// One parameter of an entity record.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer, e.g. `3`.
    Int(i64),
    /// A real, e.g. `1.E-07`.
    Real(f64),
    /// A string, decoded.
    Str(String),
    /// An enumeration value without its dots, e.g. `T` for `.T.`.
    Enum(String),
    /// A reference to another instance, `#n`.
    Ref(u64),
    /// `$`: no value.
    Null,
    /// `*`: derived value.
    Derived,
    /// A binary value `"0FF"`, kept as its text.
    Binary(String),
    /// A list, `( … )`.
    List(Vec<Param>),
    /// A typed value, e.g. `LENGTH_MEASURE(1.)`.
    Typed(String, Box<Param>),
}

impl Param {
    /// The value as a number (integers and typed numbers included).
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(
                clippy::cast_precision_loss,
                reason = "STEP integers used as reals are small"
            )]
            Param::Int(i) => Some(*i as f64),
            Param::Real(r) => Some(*r),
            Param::Typed(_, inner) => inner.as_f64(),
            _ => None,
        }
    }

    /// The value as an integer.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Param::Int(i) => Some(*i),
            Param::Typed(_, inner) => inner.as_i64(),
            _ => None,
        }
    }

    /// The referenced instance id.
    #[must_use]
    pub fn as_ref_id(&self) -> Option<u64> {
        match self {
            Param::Ref(r) => Some(*r),
            _ => None,
        }
    }

    /// The list's items.
    #[must_use]
    pub fn as_list(&self) -> Option<&[Param]> {
        match self {
            Param::List(l) => Some(l),
            _ => None,
        }
    }

    /// The string's text.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Param::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The enumeration value, e.g. `METRE`.
    #[must_use]
    pub fn as_enum(&self) -> Option<&str> {
        match self {
            Param::Enum(s) => Some(s),
            _ => None,
        }
    }

    /// `.T.` or `.F.` as a boolean.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_enum()? {
            "T" => Some(true),
            "F" => Some(false),
            _ => None,
        }
    }
}

/// An entity name with its parameters, e.g. `CARTESIAN_POINT('',(0.,0.,0.))`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Upper-case entity name.
    pub name: String,
    /// Parameters in order.
    pub params: Vec<Param>,
}

impl Record {
    /// Parameter `i`, if present.
    #[must_use]
    pub fn param(&self, i: usize) -> Option<&Param> {
        self.params.get(i)
    }
}

/// An instance: one record, or several for a complex (multi-leaf) entity `(A(..) B(..))`.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    /// `#1 = NAME(...);`
    Simple(Record),
    /// `#1 = (A(...) B(...));`
    Complex(Vec<Record>),
}

impl Entity {
    /// The record with `name`: the simple record when its name matches, or that leaf of a
    /// complex entity.
    #[must_use]
    pub fn record(&self, name: &str) -> Option<&Record> {
        match self {
            Entity::Simple(r) => (r.name == name).then_some(r),
            Entity::Complex(rs) => rs.iter().find(|r| r.name == name),
        }
    }

    /// The simple record's name, or `None` for a complex entity.
    #[must_use]
    pub fn simple_name(&self) -> Option<&str> {
        match self {
            Entity::Simple(r) => Some(&r.name),
            Entity::Complex(_) => None,
        }
    }

    /// The simple record.
    #[must_use]
    pub fn simple(&self) -> Option<&Record> {
        match self {
            Entity::Simple(r) => Some(r),
            Entity::Complex(_) => None,
        }
    }
}

/// The DATA section(s) of a Part 21 file.
#[derive(Debug, Default)]
pub struct Exchange {
    /// Instances by id.
    pub entities: BTreeMap<u64, Entity>,
}

impl Exchange {
    /// The instance `#id`.
    #[must_use]
    pub fn get(&self, id: u64) -> Option<&Entity> {
        self.entities.get(&id)
    }

    /// The simple record of `#id` when it has the given name.
    #[must_use]
    pub fn record(&self, id: u64, name: &str) -> Option<&Record> {
        self.get(id)?.record(name)
    }
}

fn malformed(reason: impl Into<String>) -> CadError {
    CadError::Malformed {
        format: "STEP",
        reason: reason.into(),
    }
}

/// Parses a Part 21 file.
///
/// # Errors
/// [`CadError::Malformed`] when the bytes are not an ISO-10303-21 exchange structure.
pub fn parse(bytes: &[u8]) -> Result<Exchange, CadError> {
    let mut p = Parser { b: bytes, pos: 0 };
    p.skip_space()?;
    if !p.eat_keyword(b"ISO-10303-21") {
        return Err(malformed("the file does not start with ISO-10303-21;"));
    }
    p.expect(b';')?;
    let mut exchange = Exchange::default();
    let mut saw_data = false;
    loop {
        p.skip_space()?;
        if p.eat_keyword(b"END-ISO-10303-21") {
            p.expect(b';')?;
            break;
        }
        if p.eat_keyword(b"HEADER") {
            p.expect(b';')?;
            p.section(None)?;
        } else if p.eat_keyword(b"DATA") {
            p.skip_space()?;
            if p.peek() == Some(b'(') {
                // Edition 3 names the data section: DATA('name', ('schema'));
                p.list(0)?;
            }
            p.expect(b';')?;
            p.section(Some(&mut exchange))?;
            saw_data = true;
        } else if p.pos >= p.b.len() {
            return Err(malformed("the file ends before END-ISO-10303-21;"));
        } else {
            return Err(p.error("expected HEADER, DATA or END-ISO-10303-21"));
        }
    }
    if !saw_data {
        return Err(malformed("the file has no DATA section"));
    }
    Ok(exchange)
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> CadError {
        let line = 1 + self.b[..self.pos.min(self.b.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        malformed(format!("{what} at line {line}"))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_space(&mut self) -> Result<(), CadError> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.b.get(self.pos + 1) == Some(&b'*') => {
                    let rest = &self.b[self.pos + 2..];
                    match rest.windows(2).position(|w| w == b"*/") {
                        Some(end) => self.pos += 2 + end + 2,
                        None => return Err(self.error("unterminated comment")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn eat_keyword(&mut self, kw: &[u8]) -> bool {
        let end = self.pos + kw.len();
        if self.b.get(self.pos..end) == Some(kw)
            && !self
                .b
                .get(end)
                .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), CadError> {
        self.skip_space()?;
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", char::from(c))))
        }
    }

    /// Entities up to `ENDSEC;`, stored in `out` (the data section) or dropped (the header).
    fn section(&mut self, mut out: Option<&mut Exchange>) -> Result<(), CadError> {
        loop {
            self.skip_space()?;
            if self.eat_keyword(b"ENDSEC") {
                return self.expect(b';');
            }
            match self.peek() {
                Some(b'#') => {
                    self.pos += 1;
                    let id = self.id()?;
                    self.expect(b'=')?;
                    self.skip_space()?;
                    let entity = if self.peek() == Some(b'(') {
                        self.pos += 1;
                        let mut records = Vec::new();
                        loop {
                            self.skip_space()?;
                            if self.peek() == Some(b')') {
                                self.pos += 1;
                                break;
                            }
                            records.push(self.record()?);
                        }
                        if records.is_empty() {
                            return Err(self.error("empty complex entity"));
                        }
                        Entity::Complex(records)
                    } else {
                        Entity::Simple(self.record()?)
                    };
                    self.expect(b';')?;
                    if let Some(ex) = out.as_deref_mut()
                        && ex.entities.insert(id, entity).is_some()
                    {
                        return Err(self.error(&format!("instance #{id} defined twice")));
                    }
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    self.record()?;
                    self.expect(b';')?;
                }
                None => return Err(self.error("the file ends inside a section")),
                Some(_) => return Err(self.error("expected an entity instance")),
            }
        }
    }

    fn id(&mut self) -> Result<u64, CadError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.b[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.error("bad instance id"))
    }

    fn keyword(&mut self) -> Result<String, CadError> {
        self.skip_space()?;
        let start = self.pos;
        if self.peek() == Some(b'!') {
            self.pos += 1; // user-defined keyword
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected an entity name"));
        }
        Ok(String::from_utf8_lossy(&self.b[start..self.pos]).to_ascii_uppercase())
    }

    fn record(&mut self) -> Result<Record, CadError> {
        let name = self.keyword()?;
        self.skip_space()?;
        if self.peek() != Some(b'(') {
            return Err(self.error("expected '(' after the entity name"));
        }
        let params = self.list(0)?;
        Ok(Record { name, params })
    }

    /// A parenthesised, comma-separated list; the cursor is on `(`.
    fn list(&mut self, depth: usize) -> Result<Vec<Param>, CadError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("lists nested too deeply"));
        }
        self.expect(b'(')?;
        let mut items = Vec::new();
        self.skip_space()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.param(depth)?);
            self.skip_space()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("expected ',' or ')' in a parameter list")),
            }
        }
    }

    fn param(&mut self, depth: usize) -> Result<Param, CadError> {
        self.skip_space()?;
        let Some(c) = self.peek() else {
            return Err(self.error("the file ends inside a parameter list"));
        };
        match c {
            b'(' => Ok(Param::List(self.list(depth + 1)?)),
            b'#' => {
                self.pos += 1;
                Ok(Param::Ref(self.id()?))
            }
            b'$' => {
                self.pos += 1;
                Ok(Param::Null)
            }
            b'*' => {
                self.pos += 1;
                Ok(Param::Derived)
            }
            b'\'' => Ok(Param::Str(self.string()?)),
            b'"' => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    self.pos += 1;
                }
                let text = String::from_utf8_lossy(&self.b[start..self.pos]).into_owned();
                if self.peek() != Some(b'"') {
                    return Err(self.error("unterminated binary value"));
                }
                self.pos += 1;
                Ok(Param::Binary(text))
            }
            b'.' if self
                .b
                .get(self.pos + 1)
                .is_some_and(u8::is_ascii_alphabetic) =>
            {
                self.pos += 1;
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                let text = String::from_utf8_lossy(&self.b[start..self.pos]).to_ascii_uppercase();
                if self.peek() != Some(b'.') {
                    return Err(self.error("unterminated enumeration"));
                }
                self.pos += 1;
                Ok(Param::Enum(text))
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.number(),
            c if c.is_ascii_alphabetic() || c == b'!' => {
                let name = self.keyword()?;
                self.skip_space()?;
                if self.peek() != Some(b'(') {
                    return Err(self.error("expected '(' after a type name"));
                }
                let mut inner = self.list(depth + 1)?;
                let value = if inner.len() == 1 {
                    inner.pop().unwrap_or(Param::Null)
                } else {
                    Param::List(inner)
                };
                Ok(Param::Typed(name, Box::new(value)))
            }
            _ => Err(self.error("unexpected character in a parameter")),
        }
    }

    fn number(&mut self) -> Result<Param, CadError> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let mut real = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => self.pos += 1,
                b'.' => {
                    real = true;
                    self.pos += 1;
                }
                b'E' | b'e' => {
                    real = true;
                    self.pos += 1;
                    if matches!(self.peek(), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("");
        if real {
            // Rust's parser accepts "1." and "1.e-7" but not "1.E" forms without digits after
            // the dot followed by an exponent in every version; normalise "1.E" to "1.0E".
            let fixed;
            let text = if text.contains(".E") || text.contains(".e") {
                fixed = text.replacen(".E", ".0E", 1).replacen(".e", ".0e", 1);
                fixed.as_str()
            } else {
                text
            };
            text.parse::<f64>()
                .map(Param::Real)
                .map_err(|_| self.error("bad real number"))
        } else {
            text.parse::<i64>()
                .map(Param::Int)
                .map_err(|_| self.error("bad integer"))
        }
    }

    /// A quoted string; the cursor is on the opening quote.
    fn string(&mut self) -> Result<String, CadError> {
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'\'') if self.b.get(self.pos + 1) == Some(&b'\'') => {
                    raw.push(b'\'');
                    self.pos += 2;
                }
                Some(b'\'') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(decode_string(&raw))
    }
}

/// Resolves the Part 21 control directives in a string's raw bytes.
fn decode_string(raw: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    let hex = |s: &[u8]| {
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    while i < raw.len() {
        let rest = &raw[i..];
        if rest.starts_with(b"\\X2\\") || rest.starts_with(b"\\X4\\") {
            let width = if rest[2] == b'2' { 4 } else { 8 };
            let mut j = i + 4;
            let mut units = Vec::new();
            while j + width <= raw.len() && raw[j] != b'\\' {
                match hex(&raw[j..j + width]) {
                    Some(v) => units.push(v),
                    None => break,
                }
                j += width;
            }
            if width == 4 {
                let u16s: Vec<u16> = units
                    .iter()
                    .filter_map(|&v| u16::try_from(v).ok())
                    .collect();
                out.push_str(&String::from_utf16_lossy(&u16s));
            } else {
                out.extend(
                    units
                        .iter()
                        .map(|&v| char::from_u32(v).unwrap_or('\u{fffd}')),
                );
            }
            i = if raw[j..].starts_with(b"\\X0\\") {
                j + 4
            } else {
                j
            };
        } else if rest.starts_with(b"\\X\\") && rest.len() >= 5 {
            match hex(&rest[3..5]).and_then(char::from_u32) {
                Some(ch) => out.push(ch),
                None => out.push('\u{fffd}'),
            }
            i += 5;
        } else if rest.starts_with(b"\\S\\") && rest.len() >= 4 {
            out.push(char::from_u32(u32::from(rest[3]) + 128).unwrap_or('\u{fffd}'));
            i += 4;
        } else if rest.starts_with(b"\\P") && rest.len() >= 4 && rest[3] == b'\\' {
            i += 4;
        } else if rest.starts_with(b"\\\\") {
            out.push('\\');
            i += 2;
        } else {
            // Plain bytes up to the next backslash; files in the wild put UTF-8 here.
            let end = rest
                .iter()
                .skip(1)
                .position(|&c| c == b'\\')
                .map_or(raw.len(), |p| i + 1 + p);
            out.push_str(&String::from_utf8_lossy(&raw[i..end]));
            i = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(body: &str) -> Result<Exchange, CadError> {
        parse(format!("ISO-10303-21;\nHEADER;\nFILE_NAME('x');\nENDSEC;\nDATA;\n{body}\nENDSEC;\nEND-ISO-10303-21;\n").as_bytes())
    }

    #[test]
    fn parses_every_parameter_kind() {
        let ex = data(
            "#1 = A('it''s',1.E-07,-0.,12,.T.,#2,$,*,(1,(2.5)),LENGTH_MEASURE(1.), /* c */ 'x');",
        )
        .expect("parses");
        let r = ex.record(1, "A").expect("record");
        assert_eq!(r.params[0], Param::Str("it's".into()));
        assert_eq!(r.params[1], Param::Real(1e-7));
        assert_eq!(r.params[2].as_f64(), Some(0.0));
        assert_eq!(r.params[3], Param::Int(12));
        assert_eq!(r.params[4].as_bool(), Some(true));
        assert_eq!(r.params[5], Param::Ref(2));
        assert_eq!(r.params[6], Param::Null);
        assert_eq!(r.params[7], Param::Derived);
        assert_eq!(r.params[9].as_f64(), Some(1.0));
    }

    #[test]
    fn parses_complex_entities() {
        let ex =
            data("#5 = ( LENGTH_UNIT() NAMED_UNIT(*) SI_UNIT(.MILLI.,.METRE.) );").expect("parses");
        let e = ex.get(5).expect("entity");
        assert_eq!(
            e.record("SI_UNIT").and_then(|r| r.params[0].as_enum()),
            Some("MILLI")
        );
    }

    #[test]
    fn decodes_string_directives() {
        assert_eq!(decode_string(br"\X2\00E400F6\X0\x"), "äöx");
        assert_eq!(decode_string(br"a\X\E4b"), "aäb");
        assert_eq!(decode_string(br"\\"), "\\");
    }

    #[test]
    fn rejects_broken_input() {
        assert!(parse(b"").is_err());
        assert!(parse(b"solid x\nendsolid").is_err());
        assert!(data("#1 = A(").is_err());
        assert!(data("#1 = A(1); #1 = B(2);").is_err());
        let deep = format!("#1 = A({}{});", "(".repeat(100), ")".repeat(100));
        assert!(data(&deep).is_err());
    }
}
