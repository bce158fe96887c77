//! The audit chain: an append-only, hash-chained record of every access to patient data,
//! every sign-in and every refusal. The database refuses UPDATE and DELETE on it
//! (triggers); the chain makes any edit made around the triggers visible to
//! `tsunagu audit verify`.

use crate::db::{Store, ts};
use crate::{Result, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use tsunagu_domain::{OrgId, PatientId, UserId};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    Refused,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// Where a request came from, for the record.
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor_user: Option<UserId>,
    pub actor_org: Option<OrgId>,
    /// What was done, e.g. `chart.read`, `team.add`, `signin`.
    pub action: String,
    pub outcome: Outcome,
    pub patient: Option<PatientId>,
    /// The object acted on (an id, an e-mail for sign-in, ...).
    pub target: String,
    /// A short machine-readable reason or summary (JSON or a word); never clinical text.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor_user: Option<String>,
    pub actor_org: Option<String>,
    pub action: String,
    pub outcome: String,
    pub patient_id: Option<String>,
    pub target: String,
    pub detail: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The hash of this row: SHA-256 over its fields and the previous hash, separated by
    /// the ASCII unit separator so no field can be shifted into another.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let fields: [&str; 12] = [
            &self.prev_hash,
            &self.seq.to_string(),
            &self.at,
            self.actor_user.as_deref().unwrap_or(""),
            self.actor_org.as_deref().unwrap_or(""),
            &self.action,
            &self.outcome,
            self.patient_id.as_deref().unwrap_or(""),
            &self.target,
            &self.detail,
            self.ip.as_deref().unwrap_or(""),
            self.request_id.as_deref().unwrap_or(""),
        ];
        for f in fields {
            h.update(f.as_bytes());
            h.update([0x1f]);
        }
        hex::encode(h.finalize())
    }

    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self> {
        Ok(Self {
            seq: r.try_get("seq")?,
            at: r.try_get("at")?,
            actor_user: r.try_get("actor_user")?,
            actor_org: r.try_get("actor_org")?,
            action: r.try_get("action")?,
            outcome: r.try_get("outcome")?,
            patient_id: r.try_get("patient_id")?,
            target: r.try_get("target")?,
            detail: r.try_get("detail")?,
            ip: r.try_get("ip")?,
            request_id: r.try_get("request_id")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    }
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: i64,
    /// The first row whose hash or link does not hold, with what is wrong.
    pub first_break: Option<(i64, String)>,
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor_user, actor_org, action, outcome, patient_id, target, detail, ip, request_id, prev_hash, hash";

impl Store {
    /// Append one event inside the caller's transaction, so it commits with the change
    /// it records. The head row serializes appenders (its UPDATE takes a row lock on
    /// PostgreSQL; SQLite has one writer).
    pub(crate) async fn append_audit(&self, conn: &mut AnyConnection, ev: &AuditEvent, ctx: &AuditCtx) -> Result<i64> {
        append_row(conn, ev, ctx, ts(self.now())).await
    }

    /// Append one event on its own. The record commits before this returns; records
    /// arriving together share one commit and are appended together (`group_commit`).
    pub async fn audit(&self, ev: &AuditEvent, ctx: &AuditCtx) -> Result<i64> {
        self.grouped(crate::group_commit::Write::Audit(ev.clone(), ctx.clone(), ts(self.now()))).await
    }

    /// One record for a list of patients shown to someone (search results, the inbox):
    /// which patients, never the query that found them.
    /// The distinct patients of a list, in order of first appearance: what
    /// [`Store::audit_shown`] records.
    pub(crate) fn distinct_patients<I: IntoIterator<Item = tsunagu_domain::PatientId>>(ids: I) -> Vec<String> {
        let mut shown: Vec<String> = Vec::new();
        for id in ids {
            let id = id.to_string();
            if !shown.contains(&id) {
                shown.push(id);
            }
        }
        shown
    }

    pub(crate) async fn audit_shown(
        &self,
        who: &tsunagu_domain::policy::Principal,
        action: &str,
        target: String,
        shown: Vec<String>,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: action.to_string(),
            outcome: Outcome::Allowed,
            patient: None,
            target,
            detail: serde_json::json!({ "shown": shown }).to_string(),
        };
        self.audit(&ev, ctx).await?;
        Ok(())
    }

    /// Walk the whole chain in order and check every link and hash, then the head.
    pub async fn verify_audit(&self) -> Result<VerifyReport> {
        let mut prev = GENESIS_HASH.to_string();
        let mut expected_seq = 1i64;
        let mut count = 0i64;
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT 5000"
            )))
            .bind(after)
            .fetch_all(&self.read)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let row = AuditRow::from_row(r)?;
                after = row.seq;
                count += 1;
                let problem = if row.seq != expected_seq {
                    Some(format!("expected seq {expected_seq}, found {} (a row is missing)", row.seq))
                } else if row.prev_hash != prev {
                    Some("prev_hash does not match the previous row".to_string())
                } else if row.compute_hash() != row.hash {
                    Some("hash does not match the row's contents (the row was altered)".to_string())
                } else {
                    None
                };
                if let Some(p) = problem {
                    return Ok(VerifyReport { rows: count, first_break: Some((row.seq, p)) });
                }
                prev = row.hash;
                expected_seq += 1;
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.read).await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        if head_seq != count || head_hash != prev {
            return Ok(VerifyReport {
                rows: count,
                first_break: Some((head_seq, "the chain head does not match the last row (rows were removed)".into())),
            });
        }
        Ok(VerifyReport { rows: count, first_break: None })
    }

    /// The access history of one chart, newest first (for the team's access-log page).
    pub async fn audit_for_patient(&self, patient: PatientId, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE patient_id = $1 ORDER BY seq DESC LIMIT $2"
        )))
        .bind(patient.to_string())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(AuditRow::from_row).collect()
    }

    /// Recent events, newest first, optionally filtered by action (tests, operator views).
    pub async fn audit_recent(&self, action: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = match action {
            Some(a) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit WHERE action = $1 ORDER BY seq DESC LIMIT $2"
                )))
                .bind(a)
                .bind(limit)
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT $1")))
                    .bind(limit)
                    .fetch_all(&self.read)
                    .await?
            }
        };
        rows.iter().map(AuditRow::from_row).collect()
    }

    pub async fn audit_count(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM audit").fetch_one(&self.read).await?;
        r.try_get::<i64, _>("n").map_err(StoreError::from)
    }
}

