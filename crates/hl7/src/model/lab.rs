//! Lab results: every OBX with the context of the OBR (order, observation time) and SPM
//! (specimen, collection time) above it, as in OUL^R22 (SS-MIX2 OUL-01) and ORU^R01.

use super::range::{ReferenceRange, number};
use super::{Coded, Extracted, ModelError, timestamp, value};
use crate::datetime::Hl7Timestamp;
use crate::parse::{Message, Segment};

/// A comparator before a numeric value (`<0.05`, SN `>=^10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `=`
    Equal,
    /// `<>`
    NotEqual,
}

impl Comparator {
    fn parse(text: &str) -> Option<Comparator> {
        Some(match text {
            "<" | "＜" => Comparator::Less,
            "<=" | "≦" | "≤" => Comparator::LessOrEqual,
            ">" | "＞" => Comparator::Greater,
            ">=" | "≧" | "≥" => Comparator::GreaterOrEqual,
            "=" => Comparator::Equal,
            "<>" => Comparator::NotEqual,
            _ => return None,
        })
    }

    /// The ASCII symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Less => "<",
            Comparator::LessOrEqual => "<=",
            Comparator::Greater => ">",
            Comparator::GreaterOrEqual => ">=",
            Comparator::Equal => "=",
            Comparator::NotEqual => "<>",
        }
    }
}

/// The value of one observation (OBX-5 read by OBX-2).
#[derive(Debug, Clone, PartialEq)]
pub enum LabValue {
    /// NM, or SN with one number. `text` keeps the digits as sent (`4.20`).
    Numeric {
        /// The number.
        value: f64,
        /// The number as sent, without comparator.
        text: String,
        /// A leading comparator, as in `<0.05`.
        comparator: Option<Comparator>,
    },
    /// ST, TX, FT, SN ratios and ranges (`1:40`), dates and other types, as text.
    Text(String),
    /// CWE/CE/CNE.
    Coded(Coded),
    /// No value; only accepted with a result status that says why (X, I, D, N, W).
    Missing,
}

/// An abnormal flag (OBX-8, HL7 table 0078).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AbnormalFlag {
    /// `L`
    Low,
    /// `H`
    High,
    /// `LL`
    CriticallyLow,
    /// `HH`
    CriticallyHigh,
    /// `N`
    Normal,
    /// `A`
    Abnormal,
    /// `AA`
    CriticallyAbnormal,
    /// Anything else, as sent (`<`, `>`, `U`, `D`, local codes).
    Other(String),
}

impl AbnormalFlag {
    fn parse(text: &str) -> AbnormalFlag {
        match text {
            "L" => AbnormalFlag::Low,
            "H" => AbnormalFlag::High,
            "LL" => AbnormalFlag::CriticallyLow,
            "HH" => AbnormalFlag::CriticallyHigh,
            "N" => AbnormalFlag::Normal,
            "A" => AbnormalFlag::Abnormal,
            "AA" => AbnormalFlag::CriticallyAbnormal,
            other => AbnormalFlag::Other(other.to_owned()),
        }
    }

    /// Whether the flag marks the result as outside normal.
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, AbnormalFlag::Normal | AbnormalFlag::Other(_))
    }
}

/// One lab result (one OBX).
#[derive(Debug, Clone, PartialEq)]
pub struct LabResult {
    /// 1-based position of the OBX in the message.
    pub segment: usize,
    /// OBX-1.
    pub set_id: Option<String>,
    /// OBX-2 (`NM`, `ST`, `SN`, `CWE`...).
    pub value_type: String,
    /// OBX-3: code, name, coding system (`JC10` for JLAC10, `L` or a local name).
    pub code: Coded,
    /// OBX-4.
    pub sub_id: Option<String>,
    /// OBX-5 read by OBX-2.
    pub value: LabValue,
    /// OBX-6 (component 1, else 2).
    pub unit: Option<String>,
    /// OBX-7.
    pub reference_range: Option<ReferenceRange>,
    /// OBX-8, every repetition.
    pub abnormal_flags: Vec<AbnormalFlag>,
    /// OBX-11 (`F` final, `C` corrected, `P` preliminary, `X`, `D`...).
    pub status: Option<String>,
    /// OBX-14, else OBR-7, else SPM-17.
    pub observed_at: Option<Hl7Timestamp>,
    /// OBR-2, else ORC-2.
    pub placer_order_number: Option<String>,
    /// OBR-3, else ORC-3.
    pub filler_order_number: Option<String>,
    /// OBR-4 (the ordered test or panel).
    pub panel: Option<Coded>,
    /// SPM-4 (specimen type).
    pub specimen: Option<Coded>,
}

