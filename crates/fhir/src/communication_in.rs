//! An incoming message to a patient's team (`POST [base]/Communication`), read into
//! [`CommunicationIn`]: the patient and the text the chart's thread keeps. As for
//! Patient, structure is checked strictly and every problem is reported at once with
//! the FHIRPath of the element.
//!
//! What the thread keeps: `subject` (the patient, required), the text of `payload`
//! (`contentString`, one or more, joined by blank lines) and `status`, which must be
//! `completed` (a message on the thread is sent). The author and the time are the
//! caller and the moment it is written, as for a message typed on the chart, so `sender`,
//! `sent` and `recipient` are accepted and not kept, with a warning saying so. Files
//! (`contentAttachment`, `contentReference`) are refused: documents are added to the
//! chart, where they are checked, not carried inside a message.

use crate::outcome::{Issue, IssueType, excerpt};
use crate::patient_in::{Ctx, array, check_members, code, json_body, json_type, object, string};
use crate::search::is_id;
use serde_json::Value;

/// The longest message the thread takes (the chart's limit).
pub const MAX_MESSAGE_CHARS: usize = 5000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicationIn {
    /// The id of `subject` (`Patient/<id>`).
    pub patient_id: String,
    pub text: String,
    /// What was accepted but not kept.
    pub warnings: Vec<Issue>,
}

/// Every problem found (errors only when there is one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Communication resource is not acceptable ({} issue(s))", .issues.len())]
pub struct CommunicationInError {
    pub issues: Vec<Issue>,
}

const ELEMENTS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
    "instantiatesCanonical",
    "instantiatesUri",
    "basedOn",
    "partOf",
    "inResponseTo",
    "status",
    "statusReason",
    "category",
    "priority",
    "medium",
    "subject",
    "topic",
    "about",
    "encounter",
    "sent",
    "received",
    "recipient",
    "sender",
    "reasonCode",
    "reasonReference",
    "payload",
    "note",
];

/// Accepted, and not kept by the thread.
const NOT_KEPT: &[&str] = &[
    "identifier",
    "basedOn",
    "partOf",
    "inResponseTo",
    "category",
    "priority",
    "medium",
    "topic",
    "about",
    "encounter",
    "sent",
    "received",
    "recipient",
    "sender",
    "reasonCode",
    "reasonReference",
    "note",
];

const PAYLOAD_ELEMENTS: &[&str] = &["contentString", "contentAttachment", "contentReference"];

/// Read a Communication from the request body.
pub fn parse_communication_json(body: &[u8]) -> Result<CommunicationIn, CommunicationInError> {
    let v = json_body(body).map_err(|issues| CommunicationInError { issues })?;
    parse_communication(&v)
}

/// Read a Communication resource.
pub fn parse_communication(v: &Value) -> Result<CommunicationIn, CommunicationInError> {
    let mut c = Ctx::default();
    let read = read(&mut c, v);
    let (message, warnings) = c.finish(read).map_err(|issues| CommunicationInError { issues })?;
    Ok(CommunicationIn { warnings, ..message })
}

fn read(c: &mut Ctx, v: &Value) -> Option<CommunicationIn> {
    let Value::Object(root) = v else {
        c.error(
            IssueType::Structure,
            "Communication",
            format!("a resource must be a JSON object, not {}", json_type(v)),
        );
        return None;
    };
    match root.get("resourceType") {
        Some(Value::String(t)) if t == "Communication" => {}
        Some(Value::String(t)) => {
            c.push(Issue::error(
                IssueType::Invalid,
                format!("resourceType is '{}', expected 'Communication'", excerpt(t)),
            ));
            return None;
        }
        _ => {
            c.push(Issue::error(IssueType::Required, "resourceType must be the string 'Communication'"));
            return None;
        }
    }
    check_members(c, root, "Communication", ELEMENTS);
    if root.contains_key("implicitRules") {
        c.error(IssueType::NotSupported, "Communication.implicitRules", "implicit rules are not understood");
    }
    if root.contains_key("id") {
        c.warn(
            IssueType::Informational,
            "Communication.id",
            "a create is given its id by the server; this one is not kept",
        );
    }
    for k in NOT_KEPT.iter().filter(|k| root.contains_key(**k)) {
        c.warn(
            IssueType::Informational,
            &format!("Communication.{k}"),
            "accepted and not kept: the thread records the caller as the sender, now as the time, and the team as the recipients",
        );
    }
    let status = match root.get("status") {
        Some(s) => code(c, s, "Communication.status", &["completed"]),
        None => {
            c.error(IssueType::Required, "Communication.status", "is required (completed: the message is sent)");
            None
        }
    };
    let patient_id = match root.get("subject") {
        Some(s) => subject(c, s),
        None => {
            c.error(IssueType::Required, "Communication.subject", "is required: the patient whose team is written to");
            None
        }
    };
    let text = match root.get("payload") {
        Some(p) => payload(c, p),
        None => {
            c.error(IssueType::Required, "Communication.payload", "is required: the text of the message");
            None
        }
    };
    Some(CommunicationIn { patient_id: patient_id?, text: text?, warnings: Vec::new() }).filter(|_| status.is_some())
}

