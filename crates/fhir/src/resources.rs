//! The resources a letter names: JP Core Patient, Practitioner and Organization, and
//! the text-coded clinical statements and document references it carries.

use crate::{AttachmentInfo, LOINC, OrgInfo, PatientInfo, PersonInfo, set};
use serde_json::{Value, json};

const JP_CORE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition";
pub(crate) const NAME_REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";
/// The OID under which each institution numbers its patients (JP Core).
pub(crate) const PATIENT_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";

/// Non-empty trimmed lines of a free-text field.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// A Japanese name as FHIR HumanName: `IDE` for kanji, `SYL` for kana (JP Core tells
/// them apart by this extension).
fn human_name(representation: &str, family: &str, given: &str) -> Value {
    let mut n = json!({
        "extension": [ { "url": NAME_REPRESENTATION, "valueCode": representation } ],
        "use": "official",
        "text": format!("{family} {given}").trim().to_string(),
    });
    if !family.is_empty() {
        set(&mut n, "family", json!(family));
    }
    if !given.is_empty() {
        set(&mut n, "given", json!([given]));
    }
    n
}

pub(crate) fn split_name(full: &str) -> (&str, &str) {
    let t = full.trim();
    match t.split_once([' ', '\u{3000}']) {
        Some((f, g)) => (f.trim(), g.trim()),
        None => (t, ""),
    }
}

fn address(postal: Option<&str>, text: Option<&str>) -> Option<Value> {
    if postal.is_none() && text.is_none() {
        return None;
    }
    let mut a = json!({ "country": "JP" });
    if let Some(t) = text {
        set(&mut a, "text", json!(t));
    }
    if let Some(p) = postal {
        set(&mut a, "postalCode", json!(p));
    }
    Some(a)
}

pub fn patient(p: &PatientInfo) -> Value {
    let mut identifiers = vec![json!({ "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", p.id) })];
    for (code, local) in &p.local_ids {
        if let Some(code) = code {
            identifiers.push(json!({ "system": format!("{PATIENT_ID_OID}{code}"), "value": local }));
        }
    }
    let mut r = json!({
        "resourceType": "Patient",
        "id": p.id,
        "meta": { "profile": [format!("{JP_CORE}/JP_Patient")] },
        "identifier": identifiers,
        "name": [
            human_name("IDE", &p.family_name, &p.given_name),
            human_name("SYL", &p.family_kana, &p.given_kana),
        ],
        "gender": p.sex.as_str(),
        "birthDate": p.birth_date,
    });
    if let Some(a) = address(p.postal_code.as_deref(), p.address.as_deref()) {
        set(&mut r, "address", json!([a]));
    }
    if let Some(phone) = &p.phone {
        set(&mut r, "telecom", json!([ { "system": "phone", "value": phone } ]));
    }
    r
}

pub fn practitioner(p: &PersonInfo) -> Value {
    let (family, given) = split_name(&p.name);
    let mut names = vec![human_name("IDE", family, given)];
    if !p.name_kana.trim().is_empty() {
        let (kf, kg) = split_name(&p.name_kana);
        names.push(human_name("SYL", kf, kg));
    }
    json!({
        "resourceType": "Practitioner",
        "id": p.id,
        "meta": { "profile": [format!("{JP_CORE}/JP_Practitioner")] },
        "name": names,
        "qualification": [ { "code": { "text": p.profession } } ],
    })
}

pub fn organization(o: &OrgInfo) -> Value {
    let mut r = json!({
        "resourceType": "Organization",
        "id": o.id,
        "meta": { "profile": [format!("{JP_CORE}/JP_Organization")] },
        "name": o.name,
    });
    if let Some(code) = &o.institution_code {
        set(
            &mut r,
            "identifier",
            json!([ {
            "system": "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
            "value": code
        } ]),
        );
        // The first two digits are the prefecture, the third the fee schedule (医科 1,
        // 歯科 3, 薬局 4, 訪問看護 6): JP Core carries both as extensions.
        if let (Some(pref), Some(table)) = (code.get(0..2), code.get(2..3)) {
            set(
                &mut r,
                "extension",
                json!([
                    { "url": "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Organization_PrefectureNo",
                      "valueCoding": { "system": "urn:oid:1.2.392.100495.20.3.21", "code": pref } },
                    { "url": "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Organization_InsuranceOrganizationCategory",
                      "valueCoding": { "system": "urn:oid:1.2.392.100495.20.3.22", "code": table } }
                ]),
            );
        }
    }
    if let Some(a) = address(o.postal_code.as_deref(), o.address.as_deref()) {
        set(&mut r, "address", json!([a]));
    }
    if let Some(phone) = &o.phone {
        set(&mut r, "telecom", json!([ { "system": "phone", "value": phone } ]));
    }
    r
}

pub fn condition(id: &str, text: &str, subject: &Value) -> Value {
    json!({
        "resourceType": "Condition",
        "id": id,
        "clinicalStatus": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" } ] },
        "verificationStatus": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed" } ] },
        "code": { "text": text },
        "subject": { "reference": subject.get("reference").cloned().unwrap_or_default() },
    })
}

pub fn allergy(id: &str, text: &str, subject: &Value) -> Value {
    json!({
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active" } ] },
        "code": { "text": text },
        "patient": { "reference": subject.get("reference").cloned().unwrap_or_default() },
    })
}

pub fn medication(id: &str, text: &str, subject: &Value) -> Value {
    json!({
        "resourceType": "MedicationStatement",
        "id": id,
        "status": "active",
        "medicationCodeableConcept": { "text": text },
        "subject": { "reference": subject.get("reference").cloned().unwrap_or_default() },
    })
}

/// A chart document travelling with the letter. FHIR's `attachment.hash` is SHA-1; we
/// keep SHA-256, so it goes in an identifier instead of a wrong hash.
pub fn document_reference(id: &str, a: &AttachmentInfo, subject: &Value) -> Value {
    let doc_type = if a.doc_type == "discharge_summary" {
        json!({ "coding": [ { "system": LOINC, "code": "18842-5", "display": "Discharge summary" } ], "text": a.title })
    } else {
        json!({ "text": a.title })
    };
    json!({
        "resourceType": "DocumentReference",
        "id": id,
        "identifier": [ { "system": "urn:ietf:rfc:3986", "value": format!("urn:sha256:{}", a.sha256_hex) } ],
        "status": "current",
        "type": doc_type,
        "subject": { "reference": subject.get("reference").cloned().unwrap_or_default() },
        "date": a.created_at,
        "description": a.title,
        "content": [ { "attachment": {
            "contentType": a.media_type,
            "url": a.url,
            "size": a.size,
            "title": a.title,
            "creation": a.created_at,
        } } ],
    })
}