impl LabResult {
    /// The JLAC10 (or JLAC11) code, primary or alternate.
    pub fn jlac_code(&self) -> Option<&str> {
        self.code.code_in(&["JC10", "JC11"])
    }
}

/// Statuses under which an empty OBX-5 is expected: cannot be obtained, pending, deleted,
/// not asked, wrong.
const STATUSES_WITHOUT_VALUE: [&str; 5] = ["X", "I", "D", "N", "W"];

impl Message {
    /// Every OBX as a lab result, with problems for those that cannot be read.
    pub fn lab_results(&self) -> Extracted<LabResult> {
        let mut out = Extracted::default();
        let mut spm: Option<(usize, &Segment)> = None;
        let mut obr: Option<(usize, &Segment)> = None;
        // ORC follows OBR in OUL^R22 but precedes it in ORU^R01.
        let mut orc_of_obr: Option<&Segment> = None;
        let mut pending_orc: Option<&Segment> = None;
        let mut previous_id = "";
        for (i, segment) in self.segments().iter().enumerate() {
            let index = i.saturating_add(1);
            match segment.id() {
                "SPM" => {
                    spm = Some((index, segment));
                    obr = None;
                    orc_of_obr = None;
                }
                "OBR" => {
                    obr = Some((index, segment));
                    orc_of_obr = pending_orc.take();
                }
                "ORC" => {
                    if previous_id == "OBR" && orc_of_obr.is_none() {
                        orc_of_obr = Some(segment);
                    } else {
                        pending_orc = Some(segment);
                    }
                }
                "OBX" => match lab_result(index, segment, self, obr, orc_of_obr, spm) {
                    Ok(result) => out.items.push(result),
                    Err(problem) => out.problems.push(problem),
                },
                _ => {}
            }
            previous_id = segment.id();
        }
        out
    }
}

fn lab_result(
    index: usize,
    obx: &Segment,
    message: &Message,
    obr: Option<(usize, &Segment)>,
    orc: Option<&Segment>,
    spm: Option<(usize, &Segment)>,
) -> Result<LabResult, ModelError> {
    let code = Coded::from_field(obx, 3).filter(|c| c.code.is_some() || c.alt_code.is_some());
    let code = code.ok_or(ModelError::MissingField { field: "OBX-3", segment: index })?;
    let value_type = obx.text(2).trim().to_ascii_uppercase();
    let status = value(obx.text(11));
    let observation = read_value(index, obx, &value_type, message)?;
    if observation == LabValue::Missing && !status.as_deref().is_some_and(|s| STATUSES_WITHOUT_VALUE.contains(&s)) {
        return Err(ModelError::MissingField { field: "OBX-5", segment: index });
    }
    let unit = value(obx.component(6, 1)).or_else(|| value(obx.component(6, 2)));
    let reference_range = obx
        .field(7)
        .and_then(|f| f.repetition(1))
        .map(|rep| rep.joined(message.delimiters()))
        .and_then(|text| value(&text))
        .map(|text| ReferenceRange::parse(&text));
    let abnormal_flags =
        obx.repetitions(8).iter().filter_map(|rep| value(rep.component(1))).map(|f| AbnormalFlag::parse(&f)).collect();

    let mut observed_at = timestamp(obx, index, 14, "OBX-14")?;
    if observed_at.is_none()
        && let Some((obr_index, obr)) = obr
    {
        observed_at = timestamp(obr, obr_index, 7, "OBR-7")?;
    }
    if observed_at.is_none()
        && let Some((spm_index, spm)) = spm
    {
        observed_at = timestamp(spm, spm_index, 17, "SPM-17")?;
    }
    let order_number = |obr_field: usize| {
        obr.and_then(|(_, obr)| value(obr.component(obr_field, 1)))
            .or_else(|| orc.and_then(|orc| value(orc.component(obr_field, 1))))
    };
    Ok(LabResult {
        segment: index,
        set_id: value(obx.text(1)),
        value_type,
        code,
        sub_id: value(obx.text(4)),
        value: observation,
        unit,
        reference_range,
        abnormal_flags,
        status,
        observed_at,
        placer_order_number: order_number(2),
        filler_order_number: order_number(3),
        panel: obr.and_then(|(_, obr)| Coded::from_field(obr, 4)),
        specimen: spm.and_then(|(_, spm)| Coded::from_field(spm, 4)),
    })
}

