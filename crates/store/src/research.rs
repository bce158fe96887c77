//! What the research export reads (DOMAIN.md §8): the outcome data as coded values only,
//! keyed by the patient's internal id (which the export replaces by a pseudonym). No
//! free text is read at all, so no name typed into a note can leak: only codes, numbers
//! and dates, which the export coarsens. A system path, for the operator's CLI.

use crate::db::Store;
use crate::{Result, StoreError};
use sqlx::Row;
use tsunagu_domain::acp::{AcpRecord, DeathRecord};
use tsunagu_domain::questionnaire::{Answer, Answers};

pub struct ResearchPatient {
    pub patient_id: String,
    pub sex: String,
    pub birth_date: String,
    pub owner_kind: String,
}

pub struct ResearchAcp {
    pub patient_id: String,
    pub version: i64,
    pub record: AcpRecord,
}

pub struct ResearchDeath {
    pub patient_id: String,
    pub record: DeathRecord,
}

pub struct ResearchAssessment {
    pub patient_id: String,
    pub instrument_id: String,
    pub instrument_version: i64,
    pub assessed_at: String,
    pub score: Option<i64>,
    /// Ratings only; free-text answers are left out.
    pub ratings: Vec<(String, i64)>,
}

pub struct ResearchSurvey {
    pub patient_id: Option<String>,
    pub instrument_id: String,
    pub instrument_version: i64,
    pub submitted_at: String,
    pub score: Option<i64>,
    pub ratings: Vec<(String, i64)>,
}

pub struct ResearchTransition {
    pub patient_id: String,
    pub opened_at: String,
    pub events: Vec<(String, String, String)>,
}

/// A specialist palliative-care contact (not in error): kind and day.
pub struct ResearchContact {
    pub patient_id: String,
    pub kind: String,
    pub occurred_on: String,
}

pub struct ResearchData {
    pub patients: Vec<ResearchPatient>,
    pub acp: Vec<ResearchAcp>,
    pub deaths: Vec<ResearchDeath>,
    pub assessments: Vec<ResearchAssessment>,
    pub surveys: Vec<ResearchSurvey>,
    pub transitions: Vec<ResearchTransition>,
    pub contacts: Vec<ResearchContact>,
}

/// The rating answers of a row's `answers` column; free-text answers are left out.
fn ratings_in(r: &sqlx::any::AnyRow) -> Result<Vec<(String, i64)>> {
    let answers: String = r.try_get("answers")?;
    let a: Answers = serde_json::from_str(&answers).map_err(corrupt)?;
    Ok(a.iter()
        .filter_map(|(k, v)| match v {
            Answer::Rating(n) => Some((k.clone(), *n)),
            Answer::Text(_) => None,
        })
        .collect())
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("research export: {e}"))
}

impl Store {
    pub async fn system_research_data(&self) -> Result<ResearchData> {
        let patients = sqlx::query(
            "SELECT p.id, p.sex, p.birth_date, o.kind FROM patients p JOIN organizations o ON o.id = p.owner_org_id ORDER BY p.created_at, p.id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(ResearchPatient {
                patient_id: r.try_get("id")?,
                sex: r.try_get("sex")?,
                birth_date: r.try_get("birth_date")?,
                owner_kind: r.try_get("kind")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let acp = sqlx::query("SELECT patient_id, version, body FROM acp_versions ORDER BY patient_id, version")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                Ok(ResearchAcp {
                    patient_id: r.try_get("patient_id")?,
                    version: r.try_get("version")?,
                    record: serde_json::from_str(&body).map_err(corrupt)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The death record in force: each patient's latest version.
        let deaths = sqlx::query(
            "SELECT d.patient_id, d.body FROM death_records d WHERE d.version = \
             (SELECT MAX(x.version) FROM death_records x WHERE x.patient_id = d.patient_id) ORDER BY d.patient_id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let body: String = r.try_get("body")?;
            Ok(ResearchDeath {
                patient_id: r.try_get("patient_id")?,
                record: serde_json::from_str(&body).map_err(corrupt)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let assessments = sqlx::query(
            "SELECT a.patient_id, a.instrument_id, a.instrument_version, a.answers, a.score, a.assessed_at \
             FROM symptom_assessments a WHERE NOT EXISTS (SELECT 1 FROM assessment_marks m \
             WHERE m.patient_id = a.patient_id AND m.assessment_id = a.id) ORDER BY a.patient_id, a.assessed_at, a.id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(ResearchAssessment {
                patient_id: r.try_get("patient_id")?,
                instrument_id: r.try_get("instrument_id")?,
                instrument_version: r.try_get("instrument_version")?,
                assessed_at: r.try_get("assessed_at")?,
                score: r.try_get("score")?,
                ratings: ratings_in(r)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let surveys = sqlx::query(
            "SELECT i.patient_id, r.instrument_id, r.instrument_version, r.answers, r.score, r.submitted_at \
             FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id ORDER BY r.submitted_at, r.invitation_id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(ResearchSurvey {
                patient_id: r.try_get("patient_id")?,
                instrument_id: r.try_get("instrument_id")?,
                instrument_version: r.try_get("instrument_version")?,
                submitted_at: r.try_get("submitted_at")?,
                score: r.try_get("score")?,
                ratings: ratings_in(r)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let cases = sqlx::query("SELECT patient_id, id, created_at FROM transition_cases ORDER BY created_at, id")
            .fetch_all(&self.read)
            .await?;
        let mut transitions = Vec::new();
        for c in &cases {
            let pid: String = c.try_get("patient_id")?;
            let id: String = c.try_get("id")?;
            // Event kinds, stages and, for an end, its coded reason: never free text.
            let events = sqlx::query(
                "SELECT kind, stage_after, at, detail FROM transition_events WHERE patient_id = $1 AND case_id = $2 ORDER BY seq",
            )
            .bind(&pid)
            .bind(&id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|e| {
                let kind: String = e.try_get("kind")?;
                let at: String = e.try_get("at")?;
                let detail: String = if kind == "end" { e.try_get("detail")? } else { String::new() };
                Ok((kind, at, detail))
            })
            .collect::<Result<Vec<_>>>()?;
            transitions.push(ResearchTransition { patient_id: pid, opened_at: c.try_get("created_at")?, events });
        }
        let contacts = sqlx::query(
            "SELECT c.patient_id, c.kind, c.occurred_on FROM care_contacts c WHERE NOT EXISTS (SELECT 1 \
             FROM care_contact_marks m WHERE m.patient_id = c.patient_id AND m.contact_id = c.id) \
             ORDER BY c.patient_id, c.occurred_on, c.id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(ResearchContact {
                patient_id: r.try_get("patient_id")?,
                kind: r.try_get("kind")?,
                occurred_on: r.try_get("occurred_on")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(ResearchData { patients, acp, deaths, assessments, surveys, transitions, contacts })
    }
}
