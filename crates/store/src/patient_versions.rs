//! Versions of a patient's registered demographics, and the registry look-ups the FHIR
//! API needs: the version in force with its identifiers, every version (`_history`),
//! an update guarded by the version the caller last saw (`If-Match`), and candidates
//! for a search within the caller's reach.
//!
//! `patients` holds the version in force; `patient_versions` holds all of them, the
//! first included, append-only. An update never changes an old version: it writes the
//! next one and moves `patients` to it, in one transaction with its audit record.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::patients::{ChartGrant, OwnedNarrowing, row_allowed};
use crate::registration::Registration;
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::Date;
use tsunagu_domain::patient::{NewPatient, Sex, parse_iso_date};
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{OrgId, PatientId};

/// One version of a patient's demographics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientRecord {
    pub id: PatientId,
    /// 1, 2, ...: the FHIR `versionId` and `ETag`.
    pub version: i64,
    pub owner_org_id: OrgId,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// When this version was recorded (RFC 3339, UTC): FHIR `meta.lastUpdated`.
    pub recorded_at: String,
    /// `register`, `fhir`, `migration` or `generate` (a synthetic prefecture).
    pub via: String,
}

/// An institution's own number for a patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalIdentifier {
    pub patient_id: PatientId,
    pub org_id: OrgId,
    /// The organization's 10-digit medical institution code, when it has one.
    pub institution_code: Option<String>,
    pub local_id: String,
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientUpdate {
    /// The new version in force.
    Updated { version: i64 },
    /// The caller's version is not the one in force; nothing was written.
    Stale { current: i64 },
}

/// An identifier to look for: an institution's number (any institution when the code
/// is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierMatch {
    pub institution_code: Option<String>,
    pub local_id: String,
}

/// The part of a patient search the database narrows; the caller applies the exact
/// rules (string matching, date prefixes) to the candidates. Each list is ORed within,
/// the lists are ANDed.
#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    /// Patient ids; `Some(empty)` matches nothing.
    pub ids: Option<Vec<String>>,
    /// Each inner list is one identifier parameter (its values ORed).
    pub identifiers: Vec<Vec<IdentifierMatch>>,
    /// Search keys (`kana::search_key`) each of which must occur in the kana or the
    /// kanji name.
    pub name_keys: Vec<String>,
    pub sexes: Option<Vec<Sex>>,
}

const RECORD_COLUMNS: &str = "v.patient_id, v.version, p.owner_org_id, v.family_name, v.given_name, v.family_kana, \
     v.given_kana, v.sex, v.birth_date, v.postal_code, v.address, v.phone, v.recorded_at, v.via";

fn record_from_row(r: &AnyRow) -> Result<PatientRecord> {
    let sex: String = r.try_get("sex")?;
    let birth: String = r.try_get("birth_date")?;
    Ok(PatientRecord {
        id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
        version: r.try_get("version")?,
        owner_org_id: parse_uuid(&r.try_get::<String, _>("owner_org_id")?)?,
        family_name: r.try_get("family_name")?,
        given_name: r.try_get("given_name")?,
        family_kana: r.try_get("family_kana")?,
        given_kana: r.try_get("given_kana")?,
        sex: Sex::parse(&sex).map_err(|_| StoreError::Corrupt(format!("sex {sex}")))?,
        birth_date: parse_iso_date(&birth).ok_or_else(|| StoreError::Corrupt(format!("bad date {birth:?}")))?,
        postal_code: r.try_get("postal_code")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        recorded_at: r.try_get("recorded_at")?,
        via: r.try_get("via")?,
    })
}

fn escape_like(term: &str) -> String {
    term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Who recorded a version, through which path (`register`, `fhir`), and when.
pub(crate) struct VersionSource<'a> {
    pub who: &'a Principal,
    pub via: &'a str,
    pub at: &'a str,
}