/// `subject`: a reference to a Patient by id (`Patient/<id>`).
fn subject(c: &mut Ctx, v: &Value) -> Option<String> {
    let path = "Communication.subject";
    let m = object(c, v, path)?;
    check_members(c, m, path, &["reference", "type", "identifier", "display"]);
    let Some(r) = m.get("reference") else {
        c.error(IssueType::Required, &format!("{path}.reference"), "is required (Patient/<id>)");
        return None;
    };
    let r = string(c, r, &format!("{path}.reference"), 200)?;
    match r.strip_prefix("Patient/") {
        Some(id) if is_id(id) => Some(id.to_string()),
        _ => {
            c.error(IssueType::Value, &format!("{path}.reference"), format!("'{}' is not Patient/<id>", excerpt(r)));
            None
        }
    }
}

/// `payload`: the texts, joined by blank lines.
fn payload(c: &mut Ctx, v: &Value) -> Option<String> {
    let mut texts = Vec::new();
    let mut ok = true;
    for (i, p) in array(c, v, "Communication.payload").iter().enumerate() {
        let path = format!("Communication.payload[{i}]");
        let Some(m) = object(c, p, &path) else {
            ok = false;
            continue;
        };
        check_members(c, m, &path, PAYLOAD_ELEMENTS);
        if m.contains_key("contentAttachment") || m.contains_key("contentReference") {
            c.error(
                IssueType::NotSupported,
                &path,
                "only text is taken (contentString); add documents to the chart, where files are checked",
            );
            ok = false;
        }
        match m.get("contentString") {
            Some(s) => match string(c, s, &format!("{path}.contentString"), MAX_MESSAGE_CHARS) {
                Some(t) => texts.push(t.to_string()),
                None => ok = false,
            },
            None if ok => {
                c.error(IssueType::Required, &format!("{path}.contentString"), "is required");
                ok = false;
            }
            None => {}
        }
    }
    let text = texts.join("\n\n");
    if text.chars().count() > MAX_MESSAGE_CHARS {
        c.error(IssueType::TooLong, "Communication.payload", format!("longer than {MAX_MESSAGE_CHARS} characters"));
        return None;
    }
    (ok && !texts.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Severity;
    use serde_json::json;

    fn message(extra: Value) -> Value {
        let mut v = json!({
            "resourceType": "Communication",
            "status": "completed",
            "subject": { "reference": "Patient/01a22eba-7e84-742b-9241-3ee568caf83b" },
            "payload": [ { "contentString": "退院日が12月3日に決まりました。" } ],
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }

    #[test]
    fn a_text_message_to_a_patients_team_is_read() {
        let m = parse_communication(&message(json!({}))).unwrap();
        assert_eq!(m.patient_id, "01a22eba-7e84-742b-9241-3ee568caf83b");
        assert_eq!(m.text, "退院日が12月3日に決まりました。");
        assert!(m.warnings.is_empty());
    }

    #[test]
    fn what_the_thread_does_not_keep_is_accepted_with_a_warning() {
        let m = parse_communication(&message(json!({ "sent": "2026-11-30T10:00:00+09:00", "id": "x" }))).unwrap();
        let paths: Vec<_> = m.warnings.iter().flat_map(|w| w.expression.clone()).collect();
        assert!(paths.iter().any(|p| p == "Communication.sent"), "{paths:?}");
        assert!(paths.iter().any(|p| p == "Communication.id"), "{paths:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let bad = json!({
            "resourceType": "Communication",
            "status": "in-progress",
            "subject": { "reference": "Organization/1" },
            "payload": [ { "contentAttachment": { "url": "http://x" } } ],
            "bogus": 1,
        });
        let e = parse_communication(&bad).unwrap_err();
        let paths: Vec<_> = e.issues.iter().flat_map(|i| i.expression.clone()).collect();
        for p in [
            "Communication.status",
            "Communication.subject.reference",
            "Communication.payload[0]",
            "Communication.bogus",
        ] {
            assert!(paths.iter().any(|x| x == p), "{p} not reported: {paths:?}");
        }
        assert!(e.issues.iter().all(|i| i.severity == Severity::Error));
    }

    #[test]
    fn missing_parts_and_wrong_types_are_errors_not_panics() {
        for body in [
            json!({ "resourceType": "Communication" }),
            json!({ "resourceType": "Patient" }),
            json!([]),
            json!({ "resourceType": "Communication", "status": "completed", "subject": "Patient/1", "payload": {} }),
            message(json!({ "payload": [ { "contentString": "  " } ] })),
            message(json!({ "payload": [ { "contentString": "あ".repeat(MAX_MESSAGE_CHARS + 1) } ] })),
        ] {
            let e = parse_communication(&body).unwrap_err();
            assert!(!e.issues.is_empty(), "{body}");
        }
        assert!(parse_communication_json(b"{not json").is_err());
    }
}
