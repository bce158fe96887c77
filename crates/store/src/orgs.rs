//! Organizations: registration, approval by the network operator, profile upkeep by
//! the organization's own administrator.

use crate::db::{Store, ts};
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use tsunagu_domain::OrgId;
use tsunagu_domain::org::{Capabilities, InstitutionCode, OrgKind, OrgStatus};
use tsunagu_domain::policy::Principal;

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub code: Option<InstitutionCode>,
    pub kind: OrgKind,
    pub name: String,
    pub name_kana: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub night_phone: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    pub capabilities: Capabilities,
}

/// What an organization's administrator may change about it.
#[derive(Debug, Clone)]
pub struct OrgUpdate {
    pub phone: Option<String>,
    pub night_phone: Option<String>,
    pub address: Option<String>,
    /// (latitude, longitude), for distances in the resource directory.
    pub location: Option<(f64, f64)>,
    /// Where the organization visits, in its own words (e.g. "市内全域、車で30分以内").
    pub visiting_area: String,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrgRow {
    pub id: OrgId,
    pub code: Option<String>,
    pub kind: OrgKind,
    pub name: String,
    pub name_kana: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub night_phone: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub capabilities: Capabilities,
    pub status: OrgStatus,
    pub visiting_area: String,
    /// When its administrator last changed the profile.
    pub updated_at: String,
}

const ORG_COLUMNS: &str = "id, code, kind, name, name_kana, postal_code, address, phone, night_phone, lat, lon, \
     home_visits, support_24h, palliative_care, opioid_dispensing, accepts_new_patients, status";
/// What a read of an organization selects: its columns, plus the profile's visiting area and
/// when it was last changed (set by updates, not on insert).
const ORG_SELECT: &str = "id, code, kind, name, name_kana, postal_code, address, phone, night_phone, lat, lon, \
     home_visits, support_24h, palliative_care, opioid_dispensing, accepts_new_patients, status, visiting_area, updated_at";

pub(crate) fn parse_uuid<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("bad id {s:?}")))
}

impl OrgRow {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        let kind: String = r.try_get("kind")?;
        let status: String = r.try_get("status")?;
        let flag = |c: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(c)? != 0) };
        Ok(Self {
            id: parse_uuid(&r.try_get::<String, _>("id")?)?,
            code: r.try_get("code")?,
            kind: OrgKind::parse(&kind).map_err(|_| StoreError::Corrupt(format!("org kind {kind}")))?,
            name: r.try_get("name")?,
            name_kana: r.try_get("name_kana")?,
            postal_code: r.try_get("postal_code")?,
            address: r.try_get("address")?,
            phone: r.try_get("phone")?,
            night_phone: r.try_get("night_phone")?,
            lat: r.try_get("lat")?,
            lon: r.try_get("lon")?,
            capabilities: Capabilities {
                home_visits: flag("home_visits")?,
                support_24h: flag("support_24h")?,
                palliative_care: flag("palliative_care")?,
                opioid_dispensing: flag("opioid_dispensing")?,
                accepts_new_patients: flag("accepts_new_patients")?,
            },
            status: OrgStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("org status {status}")))?,
            visiting_area: r.try_get("visiting_area")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub fn is_approved(&self) -> bool {
        self.status == OrgStatus::Approved
    }
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

impl Store {
    /// Register an organization. From the CLI and the operator's page; `status` is
    /// Approved when the operator registers it directly.
    pub async fn create_org(
        &self,
        o: &NewOrg,
        status: OrgStatus,
        by: Option<&Principal>,
        ctx: &AuditCtx,
    ) -> Result<OrgId> {
        let id = self.new_id();
        let now = ts(self.now());
        let (lat, lon) = match o.coordinates {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        let mut tx = self.write.begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO organizations ({ORG_COLUMNS}, created_at, updated_at, approved_at, approved_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19, $20)"
        )))
        .bind(&id)
        .bind(o.code.as_ref().map(|c| c.as_str().to_string()))
        .bind(o.kind.as_str())
        .bind(&o.name)
        .bind(&o.name_kana)
        .bind(&o.postal_code)
        .bind(&o.address)
        .bind(&o.phone)
        .bind(&o.night_phone)
        .bind(lat)
        .bind(lon)
        .bind(b(o.capabilities.home_visits))
        .bind(b(o.capabilities.support_24h))
        .bind(b(o.capabilities.palliative_care))
        .bind(b(o.capabilities.opioid_dispensing))
        .bind(b(o.capabilities.accepts_new_patients))
        .bind(status.as_str())
        .bind(&now)
        .bind((status == OrgStatus::Approved).then(|| now.clone()))
        .bind(by.map(|p| p.user.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        let ev = AuditEvent {
            actor_user: by.map(|p| p.user),
            actor_org: by.map(|p| p.org),
            action: "org.create".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: id.clone(),
            detail: status.as_str().into(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        parse_uuid(&id)
    }

    pub async fn get_org(&self, id: OrgId) -> Result<OrgRow> {
        let r = sqlx::query(AssertSqlSafe(format!("SELECT {ORG_SELECT} FROM organizations WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        OrgRow::from_row(&r)
    }

    pub async fn get_org_by_code(&self, code: &InstitutionCode) -> Result<OrgRow> {
        let r = sqlx::query(AssertSqlSafe(format!("SELECT {ORG_SELECT} FROM organizations WHERE code = $1")))
            .bind(code.as_str())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        OrgRow::from_row(&r)
    }

    /// All organizations, approved first, by kind and kana name (the directory order).
    pub async fn list_orgs(&self) -> Result<Vec<OrgRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ORG_SELECT} FROM organizations ORDER BY CASE status WHEN 'approved' THEN 0 ELSE 1 END, kind, name_kana, name"
        )))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(OrgRow::from_row).collect()
    }

    pub async fn count_orgs(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM organizations").fetch_one(&self.read).await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// The network operator approves (or suspends) an organization.
    pub async fn set_org_status(&self, who: &Principal, org: OrgId, status: OrgStatus, ctx: &AuditCtx) -> Result<()> {
        if !who.operator {
            return Err(StoreError::Forbidden);
        }
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "UPDATE organizations SET status = $1, approved_by = $2, approved_at = $3, updated_at = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(who.user.to_string())
        .bind(&now)
        .bind(org.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: "org.status".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: org.to_string(),
            detail: status.as_str().into(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An organization's administrator keeps its contact details and capabilities.
    pub async fn update_org(&self, who: &Principal, u: &OrgUpdate, ctx: &AuditCtx) -> Result<()> {
        if !tsunagu_domain::policy::may_administer_org(who, who.org) {
            return Err(StoreError::Forbidden);
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "UPDATE organizations SET phone = $1, night_phone = $2, address = $3, home_visits = $4, support_24h = $5, \
             palliative_care = $6, opioid_dispensing = $7, accepts_new_patients = $8, updated_at = $9, lat = $11, lon = $12, \
             visiting_area = $13 WHERE id = $10",
        )
        .bind(&u.phone)
        .bind(&u.night_phone)
        .bind(&u.address)
        .bind(b(u.capabilities.home_visits))
        .bind(b(u.capabilities.support_24h))
        .bind(b(u.capabilities.palliative_care))
        .bind(b(u.capabilities.opioid_dispensing))
        .bind(b(u.capabilities.accepts_new_patients))
        .bind(ts(self.now()))
        .bind(who.org.to_string())
        .bind(u.location.map(|l| l.0))
        .bind(u.location.map(|l| l.1))
        .bind(u.visiting_area.trim())
        .execute(&mut *tx)
        .await?;
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: "org.update".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: who.org.to_string(),
            detail: String::new(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }
}
