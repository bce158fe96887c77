//! FHIR R4 (4.0.1) documents: a letter as a document Bundle in the structure of the
//! Japanese eReferral specification (JP-CLINS 診療情報提供書, HS038), with Patient,
//! Practitioner and Organization following JP Core.
//!
//! Hand-written JSON rather than a model crate (no maintained crate covers R4 with JP
//! Core here, see STACK.md): only the resources we emit, checked in the test suite by an
//! independent validator (PyPI `fhir.resources`) and pinned by a snapshot.
//!
//! The output is deterministic: ids of the resources the letter itself creates
//! (conditions, allergies, medications, document references) are UUID v5 of the letter
//! id and a name, so the same letter always exports the same Bundle.
//!
//! The pure parsing layer of the FHIR REST API lives here too: [`search`] (search
//! parameters), [`outcome`] (OperationOutcome), [`patient_in`] (an incoming JP Core
//! Patient) and [`etag`] (versions in `ETag` / `If-Match`).

pub mod communication_in;
pub mod composition;
pub mod etag;
mod narrative;
pub mod outcome;
pub mod patient_in;
mod resources;
pub mod rest;
pub mod search;

use narrative::section;
use resources::{allergy, condition, document_reference, lines, medication, organization, patient, practitioner};
use serde_json::{Value, json};
use tsunagu_domain::letter::LetterBody;
use tsunagu_domain::patient::Sex;

pub const SECTION_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/document-section";
pub const LOINC: &str = "http://loinc.org";
const INSTANCE_ID_SYSTEM: &str = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";
const EREFERRAL_COMPOSITION: &str = "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Composition_eReferral";
const EREFERRAL_BUNDLE: &str = "http://jpfhir.jp/fhir/eReferral/StructureDefinition/JP_Bundle_eReferral";

/// A letter and everything around it that the document names.
#[derive(Debug, Clone)]
pub struct LetterDocument<'a> {
    /// UUID text; the Composition's identifier.
    pub letter_id: String,
    /// The letter's content version (1, 2, ...).
    pub version: i64,
    /// RFC 3339: when it was sent (Composition.date, Bundle.timestamp).
    pub issued_at: String,
    pub body: &'a LetterBody,
    /// The letter this one answers (a reply).
    pub in_reply_to: Option<String>,
    pub patient: PatientInfo,
    pub author: PersonInfo,
    pub author_org: OrgInfo,
    pub recipient_org: OrgInfo,
    /// The addressee by name, as typed ("鈴木 一郎 先生").
    pub recipient_person: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
}

#[derive(Debug, Clone)]
pub struct PatientInfo {
    pub id: String,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub sex: Sex,
    /// YYYY-MM-DD
    pub birth_date: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// (10-digit institution code of the organization that issued it, local patient id).
    pub local_ids: Vec<(Option<String>, String)>,
}

#[derive(Debug, Clone)]
pub struct PersonInfo {
    pub id: String,
    /// "佐藤 健一": family and given separated by a space.
    pub name: String,
    pub name_kana: String,
    pub profession: String,
}

#[derive(Debug, Clone)]
pub struct OrgInfo {
    pub id: String,
    pub name: String,
    /// 10 digits: prefecture (2), fee schedule (1), 7 more.
    pub institution_code: Option<String>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AttachmentInfo {
    pub entry_id: String,
    pub title: String,
    /// "discharge_summary", "conference_sheet", "lab_report", ...
    pub doc_type: String,
    pub media_type: String,
    pub size: i64,
    pub sha256_hex: String,
    /// Where the file is fetched: an absolute URL (FHIR's `url` type has a scheme).
    pub url: String,
    pub created_at: String,
}

/// A stable UUID for something the letter creates.
fn derived_id(letter: &str, name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("urn:tsunagu:letter:{letter}:{name}").as_bytes()).to_string()
}

fn urn(id: &str) -> String {
    format!("urn:uuid:{id}")
}

fn reference(id: &str, kind: &str) -> Value {
    json!({ "reference": urn(id), "type": kind })
}

/// The document type and title of each kind of letter.
fn doc_type(body: &LetterBody) -> (Value, &'static str, bool) {
    let referral_note = || {
        json!({ "coding": [
            { "system": LOINC, "code": "57133-1", "display": "Referral note" },
            { "system": "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes", "code": "57133-1", "display": "診療情報提供書" }
        ] })
    };
    match body {
        LetterBody::Referral(_) => (referral_note(), "診療情報提供書", true),
        // A reply (返書) is itself a referral-type letter in Japan, answering one.
        LetterBody::Reply(_) => (referral_note(), "返書（診療情報提供書）", true),
        // No national FHIR profile exists for the visiting-nurse instruction; LOINC's
        // "Plan of care note" is what it is: a physician's plan handed to nurses.
        LetterBody::NursingInstruction(_) => (
            json!({ "coding": [ { "system": LOINC, "code": "18776-5", "display": "Plan of care note" } ], "text": "訪問看護指示書" }),
            "訪問看護指示書",
            false,
        ),
    }
}

