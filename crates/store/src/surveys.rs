//! Instruments (questionnaire definitions) and surveys answered through a one-time link.
//! The link's token is stored only as a hash. An answer is accepted once: the response
//! row's key is the invitation, so a second submission, even racing the first, fails in
//! the database. Expired and revoked invitations accept nothing.

use crate::db::{Store, parse_ts, ts};
use crate::patients::ChartGrant;
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use tsunagu_domain::PatientId;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::questionnaire::{Answers, Instrument, Rater};

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Open,
    Answered,
    Expired,
    Revoked,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Open => "open",
            InvitationStatus::Answered => "answered",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InvitationRow {
    pub id: String,
    pub instrument_id: String,
    pub instrument_version: i64,
    pub patient_id: Option<PatientId>,
    pub recipient: String,
    pub created_by_name: String,
    pub created_org_name: String,
    pub created_at: String,
    pub expires_at: String,
    pub status: InvitationStatus,
    pub answered_at: Option<String>,
    pub score: Option<i64>,
}

const INVITATION_SELECT: &str = "SELECT i.id, i.instrument_id, i.instrument_version, i.patient_id, i.recipient, \
     i.created_at, i.expires_at, u.display_name AS created_by_name, o.name AS created_org_name, \
     r.submitted_at, r.score, v.revoked_at \
     FROM survey_invitations i JOIN users u ON u.id = i.created_by JOIN organizations o ON o.id = i.created_org \
     LEFT JOIN survey_responses r ON r.invitation_id = i.id LEFT JOIN survey_revocations v ON v.invitation_id = i.id";

fn invitation_from_row(r: &AnyRow, now: OffsetDateTime) -> Result<InvitationRow> {
    let expires_at: String = r.try_get("expires_at")?;
    let answered_at: Option<String> = r.try_get("submitted_at")?;
    let revoked: Option<String> = r.try_get("revoked_at")?;
    let status = if answered_at.is_some() {
        InvitationStatus::Answered
    } else if revoked.is_some() {
        InvitationStatus::Revoked
    } else if parse_ts(&expires_at)? <= now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Open
    };
    Ok(InvitationRow {
        id: r.try_get("id")?,
        instrument_id: r.try_get("instrument_id")?,
        instrument_version: r.try_get("instrument_version")?,
        patient_id: r.try_get::<Option<String>, _>("patient_id")?.map(|s| crate::orgs::parse_uuid(&s)).transpose()?,
        recipient: r.try_get("recipient")?,
        created_by_name: r.try_get("created_by_name")?,
        created_org_name: r.try_get("created_org_name")?,
        created_at: r.try_get("created_at")?,
        expires_at,
        status,
        answered_at,
        score: r.try_get("score")?,
    })
}

/// A new invitation: who sends it, about which patient (none for a professional's
/// survey), on which instrument, to whom, for how long, and the hash of its secret.
struct Invite<'a> {
    by: &'a Principal,
    patient: Option<PatientId>,
    instrument: Instrument,
    recipient: &'a str,
    valid_days: i64,
    token_hash: &'a str,
}

/// What the one-time link opens: the questionnaire and who sent it (no patient data).
#[derive(Debug, Clone)]
pub struct SurveyOpen {
    pub invitation: InvitationRow,
    pub instrument: Instrument,
}

impl Store {
    /// Load an instrument definition. The same id and version twice is accepted only
    /// with the same definition (returns false: nothing new); a changed definition
    /// needs a new version, so old answers keep their meaning.
    pub async fn load_instrument(&self, i: &Instrument) -> Result<bool> {
        let def = serde_json::to_string(i).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let Some(r) = sqlx::query("SELECT definition FROM instruments WHERE id = $1 AND version = $2")
            .bind(&i.id)
            .bind(i.version)
            .fetch_optional(&self.write)
            .await?
        {
            let existing: String = r.try_get("definition")?;
            let same = serde_json::from_str::<Instrument>(&existing).is_ok_and(|e| e == *i);
            return if same {
                Ok(false)
            } else {
                Err(StoreError::Conflict { field: "version", key: "err-instrument-version-exists" })
            };
        }
        sqlx::query("INSERT INTO instruments (id, version, definition, loaded_at) VALUES ($1, $2, $3, $4)")
            .bind(&i.id)
            .bind(i.version)
            .bind(def)
            .bind(ts(self.now()))
            .execute(&self.write)
            .await
            .map_err(StoreError::from_write)?;
        Ok(true)
    }

