//! Letters between organizations: drafts, sending (which opens the chart to the
//! recipient), receipt, decline and reply (DOMAIN.md §4-§5).
//!
//! A letter's header and current state live in `letters`; what was saved each time is
//! in `letter_versions` and each change of state in `letter_events` (both append-only),
//! so a sent letter reads exactly as it was sent. Drafts belong to the writing
//! organization: to anyone else a draft does not exist.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use tsunagu_domain::chart::{AttachmentRef, DocumentType, EntryBody};
use tsunagu_domain::letter::{LetterBody, LetterEvent, LetterKind, LetterState, Side, next_state};
use tsunagu_domain::patient::{ConsentStatus, TeamRole};
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{Invalid, OrgId, PatientId, UserId};

/// What the writer fills in: the recipient, the role it will take on the team, the
/// letter itself and the chart documents that travel with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterContent {
    pub to_org: OrgId,
    #[serde(default)]
    pub to_person: Option<String>,
    pub role: TeamRole,
    pub body: LetterBody,
    /// Entry ids of documents on the chart (discharge summary, conference sheet, ...).
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// A chart document attached to a letter, as it is now on the chart.
#[derive(Debug, Clone, Serialize)]
pub struct LetterAttachment {
    pub entry_id: String,
    pub title: String,
    pub doc_type: DocumentType,
    pub files: Vec<AttachmentRef>,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LetterEventRow {
    pub event: String,
    pub state_after: LetterState,
    pub by_user_name: String,
    pub by_org_name: String,
    pub at: String,
    pub note: Option<String>,
}

/// One line of a list of letters.
#[derive(Debug, Clone, Serialize)]
pub struct LetterSummary {
    pub id: String,
    pub patient_id: PatientId,
    pub kind: LetterKind,
    pub state: LetterState,
    pub from_org_id: OrgId,
    pub from_org_name: String,
    pub from_user_id: UserId,
    pub from_user_name: String,
    pub to_org_id: OrgId,
    pub to_org_name: String,
    pub to_person: Option<String>,
    pub role: TeamRole,
    pub in_reply_to: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub version: i64,
    pub document_entry_id: Option<String>,
}

/// A letter with its content, attachments, history and replies.
#[derive(Debug, Clone, Serialize)]
pub struct LetterView {
    #[serde(flatten)]
    pub summary: LetterSummary,
    pub content: LetterContent,
    pub saved_at: String,
    pub content_hash: String,
    pub attachments: Vec<LetterAttachment>,
    pub events: Vec<LetterEventRow>,
    /// Replies to this letter that the reader may see.
    pub replies: Vec<String>,
}

impl LetterView {
    /// Which side of this letter the person's organization is on.
    pub fn side(&self, who: &Principal) -> Side {
        side_of(who, &self.summary)
    }
}

/// A letter in an organization's letter box, with the patient's name.
#[derive(Debug, Clone, Serialize)]
pub struct LetterBoxRow {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    #[serde(flatten)]
    pub letter: LetterSummary,
}

/// What sending did besides changing the state.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// The recipient organization joined the care team with this send (it was not a
    /// current member before).
    pub joined_team: bool,
}

fn side_of(who: &Principal, l: &LetterSummary) -> Side {
    if who.org == l.from_org_id {
        Side::Writer
    } else if who.org == l.to_org_id {
        Side::Recipient
    } else {
        Side::Other
    }
}

/// Drafts and discarded drafts are the writer's own business.
fn visible_to(who: &Principal, l: &LetterSummary) -> bool {
    match l.state {
        LetterState::Draft | LetterState::Discarded => who.org == l.from_org_id,
        _ => true,
    }
}

const LETTER_SELECT: &str = "SELECT l.id, l.patient_id, l.kind, l.state, l.from_org_id, fo.name AS from_org_name, \
     l.from_user_id, fu.display_name AS from_user_name, l.to_org_id, tor.name AS to_org_name, l.to_person, \
     l.recipient_role, l.in_reply_to, l.created_at, l.sent_at, l.version, l.document_entry_id \
     FROM letters l JOIN organizations fo ON fo.id = l.from_org_id JOIN organizations tor ON tor.id = l.to_org_id \
     JOIN users fu ON fu.id = l.from_user_id";

