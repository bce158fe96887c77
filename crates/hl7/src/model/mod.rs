//! Typed extraction of what the importer needs from a parsed message: the header, the
//! patient (PID), lab results (OBX under OBR/SPM) and prescriptions (RXE or RXO with ORC,
//! TQ1 and RXR). Segments that are not read here, Z-segments included, are ignored.
//!
//! Errors name the field (`PID-7`) and the segment's position, never its content: file
//! paths and these messages may reach operational logs, patient data must not.

mod lab;
mod range;
mod rx;

pub use lab::{AbnormalFlag, Comparator, LabResult, LabValue};
pub use range::{Bound, ReferenceRange};
pub use rx::{OrderingFacility, Prescriber, Prescription, Quantity, Timing};

use time::Date;

use crate::datetime::Hl7Timestamp;
use crate::parse::{Message, Repetition, Segment};

/// A message that parses but lacks, or garbles, something the importer needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A required segment is absent.
    #[error("the message has no {0} segment")]
    MissingSegment(&'static str),
    /// A required field is empty.
    #[error("{field} (segment {segment}) is required but empty")]
    MissingField {
        /// The field, as HL7 names it (`OBX-3`).
        field: &'static str,
        /// 1-based position of the segment in the message.
        segment: usize,
    },
    /// A field holds a value that cannot be read.
    #[error("{field} (segment {segment}) is invalid: {reason}")]
    InvalidField {
        /// The field, as HL7 names it (`PID-7`).
        field: &'static str,
        /// 1-based position of the segment in the message.
        segment: usize,
        /// What is wrong, without quoting the value.
        reason: String,
    },
}

/// Items extracted from one message, with the problems of the items that could not be.
///
/// The importer chooses: take the good items and report the problems, or reject the file
/// when there is any problem ([`Extracted::into_result`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted<T> {
    /// The items read.
    pub items: Vec<T>,
    /// One entry per item that could not be read.
    pub problems: Vec<ModelError>,
}

impl<T> Extracted<T> {
    /// All items, or the first problem.
    pub fn into_result(self) -> Result<Vec<T>, ModelError> {
        match self.problems.into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(self.items),
        }
    }
}

impl<T> Default for Extracted<T> {
    fn default() -> Self {
        Extracted { items: Vec::new(), problems: Vec::new() }
    }
}

/// A coded value (CWE/CE/CNE): code, text and coding system, plus the alternate triple.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coded {
    /// Component 1.
    pub code: Option<String>,
    /// Component 2.
    pub text: Option<String>,
    /// Component 3 (`JC10`, `HOT`, `L` for local...).
    pub system: Option<String>,
    /// Component 4.
    pub alt_code: Option<String>,
    /// Component 5.
    pub alt_text: Option<String>,
    /// Component 6.
    pub alt_system: Option<String>,
}

impl Coded {
    /// Read a CWE from one repetition.
    pub fn from_repetition(rep: &Repetition) -> Coded {
        Coded {
            code: value(rep.component(1)),
            text: value(rep.component(2)),
            system: value(rep.component(3)),
            alt_code: value(rep.component(4)),
            alt_text: value(rep.component(5)),
            alt_system: value(rep.component(6)),
        }
    }

    fn from_field(segment: &Segment, field: usize) -> Option<Coded> {
        let coded = Coded::from_repetition(segment.field(field)?.repetition(1)?);
        (!coded.is_empty()).then_some(coded)
    }

    /// True when no component is set.
    pub fn is_empty(&self) -> bool {
        *self == Coded::default()
    }

    /// The code in one of these coding systems, primary first, then alternate.
    pub fn code_in(&self, systems: &[&str]) -> Option<&str> {
        let matches = |system: &Option<String>| system.as_deref().is_some_and(|s| systems.contains(&s));
        if matches(&self.system) {
            return self.code.as_deref();
        }
        if matches(&self.alt_system) {
            return self.alt_code.as_deref();
        }
        None
    }

    /// The text to show: primary text, else alternate text, else code.
    pub fn display(&self) -> Option<&str> {
        self.text.as_deref().or(self.alt_text.as_deref()).or(self.code.as_deref())
    }
}

