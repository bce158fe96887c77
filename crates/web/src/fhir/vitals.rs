//! Vital signs on the chart as FHIR `Observation`s: one vital-signs entry holds several
//! measurements taken together, and each is its own Observation (as the FHIR vital-signs
//! profiles want), with the id `<entry id>-<measurement>`. Their versions are the
//! entry's: a corrected temperature is the Observation's next version.
//!
//! Pain on the numeric rating scale is recorded with the vitals at the bedside but is a
//! patient's rating, so it is in the `survey` category.

use super::entries::{self, EntryType, Render};
use crate::i18n::{Locale, Tr};
use serde_json::{Value, json};
use tsunagu_domain::chart::{EntryBody, EntryKind, VitalSigns};
use tsunagu_fhir::rest::OBSERVATION_CATEGORY;
use tsunagu_store::EntryView;

pub const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

/// One measurement of a vital-signs entry.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// The id suffix.
    pub part: &'static str,
    pub category: &'static str,
    /// LOINC codes, the first the one the vital-signs profile names.
    pub codes: &'static [(&'static str, &'static str)],
    /// The catalogue key of its Japanese name.
    label: &'static str,
}

pub const MEASURES: &[Measure] = &[
    Measure {
        part: "bt",
        category: "vital-signs",
        codes: &[("8310-5", "Body temperature")],
        label: "vital-temperature",
    },
    Measure { part: "hr", category: "vital-signs", codes: &[("8867-4", "Heart rate")], label: "vital-pulse" },
    Measure { part: "bp", category: "vital-signs", codes: &[("85354-9", "Blood pressure panel")], label: "vital-bp" },
    Measure {
        part: "rr",
        category: "vital-signs",
        codes: &[("9279-1", "Respiratory rate")],
        label: "vital-respiration",
    },
    Measure {
        part: "spo2",
        category: "vital-signs",
        codes: &[
            ("2708-6", "Oxygen saturation in Arterial blood"),
            ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        ],
        label: "field-spo2",
    },
    Measure {
        part: "pain",
        category: "survey",
        codes: &[("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")],
        label: "field-pain-nrs",
    },
];

pub const VITAL_OBSERVATION: EntryType = EntryType {
    resource_type: "Observation",
    kind: EntryKind::VitalSigns,
    audit: "fhir.observation",
    split_id,
    render: vital_observation,
};

/// `<entry id>-<part>` → (entry id, part), for a known measurement only.
pub fn split_id(id: &str) -> Option<(&str, &str)> {
    MEASURES.iter().find_map(|m| {
        let entry = id.strip_suffix(m.part)?.strip_suffix('-')?;
        (!entry.is_empty()).then_some((entry, m.part))
    })
}

pub fn measure(part: &str) -> Option<&'static Measure> {
    MEASURES.iter().find(|m| m.part == part)
}

fn quantity(value: f64, unit: &str, ucum: &str) -> Value {
    json!({ "value": value, "unit": unit, "system": UCUM, "code": ucum })
}

fn code_of(code: &str, display: &str) -> Value {
    json!({ "coding": [ { "system": LOINC, "code": code, "display": display } ] })
}

/// The value elements of one measurement (`valueQuantity`, or the blood pressure's
/// components), or None when the entry version did not record it.
fn value_of(v: &VitalSigns, part: &str) -> Option<(&'static str, Value)> {
    let int = |n: i64| n as f64;
    match part {
        "bt" => v.temperature_c.map(|t| ("valueQuantity", quantity(t, "℃", "Cel"))),
        "hr" => v.pulse_bpm.map(|n| ("valueQuantity", quantity(int(n), "/min", "/min"))),
        "rr" => v.respiration_rate.map(|n| ("valueQuantity", quantity(int(n), "/min", "/min"))),
        "spo2" => v.spo2.map(|n| ("valueQuantity", quantity(int(n), "%", "%"))),
        "pain" => v.pain_nrs.map(|n| ("valueInteger", json!(n))),
        "bp" => {
            let mut components = Vec::new();
            if let Some(s) = v.bp_systolic {
                components.push(json!({
                    "code": code_of("8480-6", "Systolic blood pressure"),
                    "valueQuantity": quantity(int(s), "mmHg", "mm[Hg]"),
                }));
            }
            if let Some(d) = v.bp_diastolic {
                components.push(json!({
                    "code": code_of("8462-4", "Diastolic blood pressure"),
                    "valueQuantity": quantity(int(d), "mmHg", "mm[Hg]"),
                }));
            }
            (!components.is_empty()).then_some(("component", Value::Array(components)))
        }
        _ => None,
    }
}

/// One measurement of one version of a vital-signs entry.
pub fn vital_observation(r: &Render<'_>, e: &EntryView, part: &str) -> Option<Value> {
    let EntryBody::VitalSigns(v) = &e.body else { return None };
    let m = measure(part)?;
    let (value_key, value) = value_of(v, part)?;
    let label = Tr::new(Locale::Ja).t(m.label);
    let coding: Vec<Value> =
        m.codes.iter().map(|(code, display)| json!({ "system": LOINC, "code": code, "display": display })).collect();
    let category_display = if m.category == "survey" { "Survey" } else { "Vital Signs" };
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("{}-{part}", e.entry_id),
        "meta": entries::meta(e),
        "status": entries::status(e, "final", "amended"),
        "category": [ { "coding": [ { "system": OBSERVATION_CATEGORY, "code": m.category, "display": category_display } ] } ],
        "code": { "coding": coding, "text": label },
        "subject": { "reference": format!("Patient/{}", r.grant.patient()) },
        "effectiveDateTime": e.entry_recorded_at,
        "issued": e.recorded_at,
        "performer": [ { "reference": format!("Organization/{}", e.author_org_id), "display": e.author_org_name } ],
    });
    if let Some(obj) = o.as_object_mut() {
        obj.insert(value_key.into(), value);
        if let Some(note) = v.note.as_deref().filter(|n| !n.trim().is_empty()) {
            obj.insert("note".into(), json!([ { "text": note } ]));
        }
    }
    Some(o)
}

/// Every measurement of the current version of one entry.
pub fn observations(r: &Render<'_>, e: &EntryView) -> Vec<(&'static Measure, Value)> {
    MEASURES.iter().filter_map(|m| Some((m, vital_observation(r, e, m.part)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_id_names_its_entry_and_measurement() {
        let entry = "0b8f8a3e-2f1c-4d2a-9c55-3d7c3f1a9e10";
        assert_eq!(split_id(&format!("{entry}-bt")), Some((entry, "bt")));
        assert_eq!(split_id(&format!("{entry}-spo2")), Some((entry, "spo2")));
        assert_eq!(split_id(entry), None);
        assert_eq!(split_id("-bt"), None);
        assert_eq!(split_id(&format!("{entry}bt")), None);
    }

    #[test]
    fn blood_pressure_is_one_observation_with_its_two_components() {
        let v = VitalSigns { bp_systolic: Some(128), bp_diastolic: Some(74), ..VitalSigns::default() };
        let (key, value) = value_of(&v, "bp").unwrap();
        assert_eq!(key, "component");
        assert_eq!(value[0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(value[1]["valueQuantity"]["value"], 74.0);
        assert!(value_of(&v, "bt").is_none(), "a measurement not taken makes no Observation");
    }
}
