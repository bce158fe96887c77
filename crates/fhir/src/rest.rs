//! What the REST API answers with: resources with their version metadata, search and
//! history Bundles, the transaction-response Bundle and the CapabilityStatement.
//!
//! Pure functions of plain values; the web layer fetches the data (through the access
//! policy) and hands it here. The CapabilityStatement is built from the same search
//! parameter definitions the parser uses, so it cannot claim more than is served.

use crate::search::{ParamDef, ParamType};
use crate::{PatientInfo, set};
use serde_json::{Value, json};

pub const FHIR_VERSION: &str = "4.0.1";
pub const JSON_MIME: &str = "application/fhir+json";

/// A JP Core Patient with `meta.versionId` and `meta.lastUpdated`.
pub fn patient_resource(p: &PatientInfo, version: i64, last_updated: &str) -> Value {
    let mut r = crate::resources::patient(p);
    if let Some(meta) = r.get_mut("meta") {
        set(meta, "versionId", json!(version.to_string()));
        set(meta, "lastUpdated", json!(last_updated));
    }
    r
}

/// A lab result as the chart keeps it (imported from a facility's SS-MIX2 storage).
#[derive(Debug, Clone)]
pub struct LabObservation<'a> {
    pub id: &'a str,
    pub patient_id: &'a str,
    pub org_id: &'a str,
    pub org_name: &'a str,
    pub code: &'a str,
    /// The HL7 v2 coding system (`JC10` for JLAC10, else the facility's own).
    pub code_system: &'a str,
    pub name: &'a str,
    pub value_num: Option<f64>,
    pub value_text: &'a str,
    pub unit: &'a str,
    pub reference_range: &'a str,
    /// HL7 abnormal flag: '', L, H, LL, HH, A, AA.
    pub abnormal: &'a str,
    /// RFC 3339.
    pub observed_at: &'a str,
    pub issued: &'a str,
}

pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const JLAC10: &str = "urn:oid:1.2.392.200119.4.504";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// The code system URI of an HL7 v2 coding system name: JLAC10 by its OID, a
/// facility's own codes under a URN naming that facility (they mean nothing elsewhere).
pub fn lab_code_system(v2_system: &str, org_id: &str) -> String {
    match v2_system {
        "JC10" | "JC11" => JLAC10.to_string(),
        other => {
            let clean: String = other.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')).collect();
            let clean = if clean.is_empty() { "local".to_string() } else { clean };
            format!("urn:tsunagu:lab-code:{org_id}:{clean}")
        }
    }
}

/// A JP Core laboratory Observation.
pub fn lab_observation(o: &LabObservation<'_>) -> Value {
    let mut r = json!({
        "resourceType": "Observation",
        "id": o.id,
        "meta": { "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_LabResult"] },
        "status": "final",
        "category": [ { "coding": [ { "system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory" } ] } ],
        "code": {
            "coding": [ { "system": lab_code_system(o.code_system, o.org_id), "code": o.code, "display": o.name } ],
            "text": o.name,
        },
        "subject": { "reference": format!("Patient/{}", o.patient_id) },
        "effectiveDateTime": o.observed_at,
        "issued": o.issued,
        "performer": [ { "reference": format!("Organization/{}", o.org_id), "display": o.org_name } ],
    });
    match o.value_num {
        Some(v) if v.is_finite() => {
            let mut q = json!({ "value": v });
            if !o.unit.is_empty() {
                set(&mut q, "unit", json!(o.unit));
            }
            set(&mut r, "valueQuantity", q);
        }
        _ if !o.value_text.trim().is_empty() => set(&mut r, "valueString", json!(o.value_text)),
        _ => set(&mut r, "dataAbsentReason", json!({ "text": "no value reported" })),
    }
    if !o.abnormal.is_empty() {
        set(&mut r, "interpretation", json!([ { "coding": [ { "system": INTERPRETATION, "code": o.abnormal } ] } ]));
    }
    if !o.reference_range.trim().is_empty() {
        set(&mut r, "referenceRange", json!([ { "text": o.reference_range } ]));
    }
    r
}

/// A prescription as the chart keeps it (imported from a facility's SS-MIX2 storage).
#[derive(Debug, Clone)]
pub struct Prescription<'a> {
    pub id: &'a str,
    pub patient_id: &'a str,
    pub org_id: &'a str,
    pub org_name: &'a str,
    /// HL7 v2 order control: NW new, CA cancelled, DC discontinued.
    pub order_control: &'a str,
    pub order_number: &'a str,
    pub drug_code: &'a str,
    /// HL7 v2 coding system: HOT (HOT9), YJ, or a facility's own.
    pub drug_code_system: &'a str,
    pub drug_name: &'a str,
    pub dose: &'a str,
    pub dose_unit: &'a str,
    pub route: &'a str,
    pub timing_text: &'a str,
    pub instructions: &'a str,
    pub days: Option<i64>,
    pub dispense_amount: &'a str,
    pub dispense_unit: &'a str,
    /// RFC 3339.
    pub prescribed_at: &'a str,
    pub prescriber_name: &'a str,
    /// Still to be taken (its end date, if any, not passed).
    pub current: bool,
}

