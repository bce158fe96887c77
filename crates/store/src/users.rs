//! People who sign in, their memberships, API tokens, sessions and sign-in throttling.
//! Secrets (passwords, tokens, session ids) are stored only as hashes.

use crate::db::{Store, parse_ts, ts};
use crate::orgs::{OrgRow, parse_uuid};
use crate::second_factor::SessionStage;
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;
use tsunagu_domain::person::{Email, Profession};
use tsunagu_domain::policy::Principal;
use tsunagu_domain::{OrgId, UserId};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub name_kana: String,
    pub profession: Profession,
    /// An argon2id PHC string; hashing is the caller's (web/cli) job.
    pub password_hash: String,
    pub operator: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub name_kana: String,
    pub profession: Profession,
    #[serde(skip)]
    pub password_hash: String,
    pub status: String,
    pub operator: bool,
    pub last_signin_at: Option<String>,
}

impl UserRow {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
    fn from_row(r: &AnyRow) -> Result<Self> {
        let prof: String = r.try_get("profession")?;
        Ok(Self {
            id: parse_uuid(&r.try_get::<String, _>("id")?)?,
            email: r.try_get("email")?,
            display_name: r.try_get("display_name")?,
            name_kana: r.try_get("name_kana")?,
            profession: Profession::parse(&prof).map_err(|_| StoreError::Corrupt(format!("profession {prof}")))?,
            password_hash: r.try_get("password_hash")?,
            status: r.try_get("status")?,
            operator: r.try_get::<i64, _>("operator")? != 0,
            last_signin_at: r.try_get("last_signin_at")?,
        })
    }
}

const USER_COLUMNS: &str =
    "id, email, display_name, name_kana, profession, password_hash, status, operator, last_signin_at";

/// A person as the staff directory shows them to colleagues: name, kana and profession,
/// nothing about their account (no email, status, sign-ins or operator flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColleagueRow {
    pub user_id: UserId,
    pub display_name: String,
    pub name_kana: String,
    pub profession: Profession,
}

#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub org: OrgRow,
    pub org_admin: bool,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub stage: SessionStage,
    /// When the person last gave their password (and code): re-authentication.
    pub authenticated_at: OffsetDateTime,
}

/// A session to store: the hash of its id, whose it is, its form token, when it ends,
/// where it came from and how far in the person is.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user: UserId,
    pub org: OrgId,
    pub csrf: &'a str,
    pub expires_at: OffsetDateTime,
    pub ip: Option<&'a str>,
    pub stage: SessionStage,
}

/// An active person's membership of an approved organization: what makes a principal.
const PRINCIPAL_FROM: &str =
    "FROM users u JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.org_id";
const PRINCIPAL_WHERE: &str = "u.status = 'active' AND o.status = 'approved'";
/// What a principal is read from, with [`PRINCIPAL_FROM`] (see [`principal_from_row`]).
const PRINCIPAL_COLUMNS: &str = "u.id AS user_id, m.org_id, m.org_admin, u.operator";

fn principal_from_row(r: &AnyRow) -> Result<Principal> {
    Ok(Principal {
        user: parse_uuid(&r.try_get::<String, _>("user_id")?)?,
        org: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
        org_admin: r.try_get::<i64, _>("org_admin")? != 0,
        operator: r.try_get::<i64, _>("operator")? != 0,
    })
}

