//! HL7 v2 message syntax: segments, fields, repetitions, components, subcomponents and
//! escape sequences. Works on decoded text (see [`mod@crate::decode`]), never on raw bytes.
//!
//! Positions use HL7's 1-based numbering throughout. In MSH, MSH-1 is the field separator
//! itself and MSH-2 the encoding characters, so `msh.field(9)` is the message type just as
//! the standard numbers it. Every segment is kept, known or not (Z-segments included);
//! typed extraction in [`crate::model`] simply ignores what it does not use.

use std::fmt;

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// MSH-1, usually `|`.
    pub field: char,
    /// Usually `^`.
    pub component: char,
    /// Usually `~`.
    pub repetition: char,
    /// Usually `\`; `None` when MSH-2 declares none (then nothing is unescaped).
    pub escape: Option<char>,
    /// Usually `&`; `None` when MSH-2 declares none.
    pub subcomponent: Option<char>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters { field: '|', component: '^', repetition: '~', escape: Some('\\'), subcomponent: Some('&') }
    }
}

/// Why a text is not an HL7 v2 message. Messages never quote message content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("the message is empty")]
    Empty,
    /// The first segment is not MSH.
    #[error("the message does not start with an MSH segment{}", found.as_ref().map(|f| format!(" (first segment is {f})")).unwrap_or_default())]
    NoMsh {
        /// The first segment's id, when it looks like one.
        found: Option<String>,
    },
    /// A segment ends before its id or its required delimiters are complete.
    #[error("segment {index} is truncated: {reason}")]
    TruncatedSegment {
        /// 1-based position of the segment in the message.
        index: usize,
        /// What is missing.
        reason: &'static str,
    },
    /// MSH-1/MSH-2 declare unusable delimiters.
    #[error("MSH-1/MSH-2 delimiters are invalid: {reason}")]
    InvalidDelimiters {
        /// What is wrong.
        reason: &'static str,
    },
    /// A segment id that is not three upper-case letters or digits.
    #[error("segment {index} has an invalid segment id (expected three upper-case letters or digits)")]
    InvalidSegmentId {
        /// 1-based position of the segment in the message.
        index: usize,
    },
    /// More delimiters than any real message holds: refused before building the tree, whose
    /// memory grows with the number of parts rather than the number of bytes.
    #[error("the message has more than {limit} fields, repetitions and components")]
    TooManyParts {
        /// The limit, [`MAX_PARTS`].
        limit: usize,
    },
}

/// The most delimiters (`|^~&` and segment ends) a message may hold. A large lab report has
/// a few thousand; a document embedded in OBX-5 adds bytes, not delimiters.
pub const MAX_PARTS: usize = 500_000;

/// A parsed message: its delimiters and every segment in order, the first being MSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    delimiters: Delimiters,
    segments: Vec<Segment>,
}

/// One segment: a three-character id and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    id: String,
    fields: Vec<Field>,
}

/// One field: one or more repetitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    repetitions: Vec<Repetition>,
}

/// One repetition of a field: its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repetition {
    components: Vec<Component>,
}

/// One component: its subcomponents, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    subcomponents: Vec<String>,
}

/// Parse one HL7 v2 message.
///
/// Segments end with `\r`; `\r\n` and `\n` are tolerated, blank lines skipped, and MLLP
/// framing bytes (0x0B, 0x1C) and a byte order mark around the message ignored.
pub fn parse(text: &str) -> Result<Message, ParseError> {
    let text = text.trim_start_matches(['\u{feff}', '\u{0b}']).trim_end_matches(['\u{1c}', '\r', '\n']);
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut lines = text.split(['\r', '\n']).filter(|line| !line.is_empty());
    let first = lines.next().ok_or(ParseError::Empty)?;
    let (delimiters, msh) = parse_msh(first)?;
    let parts = text
        .chars()
        .filter(|&c| {
            c == delimiters.field
                || c == delimiters.component
                || c == delimiters.repetition
                || Some(c) == delimiters.subcomponent
                || c == '\r'
                || c == '\n'
        })
        .count();
    if parts > MAX_PARTS {
        return Err(ParseError::TooManyParts { limit: MAX_PARTS });
    }
    let mut segments = vec![msh];
    for (offset, line) in lines.enumerate() {
        let index = offset.saturating_add(2);
        segments.push(parse_segment(line, index, &delimiters)?);
    }
    Ok(Message { delimiters, segments })
}