/// Append one event inside the transaction of `conn`, at `at`: the next link of the
/// chain. The head row serializes appenders (its UPDATE takes a row lock on
/// PostgreSQL; SQLite has one writer).
pub(crate) async fn append_row(conn: &mut AnyConnection, ev: &AuditEvent, ctx: &AuditCtx, at: String) -> Result<i64> {
    append_rows(conn, &[Appending { ev, ctx, at: &at }]).await
}

/// One event to append with [`append_rows`]: what happened, where the request came
/// from, and when.
pub(crate) struct Appending<'a> {
    pub ev: &'a AuditEvent,
    pub ctx: &'a AuditCtx,
    pub at: &'a str,
}

/// Rows of the audit table per INSERT in [`append_rows`] (13 parameters each).
const AUDIT_ROWS_PER_INSERT: usize = 64;

/// Append several events, in order, inside the transaction of `conn`: the next links of
/// the chain, taken from the head in one step, hashed here, and written with multi-row
/// INSERTs, so that a batch (an import's files, a group commit's reads) costs a few
/// statements rather than three per record. Returns the sequence number of the last
/// (0 for none).
pub(crate) async fn append_rows(conn: &mut AnyConnection, events: &[Appending<'_>]) -> Result<i64> {
    if events.is_empty() {
        return Ok(0);
    }
    let n = i64::try_from(events.len()).map_err(|_| StoreError::Corrupt("too many audit records at once".into()))?;
    let head = sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
    let last: i64 = head.try_get("seq")?;
    let mut prev_hash: String = head.try_get("hash")?;
    let mut rows = Vec::with_capacity(events.len());
    for (seq, a) in (last - n + 1..).zip(events) {
        let mut row = AuditRow {
            seq,
            at: a.at.to_string(),
            actor_user: a.ev.actor_user.map(|u| u.to_string()),
            actor_org: a.ev.actor_org.map(|o| o.to_string()),
            action: a.ev.action.clone(),
            outcome: a.ev.outcome.as_str().to_string(),
            patient_id: a.ev.patient.map(|p| p.to_string()),
            target: a.ev.target.clone(),
            detail: a.ev.detail.clone(),
            ip: a.ctx.ip.clone(),
            request_id: a.ctx.request_id.clone(),
            prev_hash: std::mem::take(&mut prev_hash),
            hash: String::new(),
        };
        row.hash = row.compute_hash();
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    let placeholders = crate::bulk::Placeholders::of(conn);
    for chunk in rows.chunks(AUDIT_ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES {}",
            placeholders.rows(chunk.len(), AUDIT_COLUMNS.split(',').count())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            q = q
                .bind(row.seq)
                .bind(&row.at)
                .bind(&row.actor_user)
                .bind(&row.actor_org)
                .bind(&row.action)
                .bind(&row.outcome)
                .bind(&row.patient_id)
                .bind(&row.target)
                .bind(&row.detail)
                .bind(&row.ip)
                .bind(&row.request_id)
                .bind(&row.prev_hash)
                .bind(&row.hash);
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&prev_hash).execute(&mut *conn).await?;
    Ok(last)
}
