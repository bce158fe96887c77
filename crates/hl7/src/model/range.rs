//! Reference ranges (OBX-7) as laboratories write them: `3.5-5.0`, `3.5～5.0`, `<0.5`,
//! `>=10`, `≦0.14`, `60以上`, `0.5未満`, or plain words (`陰性`). The text is always kept;
//! the bounds are filled when they can be read.

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The limit.
    pub value: f64,
    /// Whether the limit itself is inside the range.
    pub inclusive: bool,
}

/// A reference range: the text as sent, and the bounds read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRange {
    /// OBX-7 as sent (unescaped).
    pub text: String,
    /// The lower limit, if the text gives one.
    pub low: Option<Bound>,
    /// The upper limit, if the text gives one.
    pub high: Option<Bound>,
}

impl ReferenceRange {
    /// Read a reference range. Never fails: unreadable text gives no bounds.
    pub fn parse(text: &str) -> ReferenceRange {
        let (low, high) = bounds(&normalize(text)).unwrap_or((None, None));
        ReferenceRange { text: text.to_owned(), low, high }
    }

    /// Whether a value lies inside the bounds that are known; `None` when none is.
    pub fn contains(&self, value: f64) -> Option<bool> {
        if self.low.is_none() && self.high.is_none() {
            return None;
        }
        let above_low = self.low.is_none_or(|b| if b.inclusive { value >= b.value } else { value > b.value });
        let below_high = self.high.is_none_or(|b| if b.inclusive { value <= b.value } else { value < b.value });
        Some(above_low && below_high)
    }
}

/// Full-width digits and signs to ASCII, Japanese comparison signs to ASCII ones, spaces out.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '０'..='９' => out.push(char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c)),
            '．' => out.push('.'),
            '－' | '−' | '‐' | '–' | 'ー' => out.push('-'),
            '＋' => out.push('+'),
            '＜' => out.push('<'),
            '＞' => out.push('>'),
            '＝' => out.push('='),
            '≦' | '≤' | '⩽' => out.push_str("<="),
            '≧' | '≥' | '⩾' => out.push_str(">="),
            '～' | '〜' | '~' => out.push('~'),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

type Bounds = (Option<Bound>, Option<Bound>);

fn bounds(text: &str) -> Option<Bounds> {
    let inclusive = |value| Some(Bound { value, inclusive: true });
    let exclusive = |value| Some(Bound { value, inclusive: false });
    // Prefix comparators.
    for (prefix, is_low, incl) in [("<=", false, true), (">=", true, true), ("=<", false, true), ("=>", true, true)]
        .into_iter()
        .chain([("<", false, false), (">", true, false)])
    {
        if let Some(rest) = text.strip_prefix(prefix) {
            let value = number(rest)?;
            let bound = if incl { inclusive(value) } else { exclusive(value) };
            return Some(if is_low { (bound, None) } else { (None, bound) });
        }
    }
    // Japanese suffixes: 以上 (at least), 以下 (at most), 未満 (below), 超 (above).
    for (suffix, is_low, incl) in
        [("以上", true, true), ("以下", false, true), ("未満", false, false), ("超", true, false)]
    {
        if let Some(rest) = text.strip_suffix(suffix) {
            let value = number(rest)?;
            let bound = if incl { inclusive(value) } else { exclusive(value) };
            return Some(if is_low { (bound, None) } else { (None, bound) });
        }
    }
    // A range: number, separator, number. The first number may be negative, so look for
    // the separator after its first character.
    for separator in ['~', '-'] {
        let start = text.char_indices().nth(1).map(|(i, _)| i).unwrap_or(text.len());
        if let Some(at) = text.get(start..).and_then(|rest| rest.find(separator)) {
            let at = at.saturating_add(start);
            let (low, high) = (text.get(..at)?, text.get(at.saturating_add(1)..)?);
            if let (Some(low), Some(high)) = (number(low), number(high)) {
                return Some((inclusive(low), inclusive(high)));
            }
        }
    }
    None
}

