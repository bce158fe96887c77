//! The second factor of each person: an authenticator-app secret with the last time
//! step accepted, and recovery codes (hashes only). Computing and checking codes is
//! the web layer's job; this module makes "a code works once" and "a recovery code
//! works once" atomic in the database, so two requests racing with the same code
//! cannot both pass.

use crate::db::{Store, parse_ts, ts};
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use sqlx::Row;
use time::OffsetDateTime;
use tsunagu_domain::UserId;

#[derive(Debug, Clone)]
pub struct TotpFactor {
    pub secret: Vec<u8>,
    /// The time step of the last code accepted; only newer steps are accepted.
    pub last_step: i64,
    pub created_at: OffsetDateTime,
}

/// Where a session stands on the way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Signed in.
    Full,
    /// The password was right; the code from the authenticator app is awaited.
    Code,
    /// The password was right; the person must set up an authenticator first.
    Enrol,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::Code => "code",
            SessionStage::Enrol => "enrol",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(SessionStage::Full),
            "code" => Ok(SessionStage::Code),
            "enrol" => Ok(SessionStage::Enrol),
            other => Err(StoreError::Corrupt(format!("session stage {other}"))),
        }
    }
}

fn event(user: UserId, action: &str, detail: String) -> AuditEvent {
    AuditEvent {
        actor_user: Some(user),
        actor_org: None,
        action: action.into(),
        outcome: Outcome::Allowed,
        patient: None,
        target: user.to_string(),
        detail,
    }
}

impl Store {
    pub async fn totp_factor(&self, user: UserId) -> Result<Option<TotpFactor>> {
        let Some(r) = sqlx::query("SELECT secret_hex, last_step, created_at FROM totp_factors WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(&self.read)
            .await?
        else {
            return Ok(None);
        };
        let hex_secret: String = r.try_get("secret_hex")?;
        Ok(Some(TotpFactor {
            secret: hex::decode(&hex_secret).map_err(|_| StoreError::Corrupt("totp secret".into()))?,
            last_step: r.try_get("last_step")?,
            created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
        }))
    }

    /// Record that a code of `step` was used. False when a code of this step or a
    /// later one was already accepted (a replay, or a race lost to another request).
    pub async fn accept_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE totp_factors SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
            .bind(step)
            .bind(user.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Set up (or replace) the person's authenticator with a confirmed secret, whose
    /// first code was of `step`, and issue a new set of recovery codes in place of any
    /// old ones; in one transaction with its audit record.
    pub async fn enrol_totp(
        &self,
        user: UserId,
        secret: &[u8],
        step: i64,
        recovery_hashes: &[String],
        ctx: &AuditCtx,
    ) -> Result<()> {
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        let replaced = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("INSERT INTO totp_factors (user_id, secret_hex, last_step, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.to_string())
            .bind(hex::encode(secret))
            .bind(step)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        self.put_recovery_codes(&mut tx, user, recovery_hashes, &now).await?;
        let action = if replaced { "second_factor.replace" } else { "second_factor.enrol" };
        self.append_audit(&mut tx, &event(user, action, "totp".into()), ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new set of recovery codes; the old ones stop working.
    pub async fn replace_recovery_codes(&self, user: UserId, hashes: &[String], ctx: &AuditCtx) -> Result<()> {
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.put_recovery_codes(&mut tx, user, hashes, &now).await?;
        let ev = event(user, "second_factor.recovery_codes", format!("{} new codes", hashes.len()));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn put_recovery_codes(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: UserId,
        hashes: &[String],
        now: &str,
    ) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.to_string()).execute(&mut **tx).await?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user.to_string())
                .bind(h)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Use a recovery code: true once per code, false for an unknown or used one.
    pub async fn use_recovery_code(&self, user: UserId, hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(ts(self.now()))
        .bind(user.to_string())
        .bind(hash)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn recovery_codes_left(&self, user: UserId) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user.to_string())
            .fetch_one(&self.read)
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// Remove the person's authenticator and recovery codes (allowed by the web layer
    /// only where the second factor is optional: the demo).
    pub async fn remove_second_factor(&self, user: UserId, ctx: &AuditCtx) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM totp_factors WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
        self.append_audit(&mut tx, &event(user, "second_factor.remove", String::new()), ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The operator's way back for a person who lost both phone and recovery codes:
    /// the authenticator is removed and every session ends, so the next sign-in asks
    /// them to set up a new one. Audited under the operator's hand (`tsunagu user
    /// reset-second-factor`).
    pub async fn reset_second_factor(&self, user: UserId, ctx: &AuditCtx) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let had = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
        let passkeys = self.remove_all_passkeys(&mut tx, user).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
        let detail = format!("by the operator; {passkeys} passkeys removed");
        let mut ev = event(user, "second_factor.reset", detail);
        ev.actor_user = None;
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(had || passkeys > 0)
    }

    // --- sessions on the way in ------------------------------------------------

    /// Keep the secret being set up with the session, until its first code confirms it
    /// (never in the page, where a cache or a screenshot could keep it).
    pub async fn set_enrol_secret(&self, id_hash: &str, secret: &[u8]) -> Result<()> {
        sqlx::query("UPDATE sessions SET enrol_secret_hex = $1 WHERE id_hash = $2")
            .bind(hex::encode(secret))
            .bind(id_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn enrol_secret(&self, id_hash: &str) -> Result<Option<Vec<u8>>> {
        let r = sqlx::query("SELECT enrol_secret_hex FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        let s: Option<String> = r.try_get("enrol_secret_hex")?;
        s.map(|s| hex::decode(s).map_err(|_| StoreError::Corrupt("enrol secret".into()))).transpose()
    }

    /// The person proved again who they are (before a sensitive action).
    pub async fn mark_reauthenticated(&self, id_hash: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET authenticated_at = $1, enrol_secret_hex = NULL WHERE id_hash = $2")
            .bind(ts(self.now()))
            .bind(id_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
