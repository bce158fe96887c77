//! `tsunagu export-research --to DIR`: the outcome data, de-identified, for researchers
//! (DOMAIN.md §8). Only coded values leave: no names, addresses, phone numbers or free
//! text, no exact birth dates (birth year only), dates coarsened to the month or turned
//! into day counts. Each patient appears under a pseudonym that is stable within one
//! export (so the files join) and unlinkable across exports (a new random key each
//! time, never written down). A data dictionary describes every column.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use time::Date;
use tsunagu_domain::acp::{died_where_wished, in_force_at};
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::transition::fiscal_year;
use tsunagu_store::{ResearchData, Store};

/// What was written.
pub struct Exported {
    pub patients: usize,
    pub files: Vec<String>,
}

struct Pseudonyms {
    key: [u8; 32],
}

impl Pseudonyms {
    fn new() -> Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness available"))?;
        Ok(Self { key })
    }
    /// `P` and 12 hex digits of SHA-256(key ‖ id): stable in this export only.
    fn of(&self, id: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(id.as_bytes());
        format!("P{}", hex::encode(h.finalize()).get(..12).unwrap_or_default())
    }
}

fn month(ts: &str) -> String {
    ts.get(..7).unwrap_or_default().to_string()
}

fn day_of(ts: &str) -> Option<Date> {
    ts.get(..10).and_then(parse_iso_date)
}

fn csv_line(fields: &[String]) -> String {
    // Every value is a code or a number; quoting guards against a comma all the same.
    let cells: Vec<String> = fields
        .iter()
        .map(|f| if f.contains([',', '"', '\n']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
        .collect();
    format!("{}\n", cells.join(","))
}

pub async fn export(store: &Store, dir: &Path) -> Result<Exported> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let data: ResearchData = store.system_research_data().await?;
    let ids = Pseudonyms::new()?;
    let mut files = Vec::new();
    let mut write = |name: &str, body: String| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        files.push(name.to_string());
        Ok(())
    };

    let mut out = csv_line(&["pid".into(), "sex".into(), "birth_year".into(), "registered_by".into()]);
    for p in &data.patients {
        out += &csv_line(&[
            ids.of(&p.patient_id),
            p.sex.clone(),
            p.birth_date.get(..4).unwrap_or_default().to_string(),
            p.owner_kind.clone(),
        ]);
    }
    write("patients.csv", out)?;

    let mut out = csv_line(
        &[
            "pid",
            "version",
            "discussed_month",
            "patient_present",
            "family_present",
            "place_of_care",
            "place_of_death",
            "resuscitation",
        ]
        .map(String::from),
    );
    for a in &data.acp {
        let r = &a.record;
        out += &csv_line(&[
            ids.of(&a.patient_id),
            a.version.to_string(),
            month(&r.discussed_on.to_string()),
            r.patient_present.to_string(),
            r.family_present.to_string(),
            r.preferred_place_of_care.as_str().into(),
            r.preferred_place_of_death.as_str().into(),
            r.resuscitation.as_str().into(),
        ]);
    }
    write("acp.csv", out)?;

    let mut by_patient: HashMap<&str, Vec<tsunagu_domain::acp::AcpRecord>> = HashMap::new();
    for a in &data.acp {
        by_patient.entry(a.patient_id.as_str()).or_default().push(a.record.clone());
    }
    let mut out = csv_line(
        &[
            "pid",
            "death_month",
            "death_fiscal_year",
            "place",
            "wish_in_force",
            "died_where_wished",
            "days_from_wish_to_death",
        ]
        .map(String::from),
    );
    for d in &data.deaths {
        let versions = by_patient.get(d.patient_id.as_str()).cloned().unwrap_or_default();
        let wish = in_force_at(&versions, d.record.died_on);
        out += &csv_line(&[
            ids.of(&d.patient_id),
            month(&d.record.died_on.to_string()),
            fiscal_year(d.record.died_on).to_string(),
            d.record.place.as_str().into(),
            wish.map(|w| w.preferred_place_of_death.as_str().to_string()).unwrap_or_default(),
            died_where_wished(&versions, &d.record).map(|b| b.to_string()).unwrap_or_default(),
            wish.map(|w| (d.record.died_on - w.discussed_on).whole_days().to_string()).unwrap_or_default(),
        ]);
    }
    write("deaths.csv", out)?;

    // Assessments: days since the patient's first assessment on that instrument.
    let mut first: HashMap<(String, String), Date> = HashMap::new();
    let mut out = String::new();
    for a in &data.assessments {
        let Some(day) = day_of(&a.assessed_at) else { continue };
        let start = *first.entry((a.patient_id.clone(), a.instrument_id.clone())).or_insert(day);
        let ratings: serde_json::Map<String, serde_json::Value> =
            a.ratings.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect();
        let line = serde_json::json!({
            "pid": ids.of(&a.patient_id),
            "instrument": a.instrument_id,
            "version": a.instrument_version,
            "day": (day - start).whole_days(),
            "month": month(&a.assessed_at),
            "score": a.score,
            "ratings": ratings,
        });
        let _ = writeln!(out, "{line}");
    }
    write("assessments.ndjson", out)?;

    let mut out = String::new();
    for s in &data.surveys {
        let ratings: serde_json::Map<String, serde_json::Value> =
            s.ratings.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect();
        let line = serde_json::json!({
            "pid": s.patient_id.as_deref().map(|p| ids.of(p)),
            "instrument": s.instrument_id,
            "version": s.instrument_version,
            "month": month(&s.submitted_at),
            "score": s.score,
            "ratings": ratings,
        });
        let _ = writeln!(out, "{line}");
    }
    write("surveys.ndjson", out)?;

    let mut out = csv_line(
        &["pid", "opened_fiscal_year", "conference_held", "days_to_discharge", "ended", "end_reason"].map(String::from),
    );
    for t in &data.transitions {
        let opened = day_of(&t.opened_at);
        let discharged = t.events.iter().find(|e| e.0 == "discharge").and_then(|e| day_of(&e.1));
        let end = t.events.iter().find(|e| e.0 == "end");
        out += &csv_line(&[
            ids.of(&t.patient_id),
            opened.map(|d| fiscal_year(d).to_string()).unwrap_or_default(),
            t.events.iter().any(|e| e.0 == "hold_conference").to_string(),
            opened.zip(discharged).map(|(o, d)| (d - o).whole_days().to_string()).unwrap_or_default(),
            end.is_some().to_string(),
            end.map(|e| e.2.clone()).unwrap_or_default(),
        ]);
    }
    write("transitions.csv", out)?;

    let mut out = csv_line(&["pid", "kind", "month", "fiscal_year"].map(String::from));
    for c in &data.contacts {
        out += &csv_line(&[
            ids.of(&c.patient_id),
            c.kind.clone(),
            month(&c.occurred_on),
            day_of(&c.occurred_on).map(|d| fiscal_year(d).to_string()).unwrap_or_default(),
        ]);
    }
    write("specialist_care.csv", out)?;
    write("dictionary.md", DICTIONARY.to_string())?;
    // Every patient's outcome data left the system: on the record, under the operator.
    let ev = tsunagu_store::AuditEvent {
        actor_user: None,
        actor_org: None,
        action: "research.export".into(),
        outcome: tsunagu_store::Outcome::Allowed,
        patient: None,
        target: dir.display().to_string(),
        detail: format!("{{\"patients\":{}}}", data.patients.len()),
    };
    store.audit(&ev, &tsunagu_store::AuditCtx { ip: Some("cli".into()), request_id: None }).await?;
    Ok(Exported { patients: data.patients.len(), files })
}