fn summary_from_row(r: &AnyRow) -> Result<LetterSummary> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    let role: String = r.try_get("recipient_role")?;
    Ok(LetterSummary {
        id: r.try_get("id")?,
        patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
        kind: LetterKind::parse(&kind).map_err(|_| StoreError::Corrupt(format!("letter kind {kind}")))?,
        state: LetterState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("letter state {state}")))?,
        from_org_id: parse_uuid(&r.try_get::<String, _>("from_org_id")?)?,
        from_org_name: r.try_get("from_org_name")?,
        from_user_id: parse_uuid(&r.try_get::<String, _>("from_user_id")?)?,
        from_user_name: r.try_get("from_user_name")?,
        to_org_id: parse_uuid(&r.try_get::<String, _>("to_org_id")?)?,
        to_org_name: r.try_get("to_org_name")?,
        to_person: r.try_get("to_person")?,
        role: TeamRole::parse(&role).map_err(|_| StoreError::Corrupt(format!("role {role}")))?,
        in_reply_to: r.try_get("in_reply_to")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        version: r.try_get("version")?,
        document_entry_id: r.try_get("document_entry_id")?,
    })
}

pub(crate) fn content_hash(patient: &str, letter: &str, version: i64, content: &str, by: &str, at: &str) -> String {
    let mut h = Sha256::new();
    for f in [patient, letter, &version.to_string(), content, by, at] {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

fn invalid(field: &'static str, key: &'static str) -> StoreError {
    StoreError::Invalid(Invalid::one(field, key))
}

impl Store {
    /// The header of a letter on this chart, if the principal may know it exists.
    async fn letter_summary(&self, g: &ChartGrant, id: &str) -> Result<LetterSummary> {
        let r = sqlx::query(AssertSqlSafe(format!("{LETTER_SELECT} WHERE l.patient_id = $1 AND l.id = $2")))
            .bind(g.patient().to_string())
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        let s = summary_from_row(&r)?;
        if !visible_to(g.principal(), &s) {
            return Err(StoreError::NotFound);
        }
        Ok(s)
    }

    /// Check what the writer filled in: the recipient is another approved
    /// organization, the attachments are documents on this chart. Returns the content
    /// with its body trimmed (a draft may still miss required fields).
    async fn check_content(&self, g: &ChartGrant, c: LetterContent) -> Result<LetterContent> {
        let body = c.body.check_draft()?;
        if c.to_org == g.principal().org {
            return Err(invalid("to_org", "err-letter-to-self"));
        }
        match self.get_org(c.to_org).await {
            Ok(o) if o.is_approved() => {}
            _ => return Err(invalid("to_org", "err-org-unknown")),
        }
        if c.role == TeamRole::Owner {
            return Err(invalid("role", "err-team-role"));
        }
        let to_person = match c.to_person.as_deref().map(str::trim) {
            Some(p) if p.chars().count() > 100 => return Err(invalid("to_person", "err-too-long")),
            Some(p) if !p.is_empty() => Some(p.to_string()),
            _ => None,
        };
        let mut attachments: Vec<String> = Vec::new();
        for a in &c.attachments {
            if attachments.contains(a) {
                continue;
            }
            if self.current_document(g, a).await?.is_none() {
                return Err(invalid("attachments", "err-letter-attachment"));
            }
            attachments.push(a.clone());
        }
        Ok(LetterContent { to_org: c.to_org, to_person, role: c.role, body, attachments })
    }

    /// The current version of a document entry on the chart, unless it was marked
    /// entered in error.
    async fn current_document(&self, g: &ChartGrant, entry_id: &str) -> Result<Option<LetterAttachment>> {
        let r = sqlx::query(
            "SELECT e.entry_id, e.body, e.entry_recorded_at FROM entries e WHERE e.patient_id = $1 AND e.entry_id = $2 \
             AND e.kind = 'document' AND NOT EXISTS (SELECT 1 FROM entries n WHERE n.patient_id = e.patient_id AND n.supersedes = e.id) \
             AND NOT EXISTS (SELECT 1 FROM entry_marks m WHERE m.patient_id = e.patient_id AND m.entry_id = e.entry_id)",
        )
        .bind(g.patient().to_string())
        .bind(entry_id)
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let body: String = r.try_get("body")?;
        match serde_json::from_str::<EntryBody>(&body) {
            Ok(EntryBody::Document(d)) => Ok(Some(LetterAttachment {
                entry_id: r.try_get("entry_id")?,
                title: d.title,
                doc_type: d.doc_type,
                files: d.attachments,
                recorded_at: r.try_get("entry_recorded_at")?,
            })),
            _ => Ok(None),
        }
    }

    async fn insert_letter_version(
        &self,
        conn: &mut AnyConnection,
        g: &ChartGrant,
        letter_id: &str,
        version: i64,
        c: &LetterContent,
        now: &str,
    ) -> Result<String> {
        let pid = g.patient().to_string();
        let json = serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let by = g.principal().user.to_string();
        let hash = content_hash(&pid, letter_id, version, &json, &by, now);
        sqlx::query(
            "INSERT INTO letter_versions (patient_id, id, letter_id, version, content, saved_by, saved_at, content_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&pid)
        .bind(self.new_id())
        .bind(letter_id)
        .bind(version)
        .bind(&json)
        .bind(&by)
        .bind(now)
        .bind(&hash)
        .execute(&mut *conn)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Db(sqlx::Error::Database(d))
                if d.message().contains("letter_versions") || d.constraint() == Some("letter_versions_taken") =>
            {
                StoreError::Conflict { field: "version", key: "err-letter-stale" }
            }
            other => other,
        })?;
        Ok(hash)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_letter_event(
        &self,
        conn: &mut AnyConnection,
        g: &ChartGrant,
        letter_id: &str,
        event: &str,
        state_after: LetterState,
        note: Option<&str>,
        now: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO letter_events (patient_id, id, letter_id, event, state_after, by_user, by_org, at, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(g.patient().to_string())
        .bind(self.new_id())
        .bind(letter_id)
        .bind(event)
        .bind(state_after.as_str())
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .bind(now)
        .bind(note)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Move a letter from `from` to `to`, only if nobody moved it meanwhile.
    async fn set_letter_state(
        &self,
        conn: &mut AnyConnection,
        g: &ChartGrant,
        id: &str,
        from: LetterState,
        to: LetterState,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE letters SET state = $1 WHERE patient_id = $2 AND id = $3 AND state = $4")
            .bind(to.as_str())
            .bind(g.patient().to_string())
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict { field: "state", key: "err-letter-state" });
        }
        Ok(())
    }

    /// Start a letter as a draft of the principal's organization. A reply names the
    /// letter it answers; its recipient is that letter's writer.
    pub async fn create_letter(
        &self,
        g: &ChartGrant,
        content: LetterContent,
        in_reply_to: Option<&str>,
        ctx: &AuditCtx,
    ) -> Result<String> {
        g.require(&[ChartAction::Refer])?;
        let mut content = content;
        match (content.body.kind(), in_reply_to) {
            (LetterKind::Reply, Some(orig)) => {
                let o = self.letter_summary(g, orig).await?;
                if side_of(g.principal(), &o) != Side::Recipient
                    || next_state(o.state, LetterEvent::Reply, Side::Recipient).is_none()
                    || o.kind == LetterKind::Reply
                {
                    return Err(StoreError::Conflict { field: "state", key: "err-letter-state" });
                }
                content.to_org = o.from_org_id;
            }
            (LetterKind::Reply, None) => return Err(invalid("in_reply_to", "err-letter-reply-to")),
            (_, Some(_)) => return Err(invalid("in_reply_to", "err-letter-reply-to")),
            (_, None) => {}
        }
        let content = self.check_content(g, content).await?;
        let id = self.new_id();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO letters (patient_id, id, kind, state, from_org_id, from_user_id, to_org_id, to_person, recipient_role, \
             in_reply_to, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(content.body.kind().as_str())
        .bind(LetterState::Draft.as_str())
        .bind(g.principal().org.to_string())
        .bind(g.principal().user.to_string())
        .bind(content.to_org.to_string())
        .bind(content.to_person.as_deref())
        .bind(content.role.as_str())
        .bind(in_reply_to)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let hash = self.insert_letter_version(&mut tx, g, &id, 1, &content, &now).await?;
        self.insert_letter_event(&mut tx, g, &id, "create", LetterState::Draft, None, &now).await?;
        let ev = self.write_event(
            g,
            "letter.create",
            id.clone(),
            format!("{{\"kind\":\"{}\",\"version\":1,\"hash\":\"{hash}\"}}", content.body.kind().as_str()),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Save a new version of a draft. `expected_version` (when given) must be the
    /// version the writer started from, so two people editing one draft do not
    /// overwrite each other silently.
    pub async fn save_letter(
        &self,
        g: &ChartGrant,
        id: &str,
        content: LetterContent,
        expected_version: Option<i64>,
        ctx: &AuditCtx,
    ) -> Result<i64> {
        g.require(&[ChartAction::Refer])?;
        let l = self.letter_summary(g, id).await?;
        if next_state(l.state, LetterEvent::Edit, side_of(g.principal(), &l)).is_none() {
            return Err(StoreError::Conflict { field: "state", key: "err-letter-state" });
        }
        if content.body.kind() != l.kind {
            return Err(invalid("kind", "err-letter-kind"));
        }
        if expected_version.is_some_and(|v| v != l.version) {
            return Err(StoreError::Conflict { field: "version", key: "err-letter-stale" });
        }
        let mut content = content;
        if l.kind == LetterKind::Reply {
            content.to_org = l.to_org_id;
        }
        let content = self.check_content(g, content).await?;
        let version = l.version + 1;
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        let hash = self.insert_letter_version(&mut tx, g, id, version, &content, &now).await?;
        let done = sqlx::query(
            "UPDATE letters SET version = $1, to_org_id = $2, to_person = $3, recipient_role = $4 \
             WHERE patient_id = $5 AND id = $6 AND state = 'draft' AND version = $7",
        )
        .bind(version)
        .bind(content.to_org.to_string())
        .bind(content.to_person.as_deref())
        .bind(content.role.as_str())
        .bind(g.patient().to_string())
        .bind(id)
        .bind(l.version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict { field: "version", key: "err-letter-stale" });
        }
        let ev = self.write_event(
            g,
            "letter.save",
            id.to_string(),
            format!("{{\"version\":{version},\"hash\":\"{hash}\"}}"),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Send a draft. The letter must be complete; the patient must have agreed to
    /// regional sharing (sending shares the chart). In one transaction: the letter is
    /// sent, the recipient organization joins the care team with the chosen role
    /// unless it is already a member, and a reply marks the letter it answers.
    pub async fn send_letter(&self, g: &ChartGrant, id: &str, ctx: &AuditCtx) -> Result<Sent> {
        g.require(&[ChartAction::Refer])?;
        let l = self.letter_summary(g, id).await?;
        if next_state(l.state, LetterEvent::Send, side_of(g.principal(), &l)).is_none() {
            return Err(StoreError::Conflict { field: "state", key: "err-letter-state" });
        }
        let view = self.letter(g, id).await?;
        self.check_sendable(g, &view.content).await?;
        let patient = self.patient(g).await?;
        let pid = g.patient().to_string();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.set_letter_state(&mut tx, g, id, LetterState::Draft, LetterState::Sent).await?;
        sqlx::query("UPDATE letters SET sent_at = $1 WHERE patient_id = $2 AND id = $3")
            .bind(&now)
            .bind(&pid)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.insert_letter_event(&mut tx, g, id, LetterEvent::Send.as_str(), LetterState::Sent, None, &now).await?;
        let member = sqlx::query("SELECT id FROM care_team WHERE patient_id = $1 AND org_id = $2 AND ended_at IS NULL")
            .bind(&pid)
            .bind(l.to_org_id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let joined_team = member.is_none() && l.to_org_id != patient.owner_org_id;
        if joined_team {
            self.insert_team_row(&mut tx, &pid, l.to_org_id, l.role, g.principal().user, &now).await?;
            let ev = self.write_event(
                g,
                "team.add",
                l.to_org_id.to_string(),
                format!("{{\"role\":\"{}\",\"letter\":\"{id}\"}}", l.role.as_str()),
            );
            self.append_audit(&mut tx, &ev, ctx).await?;
        }
        if let Some(orig) = &l.in_reply_to {
            let o = self.letter_summary(g, orig).await?;
            let to = next_state(o.state, LetterEvent::Reply, Side::Recipient)
                .ok_or(StoreError::Conflict { field: "state", key: "err-letter-state" })?;
            self.set_letter_state(&mut tx, g, orig, o.state, to).await?;
            self.insert_letter_event(&mut tx, g, orig, LetterEvent::Reply.as_str(), to, Some(id), &now).await?;
        }
        let ev = self.write_event(
            g,
            "letter.send",
            id.to_string(),
            format!(
                "{{\"to_org\":\"{}\",\"version\":{},\"hash\":\"{}\",\"joined_team\":{joined_team}}}",
                l.to_org_id, l.version, view.content_hash
            ),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        if joined_team {
            self.reach.changed();
        }
        Ok(Sent { joined_team })
    }

    /// Whether a letter with this content could be sent now: complete, to an approved
    /// organization, for a patient who agreed to regional sharing. Checked before a
    /// "save and send" writes anything, so a refused send saves nothing.
    pub async fn check_sendable(&self, g: &ChartGrant, c: &LetterContent) -> Result<()> {
        c.body.clone().check_send()?;
        if self.patient(g).await?.consent != ConsentStatus::Given {
            return Err(invalid("to_org", "err-letter-consent"));
        }
        match self.get_org(c.to_org).await {
            Ok(o) if o.is_approved() && o.id != g.principal().org => Ok(()),
            _ => Err(invalid("to_org", "err-org-unknown")),
        }
    }

    /// The recipient acknowledges a letter.
    pub async fn receive_letter(&self, g: &ChartGrant, id: &str, ctx: &AuditCtx) -> Result<()> {
        self.recipient_moves(g, id, LetterEvent::Receive, None, ctx).await
    }

    /// The recipient declines a letter, saying why. What was shared stays shared; the
    /// recipient may leave the team.
    pub async fn decline_letter(&self, g: &ChartGrant, id: &str, reason: &str, ctx: &AuditCtx) -> Result<()> {
        let reason = tsunagu_domain::validation::required_text("reason", reason, 1000)?;
        self.recipient_moves(g, id, LetterEvent::Decline, Some(&reason), ctx).await
    }

    async fn recipient_moves(
        &self,
        g: &ChartGrant,
        id: &str,
        event: LetterEvent,
        note: Option<&str>,
        ctx: &AuditCtx,
    ) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let l = self.letter_summary(g, id).await?;
        let to = next_state(l.state, event, side_of(g.principal(), &l))
            .ok_or(StoreError::Conflict { field: "state", key: "err-letter-state" })?;
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.set_letter_state(&mut tx, g, id, l.state, to).await?;
        self.insert_letter_event(&mut tx, g, id, event.as_str(), to, note, &now).await?;
        let ev = self.write_event(g, &format!("letter.{}", event.as_str()), id.to_string(), String::new());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The writer throws a draft away. It is kept (and audited), never shown as a letter.
    pub async fn discard_letter(&self, g: &ChartGrant, id: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Refer])?;
        let l = self.letter_summary(g, id).await?;
        let to = next_state(l.state, LetterEvent::Discard, side_of(g.principal(), &l))
            .ok_or(StoreError::Conflict { field: "state", key: "err-letter-state" })?;
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.set_letter_state(&mut tx, g, id, l.state, to).await?;
        self.insert_letter_event(&mut tx, g, id, LetterEvent::Discard.as_str(), to, None, &now).await?;
        let ev = self.write_event(g, "letter.discard", id.to_string(), String::new());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Link the chart document that holds the letter's PDF (once, after sending).
    pub async fn set_letter_document(&self, g: &ChartGrant, id: &str, entry_id: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let l = self.letter_summary(g, id).await?;
        if side_of(g.principal(), &l) != Side::Writer || l.state == LetterState::Draft {
            return Err(StoreError::Conflict { field: "state", key: "err-letter-state" });
        }
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE letters SET document_entry_id = $1 WHERE patient_id = $2 AND id = $3 AND document_entry_id IS NULL",
        )
        .bind(entry_id)
        .bind(g.patient().to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            let ev = self.write_event(g, "letter.document", id.to_string(), format!("{{\"entry\":\"{entry_id}\"}}"));
            self.append_audit(&mut tx, &ev, ctx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The chart's letters the principal may see (sent ones, and its own drafts),
    /// newest first.
    pub async fn letters(&self, g: &ChartGrant) -> Result<Vec<LetterSummary>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.patient_id = $1 AND l.state <> 'discarded' \
             ORDER BY COALESCE(l.sent_at, l.created_at) DESC, l.id DESC"
        )))
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let s = summary_from_row(r)?;
            if visible_to(g.principal(), &s) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// One letter with its latest content, attachments, history and replies.
    pub async fn letter(&self, g: &ChartGrant, id: &str) -> Result<LetterView> {
        let summary = self.letter_summary(g, id).await?;
        let pid = g.patient().to_string();
        let v = sqlx::query(
            "SELECT content, saved_at, content_hash FROM letter_versions WHERE patient_id = $1 AND letter_id = $2 AND version = $3",
        )
        .bind(&pid)
        .bind(id)
        .bind(summary.version)
        .fetch_one(&self.read)
        .await?;
        let content: LetterContent = serde_json::from_str(&v.try_get::<String, _>("content")?)
            .map_err(|e| StoreError::Corrupt(format!("letter content: {e}")))?;
        let mut attachments = Vec::new();
        for a in &content.attachments {
            // A document marked in error after the letter was written drops out of it.
            if let Some(d) = self.current_document(g, a).await? {
                attachments.push(d);
            }
        }
        let events = sqlx::query(
            "SELECT ev.event, ev.state_after, u.display_name, o.name, ev.at, ev.note FROM letter_events ev \
             JOIN users u ON u.id = ev.by_user JOIN organizations o ON o.id = ev.by_org \
             WHERE ev.patient_id = $1 AND ev.letter_id = $2 ORDER BY ev.at, ev.id",
        )
        .bind(&pid)
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let s: String = r.try_get("state_after")?;
            Ok(LetterEventRow {
                event: r.try_get("event")?,
                state_after: LetterState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("letter state {s}")))?,
                by_user_name: r.try_get("display_name")?,
                by_org_name: r.try_get("name")?,
                at: r.try_get("at")?,
                note: r.try_get("note")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let mut replies = Vec::new();
        for r in sqlx::query(AssertSqlSafe(format!(
            "{LETTER_SELECT} WHERE l.patient_id = $1 AND l.in_reply_to = $2 AND l.state <> 'discarded' ORDER BY l.created_at"
        )))
        .bind(&pid)
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        {
            let s = summary_from_row(r)?;
            if visible_to(g.principal(), &s) {
                replies.push(s.id);
            }
        }
        Ok(LetterView {
            summary,
            content,
            saved_at: v.try_get("saved_at")?,
            content_hash: v.try_get("content_hash")?,
            attachments,
            events,
            replies,
        })
    }

    /// An organization's letter box: letters to it (newest first) and letters it sent,
    /// on charts it may still read. One audit record lists the patients shown.
    pub async fn letter_box(&self, who: &Principal, ctx: &AuditCtx) -> Result<(Vec<LetterBoxRow>, Vec<LetterBoxRow>)> {
        let sql = format!(
            "SELECT x.*, p.family_name, p.given_name, p.family_kana, p.given_kana, p.owner_org_id, p.consent_status, \
             CASE WHEN EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member \
             FROM ({LETTER_SELECT}) x JOIN patients p ON p.id = x.patient_id"
        );
        let incoming = sqlx::query(AssertSqlSafe(format!(
            "{sql} WHERE x.to_org_id = $1 AND x.state NOT IN ('draft', 'discarded') ORDER BY x.sent_at DESC LIMIT 200"
        )))
        .bind(who.org.to_string())
        .fetch_all(&self.read)
        .await?;
        let outgoing = sqlx::query(AssertSqlSafe(format!(
            "{sql} WHERE x.from_org_id = $1 AND x.state <> 'discarded' ORDER BY COALESCE(x.sent_at, x.created_at) DESC LIMIT 200"
        )))
        .bind(who.org.to_string())
        .fetch_all(&self.read)
        .await?;
        let pick = |rows: &[AnyRow]| -> Result<Vec<LetterBoxRow>> {
            let mut out = Vec::new();
            for r in rows {
                if !crate::patients::row_allowed(r, who)? {
                    continue;
                }
                let letter = summary_from_row(r)?;
                out.push(LetterBoxRow {
                    family_name: r.try_get("family_name")?,
                    given_name: r.try_get("given_name")?,
                    family_kana: r.try_get("family_kana")?,
                    given_kana: r.try_get("given_kana")?,
                    letter,
                });
            }
            Ok(out)
        };
        let inc = pick(&incoming)?;
        let out = pick(&outgoing)?;
        let shown = Self::distinct_patients(inc.iter().chain(&out).map(|r| r.letter.patient_id));
        self.audit_shown(who, "letters.box", format!("{} in, {} out", inc.len(), out.len()), shown, ctx).await?;
        Ok((inc, out))
    }

    /// How many letters to the organization nobody there has acknowledged yet, on
    /// charts it may read: the alert in the page header. Shows no patient data.
    pub async fn new_letter_count(&self, who: &Principal) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM letters l JOIN patients p ON p.id = l.patient_id \
             WHERE l.to_org_id = $1 AND l.state = 'sent' AND (p.owner_org_id = $1 OR (p.consent_status = 'given' AND EXISTS \
             (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL)))",
        )
        .bind(who.org.to_string())
        .fetch_one(&self.read)
        .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }
}