/// The message header (MSH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// MSH-9.1, e.g. `OUL`.
    pub message_code: String,
    /// MSH-9.2, e.g. `R22`.
    pub trigger_event: Option<String>,
    /// MSH-9.3, e.g. `OUL_R22`.
    pub message_structure: Option<String>,
    /// MSH-10.
    pub control_id: Option<String>,
    /// MSH-3.1.
    pub sending_application: Option<String>,
    /// MSH-4.1 (in SS-MIX2, the institution code).
    pub sending_facility: Option<String>,
    /// MSH-7.
    pub timestamp: Option<Hl7Timestamp>,
    /// MSH-12.1, e.g. `2.5`.
    pub version: Option<String>,
    /// MSH-18, every repetition (the first is often empty: ASCII).
    pub character_sets: Vec<String>,
}

impl Header {
    /// `code^trigger`, e.g. `ADT^A08`.
    pub fn message_type(&self) -> String {
        match &self.trigger_event {
            Some(trigger) => format!("{}^{trigger}", self.message_code),
            None => self.message_code.clone(),
        }
    }
}

/// Administrative sex (PID-8, HL7 table 0001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `M`
    Male,
    /// `F`
    Female,
    /// `O` (and `A`, ambiguous)
    Other,
    /// `U` (and `N`, not applicable)
    Unknown,
}

/// One person name (XPN): family and given parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    /// XPN-1.
    pub family: String,
    /// XPN-2.
    pub given: Option<String>,
}

impl PersonName {
    /// Family and given name separated by a full-width space, the Japanese way.
    pub fn full(&self) -> String {
        match &self.given {
            Some(given) => format!("{}\u{3000}{given}", self.family),
            None => self.family.clone(),
        }
    }
}

/// An address (XAD). SS-MIX2 writes the whole address as text in XAD-8 and the postal
/// code in XAD-5; other senders use XAD-1..4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// XAD-5.
    pub postal_code: Option<String>,
    /// XAD-8 (other geographic designation), else XAD-4, XAD-3, XAD-1, XAD-2 joined.
    pub text: Option<String>,
}

/// The patient of a message (PID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// PID-3, first identifier: the hospital's local patient id.
    pub id: String,
    /// PID-5 repetition marked `I` (ideographic), or the one that looks like kanji.
    pub kanji_name: Option<PersonName>,
    /// PID-5 repetition marked `P` (phonetic), or the one in kana.
    pub kana_name: Option<PersonName>,
    /// PID-5 repetition marked `A` (alphabetic).
    pub alphabetic_name: Option<PersonName>,
    /// PID-7, when it gives at least a day.
    pub birth_date: Option<Date>,
    /// PID-8.
    pub sex: Option<Sex>,
    /// PID-11, first repetition.
    pub address: Option<Address>,
    /// PID-13, first repetition (XTN-1, else XTN-12 unformatted number).
    pub phone: Option<String>,
}

impl Message {
    /// The header.
    pub fn header(&self) -> Result<Header, ModelError> {
        let msh = self.msh().ok_or(ModelError::MissingSegment("MSH"))?;
        let message_code = value(msh.component(9, 1)).ok_or(ModelError::MissingField { field: "MSH-9", segment: 1 })?;
        Ok(Header {
            message_code,
            trigger_event: value(msh.component(9, 2)),
            message_structure: value(msh.component(9, 3)),
            control_id: value(msh.text(10)),
            sending_application: value(msh.text(3)),
            sending_facility: value(msh.text(4)),
            timestamp: timestamp(msh, 1, 7, "MSH-7")?,
            version: value(msh.text(12)),
            character_sets: msh.repetitions(18).iter().map(|r| r.component(1).to_owned()).collect(),
        })
    }

