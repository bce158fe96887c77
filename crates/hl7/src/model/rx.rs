//! Prescriptions: RXE (RDE^O11, what SS-MIX2 stores under OMP-01, laid out by the JAHIS
//! 処方データ交換規約) or RXO (OMP^O09, as the first SS-MIX wrote them) with the ORC, TQ1
//! and RXR of their order group. A group runs from one ORC to the next; HL7 puts TQ1 before
//! RXO in OMP^O09 and after RXE in RDE^O11, so timing and route are read from the whole
//! group. When a group holds both RXO and RXE (RDE may repeat the order), RXE wins.
//!
//! JAHIS fields read beyond the HL7 basics: RXE-3 is the amount per dose (1回量) and RXE-19
//! the daily amount (1日量, `3^TAB&錠&MR9P`), TQ1-3 the JAMI dosage code (用法), TQ1-6 the
//! days (`7^D`), TQ1-11 a dosage comment, ORC-17 the department (診療科) and ORC-21 the
//! ordering facility with its institution code in XON-10.

use super::range::number;
use super::{Coded, Extracted, ModelError, timestamp, value};
use crate::datetime::Hl7Timestamp;
use crate::parse::{Message, Segment};

/// An amount as sent, with the number read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The amount as sent (`1`, `0.5`).
    pub text: String,
    /// The number.
    pub value: f64,
}

/// How often and when to take the drug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// The code (JAMI 16-digit dosage code in SS-MIX2, `JAMISDP01`), if any.
    pub code: Option<String>,
    /// The text (`内服・経口・１日３回朝昼夕食後`), if any.
    pub text: Option<String>,
    /// The coding system of `code`.
    pub system: Option<String>,
}

/// The ordering doctor (ORC-12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescriber {
    /// XCN-1.
    pub id: Option<String>,
    /// XCN-2 and XCN-3 with a full-width space.
    pub name: Option<String>,
}

/// The facility that placed the order (ORC-21, XON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderingFacility {
    /// XON-1.
    pub name: Option<String>,
    /// XON-10 (in Japan, the 10-digit institution code).
    pub id: Option<String>,
}

/// One prescribed drug.
#[derive(Debug, Clone, PartialEq)]
pub struct Prescription {
    /// 1-based position of the RXE/RXO in the message.
    pub segment: usize,
    /// `RXE` or `RXO`.
    pub source: &'static str,
    /// ORC-1 (`NW` new, `CA` cancel, `DC` discontinue...).
    pub order_control: Option<String>,
    /// ORC-2.
    pub placer_order_number: Option<String>,
    /// ORC-3.
    pub filler_order_number: Option<String>,
    /// ORC-4 (in JAHIS, the Rp number).
    pub placer_group_number: Option<String>,
    /// RXE-2 / RXO-1: code, name, system (`HOT`, `YJ`...).
    pub drug: Coded,
    /// RXE-3 / RXO-2: amount per dose.
    pub dose: Option<Quantity>,
    /// RXE-5 / RXO-4.
    pub dose_unit: Option<Coded>,
    /// RXE-6 / RXO-5.
    pub dosage_form: Option<Coded>,
    /// RXE-19 amount: the daily amount (JAHIS 1日量); RXO has none.
    pub daily_dose: Option<Quantity>,
    /// RXE-19 unit (a CWE written with subcomponents).
    pub daily_dose_unit: Option<Coded>,
    /// RXE-10 / RXO-11: total amount dispensed.
    pub dispense_amount: Option<Quantity>,
    /// RXE-11 / RXO-12.
    pub dispense_unit: Option<Coded>,
    /// RXR-1.
    pub route: Option<Coded>,
    /// TQ1-3 repeat pattern, else TQ1-11 text, else RXE-1 / ORC-7 (the old TQ type).
    pub timing: Option<Timing>,
    /// TQ1-11 (a dosage comment, 用法コメント) when it is not already the timing's text.
    pub instructions: Option<String>,
    /// TQ1-6 service duration when given in days (`7^D`).
    pub days: Option<u32>,
    /// TQ1-14 total occurrences (as-needed drugs: number of doses).
    pub total_occurrences: Option<u32>,
    /// TQ1-7.
    pub start: Option<Hl7Timestamp>,
    /// TQ1-8.
    pub end: Option<Hl7Timestamp>,
    /// ORC-9 (transaction), else ORC-15 (effective), else TQ1-7.
    pub ordered_at: Option<Hl7Timestamp>,
    /// ORC-12.
    pub prescriber: Option<Prescriber>,
    /// ORC-17 (in JAHIS, the department: `01^内科^99Z01`).
    pub department: Option<Coded>,
    /// ORC-21.
    pub ordering_facility: Option<OrderingFacility>,
}

