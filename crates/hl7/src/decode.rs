//! Character decoding of HL7 v2 files, done on the whole byte stream before any splitting.
//!
//! SS-MIX2 files are usually ISO-2022-JP (MSH-18 `~ISO IR87`: ISO IR6 ASCII plus ISO IR87,
//! JIS X 0208 announced with escape sequences), sometimes Shift_JIS or UTF-8. In ISO-2022-JP
//! both bytes of a kanji lie in 0x21–0x7E and can equal an HL7 delimiter: 剤 is `:^`,
//! 本 is `K\`, 日 is `F|`, 美 is `H~`, 愛 is `0&`. Splitting raw bytes on `|^~\&` therefore
//! corrupts names and drug names; this module turns bytes into text first, and refuses
//! (never replaces) anything that is not valid in the chosen character set.

use std::borrow::Cow;
use std::fmt;

use encoding_rs::{DecoderResult, Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8};

/// The character sets found in Japanese HL7 v2 files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// ISO-2022-JP (MSH-18 `~ISO IR87`), the SS-MIX2 default.
    Iso2022Jp,
    /// Shift_JIS as written by Windows (code page 932).
    ShiftJis,
    /// UTF-8 (MSH-18 `UNICODE UTF-8`).
    Utf8,
}

impl Charset {
    /// The usual name of the character set.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Iso2022Jp => "ISO-2022-JP",
            Charset::ShiftJis => "Shift_JIS",
            Charset::Utf8 => "UTF-8",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            Charset::Iso2022Jp => ISO_2022_JP,
            Charset::ShiftJis => SHIFT_JIS,
            Charset::Utf8 => UTF_8,
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why [`detect`] chose a character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// A UTF-8 byte order mark.
    ByteOrderMark,
    /// MSH-18 (character set) names it.
    Msh18,
    /// MSH-18 is silent but the bytes hold ISO-2022-JP escape sequences.
    EscapeSequences,
    /// Nothing in the file says: the caller's fallback.
    Fallback,
}

/// A file whose bytes are not valid in the character set it was decoded with.
///
/// Messages name offsets and byte values only, never the text around them (patient data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid in the chosen character set.
    #[error("not valid {charset} ({detection}) at byte offset {offset}: {reason}")]
    Malformed {
        /// The character set the file was decoded as.
        charset: Charset,
        /// Why that character set was chosen, in words.
        detection: &'static str,
        /// Byte offset of the first invalid sequence in the file.
        offset: usize,
        /// What is wrong, with a hint at the likely real encoding.
        reason: String,
    },
    /// The file is too large to decode in memory.
    #[error("the file is too large to decode ({len} bytes)")]
    TooLarge {
        /// Size of the input.
        len: usize,
    },
}

/// Decode a whole HL7 file to text.
///
/// The character set comes from, in order: a UTF-8 byte order mark, MSH-18 read from the
/// ASCII bytes of the MSH segment (`ISO IR87`, `ISO IR 87`, `ISO-IR87` mean ISO-2022-JP,
/// `UNICODE UTF-8` means UTF-8), the presence of ESC (ISO-2022-JP), else `fallback`.
/// Invalid input is an error naming the offset; nothing is ever replaced.
pub fn decode(bytes: &[u8], fallback: Charset) -> Result<String, DecodeError> {
    let (charset, detection) = detect(bytes, fallback);
    decode_detected(bytes, charset, detection)
}

/// Decode with a character set chosen by the caller (no detection).
pub fn decode_as(bytes: &[u8], charset: Charset) -> Result<String, DecodeError> {
    decode_detected(bytes, charset, Detection::Fallback)
}

/// Choose the character set of a file without decoding it. See [`decode`].
pub fn detect(bytes: &[u8], fallback: Charset) -> (Charset, Detection) {
    if bytes.starts_with(UTF8_BOM) {
        return (Charset::Utf8, Detection::ByteOrderMark);
    }
    if let Some(announced) = msh18_charset(bytes) {
        return (announced, Detection::Msh18);
    }
    if bytes.contains(&ESC) {
        return (Charset::Iso2022Jp, Detection::EscapeSequences);
    }
    (fallback, Detection::Fallback)
}

