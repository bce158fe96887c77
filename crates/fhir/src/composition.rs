//! A letter's Composition as the REST API serves it (`GET [base]/Composition/[id]`),
//! cut from the letter's document Bundle ([`crate::letter_bundle`]) so that the two
//! never say different things.
//!
//! Inside the document every reference is a `urn:uuid:` of another entry. Served on
//! its own, the Composition names the resources the API serves by their REST address
//! (`Patient/x`, `Practitioner/x`, `Organization/x`) and drops the section entries that
//! exist only inside the document (the text-coded conditions, allergies, medications
//! and attached documents): each such section keeps its narrative, and the whole
//! document is `[base]/Composition/[id]/$document`.

use crate::set;
use serde_json::{Map, Value};

/// The types a REST Composition may name: those with the same id inside the document
/// and on this server.
const SERVED: &[&str] = &["Patient", "Practitioner", "Organization"];

/// How the letter stands, for the Composition's `status` and `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterStatus {
    /// Sent: the document as sent (`final`).
    Sent,
    /// A draft, seen only by its writer's organization (`preliminary`): not issued, so
    /// no issuing event.
    Draft,
}

/// The Composition of `document` (a letter's document Bundle) with the letter's id as
/// its REST id; `date` is when it was sent (or, for a draft, last saved). `None` if the
/// document holds no Composition.
pub fn rest_composition(document: &Value, letter_id: &str, status: LetterStatus, date: &str) -> Option<Value> {
    let mut c = document
        .get("entry")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"))?
        .clone();
    let obj = c.as_object_mut()?;
    // The eReferral profile describes the Composition inside its document Bundle.
    obj.remove("meta");
    if status == LetterStatus::Draft {
        obj.remove("event");
    }
    set(&mut c, "id", Value::String(letter_id.to_string()));
    let status = match status {
        LetterStatus::Sent => "final",
        LetterStatus::Draft => "preliminary",
    };
    set(&mut c, "status", Value::String(status.to_string()));
    set(&mut c, "date", Value::String(date.to_string()));
    localize(&mut c);
    Some(c)
}

/// `urn:uuid:x` of a served type becomes `Type/x`; section entries naming resources
/// that exist only inside the document are dropped.
fn localize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            rewrite_reference(m);
            for (k, child) in m.iter_mut() {
                if k == "entry"
                    && let Value::Array(items) = child
                {
                    items.retain(|e| !document_only(e));
                }
                localize(child);
            }
            // A section whose entries were all dropped still has its narrative.
            if m.get("entry").and_then(Value::as_array).is_some_and(Vec::is_empty) {
                m.remove("entry");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(localize),
        _ => {}
    }
}

fn rewrite_reference(m: &mut Map<String, Value>) {
    let kind = m.get("type").and_then(Value::as_str).filter(|t| SERVED.contains(t)).map(str::to_string);
    let id = m.get("reference").and_then(Value::as_str).and_then(|r| r.strip_prefix("urn:uuid:")).map(str::to_string);
    if let (Some(kind), Some(id)) = (kind, id) {
        m.insert("reference".into(), Value::String(format!("{kind}/{id}")));
    }
}

fn document_only(e: &Value) -> bool {
    e.get("reference").and_then(Value::as_str).is_some_and(|r| r.starts_with("urn:uuid:"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::{LetterDocument, OrgInfo, PatientInfo, PersonInfo, letter_bundle};
    use tsunagu_domain::letter::{LetterBody, LetterKind};
    use tsunagu_domain::patient::Sex;

    fn org(id: &str, name: &str) -> OrgInfo {
        OrgInfo {
            id: id.into(),
            name: name.into(),
            institution_code: Some("1312345678".into()),
            postal_code: None,
            address: None,
            phone: None,
        }
    }

    fn document() -> Value {
        let mut body = LetterBody::empty(LetterKind::Referral);
        body.set("purpose", "在宅緩和ケアのお願い".into()).unwrap();
        body.set("diagnoses", "膵頭部癌\n2型糖尿病".into()).unwrap();
        body.set("allergies", "ロキソプロフェン".into()).unwrap();
        letter_bundle(&LetterDocument {
            letter_id: "11111111-1111-4111-8111-111111111111".into(),
            version: 2,
            issued_at: "2026-11-20T01:00:00Z".into(),
            body: &body,
            in_reply_to: None,
            patient: PatientInfo {
                id: "22222222-2222-4222-8222-222222222222".into(),
                family_name: "山田".into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
                sex: Sex::Female,
                birth_date: "1944-01-01".into(),
                postal_code: None,
                address: None,
                phone: None,
                local_ids: vec![],
            },
            author: PersonInfo {
                id: "33333333-3333-4333-8333-333333333333".into(),
                name: "佐藤 健一".into(),
                name_kana: "サトウ ケンイチ".into(),
                profession: "physician".into(),
            },
            author_org: org("44444444-4444-4444-8444-444444444444", "病院"),
            recipient_org: org("55555555-5555-4555-8555-555555555555", "クリニック"),
            recipient_person: None,
            attachments: vec![],
        })
    }

    #[test]
    fn served_references_become_rest_addresses_and_document_only_entries_go() {
        let c = rest_composition(
            &document(),
            "11111111-1111-4111-8111-111111111111",
            LetterStatus::Sent,
            "2026-11-20T01:00:00Z",
        )
        .unwrap();
        assert_eq!(c["id"], "11111111-1111-4111-8111-111111111111");
        assert_eq!(c["status"], "final");
        assert_eq!(c["subject"]["reference"], "Patient/22222222-2222-4222-8222-222222222222");
        assert_eq!(c["author"][0]["reference"], "Practitioner/33333333-3333-4333-8333-333333333333");
        assert_eq!(c["custodian"]["reference"], "Organization/44444444-4444-4444-8444-444444444444");
        let text = c.to_string();
        assert!(!text.contains("urn:uuid:"), "no reference into the document is left: {text}");
        assert!(c.get("meta").is_none());
        // The diagnoses section keeps its narrative without its Condition entries.
        let structured =
            c["section"].as_array().unwrap().iter().find(|s| s["code"]["coding"][0]["code"] == "300").unwrap();
        let diagnoses =
            structured["section"].as_array().unwrap().iter().find(|s| s["code"]["coding"][0]["code"] == "340").unwrap();
        assert!(diagnoses.get("entry").is_none());
        assert!(diagnoses["text"]["div"].as_str().unwrap().contains("膵頭部癌"));
        assert!(c.get("event").is_some());
    }

    #[test]
    fn a_draft_is_preliminary_and_not_issued() {
        let c = rest_composition(&document(), "x", LetterStatus::Draft, "2026-11-21T00:00:00Z").unwrap();
        assert_eq!(c["status"], "preliminary");
        assert_eq!(c["date"], "2026-11-21T00:00:00Z");
        assert!(c.get("event").is_none());
    }

    #[test]
    fn a_bundle_without_a_composition_gives_none() {
        assert!(rest_composition(&serde_json::json!({ "entry": [] }), "x", LetterStatus::Sent, "d").is_none());
    }
}
