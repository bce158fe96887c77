//! Symptom assessments on a chart: ratings on an instrument (a patient's own, or a
//! professional's), kept with the instrument version they answered and the time of the
//! assessment, through a [`ChartGrant`]. Append-only.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use time::PrimitiveDateTime;
use tsunagu_domain::UserId;
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::questionnaire::{Answers, Instrument, Rater};

#[derive(Debug, Clone, Serialize)]
pub struct AssessmentRow {
    pub id: String,
    pub instrument_id: String,
    pub instrument_version: i64,
    pub answers: Answers,
    pub score: Option<i64>,
    /// Japan time, `YYYY-MM-DDTHH:MM`.
    pub assessed_at: String,
    pub recorded_by: UserId,
    pub recorded_by_name: String,
    pub recorded_org_name: String,
    /// The reason, when it was marked as entered in error: shown struck through, left
    /// out of the trend and the region's figures.
    pub in_error: Option<String>,
}

impl Store {
    /// Record an assessment on a patient- or staff-rated instrument. `assessed_at` is
    /// when it was made, in Japan time, not in the future.
    pub async fn record_assessment(
        &self,
        g: &ChartGrant,
        instrument: &Instrument,
        answers: &Answers,
        assessed_at: PrimitiveDateTime,
        ctx: &AuditCtx,
    ) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        if !matches!(instrument.rater, Rater::Patient | Rater::Staff) {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("instrument", "err-invalid-choice")));
        }
        let now_jst = self.now().to_offset(time::macros::offset!(+9));
        if assessed_at > PrimitiveDateTime::new(now_jst.date(), now_jst.time()) {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("assessed_at", "err-date-future")));
        }
        let id = self.new_id();
        let at = crate::db::minute_text(assessed_at);
        let body = serde_json::to_string(answers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO symptom_assessments (patient_id, id, instrument_id, instrument_version, answers, score, assessed_at, \
             recorded_at, recorded_by, recorded_org) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(&instrument.id)
        .bind(instrument.version)
        .bind(body)
        .bind(instrument.score(answers))
        .bind(&at)
        .bind(ts(self.now()))
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .execute(&mut *tx)
        .await?;
        let ev = self.write_event(
            g,
            "assessment.record",
            id.clone(),
            format!("{{\"instrument\":\"{}\",\"version\":{}}}", instrument.id, instrument.version),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's assessments, oldest first.
    pub async fn assessments(&self, g: &ChartGrant) -> Result<Vec<AssessmentRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(
            "SELECT a.id, a.instrument_id, a.instrument_version, a.answers, a.score, a.assessed_at, a.recorded_by, \
             u.display_name AS by_name, o.name AS org_name, m.reason FROM symptom_assessments a \
             JOIN users u ON u.id = a.recorded_by JOIN organizations o ON o.id = a.recorded_org \
             LEFT JOIN assessment_marks m ON m.patient_id = a.patient_id AND m.assessment_id = a.id WHERE a.patient_id = $1 ORDER BY a.assessed_at, a.recorded_at, a.id",
        )
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let answers: String = r.try_get("answers")?;
                Ok(AssessmentRow {
                    id: r.try_get("id")?,
                    instrument_id: r.try_get("instrument_id")?,
                    instrument_version: r.try_get("instrument_version")?,
                    answers: serde_json::from_str(&answers)
                        .map_err(|e| StoreError::Corrupt(format!("answers: {e}")))?,
                    score: r.try_get("score")?,
                    assessed_at: r.try_get("assessed_at")?,
                    recorded_by: parse_uuid(&r.try_get::<String, _>("recorded_by")?)?,
                    recorded_by_name: r.try_get("by_name")?,
                    recorded_org_name: r.try_get("org_name")?,
                    in_error: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Mark an assessment as entered in error, with a reason.
    pub async fn mark_assessment(&self, g: &ChartGrant, id: &str, reason: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let a = self.assessments(g).await?.into_iter().find(|a| a.id == id).ok_or(StoreError::NotFound)?;
        self.insert_mark(g, &crate::programme::ASSESSMENT_MARK, id, a.in_error.is_some(), reason, ctx).await
    }
}
