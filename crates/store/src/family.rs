//! Patients and families taking part (issue #10). A family account is its own kind of
//! principal: it is not a user, holds no staff session, and is bound for good to the one
//! patient its invitation named. It reaches only what this module hands it: the care
//! team's contacts, upcoming visits, documents the team shared, its own diary and the
//! family thread. Every such read and write is audited with the account as the actor
//! (`target` = `family:{account}`), on the patient's audit trail.
//!
//! The team side goes through a [`ChartGrant`] like every chart record.

use crate::db::{Store, parse_ts, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AttachmentRow, AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use time::{Date, Duration, OffsetDateTime};
use tsunagu_domain::family::{DiaryInput, VisitInput};
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{Invalid, OrgId, PatientId};

/// A signed-in family member or patient.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyPrincipal {
    pub account: String,
    pub patient: PatientId,
    pub display_name: String,
    pub relation: String,
}

impl FamilyPrincipal {
    fn event(&self, action: &str, detail: String) -> AuditEvent {
        AuditEvent {
            actor_user: None,
            actor_org: None,
            action: action.to_string(),
            outcome: Outcome::Allowed,
            patient: Some(self.patient),
            target: format!("family:{}", self.account),
            detail,
        }
    }
}

/// A family session as stored.
#[derive(Debug, Clone)]
pub struct FamilySessionRow {
    pub principal: FamilyPrincipal,
    pub csrf_token: String,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyInvitationStatus {
    Open,
    Accepted,
    Expired,
    Revoked,
}

impl FamilyInvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Accepted => "accepted",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FamilyInvitationRow {
    pub id: String,
    pub invitee: String,
    pub relation: String,
    pub created_by_name: String,
    pub created_at: String,
    pub expires_at: String,
    pub status: FamilyInvitationStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct FamilyAccountRow {
    pub id: String,
    pub display_name: String,
    pub relation: String,
    pub login: String,
    pub created_at: String,
    pub ended_at: Option<String>,
}

/// What an open invitation link shows before the account is made.
#[derive(Debug, Clone)]
pub struct FamilyInvitationOpen {
    pub id: String,
    pub invitee: String,
    pub relation: String,
}

/// A new family account, from an accepted invitation.
pub struct NewFamilyAccount<'a> {
    pub token_hash: &'a str,
    pub login: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiaryRow {
    pub id: String,
    pub author_name: String,
    pub author_relation: String,
    pub observed_at: String,
    pub pain: Option<i64>,
    pub breathlessness: Option<i64>,
    pub sleep: Option<i64>,
    pub rescue_drug: Option<String>,
    pub rescue_at: Option<String>,
    pub note: String,
    pub alert: bool,
    pub threshold: i64,
    pub recorded_at: String,
    /// The family's reason, when they marked the entry as a mistake.
    pub in_error: Option<String>,
    /// For the team: whether the reader's organization has acknowledged the alert.
    pub acknowledged: bool,
    /// A photo came with the entry.
    pub photo: bool,
}

/// A photo the family took with a diary entry (its bytes are in the object store).
#[derive(Debug, Clone)]
pub struct DiaryPhoto {
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
}

/// A diary alert not yet acknowledged by the reader's organization, for its inbox.
#[derive(Debug, Clone, Serialize)]
pub struct DiaryAlertRow {
    pub patient_id: PatientId,
    pub family_name: String,
    pub given_name: String,
    pub entry: DiaryRow,
}

#[derive(Debug, Clone, Serialize)]
pub struct FamilyMessageRow {
    pub id: String,
    /// True when the family wrote it.
    pub from_family: bool,
    pub author_name: String,
    /// The family member's relation, or the professional's organization.
    pub author_detail: String,
    pub body: String,
    pub sent_at: String,
}

/// One organization on the team as the family sees it: who, in what role, and how to
/// reach them (night-time number first).
#[derive(Debug, Clone, Serialize)]
pub struct TeamContactRow {
    pub org_name: String,
    pub role: String,
    pub phone: Option<String>,
    pub night_phone: Option<String>,
    pub support_24h: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VisitRow {
    pub id: String,
    pub patient_id: PatientId,
    pub org_id: OrgId,
    pub org_name: String,
    pub user_name: Option<String>,
    pub profession: Profession,
    pub starts_at: String,
    pub note: String,
    pub cancelled: bool,
}

/// A visit on someone's list for the day, with the patient it is for.
#[derive(Debug, Clone, Serialize)]
pub struct TodayVisitRow {
    pub visit: VisitRow,
    pub family_name: String,
    pub given_name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// Diary alerts the organization has not acknowledged yet.
    pub open_alerts: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedDocumentRow {
    pub attachment_id: String,
    pub filename: String,
    pub media_type: String,
    pub size: i64,
    pub shared_at: String,
    pub shared_org_name: String,
}

/// What the family's home page shows.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyHome {
    pub patient_name: String,
    pub team: Vec<TeamContactRow>,
    pub visits: Vec<VisitRow>,
    pub documents: Vec<SharedDocumentRow>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("family: bad {what}"))
}

const DIARY_COLUMNS: &str = "d.id, a.display_name AS author_name, a.relation AS author_relation, d.observed_at, d.pain, \
     d.breathlessness, d.sleep, d.rescue_drug, d.rescue_at, d.note, d.alert, d.threshold, d.recorded_at, m.reason, \
     CASE WHEN EXISTS (SELECT 1 FROM diary_photos ph WHERE ph.patient_id = d.patient_id AND ph.entry_id = d.id) \
     THEN 1 ELSE 0 END AS has_photo";

fn diary_from_row(r: &sqlx::any::AnyRow, acknowledged: bool) -> Result<DiaryRow> {
    Ok(DiaryRow {
        id: r.try_get("id")?,
        author_name: r.try_get("author_name")?,
        author_relation: r.try_get("author_relation")?,
        observed_at: r.try_get("observed_at")?,
        pain: r.try_get("pain")?,
        breathlessness: r.try_get("breathlessness")?,
        sleep: r.try_get("sleep")?,
        rescue_drug: r.try_get("rescue_drug")?,
        rescue_at: r.try_get("rescue_at")?,
        note: r.try_get("note")?,
        alert: r.try_get::<i64, _>("alert")? != 0,
        threshold: r.try_get("threshold")?,
        recorded_at: r.try_get("recorded_at")?,
        in_error: r.try_get("reason")?,
        acknowledged,
        photo: r.try_get::<i64, _>("has_photo")? != 0,
    })
}

const VISIT_COLUMNS: &str = "v.id, v.patient_id, v.org_id, o.name AS org_name, u.display_name AS user_name, v.profession, \
     v.starts_at, v.note, CASE WHEN c.visit_id IS NULL THEN 0 ELSE 1 END AS cancelled";
const VISIT_FROM: &str = "visits v JOIN organizations o ON o.id = v.org_id LEFT JOIN users u ON u.id = v.user_id \
     LEFT JOIN visit_cancellations c ON c.patient_id = v.patient_id AND c.visit_id = v.id";

fn visit_from_row(r: &sqlx::any::AnyRow) -> Result<VisitRow> {
    Ok(VisitRow {
        id: r.try_get("id")?,
        patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
        org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
        org_name: r.try_get("org_name")?,
        user_name: r.try_get("user_name")?,
        profession: Profession::parse(&r.try_get::<String, _>("profession")?).map_err(|_| corrupt("profession"))?,
        starts_at: r.try_get("starts_at")?,
        note: r.try_get("note")?,
        cancelled: r.try_get::<i64, _>("cancelled")? != 0,
    })
}

fn message_from_row(r: &sqlx::any::AnyRow) -> Result<FamilyMessageRow> {
    let account: Option<String> = r.try_get("account_id")?;
    let (name, detail) = if account.is_some() {
        (r.try_get::<Option<String>, _>("family_name")?, r.try_get::<Option<String>, _>("family_relation")?)
    } else {
        (r.try_get::<Option<String>, _>("user_name")?, r.try_get::<Option<String>, _>("org_name")?)
    };
    Ok(FamilyMessageRow {
        id: r.try_get("id")?,
        from_family: account.is_some(),
        author_name: name.unwrap_or_default(),
        author_detail: detail.unwrap_or_default(),
        body: r.try_get("body")?,
        sent_at: r.try_get("sent_at")?,
    })
}

fn message_body(raw: &str) -> Result<String> {
    tsunagu_domain::validation::required_text("body", raw, 2000).map_err(StoreError::Invalid)
}

impl Store {
    // --- the team invites, and ends access ----------------------------------------

