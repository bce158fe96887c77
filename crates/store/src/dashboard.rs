//! The region's outcome figures for one fiscal year (DOMAIN.md §8): patients registered
//! and shared, deaths by place and how many died where they last wished, symptom scores
//! at the first assessment and about a week later, survey results, and the
//! hospital-to-home figures. For the whole region (the operator) or for the patients an
//! organization has cared for. Counts only: no patient is named.

use crate::db::{Store, ts};
use crate::{Result, StoreError, TransitionStats};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;
use tsunagu_domain::OrgId;
use tsunagu_domain::acp::{AcpRecord, DeathRecord, Place, died_where_wished};
use tsunagu_domain::programme::{ActivityKind, ContactKind, Pillar};
use tsunagu_domain::transition::fiscal_year_range;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SymptomChange {
    pub instrument_id: String,
    /// Patients with a first assessment in the year and another 5 to 9 days later.
    pub pairs: i64,
    pub mean_first: f64,
    pub mean_week: f64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SurveyResult {
    pub instrument_id: String,
    pub responses: i64,
    pub mean_score: f64,
}

/// Specialist palliative care of one kind in the year: contacts, and patients seen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContactFigure {
    pub kind: ContactKind,
    pub contacts: i64,
    pub patients: i64,
}

/// The programme's activities under one pillar in the year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PillarFigure {
    pub pillar: Pillar,
    pub sessions: i64,
    pub meetings: i64,
    pub attendees: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OutcomeFigures {
    pub fiscal_year: i32,
    pub patients_registered: i64,
    /// Of those, with consent to share and more than one organization on the team.
    pub patients_shared: i64,
    /// Palliative-team consults, palliative outpatient visits, home visits.
    pub specialist_care: Vec<ContactFigure>,
    /// Patients with any of those in the year.
    pub patients_with_specialist_care: i64,
    pub deaths_by_place: Vec<(Place, i64)>,
    /// Deaths with a decided wish recorded before death, and how many were at that place.
    pub deaths_compared: i64,
    pub deaths_where_wished: i64,
    pub symptoms: Vec<SymptomChange>,
    pub surveys: Vec<SurveyResult>,
    pub transitions: TransitionStats,
    /// Sessions and meetings the region (or the organization) held, per pillar.
    pub programme: Vec<PillarFigure>,
}