fn parse_msh(line: &str) -> Result<(Delimiters, Segment), ParseError> {
    let Some(rest) = line.strip_prefix("MSH") else {
        let found: String = line.chars().take(3).collect();
        let looks_like_id = found.len() == 3 && found.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if "MSH".starts_with(line) {
            return Err(ParseError::TruncatedSegment { index: 1, reason: "the MSH segment id is cut short" });
        }
        return Err(ParseError::NoMsh { found: looks_like_id.then_some(found) });
    };
    let mut chars = rest.chars();
    let Some(field) = chars.next() else {
        return Err(ParseError::TruncatedSegment { index: 1, reason: "MSH ends before the field separator (MSH-1)" });
    };
    if field.is_alphanumeric() || field.is_whitespace() {
        return Err(ParseError::InvalidDelimiters { reason: "the field separator is a letter, digit or space" });
    }
    let rest = chars.as_str();
    let encoding = rest.split(field).next().unwrap_or_default();
    let mut enc = encoding.chars();
    let (Some(component), Some(repetition)) = (enc.next(), enc.next()) else {
        return Err(ParseError::TruncatedSegment {
            index: 1,
            reason: "MSH ends before the encoding characters (MSH-2) are complete",
        });
    };
    let escape = enc.next();
    let subcomponent = enc.next();
    // A fifth character (the v2.7 truncation character) is accepted and otherwise unused.
    let truncation = enc.next();
    if enc.next().is_some() {
        return Err(ParseError::InvalidDelimiters { reason: "MSH-2 holds more than five characters" });
    }
    let declared = [Some(field), Some(component), Some(repetition), escape, subcomponent, truncation];
    for (i, c) in declared.iter().enumerate() {
        let Some(c) = c else { continue };
        if c.is_alphanumeric() || c.is_whitespace() {
            return Err(ParseError::InvalidDelimiters { reason: "a delimiter is a letter, digit or space" });
        }
        if declared.iter().skip(i.saturating_add(1)).any(|other| *other == Some(*c)) {
            return Err(ParseError::InvalidDelimiters { reason: "two delimiters are the same character" });
        }
    }
    let delimiters = Delimiters { field, component, repetition, escape, subcomponent };

    let mut fields = vec![Field::literal(field.to_string()), Field::literal(encoding.to_owned())];
    let after_encoding = rest.get(encoding.len()..).unwrap_or_default();
    if let Some(remaining) = after_encoding.strip_prefix(field) {
        fields.extend(remaining.split(field).map(|raw| Field::parse(raw, &delimiters)));
    }
    Ok((delimiters, Segment { id: "MSH".to_owned(), fields }))
}

fn parse_segment(line: &str, index: usize, delimiters: &Delimiters) -> Result<Segment, ParseError> {
    let (id, rest) = match line.split_once(delimiters.field) {
        Some((id, rest)) => (id, Some(rest)),
        None => (line, None),
    };
    let id_chars_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if id_chars_ok && id.len() < 3 {
        return Err(ParseError::TruncatedSegment { index, reason: "the segment id is cut short" });
    }
    if !id_chars_ok || id.len() != 3 || !id.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(ParseError::InvalidSegmentId { index });
    }
    if id == "MSH" {
        // A second MSH (a batch written into one file) keeps MSH numbering.
        let (_, segment) = parse_msh(line)?;
        return Ok(segment);
    }
    let fields = match rest {
        Some(rest) => rest.split(delimiters.field).map(|raw| Field::parse(raw, delimiters)).collect(),
        None => Vec::new(),
    };
    Ok(Segment { id: id.to_owned(), fields })
}