    /// Invite the patient or a family member. `token_hash` is the hash of the link's
    /// secret, which only the caller ever sees.
    pub async fn invite_family_member(
        &self,
        g: &ChartGrant,
        invitee: &str,
        relation: &str,
        valid_days: i64,
        token_hash: &str,
        ctx: &AuditCtx,
    ) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        let mut inv = Invalid::default();
        let invitee = inv.merge(tsunagu_domain::validation::required_text("invitee", invitee, 100));
        let relation = inv.merge(tsunagu_domain::family::relation(relation));
        if !(1..=30).contains(&valid_days) {
            inv.push("valid_days", "err-valid-days");
        }
        inv.clone().into_result()?;
        let (Some(invitee), Some(relation)) = (invitee, relation) else { return Err(StoreError::Invalid(inv)) };
        let id = self.new_id();
        let now = self.now();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO family_invitations (id, token_hash, patient_id, invitee, relation, created_by, created_org, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(token_hash)
        .bind(g.patient().to_string())
        .bind(&invitee)
        .bind(&relation)
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .bind(ts(now))
        .bind(ts(now + Duration::days(valid_days)))
        .execute(&mut *tx)
        .await?;
        let ev = self.write_event(g, "family.invite", id.clone(), format!("{{\"valid_days\":{valid_days}}}"));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The chart's family invitations, newest first.
    pub async fn family_invitations(&self, g: &ChartGrant) -> Result<Vec<FamilyInvitationRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(
            "SELECT i.id, i.invitee, i.relation, i.created_at, i.expires_at, u.display_name, \
             CASE WHEN r.invitation_id IS NULL THEN 0 ELSE 1 END AS revoked, \
             CASE WHEN a.id IS NULL THEN 0 ELSE 1 END AS accepted \
             FROM family_invitations i JOIN users u ON u.id = i.created_by \
             LEFT JOIN family_invitation_revocations r ON r.invitation_id = i.id \
             LEFT JOIN family_accounts a ON a.invitation_id = i.id \
             WHERE i.patient_id = $1 ORDER BY i.created_at DESC, i.id",
        )
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        let now = ts(self.now());
        rows.iter()
            .map(|r| {
                let expires_at: String = r.try_get("expires_at")?;
                let status = if r.try_get::<i64, _>("accepted")? != 0 {
                    FamilyInvitationStatus::Accepted
                } else if r.try_get::<i64, _>("revoked")? != 0 {
                    FamilyInvitationStatus::Revoked
                } else if expires_at <= now {
                    FamilyInvitationStatus::Expired
                } else {
                    FamilyInvitationStatus::Open
                };
                Ok(FamilyInvitationRow {
                    id: r.try_get("id")?,
                    invitee: r.try_get("invitee")?,
                    relation: r.try_get("relation")?,
                    created_by_name: r.try_get("display_name")?,
                    created_at: r.try_get("created_at")?,
                    expires_at,
                    status,
                })
            })
            .collect()
    }

