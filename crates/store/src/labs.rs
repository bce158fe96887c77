//! Lab results from other facilities (issue #7): imported from a hospital's SS-MIX2
//! storage, each file once per organization (provenance by the file's SHA-256), onto
//! the chart of the patient the organization knows by that local id. A file for a
//! patient the organization has not registered is not imported (and not guessed): the
//! caller reports it.

use crate::bulk::{BulkBatch, BulkTable};
use crate::db::{Store, ts};
use crate::imports::{ImportFile, ImportOutcome};
use crate::orgs::parse_uuid;
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{OrgId, PatientId};

/// One lab result as an import hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct LabResultIn {
    pub code: String,
    pub code_system: String,
    pub name: String,
    pub value_num: Option<f64>,
    pub value_text: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: String,
    pub observed_at: time::OffsetDateTime,
}

/// One imported file of lab results.
#[derive(Clone, Copy)]
pub struct LabFile<'a> {
    pub org: OrgId,
    pub local_patient_id: &'a str,
    pub sha256: &'a str,
    pub path: &'a str,
    pub results: &'a [LabResultIn],
}

/// A lab result on the chart.
#[derive(Debug, Clone, Serialize)]
pub struct LabResultRow {
    pub id: String,
    pub patient_id: PatientId,
    pub org_id: OrgId,
    pub code: String,
    /// The HL7 v2 coding system of the code (`JC10` for JLAC10, or a local name).
    pub code_system: String,
    pub name: String,
    pub value_num: Option<f64>,
    pub value_text: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: String,
    pub observed_at: String,
    pub org_name: String,
    pub imported_at: String,
}

const LAB_SELECT: &str = "SELECT l.id, l.patient_id, l.org_id, l.code, l.code_system, l.name, l.value_num, \
     l.value_text, l.unit, l.reference_range, l.abnormal, l.observed_at, l.imported_at, o.name AS org_name \
     FROM lab_results l JOIN organizations o ON o.id = l.org_id WHERE l.patient_id = $1";

fn lab_from_row(r: &sqlx::any::AnyRow) -> Result<LabResultRow> {
    Ok(LabResultRow {
        id: r.try_get("id")?,
        patient_id: parse_uuid(&r.try_get::<String, _>("patient_id")?)?,
        org_id: parse_uuid(&r.try_get::<String, _>("org_id")?)?,
        code: r.try_get("code")?,
        code_system: r.try_get("code_system")?,
        name: r.try_get("name")?,
        value_num: r.try_get("value_num")?,
        value_text: r.try_get("value_text")?,
        unit: r.try_get("unit")?,
        reference_range: r.try_get("reference_range")?,
        abnormal: r.try_get("abnormal")?,
        observed_at: r.try_get("observed_at")?,
        org_name: r.try_get("org_name")?,
        imported_at: r.try_get("imported_at")?,
    })
}

impl Store {
    /// Import one file's lab results in one transaction with its provenance row and an
    /// audit record (the organization as actor, the patient named): a batch of one
    /// ([`Store::import_files`]).
    pub async fn import_lab_file(&self, f: &LabFile<'_>, ctx: &AuditCtx) -> Result<ImportOutcome> {
        self.import_one(ImportFile::Lab(*f), ctx).await
    }

    /// The chart's lab results from every facility, by test then time.
    pub async fn lab_results(&self, g: &ChartGrant) -> Result<Vec<LabResultRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(AssertSqlSafe(format!("{LAB_SELECT} ORDER BY l.code, l.observed_at, l.id")))
            .bind(g.patient().to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(lab_from_row).collect()
    }

    /// One lab result of the chart (`None` when the chart has no such result).
    pub async fn lab_result(&self, g: &ChartGrant, id: &str) -> Result<Option<LabResultRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let row = sqlx::query(AssertSqlSafe(format!("{LAB_SELECT} AND l.id = $2")))
            .bind(g.patient().to_string())
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(lab_from_row).transpose()
    }

    /// How many lab results and imported lab files the database holds (for the import's
    /// summary and its tests).
    pub async fn system_lab_counts(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM lab_results) AS results, \
             (SELECT COUNT(*) FROM import_files WHERE kind = 'lab') AS files",
        )
        .fetch_one(&self.read)
        .await?;
        Ok((r.try_get("results")?, r.try_get("files")?))
    }
}

/// The rows of one lab file's results, onto `patient`'s chart, for an import batch.
pub(crate) fn push_lab_rows(
    rows: &mut BulkBatch,
    patient: PatientId,
    f: &LabFile<'_>,
    now: &str,
    mut new_id: impl FnMut() -> String,
) -> Result<()> {
    for r in f.results {
        rows.push(
            BulkTable::LabResults,
            [
                patient.to_string().into(),
                new_id().into(),
                f.org.to_string().into(),
                r.code.as_str().into(),
                r.code_system.as_str().into(),
                r.name.as_str().into(),
                r.value_num.into(),
                r.value_text.as_str().into(),
                r.unit.as_str().into(),
                r.reference_range.as_str().into(),
                r.abnormal.as_str().into(),
                ts(r.observed_at).into(),
                f.sha256.into(),
                now.into(),
            ],
        )?;
    }
    Ok(())
}
