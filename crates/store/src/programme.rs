//! The region's programme (DOMAIN.md §8): specialist palliative-care contacts on a
//! chart (through a [`ChartGrant`], audited), and the region's activities and action
//! plans (not patient data: recorded by the operator or an organization's administrator,
//! audited as writes). Append-only: in error is a mark, a change of plan a new version.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;
use tsunagu_domain::OrgId;
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::programme::{ActionPlan, Activity, ActivityKind, CareContact, ContactKind, Pillar, PlanStatus};
use tsunagu_domain::transition::fiscal_year_range;

#[derive(Debug, Clone, Serialize)]
pub struct CareContactRow {
    pub id: String,
    pub kind: ContactKind,
    pub occurred_on: String,
    pub note: String,
    pub recorded_by_name: String,
    pub recorded_org_name: String,
    /// The reason, when it was marked as entered in error.
    pub in_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttendanceRow {
    pub profession: Option<Profession>,
    /// The organization's name; empty for attendees from outside the network.
    pub org_name: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActivityRow {
    pub id: String,
    pub pillar: Pillar,
    pub kind: ActivityKind,
    pub held_on: String,
    pub topic: String,
    pub organizer_org: OrgId,
    pub organizer_name: String,
    pub recorded_by_name: String,
    pub attendance: Vec<AttendanceRow>,
    pub attendees: i64,
    pub in_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionPlanRow {
    pub id: String,
    pub version: i64,
    pub plan: ActionPlan,
    pub recorded_by_name: String,
    pub recorded_at: String,
}

/// Where a chart record's in-error marks go: the table, the column naming the record, the
/// form field a conflict is reported on, and the audited action.
pub(crate) struct MarkTable {
    table: &'static str,
    column: &'static str,
    field: &'static str,
    action: &'static str,
}

const CONTACT_MARK: MarkTable =
    MarkTable { table: "care_contact_marks", column: "contact_id", field: "contact", action: "contact.mark-in-error" };
pub(crate) const ASSESSMENT_MARK: MarkTable = MarkTable {
    table: "assessment_marks",
    column: "assessment_id",
    field: "assessment",
    action: "assessment.mark-in-error",
};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("programme: bad {what}"))
}

fn reason_text(reason: &str) -> Result<String> {
    tsunagu_domain::validation::required_text("reason", reason, 500).map_err(StoreError::Invalid)
}

impl Store {
    /// Record a contact with specialist palliative care on the chart.
    pub async fn record_care_contact(&self, g: &ChartGrant, c: CareContact, ctx: &AuditCtx) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        let c = c.check(self.clock().today_jst()).map_err(StoreError::Invalid)?;
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO care_contacts (patient_id, id, kind, occurred_on, note, recorded_at, recorded_by, recorded_org) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(c.kind.as_str())
        .bind(c.occurred_on.to_string())
        .bind(c.note.trim())
        .bind(ts(self.now()))
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .execute(&mut *tx)
        .await?;
        let ev = self.write_event(g, "contact.record", id.clone(), format!("{{\"kind\":\"{}\"}}", c.kind.as_str()));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The chart's specialist palliative-care contacts, newest first.
    pub async fn care_contacts(&self, g: &ChartGrant) -> Result<Vec<CareContactRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.occurred_on, c.note, u.display_name AS by_name, o.name AS org_name, m.reason \
             FROM care_contacts c JOIN users u ON u.id = c.recorded_by JOIN organizations o ON o.id = c.recorded_org \
             LEFT JOIN care_contact_marks m ON m.patient_id = c.patient_id AND m.contact_id = c.id \
             WHERE c.patient_id = $1 ORDER BY c.occurred_on DESC, c.recorded_at DESC, c.id",
        )
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CareContactRow {
                    id: r.try_get("id")?,
                    kind: ContactKind::parse(&r.try_get::<String, _>("kind")?).map_err(|_| corrupt("contact kind"))?,
                    occurred_on: r.try_get("occurred_on")?,
                    note: r.try_get("note")?,
                    recorded_by_name: r.try_get("by_name")?,
                    recorded_org_name: r.try_get("org_name")?,
                    in_error: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Mark a contact as entered in error, with a reason. It stays on the chart, struck
    /// through, and no longer counts.
    pub async fn mark_care_contact(&self, g: &ChartGrant, id: &str, reason: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let c = self.care_contacts(g).await?.into_iter().find(|c| c.id == id).ok_or(StoreError::NotFound)?;
        self.insert_mark(g, &CONTACT_MARK, id, c.in_error.is_some(), reason, ctx).await
    }

    /// Write the in-error mark of one of the chart's append-only records (a contact, an
    /// assessment) with its audit record; a second mark is a conflict, even racing.
    pub(crate) async fn insert_mark(
        &self,
        g: &ChartGrant,
        m: &MarkTable,
        id: &str,
        already: bool,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let marked = || StoreError::Conflict { field: m.field, key: "err-entry-in-error" };
        let reason = reason_text(reason)?;
        if already {
            return Err(marked());
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (patient_id, {}, reason, marked_at, marked_by) VALUES ($1, $2, $3, $4, $5)",
            m.table, m.column
        )))
        .bind(g.patient().to_string())
        .bind(id)
        .bind(&reason)
        .bind(ts(self.now()))
        .bind(g.principal().user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => marked(),
            other => other,
        })?;
        let ev = self.write_event(g, m.action, id.to_string(), String::new());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    fn programme_event(&self, who: &Principal, action: &str, target: String) -> AuditEvent {
        AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: action.to_string(),
            outcome: Outcome::Allowed,
            patient: None,
            target,
            detail: String::new(),
        }
    }

    /// Record a session or meeting, organized by the recorder's organization. The
    /// operator and organization administrators record them.
    pub async fn record_activity(&self, who: &Principal, a: Activity, ctx: &AuditCtx) -> Result<String> {
        if !who.operator && !who.org_admin {
            return Err(StoreError::Forbidden);
        }
        let a = a.check(self.clock().today_jst()).map_err(StoreError::Invalid)?;
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO programme_activities (id, pillar, kind, held_on, topic, organizer_org, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(a.pillar.as_str())
        .bind(a.kind.as_str())
        .bind(a.held_on.to_string())
        .bind(&a.topic)
        .bind(who.org.to_string())
        .bind(who.user.to_string())
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await?;
        for (line, at) in a.attendance.iter().enumerate() {
            sqlx::query(
                "INSERT INTO programme_attendance (activity_id, line, profession, org_id, attendees) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(line as i64)
            .bind(at.profession.map(|p| p.as_str()).unwrap_or_default())
            .bind(at.org.map(|o| o.to_string()).unwrap_or_default())
            .bind(at.count)
            .execute(&mut *tx)
            .await?;
        }
        self.append_audit(&mut tx, &self.programme_event(who, "programme.activity", id.clone()), ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The sessions and meetings of a fiscal year, newest first, with their attendance.
    pub async fn activities(&self, fy: i32) -> Result<Vec<ActivityRow>> {
        let (start, end) = fiscal_year_range(fy);
        let rows = sqlx::query(
            "SELECT a.id, a.pillar, a.kind, a.held_on, a.topic, a.organizer_org, o.name AS org_name, \
             u.display_name AS by_name, m.reason FROM programme_activities a \
             JOIN organizations o ON o.id = a.organizer_org JOIN users u ON u.id = a.recorded_by \
             LEFT JOIN programme_activity_marks m ON m.activity_id = a.id \
             WHERE a.held_on >= $1 AND a.held_on < $2 ORDER BY a.held_on DESC, a.recorded_at DESC",
        )
        .bind(start.to_string())
        .bind(end.to_string())
        .fetch_all(&self.read)
        .await?;
        let lines = sqlx::query(
            "SELECT t.activity_id, t.profession, t.attendees, COALESCE(o.name, '') AS org_name \
             FROM programme_attendance t JOIN programme_activities a ON a.id = t.activity_id \
             LEFT JOIN organizations o ON o.id = t.org_id \
             WHERE a.held_on >= $1 AND a.held_on < $2 ORDER BY t.activity_id, t.line",
        )
        .bind(start.to_string())
        .bind(end.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut by_activity: HashMap<String, Vec<AttendanceRow>> = HashMap::new();
        for l in &lines {
            let p: String = l.try_get("profession")?;
            by_activity.entry(l.try_get("activity_id")?).or_default().push(AttendanceRow {
                profession: if p.is_empty() {
                    None
                } else {
                    Some(Profession::parse(&p).map_err(|_| corrupt("profession"))?)
                },
                org_name: l.try_get("org_name")?,
                count: l.try_get("attendees")?,
            });
        }
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let attendance = by_activity.remove(&id).unwrap_or_default();
                Ok(ActivityRow {
                    attendees: attendance.iter().map(|a| a.count).sum(),
                    attendance,
                    id,
                    pillar: Pillar::parse(&r.try_get::<String, _>("pillar")?).map_err(|_| corrupt("pillar"))?,
                    kind: ActivityKind::parse(&r.try_get::<String, _>("kind")?).map_err(|_| corrupt("kind"))?,
                    held_on: r.try_get("held_on")?,
                    topic: r.try_get("topic")?,
                    organizer_org: parse_uuid(&r.try_get::<String, _>("organizer_org")?)?,
                    organizer_name: r.try_get("org_name")?,
                    recorded_by_name: r.try_get("by_name")?,
                    in_error: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Mark an activity as recorded in error: the operator, or an administrator of the
    /// organizing organization.
    pub async fn mark_activity(&self, who: &Principal, id: &str, reason: &str, ctx: &AuditCtx) -> Result<()> {
        let reason = reason_text(reason)?;
        let r = sqlx::query("SELECT organizer_org FROM programme_activities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        let organizer = parse_uuid(&r.try_get::<String, _>("organizer_org")?)?;
        let may = who.operator || (who.org_admin && who.org == organizer);
        if !may {
            return Err(StoreError::Forbidden);
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO programme_activity_marks (activity_id, reason, marked_at, marked_by) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&reason)
        .bind(ts(self.now()))
        .bind(who.user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "activity", key: "err-entry-in-error" },
            other => other,
        })?;
        self.append_audit(&mut tx, &self.programme_event(who, "programme.activity.mark-in-error", id.to_string()), ctx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Add an action plan (`id` None) or a new version of one; `expected_version` is the
    /// version the editor saw (a stale one is a conflict). The operator keeps the plans.
    pub async fn save_action_plan(
        &self,
        who: &Principal,
        id: Option<&str>,
        expected_version: i64,
        plan: ActionPlan,
        ctx: &AuditCtx,
    ) -> Result<String> {
        if !who.operator {
            return Err(StoreError::Forbidden);
        }
        let plan = plan.check().map_err(StoreError::Invalid)?;
        let (id, current) = match id {
            None => (self.new_id(), 0),
            Some(id) => {
                let r = sqlx::query("SELECT MAX(version) AS v FROM action_plan_versions WHERE id = $1")
                    .bind(id)
                    .fetch_one(&self.read)
                    .await?;
                match r.try_get::<Option<i64>, _>("v")? {
                    Some(v) => (id.to_string(), v),
                    None => return Err(StoreError::NotFound),
                }
            }
        };
        if current != expected_version {
            return Err(StoreError::Conflict { field: "version", key: "err-stale-version" });
        }
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO action_plan_versions (id, version, fiscal_year, pillar, title, owner, due_on, status, \
             recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(current + 1)
        .bind(i64::from(plan.fiscal_year))
        .bind(plan.pillar.as_str())
        .bind(&plan.title)
        .bind(&plan.owner)
        .bind(plan.due_on.to_string())
        .bind(plan.status.as_str())
        .bind(who.user.to_string())
        .bind(ts(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => StoreError::Conflict { field: "version", key: "err-stale-version" },
            other => other,
        })?;
        self.append_audit(&mut tx, &self.programme_event(who, "programme.plan", id.clone()), ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every version of the action plans of a fiscal year, oldest first per plan; the
    /// last of each id is the plan as it stands.
    pub async fn action_plan_versions(&self, fy: i32) -> Result<Vec<ActionPlanRow>> {
        let rows = sqlx::query(
            "SELECT p.id, p.version, p.fiscal_year, p.pillar, p.title, p.owner, p.due_on, p.status, p.recorded_at, \
             u.display_name AS by_name FROM action_plan_versions p JOIN users u ON u.id = p.recorded_by \
             WHERE p.id IN (SELECT DISTINCT x.id FROM action_plan_versions x WHERE x.fiscal_year = $1) \
             ORDER BY p.id, p.version",
        )
        .bind(i64::from(fy))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let due: String = r.try_get("due_on")?;
                Ok(ActionPlanRow {
                    id: r.try_get("id")?,
                    version: r.try_get("version")?,
                    plan: ActionPlan {
                        fiscal_year: i32::try_from(r.try_get::<i64, _>("fiscal_year")?).map_err(|_| corrupt("year"))?,
                        pillar: Pillar::parse(&r.try_get::<String, _>("pillar")?).map_err(|_| corrupt("pillar"))?,
                        title: r.try_get("title")?,
                        owner: r.try_get("owner")?,
                        due_on: parse_iso_date(&due).ok_or_else(|| corrupt("due date"))?,
                        status: PlanStatus::parse(&r.try_get::<String, _>("status")?).map_err(|_| corrupt("status"))?,
                    },
                    recorded_by_name: r.try_get("by_name")?,
                    recorded_at: r.try_get("recorded_at")?,
                })
            })
            .collect()
    }
}