    /// Revoke an invitation nobody accepted yet.
    pub async fn revoke_family_invitation(&self, g: &ChartGrant, id: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let open = self.family_invitations(g).await?.into_iter().find(|i| i.id == id).ok_or(StoreError::NotFound)?;
        if open.status != FamilyInvitationStatus::Open {
            return Err(StoreError::Conflict { field: "invitation", key: "err-invitation-closed" });
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO family_invitation_revocations (invitation_id, revoked_at, revoked_by) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(ts(self.now()))
        .bind(g.principal().user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        let ev = self.write_event(g, "family.invite.revoke", id.to_string(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The chart's family accounts, oldest first.
    pub async fn family_accounts(&self, g: &ChartGrant) -> Result<Vec<FamilyAccountRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(
            "SELECT a.id, a.display_name, a.relation, a.login, a.created_at, e.ended_at FROM family_accounts a \
             LEFT JOIN family_account_ends e ON e.account_id = a.id WHERE a.patient_id = $1 ORDER BY a.created_at, a.id",
        )
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FamilyAccountRow {
                    id: r.try_get("id")?,
                    display_name: r.try_get("display_name")?,
                    relation: r.try_get("relation")?,
                    login: r.try_get("login")?,
                    created_at: r.try_get("created_at")?,
                    ended_at: r.try_get("ended_at")?,
                })
            })
            .collect()
    }

    /// End a family account's access; its sessions end with it.
    pub async fn end_family_account(&self, g: &ChartGrant, account: &str, reason: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let reason = tsunagu_domain::validation::required_text("reason", reason, 500).map_err(StoreError::Invalid)?;
        let found = self.family_accounts(g).await?.into_iter().find(|a| a.id == account).ok_or(StoreError::NotFound)?;
        if found.ended_at.is_some() {
            return Err(StoreError::Conflict { field: "account", key: "err-family-ended" });
        }
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO family_account_ends (account_id, ended_at, ended_by, reason) VALUES ($1, $2, $3, $4)")
            .bind(account)
            .bind(ts(self.now()))
            .bind(g.principal().user.to_string())
            .bind(&reason)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        sqlx::query("DELETE FROM family_sessions WHERE account_id = $1").bind(account).execute(&mut *tx).await?;
        let ev = self.write_event(g, "family.account.end", account.to_string(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    // --- the family's way in ---------------------------------------------------------

    /// The invitation behind a link, if it can still be accepted; otherwise `NotFound`
    /// (used, expired, revoked and unknown links look the same).
    pub async fn family_invitation_by_token(&self, token_hash: &str) -> Result<FamilyInvitationOpen> {
        let r = sqlx::query(
            "SELECT i.id, i.invitee, i.relation FROM family_invitations i WHERE i.token_hash = $1 AND i.expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM family_invitation_revocations r WHERE r.invitation_id = i.id) \
             AND NOT EXISTS (SELECT 1 FROM family_accounts a WHERE a.invitation_id = i.id)",
        )
        .bind(token_hash)
        .bind(ts(self.now()))
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(FamilyInvitationOpen {
            id: r.try_get("id")?,
            invitee: r.try_get("invitee")?,
            relation: r.try_get("relation")?,
        })
    }

    /// Accept an invitation: make the account, once. A used, expired or revoked link
    /// is `NotFound` and makes nothing; a login already taken is a conflict.
    pub async fn accept_family_invitation(&self, a: &NewFamilyAccount<'_>, ctx: &AuditCtx) -> Result<FamilyPrincipal> {
        let mut inv = Invalid::default();
        let login = inv.merge(tsunagu_domain::family::login(a.login));
        let name = inv.merge(tsunagu_domain::validation::required_text("display_name", a.display_name, 100));
        inv.clone().into_result()?;
        let (Some(login), Some(name)) = (login, name) else { return Err(StoreError::Invalid(inv)) };
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        // Checked inside the transaction: two tabs accepting at once make one account
        // (the second trips the UNIQUE invitation_id).
        let r = sqlx::query(
            "SELECT i.id, i.patient_id, i.relation FROM family_invitations i WHERE i.token_hash = $1 AND i.expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM family_invitation_revocations r WHERE r.invitation_id = i.id) \
             AND NOT EXISTS (SELECT 1 FROM family_accounts a WHERE a.invitation_id = i.id)",
        )
        .bind(a.token_hash)
        .bind(&now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let invitation: String = r.try_get("id")?;
        let patient: PatientId = parse_uuid(&r.try_get::<String, _>("patient_id")?)?;
        let relation: String = r.try_get("relation")?;
        let taken = sqlx::query("SELECT 1 AS x FROM family_accounts WHERE login = $1")
            .bind(&login)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(StoreError::Conflict { field: "login", key: "err-login-taken" });
        }
        let id = self.new_id();
        sqlx::query(
            "INSERT INTO family_accounts (id, patient_id, invitation_id, login, display_name, relation, password_hash, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(patient.to_string())
        .bind(&invitation)
        .bind(&login)
        .bind(&name)
        .bind(&relation)
        .bind(a.password_hash)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::NotFound,
            other => other,
        })?;
        let fp = FamilyPrincipal { account: id, patient, display_name: name, relation };
        let ev = fp.event("family.account.create", format!("{{\"invitation\":\"{invitation}\"}}"));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(fp)
    }

    /// The account signing in by this login and its password hash, unless its access
    /// ended.
    pub async fn family_signin_lookup(&self, login: &str) -> Result<Option<(FamilyPrincipal, String)>> {
        let r = sqlx::query(
            "SELECT a.id, a.patient_id, a.display_name, a.relation, a.password_hash FROM family_accounts a \
             WHERE a.login = $1 AND NOT EXISTS (SELECT 1 FROM family_account_ends e WHERE e.account_id = a.id)",
        )
        .bind(login.trim().to_lowercase())
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some((
            FamilyPrincipal {
                account: r.try_get("id")?,
                patient: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
                display_name: r.try_get("display_name")?,
                relation: r.try_get("relation")?,
            },
            r.try_get("password_hash")?,
        )))
    }

    /// Record a family sign-in (or its refusal) in the audit chain.
    pub async fn audit_family_signin(&self, fp: Option<&FamilyPrincipal>, login: &str, ctx: &AuditCtx) -> Result<()> {
        let ev = match fp {
            Some(fp) => fp.event("family.signin", "{}".into()),
            None => AuditEvent {
                actor_user: None,
                actor_org: None,
                action: "family.signin".into(),
                outcome: Outcome::Refused,
                patient: None,
                target: login.chars().take(100).collect(),
                detail: "{\"reason\":\"bad credentials\"}".into(),
            },
        };
        self.audit(&ev, ctx).await.map(|_| ())
    }

    pub async fn create_family_session(
        &self,
        id_hash: &str,
        fp: &FamilyPrincipal,
        csrf: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let now = ts(self.now());
        sqlx::query(
            "INSERT INTO family_sessions (id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id_hash)
        .bind(&fp.account)
        .bind(csrf)
        .bind(&now)
        .bind(ts(expires_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// A family session, unless it expired or the account's access ended.
    pub async fn family_session(&self, id_hash: &str) -> Result<FamilySessionRow> {
        let r = sqlx::query(
            "SELECT s.csrf_token, s.last_seen_at, s.expires_at, a.id, a.patient_id, a.display_name, a.relation \
             FROM family_sessions s JOIN family_accounts a ON a.id = s.account_id WHERE s.id_hash = $1 \
             AND NOT EXISTS (SELECT 1 FROM family_account_ends e WHERE e.account_id = a.id)",
        )
        .bind(id_hash)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let row = FamilySessionRow {
            principal: FamilyPrincipal {
                account: r.try_get("id")?,
                patient: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
                display_name: r.try_get("display_name")?,
                relation: r.try_get("relation")?,
            },
            csrf_token: r.try_get("csrf_token")?,
            last_seen_at: parse_ts(&r.try_get::<String, _>("last_seen_at")?)?,
            expires_at: parse_ts(&r.try_get::<String, _>("expires_at")?)?,
        };
        if row.expires_at <= self.now() {
            return Err(StoreError::NotFound);
        }
        Ok(row)
    }

    pub async fn touch_family_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("UPDATE family_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(ts(self.now()))
            .bind(id_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn delete_family_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM family_sessions WHERE id_hash = $1").bind(id_hash).execute(&self.write).await?;
        Ok(())
    }

    // --- what the family sees -----------------------------------------------------------

    /// The family's home page: the patient's name, the team with its contacts (those
    /// reachable at night first), the next two weeks' visits, and shared documents.
    pub async fn family_home(&self, fp: &FamilyPrincipal, ctx: &AuditCtx) -> Result<FamilyHome> {
        let p = fp.patient.to_string();
        let name = sqlx::query("SELECT family_name, given_name FROM patients WHERE id = $1")
            .bind(&p)
            .fetch_one(&self.read)
            .await?;
        let team = sqlx::query(
            "SELECT o.name, t.role, o.phone, o.night_phone, o.support_24h FROM care_team t \
             JOIN organizations o ON o.id = t.org_id WHERE t.patient_id = $1 AND t.ended_at IS NULL \
             ORDER BY CASE WHEN o.night_phone IS NOT NULL AND o.support_24h = 1 THEN 0 \
             WHEN o.night_phone IS NOT NULL THEN 1 ELSE 2 END, t.since, o.name",
        )
        .bind(&p)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(TeamContactRow {
                org_name: r.try_get("name")?,
                role: r.try_get("role")?,
                phone: r.try_get("phone")?,
                night_phone: r.try_get("night_phone")?,
                support_24h: r.try_get::<i64, _>("support_24h")? != 0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let now = self.now();
        let visits = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VISIT_COLUMNS} FROM {VISIT_FROM} WHERE v.patient_id = $1 AND v.starts_at >= $2 AND v.starts_at < $3 \
             AND c.visit_id IS NULL ORDER BY v.starts_at, v.id"
        )))
        .bind(&p)
        .bind(ts(now - Duration::hours(2)))
        .bind(ts(now + Duration::days(14)))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(visit_from_row)
        .collect::<Result<Vec<_>>>()?;
        let documents = self.family_documents(&p).await?;
        self.audit(&fp.event("family.home.read", "{}".into()), ctx).await?;
        let family_name: String = name.try_get("family_name")?;
        let given_name: String = name.try_get("given_name")?;
        Ok(FamilyHome { patient_name: format!("{family_name} {given_name}"), team, visits, documents })
    }

    async fn family_documents(&self, patient: &str) -> Result<Vec<SharedDocumentRow>> {
        let rows = sqlx::query(
            "SELECT s.attachment_id, a.filename, a.media_type, a.size, s.shared_at, o.name FROM family_shares s \
             JOIN attachments a ON a.patient_id = s.patient_id AND a.id = s.attachment_id \
             JOIN organizations o ON o.id = s.shared_org WHERE s.patient_id = $1 ORDER BY s.shared_at DESC",
        )
        .bind(patient)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SharedDocumentRow {
                    attachment_id: r.try_get("attachment_id")?,
                    filename: r.try_get("filename")?,
                    media_type: r.try_get("media_type")?,
                    size: r.try_get("size")?,
                    shared_at: r.try_get("shared_at")?,
                    shared_org_name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// A document the team shared with this family (else `NotFound`); the download is
    /// audited.
    pub async fn family_attachment(&self, fp: &FamilyPrincipal, id: &str, ctx: &AuditCtx) -> Result<AttachmentRow> {
        let r = sqlx::query(
            "SELECT a.id, a.sha256, a.size, a.media_type, a.filename FROM family_shares s \
             JOIN attachments a ON a.patient_id = s.patient_id AND a.id = s.attachment_id \
             WHERE s.patient_id = $1 AND s.attachment_id = $2",
        )
        .bind(fp.patient.to_string())
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        self.audit(&fp.event("family.document.read", format!("{{\"attachment\":\"{}\"}}", id)), ctx).await?;
        Ok(AttachmentRow {
            id: r.try_get("id")?,
            sha256: r.try_get("sha256")?,
            size: r.try_get("size")?,
            media_type: r.try_get("media_type")?,
            filename: r.try_get("filename")?,
        })
    }

    /// The team shows a document of the chart to the family.
    pub async fn share_with_family(&self, g: &ChartGrant, attachment: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        self.attachment(g, attachment).await?;
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO family_shares (patient_id, attachment_id, shared_by, shared_org, shared_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(g.patient().to_string())
        .bind(attachment)
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "attachment", key: "err-already-shared" },
            other => other,
        })?;
        let ev = self.write_event(g, "family.share", attachment.to_string(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The chart's files, newest first (what the team may share with the family).
    pub async fn chart_attachments(&self, g: &ChartGrant) -> Result<Vec<AttachmentRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(
            "SELECT id, sha256, size, media_type, filename FROM attachments WHERE patient_id = $1 \
             ORDER BY created_at DESC, id LIMIT 200",
        )
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttachmentRow {
                    id: r.try_get("id")?,
                    sha256: r.try_get("sha256")?,
                    size: r.try_get("size")?,
                    media_type: r.try_get("media_type")?,
                    filename: r.try_get("filename")?,
                })
            })
            .collect()
    }

    /// Documents shared with the family, for the team's family page.
    pub async fn shared_documents(&self, g: &ChartGrant) -> Result<Vec<SharedDocumentRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        self.family_documents(&g.patient().to_string()).await
    }

    // --- the home diary ------------------------------------------------------------------

    /// Write a diary entry. Returns its id and how many notification mails it queued.
    /// A rating at or above `threshold` alerts the team: the inbox shows it, and a
    /// notice for everyone on the team who chose diary alerts is queued in the same
    /// transaction as the entry (both are kept, or neither).
    pub async fn add_diary_entry(
        &self,
        fp: &FamilyPrincipal,
        d: DiaryInput,
        threshold: i64,
        photo: Option<&DiaryPhoto>,
        ctx: &AuditCtx,
    ) -> Result<(String, usize)> {
        let d = d.check(self.now()).map_err(StoreError::Invalid)?;
        let alert = d.alerts(threshold);
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO diary_entries (patient_id, id, account_id, observed_at, pain, breathlessness, sleep, rescue_drug, \
             rescue_at, note, alert, threshold, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(fp.patient.to_string())
        .bind(&id)
        .bind(&fp.account)
        .bind(ts(d.observed_at))
        .bind(d.pain)
        .bind(d.breathlessness)
        .bind(d.sleep)
        .bind(&d.rescue_drug)
        .bind(d.rescue_at.map(ts))
        .bind(&d.note)
        .bind(i64::from(alert))
        .bind(threshold)
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await?;
        if let Some(p) = photo {
            sqlx::query(
                "INSERT INTO diary_photos (patient_id, entry_id, sha256, size, media_type, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(fp.patient.to_string())
            .bind(&id)
            .bind(&p.sha256)
            .bind(p.size)
            .bind(&p.media_type)
            .bind(ts(self.now()))
            .execute(&mut *tx)
            .await?;
        }
        let queued = if alert {
            let orgs = team_orgs_on(&mut tx, fp.patient).await?;
            let link = format!("/patients/{}/family", fp.patient);
            let to = crate::Recipients::Orgs(orgs);
            self.enqueue_in(&mut tx, &to, tsunagu_domain::family::NotificationCategory::DiaryAlert, &link, None).await?
        } else {
            0
        };
        let ev = fp.event(
            "family.diary.write",
            format!("{{\"entry\":\"{id}\",\"alert\":{alert},\"photo\":{}}}", photo.is_some()),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok((id, queued))
    }

    /// The family's own diary, newest first (the last 60 days).
    pub async fn family_diary(&self, fp: &FamilyPrincipal, ctx: &AuditCtx) -> Result<Vec<DiaryRow>> {
        let rows = self.diary_rows(fp.patient, None).await?;
        self.audit(&fp.event("family.diary.read", "{}".into()), ctx).await?;
        Ok(rows)
    }

    async fn diary_rows(&self, patient: PatientId, ack_org: Option<OrgId>) -> Result<Vec<DiaryRow>> {
        let since = ts(self.now() - Duration::days(60));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DIARY_COLUMNS}, CASE WHEN k.entry_id IS NULL THEN 0 ELSE 1 END AS acked \
             FROM diary_entries d JOIN family_accounts a ON a.id = d.account_id \
             LEFT JOIN diary_marks m ON m.patient_id = d.patient_id AND m.entry_id = d.id \
             LEFT JOIN diary_alert_acks k ON k.patient_id = d.patient_id AND k.entry_id = d.id AND k.org_id = $3 \
             WHERE d.patient_id = $1 AND d.observed_at >= $2 ORDER BY d.observed_at DESC, d.recorded_at DESC, d.id"
        )))
        .bind(patient.to_string())
        .bind(&since)
        .bind(ack_org.map(|o| o.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| diary_from_row(r, r.try_get::<i64, _>("acked")? != 0)).collect()
    }

    async fn diary_photo(&self, patient: PatientId, entry: &str) -> Result<DiaryPhoto> {
        let r =
            sqlx::query("SELECT sha256, size, media_type FROM diary_photos WHERE patient_id = $1 AND entry_id = $2")
                .bind(patient.to_string())
                .bind(entry)
                .fetch_optional(&self.read)
                .await?
                .ok_or(StoreError::NotFound)?;
        Ok(DiaryPhoto { sha256: r.try_get("sha256")?, size: r.try_get("size")?, media_type: r.try_get("media_type")? })
    }

    /// The photo of one of the family's own diary entries; the read is audited.
    pub async fn family_diary_photo(&self, fp: &FamilyPrincipal, entry: &str, ctx: &AuditCtx) -> Result<DiaryPhoto> {
        let p = self.diary_photo(fp.patient, entry).await?;
        self.audit(&fp.event("family.diary.photo.read", format!("{{\"entry\":\"{entry}\"}}")), ctx).await?;
        Ok(p)
    }

    /// The photo of a diary entry, for the team (through the grant, audited by it).
    pub async fn chart_diary_photo(&self, g: &ChartGrant, entry: &str) -> Result<DiaryPhoto> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        self.diary_photo(g.patient(), entry).await
    }

    /// The family marks its own entry as a mistake (with a reason); it stays, marked.
    pub async fn mark_diary_entry(
        &self,
        fp: &FamilyPrincipal,
        entry: &str,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let reason = tsunagu_domain::validation::required_text("reason", reason, 500).map_err(StoreError::Invalid)?;
        let mut tx = self.write.begin().await?;
        let exists = sqlx::query("SELECT 1 AS x FROM diary_entries WHERE patient_id = $1 AND id = $2")
            .bind(fp.patient.to_string())
            .bind(entry)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO diary_marks (patient_id, entry_id, account_id, reason, marked_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(fp.patient.to_string())
        .bind(entry)
        .bind(&fp.account)
        .bind(&reason)
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "entry", key: "err-already-marked" },
            other => other,
        })?;
        let ev = fp.event("family.diary.mark", format!("{{\"entry\":\"{entry}\"}}"));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The diary on the chart, for the team: patient-reported, with whether the
    /// reader's organization acknowledged each alert.
    pub async fn diary_for_chart(&self, g: &ChartGrant) -> Result<Vec<DiaryRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        self.diary_rows(g.patient(), Some(g.principal().org)).await
    }