impl Store {
    pub async fn outcome_figures(&self, org: Option<OrgId>, fy: i32) -> Result<OutcomeFigures> {
        let (start, end) = fiscal_year_range(fy);
        let jst = time::macros::offset!(+9);
        let (t0, t1) = (ts(start.midnight().assume_offset(jst)), ts(end.midnight().assume_offset(jst)));
        let org_s = org.map(|o| o.to_string()).unwrap_or_default();
        // The patients in scope: all, or those the organization owns or has been on the team of.
        let scope = "($1 = '' OR p.owner_org_id = $1 OR EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1))";

        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n, SUM(CASE WHEN p.consent_status = 'given' AND (SELECT COUNT(DISTINCT t.org_id) FROM care_team t \
             WHERE t.patient_id = p.id AND t.ended_at IS NULL) > 1 THEN 1 ELSE 0 END) AS shared \
             FROM patients p WHERE {scope} AND p.created_at >= $2 AND p.created_at < $3"
        )))
        .bind(&org_s)
        .bind(&t0)
        .bind(&t1)
        .fetch_one(&self.read)
        .await?;
        let patients_registered: i64 = r.try_get("n")?;
        let patients_shared: i64 = r.try_get::<Option<i64>, _>("shared")?.unwrap_or(0);

        // Specialist palliative care: contacts dated in the year, those in error left out.
        let contacts = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.kind, c.patient_id FROM care_contacts c JOIN patients p ON p.id = c.patient_id WHERE {scope} \
             AND c.occurred_on >= $2 AND c.occurred_on < $3 AND NOT EXISTS (SELECT 1 FROM care_contact_marks m \
             WHERE m.patient_id = c.patient_id AND m.contact_id = c.id)"
        )))
        .bind(&org_s)
        .bind(start.to_string())
        .bind(end.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut seen: HashMap<ContactKind, (i64, std::collections::HashSet<String>)> = HashMap::new();
        let mut anyone = std::collections::HashSet::new();
        for c in &contacts {
            let kind = ContactKind::parse(&c.try_get::<String, _>("kind")?)
                .map_err(|_| StoreError::Corrupt("contact kind".into()))?;
            let pid: String = c.try_get("patient_id")?;
            let e = seen.entry(kind).or_default();
            e.0 += 1;
            e.1.insert(pid.clone());
            anyone.insert(pid);
        }
        let specialist_care = ContactKind::ALL
            .into_iter()
            .map(|kind| {
                let (contacts, patients) = seen.get(&kind).map(|(n, p)| (*n, p.len() as i64)).unwrap_or((0, 0));
                ContactFigure { kind, contacts, patients }
            })
            .collect();

        // Deaths: each patient's death record in force, dated in the year.
        let deaths = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.patient_id, d.body FROM death_records d JOIN patients p ON p.id = d.patient_id WHERE {scope} \
             AND d.version = (SELECT MAX(x.version) FROM death_records x WHERE x.patient_id = d.patient_id)"
        )))
        .bind(&org_s)
        .fetch_all(&self.read)
        .await?;
        let mut by_place: HashMap<Place, i64> = HashMap::new();
        let (mut compared, mut matched) = (0, 0);
        for d in &deaths {
            let body: String = d.try_get("body")?;
            let death: DeathRecord =
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("death: {e}")))?;
            if death.died_on < start || death.died_on >= end {
                continue;
            }
            *by_place.entry(death.place).or_default() += 1;
            let pid: String = d.try_get("patient_id")?;
            let versions: Vec<AcpRecord> =
                sqlx::query("SELECT body FROM acp_versions WHERE patient_id = $1 ORDER BY version")
                    .bind(&pid)
                    .fetch_all(&self.read)
                    .await?
                    .iter()
                    .map(|r| {
                        let b: String = r.try_get("body")?;
                        serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("acp: {e}")))
                    })
                    .collect::<Result<_>>()?;
            if let Some(m) = died_where_wished(&versions, &death) {
                compared += 1;
                matched += i64::from(m);
            }
        }
        let deaths_by_place = Place::ALL
            .into_iter()
            .filter(|p| *p != Place::Undecided)
            .map(|p| (p, by_place.get(&p).copied().unwrap_or(0)))
            .collect();

        // Symptoms: first assessment in the year, and the one 5-9 days after it.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.patient_id, a.instrument_id, a.assessed_at, a.score FROM symptom_assessments a JOIN patients p ON p.id = a.patient_id \
             WHERE {scope} AND a.score IS NOT NULL AND NOT EXISTS (SELECT 1 FROM assessment_marks m \
             WHERE m.patient_id = a.patient_id AND m.assessment_id = a.id) ORDER BY a.patient_id, a.instrument_id, a.assessed_at, a.id"
        )))
        .bind(&org_s)
        .fetch_all(&self.read)
        .await?;
        let mut series: HashMap<(String, String), Vec<(time::Date, i64)>> = HashMap::new();
        for r in &rows {
            let at: String = r.try_get("assessed_at")?;
            let Some(day) = at.get(..10).and_then(tsunagu_domain::patient::parse_iso_date) else { continue };
            series
                .entry((r.try_get("patient_id")?, r.try_get("instrument_id")?))
                .or_default()
                .push((day, r.try_get::<Option<i64>, _>("score")?.unwrap_or(0)));
        }
        let mut per_instrument: HashMap<String, (i64, i64, i64)> = HashMap::new();
        for ((_, instrument), s) in &series {
            let Some(&(first_day, first)) = s.first() else { continue };
            if first_day < start || first_day >= end {
                continue;
            }
            if let Some(&(_, later)) = s.iter().find(|(d, _)| (5..=9).contains(&(*d - first_day).whole_days())) {
                let e = per_instrument.entry(instrument.clone()).or_default();
                *e = (e.0 + 1, e.1 + first, e.2 + later);
            }
        }
        let mut symptoms: Vec<SymptomChange> = per_instrument
            .into_iter()
            .map(|(instrument_id, (n, a, b))| SymptomChange {
                instrument_id,
                pairs: n,
                mean_first: a as f64 / n.max(1) as f64,
                mean_week: b as f64 / n.max(1) as f64,
            })
            .collect();
        symptoms.sort_by(|a, b| a.instrument_id.cmp(&b.instrument_id));

        let surveys = sqlx::query(
            "SELECT r.instrument_id, COUNT(*) AS n, AVG(CAST(r.score AS DOUBLE PRECISION)) AS mean FROM survey_responses r \
             JOIN survey_invitations i ON i.id = r.invitation_id LEFT JOIN patients p ON p.id = i.patient_id \
             WHERE r.submitted_at >= $2 AND r.submitted_at < $3 AND ($1 = '' OR i.created_org = $1) \
             GROUP BY r.instrument_id ORDER BY r.instrument_id",
        )
        .bind(&org_s)
        .bind(&t0)
        .bind(&t1)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(SurveyResult {
                instrument_id: r.try_get("instrument_id")?,
                responses: r.try_get("n")?,
                mean_score: r.try_get::<Option<f64>, _>("mean")?.unwrap_or(0.0),
            })
        })
        .collect::<Result<Vec<_>>>()?;

        Ok(OutcomeFigures {
            fiscal_year: fy,
            patients_registered,
            patients_shared,
            specialist_care,
            patients_with_specialist_care: anyone.len() as i64,
            deaths_by_place,
            deaths_compared: compared,
            deaths_where_wished: matched,
            symptoms,
            surveys,
            transitions: self.transition_stats(org, fy).await?,
            programme: self.programme_figures(org, fy).await?,
        })
    }

    /// Activities held in the year per pillar (not in error): by anyone for the region,
    /// or organized by the organization.
    async fn programme_figures(&self, org: Option<OrgId>, fy: i32) -> Result<Vec<PillarFigure>> {
        let mut figures: Vec<PillarFigure> = Pillar::ALL
            .into_iter()
            .map(|pillar| PillarFigure { pillar, sessions: 0, meetings: 0, attendees: 0 })
            .collect();
        for a in self.activities(fy).await? {
            if a.in_error.is_some() || org.is_some_and(|o| o != a.organizer_org) {
                continue;
            }
            if let Some(f) = figures.iter_mut().find(|f| f.pillar == a.pillar) {
                match a.kind {
                    ActivityKind::Session => f.sessions += 1,
                    ActivityKind::Meeting => f.meetings += 1,
                }
                f.attendees += a.attendees;
            }
        }
        Ok(figures)
    }
}
