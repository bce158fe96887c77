//! Passkeys (WebAuthn credentials) as an alternative second factor. The store keeps
//! each credential as the web layer serialized it, with its name, when it was made and
//! last used, and its sign counter; a removal is a mark (the database refuses DELETE).
//! The state of a ceremony under way lives in the session row and is taken once, so an
//! answer cannot be replayed against the same challenge.

use crate::db::{Store, parse_ts, ts};
use crate::{AuditCtx, AuditEvent, Outcome, Result};
use sqlx::Row;
use time::OffsetDateTime;
use tsunagu_domain::UserId;

#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: String,
    pub credential_id: String,
    pub name: String,
    /// The credential as the web layer serialized it (webauthn-rs `Passkey`).
    pub credential_json: String,
    pub sign_count: i64,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

fn event(user: UserId, action: &str, target: &str, detail: String) -> AuditEvent {
    AuditEvent {
        actor_user: Some(user),
        actor_org: None,
        action: action.into(),
        outcome: Outcome::Allowed,
        patient: None,
        target: target.into(),
        detail,
    }
}

fn row(r: &sqlx::any::AnyRow) -> Result<PasskeyRow> {
    Ok(PasskeyRow {
        id: r.try_get("id")?,
        credential_id: r.try_get("credential_id")?,
        name: r.try_get("name")?,
        credential_json: r.try_get("credential_json")?,
        sign_count: r.try_get("sign_count")?,
        created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
        last_used_at: r.try_get::<Option<String>, _>("last_used_at")?.map(|s| parse_ts(&s)).transpose()?,
    })
}

impl Store {
    /// The person's passkeys in use, oldest first.
    pub async fn passkeys(&self, user: UserId) -> Result<Vec<PasskeyRow>> {
        let rows = sqlx::query(
            "SELECT id, credential_id, name, credential_json, sign_count, created_at, last_used_at FROM passkeys \
             WHERE user_id = $1 AND removed_at IS NULL ORDER BY created_at, id",
        )
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(row).collect()
    }

    /// Whether the person has any second factor: an authenticator app or a passkey.
    pub async fn has_second_factor(&self, user: UserId) -> Result<bool> {
        Ok(self.totp_factor(user).await?.is_some() || !self.passkeys(user).await?.is_empty())
    }

    /// Register a passkey (a new row; nothing is replaced), with its audit record.
    /// `recovery_hashes`, when given, become the person's recovery codes (a passkey as
    /// the first second factor, at first sign-in).
    pub async fn add_passkey(
        &self,
        user: UserId,
        credential_id: &str,
        name: &str,
        credential_json: &str,
        recovery_hashes: Option<&[String]>,
        ctx: &AuditCtx,
    ) -> Result<String> {
        let id = self.new_id();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential_json, sign_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(&id)
        .bind(user.to_string())
        .bind(credential_id)
        .bind(name)
        .bind(credential_json)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        if let Some(hashes) = recovery_hashes {
            self.put_recovery_codes(&mut tx, user, hashes, &now).await?;
        }
        self.append_audit(&mut tx, &event(user, "passkey.register", &id, name.to_string()), ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Record a passkey's use with its new state and counter. False when it was
    /// removed meanwhile (the assertion must then be refused).
    pub async fn passkey_used(
        &self,
        user: UserId,
        id: &str,
        credential_json: &str,
        sign_count: i64,
        purpose: &str,
        ctx: &AuditCtx,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE passkeys SET credential_json = $1, sign_count = $2, last_used_at = $3 \
             WHERE id = $4 AND user_id = $5 AND removed_at IS NULL",
        )
        .bind(credential_json)
        .bind(sign_count)
        .bind(ts(self.now()))
        .bind(id)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        self.append_audit(&mut tx, &event(user, "passkey.use", id, purpose.to_string()), ctx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Remove one of the person's passkeys (a mark); false when there is no such
    /// passkey in use.
    pub async fn remove_passkey(&self, user: UserId, id: &str, ctx: &AuditCtx) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let done =
            sqlx::query("UPDATE passkeys SET removed_at = $1 WHERE id = $2 AND user_id = $3 AND removed_at IS NULL")
                .bind(ts(self.now()))
                .bind(id)
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        self.append_audit(&mut tx, &event(user, "passkey.remove", id, String::new()), ctx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Mark every passkey of the person removed (the operator's reset), inside `tx`.
    pub(crate) async fn remove_all_passkeys(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: UserId,
    ) -> Result<u64> {
        let done = sqlx::query("UPDATE passkeys SET removed_at = $1 WHERE user_id = $2 AND removed_at IS NULL")
            .bind(ts(self.now()))
            .bind(user.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// Keep the state of a ceremony under way with the session (a new ceremony
    /// replaces an unfinished one).
    pub async fn set_passkey_state(&self, id_hash: &str, state: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET passkey_state = $1 WHERE id_hash = $2")
            .bind(state)
            .bind(id_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Take the ceremony state of the session: it is cleared in the same step, so of
    /// two answers to one challenge only one finds it.
    pub async fn take_passkey_state(&self, id_hash: &str) -> Result<Option<String>> {
        let Some(r) = sqlx::query("SELECT passkey_state FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&self.read)
            .await?
        else {
            return Ok(None);
        };
        let Some(state) = r.try_get::<Option<String>, _>("passkey_state")? else {
            return Ok(None);
        };
        let done = sqlx::query("UPDATE sessions SET passkey_state = NULL WHERE id_hash = $1 AND passkey_state = $2")
            .bind(id_hash)
            .bind(&state)
            .execute(&self.write)
            .await?;
        Ok((done.rows_affected() == 1).then_some(state))
    }
}