#[derive(Default)]
struct Group<'a> {
    orc: Option<(usize, &'a Segment)>,
    rxe: Vec<(usize, &'a Segment)>,
    rxo: Vec<(usize, &'a Segment)>,
    tq1: Option<(usize, &'a Segment)>,
    rxr: Option<&'a Segment>,
}

impl Message {
    /// Every prescribed drug (RXE, else RXO, per order group), with problems for those
    /// that cannot be read.
    pub fn prescriptions(&self) -> Extracted<Prescription> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut current = Group::default();
        for (i, segment) in self.segments().iter().enumerate() {
            let index = i.saturating_add(1);
            match segment.id() {
                "ORC" => {
                    groups.push(std::mem::take(&mut current));
                    current.orc = Some((index, segment));
                }
                "RXE" => current.rxe.push((index, segment)),
                "RXO" => current.rxo.push((index, segment)),
                "TQ1" if current.tq1.is_none() => current.tq1 = Some((index, segment)),
                "RXR" if current.rxr.is_none() => current.rxr = Some(segment),
                _ => {}
            }
        }
        groups.push(current);

        let mut out = Extracted::default();
        for group in &groups {
            let (items, source) = if group.rxe.is_empty() { (&group.rxo, "RXO") } else { (&group.rxe, "RXE") };
            for &(index, segment) in items {
                match prescription(group, index, segment, source) {
                    Ok(p) => out.items.push(p),
                    Err(problem) => out.problems.push(problem),
                }
            }
        }
        out
    }
}

/// Field numbers that differ between RXE and RXO.
struct Layout {
    drug: (usize, &'static str),
    dose: (usize, &'static str),
    dose_unit: usize,
    dosage_form: usize,
    dispense_amount: (usize, &'static str),
    dispense_unit: usize,
    daily_dose: Option<(usize, &'static str)>,
}

const RXE: Layout = Layout {
    drug: (2, "RXE-2"),
    dose: (3, "RXE-3"),
    dose_unit: 5,
    dosage_form: 6,
    dispense_amount: (10, "RXE-10"),
    dispense_unit: 11,
    daily_dose: Some((19, "RXE-19")),
};

const RXO: Layout = Layout {
    drug: (1, "RXO-1"),
    dose: (2, "RXO-2"),
    dose_unit: 4,
    dosage_form: 5,
    dispense_amount: (11, "RXO-11"),
    dispense_unit: 12,
    daily_dose: None,
};

fn prescription(
    group: &Group<'_>,
    index: usize,
    segment: &Segment,
    source: &'static str,
) -> Result<Prescription, ModelError> {
    let layout = if source == "RXE" { &RXE } else { &RXO };
    let drug = Coded::from_field(segment, layout.drug.0)
        .filter(|d| d.code.is_some() || d.text.is_some())
        .ok_or(ModelError::MissingField { field: layout.drug.1, segment: index })?;
    let dose = quantity(segment, index, layout.dose)?;
    let dispense_amount = quantity(segment, index, layout.dispense_amount)?;
    let (daily_dose, daily_dose_unit) = match layout.daily_dose {
        Some(field) => (quantity(segment, index, field)?, coded_in_component(segment, field.0, 2)),
        None => (None, None),
    };

    let orc = group.orc;
    let orc_value = |field: usize| orc.and_then(|(_, orc)| value(orc.component(field, 1)));

    let mut timing = None;
    let mut instructions = None;
    let mut days = None;
    let mut total_occurrences = None;
    let mut start = None;
    let mut end = None;
    if let Some((tq1_index, tq1)) = group.tq1 {
        // TQ1-3 is RPT; its first component is a CWE written with subcomponents.
        let code = tq1.get(3, 1, 1, 1).and_then(value);
        let text = tq1.get(3, 1, 1, 2).and_then(value).or_else(|| value(tq1.text(11)));
        let system = tq1.get(3, 1, 1, 3).and_then(value);
        let comment = value(tq1.text(11));
        if comment != text {
            instructions = comment;
        }
        if code.is_some() || text.is_some() {
            timing = Some(Timing { code, text, system });
        }
        if let Some(amount) = value(tq1.component(6, 1)) {
            let unit = tq1.component(6, 2).trim();
            if matches!(unit, "D" | "d" | "日" | "") {
                days = Some(count(&amount, tq1_index, "TQ1-6")?);
            }
        }
        if let Some(total) = value(tq1.text(14)) {
            total_occurrences = Some(count(&total, tq1_index, "TQ1-14")?);
        }
        start = timestamp(tq1, tq1_index, 7, "TQ1-7")?;
        end = timestamp(tq1, tq1_index, 8, "TQ1-8")?;
    }
    if timing.is_none() {
        // The old TQ type (RXE-1, ORC-7): component 8 is text, component 2 the interval.
        let old = if source == "RXE" { Some(segment) } else { None };
        let field = if source == "RXE" { 1 } else { 7 };
        if let Some(tq) = old.or(orc.map(|(_, orc)| orc)) {
            let text = value(tq.component(field, 8)).or_else(|| value(tq.component(field, 2)));
            if text.is_some() {
                timing = Some(Timing { code: None, text, system: None });
            }
        }
    }

    let mut ordered_at = None;
    if let Some((orc_index, orc)) = orc {
        ordered_at = timestamp(orc, orc_index, 9, "ORC-9")?;
        if ordered_at.is_none() {
            ordered_at = timestamp(orc, orc_index, 15, "ORC-15")?;
        }
    }
    let ordered_at = ordered_at.or(start);

    let prescriber = orc.and_then(|(_, orc)| orc.field(12)?.repetition(1)).and_then(|xcn| {
        let id = value(xcn.component(1));
        let name = match (value(xcn.component(2)), value(xcn.component(3))) {
            (Some(family), Some(given)) => Some(format!("{family}\u{3000}{given}")),
            (family, given) => family.or(given),
        };
        (id.is_some() || name.is_some()).then_some(Prescriber { id, name })
    });

    let ordering_facility = orc.and_then(|(_, orc)| orc.field(21)?.repetition(1)).and_then(|xon| {
        let name = value(xon.component(1));
        let id = value(xon.component(10));
        (name.is_some() || id.is_some()).then_some(OrderingFacility { name, id })
    });

    Ok(Prescription {
        segment: index,
        source,
        order_control: orc_value(1),
        placer_order_number: orc_value(2),
        filler_order_number: orc_value(3),
        placer_group_number: orc_value(4),
        drug,
        dose,
        dose_unit: Coded::from_field(segment, layout.dose_unit),
        dosage_form: Coded::from_field(segment, layout.dosage_form),
        daily_dose,
        daily_dose_unit,
        dispense_amount,
        dispense_unit: Coded::from_field(segment, layout.dispense_unit),
        route: group.rxr.and_then(|rxr| Coded::from_field(rxr, 1)),
        timing,
        instructions,
        days,
        total_occurrences,
        start,
        end,
        ordered_at,
        prescriber,
        department: orc.and_then(|(_, orc)| Coded::from_field(orc, 17)),
        ordering_facility,
    })
}

/// A CWE written as the subcomponents of one component (the unit of a CQ: `3^TAB&錠&MR9P`).
fn coded_in_component(segment: &Segment, field: usize, component: usize) -> Option<Coded> {
    let sub = |n: usize| segment.get(field, 1, component, n).and_then(value);
    let coded = Coded { code: sub(1), text: sub(2), system: sub(3), ..Coded::default() };
    (!coded.is_empty()).then_some(coded)
}

fn quantity(
    segment: &Segment,
    index: usize,
    (field, name): (usize, &'static str),
) -> Result<Option<Quantity>, ModelError> {
    let Some(text) = value(segment.component(field, 1)) else { return Ok(None) };
    let value = number(&text).ok_or(ModelError::InvalidField {
        field: name,
        segment: index,
        reason: "not a number".to_owned(),
    })?;
    Ok(Some(Quantity { text, value }))
}

fn count(text: &str, index: usize, field: &'static str) -> Result<u32, ModelError> {
    text.trim().parse().map_err(|_| ModelError::InvalidField {
        field,
        segment: index,
        reason: "not a whole number".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use crate::parse::parse;
    use time::macros::date;

    const OMP: &str = "MSH|^~\\&|HIS|9999999999|||20240105100000||OMP^O09^OMP_O09|C3|P|2.5||||||~ISO IR87\r\
        PID|0001||1000000001^^^^PI\r\
        ORC|NW|RX0001||RX0001_01|||||20240105|||1001^医師^一郎^^^^^^^L^^^^^I\r\
        TQ1|||1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01|||7^D|20240105\r\
        RXO|610443047^酸化マグネシウム錠３３０ｍｇ^HOT|1||TAB^錠^MR9P|TAB^錠剤^MR9F||||||21|TAB^錠^MR9P\r\
        RXR|PO^経口^HL70162\r\
        ZRX|local\r\
        ORC|NW|RX0002||RX0001_02|||||20240105\r\
        TQ1|||1050110020000000&頓用・疼痛時&JAMISDP01||||20240105|||||||10\r\
        RXO|620000001^アセトアミノフェン錠２００ｍｇ^HOT|2||TAB^錠^MR9P\r\
        RXR|PO^経口^HL70162\r";

    #[test]
    fn omp() {
        let p = parse(OMP).unwrap().prescriptions().into_result().unwrap();
        assert_eq!(p.len(), 2);
        let mg = &p[0];
        assert_eq!(mg.source, "RXO");
        assert_eq!(mg.drug.code_in(&["HOT"]), Some("610443047"));
        assert_eq!(mg.drug.text.as_deref(), Some("酸化マグネシウム錠３３０ｍｇ"));
        assert_eq!(mg.dose, Some(Quantity { text: "1".into(), value: 1.0 }));
        assert_eq!(mg.dose_unit.as_ref().unwrap().text.as_deref(), Some("錠"));
        assert_eq!(mg.dosage_form.as_ref().unwrap().text.as_deref(), Some("錠剤"));
        assert_eq!(mg.dispense_amount.as_ref().unwrap().value, 21.0);
        assert_eq!(mg.route.as_ref().unwrap().code.as_deref(), Some("PO"));
        let timing = mg.timing.as_ref().unwrap();
        assert_eq!(timing.code.as_deref(), Some("1013044400000000"));
        assert_eq!(timing.text.as_deref(), Some("内服・経口・１日３回朝昼夕食後"));
        assert_eq!(mg.days, Some(7));
        assert_eq!(mg.start.unwrap().date, date!(2024 - 01 - 05));
        assert_eq!(mg.ordered_at.unwrap().date, date!(2024 - 01 - 05));
        let doctor = mg.prescriber.as_ref().unwrap();
        assert_eq!((doctor.id.as_deref(), doctor.name.as_deref()), (Some("1001"), Some("医師\u{3000}一郎")));
        assert_eq!(mg.placer_order_number.as_deref(), Some("RX0001"));
        assert_eq!(mg.placer_group_number.as_deref(), Some("RX0001_01"));
        let prn = &p[1];
        assert_eq!(prn.total_occurrences, Some(10));
        assert_eq!(prn.days, None);
        assert_eq!(prn.dose.as_ref().unwrap().value, 2.0);
        assert!(prn.prescriber.is_none());
    }

    #[test]
    fn rde_with_tq1_after_rxe_and_old_timing() {
        let text = "MSH|^~\\&|A||||20240105||RDE^O11^RDE_O11|1|P|2.5\rPID|1||42\r\
                    ORC|NW|P1\rRXE||H1^オキシコドン^HOT|5||MG^mg^MR9P\rTQ1|||1&１日２回&JAMISDP01|||14^D\rRXR|PO\r\
                    ORC|NW|P2\rRXO|IGNORED^x^HOT\rRXE|^1^^^^^^1日1回朝|H2^ランソプラゾール^HOT|1\r";
        let p = parse(text).unwrap().prescriptions().into_result().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].source, p[0].days), ("RXE", Some(14)));
        assert_eq!(p[0].timing.as_ref().unwrap().text.as_deref(), Some("１日２回"));
        assert_eq!(p[0].dose_unit.as_ref().unwrap().code.as_deref(), Some("MG"));
        assert_eq!(p[1].drug.code.as_deref(), Some("H2"));
        assert_eq!(p[1].timing.as_ref().unwrap().text.as_deref(), Some("1日1回朝"));
        assert!(p[1].route.is_none());
    }

    /// A JAHIS RDE^O11 as SS-MIX2 stores it under OMP-01, ISO-2022-JP encoded: the kanji of
    /// 人参養栄湯 (養) and 頓用 (頓) are `\` on the wire, マグミット's マ is `^`, 疼痛時's 時 is
    /// `~`. Decoded before it is split, every name comes out whole and no field moves.
    #[test]
    fn rde_o11_from_iso_2022_jp_with_delimiter_bytes_in_kanji() {
        let text = "MSH|^~\\&|HIS|1312345678|||20240304101500||RDE^O11^RDE_O11|R1|P|2.5||||||~ISO IR87||ISO 2022-1994\r\
            PID|0001||1000000001^^^^PI\r\
            ORC|NW|RX0001||RX0001_01|||||20240304101000|||1001^医師^一郎^^^^^^^L^^^^^I|||||01^内科^99Z01||||臨海総合病院^^^^^^^^^1312345678\r\
            RXE||610463147^マグミット錠３３０ｍｇ^HOT^6123456F1000^^YJ|1||TAB^錠^MR9P|TAB^錠剤^MR9F||||42|TAB^錠^MR9P||||||||3^TAB&錠&MR9P\r\
            TQ1|||1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01|||14^D|20240304|20240317|||食直後でも可\r\
            RXR|PO^経口^HL70162\r\
            ORC|NW|RX0001||RX0001_02|||||20240304101000|||1001^医師^一郎^^^^^^^L^^^^^I|||||01^内科^99Z01\r\
            RXE||610000002^ツムラ人参養栄湯エキス顆粒（医療用）^HOT|3||G^ｇ^MR9P|GRA^顆粒剤^MR9F||||27|G^ｇ^MR9P||||||||9^G&ｇ&MR9P\r\
            TQ1|||1013022200000000&内服・経口・１日３回朝昼夕食前&JAMISDP01|||3^D|20240304\r\
            RXR|PO^経口^HL70162\r\
            ORC|NW|RX0001||RX0001_03|||||20240304101000\r\
            RXE||620000003^ロキソプロフェンＮａ錠６０ｍｇ^HOT|1||TAB^錠^MR9P|TAB^錠剤^MR9F||||10|TAB^錠^MR9P\r\
            TQ1|||1050110020000000&頓用・経口・疼痛時&JAMISDP01||||20240304|||||||10\r\
            RXR|PO^経口^HL70162\r";
        let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(text);
        assert!(!unmappable);
        // The hazard is real: these names put delimiter bytes on the wire.
        for (name, delimiter) in [("人参養栄湯", b'\\'), ("マグミット", b'^'), ("頓用", b'\\'), ("疼痛時", b'~')]
        {
            let (encoded, _, _) = encoding_rs::ISO_2022_JP.encode(name);
            assert!(encoded.contains(&delimiter), "{name}");
        }
        let decoded = crate::decode::decode(&bytes, crate::decode::Charset::ShiftJis).unwrap();
        let p = parse(&decoded).unwrap().prescriptions().into_result().unwrap();
        assert_eq!(p.len(), 3);

        let mg = &p[0];
        assert_eq!(mg.source, "RXE");
        assert_eq!(mg.drug.text.as_deref(), Some("マグミット錠３３０ｍｇ"));
        assert_eq!(mg.drug.code_in(&["HOT"]), Some("610463147"));
        assert_eq!(mg.drug.code_in(&["YJ"]), Some("6123456F1000"));
        assert_eq!(mg.dose, Some(Quantity { text: "1".into(), value: 1.0 }));
        assert_eq!(mg.dose_unit.as_ref().unwrap().text.as_deref(), Some("錠"));
        assert_eq!(mg.daily_dose.as_ref().map(|q| q.value), Some(3.0));
        let unit = mg.daily_dose_unit.as_ref().unwrap();
        assert_eq!(
            (unit.code.as_deref(), unit.text.as_deref(), unit.system.as_deref()),
            (Some("TAB"), Some("錠"), Some("MR9P"))
        );
        assert_eq!(mg.dispense_amount.as_ref().map(|q| q.value), Some(42.0));
        assert_eq!(mg.dosage_form.as_ref().unwrap().text.as_deref(), Some("錠剤"));
        let timing = mg.timing.as_ref().unwrap();
        assert_eq!(timing.code.as_deref(), Some("1013044400000000"));
        assert_eq!(timing.text.as_deref(), Some("内服・経口・１日３回朝昼夕食後"));
        assert_eq!(timing.system.as_deref(), Some("JAMISDP01"));
        assert_eq!(mg.instructions.as_deref(), Some("食直後でも可"));
        assert_eq!((mg.days, mg.total_occurrences), (Some(14), None));
        assert_eq!(mg.start.unwrap().date, date!(2024 - 03 - 04));
        assert_eq!(mg.end.unwrap().date, date!(2024 - 03 - 17));
        assert_eq!(mg.ordered_at.unwrap().to_offset_date_time().hour(), 10);
        assert_eq!(mg.route.as_ref().unwrap().text.as_deref(), Some("経口"));
        assert_eq!(mg.prescriber.as_ref().unwrap().name.as_deref(), Some("医師\u{3000}一郎"));
        assert_eq!(mg.department.as_ref().unwrap().text.as_deref(), Some("内科"));
        let facility = mg.ordering_facility.as_ref().unwrap();
        assert_eq!((facility.name.as_deref(), facility.id.as_deref()), (Some("臨海総合病院"), Some("1312345678")));
        assert_eq!(
            (mg.placer_order_number.as_deref(), mg.placer_group_number.as_deref()),
            (Some("RX0001"), Some("RX0001_01"))
        );

        let kampo = &p[1];
        assert_eq!(kampo.drug.text.as_deref(), Some("ツムラ人参養栄湯エキス顆粒（医療用）"));
        assert_eq!(kampo.dose.as_ref().map(|q| q.value), Some(3.0));
        assert_eq!(kampo.daily_dose.as_ref().map(|q| q.text.as_str()), Some("9"));
        assert_eq!(kampo.days, Some(3));
        assert_eq!(kampo.instructions, None);
        assert_eq!(kampo.end, None);

        let prn = &p[2];
        assert_eq!(prn.drug.text.as_deref(), Some("ロキソプロフェンＮａ錠６０ｍｇ"));
        assert_eq!(prn.timing.as_ref().unwrap().text.as_deref(), Some("頓用・経口・疼痛時"));
        assert_eq!((prn.days, prn.total_occurrences), (None, Some(10)));
        assert_eq!((prn.daily_dose.as_ref(), prn.daily_dose_unit.as_ref()), (None, None));
        assert!(prn.prescriber.is_none() && prn.department.is_none() && prn.ordering_facility.is_none());
    }

    /// TQ1-11 alone is the timing's text, not also a comment.
    #[test]
    fn tq1_text_alone_is_the_timing() {
        let text = "MSH|^~\\&|A||||20240105||RDE^O11|1|P|2.5\rPID|1||42\r\
                    ORC|NW|P1\rRXE||H1^センノシド錠１２ｍｇ^HOT|2||TAB^錠^MR9P\rTQ1|||||||||||就寝前\r";
        let p = parse(text).unwrap().prescriptions().into_result().unwrap();
        assert_eq!(p[0].timing.as_ref().unwrap().text.as_deref(), Some("就寝前"));
        assert_eq!(p[0].instructions, None);
    }

    #[test]
    fn problems() {
        let text = "MSH|^~\\&|A||||20240105||OMP^O09|1|P|2.5\rPID|1||42\r\
                    ORC|NW|P1\rRXO||1\r\
                    ORC|NW|P2\rRXO|A^B^HOT|one\r\
                    ORC|NW|P3\rTQ1||||||x^D\rRXO|A^B^HOT|1\r\
                    ORC|NW|P4|||||||2024990\rRXO|A^B^HOT|1\r\
                    ORC|NW|P5\rRXO|^名前だけ|1\r";
        let e = parse(text).unwrap().prescriptions();
        assert_eq!(e.items.len(), 1);
        assert_eq!(e.items[0].drug.text.as_deref(), Some("名前だけ"));
        let fields: Vec<_> = e
            .problems
            .iter()
            .map(|p| match p {
                ModelError::MissingField { field, .. } | ModelError::InvalidField { field, .. } => *field,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fields, ["RXO-1", "RXO-2", "TQ1-6", "ORC-9"]);
    }
}
