//! The shared chart's entries: what each kind holds and what makes it valid.
//! Entries are never changed; a correction is a new version of the same entry.

use crate::kana::fold_width;
use crate::validation::{Invalid, optional_text};
use serde::{Deserialize, Serialize};
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    ProgressNote,
    NursingRecord,
    VitalSigns,
    MedicationList,
    Document,
    Message,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        EntryKind::ProgressNote,
        EntryKind::NursingRecord,
        EntryKind::VitalSigns,
        EntryKind::MedicationList,
        EntryKind::Document,
        EntryKind::Message,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::ProgressNote => "progress_note",
            EntryKind::NursingRecord => "nursing_record",
            EntryKind::VitalSigns => "vital_signs",
            EntryKind::MedicationList => "medication_list",
            EntryKind::Document => "document",
            EntryKind::Message => "message",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| Invalid::one("kind", "err-entry-kind"))
    }
}

/// A progress note in SOAP form, or free text (either or both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressNote {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjective: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Vital signs with the units used at the bedside in Japan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VitalSigns {
    /// Body temperature, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// Pulse, beats per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulse_bpm: Option<i64>,
    /// Blood pressure, mmHg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bp_systolic: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bp_diastolic: Option<i64>,
    /// Respiratory rate, breaths per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respiration_rate: Option<i64>,
    /// Oxygen saturation, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spo2: Option<i64>,
    /// Pain, numeric rating scale 0-10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pain_nrs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One line of a medication list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationItem {
    pub drug: String,
    #[serde(default)]
    pub dose: String,
    #[serde(default)]
    pub route: String,
    #[serde(default)]
    pub frequency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Date>,
    /// Opioids are flagged for the whole team (night calls, pharmacy stock, disposal).
    #[serde(default)]
    pub opioid: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationList {
    pub items: Vec<MedicationItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    DischargeSummary,
    ConferenceSheet,
    ReferralLetter,
    NursingInstruction,
    Photo,
    ScannedPaper,
    LabReport,
    Other,
}

impl DocumentType {
    pub const ALL: [DocumentType; 8] = [
        DocumentType::DischargeSummary,
        DocumentType::ConferenceSheet,
        DocumentType::ReferralLetter,
        DocumentType::NursingInstruction,
        DocumentType::Photo,
        DocumentType::ScannedPaper,
        DocumentType::LabReport,
        DocumentType::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::DischargeSummary => "discharge_summary",
            DocumentType::ConferenceSheet => "conference_sheet",
            DocumentType::ReferralLetter => "referral_letter",
            DocumentType::NursingInstruction => "nursing_instruction",
            DocumentType::Photo => "photo",
            DocumentType::ScannedPaper => "scanned_paper",
            DocumentType::LabReport => "lab_report",
            DocumentType::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| Invalid::one("doc_type", "err-doc-type"))
    }
}

/// A reference from an entry to a stored file (content-addressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: String,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub doc_type: DocumentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
}

/// A thread message; mentions are resolved to people and organizations by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
}

/// The content of one entry version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryBody {
    ProgressNote(ProgressNote),
    NursingRecord { text: String },
    VitalSigns(VitalSigns),
    MedicationList(MedicationList),
    Document(Document),
    Message(Message),
}

impl EntryBody {
    pub fn kind(&self) -> EntryKind {
        match self {
            EntryBody::ProgressNote(_) => EntryKind::ProgressNote,
            EntryBody::NursingRecord { .. } => EntryKind::NursingRecord,
            EntryBody::VitalSigns(_) => EntryKind::VitalSigns,
            EntryBody::MedicationList(_) => EntryKind::MedicationList,
            EntryBody::Document(_) => EntryKind::Document,
            EntryBody::Message(_) => EntryKind::Message,
        }
    }

    /// The words of the entry, for full-text search and the diff of a correction.
    pub fn text(&self) -> String {
        let opt_parts = |v: &[&Option<String>]| -> Vec<String> { v.iter().filter_map(|s| (*s).clone()).collect() };
        let parts: Vec<String> = match self {
            EntryBody::ProgressNote(n) => opt_parts(&[&n.subjective, &n.objective, &n.assessment, &n.plan, &n.text]),
            EntryBody::NursingRecord { text } => vec![text.clone()],
            EntryBody::VitalSigns(v) => opt_parts(&[&v.note]),
            EntryBody::MedicationList(m) => {
                m.items.iter().map(|i| format!("{} {} {} {}", i.drug, i.dose, i.route, i.frequency)).collect()
            }
            EntryBody::Document(d) => {
                let mut p = vec![d.title.clone()];
                p.extend(opt_parts(&[&d.note]));
                p.extend(d.attachments.iter().map(|a| a.filename.clone()));
                p
            }
            EntryBody::Message(m) => vec![m.text.clone()],
        };
        parts.join("\n")
    }

