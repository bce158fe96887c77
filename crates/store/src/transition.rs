//! From hospital to home (DOMAIN.md §6): a hospital's discharge candidates, the
//! transition case with its stages and checklist, the discharge conference and its
//! sheet, and the region's yearly figures. Every record is append-only: a candidate
//! changes by new versions, a case and a task move by events (a task done and reopened
//! keeps both, with who and when), a sheet by versions. Reads and writes go through a
//! [`ChartGrant`], so the access policy and the audit chain cover them like the chart.

use crate::db::{Store, parse_ts, ts};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::Date;
use tsunagu_domain::org::OrgKind;
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::transition::{
    CandidateStage, DEFAULT_CHECKLIST, EndReason, PhysicianCandidate, TransitionEvent, TransitionStage, distance_km,
    due_date, fiscal_year_range, next_stage,
};
use tsunagu_domain::{Invalid, OrgId, PatientId, UserId};

/// Grants that may read the hospital-to-home records: reading, and the writes that
/// read what they change.
const READS: &[ChartAction] = &[ChartAction::Read, ChartAction::Write, ChartAction::Refer];

fn invalid(field: &'static str, key: &'static str) -> StoreError {
    StoreError::Invalid(Invalid::one(field, key))
}

fn conflict(field: &'static str, key: &'static str) -> StoreError {
    StoreError::Conflict { field, key }
}

fn date_of(s: &str) -> Result<Date> {
    parse_iso_date(s).ok_or_else(|| StoreError::Corrupt(format!("date {s}")))
}

// --- candidates ------------------------------------------------------------------

/// What the ward or liaison office records about an inpatient who might go home.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateInput {
    pub ward: String,
    pub stage: CandidateStage,
    pub reason: String,
    pub barriers: String,
    pub owner: Option<UserId>,
    pub review_date: Option<Date>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateRow {
    pub patient_id: PatientId,
    pub family_name: String,
    pub given_name: String,
    pub id: String,
    pub org_id: OrgId,
    pub version: i64,
    pub ward: String,
    pub stage: CandidateStage,
    pub reason: String,
    pub barriers: String,
    pub owner_user_id: Option<UserId>,
    pub owner_name: String,
    pub review_date: Option<Date>,
    pub recorded_at: String,
    pub recorded_by_name: String,
    pub flagged_at: String,
    /// The stage of the patient's transition case, if one was opened since.
    pub case_stage: Option<TransitionStage>,
}

const CANDIDATE_SELECT: &str = "SELECT c.patient_id, c.id, c.org_id, c.created_at AS flagged_at, v.version, v.ward, \
     v.stage, v.reason, v.barriers, v.owner_user_id, v.review_date, v.recorded_at, \
     COALESCE(ou.display_name, '') AS owner_name, ru.display_name AS recorded_by_name, \
     p.family_name, p.given_name, p.owner_org_id, p.consent_status, \
     (SELECT e.stage_after FROM transition_cases k JOIN transition_events e ON e.patient_id = k.patient_id AND e.case_id = k.id \
        WHERE k.patient_id = c.patient_id AND k.hospital_org_id = c.org_id ORDER BY k.created_at DESC, e.seq DESC LIMIT 1) AS case_stage, \
     CASE WHEN EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member \
     FROM discharge_candidates c \
     JOIN candidate_versions v ON v.patient_id = c.patient_id AND v.candidate_id = c.id \
       AND v.version = (SELECT MAX(x.version) FROM candidate_versions x WHERE x.patient_id = c.patient_id AND x.candidate_id = c.id) \
     JOIN patients p ON p.id = c.patient_id \
     JOIN users ru ON ru.id = v.recorded_by \
     LEFT JOIN users ou ON ou.id = v.owner_user_id";

fn candidate_from_row(r: &AnyRow) -> Result<CandidateRow> {
    let stage: String = r.try_get("stage")?;
    Ok(CandidateRow {
        patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
        family_name: r.try_get("family_name")?,
        given_name: r.try_get("given_name")?,
        id: r.try_get("id")?,
        org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
        version: r.try_get("version")?,
        ward: r.try_get("ward")?,
        stage: CandidateStage::parse(&stage).map_err(|_| StoreError::Corrupt(format!("candidate stage {stage}")))?,
        reason: r.try_get("reason")?,
        barriers: r.try_get("barriers")?,
        owner_user_id: r.try_get::<Option<String>, _>("owner_user_id")?.map(|s| parse_uuid(&s)).transpose()?,
        owner_name: r.try_get("owner_name")?,
        review_date: r.try_get::<Option<String>, _>("review_date")?.map(|s| date_of(&s)).transpose()?,
        recorded_at: r.try_get("recorded_at")?,
        recorded_by_name: r.try_get("recorded_by_name")?,
        flagged_at: r.try_get("flagged_at")?,
        case_stage: r
            .try_get::<Option<String>, _>("case_stage")?
            .map(|s| TransitionStage::parse(&s).map_err(|_| StoreError::Corrupt(format!("stage {s}"))))
            .transpose()?,
    })
}

/// A hospital's list filter: by ward and stage (empty means all).
#[derive(Debug, Clone, Default)]
pub struct CandidateFilter {
    pub ward: Option<String>,
    pub stage: Option<CandidateStage>,
}

// --- cases -----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct CaseInput {
    pub planned_discharge: Date,
    /// The patient's home, for ranking by distance (no map service: typed or known).
    pub home: Option<(f64, f64)>,
    /// What the patient and family wish (free text, on the conference sheet too).
    pub wishes: String,
    /// A clinic the patient or family asked for by name.
    pub wished_org: Option<OrgId>,
}