fn read_value(index: usize, obx: &Segment, value_type: &str, message: &Message) -> Result<LabValue, ModelError> {
    let reps: Vec<_> = obx.repetitions(5).iter().filter(|rep| !rep.is_empty()).collect();
    let Some(first) = reps.first() else { return Ok(LabValue::Missing) };
    let invalid = |reason: &str| ModelError::InvalidField { field: "OBX-5", segment: index, reason: reason.to_owned() };
    match value_type {
        "NM" => {
            let text = first.joined(message.delimiters());
            numeric_with_comparator(text.trim()).ok_or_else(|| invalid("OBX-2 says NM but the value is not a number"))
        }
        "SN" => {
            // comparator ^ number ^ separator/suffix ^ number
            let comparator = first.component(1).trim();
            let (n1, separator, n2) = (first.component(2).trim(), first.component(3).trim(), first.component(4).trim());
            if separator.is_empty() && n2.is_empty() {
                let value = number(n1).ok_or_else(|| invalid("OBX-2 says SN but it holds no number"))?;
                let comparator = match comparator {
                    "" => None,
                    c => Some(Comparator::parse(c).ok_or_else(|| invalid("unknown SN comparator"))?),
                };
                Ok(LabValue::Numeric { value, text: n1.to_owned(), comparator })
            } else {
                Ok(LabValue::Text(format!("{comparator}{n1}{separator}{n2}")))
            }
        }
        "CWE" | "CE" | "CNE" | "CF" => Ok(LabValue::Coded(super::Coded::from_repetition(first))),
        _ => {
            let lines: Vec<String> = reps.iter().map(|rep| rep.joined(message.delimiters())).collect();
            Ok(LabValue::Text(lines.join("\n")))
        }
    }
}