impl Message {
    /// The delimiters declared in MSH-1/MSH-2.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// Every segment in order; the first is MSH.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The MSH segment.
    pub fn msh(&self) -> Option<&Segment> {
        self.segments.first()
    }

    /// The first segment with this id.
    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Every segment with this id, in order.
    pub fn segments_with_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.id == id)
    }
}

impl Segment {
    /// The segment id (`MSH`, `PID`, `OBX`, `ZPD`, ...).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Field `n` (1-based, as HL7 numbers it; MSH-1 is the field separator).
    pub fn field(&self, n: usize) -> Option<&Field> {
        self.fields.get(n.checked_sub(1)?)
    }

    /// Number of fields present.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The repetitions of field `n`; empty when the field is absent.
    pub fn repetitions(&self, n: usize) -> &[Repetition] {
        self.field(n).map(|f| f.repetitions.as_slice()).unwrap_or_default()
    }

    /// One value by 1-based position: field, repetition, component, subcomponent.
    pub fn get(&self, field: usize, repetition: usize, component: usize, subcomponent: usize) -> Option<&str> {
        self.field(field)?.repetition(repetition)?.subcomponent(component, subcomponent)
    }

    /// Component `component` of the first repetition of field `field`; `""` when absent.
    pub fn component(&self, field: usize, component: usize) -> &str {
        self.get(field, 1, component, 1).unwrap_or_default()
    }

    /// The first component of the first repetition of field `n`; `""` when absent.
    pub fn text(&self, n: usize) -> &str {
        self.component(n, 1)
    }
}

impl Field {
    fn literal(text: String) -> Field {
        Field { repetitions: vec![Repetition { components: vec![Component { subcomponents: vec![text] }] }] }
    }

    fn parse(raw: &str, delimiters: &Delimiters) -> Field {
        let repetitions = raw
            .split(delimiters.repetition)
            .map(|rep| Repetition {
                components: rep
                    .split(delimiters.component)
                    .map(|comp| Component {
                        subcomponents: match delimiters.subcomponent {
                            Some(sub) => comp.split(sub).map(|s| unescape(s, delimiters)).collect(),
                            None => vec![unescape(comp, delimiters)],
                        },
                    })
                    .collect(),
            })
            .collect();
        Field { repetitions }
    }

    /// All repetitions (at least one).
    pub fn repetitions(&self) -> &[Repetition] {
        &self.repetitions
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Option<&Repetition> {
        self.repetitions.get(n.checked_sub(1)?)
    }

    /// True when every part of the field is empty.
    pub fn is_empty(&self) -> bool {
        self.repetitions.iter().all(Repetition::is_empty)
    }
}

impl Repetition {
    /// All components (at least one).
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Subcomponent `sub` of component `component` (both 1-based).
    pub fn subcomponent(&self, component: usize, sub: usize) -> Option<&str> {
        self.components.get(component.checked_sub(1)?)?.subcomponents.get(sub.checked_sub(1)?).map(String::as_str)
    }

    /// The first subcomponent of component `n` (1-based); `""` when absent.
    pub fn component(&self, n: usize) -> &str {
        self.subcomponent(n, 1).unwrap_or_default()
    }

    /// True when every component is empty.
    pub fn is_empty(&self) -> bool {
        self.components.iter().all(|c| c.subcomponents.iter().all(String::is_empty))
    }