impl Store {
    /// Write version `version` of a patient's demographics (inside the caller's
    /// transaction).
    pub(crate) async fn insert_patient_version(
        &self,
        conn: &mut AnyConnection,
        patient: &str,
        version: i64,
        p: &NewPatient,
        source: &VersionSource<'_>,
    ) -> Result<()> {
        let VersionSource { who, via, at: now } = *source;
        sqlx::query(
            "INSERT INTO patient_versions (patient_id, version, family_name, given_name, family_kana, given_kana, sex, \
             birth_date, postal_code, address, phone, recorded_at, recorded_by, recorded_org, via) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(patient)
        .bind(version)
        .bind(&p.family_name)
        .bind(&p.given_name)
        .bind(&p.family_kana)
        .bind(&p.given_kana)
        .bind(p.sex.as_str())
        .bind(p.birth_date.to_string())
        .bind(&p.postal_code)
        .bind(&p.address)
        .bind(&p.phone)
        .bind(now)
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .bind(via)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The version in force.
    pub async fn patient_record(&self, g: &ChartGrant) -> Result<PatientRecord> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM patients p JOIN patient_versions v ON v.patient_id = p.id AND v.version = p.version \
             WHERE p.id = $1"
        )))
        .bind(g.patient().to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        record_from_row(&r)
    }

    /// Every version, newest first.
    pub async fn patient_history(&self, g: &ChartGrant) -> Result<Vec<PatientRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM patient_versions v JOIN patients p ON p.id = v.patient_id \
             WHERE v.patient_id = $1 ORDER BY v.version DESC"
        )))
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// One version; `NotFound` when there is no such version.
    pub async fn patient_version(&self, g: &ChartGrant, version: i64) -> Result<PatientRecord> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM patient_versions v JOIN patients p ON p.id = v.patient_id \
             WHERE v.patient_id = $1 AND v.version = $2"
        )))
        .bind(g.patient().to_string())
        .bind(version)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        record_from_row(&r)
    }

    /// Record new demographics as the next version. With `expected`, only when the
    /// version in force is still that one (checked in the same statement that moves
    /// it, so two concurrent writers cannot both succeed).
    pub async fn update_patient(
        &self,
        g: &ChartGrant,
        expected: Option<i64>,
        p: &NewPatient,
        ctx: &AuditCtx,
    ) -> Result<PatientUpdate> {
        let mut tx = self.write.begin().await?;
        let out = self.update_patient_in(&mut tx, g, expected, p, &ts(self.now()), ctx).await?;
        if matches!(out, PatientUpdate::Updated { .. }) {
            tx.commit().await?;
        }
        Ok(out)
    }

    /// [`Store::update_patient`] inside the caller's transaction (a FHIR transaction
    /// Bundle commits all its entries or none), recorded at `now`.
    pub(crate) async fn update_patient_in(
        &self,
        conn: &mut AnyConnection,
        g: &ChartGrant,
        expected: Option<i64>,
        p: &NewPatient,
        now: &str,
        ctx: &AuditCtx,
    ) -> Result<PatientUpdate> {
        g.require(&[ChartAction::Write])?;
        let id = g.patient().to_string();
        let current: i64 = sqlx::query("SELECT version FROM patients WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get("version")?;
        if expected.is_some_and(|e| e != current) {
            return Ok(PatientUpdate::Stale { current });
        }
        let next = current + 1;
        // The name search's grams of the names being replaced (a stale version below
        // leaves this transaction uncommitted, grams and all).
        crate::name_grams::remove(conn, &id).await?;
        let moved = sqlx::query(
            "UPDATE patients SET family_name = $1, given_name = $2, family_kana = $3, given_kana = $4, kana_key = $5, \
             name_key = $6, sex = $7, birth_date = $8, postal_code = $9, address = $10, phone = $11, version = $12 \
             WHERE id = $13 AND version = $14",
        )
        .bind(&p.family_name)
        .bind(&p.given_name)
        .bind(&p.family_kana)
        .bind(&p.given_kana)
        .bind(p.kana_key())
        .bind(p.name_key())
        .bind(p.sex.as_str())
        .bind(p.birth_date.to_string())
        .bind(&p.postal_code)
        .bind(&p.address)
        .bind(&p.phone)
        .bind(next)
        .bind(&id)
        .bind(current)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(PatientUpdate::Stale { current });
        }
        crate::name_grams::add(conn, &[&id]).await?;
        let who = g.principal();
        self.insert_patient_version(conn, &id, next, p, &VersionSource { who, via: "fhir", at: now }).await?;
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: "patient.update".into(),
            outcome: Outcome::Allowed,
            patient: Some(g.patient()),
            target: id,
            detail: format!("version {next}"),
        };
        crate::audit::append_row(conn, &ev, ctx, now.to_string()).await?;
        Ok(PatientUpdate::Updated { version: next })
    }

    /// Patients within the principal's reach that the filter lets through, in
    /// registry order (kana, birth date, id), each decided by the policy. Records
    /// nothing: the caller records what it shows ([`Store::record_patients_shown`]).
    pub async fn patient_candidates(&self, who: &Principal, f: &PatientFilter) -> Result<Vec<PatientRecord>> {
        if f.ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "SELECT {RECORD_COLUMNS}, p.consent_status, \
             CASE WHEN EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL) THEN 1 ELSE 0 END AS is_member \
             FROM patients p JOIN patient_versions v ON v.patient_id = p.id AND v.version = p.version \
             WHERE (p.owner_org_id = $1 OR (p.consent_status = 'given' AND EXISTS \
             (SELECT 1 FROM care_team t WHERE t.patient_id = p.id AND t.org_id = $1 AND t.ended_at IS NULL)))"
        );
        let mut binds: Vec<String> = vec![who.org.to_string()];
        let next = |binds: &mut Vec<String>, v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(ids) = &f.ids {
            let list: Vec<String> = ids.iter().map(|i| next(&mut binds, i.clone())).collect();
            sql.push_str(&format!(" AND p.id IN ({})", list.join(", ")));
        }
        // Identifiers are looked up by their indexes (the local id, with the
        // institution's code when given): one subquery per group, its choices joined.
        for group in &f.identifiers {
            let mut ors = Vec::new();
            for m in group {
                let local = next(&mut binds, m.local_id.clone());
                match &m.institution_code {
                    Some(code) => {
                        let code = next(&mut binds, code.clone());
                        ors.push(format!(
                            "SELECT i.patient_id FROM patient_identifiers i JOIN organizations o ON o.id = i.org_id \
                             WHERE i.local_id = {local} AND o.code = {code}"
                        ));
                    }
                    None => {
                        ors.push(format!("SELECT i.patient_id FROM patient_identifiers i WHERE i.local_id = {local}"))
                    }
                }
            }
            if ors.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND p.id IN ({})", ors.join(" UNION ALL ")));
        }
        let mut like = Vec::new();
        for key in &f.name_keys {
            let k = next(&mut binds, format!("%{}%", escape_like(key)));
            sql.push_str(&format!(" AND (p.kana_key LIKE {k} ESCAPE '\\' OR p.name_key LIKE {k} ESCAPE '\\')"));
            like.push(k);
        }
        // Without ids or identifiers to start from, start from what the organization
        // may reach rather than from the whole registry.
        if f.ids.is_none() && f.identifiers.is_empty() {
            // The owned patients from the first gram any name key holds (each key must
            // occur, so any one of them narrows).
            let gram = f.name_keys.iter().find_map(|k| crate::name_grams::first_gram(k));
            let gram_at = gram.map(|g| next(&mut binds, g));
            let owned = OwnedNarrowing::new(gram_at.as_deref(), &like);
            sql.push_str(&format!(" AND {}", crate::patients::reach_ids(owned)));
        }
        if let Some(sexes) = &f.sexes {
            if sexes.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = sexes.iter().map(|s| next(&mut binds, s.as_str().to_string())).collect();
            sql.push_str(&format!(" AND p.sex IN ({})", list.join(", ")));
        }
        sql.push_str(" ORDER BY p.kana_key, p.birth_date, p.id");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.read).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if row_allowed(r, who)? {
                out.push(record_from_row(r)?);
            }
        }
        Ok(out)
    }

    /// The institutions' numbers of the given patients (which the caller has already
    /// been allowed to show).
    pub async fn local_identifiers(&self, patients: &[PatientId]) -> Result<Vec<LocalIdentifier>> {
        let mut out = Vec::new();
        // Chunks keep the statement within every database's bind limit.
        for chunk in patients.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT i.patient_id, i.org_id, o.code, i.local_id FROM patient_identifiers i \
                 JOIN organizations o ON o.id = i.org_id WHERE i.patient_id IN ({}) ORDER BY i.patient_id, o.code, i.local_id",
                list.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for p in chunk {
                q = q.bind(p.to_string());
            }
            for r in q.fetch_all(&self.read).await? {
                out.push(LocalIdentifier {
                    patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
                    org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
                    institution_code: r.try_get("code")?,
                    local_id: r.try_get("local_id")?,
                });
            }
        }
        Ok(out)
    }

    /// One audit record naming the patients a result showed (a FHIR search, an export).
    pub async fn record_patients_shown(
        &self,
        who: &Principal,
        action: &str,
        target: String,
        shown: &[PatientId],
        ctx: &AuditCtx,
    ) -> Result<()> {
        self.audit_shown(who, action, target, shown.iter().map(ToString::to_string).collect(), ctx).await
    }
}

