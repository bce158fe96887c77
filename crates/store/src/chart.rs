//! The shared chart: entries from every organization on the team, versions and
//! corrections without loss, "entered in error" marks, mentions, attachments' records,
//! unread counts and the inbox.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use tsunagu_domain::chart::{AttachmentRef, EntryBody, EntryKind};
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::{ChartAction, Principal, may_amend};
use tsunagu_domain::{Invalid, OrgId, PatientId, UserId};

/// One version of an entry as the timeline shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub version_id: String,
    pub entry_id: String,
    pub version: i64,
    pub supersedes: Option<String>,
    pub kind: EntryKind,
    pub body: EntryBody,
    pub author_id: UserId,
    pub author_name: String,
    pub author_profession: Profession,
    pub author_org_id: OrgId,
    pub author_org_name: String,
    pub recorded_at: String,
    pub entry_recorded_at: String,
    pub correction_reason: Option<String>,
    pub content_hash: String,
    /// Set when the entry was marked "entered in error": reason, who, when.
    pub in_error: Option<ErrorMark>,
}

impl EntryView {
    pub fn is_corrected(&self) -> bool {
        self.version > 1
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorMark {
    pub reason: String,
    pub by_name: String,
    pub at: String,
}

/// Filters and the keyset cursor of a timeline page.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub org: Option<OrgId>,
    pub profession: Option<Profession>,
    pub kind: Option<EntryKind>,
    /// Entries strictly older than this (entry_recorded_at, entry_id) pair.
    pub before: Option<(String, String)>,
    pub limit: i64,
}

/// Someone named in a thread message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    User(UserId),
    Org(OrgId),
}

/// One patient in a person's inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxRow {
    pub patient_id: PatientId,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub unread: i64,
    pub mentions: i64,
    pub last_activity: Option<String>,
}

/// The inbox's charts: current memberships of the organization (`org`, a placeholder)
/// that the policy could allow (owner, or consent to share), so that a page is full; the
/// policy still decides each row.
fn my_charts(org: &str) -> String {
    format!("t.org_id = {org} AND t.ended_at IS NULL AND (p.owner_org_id = {org} OR p.consent_status = 'given')")
}

/// Which page of the inbox: rows `offset..offset + limit` of its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxPaging {
    pub offset: i64,
    pub limit: i64,
}

impl InboxPaging {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 500;

    pub fn first() -> Self {
        Self::page(1)
    }

    /// Page `n` (from 1) of [`Self::DEFAULT_LIMIT`] charts.
    pub fn page(n: i64) -> Self {
        InboxPaging { offset: (n - 1) * Self::DEFAULT_LIMIT, limit: Self::DEFAULT_LIMIT }
    }
}