impl Store {
    /// Create a person as a member of `org` (admin or not). Audited.
    pub async fn create_user(
        &self,
        u: &NewUser,
        org: OrgId,
        org_admin: bool,
        by: Option<&Principal>,
        ctx: &AuditCtx,
    ) -> Result<UserId> {
        let id = self.new_id();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({USER_COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, NULL, $8)"
        )))
        .bind(&id)
        .bind(u.email.as_str())
        .bind(&u.display_name)
        .bind(&u.name_kana)
        .bind(u.profession.as_str())
        .bind(&u.password_hash)
        .bind(i64::from(u.operator))
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        sqlx::query("INSERT INTO memberships (user_id, org_id, org_admin, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(org.to_string())
            .bind(i64::from(org_admin))
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        let ev = AuditEvent {
            actor_user: by.map(|p| p.user),
            actor_org: by.map(|p| p.org),
            action: "user.create".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: id.clone(),
            detail: format!("org={org} admin={org_admin}"),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        parse_uuid(&id)
    }

    /// Add an existing person to another organization (people work in several).
    pub async fn add_membership(&self, user: UserId, org: OrgId, org_admin: bool, ctx: &AuditCtx) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO memberships (user_id, org_id, org_admin, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.to_string())
            .bind(org.to_string())
            .bind(i64::from(org_admin))
            .bind(ts(self.now()))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        let ev = AuditEvent {
            actor_user: None,
            actor_org: None,
            action: "user.membership".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: user.to_string(),
            detail: format!("org={org} admin={org_admin}"),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn user_by_email(&self, email: &Email) -> Result<UserRow> {
        let r = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1")))
            .bind(email.as_str())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        UserRow::from_row(&r)
    }

    pub async fn user_by_id(&self, id: UserId) -> Result<UserRow> {
        let r = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        UserRow::from_row(&r)
    }

    /// The organizations a person belongs to, approved ones first.
    pub async fn memberships(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT o.id, o.code, o.kind, o.name, o.name_kana, o.postal_code, o.address, o.phone, o.night_phone, o.lat, o.lon, \
             o.home_visits, o.support_24h, o.palliative_care, o.opioid_dispensing, o.accepts_new_patients, o.status, o.visiting_area, o.updated_at, m.org_admin \
             FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.created_at, o.name",
        )
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok(Membership { org: OrgRow::from_row(r)?, org_admin: r.try_get::<i64, _>("org_admin")? != 0 }))
            .collect()
    }

    /// The principal for `user` acting for `org`, if the person is an active member of
    /// that approved organization. One query: it runs on every signed-in request.
    pub async fn principal(&self, user: UserId, org: OrgId) -> Result<Principal> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PRINCIPAL_COLUMNS} {PRINCIPAL_FROM} WHERE {PRINCIPAL_WHERE} AND u.id = $1 AND m.org_id = $2"
        )))
        .bind(user.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        principal_from_row(&r)
    }

    /// The principal an API token acts as, in one query (it runs on every API and FHIR
    /// request): the token must be neither revoked nor expired, and its person an active
    /// member of its approved organization, as [`Store::principal`] requires. Any
    /// failure is [`StoreError::NotFound`], so that a caller cannot tell why.
    pub async fn token_principal(&self, token_hash: &str) -> Result<Principal> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PRINCIPAL_COLUMNS}, t.expires_at {PRINCIPAL_FROM} \
             JOIN api_tokens t ON t.user_id = u.id AND t.org_id = m.org_id \
             WHERE {PRINCIPAL_WHERE} AND t.token_hash = $1 AND t.revoked_at IS NULL"
        )))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let expires: Option<String> = r.try_get("expires_at")?;
        if expires.as_deref().map(parse_ts).transpose()?.is_some_and(|e| e <= self.now()) {
            return Err(StoreError::NotFound);
        }
        principal_from_row(&r)
    }

    /// Active staff of an organization who have not signed in for `days` days (or never,
    /// having been members that long): accounts to review and suspend (MHLW guideline:
    /// individual accounts, no dormant ones).
    pub async fn unused_accounts(&self, org: OrgId, days: i64) -> Result<Vec<UserId>> {
        let before = crate::db::ts(self.now() - time::Duration::days(days));
        let rows = sqlx::query(
            "SELECT u.id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND u.status = 'active' AND m.created_at < $2 \
             AND (u.last_signin_at IS NULL OR u.last_signin_at < $2)",
        )
        .bind(org.to_string())
        .bind(&before)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| parse_uuid(&r.try_get::<String, _>("id")?)).collect()
    }

    /// Staff of one organization (for its administrator).
    pub async fn staff(&self, org: OrgId) -> Result<Vec<(UserRow, bool)>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.display_name, u.name_kana, u.profession, u.password_hash, u.status, u.operator, \
             u.last_signin_at, m.org_admin FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 ORDER BY u.name_kana, u.display_name",
        )
        .bind(org.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok((UserRow::from_row(r)?, r.try_get::<i64, _>("org_admin")? != 0))).collect()
    }

    /// The active staff of an organization, by kana name: who its members see as their
    /// colleagues (the staff picker of the transition page, the FHIR Practitioner
    /// directory). Suspended people are left out.
    pub async fn colleagues(&self, org: OrgId) -> Result<Vec<ColleagueRow>> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, u.name_kana, u.profession FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND u.status = 'active' ORDER BY u.name_kana, u.display_name, u.id",
        )
        .bind(org.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let prof: String = r.try_get("profession")?;
                Ok(ColleagueRow {
                    user_id: parse_uuid(&r.try_get::<String, _>("id")?)?,
                    display_name: r.try_get("display_name")?,
                    name_kana: r.try_get("name_kana")?,
                    profession: Profession::parse(&prof)
                        .map_err(|_| StoreError::Corrupt(format!("profession {prof}")))?,
                })
            })
            .collect()
    }

    /// An organization administrator suspends or reactivates one of their staff.
    /// Suspension ends the person's sessions and revokes their tokens at once.
    pub async fn set_user_status(&self, who: &Principal, user: UserId, active: bool, ctx: &AuditCtx) -> Result<()> {
        let staff = self.staff(who.org).await?;
        if !who.org_admin || !staff.iter().any(|(u, _)| u.id == user) {
            return Err(StoreError::NotFound);
        }
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE users SET status = $1 WHERE id = $2")
            .bind(if active { "active" } else { "suspended" })
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(&now)
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: if active { "user.reactivate" } else { "user.suspend" }.into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: user.to_string(),
            detail: String::new(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An organization administrator sets a new password for one of their staff (who
    /// forgot theirs). The person's sessions end; their second factor is untouched.
    pub async fn reset_password(
        &self,
        who: &Principal,
        user: UserId,
        password_hash: &str,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let staff = self.staff(who.org).await?;
        if !who.org_admin || !staff.iter().any(|(u, _)| u.id == user) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: "user.password_reset".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: user.to_string(),
            detail: String::new(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn mark_signed_in(&self, user: UserId) -> Result<()> {
        sqlx::query("UPDATE users SET last_signin_at = $1 WHERE id = $2")
            .bind(ts(self.now()))
            .bind(user.to_string())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    // --- API tokens -------------------------------------------------------------

    pub async fn create_token(
        &self,
        user: UserId,
        org: OrgId,
        token_hash: &str,
        label: &str,
        expires_at: Option<OffsetDateTime>,
        ctx: &AuditCtx,
    ) -> Result<String> {
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO api_tokens (id, user_id, org_id, token_hash, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id)
            .bind(user.to_string())
            .bind(org.to_string())
            .bind(token_hash)
            .bind(label)
            .bind(ts(self.now()))
            .bind(expires_at.map(ts))
            .execute(&mut *tx)
            .await?;
        let ev = AuditEvent {
            actor_user: Some(user),
            actor_org: Some(org),
            action: "token.create".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: id.clone(),
            detail: expires_at.map(ts).unwrap_or_default(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn revoke_token(&self, id: &str, ctx: &AuditCtx) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(ts(self.now()))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let ev = AuditEvent {
            actor_user: None,
            actor_org: None,
            action: "token.revoke".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: id.to_string(),
            detail: String::new(),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    // --- sessions ---------------------------------------------------------------

    pub async fn create_session(&self, s: &NewSession<'_>) -> Result<()> {
        let NewSession { id_hash, user, org, csrf, expires_at, ip, stage } = *s;
        let now = ts(self.now());
        sqlx::query("INSERT INTO sessions (id_hash, user_id, org_id, csrf_token, created_at, last_seen_at, expires_at, ip, stage, authenticated_at) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $5)")
            .bind(id_hash)
            .bind(user.to_string())
            .bind(org.to_string())
            .bind(csrf)
            .bind(&now)
            .bind(ts(expires_at))
            .bind(ip)
            .bind(stage.as_str())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<SessionRow> {
        let r = sqlx::query(
            "SELECT user_id, org_id, csrf_token, created_at, last_seen_at, expires_at, stage, authenticated_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(SessionRow {
            user_id: parse_uuid(&r.try_get::<String, _>("user_id")?)?,
            org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
            csrf_token: r.try_get("csrf_token")?,
            created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
            last_seen_at: parse_ts(&r.try_get::<String, _>("last_seen_at")?)?,
            expires_at: parse_ts(&r.try_get::<String, _>("expires_at")?)?,
            stage: SessionStage::parse(&r.try_get::<String, _>("stage")?)?,
            authenticated_at: match r.try_get::<Option<String>, _>("authenticated_at")? {
                Some(t) => parse_ts(&t)?,
                None => parse_ts(&r.try_get::<String, _>("created_at")?)?,
            },
        })
    }

    pub async fn touch_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(ts(self.now()))
            .bind(id_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn switch_session_org(&self, id_hash: &str, org: OrgId) -> Result<()> {
        sqlx::query("UPDATE sessions SET org_id = $1 WHERE id_hash = $2")
            .bind(org.to_string())
            .bind(id_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.write).await?;
        Ok(())
    }

    /// Sign out everywhere: every session of the person ends.
    pub async fn delete_user_sessions(&self, user: UserId) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&self.write)
            .await?
            .rows_affected())
    }

    // --- sign-in throttling -----------------------------------------------------

    pub async fn record_signin_failure(&self, key: &str) -> Result<()> {
        sqlx::query("INSERT INTO signin_failures (id, throttle_key, at) VALUES ($1, $2, $3)")
            .bind(self.new_id())
            .bind(key)
            .bind(ts(self.now()))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn recent_signin_failures(&self, key: &str, since: OffsetDateTime) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM signin_failures WHERE throttle_key = $1 AND at > $2")
            .bind(key)
            .bind(ts(since))
            .fetch_one(&self.read)
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// A successful sign-in clears the account's counter (not the address's).
    /// Housekeeping: remove sessions past their absolute expiry and sign-in failures
    /// older than `failure_window` (they no longer count toward any throttle). Neither
    /// is patient data, and both would otherwise grow forever. Returns (sessions,
    /// failures) removed.
    pub async fn purge_expired(&self, failure_window: time::Duration) -> Result<(u64, u64)> {
        let now = self.now();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(crate::db::ts(now))
            .execute(&self.write)
            .await?;
        let family = sqlx::query("DELETE FROM family_sessions WHERE expires_at <= $1")
            .bind(crate::db::ts(now))
            .execute(&self.write)
            .await?;
        let failures = sqlx::query("DELETE FROM signin_failures WHERE at <= $1")
            .bind(crate::db::ts(now - failure_window))
            .execute(&self.write)
            .await?;
        Ok((sessions.rows_affected() + family.rows_affected(), failures.rows_affected()))
    }

    pub async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM signin_failures WHERE throttle_key = $1").bind(key).execute(&self.write).await?;
        Ok(())
    }
}