const DICTIONARY: &str = "# tsunagu research export: data dictionary

De-identified outcome data. `pid` is a pseudonym valid within this export only: the
same patient has the same pid in every file of one export and a different one in the
next. No names, addresses, phone numbers, e-mail addresses or free text are exported;
birth dates are reduced to the year and other dates to the month or to day counts.

## patients.csv
- pid: pseudonym
- sex: male, female, other
- birth_year: year of birth
- registered_by: kind of the organization that registered the patient (hospital, clinic, ...)

## acp.csv (one row per recorded version of the patient's wishes)
- version: 1, 2, ... in the order recorded
- discussed_month: YYYY-MM of the conversation
- patient_present, family_present: true or false
- place_of_care, place_of_death: home, hospital, palliative_care_unit, care_facility, undecided
- resuscitation: attempt, dnar, undecided

## deaths.csv (the death record in force)
- death_month: YYYY-MM; death_fiscal_year: April-March year
- place: home, hospital, palliative_care_unit, care_facility
- wish_in_force: preferred place of death of the last conversation on or before the day of death (empty: none)
- died_where_wished: true, false, or empty (no wish, or undecided)
- days_from_wish_to_death: days between that conversation and the death

## assessments.ndjson (one JSON object per line)
- instrument, version: the instrument and the version answered
- day: days since the patient's first assessment on this instrument; month: YYYY-MM
- score: total (instruments scored by sum); ratings: item key -> value (free-text items left out)

## surveys.ndjson
- pid: the patient the survey is about (null for staff surveys)
- instrument, version, month, score, ratings: as above

## transitions.csv (hospital-to-home cases)
- opened_fiscal_year: fiscal year the discharge was decided
- conference_held: true or false
- days_to_discharge: days from the decision to discharge home (empty: not discharged)
- ended, end_reason: death, readmission, transfer, other

## specialist_care.csv (specialist palliative-care contacts; those entered in error left out)
- kind: palliative_team_consult, palliative_outpatient_visit, home_visit
- month: YYYY-MM; fiscal_year: the Japanese fiscal year (April to March)
";