/// A plain decimal number (`12`, `-0.5`, `+3.`, `.5`); no exponents, no `inf`/`NaN`.
pub(crate) fn number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let mut seen_digit = false;
    let mut seen_point = false;
    for c in digits.chars() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    fn b(value: f64, inclusive: bool) -> Option<Bound> {
        Some(Bound { value, inclusive })
    }

    #[test]
    fn forms() {
        let cases: &[(&str, Option<Bound>, Option<Bound>)] = &[
            ("3.5-5.0", b(3.5, true), b(5.0, true)),
            ("3.5 - 5.0", b(3.5, true), b(5.0, true)),
            ("3.5～5.0", b(3.5, true), b(5.0, true)),
            ("3.5〜5.0", b(3.5, true), b(5.0, true)),
            ("3.5~5.0", b(3.5, true), b(5.0, true)),
            ("３．５－５．０", b(3.5, true), b(5.0, true)),
            ("-2.0-2.0", b(-2.0, true), b(2.0, true)),
            ("-5--1", b(-5.0, true), b(-1.0, true)),
            ("<0.5", None, b(0.5, false)),
            ("<=0.14", None, b(0.14, true)),
            ("≦0.14", None, b(0.14, true)),
            (">=10", b(10.0, true), None),
            ("≧60", b(60.0, true), None),
            ("> 10", b(10.0, false), None),
            ("60以上", b(60.0, true), None),
            ("30以下", None, b(30.0, true)),
            ("0.5未満", None, b(0.5, false)),
            ("100超", b(100.0, false), None),
            ("陰性", None, None),
            ("(-)", None, None),
            ("", None, None),
            ("1e5-2e5", None, None),
            ("inf-NaN", None, None),
            ("3.5-", None, None),
            ("-", None, None),
        ];
        for (text, low, high) in cases {
            let r = ReferenceRange::parse(text);
            assert_eq!((r.low, r.high), (*low, *high), "{text:?}");
            assert_eq!(r.text, *text);
        }
    }

    #[test]
    fn contains() {
        assert_eq!(ReferenceRange::parse("3.5-5.0").contains(3.5), Some(true));
        assert_eq!(ReferenceRange::parse("3.5-5.0").contains(5.01), Some(false));
        assert_eq!(ReferenceRange::parse("<0.5").contains(0.5), Some(false));
        assert_eq!(ReferenceRange::parse(">=60").contains(60.0), Some(true));
        assert_eq!(ReferenceRange::parse("陰性").contains(1.0), None);
    }

    proptest! {
        #[test]
        fn numeric_ranges_round_trip(low in -1000.0f64..1000.0, width in 0.0f64..1000.0, decimals in 0usize..4) {
            let high = low + width;
            let text = format!("{low:.decimals$}-{high:.decimals$}");
            let r = ReferenceRange::parse(&text);
            let expect_low: f64 = format!("{low:.decimals$}").parse().unwrap();
            let expect_high: f64 = format!("{high:.decimals$}").parse().unwrap();
            prop_assert_eq!(r.low, b(expect_low, true));
            prop_assert_eq!(r.high, b(expect_high, true));
        }

        #[test]
        fn comparators_round_trip(value in 0.0f64..10000.0, op in prop::sample::select(vec!["<", "<=", ">", ">="])) {
            let text = format!("{op}{value:.2}");
            let r = ReferenceRange::parse(&text);
            let v: f64 = format!("{value:.2}").parse().unwrap();
            let bound = b(v, op.ends_with('='));
            prop_assert_eq!((r.low, r.high), if op.starts_with('<') { (None, bound) } else { (bound, None) });
        }

        #[test]
        fn never_panics(text in "\\PC{0,20}") {
            let _ = ReferenceRange::parse(&text);
        }
    }
}
