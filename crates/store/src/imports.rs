//! What every SS-MIX2 import shares (issue #7): a file is imported once per organization,
//! known by its SHA-256 (`import_files`), onto the chart of the patient the organization
//! registered under the file's local id, never one found by guessing.

use crate::audit::{Appending, append_rows};
use crate::bulk::{BulkBatch, BulkTable, insert_rows, rows_for_keys};
use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::{AuditCtx, AuditEvent, LabFile, Outcome, PrescriptionFile, Result, StoreError};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use tsunagu_domain::{OrgId, PatientId};

/// What became of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Imported now, with this many items.
    Imported(usize),
    /// This organization imported the same file before: nothing added.
    AlreadyImported,
    /// The organization has no patient with this local id: nothing added.
    UnknownPatient,
}

/// One file of an import batch ([`Store::import_files`]).
#[derive(Clone, Copy)]
pub enum ImportFile<'a> {
    Lab(LabFile<'a>),
    Prescriptions(PrescriptionFile<'a>),
}

impl ImportFile<'_> {
    fn org(&self) -> OrgId {
        match self {
            ImportFile::Lab(f) => f.org,
            ImportFile::Prescriptions(f) => f.org,
        }
    }

    fn sha256(&self) -> &str {
        match self {
            ImportFile::Lab(f) => f.sha256,
            ImportFile::Prescriptions(f) => f.sha256,
        }
    }

    fn path(&self) -> &str {
        match self {
            ImportFile::Lab(f) => f.path,
            ImportFile::Prescriptions(f) => f.path,
        }
    }

    fn local_patient_id(&self) -> &str {
        match self {
            ImportFile::Lab(f) => f.local_patient_id,
            ImportFile::Prescriptions(f) => f.local_patient_id,
        }
    }
}

impl Store {
    /// Import a batch of files in one transaction: each file's items onto the chart of
    /// the patient its organization registered under the file's local id, its provenance
    /// row, and an audit record per file (the organization as actor, the patient named).
    /// The outcomes are in the order of `files`. A file imported before, or earlier in
    /// the same batch, adds nothing (`AlreadyImported`); a file of an unregistered
    /// patient adds nothing (`UnknownPatient`).
    ///
    /// One transaction and a few multi-row statements for the whole batch, instead of a
    /// transaction and a statement per item, is what makes a hospital's storage go in at
    /// thousands of files a second (bench/results/scale.md, W6). All or nothing: if the
    /// batch fails, none of it is in, and importing again picks it up.
    pub async fn import_files(&self, files: &[ImportFile<'_>], ctx: &AuditCtx) -> Result<Vec<ImportOutcome>> {
        let mut tx = self.write.begin().await?;
        let mut seen = imported_before(&mut tx, files).await?;
        let patients = registered_patients(&mut tx, files).await?;
        let now = ts(self.now());
        let mut rows = BulkBatch::new();
        let mut events = Vec::new();
        let mut outcomes = Vec::with_capacity(files.len());
        for f in files {
            let key = (f.org(), f.sha256().to_string());
            if seen.contains(&key) {
                outcomes.push(ImportOutcome::AlreadyImported);
                continue;
            }
            let Some(patient) = patients.get(&(f.org(), f.local_patient_id().to_string())).copied() else {
                outcomes.push(ImportOutcome::UnknownPatient);
                continue;
            };
            // The provenance row's kind, the items, the audit action and its detail's key.
            let (kind, items, action, what) = match f {
                ImportFile::Lab(l) => {
                    crate::labs::push_lab_rows(&mut rows, patient, l, &now, || self.new_id())?;
                    ("lab", l.results.len(), "import.labs", "results")
                }
                ImportFile::Prescriptions(p) => {
                    crate::prescriptions::push_prescription_rows(&mut rows, patient, p, &now, || self.new_id())?;
                    ("prescription", p.prescriptions.len(), "import.prescriptions", "prescriptions")
                }
            };
            rows.push(
                BulkTable::ImportFiles,
                [
                    f.org().to_string().into(),
                    f.sha256().into(),
                    patient.to_string().into(),
                    f.path().into(),
                    kind.into(),
                    i64::try_from(items).unwrap_or(i64::MAX).into(),
                    now.as_str().into(),
                ],
            )?;
            events.push(AuditEvent {
                actor_user: None,
                actor_org: Some(f.org()),
                action: action.into(),
                outcome: Outcome::Allowed,
                patient: Some(patient),
                target: f.sha256().to_string(),
                detail: format!("{{\"{what}\":{items}}}"),
            });
            seen.insert(key);
            outcomes.push(ImportOutcome::Imported(items));
        }
        insert_rows(&mut tx, &rows).await?;
        let appending: Vec<_> = events.iter().map(|ev| Appending { ev, ctx, at: &now }).collect();
        append_rows(&mut tx, &appending).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// One file as a batch of one (the single-file calls of the lab and prescription
    /// modules).
    pub(crate) async fn import_one(&self, f: ImportFile<'_>, ctx: &AuditCtx) -> Result<ImportOutcome> {
        let outcomes = self.import_files(&[f], ctx).await?;
        outcomes.first().copied().ok_or_else(|| StoreError::Corrupt("an import of one file gave no outcome".into()))
    }
}

/// The (organization, SHA-256) of the batch's files that are already imported.
async fn imported_before(conn: &mut AnyConnection, files: &[ImportFile<'_>]) -> Result<HashSet<(OrgId, String)>> {
    let mut out = HashSet::new();
    let select = "SELECT sha256 FROM import_files WHERE org_id = $1 AND sha256";
    for (org, keys) in keys_by_org(files, ImportFile::sha256) {
        for r in rows_for_keys(conn, select, org, &keys).await? {
            out.insert((org, r.try_get::<String, _>("sha256")?));
        }
    }
    Ok(out)
}

/// The patients the batch's organizations registered under its files' local ids: the
/// only way a file finds its chart (never a match by name or birth date).
async fn registered_patients(
    conn: &mut AnyConnection,
    files: &[ImportFile<'_>],
) -> Result<HashMap<(OrgId, String), PatientId>> {
    let mut out = HashMap::new();
    let select = "SELECT local_id, patient_id FROM patient_identifiers WHERE org_id = $1 AND local_id";
    for (org, keys) in keys_by_org(files, ImportFile::local_patient_id) {
        for r in rows_for_keys(conn, select, org, &keys).await? {
            let patient = parse_uuid(&r.try_get::<String, _>("patient_id")?)?;
            out.insert((org, r.try_get::<String, _>("local_id")?), patient);
        }
    }
    Ok(out)
}

/// The distinct keys of the files, per organization.
fn keys_by_org<'f, 'a>(
    files: &'f [ImportFile<'a>],
    key: impl Fn(&'f ImportFile<'a>) -> &'f str,
) -> BTreeMap<OrgId, Vec<&'f str>> {
    let mut out: BTreeMap<OrgId, BTreeSet<&str>> = BTreeMap::new();
    for f in files {
        out.entry(f.org()).or_default().insert(key(f));
    }
    out.into_iter().map(|(org, keys)| (org, keys.into_iter().collect())).collect()
}