/// The code system URI of an HL7 v2 drug coding system name.
pub fn drug_code_system(v2_system: &str, org_id: &str) -> String {
    match v2_system {
        "HOT" | "HOT9" => "urn:oid:1.2.392.200119.4.403.1".to_string(),
        "YJ" => "urn:oid:1.2.392.100495.20.2.74".to_string(),
        other => {
            let clean: String = other.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')).collect();
            let clean = if clean.is_empty() { "local".to_string() } else { clean };
            format!("urn:tsunagu:drug-code:{org_id}:{clean}")
        }
    }
}

fn quantity(value: &str, unit: &str) -> Option<Value> {
    let v: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
    let mut q = json!({ "value": v });
    if !unit.trim().is_empty() {
        set(&mut q, "unit", json!(unit));
    }
    Some(q)
}

/// A JP Core MedicationRequest.
pub fn medication_request(p: &Prescription<'_>) -> Value {
    let status = match p.order_control {
        "CA" => "cancelled",
        "DC" => "stopped",
        _ if p.current => "active",
        _ => "completed",
    };
    let mut dosage = json!({});
    let text = [p.timing_text, p.instructions]
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !text.is_empty() {
        set(&mut dosage, "text", json!(text));
    }
    if !p.timing_text.trim().is_empty() {
        set(&mut dosage, "timing", json!({ "code": { "text": p.timing_text } }));
    }
    if !p.route.trim().is_empty() {
        set(&mut dosage, "route", json!({ "text": p.route }));
    }
    if let Some(q) = quantity(p.dose, p.dose_unit) {
        set(&mut dosage, "doseAndRate", json!([ { "doseQuantity": q } ]));
    }
    let mut r = json!({
        "resourceType": "MedicationRequest",
        "id": p.id,
        "meta": { "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest"] },
        "identifier": [ { "system": format!("urn:tsunagu:order:{}", p.org_id), "value": p.order_number } ],
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [ { "system": drug_code_system(p.drug_code_system, p.org_id), "code": p.drug_code, "display": p.drug_name } ],
            "text": p.drug_name,
        },
        "subject": { "reference": format!("Patient/{}", p.patient_id) },
        "authoredOn": p.prescribed_at,
        "requester": { "display": if p.prescriber_name.trim().is_empty() { p.org_name.to_string() } else { format!("{} ({})", p.prescriber_name, p.org_name) } },
    });
    if dosage.as_object().is_some_and(|o| !o.is_empty()) {
        set(&mut r, "dosageInstruction", json!([dosage]));
    }
    let mut dispense = json!({});
    if let Some(q) = quantity(p.dispense_amount, p.dispense_unit) {
        set(&mut dispense, "quantity", q);
    }
    if let Some(d) = p.days.filter(|d| *d > 0) {
        set(
            &mut dispense,
            "expectedSupplyDuration",
            json!({ "value": d, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d" }),
        );
    }
    if dispense.as_object().is_some_and(|o| !o.is_empty()) {
        set(&mut r, "dispenseRequest", dispense);
    }
    r
}

/// A JP Core Organization (directory data, not patient data).
pub fn organization_resource(o: &crate::OrgInfo) -> Value {
    crate::resources::organization(o)
}

/// The local code system of professions (tsunagu's own list: physician, nurse, msw...).
pub const PROFESSION_SYSTEM: &str = "urn:tsunagu:profession";

/// A JP Core Practitioner of the staff directory: the name in kanji (`IDE`) and kana
/// (`SYL`), and the profession coded in [`PROFESSION_SYSTEM`] with its Japanese name.
/// `p.profession` is the code; `profession_display` its name.
pub fn practitioner_resource(p: &crate::PersonInfo, profession_display: &str) -> Value {
    let mut r = crate::resources::practitioner(p);
    set(
        &mut r,
        "qualification",
        json!([ { "code": {
            "coding": [ { "system": PROFESSION_SYSTEM, "code": p.profession, "display": profession_display } ],
            "text": profession_display,
        } } ]),
    );
    r
}

/// One entry of a search or history Bundle.
#[derive(Debug, Clone)]
pub struct Entry {
    pub full_url: String,
    pub resource: Value,
    /// `match` or `include` (searchset only).
    pub search_mode: Option<&'static str>,
    /// For history: the request that made this version (`POST`/`PUT` and URL) and
    /// how it was answered (R4 requires both in a history Bundle).
    pub request: Option<(&'static str, String)>,
    pub response: Option<EntryResponse>,
}

impl Entry {
    fn to_json(&self) -> Value {
        let mut e = json!({ "fullUrl": self.full_url, "resource": self.resource });
        if let Some(mode) = self.search_mode {
            set(&mut e, "search", json!({ "mode": mode }));
        }
        if let Some((method, url)) = &self.request {
            set(&mut e, "request", json!({ "method": method, "url": url }));
        }
        if let Some(r) = &self.response {
            set(&mut e, "response", r.response_json());
        }
        e
    }
}

/// A paging link (`self`, `first`, `previous`, `next`).
#[derive(Debug, Clone)]
pub struct Link {
    pub relation: &'static str,
    pub url: String,
}

/// A `searchset` Bundle. `outcome` (warnings about ignored parameters) goes in as an
/// entry with search mode `outcome`, as R4 prescribes.
pub fn searchset(
    id: &str,
    now: &str,
    total: Option<usize>,
    links: &[Link],
    entries: &[Entry],
    outcome: Option<Value>,
) -> Value {
    let mut b = json!({
        "resourceType": "Bundle",
        "id": id,
        "meta": { "lastUpdated": now },
        "type": "searchset",
        "link": links.iter().map(|l| json!({ "relation": l.relation, "url": l.url })).collect::<Vec<_>>(),
    });
    if let Some(t) = total {
        set(&mut b, "total", json!(t));
    }
    let mut list: Vec<Value> = entries.iter().map(Entry::to_json).collect();
    if let Some(o) = outcome {
        list.push(json!({ "resource": o, "search": { "mode": "outcome" } }));
    }
    if !list.is_empty() {
        set(&mut b, "entry", Value::Array(list));
    }
    b
}

/// A `history` Bundle, newest version first.
pub fn history(id: &str, now: &str, self_url: &str, entries: &[Entry]) -> Value {
    let mut b = json!({
        "resourceType": "Bundle",
        "id": id,
        "meta": { "lastUpdated": now },
        "type": "history",
        "total": entries.len(),
        "link": [ { "relation": "self", "url": self_url } ],
    });
    if !entries.is_empty() {
        set(&mut b, "entry", Value::Array(entries.iter().map(Entry::to_json).collect()));
    }
    b
}

/// The answer to one entry of a transaction.
#[derive(Debug, Clone)]
pub struct EntryResponse {
    /// "201 Created", "200 OK".
    pub status: String,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub resource: Option<Value>,
}

impl EntryResponse {
    fn response_json(&self) -> Value {
        let mut resp = json!({ "status": self.status });
        if let Some(l) = &self.location {
            set(&mut resp, "location", json!(l));
        }
        if let Some(t) = &self.etag {
            set(&mut resp, "etag", json!(t));
        }
        if let Some(m) = &self.last_modified {
            set(&mut resp, "lastModified", json!(m));
        }
        resp
    }
}

/// A `transaction-response` Bundle, entries in the order of the request.
pub fn transaction_response(id: &str, now: &str, entries: &[EntryResponse]) -> Value {
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut entry = json!({ "response": e.response_json() });
            if let Some(r) = &e.resource {
                set(&mut entry, "resource", r.clone());
            }
            entry
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "id": id,
        "meta": { "lastUpdated": now },
        "type": "transaction-response",
        "entry": list,
    })
}

