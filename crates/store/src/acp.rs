//! Advance care planning versions and the death record of a patient, through a
//! [`ChartGrant`]: every version kept with who recorded it, for which organization and
//! when; a change made from an old version is refused rather than overwriting someone
//! else's; a death record is corrected by a new version with a reason.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use tsunagu_domain::acp::{AcpRecord, DeathRecord, died_where_wished};
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{OrgId, UserId};

const READS: &[ChartAction] = &[ChartAction::Read, ChartAction::Write];

/// One version as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded<T> {
    pub version: i64,
    pub body: T,
    pub recorded_at: String,
    pub recorded_by: UserId,
    pub recorded_by_name: String,
    pub recorded_org: OrgId,
    pub recorded_org_name: String,
    /// Death records only: why this version replaced the one before.
    pub reason: String,
}

/// A patient's wishes over time and, if they have died, where, and whether it was where
/// they wished.
#[derive(Debug, Clone, Serialize)]
pub struct AcpView {
    /// Oldest first.
    pub versions: Vec<Recorded<AcpRecord>>,
    pub death: Option<Recorded<DeathRecord>>,
    pub died_where_wished: Option<bool>,
}

impl AcpView {
    pub fn current(&self) -> Option<&Recorded<AcpRecord>> {
        self.versions.last()
    }
}

fn recorded<T: serde::de::DeserializeOwned>(r: &AnyRow) -> Result<Recorded<T>> {
    let body: String = r.try_get("body")?;
    Ok(Recorded {
        version: r.try_get("version")?,
        body: serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("acp body: {e}")))?,
        recorded_at: r.try_get("recorded_at")?,
        recorded_by: parse_uuid(&r.try_get::<String, _>("recorded_by")?)?,
        recorded_by_name: r.try_get("by_name")?,
        recorded_org: parse_uuid(&r.try_get::<String, _>("recorded_org")?)?,
        recorded_org_name: r.try_get("org_name")?,
        reason: r.try_get::<Option<String>, _>("reason")?.unwrap_or_default(),
    })
}

impl Store {
    pub async fn acp(&self, g: &ChartGrant) -> Result<AcpView> {
        g.require(READS)?;
        let pid = g.patient().to_string();
        let versions = sqlx::query(
            "SELECT a.version, a.body, a.recorded_at, a.recorded_by, a.recorded_org, NULL AS reason, \
             u.display_name AS by_name, o.name AS org_name FROM acp_versions a JOIN users u ON u.id = a.recorded_by \
             JOIN organizations o ON o.id = a.recorded_org WHERE a.patient_id = $1 ORDER BY a.version",
        )
        .bind(&pid)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(recorded::<AcpRecord>)
        .collect::<Result<Vec<_>>>()?;
        let death = sqlx::query(
            "SELECT d.version, d.body, d.recorded_at, d.recorded_by, d.recorded_org, d.reason, \
             u.display_name AS by_name, o.name AS org_name FROM death_records d JOIN users u ON u.id = d.recorded_by \
             JOIN organizations o ON o.id = d.recorded_org WHERE d.patient_id = $1 ORDER BY d.version DESC LIMIT 1",
        )
        .bind(&pid)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(recorded::<DeathRecord>)
        .transpose()?;
        let bodies: Vec<AcpRecord> = versions.iter().map(|v| v.body.clone()).collect();
        let matched = death.as_ref().and_then(|d| died_where_wished(&bodies, &d.body));
        Ok(AcpView { versions, death, died_where_wished: matched })
    }

    /// Record the wishes as a new version. `expected_version` is the version the
    /// recorder started from (0 for the first): a change based on an old one is refused.
    pub async fn record_acp(
        &self,
        g: &ChartGrant,
        record: AcpRecord,
        expected_version: i64,
        ctx: &AuditCtx,
    ) -> Result<i64> {
        g.require(&[ChartAction::Write])?;
        let record = record.check(self.clock().today_jst()).map_err(StoreError::Invalid)?;
        let current = self.acp(g).await?.versions.last().map(|v| v.version).unwrap_or(0);
        if current != expected_version {
            return Err(StoreError::Conflict { field: "version", key: "err-stale-version" });
        }
        let version = current + 1;
        let body = serde_json::to_string(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO acp_versions (patient_id, version, body, recorded_at, recorded_by, recorded_org) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(g.patient().to_string())
        .bind(version)
        .bind(&body)
        .bind(ts(self.now()))
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "version", key: "err-stale-version" },
            other => other,
        })?;
        let detail = format!(
            "{{\"version\":{version},\"place_of_death\":\"{}\",\"resuscitation\":\"{}\"}}",
            record.preferred_place_of_death.as_str(),
            record.resuscitation.as_str()
        );
        let ev = self.write_event(g, "acp.record", version.to_string(), detail);
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Record the death, or correct the record (a new version, with the reason).
    pub async fn record_death(
        &self,
        g: &ChartGrant,
        record: DeathRecord,
        expected_version: i64,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<i64> {
        g.require(&[ChartAction::Write])?;
        let record = record.check(self.clock().today_jst()).map_err(StoreError::Invalid)?;
        let current = self.acp(g).await?.death.map(|d| d.version).unwrap_or(0);
        if current != expected_version {
            return Err(StoreError::Conflict { field: "version", key: "err-stale-version" });
        }
        if current > 0 && reason.trim().is_empty() {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("reason", "err-correction-reason")));
        }
        let version = current + 1;
        let body = serde_json::to_string(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO death_records (patient_id, version, body, reason, recorded_at, recorded_by, recorded_org) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(g.patient().to_string())
        .bind(version)
        .bind(&body)
        .bind(reason.trim())
        .bind(ts(self.now()))
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "version", key: "err-stale-version" },
            other => other,
        })?;
        let ev = self.write_event(
            g,
            "death.record",
            version.to_string(),
            format!("{{\"version\":{version},\"place\":\"{}\"}}", record.place.as_str()),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(version)
    }
}
