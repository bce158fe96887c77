//! Emergency (break-the-glass) access (DOMAIN.md §4): a signed-in professional outside
//! a patient's team opens that one chart after stating a reason. The person must name the
//! patient exactly (full name, in kana or kanji, and birth date): emergency access is for
//! the patient in front of you, not for browsing. Access is the person's own, lasts a
//! limited time, is flagged in every audit record it produces, and is shown to the team
//! and to the network operator.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use time::{Date, Duration};
use tsunagu_domain::policy::Principal;
use tsunagu_domain::{Invalid, PatientId, kana};

/// How long emergency access lasts.
pub const EMERGENCY_MINUTES: i64 = 120;

/// One emergency access, as the team and the operator see it.
#[derive(Debug, Clone, Serialize)]
pub struct EmergencyRow {
    pub patient_id: PatientId,
    pub user_name: String,
    pub org_name: String,
    pub reason: String,
    pub started_at: String,
    pub expires_at: String,
    pub active: bool,
}

/// The columns every emergency query selects (`e.patient_id, u.display_name, o.name,
/// e.reason, e.started_at, e.expires_at, active`).
fn emergency_from_row(r: &sqlx::any::AnyRow) -> Result<EmergencyRow> {
    Ok(EmergencyRow {
        patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
        user_name: r.try_get("display_name")?,
        org_name: r.try_get("name")?,
        reason: r.try_get("reason")?,
        started_at: r.try_get("started_at")?,
        expires_at: r.try_get("expires_at")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

/// An emergency access on one of the organization's patients, for its inbox.
#[derive(Debug, Clone, Serialize)]
pub struct EmergencyAlert {
    pub family_name: String,
    pub given_name: String,
    #[serde(flatten)]
    pub access: EmergencyRow,
}

impl Store {
    /// Emergency accesses of the last `days` days by people of other organizations to
    /// charts the principal's organization owns or is on the team of (and may read):
    /// the alert to the team. One audit record lists the patients shown.
    pub async fn emergency_alerts(&self, who: &Principal, days: i64, ctx: &AuditCtx) -> Result<Vec<EmergencyAlert>> {
        let since = ts(self.now() - Duration::days(days));
        let rows = sqlx::query(
            "SELECT e.patient_id, u.display_name, o.name, e.reason, e.started_at, e.expires_at, \
             CASE WHEN e.expires_at > $3 THEN 1 ELSE 0 END AS active, \
             p.family_name, p.given_name, p.owner_org_id, p.consent_status, \
             CASE WHEN EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member \
             FROM emergency_access e JOIN patients p ON p.id = e.patient_id \
             JOIN users u ON u.id = e.user_id JOIN organizations o ON o.id = e.org_id \
             WHERE e.started_at > $2 AND e.org_id <> $1 ORDER BY e.started_at DESC LIMIT 200",
        )
        .bind(who.org.to_string())
        .bind(&since)
        .bind(ts(self.now()))
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            if !crate::patients::row_allowed(r, who)? {
                continue;
            }
            out.push(EmergencyAlert {
                family_name: r.try_get("family_name")?,
                given_name: r.try_get("given_name")?,
                access: emergency_from_row(r)?,
            });
        }
        if !out.is_empty() {
            let shown = Self::distinct_patients(out.iter().map(|a| a.access.patient_id));
            self.audit_shown(who, "emergency.alerts", format!("{} alert(s)", out.len()), shown, ctx).await?;
        }
        Ok(out)
    }

    /// Open a chart in an emergency. The patient is the one whose full name (kana or
    /// kanji, spaces and widths ignored) and birth date match; none or several matching
    /// answer `NotFound`, like a patient that does not exist. Both outcomes are audited;
    /// the opening is flagged `emergency.open` with the reason.
    pub async fn break_glass(
        &self,
        who: &Principal,
        name: &str,
        birth_date: Date,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<(PatientId, String)> {
        let mut inv = Invalid::default();
        let reason = inv.merge(tsunagu_domain::validation::required_text("reason", reason, 1000));
        if kana::search_key(name).chars().count() < 2 {
            inv.push("name", "err-emergency-name");
        }
        inv.into_result()?;
        let reason = reason.unwrap_or_default();
        let key = kana::search_key(name);
        let rows =
            sqlx::query("SELECT id FROM patients WHERE birth_date = $1 AND (kana_key = $2 OR name_key = $2) LIMIT 2")
                .bind(birth_date.to_string())
                .bind(&key)
                .fetch_all(&self.read)
                .await?;
        let [only] = rows.as_slice() else {
            let ev = AuditEvent {
                actor_user: Some(who.user),
                actor_org: Some(who.org),
                action: "emergency.open".into(),
                outcome: Outcome::Refused,
                patient: None,
                target: String::new(),
                detail: format!("{} match(es)", rows.len()),
            };
            self.audit(&ev, ctx).await?;
            return Err(StoreError::NotFound);
        };
        let pid: PatientId = parse_uuid(&only.try_get::<String, _>("id")?)?;
        let now = self.now();
        let expires = ts(now + Duration::minutes(EMERGENCY_MINUTES));
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO emergency_access (patient_id, id, user_id, org_id, reason, started_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(pid.to_string())
        .bind(self.new_id())
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .bind(&reason)
        .bind(ts(now))
        .bind(&expires)
        .execute(&mut *tx)
        .await?;
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: "emergency.open".into(),
            outcome: Outcome::Allowed,
            patient: Some(pid),
            target: pid.to_string(),
            detail: serde_json::json!({ "reason": reason, "until": expires }).to_string(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok((pid, expires))
    }

    /// Until when the grant's holder reads this chart by emergency access, if they do.
    pub async fn emergency_until(&self, g: &ChartGrant) -> Result<Option<String>> {
        let r = sqlx::query(
            "SELECT MAX(expires_at) AS until FROM emergency_access WHERE patient_id = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(g.patient().to_string())
        .bind(g.principal().user.to_string())
        .bind(ts(self.now()))
        .fetch_one(&self.read)
        .await?;
        Ok(r.try_get("until")?)
    }

    /// The chart's emergency accesses, newest first: shown to everyone who reads it.
    pub async fn emergency_accesses(&self, g: &ChartGrant) -> Result<Vec<EmergencyRow>> {
        self.emergency_rows("WHERE e.patient_id = $2", Some(g.patient())).await
    }

    /// Every emergency access in the region, newest first, for the operator's review.
    /// Names no patient (the operator reads no charts): the patient's id only.
    pub async fn system_emergency_review(&self) -> Result<Vec<EmergencyRow>> {
        self.emergency_rows("", None).await
    }

    async fn emergency_rows(&self, filter: &str, patient: Option<PatientId>) -> Result<Vec<EmergencyRow>> {
        let now = ts(self.now());
        let sql = format!(
            "SELECT e.patient_id, u.display_name, o.name, e.reason, e.started_at, e.expires_at, \
             CASE WHEN e.expires_at > $1 THEN 1 ELSE 0 END AS active \
             FROM emergency_access e JOIN users u ON u.id = e.user_id JOIN organizations o ON o.id = e.org_id \
             {filter} ORDER BY e.started_at DESC LIMIT 500"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        if let Some(p) = patient {
            q = q.bind(p.to_string());
        }
        q.fetch_all(&self.read).await?.iter().map(emergency_from_row).collect()
    }
}