    /// The whole repetition as one text, components and subcomponents joined again with the
    /// message's delimiters (for free-text values that a sender did not escape).
    pub fn joined(&self, delimiters: &Delimiters) -> String {
        let mut out = String::new();
        let last_non_empty = self.components.iter().rposition(|c| c.subcomponents.iter().any(|s| !s.is_empty()));
        let Some(last) = last_non_empty else { return out };
        for (i, component) in self.components.iter().take(last.saturating_add(1)).enumerate() {
            if i > 0 {
                out.push(delimiters.component);
            }
            for (j, sub) in component.subcomponents.iter().enumerate() {
                if j > 0 {
                    out.push(delimiters.subcomponent.unwrap_or('&'));
                }
                out.push_str(sub);
            }
        }
        out
    }
}

impl Component {
    /// The subcomponents, unescaped (at least one).
    pub fn subcomponents(&self) -> &[String] {
        &self.subcomponents
    }
}

impl fmt::Display for Delimiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.field, self.component, self.repetition)?;
        if let Some(escape) = self.escape {
            write!(f, "{escape}")?;
        }
        if let Some(sub) = self.subcomponent {
            write!(f, "{sub}")?;
        }
        Ok(())
    }
}

/// Replace HL7 escape sequences in one leaf value.
///
/// `\F\ \S\ \T\ \R\ \E\` become the delimiters they stand for, `\Xhh..\` the bytes it
/// spells when they are UTF-8, `\.br\` a line break; `\H\` and `\N\` (highlighting) are
/// dropped. Anything else (`\Cxxyy\`, `\Zxx\`, unknown or unterminated) is kept literally.
pub fn unescape(text: &str, delimiters: &Delimiters) -> String {
    let Some(escape) = delimiters.escape else { return text.to_owned() };
    if !text.contains(escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(escape) {
        let (before, from_escape) = rest.split_at(start);
        out.push_str(before);
        let inner_and_more = from_escape.get(escape.len_utf8()..).unwrap_or_default();
        let Some(end) = inner_and_more.find(escape) else {
            // Unterminated: keep the rest as it is.
            out.push_str(from_escape);
            return out;
        };
        let inner = inner_and_more.get(..end).unwrap_or_default();
        let after = inner_and_more.get(end.saturating_add(escape.len_utf8())..).unwrap_or_default();
        match inner {
            "F" => out.push(delimiters.field),
            "S" => out.push(delimiters.component),
            "T" => out.push(delimiters.subcomponent.unwrap_or('&')),
            "R" => out.push(delimiters.repetition),
            "E" => out.push(escape),
            "H" | "N" => {}
            ".br" => out.push('\n'),
            _ => match inner.strip_prefix('X').and_then(hex_text) {
                Some(decoded) => out.push_str(&decoded),
                None => {
                    out.push(escape);
                    out.push_str(inner);
                    out.push(escape);
                }
            },
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn hex_text(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i.checked_add(2)?).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// Escape text for one leaf value so that [`unescape`] gives it back.
pub fn escape(text: &str, delimiters: &Delimiters) -> String {
    let Some(escape) = delimiters.escape else { return text.to_owned() };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = if c == escape {
            Some('E')
        } else if c == delimiters.field {
            Some('F')
        } else if c == delimiters.component {
            Some('S')
        } else if Some(c) == delimiters.subcomponent {
            Some('T')
        } else if c == delimiters.repetition {
            Some('R')
        } else {
            None
        };
        match code {
            Some(code) => {
                out.push(escape);
                out.push(code);
                out.push(escape);
            }
            None if c == '\r' || c == '\n' => {
                out.push(escape);
                out.push_str(".br");
                out.push(escape);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    const ADT: &str = "MSH|^~\\&|HIS|9999999999|SSMIX2|9999999999|20240105093012||ADT^A08^ADT_A01|C1|P|2.5||||||~ISO IR87||ISO 2022-1994\r\
                       EVN||20240105093012\r\
                       PID|0001||1000000001^^^^PI||山本^美枝^^^^^L^I~ヤマモト^ミエ^^^^^L^P||19420316|F\r\
                       ZPD|anything|at all\r";

    #[test]
    fn msh_numbering() {
        let m = parse(ADT).unwrap();
        let msh = m.msh().unwrap();
        assert_eq!(msh.text(1), "|");
        assert_eq!(msh.text(2), "^~\\&");
        assert_eq!(msh.text(3), "HIS");
        assert_eq!(msh.component(9, 1), "ADT");
        assert_eq!(msh.component(9, 2), "A08");
        assert_eq!(msh.component(9, 3), "ADT_A01");
        assert_eq!(msh.text(10), "C1");
        assert_eq!(msh.get(18, 1, 1, 1), Some(""));
        assert_eq!(msh.get(18, 2, 1, 1), Some("ISO IR87"));
        assert_eq!(msh.text(20), "ISO 2022-1994");
        assert_eq!(m.delimiters(), &Delimiters::default());
    }

    #[test]
    fn fields_repetitions_components() {
        let m = parse(ADT).unwrap();
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.text(1), "0001");
        assert_eq!(pid.text(3), "1000000001");
        assert_eq!(pid.component(3, 5), "PI");
        assert_eq!(pid.repetitions(5).len(), 2);
        assert_eq!(pid.get(5, 2, 1, 1), Some("ヤマモト"));
        assert_eq!(pid.get(5, 2, 8, 1), Some("P"));
        assert_eq!(pid.get(5, 3, 1, 1), None);
        assert_eq!(pid.text(99), "");
        assert!(pid.field(0).is_none());
        // Unknown segments are kept.
        assert_eq!(m.segment("ZPD").unwrap().text(2), "at all");
        assert_eq!(m.segments().len(), 4);
    }

    #[test]
    fn subcomponents() {
        let m = parse("MSH|^~\\&|A\rTQ1|||1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01|||7^D\r").unwrap();
        let tq1 = m.segment("TQ1").unwrap();
        assert_eq!(tq1.get(3, 1, 1, 2), Some("内服・経口・１日３回朝昼夕食後"));
        assert_eq!(tq1.get(3, 1, 1, 3), Some("JAMISDP01"));
        assert_eq!(tq1.component(6, 2), "D");
    }

    #[test]
    fn line_endings() {
        let crlf = ADT.replace('\r', "\r\n");
        let lf = ADT.replace('\r', "\n");
        let framed = format!("\u{0b}{ADT}\u{1c}\r");
        for text in [crlf.as_str(), lf.as_str(), framed.as_str(), ADT.trim_end()] {
            assert_eq!(parse(text).unwrap(), parse(ADT).unwrap());
        }
    }

    #[test]
    fn escapes() {
        let d = Delimiters::default();
        assert_eq!(unescape(r"a\F\b\S\c\T\d\R\e\E\f", &d), r"a|b^c&d~e\f");
        assert_eq!(unescape(r"line1\.br\line2", &d), "line1\nline2");
        assert_eq!(unescape(r"\H\bold\N\", &d), "bold");
        assert_eq!(unescape(r"\X41E381AB\", &d), "Aに");
        assert_eq!(unescape(r"\XFF\", &d), r"\XFF\");
        assert_eq!(unescape(r"\X4\", &d), r"\X4\");
        assert_eq!(unescape(r"\Zcustom\ kept", &d), r"\Zcustom\ kept");
        assert_eq!(unescape(r"unterminated \F", &d), r"unterminated \F");
        assert_eq!(unescape(r"\\", &d), r"\\");
        let m = parse("MSH|^~\\&|A\rOBX|1|ST|X^Y||5\\S\\10 \\T\\ \\F\\ \\R\\\r").unwrap();
        assert_eq!(m.segment("OBX").unwrap().text(5), "5^10 & | ~");
        for text in [r"a|b^c&d~e\f", "x\ny", "山本^美枝", ""] {
            assert_eq!(unescape(&escape(text, &d), &d), text);
        }
        assert_eq!(escape("a|b\r\n", &d), r"a\F\b\.br\\.br\");
    }

    proptest::proptest! {
        #[test]
        fn escape_round_trips(text in "\\PC{0,40}") {
            let d = Delimiters::default();
            proptest::prop_assert_eq!(unescape(&escape(&text, &d), &d), text.replace('\r', "\n"));
        }

        #[test]
        fn escaped_text_survives_a_message(text in "[a-z山本美枝|^~&\\\\ ]{0,30}") {
            let d = Delimiters::default();
            let message = format!("MSH|^~\\&|A\rNTE|1||{}|after\r", escape(&text, &d));
            let m = parse(&message).unwrap();
            let nte = m.segment("NTE").unwrap();
            proptest::prop_assert_eq!(nte.text(3), text.as_str());
            proptest::prop_assert_eq!(nte.text(4), "after");
        }
    }

    #[test]
    fn custom_delimiters() {
        let m = parse("MSH#*!$%#A#B\rPID#1##123*X*Y!456$sub%more*Z\r").unwrap();
        let d = m.delimiters();
        assert_eq!(
            (d.field, d.component, d.repetition, d.escape, d.subcomponent),
            ('#', '*', '!', Some('$'), Some('%'))
        );
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.component(3, 3), "Y");
        assert_eq!(pid.get(3, 2, 1, 1), Some("456$sub"));
        assert_eq!(pid.get(3, 2, 1, 2), Some("more"));
    }

    #[test]
    fn errors() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse(" \r\n\r"), Err(ParseError::Empty));
        assert_eq!(parse("PID|1||123\r"), Err(ParseError::NoMsh { found: Some("PID".into()) }));
        assert_eq!(parse("hello"), Err(ParseError::NoMsh { found: None }));
        assert!(matches!(parse("MS"), Err(ParseError::TruncatedSegment { index: 1, .. })));
        assert!(matches!(parse("MSH"), Err(ParseError::TruncatedSegment { index: 1, .. })));
        assert!(matches!(parse("MSH|^"), Err(ParseError::TruncatedSegment { index: 1, .. })));
        assert!(matches!(parse("MSH|^^~\\&|"), Err(ParseError::InvalidDelimiters { .. })));
        assert!(matches!(parse("MSHA^~\\&|"), Err(ParseError::InvalidDelimiters { .. })));
        assert_eq!(
            parse("MSH|^~\\&|A\rPID|1\rOB"),
            Err(ParseError::TruncatedSegment { index: 3, reason: "the segment id is cut short" })
        );
        assert_eq!(parse("MSH|^~\\&|A\rpid|1\r"), Err(ParseError::InvalidSegmentId { index: 2 }));
        assert_eq!(parse("MSH|^~\\&|A\rPIDX|1\r"), Err(ParseError::InvalidSegmentId { index: 2 }));
        // Human-readable messages.
        assert_eq!(parse("").unwrap_err().to_string(), "the message is empty");
        assert_eq!(
            parse("PID|1").unwrap_err().to_string(),
            "the message does not start with an MSH segment (first segment is PID)"
        );
    }

    #[test]
    fn too_many_parts() {
        let huge = format!("MSH|^~\\&|A\rNTE{}\r", "|".repeat(MAX_PARTS));
        assert_eq!(parse(&huge), Err(ParseError::TooManyParts { limit: MAX_PARTS }));
        let large = format!("MSH|^~\\&|A\rNTE{}\r", "|".repeat(MAX_PARTS - 10));
        assert_eq!(parse(&large).unwrap().segment("NTE").unwrap().field_count(), MAX_PARTS - 10);
    }

    #[test]
    fn minimal_msh_and_segment_without_fields() {
        let m = parse("MSH|^~\rNTE\r").unwrap();
        assert_eq!(m.delimiters().escape, None);
        assert_eq!(m.segment("NTE").unwrap().field_count(), 0);
        let m = parse("MSH|^~\\&").unwrap();
        assert_eq!(m.msh().unwrap().field_count(), 2);
    }

    #[test]
    fn joined_restores_unescaped_delimiters() {
        let m = parse("MSH|^~\\&|A\rOBX|1|ST|X||a^b&c^^\r").unwrap();
        let rep = m.segment("OBX").unwrap().field(5).unwrap().repetition(1).unwrap();
        assert_eq!(rep.joined(m.delimiters()), "a^b&c");
    }
}