    /// Check ranges and required parts; returns the body normalized (trimmed text).
    pub fn validate(self) -> Result<Self, Invalid> {
        match self {
            EntryBody::ProgressNote(n) => {
                let mut inv = Invalid::default();
                let subjective = inv.merge(opt(&n.subjective, "subjective", 5000)).flatten();
                let objective = inv.merge(opt(&n.objective, "objective", 5000)).flatten();
                let assessment = inv.merge(opt(&n.assessment, "assessment", 5000)).flatten();
                let plan = inv.merge(opt(&n.plan, "plan", 5000)).flatten();
                let text = inv.merge(opt(&n.text, "text", 10000)).flatten();
                if inv.is_empty() && [&subjective, &objective, &assessment, &plan, &text].iter().all(|f| f.is_none()) {
                    inv.push("text", "err-note-empty");
                }
                inv.into_result()?;
                Ok(EntryBody::ProgressNote(ProgressNote { subjective, objective, assessment, plan, text }))
            }
            EntryBody::NursingRecord { text } => {
                let t = crate::validation::required_text("text", &text, 10000)?;
                Ok(EntryBody::NursingRecord { text: t })
            }
            EntryBody::VitalSigns(v) => validate_vitals(v).map(EntryBody::VitalSigns),
            EntryBody::MedicationList(m) => validate_medications(m).map(EntryBody::MedicationList),
            EntryBody::Document(d) => {
                let mut inv = Invalid::default();
                let title = inv.merge(crate::validation::required_text("title", &d.title, 200));
                let note = inv.merge(opt(&d.note, "note", 2000)).flatten();
                if d.attachments.is_empty() {
                    inv.push("file", "err-file-required");
                }
                inv.into_result()?;
                Ok(EntryBody::Document(Document {
                    title: title.unwrap_or_default(),
                    doc_type: d.doc_type,
                    note,
                    attachments: d.attachments,
                }))
            }
            EntryBody::Message(m) => {
                let text = crate::validation::required_text("text", &m.text, 5000)?;
                Ok(EntryBody::Message(Message { text, attachments: m.attachments }))
            }
        }
    }
}

fn opt(v: &Option<String>, field: &'static str, max: usize) -> Result<Option<String>, Invalid> {
    match v {
        Some(s) => optional_text(field, s, max),
        None => Ok(None),
    }
}

fn in_range<T: PartialOrd + Copy>(inv: &mut Invalid, v: Option<T>, lo: T, hi: T, field: &'static str) {
    if let Some(x) = v
        && (x < lo || x > hi)
    {
        inv.push(field, "err-out-of-range");
    }
}

/// Ranges wide enough for a dying patient at home, narrow enough to catch typos
/// (365 instead of 36.5, a pulse typed into the SpO2 box).
pub fn validate_vitals(v: VitalSigns) -> Result<VitalSigns, Invalid> {
    let mut inv = Invalid::default();
    in_range(&mut inv, v.temperature_c, 30.0, 43.0, "temperature_c");
    in_range(&mut inv, v.pulse_bpm, 20, 250, "pulse_bpm");
    in_range(&mut inv, v.bp_systolic, 40, 280, "bp_systolic");
    in_range(&mut inv, v.bp_diastolic, 20, 180, "bp_diastolic");
    in_range(&mut inv, v.respiration_rate, 2, 80, "respiration_rate");
    in_range(&mut inv, v.spo2, 40, 100, "spo2");
    in_range(&mut inv, v.pain_nrs, 0, 10, "pain_nrs");
    if let (Some(s), Some(d)) = (v.bp_systolic, v.bp_diastolic)
        && d >= s
    {
        inv.push("bp_diastolic", "err-bp-order");
    }
    if v.bp_systolic.is_some() != v.bp_diastolic.is_some() {
        inv.push("bp_systolic", "err-bp-pair");
    }
    let note = inv.merge(opt(&v.note, "note", 1000)).flatten();
    let measured = [
        v.temperature_c.is_some(),
        v.pulse_bpm.is_some(),
        v.bp_systolic.is_some(),
        v.respiration_rate.is_some(),
        v.spo2.is_some(),
        v.pain_nrs.is_some(),
    ];
    if !measured.iter().any(|m| *m) {
        inv.push("temperature_c", "err-vitals-empty");
    }
    inv.into_result()?;
    Ok(VitalSigns { note, ..v })
}

/// Opioid analgesics used in Japanese palliative care, by generic and common brand
/// names (katakana and kanji), folded for matching. A match flags the line; staff can
/// also flag a line by hand.
const OPIOIDS: &[&str] = &[
    "モルヒネ",
    "morphine",
    "オキシコドン",
    "oxycodone",
    "オキシコンチン",
    "オキノーム",
    "オキファスト",
    "フェンタニル",
    "fentanyl",
    "デュロテップ",
    "フェントス",
    "アブストラル",
    "イーフェン",
    "ヒドロモルフォン",
    "hydromorphone",
    "ナルサス",
    "ナルラピド",
    "タペンタドール",
    "tapentadol",
    "タペンタ",
    "メサドン",
    "methadone",
    "メサペイン",
    "トラマドール",
    "tramadol",
    "トラマール",
    "ワントラム",
    "コデイン",
    "codeine",
    "ブプレノルフィン",
    "buprenorphine",
    "ノルスパン",
    "レペタン",
    "ペチジン",
    "pethidine",
    "オプソ",
    "アンペック",
    "MSコンチン",
];

