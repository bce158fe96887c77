//! HL7 v2 date/time values (DTM/TS): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
//!
//! The precision the sender gave is kept: a birth date `19420316` is a day, not midnight.
//! With no offset, Japanese local time (+09:00) is assumed, as SS-MIX2 senders write it.

use time::macros::offset;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Japan Standard Time, assumed when a value carries no offset.
pub const JST: UtcOffset = offset!(+9);

/// How much of a date/time the sender gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// `YYYY`
    Year,
    /// `YYYYMM`
    Month,
    /// `YYYYMMDD`
    Day,
    /// `YYYYMMDDHH`
    Hour,
    /// `YYYYMMDDHHMM`
    Minute,
    /// `YYYYMMDDHHMMSS`
    Second,
    /// `YYYYMMDDHHMMSS.S…`
    Fraction,
}

/// A parsed HL7 date/time. Parts below `precision` are the earliest value (month 1,
/// day 1, 00:00:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hl7Timestamp {
    /// The calendar date.
    pub date: Date,
    /// The time of day.
    pub time: Time,
    /// The offset given, or [`JST`].
    pub offset: UtcOffset,
    /// Whether the value carried its own offset.
    pub offset_given: bool,
    /// How much the sender gave.
    pub precision: Precision,
}

/// Why a text is not an HL7 date/time. Messages describe, never quote, the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Nothing to parse.
    #[error("the date/time is empty")]
    Empty,
    /// Digits of a length HL7 does not allow.
    #[error("a date/time needs 4, 6, 8, 10, 12 or 14 digits (found {0})")]
    Length(usize),
    /// Something other than digits where digits belong.
    #[error("the date/time holds characters other than digits")]
    NotDigits,
    /// A part out of its range (month 13, February 30, hour 24...).
    #[error("the {0} is out of range")]
    OutOfRange(&'static str),
    /// A malformed `+ZZZZ` / `-ZZZZ` offset.
    #[error("the time zone offset is not +HHMM or -HHMM within range")]
    Offset,
    /// Fractional seconds without full seconds, or a fraction with no digits.
    #[error("fractional seconds are only allowed after full seconds")]
    Fraction,
}

impl Hl7Timestamp {
    /// Parse an HL7 DTM/TS value. Surrounding spaces are ignored; a trailing `^precision`
    /// component of the old TS type must already be split off by the caller.
    pub fn parse(text: &str) -> Result<Hl7Timestamp, TimestampError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TimestampError::Empty);
        }
        let (main, offset) = match text.char_indices().rev().find(|(_, c)| *c == '+' || *c == '-') {
            Some((at, sign)) => {
                let zone = text.get(at.saturating_add(1)..).ok_or(TimestampError::Offset)?;
                let main = text.get(..at).ok_or(TimestampError::Offset)?;
                (main, Some(parse_offset(sign, zone)?))
            }
            None => (text, None),
        };
        let (digits, fraction) = match main.split_once('.') {
            Some((digits, fraction)) => (digits, Some(fraction)),
            None => (main, None),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TimestampError::NotDigits);
        }
        let precision = match digits.len() {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            other => return Err(TimestampError::Length(other)),
        };
        let number = |from: usize, len: usize| -> Option<u32> {
            digits.get(from..from.checked_add(len)?).and_then(|part| part.parse().ok())
        };
        let year = number(0, 4).ok_or(TimestampError::NotDigits)?;
        let year = i32::try_from(year).map_err(|_| TimestampError::OutOfRange("year"))?;
        let month = number(4, 2).unwrap_or(1);
        let day = number(6, 2).unwrap_or(1);
        let hour = number(8, 2).unwrap_or(0);
        let minute = number(10, 2).unwrap_or(0);
        let second = number(12, 2).unwrap_or(0);
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or(TimestampError::OutOfRange("month"))?;
        let day = u8::try_from(day).map_err(|_| TimestampError::OutOfRange("day"))?;
        let date = Date::from_calendar_date(year, month, day).map_err(|_| TimestampError::OutOfRange("day"))?;
        let (nanosecond, precision) = match fraction {
            None => (0, precision),
            Some(fraction) => {
                if precision != Precision::Second
                    || fraction.is_empty()
                    || !fraction.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(TimestampError::Fraction);
                }
                // Keep nanoseconds; HL7 allows four digits, some senders write more.
                let mut nanos: u32 = 0;
                for (i, b) in fraction.bytes().take(9).enumerate() {
                    let digit = u32::from(b.saturating_sub(b'0'));
                    let exponent = u32::try_from(8usize.saturating_sub(i)).unwrap_or(0);
                    nanos = nanos.saturating_add(digit.saturating_mul(10u32.saturating_pow(exponent)));
                }
                (nanos, Precision::Fraction)
            }
        };
        let hour = u8::try_from(hour).map_err(|_| TimestampError::OutOfRange("hour"))?;
        let minute = u8::try_from(minute).map_err(|_| TimestampError::OutOfRange("minute"))?;
        let second = u8::try_from(second).map_err(|_| TimestampError::OutOfRange("second"))?;
        let time = Time::from_hms_nano(hour, minute, second, nanosecond).map_err(|e| {
            TimestampError::OutOfRange(match e.name() {
                "hour" => "hour",
                "minute" => "minute",
                "second" => "second",
                _ => "time",
            })
        })?;
        Ok(Hl7Timestamp { date, time, offset: offset.unwrap_or(JST), offset_given: offset.is_some(), precision })
    }

    /// The instant, with the offset given or +09:00.
    pub fn to_offset_date_time(&self) -> OffsetDateTime {
        PrimitiveDateTime::new(self.date, self.time).assume_offset(self.offset)
    }

    /// The date, when the sender gave at least a day.
    pub fn full_date(&self) -> Option<Date> {
        (self.precision >= Precision::Day).then_some(self.date)
    }
}