/// The letter as a FHIR R4 document Bundle.
pub fn letter_bundle(doc: &LetterDocument<'_>) -> Value {
    let letter = doc.letter_id.as_str();
    let patient_ref = reference(&doc.patient.id, "Patient");
    let mut entries: Vec<Value> = Vec::new();
    let mut push = |id: &str, resource: Value| entries.push(json!({ "fullUrl": urn(id), "resource": resource }));

    // The coded structure, section by section. Each sub-section is made only when its
    // text is there (a section with neither text nor entries is invalid FHIR).
    let mut structured: Vec<Value> = Vec::new();
    let mut top_remarks: Vec<(&str, String)> = Vec::new();
    let mut clinical: Vec<(String, Value)> = Vec::new();
    let mut sub = |code: &str, title: &str, text: &str, entry_refs: Vec<Value>| {
        if let Some(s) = section(code, title, text, entry_refs) {
            structured.push(s);
        }
    };
    let diagnoses = |text: &str, chief: &str, clinical: &mut Vec<(String, Value)>| -> (String, Vec<Value>) {
        let mut refs = Vec::new();
        for (i, l) in lines(text).enumerate() {
            let id = derived_id(letter, &format!("condition-{i}"));
            clinical.push((id.clone(), condition(&id, l, &patient_ref)));
            refs.push(reference(&id, "Condition"));
        }
        let mut t = text.to_string();
        if !chief.trim().is_empty() {
            t = if t.trim().is_empty() { format!("主訴: {chief}") } else { format!("{t}\n主訴: {chief}") };
        }
        (t, refs)
    };
    let medications = |text: &str, clinical: &mut Vec<(String, Value)>| -> Vec<Value> {
        let mut refs = Vec::new();
        for (i, l) in lines(text).enumerate() {
            let id = derived_id(letter, &format!("medication-{i}"));
            clinical.push((id.clone(), medication(&id, l, &patient_ref)));
            refs.push(reference(&id, "MedicationStatement"));
        }
        refs
    };
    match doc.body {
        LetterBody::Referral(r) => {
            sub("950", "紹介目的", &r.purpose, vec![]);
            let (t, refs) = diagnoses(&r.diagnoses, &r.chief_complaint, &mut clinical);
            sub("340", "傷病名・主訴", &t, refs);
            sub("360", "現病歴", &r.present_illness, vec![]);
            sub("370", "既往歴", &r.past_history, vec![]);
            let mut allergy_refs = Vec::new();
            for (i, l) in lines(&r.allergies).enumerate() {
                let id = derived_id(letter, &format!("allergy-{i}"));
                clinical.push((id.clone(), allergy(&id, l, &patient_ref)));
                allergy_refs.push(reference(&id, "AllergyIntolerance"));
            }
            sub("510", "アレルギー・不耐性反応", &r.allergies, allergy_refs);
            sub("520", "感染症情報", &r.infections, vec![]);
            sub("550", "家族歴", &r.family_history, vec![]);
            sub("640", "社会歴・生活習慣", &r.social_history, vec![]);
            let refs = medications(&r.medications, &mut clinical);
            sub("430", "投薬指示", &r.medications, refs);
            sub("620", "検査結果", &r.lab_results, vec![]);
            sub("330", "臨床経過", &r.clinical_course, vec![]);
            sub("420", "診療方針指示", &r.care_policy, vec![]);
            sub("810", "医療機器", &r.devices, vec![]);
            sub("410", "事前指示", &r.advance_directive, vec![]);
            top_remarks.push(("備考", r.remarks.clone()));
        }
        LetterBody::Reply(r) => {
            sub("950", "返書", &r.body, vec![]);
            let (t, refs) = diagnoses(&r.diagnoses, "", &mut clinical);
            sub("340", "傷病名・主訴", &t, refs);
            sub("420", "診療方針指示", &r.care_policy, vec![]);
            top_remarks.push(("備考", r.remarks.clone()));
        }
        LetterBody::NursingInstruction(n) => {
            let (t, refs) = diagnoses(&n.diagnoses, "", &mut clinical);
            sub("340", "傷病名・主訴", &t, refs);
            sub("330", "病状・治療状態", &n.condition, vec![]);
            let refs = medications(&n.medications, &mut clinical);
            sub("430", "投薬指示", &n.medications, refs);
            sub("810", "医療機器", &n.devices, vec![]);
            let period = format!("指示期間: {} 〜 {}", n.period_from, n.period_to);
            let instructions =
                if n.instructions.trim().is_empty() { period } else { format!("{period}\n{}", n.instructions) };
            sub("420", "留意事項及び指示事項", &instructions, vec![]);
            top_remarks.push(("緊急時の連絡先", n.emergency_contact.clone()));
            top_remarks.push(("特記すべき留意事項", n.remarks.clone()));
        }
    }

    let (type_concept, title, ereferral) = doc_type(doc.body);
    let author_ref = reference(&doc.author.id, "Practitioner");
    let author_org_ref = reference(&doc.author_org.id, "Organization");
    let recipient_ref = reference(&doc.recipient_org.id, "Organization");

    let mut to_text = doc.recipient_org.name.clone();
    if let Some(p) = doc.recipient_person.as_deref().filter(|p| !p.trim().is_empty()) {
        to_text.push('\n');
        to_text.push_str(p);
    }
    let from_text = [
        Some(doc.author_org.name.clone()),
        doc.author_org.address.clone(),
        doc.author_org.phone.as_ref().map(|p| format!("電話: {p}")),
        Some(doc.author.name.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n");
    let mut sections: Vec<Value> = Vec::new();
    sections.extend(section("910", "紹介先情報", &to_text, vec![recipient_ref]));
    sections.extend(section("920", "紹介元情報", &from_text, vec![author_ref.clone(), author_org_ref.clone()]));
    sections.push(json!({
        "title": "構造情報",
        "code": { "coding": [ { "system": SECTION_SYSTEM, "code": "300", "display": "構造情報セクション" } ] },
        "section": structured,
    }));
    let mut attachment_refs = Vec::new();
    let mut docrefs = Vec::new();
    for a in &doc.attachments {
        let id = derived_id(letter, &format!("attachment-{}-{}", a.entry_id, a.sha256_hex));
        docrefs.push((id.clone(), document_reference(&id, a, &patient_ref)));
        attachment_refs.push(reference(&id, "DocumentReference"));
    }
    if !attachment_refs.is_empty() {
        let list = doc.attachments.iter().map(|a| a.title.as_str()).collect::<Vec<_>>().join("\n");
        sections.extend(section("210", "添付情報", &list, attachment_refs));
    }
    let remarks = top_remarks
        .iter()
        .filter(|(_, t)| !t.trim().is_empty())
        .map(|(label, t)| format!("{label}: {t}"))
        .collect::<Vec<_>>()
        .join("\n");
    sections.extend(section("220", "備考・連絡情報", &remarks, vec![]));

    let institution = doc.author_org.institution_code.as_deref().unwrap_or("0000000000");
    let composition_id = derived_id(letter, &format!("composition-v{}", doc.version));
    let mut composition = json!({
        "resourceType": "Composition",
        "id": composition_id,
        "language": "ja",
        "extension": [ {
            "url": "http://hl7.org/fhir/StructureDefinition/composition-clinicaldocument-versionNumber",
            "valueString": doc.version.to_string()
        } ],
        "identifier": { "system": INSTANCE_ID_SYSTEM, "value": format!("{institution}-{letter}") },
        "status": "final",
        "type": type_concept,
        "subject": patient_ref,
        "date": doc.issued_at,
        "author": [author_ref, author_org_ref.clone()],
        "title": title,
        "custodian": author_org_ref,
        "event": [ { "code": [ { "text": format!("{title}発行") } ], "period": { "start": doc.issued_at } } ],
        "section": sections,
    });
    if ereferral {
        set(&mut composition, "meta", json!({ "profile": [EREFERRAL_COMPOSITION] }));
    }
    if let Some(orig) = &doc.in_reply_to {
        set(
            &mut composition,
            "relatesTo",
            json!([ {
            // "appends": this document adds to the letter it answers, which stays valid.
            "code": "appends",
            "targetIdentifier": { "system": INSTANCE_ID_SYSTEM, "value": orig }
        } ]),
        );
    }

    push(&composition_id, composition);
    push(&doc.patient.id, patient(&doc.patient));
    push(&doc.author.id, practitioner(&doc.author));
    push(&doc.author_org.id, organization(&doc.author_org));
    if doc.recipient_org.id != doc.author_org.id {
        push(&doc.recipient_org.id, organization(&doc.recipient_org));
    }
    for (id, r) in clinical {
        push(&id, r);
    }
    for (id, r) in docrefs {
        push(&id, r);
    }

    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": derived_id(letter, &format!("bundle-v{}", doc.version)),
        "language": "ja",
        "identifier": { "system": INSTANCE_ID_SYSTEM, "value": format!("{institution}-{letter}-{}", doc.version) },
        "type": "document",
        "timestamp": doc.issued_at,
        "entry": entries,
    });
    if ereferral {
        set(&mut bundle, "meta", json!({ "profile": [EREFERRAL_BUNDLE] }));
    }
    bundle
}

/// Set a member of a JSON object (the values built here are always objects).
pub(crate) fn set(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(m) = v {
        m.insert(key.to_string(), value);
    }
}