pub fn is_opioid(drug: &str) -> bool {
    let d = fold_width(drug).to_lowercase();
    OPIOIDS.iter().any(|o| d.contains(&o.to_lowercase()))
}

pub fn validate_medications(m: MedicationList) -> Result<MedicationList, Invalid> {
    let mut inv = Invalid::default();
    let mut items = Vec::new();
    for i in m.items {
        if i.drug.trim().is_empty()
            && i.dose.trim().is_empty()
            && i.route.trim().is_empty()
            && i.frequency.trim().is_empty()
        {
            continue; // an empty form row
        }
        let drug = inv.merge(crate::validation::required_text("drug", &i.drug, 200));
        let dose = inv.merge(crate::validation::optional_text("dose", &i.dose, 100)).flatten().unwrap_or_default();
        let route = inv.merge(crate::validation::optional_text("route", &i.route, 50)).flatten().unwrap_or_default();
        let frequency =
            inv.merge(crate::validation::optional_text("frequency", &i.frequency, 100)).flatten().unwrap_or_default();
        if let (Some(s), Some(e)) = (i.start, i.stop)
            && e < s
        {
            inv.push("stop", "err-stop-before-start");
        }
        if let Some(drug) = drug {
            let opioid = i.opioid || is_opioid(&drug);
            items.push(MedicationItem { drug, dose, route, frequency, start: i.start, stop: i.stop, opioid });
        }
    }
    if items.is_empty() && inv.is_empty() {
        inv.push("drug", "err-medications-empty");
    }
    inv.into_result()?;
    Ok(MedicationList { items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vitals_ranges_catch_typos() {
        let ok = VitalSigns {
            temperature_c: Some(36.8),
            pulse_bpm: Some(88),
            bp_systolic: Some(118),
            bp_diastolic: Some(70),
            spo2: Some(94),
            pain_nrs: Some(3),
            ..Default::default()
        };
        assert!(validate_vitals(ok.clone()).is_ok());
        let e = validate_vitals(VitalSigns { temperature_c: Some(368.0), ..ok.clone() }).unwrap_err();
        assert_eq!(e.0[0].field, "temperature_c");
        assert!(validate_vitals(VitalSigns { pain_nrs: Some(11), ..ok.clone() }).is_err());
        assert!(validate_vitals(VitalSigns { spo2: Some(101), ..ok.clone() }).is_err());
        assert!(validate_vitals(VitalSigns { bp_diastolic: Some(130), ..ok.clone() }).is_err());
        assert!(validate_vitals(VitalSigns { bp_diastolic: None, ..ok }).is_err());
        assert!(validate_vitals(VitalSigns::default()).is_err());
    }

    #[test]
    fn opioids_are_flagged_by_name() {
        assert!(is_opioid("オキシコンチンTR錠 10mg"));
        assert!(is_opioid("ﾌｪﾝﾀﾆﾙ貼付剤"));
        assert!(is_opioid("Morphine sulfate"));
        assert!(!is_opioid("酸化マグネシウム"));
        let m = validate_medications(MedicationList {
            items: vec![
                MedicationItem { drug: "オキノーム散 2.5mg".into(), dose: "1包".into(), ..Default::default() },
                MedicationItem::default(),
                MedicationItem { drug: "マグミット".into(), ..Default::default() },
            ],
        })
        .unwrap();
        assert_eq!(m.items.len(), 2);
        assert!(m.items[0].opioid);
        assert!(!m.items[1].opioid);
    }

    #[test]
    fn empty_notes_are_refused() {
        assert!(EntryBody::ProgressNote(ProgressNote::default()).validate().is_err());
        assert!(
            EntryBody::ProgressNote(ProgressNote { plan: Some("  ".into()), ..Default::default() }).validate().is_err()
        );
        let ok = EntryBody::ProgressNote(ProgressNote {
            assessment: Some(" 褥瘡 悪化なし ".into()),
            ..Default::default()
        })
        .validate()
        .unwrap();
        assert_eq!(ok.text(), "褥瘡 悪化なし");
        assert!(EntryBody::NursingRecord { text: "".into() }.validate().is_err());
    }

    #[test]
    fn bodies_round_trip_as_tagged_json() {
        let b = EntryBody::VitalSigns(VitalSigns { temperature_c: Some(37.2), ..Default::default() });
        let j = serde_json::to_string(&b).unwrap();
        assert!(j.contains("\"kind\":\"vital_signs\""));
        assert_eq!(serde_json::from_str::<EntryBody>(&j).unwrap(), b);
    }
}
