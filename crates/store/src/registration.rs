//! Registering patients, one (the registration form, a FHIR create) or many at once (the
//! creates of a FHIR transaction), in the caller's transaction: for each, the registry
//! row, its first version, the owner's team row, the owner's local id, the name search's
//! grams and an audit record. And the possible duplicates that stop a registration,
//! looked up for many patients in one statement.
//!
//! A batch is a few multi-row statements, whatever its size, instead of a statement per
//! row: a transaction of 100 Patients went in at 1.9 ms of CPU per patient before
//! (bench/results/scale.md, W6).

use crate::audit::{Appending, append_rows};
use crate::bulk::{BulkBatch, Placeholders, RegistrationRows, insert_rows, rows_for_keys};
use crate::db::Store;
use crate::orgs::parse_uuid;
use crate::patients::{PatientSummary, SUMMARY_REACH, SUMMARY_SELECT, row_allowed, summary_from_row};
use crate::{AuditCtx, AuditEvent, Outcome, Result, StoreError};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeSet, HashSet};
use tsunagu_domain::patient::NewPatient;
use tsunagu_domain::policy::Principal;
use tsunagu_domain::{OrgId, PatientId};

/// Possible duplicates shown per patient at most (as the registration form lists them).
const DUPLICATES_SHOWN: usize = 20;

/// Patients whose possible duplicates one statement looks up: three `IN` lists of this
/// many values each, well under either database's parameter limit.
const PATIENTS_PER_DUPLICATE_LOOKUP: usize = 150;

/// How patients come to be registered: the path (`register`, `fhir`), what the audit
/// record adds (`confirmed_not_duplicate`), and the time every row of the batch carries.
pub(crate) struct Registration<'a> {
    pub via: &'a str,
    pub detail: &'a str,
    pub at: &'a str,
}

impl Registration<'_> {
    fn audit_detail(&self) -> String {
        if self.via == "register" {
            self.detail.to_string()
        } else {
            format!("via {} {}", self.via, self.detail).trim().to_string()
        }
    }
}

impl Store {
    /// Register one patient inside the caller's transaction (a batch of one).
    pub(crate) async fn register_patient_in(
        &self,
        conn: &mut AnyConnection,
        who: &Principal,
        p: &NewPatient,
        how: &Registration<'_>,
        ctx: &AuditCtx,
    ) -> Result<PatientId> {
        let ids = self.register_patients_in(conn, who, &[p], how, ctx).await.map_err(|(_, e)| e)?;
        ids.into_iter().next().ok_or_else(|| StoreError::Corrupt("a registration of one gave no patient".into()))
    }

    /// Register `patients` inside the caller's transaction, in order; the principal's
    /// organization owns each chart and is its first team member. No duplicate check
    /// here: the caller has looked for possible duplicates first
    /// ([`Store::possible_duplicates_of`]).
    ///
    /// A failure is `(index, error)`: a local id the organization already uses, or one
    /// that comes twice in the batch, fails at that patient's index (`Conflict` on
    /// `local_id`); any other failure is the whole batch's, reported at index 0. The
    /// caller rolls back.
    pub(crate) async fn register_patients_in(
        &self,
        conn: &mut AnyConnection,
        who: &Principal,
        patients: &[&NewPatient],
        how: &Registration<'_>,
        ctx: &AuditCtx,
    ) -> std::result::Result<Vec<PatientId>, (usize, StoreError)> {
        let fail = |index: usize, e: StoreError| (index, e);
        // The unique key on (organization, local id) would refuse a taken id as well,
        // but for the batch as a whole: looked up first, the refusal names its patient.
        let taken = local_ids_taken(conn, who.org, patients).await.map_err(|e| fail(0, e))?;
        let mut in_batch = HashSet::new();
        for (i, local) in patients.iter().enumerate().filter_map(|(i, p)| Some((i, p.local_id.as_deref()?))) {
            if taken.contains(local) || !in_batch.insert(local) {
                return Err(fail(i, StoreError::Conflict { field: "local_id", key: "err-local-id-taken" }));
            }
        }

        let (org, user, at) = (who.org.to_string(), who.user.to_string(), how.at);
        let detail = how.audit_detail();
        let mut rows = BulkBatch::new();
        let mut ids = Vec::with_capacity(patients.len());
        for p in patients {
            let id = self.new_id();
            let team_row = self.new_id();
            let registration = RegistrationRows {
                patient: &id,
                team_row: &team_row,
                owner: &org,
                by: &user,
                at,
                consent: "not_recorded",
                via: how.via,
            };
            rows.push_registration(p, &registration).map_err(|e| fail(0, e))?;
            ids.push(id);
        }
        insert_rows(conn, &rows).await.map_err(|e| fail(0, e))?;
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        crate::name_grams::add(conn, &id_refs).await.map_err(|e| fail(0, e))?;

        let pids = ids.iter().map(|id| parse_uuid(id)).collect::<Result<Vec<PatientId>>>().map_err(|e| fail(0, e))?;
        let events: Vec<AuditEvent> = ids
            .into_iter()
            .zip(&pids)
            .map(|(target, pid)| AuditEvent {
                actor_user: Some(who.user),
                actor_org: Some(who.org),
                action: "patient.register".into(),
                outcome: Outcome::Allowed,
                patient: Some(*pid),
                target,
                detail: detail.clone(),
            })
            .collect();
        let appending: Vec<_> = events.iter().map(|ev| Appending { ev, ctx, at }).collect();
        append_rows(conn, &appending).await.map_err(|e| fail(0, e))?;
        Ok(pids)
    }