/// Which organization a case chooses for the community side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunityRole {
    HomePhysician,
    VisitingNurse,
    CareManager,
}

impl CommunityRole {
    pub const ALL: [CommunityRole; 3] =
        [CommunityRole::HomePhysician, CommunityRole::VisitingNurse, CommunityRole::CareManager];
    pub fn as_str(self) -> &'static str {
        match self {
            CommunityRole::HomePhysician => "home_physician",
            CommunityRole::VisitingNurse => "visiting_nurse",
            CommunityRole::CareManager => "care_manager",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
    fn event_kind(self) -> &'static str {
        match self {
            CommunityRole::HomePhysician => "choose_home_physician",
            CommunityRole::VisitingNurse => "choose_visiting_nurse",
            CommunityRole::CareManager => "choose_care_manager",
        }
    }
    /// The kinds of organization that can take the role.
    pub fn kinds(self) -> &'static [OrgKind] {
        match self {
            CommunityRole::HomePhysician => &[OrgKind::Clinic, OrgKind::Hospital],
            CommunityRole::VisitingNurse => &[OrgKind::VisitingNurseStation],
            CommunityRole::CareManager => &[OrgKind::CareManagerOffice],
        }
    }
    pub fn team_role(self) -> tsunagu_domain::patient::TeamRole {
        use tsunagu_domain::patient::TeamRole;
        match self {
            CommunityRole::HomePhysician => TeamRole::HomePhysician,
            CommunityRole::VisitingNurse => TeamRole::VisitingNurse,
            CommunityRole::CareManager => TeamRole::CareManager,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseEventRow {
    pub seq: i64,
    pub kind: String,
    pub stage_after: TransitionStage,
    pub org_id: Option<OrgId>,
    pub org_name: Option<String>,
    pub detail: String,
    pub at: String,
    pub by_name: String,
    pub by_org_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskEventRow {
    pub seq: i64,
    pub kind: String,
    pub owner_name: Option<String>,
    pub at: String,
    pub by_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub id: String,
    pub key: String,
    pub owner_user_id: UserId,
    pub owner_name: String,
    pub due_date: Date,
    /// When and by whom it was done, if its latest event is "done".
    pub done: Option<(String, String)>,
    pub events: Vec<TaskEventRow>,
}

impl TaskRow {
    pub fn overdue(&self, today: Date) -> bool {
        self.done.is_none() && self.due_date < today
    }
}

/// The discharge-conference sheet (退院前カンファレンス記録), as the conference fills it in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceSheet {
    #[serde(default)]
    pub present: String,
    #[serde(default)]
    pub roles_after_discharge: String,
    #[serde(default)]
    pub patient_wishes: String,
    #[serde(default)]
    pub family_wishes: String,
    #[serde(default)]
    pub medical_status: String,
    #[serde(default)]
    pub symptom_plan: String,
    #[serde(default)]
    pub medications_devices: String,
    #[serde(default)]
    pub night_plan: String,
    #[serde(default)]
    pub next_visits: String,
}

impl ConferenceSheet {
    /// Every field in the order of the printed sheet: (name, text).
    pub fn fields(&self) -> [(&'static str, &str); 9] {
        [
            ("present", &self.present),
            ("roles_after_discharge", &self.roles_after_discharge),
            ("patient_wishes", &self.patient_wishes),
            ("family_wishes", &self.family_wishes),
            ("medical_status", &self.medical_status),
            ("symptom_plan", &self.symptom_plan),
            ("medications_devices", &self.medications_devices),
            ("night_plan", &self.night_plan),
            ("next_visits", &self.next_visits),
        ]
    }

    pub fn set(&mut self, name: &str, value: String) -> bool {
        let slot = match name {
            "present" => &mut self.present,
            "roles_after_discharge" => &mut self.roles_after_discharge,
            "patient_wishes" => &mut self.patient_wishes,
            "family_wishes" => &mut self.family_wishes,
            "medical_status" => &mut self.medical_status,
            "symptom_plan" => &mut self.symptom_plan,
            "medications_devices" => &mut self.medications_devices,
            "night_plan" => &mut self.night_plan,
            "next_visits" => &mut self.next_visits,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// A conference is held when the sheet says who came, who does what, and the
    /// night-time plan; the rest may be short but these may not be missing.
    pub fn check_held(&self) -> std::result::Result<(), Invalid> {
        let mut inv = Invalid::default();
        for (name, key) in [
            ("present", "err-sheet-present-required"),
            ("roles_after_discharge", "err-sheet-roles-required"),
            ("night_plan", "err-sheet-night-required"),
        ] {
            if self.fields().iter().any(|(n, t)| *n == name && t.trim().is_empty()) {
                inv.push(name, key);
            }
        }
        inv.into_result()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConferenceRow {
    pub id: String,
    pub scheduled_at: String,
    pub place: String,
    pub participants: String,
    pub sheet_version: i64,
    pub sheet: ConferenceSheet,
    pub sheet_recorded_at: Option<String>,
    pub sheet_recorded_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub patient_id: PatientId,
    pub id: String,
    pub hospital_org_id: OrgId,
    pub hospital_name: String,
    pub planned_discharge: Date,
    pub home: Option<(f64, f64)>,
    pub wishes: String,
    pub wished_org: Option<OrgId>,
    pub created_at: String,
    pub created_by_name: String,
    pub stage: TransitionStage,
    pub events: Vec<CaseEventRow>,
    pub tasks: Vec<TaskRow>,
    pub conference: Option<ConferenceRow>,
}

impl CaseView {
    /// The organization last chosen for a role, with its name.
    pub fn chosen(&self, role: CommunityRole) -> Option<(OrgId, String)> {
        self.events
            .iter()
            .rev()
            .find(|e| e.kind == role.event_kind())
            .and_then(|e| Some((e.org_id?, e.org_name.clone().unwrap_or_default())))
    }
    pub fn is_open(&self) -> bool {
        self.stage != TransitionStage::Ended
    }
}

/// One overdue task on its owner's inbox.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueTask {
    pub patient_id: PatientId,
    pub family_name: String,
    pub given_name: String,
    pub task_id: String,
    pub key: String,
    pub due_date: Date,
}

/// The region's (or one hospital's) figures for one fiscal year.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TransitionStats {
    pub fiscal_year: i32,
    pub candidates: i64,
    pub cases_opened: i64,
    pub conferences_held: i64,
    pub discharges_home: i64,
    /// Days from the decision (case opened) to discharge, one per discharge.
    pub days_to_discharge: Vec<i64>,
    /// Cases ended in the year, by reason.
    pub ended: Vec<(EndReason, i64)>,
}

impl TransitionStats {
    pub fn median_days(&self) -> Option<f64> {
        let mut d = self.days_to_discharge.clone();
        d.sort_unstable();
        let n = d.len();
        if n == 0 {
            return None;
        }
        let mid = n / 2;
        if n % 2 == 1 {
            d.get(mid).map(|v| *v as f64)
        } else {
            Some((d.get(mid - 1).copied().unwrap_or(0) + d.get(mid).copied().unwrap_or(0)) as f64 / 2.0)
        }
    }
}

impl Store {
    // --- candidates ---------------------------------------------------------------

    fn check_candidate(input: &CandidateInput) -> Result<()> {
        let mut inv = Invalid::default();
        if input.reason.trim().is_empty() {
            inv.push("reason", "err-required");
        }
        for (field, text, max) in
            [("ward", &input.ward, 40usize), ("reason", &input.reason, 2000), ("barriers", &input.barriers, 2000)]
        {
            if text.chars().count() > max {
                inv.push(field, "err-too-long");
            }
        }
        inv.into_result().map_err(StoreError::Invalid)
    }

    async fn require_hospital(&self, who: &Principal) -> Result<()> {
        let org = self.get_org(who.org).await?;
        if org.kind != OrgKind::Hospital {
            return Err(StoreError::Forbidden);
        }
        Ok(())
    }

    /// The hospital flags one of its inpatients as possibly able to go home.
    pub async fn flag_candidate(&self, g: &ChartGrant, input: &CandidateInput, ctx: &AuditCtx) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        self.require_hospital(g.principal()).await?;
        Self::check_candidate(input)?;
        if self.candidate(g).await?.is_some() {
            return Err(conflict("candidate", "err-candidate-exists"));
        }
        let id = self.new_id();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO discharge_candidates (patient_id, id, org_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(g.principal().org.to_string())
        .bind(&now)
        .bind(g.principal().user.to_string())
        .execute(&mut *tx)
        .await?;
        self.insert_candidate_version(&mut tx, g, &id, 1, input, &now).await?;
        let ev =
            self.write_event(g, "candidate.flag", id.clone(), format!("{{\"stage\":\"{}\"}}", input.stage.as_str()));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A new version of the candidate record (stage, barriers, review date...).
    pub async fn update_candidate(
        &self,
        g: &ChartGrant,
        input: &CandidateInput,
        expected_version: i64,
        ctx: &AuditCtx,
    ) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        Self::check_candidate(input)?;
        let current = self.candidate(g).await?.ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(conflict("version", "err-stale-version"));
        }
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.insert_candidate_version(&mut tx, g, &current.id, current.version + 1, input, &now).await.map_err(
            |e| match e {
                StoreError::Conflict { .. } => conflict("version", "err-stale-version"),
                other => other,
            },
        )?;
        let ev = self.write_event(
            g,
            "candidate.update",
            current.id.clone(),
            format!("{{\"version\":{},\"stage\":\"{}\"}}", current.version + 1, input.stage.as_str()),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_candidate_version(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        g: &ChartGrant,
        id: &str,
        version: i64,
        input: &CandidateInput,
        now: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO candidate_versions (patient_id, candidate_id, version, ward, stage, reason, barriers, owner_user_id, \
             review_date, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(g.patient().to_string())
        .bind(id)
        .bind(version)
        .bind(input.ward.trim())
        .bind(input.stage.as_str())
        .bind(input.reason.trim())
        .bind(input.barriers.trim())
        .bind(input.owner.map(|u| u.to_string()))
        .bind(input.review_date.map(|d| d.to_string()))
        .bind(now)
        .bind(g.principal().user.to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// This hospital's candidate record for the patient, as it is now.
    pub async fn candidate(&self, g: &ChartGrant) -> Result<Option<CandidateRow>> {
        g.require(READS)?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "{CANDIDATE_SELECT} WHERE c.patient_id = $2 AND c.org_id = $1 ORDER BY c.created_at DESC LIMIT 1"
        )))
        .bind(g.principal().org.to_string())
        .bind(g.patient().to_string())
        .fetch_optional(&self.read)
        .await?;
        r.as_ref().map(candidate_from_row).transpose()
    }

    /// The hospital's candidate list, filtered by ward and stage, on charts it may
    /// read; one audit record lists the patients shown.
    pub async fn candidates(&self, who: &Principal, f: &CandidateFilter, ctx: &AuditCtx) -> Result<Vec<CandidateRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{CANDIDATE_SELECT} WHERE c.org_id = $1 AND ($2 = '' OR v.ward = $2) AND ($3 = '' OR v.stage = $3) \
             ORDER BY CASE WHEN v.review_date IS NULL THEN 1 ELSE 0 END, v.review_date, c.created_at LIMIT 500"
        )))
        .bind(who.org.to_string())
        .bind(f.ward.clone().unwrap_or_default())
        .bind(f.stage.map(|s| s.as_str()).unwrap_or(""))
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            if crate::patients::row_allowed(r, who)? {
                out.push(candidate_from_row(r)?);
            }
        }
        let shown = Self::distinct_patients(out.iter().map(|c| c.patient_id));
        self.audit_shown(who, "candidates.list", format!("{} candidates", out.len()), shown, ctx).await?;
        Ok(out)
    }

    /// The wards the hospital has used, for the list filter.
    pub async fn candidate_wards(&self, who: &Principal) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT v.ward FROM candidate_versions v JOIN discharge_candidates c \
             ON c.patient_id = v.patient_id AND c.id = v.candidate_id WHERE c.org_id = $1 AND v.ward <> '' ORDER BY v.ward",
        )
        .bind(who.org.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("ward")?)).collect()
    }

    // --- cases --------------------------------------------------------------------

    /// Discharge is decided: the case opens at "planning" with its checklist, every task
    /// owned by the person opening it until handed on, due before the planned discharge.
    pub async fn open_case(&self, g: &ChartGrant, input: &CaseInput, ctx: &AuditCtx) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        self.require_hospital(g.principal()).await?;
        if input.wishes.chars().count() > 2000 {
            return Err(invalid("wishes", "err-too-long"));
        }
        if let Some((lat, lon)) = input.home
            && !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
        {
            return Err(invalid("home", "err-location"));
        }
        if let Some(org) = input.wished_org {
            self.get_org(org).await.map_err(|_| invalid("wished_org", "err-org-unknown"))?;
        }
        if self.case_for(g).await?.is_some_and(|c| c.is_open()) {
            return Err(conflict("case", "err-case-open"));
        }
        let id = self.new_id();
        let now = ts(self.now());
        let pid = g.patient().to_string();
        let who = g.principal();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO transition_cases (patient_id, id, hospital_org_id, planned_discharge, home_lat, home_lon, wishes, \
             wished_org_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&pid)
        .bind(&id)
        .bind(who.org.to_string())
        .bind(input.planned_discharge.to_string())
        .bind(input.home.map(|h| h.0))
        .bind(input.home.map(|h| h.1))
        .bind(input.wishes.trim())
        .bind(input.wished_org.map(|o| o.to_string()))
        .bind(&now)
        .bind(who.user.to_string())
        .execute(&mut *tx)
        .await?;
        self.insert_case_event(&mut tx, g, &id, 1, "open", TransitionStage::Planning, None, "", &now).await?;
        for t in DEFAULT_CHECKLIST {
            sqlx::query(
                "INSERT INTO transition_tasks (patient_id, id, case_id, task_key, owner_user_id, due_date, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&pid)
            .bind(self.new_id())
            .bind(&id)
            .bind(t.key)
            .bind(who.user.to_string())
            .bind(due_date(input.planned_discharge, t).to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        let ev = self.write_event(
            g,
            "transition.open",
            id.clone(),
            format!("{{\"planned_discharge\":\"{}\",\"tasks\":{}}}", input.planned_discharge, DEFAULT_CHECKLIST.len()),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_case_event(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        g: &ChartGrant,
        case_id: &str,
        seq: i64,
        kind: &str,
        stage_after: TransitionStage,
        org: Option<OrgId>,
        detail: &str,
        now: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO transition_events (patient_id, case_id, seq, kind, stage_after, org_id, detail, at, by_user, by_org) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(g.patient().to_string())
        .bind(case_id)
        .bind(seq)
        .bind(kind)
        .bind(stage_after.as_str())
        .bind(org.map(|o| o.to_string()))
        .bind(detail)
        .bind(now)
        .bind(g.principal().user.to_string())
        .bind(g.principal().org.to_string())
        .execute(&mut **tx)
        .await
        // Two people moving one case at once: the second finds the sequence taken.
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => conflict("case", "err-case-changed"),
            other => other,
        })?;
        Ok(())
    }

    /// The patient's latest transition case (open or ended), with its events, tasks and
    /// the current conference.
    pub async fn case_for(&self, g: &ChartGrant) -> Result<Option<CaseView>> {
        g.require(READS)?;
        let pid = g.patient().to_string();
        let Some(c) = sqlx::query(
            "SELECT k.*, o.name AS hospital_name, u.display_name AS created_by_name FROM transition_cases k \
             JOIN organizations o ON o.id = k.hospital_org_id JOIN users u ON u.id = k.created_by \
             WHERE k.patient_id = $1 ORDER BY k.created_at DESC LIMIT 1",
        )
        .bind(&pid)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let id: String = c.try_get("id")?;
        let events = sqlx::query(
            "SELECT e.*, o.name AS org_name, u.display_name AS by_name, bo.name AS by_org_name FROM transition_events e \
             LEFT JOIN organizations o ON o.id = e.org_id JOIN users u ON u.id = e.by_user \
             JOIN organizations bo ON bo.id = e.by_org WHERE e.patient_id = $1 AND e.case_id = $2 ORDER BY e.seq",
        )
        .bind(&pid)
        .bind(&id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let stage: String = r.try_get("stage_after")?;
            Ok(CaseEventRow {
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                stage_after: TransitionStage::parse(&stage).map_err(|_| StoreError::Corrupt(format!("stage {stage}")))?,
                org_id: r.try_get::<Option<String>, _>("org_id")?.map(|s| parse_uuid(&s)).transpose()?,
                org_name: r.try_get("org_name")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
                by_name: r.try_get("by_name")?,
                by_org_name: r.try_get("by_org_name")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let stage = events.last().map(|e| e.stage_after).unwrap_or(TransitionStage::Planning);
        let tasks = self.tasks_of(&pid, &id).await?;
        let conference = self.current_conference(&pid, &id).await?;
        let lat: Option<f64> = c.try_get("home_lat")?;
        let lon: Option<f64> = c.try_get("home_lon")?;
        Ok(Some(CaseView {
            patient_id: g.patient(),
            id,
            hospital_org_id: parse_uuid(&c.try_get::<String, _>("hospital_org_id")?)?,
            hospital_name: c.try_get("hospital_name")?,
            planned_discharge: date_of(&c.try_get::<String, _>("planned_discharge")?)?,
            home: lat.zip(lon),
            wishes: c.try_get("wishes")?,
            wished_org: c.try_get::<Option<String>, _>("wished_org_id")?.map(|s| parse_uuid(&s)).transpose()?,
            created_at: c.try_get("created_at")?,
            created_by_name: c.try_get("created_by_name")?,
            stage,
            events,
            tasks,
            conference,
        }))
    }

    async fn tasks_of(&self, pid: &str, case_id: &str) -> Result<Vec<TaskRow>> {
        let tasks = sqlx::query(
            "SELECT t.id, t.task_key, t.owner_user_id, t.due_date, u.display_name AS owner_name FROM transition_tasks t \
             JOIN users u ON u.id = t.owner_user_id WHERE t.patient_id = $1 AND t.case_id = $2 ORDER BY t.due_date, t.created_at, t.id",
        )
        .bind(pid)
        .bind(case_id)
        .fetch_all(&self.read)
        .await?;
        let events = sqlx::query(
            "SELECT e.task_id, e.seq, e.kind, e.owner_user_id, e.at, u.display_name AS by_name, ou.display_name AS owner_name \
             FROM task_events e JOIN transition_tasks t ON t.patient_id = e.patient_id AND t.id = e.task_id \
             JOIN users u ON u.id = e.by_user LEFT JOIN users ou ON ou.id = e.owner_user_id \
             WHERE e.patient_id = $1 AND t.case_id = $2 ORDER BY e.task_id, e.seq",
        )
        .bind(pid)
        .bind(case_id)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for t in &tasks {
            let id: String = t.try_get("id")?;
            let mut row = TaskRow {
                key: t.try_get("task_key")?,
                owner_user_id: parse_uuid(&t.try_get::<String, _>("owner_user_id")?)?,
                owner_name: t.try_get("owner_name")?,
                due_date: date_of(&t.try_get::<String, _>("due_date")?)?,
                done: None,
                events: Vec::new(),
                id: id.clone(),
            };
            for e in events.iter().filter(|e| e.try_get::<String, _>("task_id").is_ok_and(|t| t == id)) {
                let ev = TaskEventRow {
                    seq: e.try_get("seq")?,
                    kind: e.try_get("kind")?,
                    owner_name: e.try_get("owner_name")?,
                    at: e.try_get("at")?,
                    by_name: e.try_get("by_name")?,
                };
                match ev.kind.as_str() {
                    "done" => row.done = Some((ev.at.clone(), ev.by_name.clone())),
                    "reopen" => row.done = None,
                    "assign" => {
                        if let Some(o) = e.try_get::<Option<String>, _>("owner_user_id")? {
                            row.owner_user_id = parse_uuid(&o)?;
                            row.owner_name = ev.owner_name.clone().unwrap_or_default();
                        }
                    }
                    _ => {}
                }
                row.events.push(ev);
            }
            out.push(row);
        }
        Ok(out)
    }

    async fn current_conference(&self, pid: &str, case_id: &str) -> Result<Option<ConferenceRow>> {
        let Some(c) = sqlx::query(
            "SELECT id, scheduled_at, place, participants FROM conferences WHERE patient_id = $1 AND case_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(pid)
        .bind(case_id)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let id: String = c.try_get("id")?;
        let sheet = sqlx::query(
            "SELECT s.version, s.body, s.recorded_at, u.display_name AS by_name FROM conference_sheets s \
             JOIN users u ON u.id = s.recorded_by WHERE s.patient_id = $1 AND s.conference_id = $2 ORDER BY s.version DESC LIMIT 1",
        )
        .bind(pid)
        .bind(&id)
        .fetch_optional(&self.read)
        .await?;
        let (sheet_version, sheet, at, by) = match sheet {
            Some(s) => {
                let body: String = s.try_get("body")?;
                let parsed: ConferenceSheet =
                    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("sheet: {e}")))?;
                (s.try_get("version")?, parsed, Some(s.try_get("recorded_at")?), Some(s.try_get("by_name")?))
            }
            None => (0, ConferenceSheet::default(), None, None),
        };
        Ok(Some(ConferenceRow {
            id,
            scheduled_at: c.try_get("scheduled_at")?,
            place: c.try_get("place")?,
            participants: c.try_get("participants")?,
            sheet_version,
            sheet,
            sheet_recorded_at: at,
            sheet_recorded_by: by,
        }))
    }

    async fn open_case_of(&self, g: &ChartGrant, case_id: &str) -> Result<CaseView> {
        let c = self.case_for(g).await?.filter(|c| c.id == case_id).ok_or(StoreError::NotFound)?;
        if !c.is_open() {
            return Err(conflict("case", "err-case-ended"));
        }
        Ok(c)
    }

    /// Move the case on (conference held, discharged home, in home care, ended). The
    /// domain's stage rules decide what may follow what.
    pub async fn move_case(
        &self,
        g: &ChartGrant,
        case_id: &str,
        event: TransitionEvent,
        detail: &str,
        ctx: &AuditCtx,
    ) -> Result<TransitionStage> {
        g.require(&[ChartAction::Write])?;
        let c = self.open_case_of(g, case_id).await?;
        let after = next_stage(c.stage, event).map_err(|_| conflict("stage", "err-transition-stage"))?;
        if event == TransitionEvent::HoldConference {
            c.conference.as_ref().ok_or_else(|| conflict("conference", "err-conference-none"))?.sheet.check_held()?;
        }
        if event == TransitionEvent::Discharge && c.chosen(CommunityRole::HomePhysician).is_none() {
            return Err(conflict("home_physician", "err-home-physician-none"));
        }
        let now = ts(self.now());
        let seq = c.events.last().map(|e| e.seq + 1).unwrap_or(1);
        let kind = match event {
            TransitionEvent::End(_) => "end",
            other => other.as_str(),
        };
        let detail = match event {
            TransitionEvent::End(r) => r.as_str().to_string(),
            _ => detail.trim().to_string(),
        };
        let mut tx = self.write.begin().await?;
        self.insert_case_event(&mut tx, g, case_id, seq, kind, after, None, &detail, &now).await?;
        let ev = self.write_event(
            g,
            &format!("transition.{kind}"),
            case_id.to_string(),
            format!("{{\"stage\":\"{}\"}}", after.as_str()),
        );
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// A person confirms the organization for a community role; the event records who
    /// decided and when. Choosing again replaces the choice (both stay in the history).
    pub async fn choose_org(
        &self,
        g: &ChartGrant,
        case_id: &str,
        role: CommunityRole,
        org: OrgId,
        ctx: &AuditCtx,
    ) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let c = self.open_case_of(g, case_id).await?;
        let target = self.get_org(org).await.map_err(|_| invalid("org", "err-org-unknown"))?;
        if !target.is_approved() || !role.kinds().contains(&target.kind) {
            return Err(invalid("org", "err-org-kind-for-role"));
        }
        let now = ts(self.now());
        let seq = c.events.last().map(|e| e.seq + 1).unwrap_or(1);
        let mut tx = self.write.begin().await?;
        self.insert_case_event(&mut tx, g, case_id, seq, role.event_kind(), c.stage, Some(org), "", &now).await?;
        let ev =
            self.write_event(g, &format!("transition.{}", role.event_kind()), case_id.to_string(), org.to_string());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mark a task done, reopen it, or hand it to someone of the hospital. Done and
    /// reopen must alternate: a done task cannot be silently undone, only reopened by a
    /// new event that names who and when.
    pub async fn task_event(&self, g: &ChartGrant, task_id: &str, kind: TaskEventKind, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let c = self.case_for(g).await?.ok_or(StoreError::NotFound)?;
        let task = c.tasks.iter().find(|t| t.id == task_id).ok_or(StoreError::NotFound)?;
        if !c.is_open() {
            return Err(conflict("case", "err-case-ended"));
        }
        let owner = match kind {
            TaskEventKind::Done if task.done.is_some() => return Err(conflict("task", "err-task-done")),
            TaskEventKind::Reopen if task.done.is_none() => return Err(conflict("task", "err-task-open")),
            TaskEventKind::Assign(u) => {
                let staff = self.staff(c.hospital_org_id).await?;
                if !staff.iter().any(|(s, _)| s.id == u && s.is_active()) {
                    return Err(invalid("owner", "err-owner-unknown"));
                }
                Some(u)
            }
            _ => None,
        };
        let seq = task.events.last().map(|e| e.seq + 1).unwrap_or(1);
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO task_events (patient_id, task_id, seq, kind, owner_user_id, at, by_user) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(g.patient().to_string())
        .bind(task_id)
        .bind(seq)
        .bind(kind.as_str())
        .bind(owner.map(|u| u.to_string()))
        .bind(&now)
        .bind(g.principal().user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from_write(e) {
            StoreError::Conflict { .. } => conflict("task", "err-task-changed"),
            other => other,
        })?;
        let ev = self.write_event(g, &format!("task.{}", kind.as_str()), task_id.to_string(), task.key.clone());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tasks of open cases owned by the person and past their due date, on charts
    /// their organization may read: the inbox's "overdue" list.
    pub async fn overdue_tasks(&self, who: &Principal, today: Date, ctx: &AuditCtx) -> Result<Vec<OverdueTask>> {
        let rows = sqlx::query(
            "SELECT t.patient_id, t.id, t.case_id, t.task_key, t.due_date, p.family_name, p.given_name, p.owner_org_id, \
             p.consent_status, \
             CASE WHEN EXISTS (SELECT 1 FROM care_team ct WHERE ct.patient_id = p.id AND ct.org_id = $2 AND ct.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member, \
             COALESCE((SELECT e.owner_user_id FROM task_events e WHERE e.patient_id = t.patient_id AND e.task_id = t.id AND e.kind = 'assign' \
               ORDER BY e.seq DESC LIMIT 1), t.owner_user_id) AS current_owner, \
             (SELECT e.kind FROM task_events e WHERE e.patient_id = t.patient_id AND e.task_id = t.id AND e.kind <> 'assign' \
               ORDER BY e.seq DESC LIMIT 1) AS last_kind, \
             (SELECT e.stage_after FROM transition_events e WHERE e.patient_id = t.patient_id AND e.case_id = t.case_id \
               ORDER BY e.seq DESC LIMIT 1) AS stage \
             FROM transition_tasks t JOIN patients p ON p.id = t.patient_id \
             WHERE t.due_date < $3 AND (t.owner_user_id = $1 OR EXISTS (SELECT 1 FROM task_events a WHERE a.patient_id = t.patient_id \
               AND a.task_id = t.id AND a.owner_user_id = $1)) ORDER BY t.due_date, t.id",
        )
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .bind(today.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let owner: String = r.try_get("current_owner")?;
            let last: Option<String> = r.try_get("last_kind")?;
            let stage: Option<String> = r.try_get("stage")?;
            if owner != who.user.to_string()
                || last.as_deref() == Some("done")
                || stage.as_deref() == Some(TransitionStage::Ended.as_str())
                || !crate::patients::row_allowed(r, who)?
            {
                continue;
            }
            out.push(OverdueTask {
                patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
                family_name: r.try_get("family_name")?,
                given_name: r.try_get("given_name")?,
                task_id: r.try_get("id")?,
                key: r.try_get("task_key")?,
                due_date: date_of(&r.try_get::<String, _>("due_date")?)?,
            });
        }
        if !out.is_empty() {
            let shown = Self::distinct_patients(out.iter().map(|t| t.patient_id));
            self.audit_shown(who, "tasks.overdue", format!("{} overdue", out.len()), shown, ctx).await?;
        }
        Ok(out)
    }

    // --- the conference -----------------------------------------------------------

    /// Schedule (or reschedule) the discharge conference: a new conference record; the
    /// sheet starts from the previous one's, if any.
    pub async fn schedule_conference(
        &self,
        g: &ChartGrant,
        case_id: &str,
        at: time::PrimitiveDateTime,
        place: &str,
        participants: &str,
        ctx: &AuditCtx,
    ) -> Result<String> {
        g.require(&[ChartAction::Write])?;
        let c = self.open_case_of(g, case_id).await?;
        let after = next_stage(c.stage, TransitionEvent::ScheduleConference)
            .map_err(|_| conflict("stage", "err-transition-stage"))?;
        if place.chars().count() > 200 || participants.chars().count() > 2000 {
            return Err(invalid("place", "err-too-long"));
        }
        let id = self.new_id();
        let now = ts(self.now());
        let at_text = crate::db::minute_text(at);
        let seq = c.events.last().map(|e| e.seq + 1).unwrap_or(1);
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO conferences (patient_id, id, case_id, scheduled_at, place, participants, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(g.patient().to_string())
        .bind(&id)
        .bind(case_id)
        .bind(&at_text)
        .bind(place.trim())
        .bind(participants.trim())
        .bind(&now)
        .bind(g.principal().user.to_string())
        .execute(&mut *tx)
        .await?;
        if let Some(prev) = c.conference.as_ref().filter(|p| p.sheet_version > 0) {
            self.insert_sheet(&mut tx, g, &id, 1, &prev.sheet, &now).await?;
        }
        self.insert_case_event(&mut tx, g, case_id, seq, "schedule_conference", after, None, &at_text, &now).await?;
        let ev = self.write_event(g, "transition.schedule_conference", case_id.to_string(), at_text.clone());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Save the conference sheet as a new version. `expected_version` is the version
    /// the writer started from: two people editing at once do not overwrite each other.
    pub async fn save_sheet(
        &self,
        g: &ChartGrant,
        case_id: &str,
        sheet: &ConferenceSheet,
        expected_version: i64,
        ctx: &AuditCtx,
    ) -> Result<i64> {
        g.require(&[ChartAction::Write])?;
        let c = self.open_case_of(g, case_id).await?;
        let conf = c.conference.ok_or_else(|| conflict("conference", "err-conference-none"))?;
        if conf.sheet_version != expected_version {
            return Err(conflict("version", "err-stale-version"));
        }
        if sheet.fields().iter().any(|(_, t)| t.chars().count() > 4000) {
            return Err(invalid("sheet", "err-too-long"));
        }
        if *sheet == conf.sheet {
            return Ok(conf.sheet_version);
        }
        let version = conf.sheet_version + 1;
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.insert_sheet(&mut tx, g, &conf.id, version, sheet, &now).await.map_err(|e| match e {
            StoreError::Conflict { .. } => conflict("version", "err-stale-version"),
            other => other,
        })?;
        let ev = self.write_event(g, "conference.sheet", conf.id.clone(), format!("{{\"version\":{version}}}"));
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn insert_sheet(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        g: &ChartGrant,
        conference_id: &str,
        version: i64,
        sheet: &ConferenceSheet,
        now: &str,
    ) -> Result<()> {
        let body = serde_json::to_string(sheet).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO conference_sheets (patient_id, conference_id, version, body, recorded_at, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(g.patient().to_string())
        .bind(conference_id)
        .bind(version)
        .bind(body)
        .bind(now)
        .bind(g.principal().user.to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    // --- the proposal -------------------------------------------------------------

    /// Every approved organization that could be the patient's home physician, with
    /// what the ranking needs: when the patient first had to do with it (its care-team
    /// membership or a letter to or from it on this chart), its distance from the home
    /// recorded on the case, the family's wish and its capabilities.
    pub async fn physician_candidates(&self, g: &ChartGrant, case: &CaseView) -> Result<Vec<PhysicianCandidate>> {
        g.require(READS)?;
        let pid = g.patient().to_string();
        let mut seen: Vec<(OrgId, Date)> = Vec::new();
        let rows = sqlx::query(
            "SELECT org_id, MIN(since) AS first FROM care_team WHERE patient_id = $1 GROUP BY org_id \
             UNION ALL SELECT from_org_id AS org_id, MIN(created_at) AS first FROM letters WHERE patient_id = $1 \
               AND state <> 'draft' AND state <> 'discarded' GROUP BY from_org_id \
             UNION ALL SELECT to_org_id AS org_id, MIN(created_at) AS first FROM letters WHERE patient_id = $1 \
               AND state <> 'draft' AND state <> 'discarded' GROUP BY to_org_id",
        )
        .bind(&pid)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            let org: OrgId = parse_uuid(&r.try_get::<String, _>("org_id")?)?;
            let first: String = r.try_get("first")?;
            let d = parse_ts(&first)?.to_offset(time::macros::offset!(+9)).date();
            match seen.iter_mut().find(|(o, _)| *o == org) {
                Some((_, existing)) if d < *existing => *existing = d,
                Some(_) => {}
                None => seen.push((org, d)),
            }
        }
        let orgs = self.list_orgs().await?;
        Ok(orgs
            .into_iter()
            .filter(|o| o.is_approved() && o.kind == OrgKind::Clinic && o.id != case.hospital_org_id)
            .map(|o| PhysicianCandidate {
                org_id: o.id,
                seen_before: seen.iter().find(|(id, _)| *id == o.id).map(|(_, d)| *d),
                distance_km: case.home.zip(o.lat.zip(o.lon)).map(|(h, at)| distance_km(h, at)),
                wished_by_patient_or_family: case.wished_org == Some(o.id),
                support_24h: o.capabilities.support_24h,
                palliative_care: o.capabilities.palliative_care,
                accepts_new_patients: o.capabilities.accepts_new_patients,
                home_visits: o.capabilities.home_visits,
                name: o.name,
            })
            .collect())
    }

    // --- the region's figures -----------------------------------------------------

    /// The yearly figures for one hospital (`org` given) or the whole region. Counts
    /// events by the day they happened (Japan time) within the fiscal year.
    pub async fn transition_stats(&self, org: Option<OrgId>, fiscal_year: i32) -> Result<TransitionStats> {
        let (start, end) = fiscal_year_range(fiscal_year);
        let jst_start = ts(start.midnight().assume_offset(time::macros::offset!(+9)));
        let jst_end = ts(end.midnight().assume_offset(time::macros::offset!(+9)));
        let org_s = org.map(|o| o.to_string()).unwrap_or_default();
        let count = |sql: &'static str| {
            let (a, b, o) = (jst_start.clone(), jst_end.clone(), org_s.clone());
            async move {
                let r = sqlx::query(sql).bind(a).bind(b).bind(o).fetch_one(&self.read).await?;
                Ok::<i64, StoreError>(r.try_get::<i64, _>("n")?)
            }
        };
        let candidates = count(
            "SELECT COUNT(*) AS n FROM discharge_candidates WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR org_id = $3)",
        )
        .await?;
        let cases_opened = count(
            "SELECT COUNT(*) AS n FROM transition_cases WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR hospital_org_id = $3)",
        )
        .await?;
        let conferences_held = count(
            "SELECT COUNT(*) AS n FROM transition_events e JOIN transition_cases k ON k.patient_id = e.patient_id AND k.id = e.case_id \
             WHERE e.kind = 'hold_conference' AND e.at >= $1 AND e.at < $2 AND ($3 = '' OR k.hospital_org_id = $3)",
        )
        .await?;
        let discharges = sqlx::query(
            "SELECT e.at, k.created_at FROM transition_events e JOIN transition_cases k ON k.patient_id = e.patient_id AND k.id = e.case_id \
             WHERE e.kind = 'discharge' AND e.at >= $1 AND e.at < $2 AND ($3 = '' OR k.hospital_org_id = $3)",
        )
        .bind(&jst_start)
        .bind(&jst_end)
        .bind(&org_s)
        .fetch_all(&self.read)
        .await?;
        let jst = |s: &str| parse_ts(s).map(|t| t.to_offset(time::macros::offset!(+9)).date());
        let mut days_to_discharge = Vec::new();
        for r in &discharges {
            let at = jst(&r.try_get::<String, _>("at")?)?;
            let opened = jst(&r.try_get::<String, _>("created_at")?)?;
            days_to_discharge.push((at - opened).whole_days());
        }
        let ends = sqlx::query(
            "SELECT e.detail, COUNT(*) AS n FROM transition_events e JOIN transition_cases k ON k.patient_id = e.patient_id AND k.id = e.case_id \
             WHERE e.kind = 'end' AND e.at >= $1 AND e.at < $2 AND ($3 = '' OR k.hospital_org_id = $3) GROUP BY e.detail",
        )
        .bind(&jst_start)
        .bind(&jst_end)
        .bind(&org_s)
        .fetch_all(&self.read)
        .await?;
        let mut ended = Vec::new();
        for reason in EndReason::ALL {
            let n = ends
                .iter()
                .filter(|r| r.try_get::<String, _>("detail").is_ok_and(|d| d == reason.as_str()))
                .map(|r| r.try_get::<i64, _>("n"))
                .sum::<std::result::Result<i64, _>>()?;
            ended.push((reason, n));
        }
        Ok(TransitionStats {
            fiscal_year,
            candidates,
            cases_opened,
            conferences_held,
            discharges_home: days_to_discharge.len() as i64,
            days_to_discharge,
            ended,
        })
    }
}

/// What can happen to a checklist task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEventKind {
    Done,
    Reopen,
    Assign(UserId),
}

impl TaskEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskEventKind::Done => "done",
            TaskEventKind::Reopen => "reopen",
            TaskEventKind::Assign(_) => "assign",
        }
    }
}