    /// The latest version of every instrument.
    pub async fn instruments(&self) -> Result<Vec<Instrument>> {
        let rows = sqlx::query(
            "SELECT i.definition FROM instruments i WHERE i.version = (SELECT MAX(x.version) FROM instruments x WHERE x.id = i.id) ORDER BY i.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let d: String = r.try_get("definition")?;
                serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(format!("instrument: {e}")))
            })
            .collect()
    }

    /// One version of an instrument (the one a response answered).
    pub async fn instrument(&self, id: &str, version: i64) -> Result<Instrument> {
        let r = sqlx::query("SELECT definition FROM instruments WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(version)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        let d: String = r.try_get("definition")?;
        serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(format!("instrument: {e}")))
    }

    /// Invite a family member to answer a family-rated instrument about this patient.
    /// `token_hash` is the hash of the link's secret, which only the caller ever sees.
    pub async fn invite_family(
        &self,
        g: &ChartGrant,
        instrument_id: &str,
        recipient: &str,
        valid_days: i64,
        token_hash: &str,
        ctx: &AuditCtx,
    ) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        let invite = Invite {
            by: g.principal(),
            patient: Some(g.patient()),
            instrument: self.instrument_rated_by(instrument_id, Rater::Family).await?,
            recipient,
            valid_days,
            token_hash,
        };
        self.insert_invitation(invite, ctx).await
    }

    async fn instrument_rated_by(&self, id: &str, rater: Rater) -> Result<Instrument> {
        self.instruments()
            .await?
            .into_iter()
            .find(|i| i.id == id && i.rater == rater)
            .ok_or(StoreError::Invalid(tsunagu_domain::Invalid::one("instrument", "err-invalid-choice")))
    }

    async fn insert_invitation(&self, inv: Invite<'_>, ctx: &AuditCtx) -> Result<String> {
        let recipient = inv.recipient.trim();
        if recipient.is_empty() || recipient.chars().count() > 100 {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("recipient", "err-required")));
        }
        if !(1..=90).contains(&inv.valid_days) {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("valid_days", "err-valid-days")));
        }
        let id = self.new_id();
        let now = self.now();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO survey_invitations (id, token_hash, instrument_id, instrument_version, patient_id, recipient, \
             created_by, created_org, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(inv.token_hash)
        .bind(&inv.instrument.id)
        .bind(inv.instrument.version)
        .bind(inv.patient.map(|p| p.to_string()))
        .bind(recipient)
        .bind(inv.by.user.to_string())
        .bind(inv.by.org.to_string())
        .bind(ts(now))
        .bind(ts(now + time::Duration::days(inv.valid_days)))
        .execute(&mut *tx)
        .await?;
        let ev = AuditEvent {
            actor_user: Some(inv.by.user),
            actor_org: Some(inv.by.org),
            action: "survey.invite".into(),
            outcome: Outcome::Allowed,
            patient: inv.patient,
            target: id.clone(),
            detail: format!("{{\"instrument\":\"{}\"}}", inv.instrument.id),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's survey invitations, newest first.
    pub async fn survey_invitations(&self, g: &ChartGrant) -> Result<Vec<InvitationRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let now = self.now();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{INVITATION_SELECT} WHERE i.patient_id = $1 ORDER BY i.created_at DESC"
        )))
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| invitation_from_row(r, now)).collect()
    }

    /// Revoke an invitation not yet answered: its link stops working at once.
    pub async fn revoke_invitation(&self, g: &ChartGrant, id: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let inv = self.survey_invitations(g).await?.into_iter().find(|i| i.id == id).ok_or(StoreError::NotFound)?;
        self.insert_revocation(&inv, g.principal(), ctx).await
    }

    async fn insert_revocation(&self, inv: &InvitationRow, by: &Principal, ctx: &AuditCtx) -> Result<()> {
        let closed = || StoreError::Conflict { field: "invitation", key: "err-invitation-closed" };
        if inv.status != InvitationStatus::Open {
            return Err(closed());
        }
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO survey_revocations (invitation_id, revoked_at, revoked_by) VALUES ($1, $2, $3)")
            .bind(&inv.id)
            .bind(ts(self.now()))
            .bind(by.user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from_write(e) {
                StoreError::Conflict { .. } => closed(),
                other => other,
            })?;
        let ev = AuditEvent {
            actor_user: Some(by.user),
            actor_org: Some(by.org),
            action: "survey.revoke".into(),
            outcome: Outcome::Allowed,
            patient: inv.patient_id,
            target: inv.id.clone(),
            detail: String::new(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Invite a professional to answer a professional-rated survey (the difficulties
    /// survey), about no patient. The operator and organization administrators send
    /// them; the invitation belongs to the sender's organization.
    pub async fn invite_professional(
        &self,
        who: &Principal,
        instrument_id: &str,
        recipient: &str,
        valid_days: i64,
        token_hash: &str,
        ctx: &AuditCtx,
    ) -> Result<String> {
        if !who.operator && !who.org_admin {
            return Err(StoreError::Forbidden);
        }
        let invite = Invite {
            by: who,
            patient: None,
            instrument: self.instrument_rated_by(instrument_id, Rater::Professional).await?,
            recipient,
            valid_days,
            token_hash,
        };
        self.insert_invitation(invite, ctx).await
    }

    /// The professional survey invitations the person may see: all of them for the
    /// operator, those of the own organization for its administrator; newest first.
    pub async fn professional_invitations(&self, who: &Principal) -> Result<Vec<InvitationRow>> {
        if !who.operator && !who.org_admin {
            return Err(StoreError::Forbidden);
        }
        let org = if who.operator { String::new() } else { who.org.to_string() };
        let now = self.now();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{INVITATION_SELECT} WHERE i.patient_id IS NULL AND ($1 = '' OR i.created_org = $1) ORDER BY i.created_at DESC"
        )))
        .bind(org)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| invitation_from_row(r, now)).collect()
    }

    /// Revoke a professional survey invitation not yet answered.
    pub async fn revoke_professional_invitation(&self, who: &Principal, id: &str, ctx: &AuditCtx) -> Result<()> {
        let inv =
            self.professional_invitations(who).await?.into_iter().find(|i| i.id == id).ok_or(StoreError::NotFound)?;
        self.insert_revocation(&inv, who, ctx).await
    }

    /// What a link opens, by the hash of its token; NotFound for an unknown one.
    pub async fn survey_by_token(&self, token_hash: &str) -> Result<SurveyOpen> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{INVITATION_SELECT} WHERE i.token_hash = $1")))
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        let invitation = invitation_from_row(&r, self.now())?;
        let instrument = self.instrument(&invitation.instrument_id, invitation.instrument_version).await?;
        Ok(SurveyOpen { invitation, instrument })
    }

    /// Store the answers of an open invitation, once. Conflict when it was answered,
    /// has expired or was revoked: nothing is stored then.
    pub async fn answer_survey(
        &self,
        open: &SurveyOpen,
        answers: &Answers,
        score: Option<i64>,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let inv = &open.invitation;
        // Checked again against the clock now, in case the page sat open past expiry.
        let fresh = self.survey_by_token_id(&inv.id).await?;
        if fresh.status != InvitationStatus::Open {
            return Err(StoreError::Conflict { field: "invitation", key: "err-invitation-closed" });
        }
        let body = serde_json::to_string(answers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO survey_responses (invitation_id, instrument_id, instrument_version, answers, score, submitted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&inv.id)
        .bind(&inv.instrument_id)
        .bind(inv.instrument_version)
        .bind(body)
        .bind(score)
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "invitation", key: "err-invitation-closed" },
            other => other,
        })?;
        let ev = AuditEvent {
            actor_user: None,
            actor_org: None,
            action: "survey.respond".into(),
            outcome: Outcome::Allowed,
            patient: inv.patient_id,
            target: inv.id.clone(),
            detail: format!("{{\"instrument\":\"{}\",\"version\":{}}}", inv.instrument_id, inv.instrument_version),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn survey_by_token_id(&self, id: &str) -> Result<InvitationRow> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{INVITATION_SELECT} WHERE i.id = $1")))
            .bind(id)
            .fetch_optional(&self.write)
            .await?
            .ok_or(StoreError::NotFound)?;
        invitation_from_row(&r, self.now())
    }
}