fn parse_offset(sign: char, zone: &str) -> Result<UtcOffset, TimestampError> {
    if zone.len() != 4 || !zone.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimestampError::Offset);
    }
    let hours: i8 = zone.get(..2).and_then(|h| h.parse().ok()).ok_or(TimestampError::Offset)?;
    let minutes: i8 = zone.get(2..).and_then(|m| m.parse().ok()).ok_or(TimestampError::Offset)?;
    if hours > 14 || minutes > 59 {
        return Err(TimestampError::Offset);
    }
    let (hours, minutes) = if sign == '-' { (-hours, -minutes) } else { (hours, minutes) };
    UtcOffset::from_hms(hours, minutes, 0).map_err(|_| TimestampError::Offset)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime, time};

    #[test]
    fn precisions() {
        let cases = [
            ("2024", Precision::Year, date!(2024 - 01 - 01), time!(0:00)),
            ("202402", Precision::Month, date!(2024 - 02 - 01), time!(0:00)),
            ("20240229", Precision::Day, date!(2024 - 02 - 29), time!(0:00)),
            ("2024022913", Precision::Hour, date!(2024 - 02 - 29), time!(13:00)),
            ("202402291345", Precision::Minute, date!(2024 - 02 - 29), time!(13:45)),
            ("20240229134501", Precision::Second, date!(2024 - 02 - 29), time!(13:45:01)),
            ("20240229134501.1234", Precision::Fraction, date!(2024 - 02 - 29), time!(13:45:01.1234)),
            ("20240229134501.5", Precision::Fraction, date!(2024 - 02 - 29), time!(13:45:01.5)),
        ];
        for (text, precision, d, t) in cases {
            let ts = Hl7Timestamp::parse(text).unwrap();
            assert_eq!((ts.precision, ts.date, ts.time, ts.offset, ts.offset_given), (precision, d, t, JST, false));
        }
    }

    #[test]
    fn offsets() {
        let ts = Hl7Timestamp::parse("20240105093012+0900").unwrap();
        assert!(ts.offset_given);
        assert_eq!(ts.to_offset_date_time(), datetime!(2024-01-05 0:30:12 UTC));
        let ts = Hl7Timestamp::parse("20240105093012-0530").unwrap();
        assert_eq!(ts.offset, offset!(-5:30));
        let ts = Hl7Timestamp::parse("20240105093012").unwrap();
        assert_eq!(ts.to_offset_date_time(), datetime!(2024-01-05 0:30:12 UTC));
        let ts = Hl7Timestamp::parse(" 20240105+0000 ").unwrap();
        assert_eq!((ts.precision, ts.offset), (Precision::Day, UtcOffset::UTC));
    }

    #[test]
    fn errors() {
        use TimestampError::*;
        let cases = [
            ("", Empty),
            ("  ", Empty),
            ("20241", Length(5)),
            ("202401051", Length(9)),
            ("2024-01-05", Offset),
            ("2024/01/05", NotDigits),
            ("20241305", OutOfRange("month")),
            ("20240230", OutOfRange("day")),
            ("20230229", OutOfRange("day")),
            ("2024010524", OutOfRange("hour")),
            ("202401052360", OutOfRange("minute")),
            ("20240105235960", OutOfRange("second")),
            ("20240105+09", Offset),
            ("20240105+2500", Offset),
            ("20240105+0960", Offset),
            ("202401051200.5", Fraction),
            ("20240105120000.", Fraction),
            ("20240105120000.x", Fraction),
            ("２０２４", NotDigits),
        ];
        for (text, expected) in cases {
            assert_eq!(Hl7Timestamp::parse(text), Err(expected), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn formatted_values_parse_back(
            y in 1900i32..2100, mo in 1u8..=12, d in 1u8..=28, h in 0u8..24, mi in 0u8..60, s in 0u8..60,
            frac in proptest::option::of(0u32..10_000), off in proptest::option::of(-12i8..=14),
        ) {
            let mut text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
            if let Some(f) = frac { text.push_str(&format!(".{f:04}")); }
            if let Some(o) = off { text.push_str(&format!("{}{:02}00", if o < 0 { '-' } else { '+' }, o.abs())); }
            let ts = Hl7Timestamp::parse(&text).unwrap();
            prop_assert_eq!(ts.date, Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d).unwrap());
            prop_assert_eq!(ts.time, Time::from_hms_nano(h, mi, s, frac.unwrap_or(0) * 100_000).unwrap());
            prop_assert_eq!(ts.offset, off.map(|o| UtcOffset::from_hms(o, 0, 0).unwrap()).unwrap_or(JST));
            // Every shorter prefix is a valid lower precision.
            for len in [4usize, 6, 8, 10, 12] {
                prop_assert!(Hl7Timestamp::parse(&text[..len]).is_ok());
            }
        }

        #[test]
        fn never_panics(text in "\\PC{0,30}") {
            let _ = Hl7Timestamp::parse(&text);
        }
    }
}