    /// The patient (first PID).
    pub fn patient(&self) -> Result<Patient, ModelError> {
        let (index, pid) = self.indexed("PID").next().ok_or(ModelError::MissingSegment("PID"))?;
        let id = value(pid.component(3, 1)).ok_or(ModelError::MissingField { field: "PID-3", segment: index })?;

        let mut kanji_name = None;
        let mut kana_name = None;
        let mut alphabetic_name = None;
        let mut unmarked = Vec::new();
        for rep in pid.repetitions(5) {
            let Some(family) = value(rep.component(1)) else { continue };
            let name = PersonName { family, given: value(rep.component(2)) };
            let slot = match rep.component(8) {
                "I" => &mut kanji_name,
                "P" => &mut kana_name,
                "A" => &mut alphabetic_name,
                _ => {
                    unmarked.push(name);
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(name);
            }
        }
        // Senders that omit XPN-8 still write kanji first, kana second: go by the script.
        for name in unmarked {
            let text = name.full();
            let slot = if is_kana(&text) {
                &mut kana_name
            } else if text.chars().all(|c| c.is_ascii() || c == '\u{3000}') {
                &mut alphabetic_name
            } else {
                &mut kanji_name
            };
            if slot.is_none() {
                *slot = Some(name);
            }
        }

        let birth_date = match timestamp(pid, index, 7, "PID-7")? {
            Some(ts) => Some(ts.full_date().ok_or(ModelError::InvalidField {
                field: "PID-7",
                segment: index,
                reason: "the birth date gives no day".to_owned(),
            })?),
            None => None,
        };
        let sex = match pid.text(8) {
            "" | "\"\"" => None,
            "M" => Some(Sex::Male),
            "F" => Some(Sex::Female),
            "O" | "A" => Some(Sex::Other),
            "U" | "N" => Some(Sex::Unknown),
            _ => {
                return Err(ModelError::InvalidField {
                    field: "PID-8",
                    segment: index,
                    reason: "not one of M, F, O, U, A, N".to_owned(),
                });
            }
        };
        let address = pid.field(11).and_then(|f| f.repetition(1)).and_then(|rep| {
            let postal_code = value(rep.component(5));
            let text = value(rep.component(8)).or_else(|| {
                let parts: Vec<&str> =
                    [4, 3, 1, 2].iter().map(|&c| rep.component(c)).filter(|p| value(p).is_some()).collect();
                (!parts.is_empty()).then(|| parts.concat())
            });
            (postal_code.is_some() || text.is_some()).then_some(Address { postal_code, text })
        });
        let phone = pid
            .field(13)
            .and_then(|f| f.repetition(1))
            .and_then(|rep| value(rep.component(1)).or_else(|| value(rep.component(12))));
        Ok(Patient { id, kanji_name, kana_name, alphabetic_name, birth_date, sex, address, phone })
    }

    /// Segments with this id and their 1-based positions.
    fn indexed<'a>(&'a self, id: &'a str) -> impl Iterator<Item = (usize, &'a Segment)> + 'a {
        self.segments().iter().enumerate().filter(move |(_, s)| s.id() == id).map(|(i, s)| (i.saturating_add(1), s))
    }
}

/// A value, or `None` for empty and the HL7 explicit null `""`.
pub(crate) fn value(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty() && trimmed != "\"\"").then(|| trimmed.to_owned())
}

/// Field `field` (first component) of `segment` as a timestamp; `None` when empty.
pub(crate) fn timestamp(
    segment: &Segment,
    index: usize,
    field: usize,
    name: &'static str,
) -> Result<Option<Hl7Timestamp>, ModelError> {
    match value(segment.component(field, 1)) {
        None => Ok(None),
        Some(text) => Hl7Timestamp::parse(&text).map(Some).map_err(|e| ModelError::InvalidField {
            field: name,
            segment: index,
            reason: e.to_string(),
        }),
    }
}

