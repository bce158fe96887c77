//! The patient registry and the chart's governance: registration, search limited to
//! what the searcher may see, care team, consent, key persons, local ids.
//!
//! Everything here that touches one patient's data takes a [`ChartGrant`]; only
//! [`Store::open_chart`] makes one, after [`tsunagu_domain::policy::decide`] allowed
//! it, and it writes the access or the refusal to the audit chain.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::HashSet;
use std::sync::Arc;
use time::Date;
use tsunagu_domain::org::OrgKind;
use tsunagu_domain::patient::{ConsentStatus, KeyPerson, NewPatient, Sex, TeamRole, parse_iso_date};
use tsunagu_domain::policy::{ChartAction, ChartFacts, Decision, Principal, Reason, decide};
use tsunagu_domain::{OrgId, PatientId, UserId};

/// Proof that the policy allowed `principal` to do `action` on `patient`. Fields are
/// private: only the store makes one.
#[derive(Debug, Clone)]
pub struct ChartGrant {
    patient: PatientId,
    principal: Principal,
    action: ChartAction,
    reason: Reason,
}

impl ChartGrant {
    pub fn patient(&self) -> PatientId {
        self.patient
    }
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    pub fn action(&self) -> ChartAction {
        self.action
    }
    /// True when the grant came from owning the chart.
    pub fn is_owner(&self) -> bool {
        self.reason == Reason::Owner
    }
    pub(crate) fn require(&self, allowed: &[ChartAction]) -> Result<()> {
        if allowed.contains(&self.action) { Ok(()) } else { Err(StoreError::Forbidden) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientRow {
    pub id: PatientId,
    pub owner_org_id: OrgId,
    pub owner_org_name: String,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub consent: ConsentStatus,
    pub created_at: String,
}

/// One line of a search result or patient list.
#[derive(Debug, Clone, Serialize)]
pub struct PatientSummary {
    pub id: PatientId,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub owner_org_name: String,
    /// The searcher's own organization's local id for the patient, if any.
    pub local_id: Option<String>,
    pub is_owner: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Kana (any script or width) or kanji, matched anywhere in the name.
    pub text: Option<String>,
    pub birth_date: Option<Date>,
    /// The searcher's own organization's local patient id, exact.
    pub local_id: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamMemberRow {
    pub id: String,
    pub org_id: OrgId,
    pub org_name: String,
    pub org_kind: OrgKind,
    pub org_phone: Option<String>,
    pub org_night_phone: Option<String>,
    pub role: TeamRole,
    pub since: String,
    pub added_by: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsentRow {
    pub status: ConsentStatus,
    pub obtained_by: Option<String>,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyPersonRow {
    pub name: String,
    pub relation: String,
    pub phone: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentifierRow {
    pub org_id: OrgId,
    pub org_name: String,
    pub local_id: String,
}

/// One line of a chart's access history, names resolved.
#[derive(Debug, Clone, Serialize)]
pub struct AccessLogRow {
    pub at: String,
    pub user_name: Option<String>,
    pub org_name: Option<String>,
    pub action: String,
    pub outcome: String,
}

/// What registration did: created the patient, or stopped to show possible duplicates.
#[derive(Debug, Clone)]
pub enum Registered {
    Created(PatientId),
    PossibleDuplicates(Vec<PatientSummary>),
}

fn like_pattern(term: &str) -> String {
    let escaped = term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

fn parse_date(s: &str) -> Result<Date> {
    parse_iso_date(s).ok_or_else(|| StoreError::Corrupt(format!("bad date {s:?}")))
}

pub(crate) fn summary_from_row(r: &AnyRow, who: &Principal) -> Result<PatientSummary> {
    let sex: String = r.try_get("sex")?;
    let owner: String = r.try_get("owner_org_id")?;
    Ok(PatientSummary {
        id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        family_name: r.try_get("family_name")?,
        given_name: r.try_get("given_name")?,
        family_kana: r.try_get("family_kana")?,
        given_kana: r.try_get("given_kana")?,
        sex: Sex::parse(&sex).map_err(|_| StoreError::Corrupt(format!("sex {sex}")))?,
        birth_date: parse_date(&r.try_get::<String, _>("birth_date")?)?,
        owner_org_name: r.try_get("owner_org_name")?,
        local_id: r.try_get("local_id")?,
        is_owner: owner == who.org.to_string(),
    })
}

/// The columns of a summary plus whether the searcher's org is an active team member,
/// so that the policy (not the SQL) has the last word on each row, and the name keys,
/// which the possible-duplicate look-up compares (`registration.rs`).
pub(crate) const SUMMARY_SELECT: &str = "SELECT p.id, p.family_name, p.given_name, p.family_kana, p.given_kana, p.sex, p.birth_date, \
     p.kana_key, p.name_key, p.owner_org_id, p.consent_status, o.name AS owner_org_name, \
     (SELECT MIN(i.local_id) FROM patient_identifiers i WHERE i.patient_id = p.id AND i.org_id = $1) AS local_id, \
     CASE WHEN EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member \
     FROM patients p JOIN organizations o ON o.id = p.owner_org_id";

/// Narrowing in SQL: rows the policy could possibly allow (owner, or a current team
/// member with sharing consent). The policy then decides each row.
pub(crate) const SUMMARY_REACH: &str = "(p.owner_org_id = $1 OR (p.consent_status = 'given' AND EXISTS \
     (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL)))";

/// The patients an organization owns or shares in (an active team membership other
/// than owner), as a subquery that drives a search from the indexes
/// `patients_owner_keys` and `care_team_shared_in` (migration 0021) instead of a scan
/// of the whole registry, which `SUMMARY_REACH` alone (an OR) makes both databases do:
/// at a million patients, seconds per search. A narrowing only: the caller keeps
/// `SUMMARY_REACH`, its name LIKEs and the policy for the exact rule. `$1` is the
/// organization.
pub(crate) fn reach_ids(owned: OwnedNarrowing<'_>) -> String {
    let owned = match owned {
        OwnedNarrowing::All => "SELECT a.id FROM patients a WHERE a.owner_org_id = $1".to_string(),
        OwnedNarrowing::Like(name_like) => {
            let names: String = name_like
                .iter()
                .map(|k| format!(" AND (a.kana_key LIKE {k} ESCAPE '\\' OR a.name_key LIKE {k} ESCAPE '\\')"))
                .collect();
            format!("SELECT a.id FROM patients a WHERE a.owner_org_id = $1{names}")
        }
        OwnedNarrowing::Gram(gram) => {
            format!("SELECT g.patient_id FROM patient_name_grams g WHERE g.owner_org_id = $1 AND g.gram = {gram}")
        }
    };
    format!(
        "p.id IN ({owned} \
         UNION ALL SELECT t.patient_id FROM care_team t WHERE t.org_id = $1 AND t.role <> 'owner' AND t.ended_at IS NULL)"
    )
}

/// How [`reach_ids`] narrows the organization's own patients (tens of thousands for a
/// hospital) before the caller's name filter decides.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OwnedNarrowing<'a> {
    /// No name filter.
    All,
    /// Bound LIKE patterns, tested inside `patients_owner_keys` (a name key of one
    /// character, which no gram holds).
    Like(&'a [String]),
    /// A bound gram ([`crate::name_grams::first_gram`] of a name key): the owned
    /// patients whose names hold it, a key range of `patient_name_grams` (migration 0022).
    Gram(&'a str),
}

impl<'a> OwnedNarrowing<'a> {
    /// From a bound gram if the names give one, else their bound LIKE patterns.
    pub(crate) fn new(gram: Option<&'a str>, name_like: &'a [String]) -> Self {
        match gram {
            Some(g) => OwnedNarrowing::Gram(g),
            None if name_like.is_empty() => OwnedNarrowing::All,
            None => OwnedNarrowing::Like(name_like),
        }
    }
}

pub(crate) fn row_allowed(r: &AnyRow, who: &Principal) -> Result<bool> {
    let owner: OrgId = parse_uuid(&r.try_get::<String, _>("owner_org_id")?)?;
    let consent: String = r.try_get("consent_status")?;
    let mut team = HashSet::new();
    if r.try_get::<i64, _>("is_member")? != 0 {
        team.insert(who.org);
    }
    let facts = ChartFacts {
        owner,
        team,
        // Lists never show a patient through emergency access: it opens one chart,
        // reached on purpose, not search results.
        emergency: HashSet::new(),
        consent: ConsentStatus::parse(&consent).map_err(|_| StoreError::Corrupt(format!("consent {consent}")))?,
    };
    Ok(decide(who, ChartAction::Read, &facts).allowed())
}

impl Store {
    /// What the policy decides on, in one round trip (it runs on every chart opened and
    /// every FHIR read): the patient's row, the current team, and unexpired emergency
    /// access, as rows tagged `p`, `t` and `e`.
    async fn chart_facts(&self, patient: PatientId) -> Result<Option<ChartFacts>> {
        let rows = sqlx::query(
            "SELECT 'p' AS k, owner_org_id AS a, consent_status AS b FROM patients WHERE id = $1 \
             UNION ALL SELECT 't', org_id, '' FROM care_team WHERE patient_id = $1 AND ended_at IS NULL \
             UNION ALL SELECT 'e', user_id, '' FROM emergency_access WHERE patient_id = $1 AND expires_at > $2",
        )
        .bind(patient.to_string())
        .bind(ts(self.now()))
        .fetch_all(&self.read)
        .await?;
        let mut chart: Option<(OrgId, String)> = None;
        let mut team = HashSet::new();
        let mut emergency = HashSet::new();
        for r in &rows {
            let a: String = r.try_get("a")?;
            match r.try_get::<String, _>("k")?.as_str() {
                "p" => chart = Some((parse_uuid(&a)?, r.try_get("b")?)),
                "t" => {
                    team.insert(parse_uuid::<OrgId>(&a)?);
                }
                _ => {
                    emergency.insert(parse_uuid::<UserId>(&a)?);
                }
            }
        }
        let Some((owner, consent)) = chart else { return Ok(None) };
        Ok(Some(ChartFacts {
            owner,
            team,
            consent: ConsentStatus::parse(&consent).map_err(|_| StoreError::Corrupt(format!("consent {consent}")))?,
            emergency,
        }))
    }

    /// The one door to a chart. `what` names the operation for the audit record
    /// (e.g. `chart.read`, `team.add`). Reads are recorded here; writes are recorded by
    /// the write itself, in its transaction. A missing patient and a refused one give
    /// the same `NotFound` and are both recorded as refusals; a team member asking for
    /// something only the owner may do gets `Forbidden`.
    pub async fn open_chart(
        &self,
        who: &Principal,
        patient: PatientId,
        action: ChartAction,
        what: &str,
        ctx: &AuditCtx,
    ) -> Result<ChartGrant> {
        let facts = self.chart_facts(patient).await?;
        let decision = facts.as_ref().map(|f| decide(who, action, f));
        let refuse = |reason: &str| AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: what.to_string(),
            outcome: Outcome::Refused,
            patient: Some(patient),
            target: patient.to_string(),
            detail: reason.to_string(),
        };
        match (facts, decision) {
            (Some(_), Some(Decision::Allow(reason))) => {
                if matches!(action, ChartAction::Read | ChartAction::ReadAccessLog) {
                    let ev = AuditEvent {
                        actor_user: Some(who.user),
                        actor_org: Some(who.org),
                        action: what.to_string(),
                        outcome: Outcome::Allowed,
                        patient: Some(patient),
                        target: patient.to_string(),
                        detail: reason.as_str().to_string(),
                    };
                    self.audit(&ev, ctx).await?;
                }
                Ok(ChartGrant { patient, principal: who.clone(), action, reason })
            }
            (Some(f), Some(Decision::Deny(reason))) => {
                self.audit(&refuse(reason.as_str()), ctx).await?;
                if decide(who, ChartAction::Read, &f).allowed() {
                    Err(StoreError::Forbidden)
                } else {
                    Err(StoreError::NotFound)
                }
            }
            _ => {
                self.audit(&refuse("not_found"), ctx).await?;
                Err(StoreError::NotFound)
            }
        }
    }

    /// Whether the policy would let the grant's holder also do `action` on the same
    /// chart (to offer a button or not). Decides only; records nothing.
    pub async fn allows(&self, g: &ChartGrant, action: ChartAction) -> Result<bool> {
        Ok(self.chart_facts(g.patient).await?.is_some_and(|f| decide(&g.principal, action, &f).allowed()))
    }

    /// Register a patient; the principal's organization owns the chart and is the first
    /// team member. Stops at possible duplicates unless `confirm_new` is set.
    pub async fn register_patient(
        &self,
        who: &Principal,
        p: &NewPatient,
        confirm_new: bool,
        ctx: &AuditCtx,
    ) -> Result<Registered> {
        if !confirm_new {
            let dups = self.possible_duplicates(who, p).await?;
            if !dups.is_empty() {
                return Ok(Registered::PossibleDuplicates(dups));
            }
        }
        let mut tx = self.write.begin().await?;
        let detail = if confirm_new { "confirmed_not_duplicate" } else { "" };
        let at = ts(self.now());
        let how = crate::registration::Registration { via: "register", detail, at: &at };
        let pid = self.register_patient_in(&mut tx, who, p, &how, ctx).await?;
        tx.commit().await?;
        self.reach.changed();
        Ok(Registered::Created(pid))
    }

    pub(crate) async fn insert_team_row(
        &self,
        conn: &mut AnyConnection,
        patient: &str,
        org: OrgId,
        role: TeamRole,
        by: UserId,
        now: &str,
    ) -> Result<String> {
        let id = self.new_id();
        sqlx::query(
            "INSERT INTO care_team (patient_id, id, org_id, role, since, added_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(patient)
        .bind(&id)
        .bind(org.to_string())
        .bind(role.as_str())
        .bind(now)
        .bind(by.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }

    async fn insert_identifier(
        &self,
        conn: &mut AnyConnection,
        patient: &str,
        org: OrgId,
        local: &str,
        by: UserId,
        now: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO patient_identifiers (patient_id, org_id, local_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(patient)
            .bind(org.to_string())
            .bind(local)
            .bind(now)
            .bind(by.to_string())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Every patient whose chart the principal may read: narrowed in SQL like
    /// [`Store::search_patients`], then each decided by the policy. Writes no audit record:
    /// the caller records what it shows (full-text search writes `fulltext.search`).
    pub async fn readable_patient_ids(&self, who: &Principal) -> Result<HashSet<PatientId>> {
        let org = who.org.to_string();
        // The owner reads its own patients whatever the consent (the policy's first
        // rule): the owned ids come from the index alone.
        let owned = sqlx::query("SELECT a.id FROM patients a WHERE a.owner_org_id = $1")
            .bind(&org)
            .fetch_all(&self.read)
            .await?;
        // The charts shared with the organization, each decided by the policy.
        let shared = sqlx::query(
            "SELECT p.id, p.owner_org_id, p.consent_status, 1 AS is_member FROM care_team t \
             JOIN patients p ON p.id = t.patient_id \
             WHERE t.org_id = $1 AND t.role <> 'owner' AND t.ended_at IS NULL",
        )
        .bind(&org)
        .fetch_all(&self.read)
        .await?;
        let mut out = HashSet::with_capacity(owned.len() + shared.len());
        for r in &owned {
            out.insert(parse_uuid(&r.try_get::<String, _>("id")?)?);
        }
        for r in &shared {
            if row_allowed(r, who)? {
                out.insert(parse_uuid(&r.try_get::<String, _>("id")?)?);
            }
        }
        Ok(out)
    }

    /// Which of `patients` (ids, as [`Store::distinct_patients`] gives them) the
    /// principal may read, each decided by the policy: the check behind anything a list
    /// shows, on the registry summary's columns; one query per 500.
    pub(crate) async fn readable_among(&self, who: &Principal, patients: &[String]) -> Result<HashSet<PatientId>> {
        let mut out = HashSet::new();
        for chunk in patients.chunks(500) {
            let list: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let mut q = sqlx::query(AssertSqlSafe(format!("{SUMMARY_SELECT} WHERE p.id IN ({})", list.join(", "))))
                .bind(who.org.to_string());
            for p in chunk {
                q = q.bind(p);
            }
            for r in q.fetch_all(&self.read).await? {
                if row_allowed(&r, who)? {
                    out.insert(parse_uuid(&r.try_get::<String, _>("id")?)?);
                }
            }
        }
        Ok(out)
    }

    /// The patients the principal's organization may read, for narrowing a full-text
    /// search: [`Store::readable_patient_ids`], kept a moment (`reach_cache`). Not a
    /// decision: whoever shows a patient checks the policy on it.
    pub async fn readable_patients_for_search(&self, who: &Principal) -> Result<Arc<Vec<String>>> {
        let now = self.now();
        if let Some(ids) = self.reach.get(who.org, now) {
            return Ok(ids);
        }
        let generation = self.reach.generation();
        let ids: Arc<Vec<String>> =
            Arc::new(self.readable_patient_ids(who).await?.iter().map(ToString::to_string).collect());
        self.reach.keep(who.org, generation, now, ids.clone());
        Ok(ids)
    }

    /// Search the registry within the principal's reach. One audit record lists the
    /// patients the result showed.
    pub async fn search_patients(
        &self,
        who: &Principal,
        q: &SearchQuery,
        ctx: &AuditCtx,
    ) -> Result<Vec<PatientSummary>> {
        // The page's ids first (a common name prefix has thousands of candidates), then
        // the summary's columns and subqueries for those only.
        let mut sql = format!("SELECT p.id FROM patients p WHERE {SUMMARY_REACH}");
        let mut n = 1;
        let text = q.text.as_deref().map(tsunagu_domain::kana::search_key).filter(|t| !t.is_empty());
        // Without a birth date or a local id to start from (their indexes are the
        // narrowest), the search starts from what the organization may reach, and its
        // own patients from the text's first gram.
        let from_reach = q.birth_date.is_none() && q.local_id.is_none();
        let gram = text.as_deref().and_then(crate::name_grams::first_gram).filter(|_| from_reach);
        let mut like = Vec::new();
        if text.is_some() {
            n += 1;
            sql.push_str(&format!(" AND (p.kana_key LIKE ${n} ESCAPE '\\' OR p.name_key LIKE ${n} ESCAPE '\\')"));
            like.push(format!("${n}"));
        }
        let gram_at = gram.as_ref().map(|_| {
            n += 1;
            format!("${n}")
        });
        if q.birth_date.is_some() {
            n += 1;
            sql.push_str(&format!(" AND p.birth_date = ${n}"));
        }
        if q.local_id.is_some() {
            n += 1;
            sql.push_str(&format!(
                " AND p.id IN (SELECT i.patient_id FROM patient_identifiers i WHERE i.org_id = $1 AND i.local_id = ${n})"
            ));
        }
        if from_reach {
            sql.push_str(&format!(" AND {}", reach_ids(OwnedNarrowing::new(gram_at.as_deref(), &like))));
        }
        n += 1;
        let sql = format!(
            "{SUMMARY_SELECT} WHERE p.id IN ({sql} ORDER BY p.kana_key, p.birth_date, p.id LIMIT ${n}) \
             ORDER BY p.kana_key, p.birth_date, p.id"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(who.org.to_string());
        if let Some(t) = &text {
            query = query.bind(like_pattern(t));
        }
        if let Some(g) = gram {
            query = query.bind(g);
        }
        if let Some(d) = q.birth_date {
            query = query.bind(d.to_string());
        }
        if let Some(l) = &q.local_id {
            query = query.bind(l.clone());
        }
        let limit = if q.limit <= 0 { 50 } else { q.limit.min(200) };
        let rows = query.bind(limit).fetch_all(&self.read).await?;
        let mut out = Vec::new();
        for r in &rows {
            if row_allowed(r, who)? {
                out.push(summary_from_row(r, who)?);
            }
        }
        let shown = out.iter().map(|p| p.id.to_string()).collect();
        self.audit_shown(who, "patient.search", format!("{} result(s)", out.len()), shown, ctx).await?;
        Ok(out)
    }

    // --- reads through a grant --------------------------------------------------

    pub async fn patient(&self, g: &ChartGrant) -> Result<PatientRow> {
        let r = sqlx::query(
            "SELECT p.id, p.owner_org_id, o.name AS owner_org_name, p.family_name, p.given_name, p.family_kana, p.given_kana, \
             p.sex, p.birth_date, p.postal_code, p.address, p.phone, p.consent_status, p.created_at \
             FROM patients p JOIN organizations o ON o.id = p.owner_org_id WHERE p.id = $1",
        )
        .bind(g.patient.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let sex: String = r.try_get("sex")?;
        let consent: String = r.try_get("consent_status")?;
        Ok(PatientRow {
            id: g.patient,
            owner_org_id: parse_uuid(&r.try_get::<String, _>("owner_org_id")?)?,
            owner_org_name: r.try_get("owner_org_name")?,
            family_name: r.try_get("family_name")?,
            given_name: r.try_get("given_name")?,
            family_kana: r.try_get("family_kana")?,
            given_kana: r.try_get("given_kana")?,
            sex: Sex::parse(&sex).map_err(|_| StoreError::Corrupt(format!("sex {sex}")))?,
            birth_date: parse_date(&r.try_get::<String, _>("birth_date")?)?,
            postal_code: r.try_get("postal_code")?,
            address: r.try_get("address")?,
            phone: r.try_get("phone")?,
            consent: ConsentStatus::parse(&consent).map_err(|_| StoreError::Corrupt(format!("consent {consent}")))?,
            created_at: r.try_get("created_at")?,
        })
    }

    /// The care team, current members first, with who added them.
    pub async fn team(&self, g: &ChartGrant) -> Result<Vec<TeamMemberRow>> {
        let rows = sqlx::query(
            "SELECT t.id, t.org_id, o.name AS org_name, o.kind AS org_kind, o.phone AS org_phone, o.night_phone AS org_night_phone, \
             t.role, t.since, u.display_name AS added_by, t.ended_at, t.end_reason \
             FROM care_team t JOIN organizations o ON o.id = t.org_id JOIN users u ON u.id = t.added_by \
             WHERE t.patient_id = $1 ORDER BY CASE WHEN t.ended_at IS NULL THEN 0 ELSE 1 END, t.since, t.id",
        )
        .bind(g.patient.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                let kind: String = r.try_get("org_kind")?;
                Ok(TeamMemberRow {
                    id: r.try_get("id")?,
                    org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
                    org_name: r.try_get("org_name")?,
                    org_kind: OrgKind::parse(&kind).map_err(|_| StoreError::Corrupt(format!("kind {kind}")))?,
                    org_phone: r.try_get("org_phone")?,
                    org_night_phone: r.try_get("org_night_phone")?,
                    role: TeamRole::parse(&role).map_err(|_| StoreError::Corrupt(format!("role {role}")))?,
                    since: r.try_get("since")?,
                    added_by: r.try_get("added_by")?,
                    ended_at: r.try_get("ended_at")?,
                    end_reason: r.try_get("end_reason")?,
                })
            })
            .collect()
    }

    /// Consent history, newest first.
    pub async fn consents(&self, g: &ChartGrant) -> Result<Vec<ConsentRow>> {
        let rows = sqlx::query(
            "SELECT c.status, c.obtained_by, c.note, u.display_name AS recorded_by, c.recorded_at \
             FROM consents c JOIN users u ON u.id = c.recorded_by WHERE c.patient_id = $1 ORDER BY c.recorded_at DESC, c.id DESC",
        )
        .bind(g.patient.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("status")?;
                Ok(ConsentRow {
                    status: ConsentStatus::parse(&s).map_err(|_| StoreError::Corrupt(format!("consent {s}")))?,
                    obtained_by: r.try_get("obtained_by")?,
                    note: r.try_get("note")?,
                    recorded_by: r.try_get("recorded_by")?,
                    recorded_at: r.try_get("recorded_at")?,
                })
            })
            .collect()
    }

    pub async fn key_persons(&self, g: &ChartGrant) -> Result<Vec<KeyPersonRow>> {
        let rows = sqlx::query(
            "SELECT name, relation, phone, note FROM key_persons WHERE patient_id = $1 ORDER BY created_at, id",
        )
        .bind(g.patient.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyPersonRow {
                    name: r.try_get("name")?,
                    relation: r.try_get("relation")?,
                    phone: r.try_get("phone")?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    pub async fn identifiers(&self, g: &ChartGrant) -> Result<Vec<IdentifierRow>> {
        let rows = sqlx::query(
            "SELECT i.org_id, o.name AS org_name, i.local_id FROM patient_identifiers i JOIN organizations o ON o.id = i.org_id \
             WHERE i.patient_id = $1 ORDER BY o.name, i.local_id",
        )
        .bind(g.patient.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(IdentifierRow {
                    org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
                    org_name: r.try_get("org_name")?,
                    local_id: r.try_get("local_id")?,
                })
            })
            .collect()
    }

    /// Who accessed this chart, newest first. Needs a ReadAccessLog grant.
    pub async fn access_log(&self, g: &ChartGrant, limit: i64) -> Result<Vec<AccessLogRow>> {
        g.require(&[ChartAction::ReadAccessLog])?;
        let rows = sqlx::query(
            "SELECT a.at, u.display_name AS user_name, o.name AS org_name, a.action, a.outcome FROM audit a \
             LEFT JOIN users u ON u.id = a.actor_user LEFT JOIN organizations o ON o.id = a.actor_org \
             WHERE a.patient_id = $1 ORDER BY a.seq DESC LIMIT $2",
        )
        .bind(g.patient.to_string())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessLogRow {
                    at: r.try_get("at")?,
                    user_name: r.try_get("user_name")?,
                    org_name: r.try_get("org_name")?,
                    action: r.try_get("action")?,
                    outcome: r.try_get("outcome")?,
                })
            })
            .collect()
    }

    // --- writes through a grant -------------------------------------------------

    /// The audit event of an allowed write through a grant.
    pub(crate) fn write_event(&self, g: &ChartGrant, action: &str, target: String, detail: String) -> AuditEvent {
        AuditEvent {
            actor_user: Some(g.principal.user),
            actor_org: Some(g.principal.org),
            action: action.to_string(),
            outcome: Outcome::Allowed,
            patient: Some(g.patient),
            target,
            detail,
        }
    }

    /// The owner adds an organization to the care team with a role, effective now.
    pub async fn add_team_member(&self, g: &ChartGrant, org: OrgId, role: TeamRole, ctx: &AuditCtx) -> Result<String> {
        g.require(&[ChartAction::Govern])?;
        let target = self
            .get_org(org)
            .await
            .map_err(|_| StoreError::Invalid(tsunagu_domain::Invalid::one("org", "err-org-unknown")))?;
        if !target.is_approved() {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("org", "err-org-unknown")));
        }
        let now = ts(self.now());
        let pid = g.patient.to_string();
        let mut tx = self.write.begin().await?;
        let existing =
            sqlx::query("SELECT id FROM care_team WHERE patient_id = $1 AND org_id = $2 AND ended_at IS NULL")
                .bind(&pid)
                .bind(org.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_some() {
            return Err(StoreError::Conflict { field: "org", key: "err-already-on-team" });
        }
        let id = self.insert_team_row(&mut tx, &pid, org, role, g.principal.user, &now).await?;
        let ev = self.write_event(g, "team.add", org.to_string(), role.as_str().to_string());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        self.reach.changed();
        Ok(id)
    }

    /// End a team membership: the owner removes a member, or a member leaves. The row
    /// stays, with when and why it ended.
    pub async fn end_team_membership(
        &self,
        g: &ChartGrant,
        member_id: &str,
        reason: &str,
        ctx: &AuditCtx,
    ) -> Result<()> {
        g.require(&[ChartAction::Govern, ChartAction::Leave])?;
        let pid = g.patient.to_string();
        let mut tx = self.write.begin().await?;
        let row =
            sqlx::query("SELECT org_id, role FROM care_team WHERE patient_id = $1 AND id = $2 AND ended_at IS NULL")
                .bind(&pid)
                .bind(member_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::Invalid(tsunagu_domain::Invalid::one("member", "err-not-on-team")))?;
        let org: String = row.try_get("org_id")?;
        let role: String = row.try_get("role")?;
        if role == TeamRole::Owner.as_str() {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("member", "err-owner-stays")));
        }
        if g.action == ChartAction::Leave && org != g.principal.org.to_string() {
            return Err(StoreError::Forbidden);
        }
        sqlx::query(
            "UPDATE care_team SET ended_at = $1, ended_by = $2, end_reason = $3 WHERE patient_id = $4 AND id = $5",
        )
        .bind(ts(self.now()))
        .bind(g.principal.user.to_string())
        .bind(reason)
        .bind(&pid)
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
        let action = if g.action == ChartAction::Leave { "team.leave" } else { "team.remove" };
        let ev = self.write_event(g, action, org, String::new());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        self.reach.changed();
        Ok(())
    }

    /// Record consent to regional sharing (given or withdrawn). History is kept; the
    /// latest record is in force.
    pub async fn record_consent(
        &self,
        g: &ChartGrant,
        status: ConsentStatus,
        obtained_by: Option<&str>,
        note: Option<&str>,
        ctx: &AuditCtx,
    ) -> Result<()> {
        g.require(&[ChartAction::Govern])?;
        if status == ConsentStatus::NotRecorded {
            return Err(StoreError::Invalid(tsunagu_domain::Invalid::one("status", "err-consent-status")));
        }
        let pid = g.patient.to_string();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO consents (patient_id, id, status, obtained_by, note, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&pid)
            .bind(self.new_id())
            .bind(status.as_str())
            .bind(obtained_by)
            .bind(note)
            .bind(g.principal.user.to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE patients SET consent_status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(&pid)
            .execute(&mut *tx)
            .await?;
        let ev = self.write_event(g, "consent.record", pid.clone(), status.as_str().to_string());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        self.reach.changed();
        Ok(())
    }

    pub async fn add_key_person(&self, g: &ChartGrant, k: &KeyPerson, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let pid = g.patient.to_string();
        let id = self.new_id();
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO key_persons (patient_id, id, name, relation, phone, note, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&pid)
            .bind(&id)
            .bind(&k.name)
            .bind(&k.relation)
            .bind(&k.phone)
            .bind(&k.note)
            .bind(ts(self.now()))
            .bind(g.principal.user.to_string())
            .execute(&mut *tx)
            .await?;
        let ev = self.write_event(g, "key_person.add", id, String::new());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record the principal's organization's own patient number for this patient.
    pub async fn add_identifier(&self, g: &ChartGrant, local_id: &str, ctx: &AuditCtx) -> Result<()> {
        g.require(&[ChartAction::Write])?;
        let pid = g.patient.to_string();
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        self.insert_identifier(&mut tx, &pid, g.principal.org, local_id, g.principal.user, &now).await?;
        let ev = self.write_event(g, "identifier.add", g.principal.org.to_string(), String::new());
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_patients(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM patients").fetch_one(&self.read).await?;
        Ok(r.try_get::<i64, _>("n")?)
    }
}