/// What the server offers for one resource type.
#[derive(Debug, Clone, Copy)]
pub struct ResourceCapability<'a> {
    pub resource_type: &'a str,
    pub profile: Option<&'a str>,
    /// `read`, `vread`, `update`, `create`, `search-type`, `history-instance`.
    pub interactions: &'a [&'a str],
    pub versioning: &'a str,
    pub conditional_create: bool,
    pub update_create: bool,
    pub params: &'a [ParamDef],
    /// `_include` values (`Observation:patient`).
    pub include: &'a [&'a str],
    pub revinclude: &'a [&'a str],
    /// Operations on the type (`export` for `$export`), with their definitions.
    pub operations: &'a [(&'a str, &'a str)],
}

fn param_type(t: ParamType) -> &'static str {
    t.as_str()
}

/// The CapabilityStatement (`GET [base]/metadata`): exactly what this server serves.
pub fn capability_statement(
    base: &str,
    software_version: &str,
    date: &str,
    resources: &[ResourceCapability<'_>],
    system_interactions: &[&str],
) -> Value {
    let rest_resources: Vec<Value> = resources
        .iter()
        .map(|r| {
            let mut v = json!({
                "type": r.resource_type,
                "interaction": r.interactions.iter().map(|i| json!({ "code": i })).collect::<Vec<_>>(),
                "versioning": r.versioning,
                "readHistory": r.interactions.contains(&"vread"),
                "updateCreate": r.update_create,
                "conditionalCreate": r.conditional_create,
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": r.params.iter().map(|p| json!({ "name": p.name, "type": param_type(p.kind) })).collect::<Vec<_>>(),
            });
            if let Some(p) = r.profile {
                set(&mut v, "profile", json!(p));
            }
            if !r.include.is_empty() {
                set(&mut v, "searchInclude", json!(r.include));
            }
            if !r.revinclude.is_empty() {
                set(&mut v, "searchRevInclude", json!(r.revinclude));
            }
            if !r.operations.is_empty() {
                set(
                    &mut v,
                    "operation",
                    Value::Array(r.operations.iter().map(|(n, d)| json!({ "name": n, "definition": d })).collect()),
                );
            }
            v
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "tsunagu",
        "kind": "instance",
        "software": { "name": "tsunagu", "version": software_version },
        "implementation": { "description": "tsunagu regional shared care record", "url": base },
        "fhirVersion": FHIR_VERSION,
        "format": [JSON_MIME, "json"],
        "rest": [ {
            "mode": "server",
            "documentation": "Bearer tokens from `tsunagu token create`. Every read and write goes through the same access policy and audit chain as the pages: a patient outside the caller's reach answers as if it did not exist.",
            "security": {
                "cors": false,
                "description": "Authorization: Bearer <token>; the token is bound to one person at one organization."
            },
            "resource": rest_resources,
            "interaction": system_interactions.iter().map(|i| json!({ "code": i })).collect::<Vec<_>>(),
        } ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{PATIENT_PARAMS, ParamDef};
    use tsunagu_domain::patient::Sex;

    fn info() -> PatientInfo {
        PatientInfo {
            id: "0b1f0000-0000-4000-8000-000000000001".into(),
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            sex: Sex::Male,
            birth_date: "1940-04-01".into(),
            postal_code: None,
            address: None,
            phone: None,
            local_ids: vec![(Some("1312345678".into()), "000123".into())],
        }
    }

    #[test]
    fn a_patient_carries_its_version_and_last_update() {
        let r = patient_resource(&info(), 3, "2026-11-30T10:00:00.000000Z");
        assert_eq!(r["meta"]["versionId"], "3");
        assert_eq!(r["meta"]["lastUpdated"], "2026-11-30T10:00:00.000000Z");
        assert_eq!(r["identifier"][1]["system"], "urn:oid:1.2.392.100495.20.3.51.11312345678");
        assert_eq!(r["identifier"][1]["value"], "000123");
    }

    #[test]
    fn the_capability_statement_lists_exactly_the_parameters_given() {
        let params: Vec<ParamDef> = PATIENT_PARAMS.iter().copied().take(2).collect();
        let c = capability_statement(
            "http://x/fhir/r4",
            "0.1.0",
            "2026-11-30",
            &[ResourceCapability {
                resource_type: "Patient",
                profile: None,
                interactions: &["read", "vread"],
                versioning: "versioned",
                conditional_create: true,
                update_create: false,
                params: &params,
                include: &[],
                revinclude: &[],
                operations: &[],
            }],
            &["transaction"],
        );
        let names: Vec<&str> = c["rest"][0]["resource"][0]["searchParam"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, vec!["_id", "_lastUpdated"]);
        assert_eq!(c["rest"][0]["resource"][0]["readHistory"], true);
        assert_eq!(c["rest"][0]["interaction"][0]["code"], "transaction");
        assert_eq!(c["fhirVersion"], "4.0.1");
    }

    #[test]
    fn a_searchset_puts_the_outcome_last_and_omits_empty_entries() {
        let b = searchset("b", "now", Some(0), &[Link { relation: "self", url: "u".into() }], &[], None);
        assert!(b.get("entry").is_none());
        assert_eq!(b["total"], 0);
        let e = Entry {
            full_url: "u/Patient/1".into(),
            resource: json!({"resourceType": "Patient"}),
            search_mode: Some("match"),
            request: None,
            response: None,
        };
        let b = searchset("b", "now", None, &[], &[e], Some(json!({"resourceType": "OperationOutcome"})));
        assert_eq!(b["entry"][0]["search"]["mode"], "match");
        assert_eq!(b["entry"][1]["search"]["mode"], "outcome");
        assert!(b.get("total").is_none());
    }
}