/// A page of the inbox, and how many charts it has in all.
#[derive(Debug, Clone, Serialize)]
pub struct InboxList {
    pub rows: Vec<InboxRow>,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentRow {
    pub id: String,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: String,
}

/// The current version of one entry, as the full-text index takes it.
#[derive(Debug, Clone)]
pub struct EntryForIndex {
    pub patient_id: PatientId,
    pub entry_id: String,
    pub version_id: String,
    pub kind: EntryKind,
    /// When the entry was first written (a corrected entry keeps its place).
    pub entry_recorded_at: String,
    /// What the entry says, as [`EntryBody::text`] gave it when the version was written.
    pub search_text: String,
}

/// One full-text search hit the searcher may see: the patient and the entry's current
/// version.
#[derive(Debug, Clone, Serialize)]
pub struct FulltextRow {
    pub patient_id: PatientId,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub entry: EntryView,
}

/// No newer version of `e` exists.
const CURRENT_VERSION: &str =
    "NOT EXISTS (SELECT 1 FROM entries n WHERE n.patient_id = e.patient_id AND n.supersedes = e.id)";

const ENTRY_SELECT: &str = "SELECT e.id, e.entry_id, e.version, e.supersedes, e.kind, e.body, e.author_id, u.display_name AS author_name, \
     e.author_profession, e.author_org_id, o.name AS author_org_name, e.recorded_at, e.entry_recorded_at, e.correction_reason, \
     e.content_hash, m.reason AS mark_reason, mu.display_name AS mark_by, m.at AS mark_at \
     FROM entries e JOIN users u ON u.id = e.author_id JOIN organizations o ON o.id = e.author_org_id \
     LEFT JOIN entry_marks m ON m.patient_id = e.patient_id AND m.entry_id = e.entry_id \
     LEFT JOIN users mu ON mu.id = m.by_user";

/// The columns of [`ENTRY_SELECT`], in its order. A row gives them by name
/// ([`entry_from_row`]); a timeline page aggregated to JSON in SQL gives each entry as
/// an array of them in this order ([`Store::timeline`]). Both end in
/// [`EntryColumns::into_view`].
#[derive(serde::Deserialize)]
struct EntryColumns {
    id: String,
    entry_id: String,
    version: i64,
    supersedes: Option<String>,
    kind: String,
    body: String,
    author_id: String,
    author_name: String,
    author_profession: String,
    author_org_id: String,
    author_org_name: String,
    recorded_at: String,
    entry_recorded_at: String,
    correction_reason: Option<String>,
    content_hash: String,
    mark_reason: Option<String>,
    mark_by: Option<String>,
    mark_at: Option<String>,
}

/// The names of [`EntryColumns`]' fields, in order (the JSON array of a timeline page).
const ENTRY_COLUMNS: [&str; 18] = [
    "id",
    "entry_id",
    "version",
    "supersedes",
    "kind",
    "body",
    "author_id",
    "author_name",
    "author_profession",
    "author_org_id",
    "author_org_name",
    "recorded_at",
    "entry_recorded_at",
    "correction_reason",
    "content_hash",
    "mark_reason",
    "mark_by",
    "mark_at",
];

impl EntryColumns {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(EntryColumns {
            id: r.try_get("id")?,
            entry_id: r.try_get("entry_id")?,
            version: r.try_get("version")?,
            supersedes: r.try_get("supersedes")?,
            kind: r.try_get("kind")?,
            body: r.try_get("body")?,
            author_id: r.try_get("author_id")?,
            author_name: r.try_get("author_name")?,
            author_profession: r.try_get("author_profession")?,
            author_org_id: r.try_get("author_org_id")?,
            author_org_name: r.try_get("author_org_name")?,
            recorded_at: r.try_get("recorded_at")?,
            entry_recorded_at: r.try_get("entry_recorded_at")?,
            correction_reason: r.try_get("correction_reason")?,
            content_hash: r.try_get("content_hash")?,
            mark_reason: r.try_get("mark_reason")?,
            mark_by: r.try_get("mark_by")?,
            mark_at: r.try_get("mark_at")?,
        })
    }

    fn into_view(self) -> Result<EntryView> {
        let EntryColumns { kind, body, author_profession: prof, .. } = &self;
        Ok(EntryView {
            kind: EntryKind::parse(kind).map_err(|_| StoreError::Corrupt(format!("entry kind {kind}")))?,
            body: serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("entry body: {e}")))?,
            author_profession: Profession::parse(prof)
                .map_err(|_| StoreError::Corrupt(format!("profession {prof}")))?,
            author_id: parse_uuid(&self.author_id)?,
            author_org_id: parse_uuid(&self.author_org_id)?,
            in_error: self.mark_reason.map(|reason| ErrorMark {
                reason,
                by_name: self.mark_by.unwrap_or_default(),
                at: self.mark_at.unwrap_or_default(),
            }),
            version_id: self.id,
            entry_id: self.entry_id,
            version: self.version,
            supersedes: self.supersedes,
            author_name: self.author_name,
            author_org_name: self.author_org_name,
            recorded_at: self.recorded_at,
            entry_recorded_at: self.entry_recorded_at,
            correction_reason: self.correction_reason,
            content_hash: self.content_hash,
        })
    }
}

