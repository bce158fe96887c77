//! What every SS-MIX2 import shares (issue #7): a file is imported once per organization,
//! known by its SHA-256 (`import_files`), onto the chart of the patient the organization
//! registered under the file's local id, never one found by guessing.

use crate::Result;
use crate::orgs::parse_uuid;
use sqlx::{AnyConnection, Row};
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

/// The patient a file's items go to, or why nothing is added (`AlreadyImported`,
/// `UnknownPatient`). Run inside the import's transaction.
pub(crate) async fn import_target(
    conn: &mut AnyConnection,
    org: OrgId,
    sha256: &str,
    local_patient_id: &str,
) -> Result<Result<PatientId, ImportOutcome>> {
    let seen = sqlx::query("SELECT 1 AS x FROM import_files WHERE org_id = $1 AND sha256 = $2")
        .bind(org.to_string())
        .bind(sha256)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if seen {
        return Ok(Err(ImportOutcome::AlreadyImported));
    }
    let patient = sqlx::query("SELECT patient_id FROM patient_identifiers WHERE org_id = $1 AND local_id = $2")
        .bind(org.to_string())
        .bind(local_patient_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(patient) = patient else { return Ok(Err(ImportOutcome::UnknownPatient)) };
    Ok(Ok(parse_uuid(&patient.try_get::<String, _>("patient_id")?)?))
}

/// The provenance row of an imported file: `kind` is `lab` or `prescription`.
pub(crate) struct ImportedFile<'a> {
    pub org: OrgId,
    pub sha256: &'a str,
    pub patient: PatientId,
    pub path: &'a str,
    pub kind: &'static str,
    pub items: usize,
    pub imported_at: &'a str,
}

pub(crate) async fn record_import_file(conn: &mut AnyConnection, f: &ImportedFile<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO import_files (org_id, sha256, patient_id, path, kind, items, imported_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(f.org.to_string())
    .bind(f.sha256)
    .bind(f.patient.to_string())
    .bind(f.path)
    .bind(f.kind)
    .bind(i64::try_from(f.items).unwrap_or(i64::MAX))
    .bind(f.imported_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