const ESC: u8 = 0x1B;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn detection_words(charset: Charset, detection: Detection) -> &'static str {
    match (detection, charset) {
        (Detection::ByteOrderMark, _) => "the file starts with a UTF-8 byte order mark",
        (Detection::Msh18, Charset::Iso2022Jp) => "MSH-18 announces ISO IR87",
        (Detection::Msh18, _) => "as MSH-18 announces",
        (Detection::EscapeSequences, _) => "the file contains escape sequences",
        (Detection::Fallback, _) => "the configured character set",
    }
}

fn decode_detected(bytes: &[u8], charset: Charset, detection: Detection) -> Result<String, DecodeError> {
    let input = match charset {
        Charset::Utf8 => bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes),
        _ => bytes,
    };
    let bom_len = bytes.len().saturating_sub(input.len());
    // encoding_rs follows the WHATWG decoder, which rejects an escape sequence directly
    // followed by another one (an empty shift). Some generators write those for empty
    // kanji fields; they carry no text, so drop the redundant one first.
    let (input, kept) = collapse_empty_shifts(input);
    let original_offset = |offset: usize| -> usize {
        let inner = match &kept {
            Some(map) => map.get(offset).copied().unwrap_or(offset),
            None => offset,
        };
        inner.saturating_add(bom_len)
    };

    let mut decoder = charset.encoding().new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(input.len())
        .ok_or(DecodeError::TooLarge { len: bytes.len() })?;
    let mut out = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(&input, &mut out, true);
    match result {
        DecoderResult::InputEmpty => Ok(out),
        DecoderResult::Malformed(bad_len, after) => {
            let start = read.saturating_sub(usize::from(bad_len)).saturating_sub(usize::from(after));
            let reason = malformed_reason(&input, start, read, charset, detection);
            Err(DecodeError::Malformed {
                charset,
                detection: detection_words(charset, detection),
                offset: original_offset(start),
                reason,
            })
        }
        // Cannot happen with the capacity asked of the decoder above; reported, not panicked.
        DecoderResult::OutputFull => Err(DecodeError::TooLarge { len: bytes.len() }),
    }
}

fn malformed_reason(input: &[u8], start: usize, read: usize, charset: Charset, detection: Detection) -> String {
    let byte = input.get(start).copied();
    let at_end = read >= input.len() && input.get(start..).is_none_or(|rest| rest.len() <= 1);
    match charset {
        Charset::Iso2022Jp => {
            let announced = match detection {
                Detection::Msh18 => "MSH-18 announces ISO IR87",
                Detection::EscapeSequences => "the file contains escape sequences",
                _ => "ISO-2022-JP was expected",
            };
            match byte {
                Some(b) if b >= 0x80 => format!(
                    "8-bit byte 0x{b:02X} cannot occur in ISO-2022-JP; {announced} but the file looks like \
                     Shift_JIS or UTF-8"
                ),
                Some(ESC) => "unsupported or malformed escape sequence (only ASCII, JIS X 0201 and \
                              JIS X 0208 are supported)"
                    .to_owned(),
                Some(b'\r' | b'\n') => "line break inside a double-byte (kanji) run: the run must be closed \
                                        with ESC ( B before the segment ends"
                    .to_owned(),
                Some(b) if at_end => {
                    format!("the file ends inside a double-byte character (byte 0x{b:02X}); truncated?")
                }
                Some(b) => format!("byte 0x{b:02X} is not a valid character here"),
                None => "the file ends inside a character; truncated?".to_owned(),
            }
        }
        Charset::ShiftJis => match byte {
            Some(b) if at_end => format!("the file ends inside a two-byte character (byte 0x{b:02X}); truncated?"),
            Some(b) => {
                format!("byte 0x{b:02X} does not start a valid Shift_JIS character (is the file UTF-8 or ISO-2022-JP?)")
            }
            None => "the file ends inside a character; truncated?".to_owned(),
        },
        Charset::Utf8 => match byte {
            Some(b) if at_end => format!("the file ends inside a UTF-8 character (byte 0x{b:02X}); truncated?"),
            Some(b) => format!("byte 0x{b:02X} is not valid UTF-8 here (is the file Shift_JIS?)"),
            None => "the file ends inside a character; truncated?".to_owned(),
        },
    }
}