fn entry_from_row(r: &AnyRow) -> Result<EntryView> {
    EntryColumns::from_row(r)?.into_view()
}

/// A page of entries as one row: the rows of `inner` (an [`ENTRY_SELECT`] with its
/// order and limit) aggregated in SQL into one JSON array of [`ENTRY_COLUMNS`] arrays,
/// in the same order. A page of 200 entries is then one row through the driver instead
/// of 200, each with its column map and its hand-off between threads, which cost more
/// than the query (bench/results/scale.md, W1).
fn page_as_json(backend: crate::db::Backend, inner: &str, order: &str) -> String {
    let cols = ENTRY_COLUMNS.iter().map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    match backend {
        crate::db::Backend::Sqlite => {
            format!("SELECT json_group_array(json_array({cols}) ORDER BY {order}) AS page FROM ({inner}) t")
        }
        crate::db::Backend::Postgres => format!(
            "SELECT COALESCE(json_agg(json_build_array({cols}) ORDER BY {order}), '[]'::json)::text AS page FROM ({inner}) t"
        ),
    }
}

/// The content hash of a version: what it says, who wrote it, when, and what it
/// replaced. Recorded in the audit chain with the write, so an edit is detectable.
#[allow(clippy::too_many_arguments)]
pub(crate) fn content_hash(
    patient: &str,
    entry_id: &str,
    version: i64,
    supersedes: Option<&str>,
    body: &str,
    author: &str,
    org: &str,
    at: &str,
) -> String {
    let mut h = Sha256::new();
    for f in [patient, entry_id, &version.to_string(), supersedes.unwrap_or(""), body, author, org, at] {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

impl Store {
    async fn author_profession(&self, user: UserId) -> Result<Profession> {
        Ok(self.user_by_id(user).await?.profession)
    }

    /// Write a new entry. Mentions (messages only) must name team members.
    pub async fn add_entry(
        &self,
        g: &ChartGrant,
        body: EntryBody,
        mentions: &[Mention],
        ctx: &AuditCtx,
    ) -> Result<EntryView> {
        if g.action() != ChartAction::Write {
            return Err(StoreError::Forbidden);
        }
        let body = body.validate()?;
        let id = self.new_id();
        self.insert_version(g, &id, &id, 1, None, &body, None, mentions, ctx).await?;
        self.entry_version(g, &id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_version(
        &self,
        g: &ChartGrant,
        id: &str,
        entry_id: &str,
        version: i64,
        supersedes: Option<(&str, &str)>,
        body: &EntryBody,
        reason: Option<&str>,
        mentions: &[Mention],
        ctx: &AuditCtx,
    ) -> Result<()> {
        let who = g.principal();
        let profession = self.author_profession(who.user).await?;
        let pid = g.patient().to_string();
        let now = ts(self.now());
        let entry_recorded_at = supersedes.map(|(_, at)| at.to_string()).unwrap_or_else(|| now.clone());
        let body_json = serde_json::to_string(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = content_hash(
            &pid,
            entry_id,
            version,
            supersedes.map(|s| s.0),
            &body_json,
            &who.user.to_string(),
            &who.org.to_string(),
            &now,
        );
        let action = if version == 1 { "entry.create" } else { "entry.correct" };
        let ev = self.write_event(
            g,
            action,
            id.to_string(),
            format!("{{\"kind\":\"{}\",\"version\":{version},\"hash\":\"{hash}\"}}", body.kind().as_str()),
        );
        // Everything the write needs, owned: it runs in the next group commit.
        let mention_rows: Vec<(String, Option<String>, Option<String>)> = mentions
            .iter()
            .map(|m| match m {
                Mention::User(u) => (self.new_id(), Some(u.to_string()), None),
                Mention::Org(o) => (self.new_id(), None, Some(o.to_string())),
            })
            .collect();
        let row = [
            pid,
            id.to_string(),
            entry_id.to_string(),
            body.kind().as_str().to_string(),
            body_json,
            body.text(),
            who.user.to_string(),
            who.org.to_string(),
            profession.as_str().to_string(),
            now,
            entry_recorded_at,
            hash,
        ];
        let supersedes = supersedes.map(|s| s.0.to_string());
        let reason = reason.map(str::to_string);
        let ctx = ctx.clone();
        self.grouped(crate::group_commit::Write::Unit(crate::group_commit::unit(move |conn| {
            Box::pin(async move {
                let [pid, id, entry_id, kind, body_json, text, user, org, profession, now, entry_recorded_at, hash] = row;
                sqlx::query(
                    "INSERT INTO entries (patient_id, id, entry_id, version, supersedes, kind, body, search_text, author_id, author_org_id, \
                     author_profession, recorded_at, entry_recorded_at, correction_reason, content_hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .bind(&pid)
                .bind(&id)
                .bind(&entry_id)
                .bind(version)
                .bind(supersedes)
                .bind(kind)
                .bind(body_json)
                .bind(text)
                .bind(user)
                .bind(org)
                .bind(profession)
                .bind(&now)
                .bind(entry_recorded_at)
                .bind(reason)
                .bind(hash)
                .execute(&mut *conn)
                .await
                .map_err(|e| match StoreError::from_write(e) {
                    StoreError::Db(sqlx::Error::Database(d)) if d.message().contains("entries") && (d.message().contains("UNIQUE") || d.message().contains("unique") || d.constraint() == Some("entries_version_taken")) => {
                        StoreError::Conflict { field: "version", key: "err-entry-stale" }
                    }
                    other => other,
                })?;
                for (mention_id, u, o) in mention_rows {
                    sqlx::query("INSERT INTO mentions (patient_id, id, entry_version_id, user_id, org_id, at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(&pid)
                        .bind(mention_id)
                        .bind(&id)
                        .bind(u)
                        .bind(o)
                        .bind(&now)
                        .execute(&mut *conn)
                        .await?;
                }
                crate::audit::append_row(conn, &ev, &ctx, now).await
            })
        })))
        .await?;
        Ok(())
    }

    /// One version by id.
    pub async fn entry_version(&self, g: &ChartGrant, version_id: &str) -> Result<EntryView> {
        let r = sqlx::query(AssertSqlSafe(format!("{ENTRY_SELECT} WHERE e.patient_id = $1 AND e.id = $2")))
            .bind(g.patient().to_string())
            .bind(version_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        entry_from_row(&r)
    }

    /// Every version of one entry, oldest first (the history shown with its diff).
    pub async fn entry_history(&self, g: &ChartGrant, entry_id: &str) -> Result<Vec<EntryView>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{ENTRY_SELECT} WHERE e.patient_id = $1 AND e.entry_id = $2 ORDER BY e.version"
        )))
        .bind(g.patient().to_string())
        .bind(entry_id)
        .fetch_all(&self.read)
        .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter().map(entry_from_row).collect()
    }

    /// Correct an entry: a new version that supersedes `current_version_id`. If someone
    /// corrected it in the meantime, the stale correction is refused (nothing is lost).
    pub async fn correct_entry(
        &self,
        g: &ChartGrant,
        current_version_id: &str,
        body: EntryBody,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<EntryView> {
        if g.action() != ChartAction::Write {
            return Err(StoreError::Forbidden);
        }
        let current = self.entry_version(g, current_version_id).await?;
        if !may_amend(g.principal(), current.author_org_id) {
            return Err(StoreError::Forbidden);
        }
        if current.in_error.is_some() {
            return Err(StoreError::Invalid(Invalid::one("entry", "err-entry-in-error")));
        }
        let body = body.validate()?;
        if body.kind() != current.kind {
            return Err(StoreError::Invalid(Invalid::one("kind", "err-entry-kind")));
        }
        let reason = tsunagu_domain::validation::required_text("reason", reason, 500)?;
        let newer = sqlx::query("SELECT id FROM entries WHERE patient_id = $1 AND supersedes = $2")
            .bind(g.patient().to_string())
            .bind(current_version_id)
            .fetch_optional(&self.read)
            .await?;
        if newer.is_some() {
            return Err(StoreError::Conflict { field: "version", key: "err-entry-stale" });
        }
        let id = self.new_id();
        self.insert_version(
            g,
            &id,
            &current.entry_id,
            current.version + 1,
            Some((current_version_id, &current.entry_recorded_at)),
            &body,
            Some(&reason),
            &[],
            ctx,
        )
        .await?;
        self.entry_version(g, &id).await
    }

    /// Mark an entry "entered in error" (wrong patient, wrong chart). It stays
    /// readable, struck through, with the reason.
    pub async fn mark_entered_in_error(
        &self,
        g: &ChartGrant,
        entry_id: &str,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<()> {
        if g.action() != ChartAction::Write {
            return Err(StoreError::Forbidden);
        }
        let history = self.entry_history(g, entry_id).await?;
        let current = history.last().ok_or(StoreError::NotFound)?;
        if !may_amend(g.principal(), current.author_org_id) {
            return Err(StoreError::Forbidden);
        }
        if current.in_error.is_some() {
            return Err(StoreError::Conflict { field: "entry", key: "err-entry-in-error" });
        }
        let reason = tsunagu_domain::validation::required_text("reason", reason, 500)?;
        let who = g.principal();
        let now = ts(self.now());
        let pid = g.patient().to_string();
        let hash = content_hash(
            &pid,
            entry_id,
            current.version,
            Some(&current.version_id),
            &format!("entered_in_error:{reason}"),
            &who.user.to_string(),
            &who.org.to_string(),
            &now,
        );
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO entry_marks (patient_id, id, entry_id, version_id, mark, reason, by_user, by_org, at, content_hash) \
             VALUES ($1, $2, $3, $4, 'entered_in_error', $5, $6, $7, $8, $9)",
        )
        .bind(&pid)
        .bind(self.new_id())
        .bind(entry_id)
        .bind(&current.version_id)
        .bind(&reason)
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .bind(&now)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            // Someone marked it in the same moment: the unique index kept one mark.
            StoreError::Db(sqlx::Error::Database(d)) if d.message().to_lowercase().contains("unique") => {
                StoreError::Conflict { field: "entry", key: "err-entry-in-error" }
            }
            other => other,
        })?;
        let ev =
            self.write_event(g, "entry.entered_in_error", entry_id.to_string(), format!("{{\"hash\":\"{hash}\"}}"));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One page of the timeline: current versions, newest first, with filters and a
    /// keyset cursor (stays fast on charts of thousands of entries).
    pub async fn timeline(&self, g: &ChartGrant, f: &TimelineFilter) -> Result<Vec<EntryView>> {
        let mut sql = format!(
            "{ENTRY_SELECT} WHERE e.patient_id = $1 AND NOT EXISTS (SELECT 1 FROM entries n WHERE n.patient_id = e.patient_id AND n.supersedes = e.id)"
        );
        let mut binds: Vec<String> = Vec::new();
        // Each clause takes the next placeholder number ($2, $3, ...).
        let mut add = |sql: &mut String, clause: &str, v: String| {
            binds.push(v);
            sql.push_str(&clause.replace("$N", &format!("${}", binds.len() + 1)));
        };
        if let Some(o) = f.org {
            add(&mut sql, " AND e.author_org_id = $N", o.to_string());
        }
        if let Some(p) = f.profession {
            add(&mut sql, " AND e.author_profession = $N", p.as_str().to_string());
        }
        if let Some(k) = f.kind {
            add(&mut sql, " AND e.kind = $N", k.as_str().to_string());
        }
        if let Some((at, id)) = &f.before {
            // A row value is an index range on entries_timeline on both databases; the
            // equivalent OR form only filters a backward scan, so deep pages got slower.
            add(&mut sql, " AND (e.entry_recorded_at, e.entry_id) < ($N", at.clone());
            add(&mut sql, ", $N)", id.clone());
        }
        let limit = if f.limit <= 0 { 50 } else { f.limit.min(500) };
        sql.push_str(&format!(" ORDER BY e.entry_recorded_at DESC, e.entry_id DESC LIMIT {limit}"));
        let sql = page_as_json(self.backend(), &sql, "t.entry_recorded_at DESC, t.entry_id DESC");
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(g.patient().to_string());
        for b in binds {
            q = q.bind(b);
        }
        let page: String = q.fetch_one(&self.read).await?.try_get("page")?;
        let entries: Vec<EntryColumns> =
            serde_json::from_str(&page).map_err(|e| StoreError::Corrupt(format!("timeline page: {e}")))?;
        entries.into_iter().map(EntryColumns::into_view).collect()
    }

    /// The entries written after `since` (for live update of an open chart).
    pub async fn entries_since(&self, g: &ChartGrant, since: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM entries WHERE patient_id = $1 AND recorded_at > $2")
            .bind(g.patient().to_string())
            .bind(since)
            .fetch_one(&self.read)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Remember that the person has seen the chart now (unread counts go to zero).
    pub async fn mark_chart_seen(&self, g: &ChartGrant) -> Result<()> {
        let now = ts(self.now());
        sqlx::query(
            "INSERT INTO chart_views (user_id, patient_id, last_seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, patient_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .bind(g.principal().user.to_string())
        .bind(g.patient().to_string())
        .bind(&now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// "What is new on my patients since I last looked": the charts the person's
    /// organization is on the team of (and may read), with counts of entries by others
    /// and mentions since the last look, most pressing first (mentions, then new
    /// entries, then the latest activity), one page at a time: a hospital is on tens of
    /// thousands of teams (bench/results/scale.md), more than a page can show or an audit
    /// record should list. One audit record lists the patients of the page.
    pub async fn inbox(&self, who: &Principal, paging: InboxPaging, ctx: &AuditCtx) -> Result<InboxList> {
        let (offset, limit) = (paging.offset.max(0), paging.limit.clamp(1, InboxPaging::MAX_LIMIT));
        let total: i64 = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM care_team t JOIN patients p ON p.id = t.patient_id WHERE {}",
            my_charts("$1")
        )))
        .bind(who.org.to_string())
        .fetch_one(&self.read)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT p.id, p.family_name, p.given_name, p.family_kana, p.given_kana, p.owner_org_id, p.consent_status, \
             1 AS is_member, \
             (SELECT COUNT(*) FROM entries e WHERE e.patient_id = p.id AND e.author_id <> $1 AND e.recorded_at > COALESCE(v.last_seen_at, t.since)) AS unread, \
             (SELECT COUNT(*) FROM mentions m WHERE m.patient_id = p.id AND (m.user_id = $1 OR m.org_id = $2) AND m.at > COALESCE(v.last_seen_at, t.since) AND NOT EXISTS (SELECT 1 FROM entries me WHERE me.patient_id = m.patient_id AND me.id = m.entry_version_id AND me.author_id = $1)) AS mentioned, \
             (SELECT MAX(e.recorded_at) FROM entries e WHERE e.patient_id = p.id) AS last_activity \
             FROM care_team t JOIN patients p ON p.id = t.patient_id \
             LEFT JOIN chart_views v ON v.user_id = $1 AND v.patient_id = p.id \
             WHERE {} \
             ORDER BY mentioned DESC, unread DESC, last_activity DESC NULLS LAST, p.id LIMIT $3 OFFSET $4",
            my_charts("$2")
        )))
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            // Every row is a current team membership of the reader's organization.
            if !crate::patients::row_allowed(r, who)? {
                continue;
            }
            out.push(InboxRow {
                patient_id: parse_uuid(&r.try_get::<String, _>("id")?)?,
                family_name: r.try_get("family_name")?,
                given_name: r.try_get("given_name")?,
                family_kana: r.try_get("family_kana")?,
                given_kana: r.try_get("given_kana")?,
                unread: r.try_get("unread")?,
                mentions: r.try_get("mentioned")?,
                last_activity: r.try_get("last_activity")?,
            });
        }
        let shown = out.iter().map(|r| r.patient_id.to_string()).collect();
        let target = format!("{} of {total} patient(s) from row {}", out.len(), offset + 1);
        self.audit_shown(who, "inbox.read", target, shown, ctx).await?;
        Ok(InboxList { rows: out, total })
    }

    /// A page of the current version of every entry of every patient, ordered by
    /// (patient id, entry id), after the `after` pair: what a rebuild of the full-text
    /// index reads.
    ///
    /// A system path: it bypasses the access policy and writes no audit record, because
    /// what it returns only feeds the search index and is never shown to anyone. People
    /// reach the index through [`Store::fulltext_results`], which applies the policy.
    pub async fn system_current_entries_for_index(
        &self,
        after: Option<(String, String)>,
        limit: i64,
    ) -> Result<Vec<EntryForIndex>> {
        let select =
            "SELECT e.patient_id, e.entry_id, e.id, e.kind, e.entry_recorded_at, e.search_text FROM entries e WHERE";
        // After the first page, both sides start at the cursor: a row value is an index
        // range (the OR form was a filter over a scan from the first row), and the bound
        // on `n` keeps PostgreSQL's merge anti join from reading the superseded index
        // from its start on every page, which made a reindex of 1.9 million entries
        // quadratic (over a second per page of 500).
        let mut sql = match after {
            None => format!("{select} {CURRENT_VERSION}"),
            Some(_) => format!(
                "{select} NOT EXISTS (SELECT 1 FROM entries n WHERE n.patient_id = e.patient_id AND n.supersedes = e.id \
                 AND n.patient_id >= $1) AND (e.patient_id, e.entry_id) > ($1, $2)"
            ),
        };
        let limit = limit.clamp(1, 10_000);
        sql.push_str(&format!(" ORDER BY e.patient_id, e.entry_id LIMIT {limit}"));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some((p, e)) = after {
            q = q.bind(p).bind(e);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(EntryForIndex {
                    patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
                    entry_id: r.try_get("entry_id")?,
                    version_id: r.try_get("id")?,
                    kind: EntryKind::parse(&kind).map_err(|_| StoreError::Corrupt(format!("entry kind {kind}")))?,
                    entry_recorded_at: r.try_get("entry_recorded_at")?,
                    search_text: r.try_get("search_text")?,
                })
            })
            .collect()
    }

    /// How many entries there are (current versions), for a rebuild's progress. A
    /// system path like [`Store::system_current_entries_for_index`].
    pub async fn system_count_current_entries(&self) -> Result<i64> {
        let r = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM entries e WHERE {CURRENT_VERSION}")))
            .fetch_one(&self.read)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// What a person sees of full-text search hits. `hits` are (patient, version id)
    /// pairs from the index, best first; the index may be behind or hold patients
    /// outside the person's reach, so each hit is checked here: kept only when the
    /// policy lets the person read the patient's chart and the version is still the
    /// entry's current one (a correction the index missed is not shown with the old
    /// text). At most `limit` rows, in the order of `hits`.
    ///
    /// One audit record `fulltext.search` lists the patients shown, like
    /// `patient.search`. It does not hold the query: what people type into a search box
    /// of clinical notes is often a name, a diagnosis or another identifying detail,
    /// and the audit chain can never be edited or purged, so it must not become a
    /// second copy of such data (the patient search does not record its query either).
    pub async fn fulltext_results(
        &self,
        who: &Principal,
        hits: &[(PatientId, String)],
        limit: usize,
        ctx: &AuditCtx,
    ) -> Result<Vec<FulltextRow>> {
        let readable = self.readable_among(who, &Self::distinct_patients(hits.iter().map(|(p, _)| *p))).await?;
        let mut names: std::collections::HashMap<PatientId, (String, String, String, String)> =
            std::collections::HashMap::new();
        let mut out: Vec<FulltextRow> = Vec::new();
        for (pid, version_id) in hits {
            if out.len() >= limit {
                break;
            }
            if !readable.contains(pid) {
                continue;
            }
            let Some(r) = sqlx::query(AssertSqlSafe(format!(
                "{ENTRY_SELECT} WHERE e.patient_id = $1 AND e.id = $2 AND {CURRENT_VERSION}"
            )))
            .bind(pid.to_string())
            .bind(version_id)
            .fetch_optional(&self.read)
            .await?
            else {
                continue;
            };
            let entry = entry_from_row(&r)?;
            if !names.contains_key(pid) {
                let p =
                    sqlx::query("SELECT family_name, given_name, family_kana, given_kana FROM patients WHERE id = $1")
                        .bind(pid.to_string())
                        .fetch_one(&self.read)
                        .await?;
                names.insert(
                    *pid,
                    (
                        p.try_get("family_name")?,
                        p.try_get("given_name")?,
                        p.try_get("family_kana")?,
                        p.try_get("given_kana")?,
                    ),
                );
            }
            let (family_name, given_name, family_kana, given_kana) = names.get(pid).cloned().unwrap_or_default();
            out.push(FulltextRow { patient_id: *pid, family_name, given_name, family_kana, given_kana, entry });
        }
        let shown = Self::distinct_patients(out.iter().map(|r| r.patient_id));
        self.audit_shown(who, "fulltext.search", format!("{} result(s)", out.len()), shown, ctx).await?;
        Ok(out)
    }

    /// Record a stored file against the chart (its bytes are already in the object
    /// store under `sha256`).
    pub async fn add_attachment(
        &self,
        g: &ChartGrant,
        sha256: &str,
        size: i64,
        media_type: &str,
        filename: &str,
        ctx: &AuditCtx,
    ) -> Result<AttachmentRef> {
        if g.action() != ChartAction::Write {
            return Err(StoreError::Forbidden);
        }
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO attachments (patient_id, id, sha256, size, media_type, filename, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(g.patient().to_string())
            .bind(&id)
            .bind(sha256)
            .bind(size)
            .bind(media_type)
            .bind(filename)
            .bind(g.principal().user.to_string())
            .bind(ts(self.now()))
            .execute(&mut *tx)
            .await?;
        let ev = self.write_event(
            g,
            "attachment.upload",
            id.clone(),
            format!("{{\"sha256\":\"{sha256}\",\"size\":{size}}}"),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(AttachmentRef {
            id,
            sha256: sha256.to_string(),
            size,
            media_type: media_type.to_string(),
            filename: filename.to_string(),
        })
    }

    pub async fn attachment(&self, g: &ChartGrant, id: &str) -> Result<AttachmentRow> {
        let r = sqlx::query(
            "SELECT id, sha256, size, media_type, filename FROM attachments WHERE patient_id = $1 AND id = $2",
        )
        .bind(g.patient().to_string())
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(AttachmentRow {
            id: r.try_get("id")?,
            sha256: r.try_get("sha256")?,
            size: r.try_get("size")?,
            media_type: r.try_get("media_type")?,
            filename: r.try_get("filename")?,
        })
    }

    /// People of the organizations currently on the team (to mention them).
    pub async fn team_people(&self, g: &ChartGrant) -> Result<Vec<(UserId, String, OrgId, String)>> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, o.id AS org_id, o.name AS org_name FROM care_team t \
             JOIN memberships m ON m.org_id = t.org_id JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = t.org_id \
             WHERE t.patient_id = $1 AND t.ended_at IS NULL AND u.status = 'active' ORDER BY o.name, u.name_kana, u.display_name",
        )
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_uuid(&r.try_get::<String, _>("id")?)?,
                    r.try_get("display_name")?,
                    parse_uuid(&r.try_get::<String, _>("org_id")?)?,
                    r.try_get("org_name")?,
                ))
            })
            .collect()
    }
}