    /// The reader's organization has seen this alert.
    pub async fn acknowledge_diary_alert(&self, g: &ChartGrant, entry: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let found = self.diary_for_chart(g).await?.into_iter().find(|d| d.id == entry).ok_or(StoreError::NotFound)?;
        if !found.alert || found.acknowledged {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO diary_alert_acks (patient_id, entry_id, org_id, user_id, acked_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(g.patient().to_string())
        .bind(entry)
        .bind(g.principal().org.to_string())
        .bind(g.principal().user.to_string())
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        let ev = self.write_event(g, "family.diary.acknowledge", entry.to_string(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Diary alerts of the last 14 days on charts the principal's organization is on
    /// the team of (and may read), not yet acknowledged by it and not marked as a
    /// mistake: the inbox's alert list. One audit record lists the patients shown.
    pub async fn diary_alerts(&self, who: &Principal, ctx: &AuditCtx) -> Result<Vec<DiaryAlertRow>> {
        let since = ts(self.now() - Duration::days(14));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DIARY_COLUMNS}, d.patient_id, p.family_name, p.given_name, p.owner_org_id, p.consent_status, \
             1 AS is_member FROM diary_entries d JOIN family_accounts a ON a.id = d.account_id \
             JOIN patients p ON p.id = d.patient_id \
             JOIN care_team t ON t.patient_id = d.patient_id AND t.org_id = $1 AND t.ended_at IS NULL \
             LEFT JOIN diary_marks m ON m.patient_id = d.patient_id AND m.entry_id = d.id \
             WHERE d.alert = 1 AND d.recorded_at >= $2 AND m.entry_id IS NULL \
             AND NOT EXISTS (SELECT 1 FROM diary_alert_acks k WHERE k.patient_id = d.patient_id AND k.entry_id = d.id AND k.org_id = $1) \
             ORDER BY d.recorded_at DESC LIMIT 200"
        )))
        .bind(who.org.to_string())
        .bind(&since)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            if !crate::patients::row_allowed(r, who)? {
                continue;
            }
            out.push(DiaryAlertRow {
                patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
                family_name: r.try_get("family_name")?,
                given_name: r.try_get("given_name")?,
                entry: diary_from_row(r, false)?,
            });
        }
        if !out.is_empty() {
            let shown = Self::distinct_patients(out.iter().map(|a| a.patient_id));
            self.audit_shown(who, "diary.alerts", format!("{} alert(s)", out.len()), shown, ctx).await?;
        }
        Ok(out)
    }