/// Length of the ISO-2022-JP escape sequence starting at `at`, if there is one.
fn escape_len(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at..at.checked_add(3)?)? {
        [ESC, b'(', b'B' | b'J' | b'I'] | [ESC, b'$', b'@' | b'B'] => Some(3),
        _ => None,
    }
}

/// Drop escape sequences immediately followed by another escape sequence. Returns the new
/// bytes and, when anything was dropped, the original offset of each kept byte.
fn collapse_empty_shifts(bytes: &[u8]) -> (Cow<'_, [u8]>, Option<Vec<usize>>) {
    let mut any = false;
    let mut i = 0;
    while let Some(pos) = bytes.get(i..).and_then(|rest| rest.iter().position(|&b| b == ESC)) {
        let at = i.saturating_add(pos);
        if let Some(len) = escape_len(bytes, at)
            && escape_len(bytes, at.saturating_add(len)).is_some()
        {
            any = true;
            break;
        }
        i = at.saturating_add(1);
    }
    if !any {
        return (Cow::Borrowed(bytes), None);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut map = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == ESC
            && let Some(len) = escape_len(bytes, i)
            && escape_len(bytes, i.saturating_add(len)).is_some()
        {
            i = i.saturating_add(len);
            continue;
        }
        out.push(b);
        map.push(i);
        i = i.saturating_add(1);
    }
    (Cow::Owned(out), Some(map))
}