    /// Possible duplicates of one patient about to be registered: see
    /// [`Store::possible_duplicates_of`].
    pub async fn possible_duplicates(&self, who: &Principal, p: &NewPatient) -> Result<Vec<PatientSummary>> {
        Ok(self.possible_duplicates_of(who, &[p]).await?.into_iter().next().unwrap_or_default())
    }

    /// For each of `patients` (in order), the patients within the principal's reach
    /// born the same day with the same kana or kanji name, each decided by the policy:
    /// at most [`DUPLICATES_SHOWN`], in kana order. One statement per
    /// [`PATIENTS_PER_DUPLICATE_LOOKUP`] patients: the database narrows by the sets of
    /// birth dates and names, and each patient takes its exact matches from the rows.
    pub async fn possible_duplicates_of(
        &self,
        who: &Principal,
        patients: &[&NewPatient],
    ) -> Result<Vec<Vec<PatientSummary>>> {
        let mut out = Vec::with_capacity(patients.len());
        for chunk in patients.chunks(PATIENTS_PER_DUPLICATE_LOOKUP) {
            let wanted: Vec<(String, String, String)> =
                chunk.iter().map(|p| (p.birth_date.to_string(), p.kana_key(), p.name_key())).collect();
            let births: BTreeSet<&str> = wanted.iter().map(|w| w.0.as_str()).collect();
            let kanas: BTreeSet<&str> = wanted.iter().map(|w| w.1.as_str()).collect();
            let names: BTreeSet<&str> = wanted.iter().map(|w| w.2.as_str()).collect();
            // Numbered even on SQLite: `$1`, the organization, is named more than once.
            let list = |first: usize, n: usize| Placeholders::Numbered.rows_from(first, 1, n);
            // The candidates from the index on (birth date, kana key, name key, id)
            // alone (migration 0023); reach, the policy and the summary for the few
            // that match.
            let sql = format!(
                "{SUMMARY_SELECT} WHERE {SUMMARY_REACH} AND p.id IN (SELECT d.id FROM patients d \
                 WHERE d.birth_date IN {} AND (d.kana_key IN {} OR d.name_key IN {})) ORDER BY p.kana_key, p.id",
                list(2, births.len()),
                list(2 + births.len(), kanas.len()),
                list(2 + births.len() + kanas.len(), names.len()),
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(who.org.to_string());
            for v in births.iter().chain(&kanas).chain(&names) {
                q = q.bind(*v);
            }
            let mut found = Vec::new();
            for r in q.fetch_all(&self.read).await? {
                if row_allowed(&r, who)? {
                    let keys: (String, String, String) =
                        (r.try_get("birth_date")?, r.try_get("kana_key")?, r.try_get("name_key")?);
                    found.push((keys, summary_from_row(&r, who)?));
                }
            }
            for (birth, kana, name) in &wanted {
                out.push(
                    found
                        .iter()
                        .filter(|((b, k, n), _)| b == birth && (k == kana || n == name))
                        .map(|(_, s)| s.clone())
                        .take(DUPLICATES_SHOWN)
                        .collect(),
                );
            }
        }
        Ok(out)
    }
}

/// Which of the patients' local ids the organization already uses.
async fn local_ids_taken(conn: &mut AnyConnection, org: OrgId, patients: &[&NewPatient]) -> Result<HashSet<String>> {
    let keys: BTreeSet<&str> = patients.iter().filter_map(|p| p.local_id.as_deref()).collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<&str> = keys.into_iter().collect();
    let select = "SELECT local_id FROM patient_identifiers WHERE org_id = $1 AND local_id";
    rows_for_keys(conn, select, org, &keys).await?.iter().map(|r| Ok(r.try_get::<String, _>("local_id")?)).collect()
}