fn is_kana(text: &str) -> bool {
    text.chars().any(|c| !c.is_whitespace())
        && text.chars().all(|c| {
            matches!(c, '\u{3041}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{FF66}'..='\u{FF9F}')
                || c.is_whitespace()
                || c == '\u{3000}'
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use crate::parse::parse;
    use time::macros::date;

    const MSH: &str = "MSH|^~\\&|HIS|9999999999|SSMIX2|9999999999|20240105093012.123||ADT^A08^ADT_A01|C1|P|2.5||||||~ISO IR87||ISO 2022-1994\r";

    #[test]
    fn header() {
        let m = parse(MSH).unwrap();
        let h = m.header().unwrap();
        assert_eq!(h.message_type(), "ADT^A08");
        assert_eq!(h.message_structure.as_deref(), Some("ADT_A01"));
        assert_eq!(h.control_id.as_deref(), Some("C1"));
        assert_eq!(h.sending_facility.as_deref(), Some("9999999999"));
        assert_eq!(h.timestamp.unwrap().date, date!(2024 - 01 - 05));
        assert_eq!(h.character_sets, ["", "ISO IR87"]);
        assert_eq!(h.version.as_deref(), Some("2.5"));
        let m = parse("MSH|^~\\&|A\r").unwrap();
        assert_eq!(m.header(), Err(ModelError::MissingField { field: "MSH-9", segment: 1 }));
    }

    #[test]
    fn patient_full() {
        let text = format!(
            "{MSH}PID|0001||1000000001^^^^PI||山本^美枝^^^^^L^I~ヤマモト^ミエ^^^^^L^P||19420316|F|||^^^^1500001^JPN^H^東京都渋谷区神宮前１－２－３||^PRN^PH^^^^^^^^^03-1234-5678\r"
        );
        let p = parse(&text).unwrap().patient().unwrap();
        assert_eq!(p.id, "1000000001");
        assert_eq!(p.kanji_name.as_ref().unwrap().full(), "山本\u{3000}美枝");
        assert_eq!(p.kana_name.as_ref().unwrap().family, "ヤマモト");
        assert_eq!(p.birth_date, Some(date!(1942 - 03 - 16)));
        assert_eq!(p.sex, Some(Sex::Female));
        let address = p.address.unwrap();
        assert_eq!(address.postal_code.as_deref(), Some("1500001"));
        assert_eq!(address.text.as_deref(), Some("東京都渋谷区神宮前１－２－３"));
        assert_eq!(p.phone.as_deref(), Some("03-1234-5678"));
    }

    #[test]
    fn patient_names_in_any_order_or_unmarked() {
        let reversed = format!("{MSH}PID|1||42||ヤマモト^ミエ^^^^^L^P~山本^美枝^^^^^L^I\r");
        let p = parse(&reversed).unwrap().patient().unwrap();
        assert_eq!(p.kanji_name.unwrap().family, "山本");
        assert_eq!(p.kana_name.unwrap().family, "ヤマモト");
        let unmarked = format!("{MSH}PID|1||42||ﾔﾏﾓﾄ^ﾐｴ~山本^美枝~YAMAMOTO^MIE\r");
        let p = parse(&unmarked).unwrap().patient().unwrap();
        assert_eq!(p.kanji_name.unwrap().family, "山本");
        assert_eq!(p.kana_name.unwrap().family, "ﾔﾏﾓﾄ");
        assert_eq!(p.alphabetic_name.unwrap().given.as_deref(), Some("MIE"));
        let kana_only = format!("{MSH}PID|1||42||^^^^^^L^I~ヤマモト^ミエ^^^^^L^P\r");
        let p = parse(&kana_only).unwrap().patient().unwrap();
        assert!(p.kanji_name.is_none());
        assert!(p.kana_name.is_some());
        let none = format!("{MSH}PID|1||42\r");
        let p = parse(&none).unwrap().patient().unwrap();
        assert_eq!(
            (p.kanji_name, p.kana_name, p.birth_date, p.sex, p.address, p.phone),
            (None, None, None, None, None, None)
        );
    }

    #[test]
    fn patient_errors() {
        let m = parse(MSH).unwrap();
        assert_eq!(m.patient(), Err(ModelError::MissingSegment("PID")));
        let m = parse(&format!("{MSH}PID|1||^^^^PI\r")).unwrap();
        assert_eq!(m.patient(), Err(ModelError::MissingField { field: "PID-3", segment: 2 }));
        let m = parse(&format!("{MSH}PID|1||42||||19421316\r")).unwrap();
        let err = m.patient().unwrap_err();
        assert_eq!(err.to_string(), "PID-7 (segment 2) is invalid: the month is out of range");
        let m = parse(&format!("{MSH}PID|1||42||||1942\r")).unwrap();
        assert!(m.patient().unwrap_err().to_string().contains("no day"));
        let m = parse(&format!("{MSH}PID|1||42|||||X\r")).unwrap();
        assert!(matches!(m.patient(), Err(ModelError::InvalidField { field: "PID-8", .. })));
        let m = parse(&format!("{MSH}PID|1||42|||\"\"|\"\"\r")).unwrap();
        assert_eq!(m.patient().unwrap().sex, None);
    }

    #[test]
    fn coded() {
        let m = parse("MSH|^~\\&|A\rOBX|1|NM|L001^Alb^L^3A015000002327101^アルブミン^JC10\r").unwrap();
        let c = Coded::from_field(m.segment("OBX").unwrap(), 3).unwrap();
        assert_eq!(c.code_in(&["JC10", "JC11"]), Some("3A015000002327101"));
        assert_eq!(c.code_in(&["L"]), Some("L001"));
        assert_eq!(c.code_in(&["HOT"]), None);
        assert_eq!(c.display(), Some("Alb"));
    }
}