/// One write of a FHIR transaction.
#[derive(Debug, Clone)]
pub enum PatientWrite {
    Create(NewPatient),
    /// The grant comes from [`Store::open_chart`] with [`ChartAction::Write`].
    Update {
        grant: ChartGrant,
        expected: Option<i64>,
        patient: NewPatient,
    },
}

/// What a write of a FHIR transaction did: the FHIR response of its entry (`Location`,
/// `ETag`, `Last-Modified`) without reading the patient back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientWritten {
    pub id: PatientId,
    /// The version now in force: 1 for a patient registered.
    pub version: i64,
    /// Registered (`201 Created`), or updated (`200 OK`).
    pub created: bool,
    /// When the version was recorded (the transaction's time, RFC 3339).
    pub recorded_at: String,
}

/// Why a batch of writes changed nothing: the first write that failed.
#[derive(Debug)]
pub struct BatchFailure {
    pub index: usize,
    pub error: BatchError,
}

#[derive(Debug)]
pub enum BatchError {
    Stale { current: i64 },
    Store(StoreError),
}

impl Store {
    /// All the writes in one transaction, or none of them: the first failure rolls
    /// back everything before it. Consecutive creates are registered together (a few
    /// multi-row statements for the run, `register_patients_in`); every write is
    /// recorded at the same time.
    pub async fn write_patients(
        &self,
        who: &Principal,
        writes: &[PatientWrite],
        ctx: &AuditCtx,
    ) -> std::result::Result<Vec<PatientWritten>, BatchFailure> {
        let fail = |index: usize, e: StoreError| BatchFailure { index, error: BatchError::Store(e) };
        let mut tx = self.write.begin().await.map_err(|e| fail(0, e.into()))?;
        let now = ts(self.now());
        let mut done = Vec::with_capacity(writes.len());
        let mut first = 0;
        for run in writes.chunk_by(|a, b| matches!((a, b), (PatientWrite::Create(_), PatientWrite::Create(_)))) {
            let creates: Vec<&NewPatient> = run
                .iter()
                .filter_map(|w| match w {
                    PatientWrite::Create(p) => Some(p),
                    PatientWrite::Update { .. } => None,
                })
                .collect();
            if !creates.is_empty() {
                let how = Registration { via: "fhir", detail: "", at: &now };
                let ids = self
                    .register_patients_in(&mut tx, who, &creates, &how, ctx)
                    .await
                    .map_err(|(i, e)| fail(first + i, e))?;
                done.extend(ids.into_iter().map(|id| PatientWritten {
                    id,
                    version: 1,
                    created: true,
                    recorded_at: now.clone(),
                }));
            }
            for (i, w) in run.iter().enumerate() {
                let PatientWrite::Update { grant, expected, patient } = w else { continue };
                let index = first + i;
                match self.update_patient_in(&mut tx, grant, *expected, patient, &now, ctx).await {
                    Ok(PatientUpdate::Updated { version }) => done.push(PatientWritten {
                        id: grant.patient(),
                        version,
                        created: false,
                        recorded_at: now.clone(),
                    }),
                    Ok(PatientUpdate::Stale { current }) => {
                        return Err(BatchFailure { index, error: BatchError::Stale { current } });
                    }
                    Err(e) => return Err(fail(index, e)),
                }
            }
            first += run.len();
        }
        tx.commit().await.map_err(|e| fail(writes.len(), e.into()))?;
        self.reach.changed();
        Ok(done)
    }