/// `12.3`, `<0.05`, `>=1000`: the number with an optional leading comparator.
fn numeric_with_comparator(text: &str) -> Option<LabValue> {
    let split = text.find(|c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == '.').unwrap_or(text.len());
    let (prefix, digits) = (text.get(..split)?.trim(), text.get(split..)?.trim());
    let comparator = match prefix {
        "" => None,
        p => Some(Comparator::parse(p)?),
    };
    Some(LabValue::Numeric { value: number(digits)?, text: digits.to_owned(), comparator })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use crate::parse::parse;
    use time::macros::{date, time};

    const OUL: &str = "MSH|^~\\&|LAB|9999999999|||20240105120000||OUL^R22^OUL_R22|C2|P|2.5||||||~ISO IR87\r\
        PID|0001||1000000001^^^^PI||山本^美枝^^^^^L^I\r\
        PV1|0001|O\r\
        SPM|1|||023^血清^JC10||||||||||||||20240105083000\r\
        OBR|1|ORD1|FIL1|LAB01^生化学^L|||20240105090000\r\
        ORC|SC|ORD1|FIL1|||CM\r\
        OBX|1|NM|3A015000002327101^アルブミン^JC10||3.20|g/dL|4.1-5.1|L|||F|||20240105093000\r\
        ZXX|ignored\r\
        OBX|2|NM|5C070000002306201^CRP^JC10||<0.05|mg/dL|<=0.14||||F\r\
        OBX|3|SN|5C070000002306201^CRP^JC10||<^0.05|mg/dL|<=0.14||||F\r\
        OBX|4|ST|L100^コメント^L||検体溶血\\S\\軽度||||||F\r\
        OBX|5|NM|3H015000002326101^カリウム^JC10|||mmol/L|3.6-4.8||||X\r\
        OBX|6|CWE|L200^尿蛋白^L||2^(+)^L||(-)|H|||C\r\
        OBX|7|SN|L300^抗体価^L||^1^:^40||||||F\r\
        OBX|8|TX|L400^所見^L||一行目~二行目||||||F\r";

    #[test]
    fn oul() {
        let m = parse(OUL).unwrap();
        let extracted = m.lab_results();
        assert!(extracted.problems.is_empty(), "{:?}", extracted.problems);
        let r = &extracted.items;
        assert_eq!(r.len(), 8);
        let alb = &r[0];
        assert_eq!(alb.jlac_code(), Some("3A015000002327101"));
        assert_eq!(alb.code.text.as_deref(), Some("アルブミン"));
        assert_eq!(alb.value, LabValue::Numeric { value: 3.2, text: "3.20".into(), comparator: None });
        assert_eq!(alb.unit.as_deref(), Some("g/dL"));
        let range = alb.reference_range.as_ref().unwrap();
        assert_eq!((range.low.unwrap().value, range.high.unwrap().value), (4.1, 5.1));
        assert_eq!(alb.abnormal_flags, [AbnormalFlag::Low]);
        assert_eq!(alb.status.as_deref(), Some("F"));
        let at = alb.observed_at.unwrap();
        assert_eq!((at.date, at.time), (date!(2024 - 01 - 05), time!(9:30)));
        assert_eq!(alb.placer_order_number.as_deref(), Some("ORD1"));
        assert_eq!(alb.filler_order_number.as_deref(), Some("FIL1"));
        assert_eq!(alb.specimen.as_ref().unwrap().text.as_deref(), Some("血清"));
        assert_eq!(alb.panel.as_ref().unwrap().code.as_deref(), Some("LAB01"));
        // Falls back to OBR-7.
        assert_eq!(r[1].observed_at.unwrap().time, time!(9:00));
        let lt = LabValue::Numeric { value: 0.05, text: "0.05".into(), comparator: Some(Comparator::Less) };
        assert_eq!(r[1].value, lt);
        assert_eq!(r[2].value, lt);
        assert_eq!(r[3].value, LabValue::Text("検体溶血^軽度".into()));
        assert_eq!((&r[4].value, r[4].status.as_deref()), (&LabValue::Missing, Some("X")));
        let LabValue::Coded(coded) = &r[5].value else { panic!() };
        assert_eq!(coded.text.as_deref(), Some("(+)"));
        assert_eq!(r[6].value, LabValue::Text("1:40".into()));
        assert_eq!(r[7].value, LabValue::Text("一行目\n二行目".into()));
        assert_eq!(r[7].segment, 15);
    }

    #[test]
    fn oru_with_orc_before_obr() {
        let text = "MSH|^~\\&|A||||20240105||ORU^R01|1|P|2.5\rPID|1||42\r\
                    ORC|RE|P1|F1\rOBR|1|||X^Y\rOBX|1|NM|A^B^L||1||||||F\r\
                    ORC|RE|P2|F2\rOBR|2|||X^Y\rOBX|1|NM|A^B^L||2||||||F\r";
        let r = parse(text).unwrap().lab_results().into_result().unwrap();
        assert_eq!(r[0].placer_order_number.as_deref(), Some("P1"));
        assert_eq!(r[1].placer_order_number.as_deref(), Some("P2"));
        assert_eq!(r[1].filler_order_number.as_deref(), Some("F2"));
        assert!(r[0].observed_at.is_none());
    }

    #[test]
    fn problems_are_per_obx() {
        let text = "MSH|^~\\&|A||||20240105||ORU^R01|1|P|2.5\rPID|1||42\rOBR|1\r\
                    OBX|1|NM|A^B^L||abc||||||F\r\
                    OBX|2|NM|||1||||||F\r\
                    OBX|3|NM|A^B^L||||||||F\r\
                    OBX|4|NM|A^B^L||1||||||F|||2024133\r\
                    OBX|5|SN|A^B^L||~^x||||||F\r\
                    OBX|6|SN|A^B^L||!^1||||||F\r\
                    OBX|7|NM|A^B^L||1.5||||||F\r";
        let e = parse(text).unwrap().lab_results();
        assert_eq!(e.items.len(), 1);
        let fields: Vec<_> = e
            .problems
            .iter()
            .map(|p| match p {
                ModelError::MissingField { field, segment } | ModelError::InvalidField { field, segment, .. } => {
                    (*field, *segment)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fields, [("OBX-5", 4), ("OBX-3", 5), ("OBX-5", 6), ("OBX-14", 7), ("OBX-5", 8), ("OBX-5", 9)]);
        assert!(e.clone().into_result().is_err());
        for problem in &e.problems {
            assert!(!problem.to_string().contains("abc"), "messages must not quote values");
        }
    }
}