/// The character set MSH-18 announces, read from the raw bytes of the first segment.
///
/// Only ASCII bytes outside ISO-2022-JP double-byte runs count as delimiters, so a kanji in
/// MSH-3..17 (a facility name) cannot shift the field count.
fn msh18_charset(bytes: &[u8]) -> Option<Charset> {
    let first_line_end = bytes.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(bytes.len());
    let line = bytes.get(..first_line_end)?;
    let rest = line.strip_prefix(b"MSH")?;
    let (&separator, rest) = rest.split_first()?;
    if separator.is_ascii_alphanumeric() || separator == ESC || separator >= 0x80 {
        return None;
    }
    // After "MSH|", MSH-2 is the text before the next separator, so MSH-n lies after the
    // (n-1)th separator: MSH-18 after the 17th (the first one is already consumed).
    let mut field = 2usize;
    let mut shifted = false;
    let mut current: Vec<u8> = Vec::new();
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        if b == ESC
            && let Some(len) = escape_len(rest, i)
        {
            // Only ASCII and JIS-Roman put delimiters at face value; in JIS X 0208 and
            // half-width katakana runs the bytes 0x21.. are parts of other characters.
            let designation = rest.get(i.saturating_add(1)..i.saturating_add(3));
            shifted = designation != Some(b"(B") && designation != Some(b"(J");
            i = i.saturating_add(len);
            continue;
        }
        if !shifted && b == separator {
            if field == 18 {
                break;
            }
            field = field.saturating_add(1);
            i = i.saturating_add(1);
            continue;
        }
        if field == 18 && !shifted {
            current.push(b);
        }
        i = i.saturating_add(1);
    }
    if field != 18 {
        return None;
    }
    let normalized: String =
        current.iter().filter(|b| b.is_ascii_alphanumeric()).map(|b| char::from(b.to_ascii_uppercase())).collect();
    if normalized.contains("ISOIR87") {
        Some(Charset::Iso2022Jp)
    } else if normalized.contains("UTF8") {
        Some(Charset::Utf8)
    } else if normalized.contains("SHIFTJIS") || normalized.contains("SJIS") {
        Some(Charset::ShiftJis)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn iso(text: &str) -> Vec<u8> {
        let (bytes, _, errors) = ISO_2022_JP.encode(text);
        assert!(!errors);
        bytes.into_owned()
    }

    const MSH: &str =
        "MSH|^~\\&|HIS|9999999999|||20240105093012||ADT^A08^ADT_A01|1|P|2.5||||||~ISO IR87||ISO 2022-1994\r";

    #[test]
    fn delimiter_bytes_inside_kanji_survive() {
        // 本 = 0x4B 0x5C ('\'), 枝 = 0x3B 0x5E ('^'), 美 = 0x48 0x7E ('~'), 剤 = 0x3A 0x5E.
        for (ch, delimiter) in [("本", b'\\'), ("枝", b'^'), ("美", b'~'), ("剤", b'^'), ("日", b'|'), ("愛", b'&')]
        {
            assert!(iso(ch).contains(&delimiter), "{ch}");
        }
        let text = format!("{MSH}PID|1||1^^^^PI||山本^美枝^^^^^L^I\r");
        let bytes = iso(&text);
        assert_eq!(detect(&bytes, Charset::ShiftJis), (Charset::Iso2022Jp, Detection::Msh18));
        assert_eq!(decode(&bytes, Charset::ShiftJis).unwrap(), text);
    }

    #[test]
    fn msh18_spellings() {
        for spelling in ["~ISO IR87", "ISO IR6~ISO IR87", "~ISO IR 87", "~ISO-IR87", "~iso ir87"] {
            let text = format!("MSH|^~\\&|A|B|||2024||ADT^A08|1|P|2.5||||||{spelling}\r");
            assert_eq!(detect(text.as_bytes(), Charset::Utf8).0, Charset::Iso2022Jp, "{spelling}");
        }
        let utf8 = "MSH|^~\\&|A|B|||2024||ADT^A08|1|P|2.5||||||UNICODE UTF-8\r";
        assert_eq!(detect(utf8.as_bytes(), Charset::ShiftJis), (Charset::Utf8, Detection::Msh18));
        let silent = "MSH|^~\\&|A|B|||2024||ADT^A08|1|P|2.5\r";
        assert_eq!(detect(silent.as_bytes(), Charset::ShiftJis), (Charset::ShiftJis, Detection::Fallback));
        // MSH-17 mentioning IR87 is not MSH-18.
        let wrong_field = "MSH|^~\\&|A|B|||2024||ADT^A08|1|P|2.5|||||ISO IR87|\r";
        assert_eq!(detect(wrong_field.as_bytes(), Charset::Utf8).0, Charset::Utf8);
    }

    #[test]
    fn kanji_in_msh_does_not_shift_msh18() {
        // 日 holds '|' in ISO-2022-JP: a naive split would see an extra field.
        let text = "MSH|^~\\&|HIS|日日病院|||2024||ADT^A08|1|P|2.5||||||~ISO IR87\r";
        assert_eq!(detect(&iso(text), Charset::Utf8), (Charset::Iso2022Jp, Detection::Msh18));
    }

    #[test]
    fn escape_sequences_without_msh18() {
        let text = "MSH|^~\\&|A|B|||2024||ADT^A08|1|P|2.5\rPID|1||1||山田\r";
        assert_eq!(detect(&iso(text), Charset::Utf8), (Charset::Iso2022Jp, Detection::EscapeSequences));
        assert_eq!(decode(&iso(text), Charset::Utf8).unwrap(), text);
    }

    #[test]
    fn shift_jis_announced_as_iso_ir87_is_an_error() {
        let text = format!("{MSH}PID|1||1^^^^PI||山本^美枝\r");
        let (sjis, _, errors) = SHIFT_JIS.encode(&text);
        assert!(!errors);
        let err = decode(&sjis, Charset::Utf8).unwrap_err();
        let DecodeError::Malformed { charset, offset, reason, .. } = &err else { panic!("{err:?}") };
        assert_eq!(*charset, Charset::Iso2022Jp);
        assert_eq!(*offset, MSH.len() + "PID|1||1^^^^PI||".len());
        assert!(reason.contains("Shift_JIS"), "{reason}");
        assert!(err.to_string().contains("MSH-18 announces ISO IR87"), "{err}");
        // The same bytes decode as Shift_JIS when asked explicitly.
        assert_eq!(decode_as(&sjis, Charset::ShiftJis).unwrap(), text);
    }

    #[test]
    fn shift_jis_trail_byte_0x5c_survives() {
        // 表 is 0x95 0x5C in Shift_JIS: its trail byte is '\'.
        let text = "MSH|^~\\&|A|B|||2024||ORU^R01|1|P|2.5\rOBX|1|ST|X^表||表示\r";
        let (sjis, _, _) = SHIFT_JIS.encode(text);
        assert!(sjis.windows(2).any(|w| w == [0x95, 0x5C]));
        assert_eq!(decode(&sjis, Charset::ShiftJis).unwrap(), text);
    }

    #[test]
    fn truncated_inside_kanji_is_an_error() {
        let bytes = iso(&format!("{MSH}PID|1||1||山本"));
        // Cut between the two bytes of 本 (the stream ends: ESC $ B 0x3B 0x33 0x4B).
        let cut = &bytes[..bytes.len() - 4];
        let err = decode(cut, Charset::Utf8).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn line_break_inside_kanji_run_is_an_error() {
        let mut bytes = iso(&format!("{MSH}PID|1||1||山"));
        // Remove the closing ESC ( B and end the segment while still in kanji mode.
        bytes.truncate(bytes.len() - 3);
        bytes.extend_from_slice(b"\rPV1|1\r");
        let err = decode(&bytes, Charset::Utf8).unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
    }

    #[test]
    fn empty_shifts_are_tolerated() {
        let mut bytes = MSH.as_bytes().to_vec();
        bytes.extend_from_slice(b"PID|1||1||\x1b$B\x1b(B|\x1b$B;3\x1b(B\r");
        assert_eq!(decode(&bytes, Charset::Utf8).unwrap(), format!("{MSH}PID|1||1|||山\r"));
        // Offsets after a dropped shift still point into the original file.
        let mut bad = MSH.as_bytes().to_vec();
        bad.extend_from_slice(b"\x1b$B\x1b(BAB\x80");
        let DecodeError::Malformed { offset, .. } = decode(&bad, Charset::Utf8).unwrap_err() else { panic!() };
        assert_eq!(offset, bad.len() - 1);
    }

    #[test]
    fn unsupported_jis_x_0212_is_an_error() {
        let mut bytes = MSH.as_bytes().to_vec();
        bytes.extend_from_slice(b"PID|1||1||\x1b$(D0!\x1b(B\r");
        let err = decode(&bytes, Charset::Utf8).unwrap_err();
        assert!(err.to_string().contains("escape sequence"), "{err}");
    }

    #[test]
    fn utf8_with_bom_and_invalid_utf8() {
        let text = "MSH|^~\\&|A|B|||2024||ADT^A08|1|P|2.5\rPID|1||1||山田\r";
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(text.as_bytes());
        assert_eq!(decode(&bytes, Charset::ShiftJis).unwrap(), text);
        let err = decode(b"MSH|^~\\&|\xff\r", Charset::Utf8).unwrap_err();
        let DecodeError::Malformed { offset, .. } = err else { panic!() };
        assert_eq!(offset, 9);
    }

    #[test]
    fn empty_input_decodes_to_empty_text() {
        for charset in [Charset::Iso2022Jp, Charset::ShiftJis, Charset::Utf8] {
            assert_eq!(decode(b"", charset).unwrap(), "");
        }
    }
}