    /// Register a patient through the FHIR API (no duplicate check here: the caller
    /// has looked for possible duplicates first).
    pub async fn register_patient_fhir(&self, who: &Principal, p: &NewPatient, ctx: &AuditCtx) -> Result<PatientId> {
        let mut tx = self.write.begin().await?;
        let at = ts(self.now());
        let id =
            self.register_patient_in(&mut tx, who, p, &Registration { via: "fhir", detail: "", at: &at }, ctx).await?;
        tx.commit().await?;
        self.reach.changed();
        Ok(id)
    }
}

/// A finished bulk export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirExportRow {
    pub id: String,
    pub request: String,
    pub transaction_time: String,
    /// `(resource type, SHA-256 of the NDJSON in the object store, resources)`.
    pub outputs: Vec<(String, String, i64)>,
    pub patients: i64,
}

impl Store {
    /// Record a finished export (its files already in the object store).
    pub async fn record_fhir_export(&self, who: &Principal, e: &FhirExportRow, ctx: &AuditCtx) -> Result<()> {
        let outputs: Vec<serde_json::Value> =
            e.outputs.iter().map(|(t, sha, n)| serde_json::json!({ "type": t, "sha256": sha, "count": n })).collect();
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO fhir_exports (id, user_id, org_id, request, transaction_time, outputs, patients) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&e.id)
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .bind(&e.request)
        .bind(&e.transaction_time)
        .bind(serde_json::Value::Array(outputs).to_string())
        .bind(e.patients)
        .execute(&mut *tx)
        .await?;
        let ev = AuditEvent {
            actor_user: Some(who.user),
            actor_org: Some(who.org),
            action: "fhir.export.complete".into(),
            outcome: Outcome::Allowed,
            patient: None,
            target: e.id.clone(),
            detail: format!("{{\"patients\":{}}}", e.patients),
        };
        self.append_audit(&mut tx, &ev, ctx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An export, only for the person (at the organization) who asked for it.
    pub async fn fhir_export(&self, who: &Principal, id: &str) -> Result<Option<FhirExportRow>> {
        let Some(r) = sqlx::query(
            "SELECT id, request, transaction_time, outputs, patients FROM fhir_exports \
             WHERE id = $1 AND user_id = $2 AND org_id = $3",
        )
        .bind(id)
        .bind(who.user.to_string())
        .bind(who.org.to_string())
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let raw: String = r.try_get("outputs")?;
        let v: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("export outputs: {e}")))?;
        let outputs = v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| {
                        (
                            o["type"].as_str().unwrap_or_default().to_string(),
                            o["sha256"].as_str().unwrap_or_default().to_string(),
                            o["count"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(FhirExportRow {
            id: r.try_get("id")?,
            request: r.try_get("request")?,
            transaction_time: r.try_get("transaction_time")?,
            outputs,
            patients: r.try_get("patients")?,
        }))
    }
}