    // --- the family thread ---------------------------------------------------------------

    async fn thread_rows(&self, patient: PatientId) -> Result<Vec<FamilyMessageRow>> {
        let rows = sqlx::query(
            "SELECT f.id, f.account_id, f.body, f.sent_at, a.display_name AS family_name, a.relation AS family_relation, \
             u.display_name AS user_name, o.name AS org_name FROM family_messages f \
             LEFT JOIN family_accounts a ON a.id = f.account_id LEFT JOIN users u ON u.id = f.user_id \
             LEFT JOIN organizations o ON o.id = f.org_id WHERE f.patient_id = $1 ORDER BY f.sent_at, f.id",
        )
        .bind(patient.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    pub async fn family_thread(&self, fp: &FamilyPrincipal, ctx: &AuditCtx) -> Result<Vec<FamilyMessageRow>> {
        let rows = self.thread_rows(fp.patient).await?;
        self.audit(&fp.event("family.thread.read", "{}".into()), ctx).await?;
        Ok(rows)
    }

    pub async fn family_thread_for_chart(&self, g: &ChartGrant) -> Result<Vec<FamilyMessageRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        self.thread_rows(g.patient()).await
    }

    pub async fn post_family_message(&self, fp: &FamilyPrincipal, body: &str, ctx: &AuditCtx) -> Result<String> {
        let body = message_body(body)?;
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO family_messages (patient_id, id, account_id, body, sent_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(fp.patient.to_string())
        .bind(&id)
        .bind(&fp.account)
        .bind(&body)
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await?;
        self.append_audit(&mut tx, &fp.event("family.thread.write", format!("{{\"message\":\"{id}\"}}")), ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn post_team_family_message(&self, g: &ChartGrant, body: &str, ctx: &AuditCtx) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        let body = message_body(body)?;
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO family_messages (patient_id, id, user_id, org_id, body, sent_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .bind(&body)
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await?;
        let ev = self.write_event(g, "family.thread.write", id.clone(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Family messages since the reader last looked at the chart, per patient of the
    /// organization's teams (for the inbox).
    pub async fn unread_family_messages(&self, who: &Principal) -> Result<Vec<(PatientId, i64)>> {
        let rows = sqlx::query(
            "SELECT t.patient_id, COUNT(f.id) AS n FROM care_team t \
             JOIN family_messages f ON f.patient_id = t.patient_id AND f.account_id IS NOT NULL \
             LEFT JOIN chart_views v ON v.user_id = $2 AND v.patient_id = t.patient_id \
             WHERE t.org_id = $1 AND t.ended_at IS NULL AND f.sent_at > COALESCE(v.last_seen_at, t.since) \
             GROUP BY t.patient_id",
        )
        .bind(who.org.to_string())
        .bind(who.user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok((parse_uuid(&r.try_get::<String, _>("patient_id")?)?, r.try_get("n")?))).collect()
    }

    // --- visits ----------------------------------------------------------------------------

    /// Schedule a visit by the principal's organization (by `user`, if named, who must
    /// belong to it).
    pub async fn schedule_visit(
        &self,
        g: &ChartGrant,
        v: VisitInput,
        user: Option<tsunagu_domain::UserId>,
        ctx: &AuditCtx,
    ) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        let v = v.check(self.now()).map_err(StoreError::Invalid)?;
        if let Some(u) = user {
            let member = sqlx::query("SELECT 1 AS x FROM memberships WHERE user_id = $1 AND org_id = $2")
                .bind(u.to_string())
                .bind(g.principal().org.to_string())
                .fetch_optional(&self.read)
                .await?
                .is_some();
            if !member {
                return Err(StoreError::Invalid(Invalid::one("user", "err-invalid-choice")));
            }
        }
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO visits (patient_id, id, org_id, user_id, profession, starts_at, note, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(g.principal().org.to_string())
        .bind(user.map(|u| u.to_string()))
        .bind(v.profession.as_str())
        .bind(ts(v.starts_at))
        .bind(&v.note)
        .bind(g.principal().user.to_string())
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await?;
        let ev = self.write_event(g, "visit.schedule", id.clone(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Cancel a visit of the principal's organization.
    pub async fn cancel_visit(&self, g: &ChartGrant, id: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let v = self.chart_visits(g).await?.into_iter().find(|v| v.id == id).ok_or(StoreError::NotFound)?;
        if v.org_id != g.principal().org {
            return Err(StoreError::Forbidden);
        }
        if v.cancelled {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO visit_cancellations (patient_id, visit_id, cancelled_by, cancelled_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(g.patient().to_string())
        .bind(id)
        .bind(g.principal().user.to_string())
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        let ev = self.write_event(g, "visit.cancel", id.to_string(), "{}".into());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The chart's visits from a week ago on, soonest first.
    pub async fn chart_visits(&self, g: &ChartGrant) -> Result<Vec<VisitRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VISIT_COLUMNS} FROM {VISIT_FROM} WHERE v.patient_id = $1 AND v.starts_at >= $2 ORDER BY v.starts_at, v.id"
        )))
        .bind(g.patient().to_string())
        .bind(ts(self.now() - Duration::days(7)))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(visit_from_row).collect()
    }

    /// The organization's visits on `day` (JST), the principal's own first: the
    /// bedside list. Patients the organization may no longer read are left out. One
    /// audit record lists the patients shown.
    pub async fn todays_visits(&self, who: &Principal, day: Date, ctx: &AuditCtx) -> Result<Vec<TodayVisitRow>> {
        let jst = time::UtcOffset::from_hms(9, 0, 0).map_err(|_| corrupt("offset"))?;
        let start = day.midnight().assume_offset(jst);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VISIT_COLUMNS}, v.user_id, p.family_name, p.given_name, p.address, p.phone, p.owner_org_id, \
             p.consent_status, CASE WHEN EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 \
             AND t.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member, \
             (SELECT COUNT(*) FROM diary_entries d WHERE d.patient_id = v.patient_id AND d.alert = 1 AND d.recorded_at >= $4 \
              AND NOT EXISTS (SELECT 1 FROM diary_marks m WHERE m.patient_id = d.patient_id AND m.entry_id = d.id) \
              AND NOT EXISTS (SELECT 1 FROM diary_alert_acks k WHERE k.patient_id = d.patient_id AND k.entry_id = d.id \
              AND k.org_id = $1)) AS open_alerts \
             FROM {VISIT_FROM} JOIN patients p ON p.id = v.patient_id \
             WHERE v.org_id = $1 AND v.starts_at >= $2 AND v.starts_at < $3 AND c.visit_id IS NULL ORDER BY v.starts_at, v.id"
        )))
        .bind(who.org.to_string())
        .bind(ts(start))
        .bind(ts(start + Duration::days(1)))
        .bind(ts(self.now() - Duration::days(14)))
        .fetch_all(&self.read)
        .await?;
        let me = who.user.to_string();
        let mut mine = Vec::new();
        let mut others = Vec::new();
        for r in &rows {
            if !crate::patients::row_allowed(r, who)? {
                continue;
            }
            let row = TodayVisitRow {
                visit: visit_from_row(r)?,
                family_name: r.try_get("family_name")?,
                given_name: r.try_get("given_name")?,
                address: r.try_get("address")?,
                phone: r.try_get("phone")?,
                open_alerts: r.try_get("open_alerts")?,
            };
            if r.try_get::<Option<String>, _>("user_id")?.as_deref() == Some(me.as_str()) {
                mine.push(row);
            } else {
                others.push(row);
            }
        }
        mine.extend(others);
        let shown = Self::distinct_patients(mine.iter().map(|v| v.visit.patient_id));
        self.audit_shown(who, "visits.today", format!("{} visit(s)", mine.len()), shown, ctx).await?;
        Ok(mine)
    }

    /// The organizations on the patient's team now (to alert them).
    pub async fn team_orgs(&self, patient: PatientId) -> Result<Vec<OrgId>> {
        let mut conn = self.read.acquire().await?;
        team_orgs_on(&mut conn, patient).await
    }
}

/// The organizations on the patient's team now, read on `conn` (a pool connection, or
/// a write transaction that must see its own state).
async fn team_orgs_on(conn: &mut sqlx::AnyConnection, patient: PatientId) -> Result<Vec<OrgId>> {
    let rows = sqlx::query("SELECT DISTINCT org_id FROM care_team WHERE patient_id = $1 AND ended_at IS NULL")
        .bind(patient.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| parse_uuid(&r.try_get::<String, _>("org_id")?)).collect()
}
