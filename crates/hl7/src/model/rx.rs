//! Prescriptions: RXE (RDE^O11) or RXO (OMP^O09, SS-MIX2 OMP-01) with the ORC, TQ1 and
//! RXR of their order group. A group runs from one ORC to the next; HL7 puts TQ1 before
//! RXO in OMP^O09 and after RXE in RDE^O11, so timing and route are read from the whole
//! group. When a group holds both RXO and RXE (RDE may repeat the order), RXE wins.

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
    /// RXE-10 / RXO-11: total amount dispensed.
    pub dispense_amount: Option<Quantity>,
    /// RXE-11 / RXO-12.
    pub dispense_unit: Option<Coded>,
    /// RXR-1.
    pub route: Option<Coded>,
    /// TQ1-3 repeat pattern, else TQ1-11 text, else RXE-1 / ORC-7 (the old TQ type).
    pub timing: Option<Timing>,
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
}

const RXE: Layout = Layout {
    drug: (2, "RXE-2"),
    dose: (3, "RXE-3"),
    dose_unit: 5,
    dosage_form: 6,
    dispense_amount: (10, "RXE-10"),
    dispense_unit: 11,
};

const RXO: Layout = Layout {
    drug: (1, "RXO-1"),
    dose: (2, "RXO-2"),
    dose_unit: 4,
    dosage_form: 5,
    dispense_amount: (11, "RXO-11"),
    dispense_unit: 12,
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

    let orc = group.orc;
    let orc_value = |field: usize| orc.and_then(|(_, orc)| value(orc.component(field, 1)));

    let mut timing = None;
    let mut days = None;
    let mut total_occurrences = None;
    let mut start = None;
    let mut end = None;
    if let Some((tq1_index, tq1)) = group.tq1 {
        // TQ1-3 is RPT; its first component is a CWE written with subcomponents.
        let code = tq1.get(3, 1, 1, 1).and_then(value);
        let text = tq1.get(3, 1, 1, 2).and_then(value).or_else(|| value(tq1.text(11)));
        let system = tq1.get(3, 1, 1, 3).and_then(value);
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
        dispense_amount,
        dispense_unit: Coded::from_field(segment, layout.dispense_unit),
        route: group.rxr.and_then(|rxr| Coded::from_field(rxr, 1)),
        timing,
        days,
        total_occurrences,
        start,
        end,
        ordered_at,
        prescriber,
    })
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
