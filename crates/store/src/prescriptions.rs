//! Prescriptions from other facilities (issue #7): imported from a hospital's SS-MIX2
//! storage like lab results (each file once per organization, onto the chart of the
//! patient registered under that local id, never guessed) and listed on the chart across
//! facilities, newest first. Append-only: a cancelled order is a later row whose order
//! control says so (CA, DC), and the page marks the order.

use crate::bulk::{BulkBatch, BulkTable};
use crate::db::{Store, ts};
use crate::imports::{ImportFile, ImportOutcome};
use crate::patients::ChartGrant;
use crate::{AuditCtx, Result};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{OrgId, PatientId};

/// One prescribed drug as an import hands it over; `''` for a text the message did not
/// give.
#[derive(Debug, Clone, PartialEq)]
pub struct PrescriptionIn {
    pub order_control: String,
    pub order_number: String,
    pub rp_number: String,
    pub drug_code: String,
    pub drug_code_system: String,
    pub drug_alt_code: String,
    pub drug_alt_code_system: String,
    pub drug_name: String,
    pub dose: String,
    pub dose_unit: String,
    pub daily_dose: String,
    pub daily_dose_unit: String,
    pub dosage_form: String,
    pub route: String,
    pub timing_code: String,
    pub timing_text: String,
    pub instructions: String,
    pub days: Option<u32>,
    pub total_occurrences: Option<u32>,
    pub dispense_amount: String,
    pub dispense_unit: String,
    pub prescribed_at: time::OffsetDateTime,
    pub start_date: Option<time::Date>,
    pub end_date: Option<time::Date>,
    pub prescriber_id: String,
    pub prescriber_name: String,
    pub department: String,
    pub ordering_facility: String,
    pub ordering_facility_code: String,
    /// 1-based position of the RXE/RXO in its message.
    pub source_segment: usize,
}

/// One imported file of prescriptions.
#[derive(Clone, Copy)]
pub struct PrescriptionFile<'a> {
    pub org: OrgId,
    pub local_patient_id: &'a str,
    pub sha256: &'a str,
    pub path: &'a str,
    pub prescriptions: &'a [PrescriptionIn],
}

/// A prescription on the chart.
#[derive(Debug, Clone, Serialize)]
pub struct PrescriptionRow {
    pub id: String,
    pub order_control: String,
    pub order_number: String,
    pub rp_number: String,
    pub drug_code: String,
    pub drug_code_system: String,
    pub drug_name: String,
    pub dose: String,
    pub dose_unit: String,
    pub daily_dose: String,
    pub daily_dose_unit: String,
    pub dosage_form: String,
    pub route: String,
    pub timing_text: String,
    pub instructions: String,
    pub days: Option<i64>,
    pub total_occurrences: Option<i64>,
    pub dispense_amount: String,
    pub dispense_unit: String,
    pub prescribed_at: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub prescriber_name: String,
    pub department: String,
    pub ordering_facility: String,
    pub org_id: String,
    pub org_name: String,
}

fn date_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

const PRESCRIPTION_SELECT: &str = "SELECT p.id, p.order_control, p.order_number, p.rp_number, p.drug_code, p.drug_code_system, \
     p.drug_name, p.dose, p.dose_unit, p.daily_dose, p.daily_dose_unit, p.dosage_form, p.route, \
     p.timing_text, p.instructions, p.days, p.total_occurrences, p.dispense_amount, p.dispense_unit, \
     p.prescribed_at, p.start_date, p.end_date, p.prescriber_name, p.department, p.ordering_facility, \
     p.org_id, o.name AS org_name \
     FROM prescriptions p JOIN organizations o ON o.id = p.org_id \
     WHERE p.patient_id = $1";

fn prescription_from_row(r: &sqlx::any::AnyRow) -> Result<PrescriptionRow> {
    Ok(PrescriptionRow {
        id: r.try_get("id")?,
        order_control: r.try_get("order_control")?,
        order_number: r.try_get("order_number")?,
        rp_number: r.try_get("rp_number")?,
        drug_code: r.try_get("drug_code")?,
        drug_code_system: r.try_get("drug_code_system")?,
        drug_name: r.try_get("drug_name")?,
        dose: r.try_get("dose")?,
        dose_unit: r.try_get("dose_unit")?,
        daily_dose: r.try_get("daily_dose")?,
        daily_dose_unit: r.try_get("daily_dose_unit")?,
        dosage_form: r.try_get("dosage_form")?,
        route: r.try_get("route")?,
        timing_text: r.try_get("timing_text")?,
        instructions: r.try_get("instructions")?,
        days: r.try_get("days")?,
        total_occurrences: r.try_get("total_occurrences")?,
        dispense_amount: r.try_get("dispense_amount")?,
        dispense_unit: r.try_get("dispense_unit")?,
        prescribed_at: r.try_get("prescribed_at")?,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        prescriber_name: r.try_get("prescriber_name")?,
        department: r.try_get("department")?,
        ordering_facility: r.try_get("ordering_facility")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
    })
}

impl Store {
    /// Import one file's prescriptions in one transaction with its provenance row and
    /// an audit record, as the lab import: a batch of one ([`Store::import_files`]).
    pub async fn import_prescription_file(&self, f: &PrescriptionFile<'_>, ctx: &AuditCtx) -> Result<ImportOutcome> {
        self.import_one(ImportFile::Prescriptions(*f), ctx).await
    }

    /// The chart's prescriptions from every facility, newest first; within a day, by
    /// facility, order and Rp as the message listed them.
    pub async fn prescriptions(&self, g: &ChartGrant) -> Result<Vec<PrescriptionRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{PRESCRIPTION_SELECT} ORDER BY p.prescribed_at DESC, o.name, p.org_id, p.order_number, p.source_sha256, p.source_segment"
        )))
        .bind(g.patient().to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(prescription_from_row).collect()
    }

    /// One prescription of the chart (`None` when the chart has no such prescription).
    pub async fn prescription(&self, g: &ChartGrant, id: &str) -> Result<Option<PrescriptionRow>> {
        g.require(&[ChartAction::Read, ChartAction::Write])?;
        let row = sqlx::query(AssertSqlSafe(format!("{PRESCRIPTION_SELECT} AND p.id = $2")))
            .bind(g.patient().to_string())
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(prescription_from_row).transpose()
    }

    /// How many prescriptions and prescription files the database holds (for the import's
    /// summary and its tests).
    pub async fn system_prescription_counts(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM prescriptions) AS items, \
             (SELECT COUNT(*) FROM import_files WHERE kind = 'prescription') AS files",
        )
        .fetch_one(&self.read)
        .await?;
        Ok((r.try_get("items")?, r.try_get("files")?))
    }
}

/// The rows of one prescription file's drugs, onto `patient`'s chart, for an import
/// batch.
pub(crate) fn push_prescription_rows(
    rows: &mut BulkBatch,
    patient: PatientId,
    f: &PrescriptionFile<'_>,
    now: &str,
    mut new_id: impl FnMut() -> String,
) -> Result<()> {
    for p in f.prescriptions {
        rows.push(
            BulkTable::Prescriptions,
            [
                patient.to_string().into(),
                new_id().into(),
                f.org.to_string().into(),
                p.order_control.as_str().into(),
                p.order_number.as_str().into(),
                p.rp_number.as_str().into(),
                p.drug_code.as_str().into(),
                p.drug_code_system.as_str().into(),
                p.drug_alt_code.as_str().into(),
                p.drug_alt_code_system.as_str().into(),
                p.drug_name.as_str().into(),
                p.dose.as_str().into(),
                p.dose_unit.as_str().into(),
                p.daily_dose.as_str().into(),
                p.daily_dose_unit.as_str().into(),
                p.dosage_form.as_str().into(),
                p.route.as_str().into(),
                p.timing_code.as_str().into(),
                p.timing_text.as_str().into(),
                p.instructions.as_str().into(),
                p.days.map(i64::from).into(),
                p.total_occurrences.map(i64::from).into(),
                p.dispense_amount.as_str().into(),
                p.dispense_unit.as_str().into(),
                ts(p.prescribed_at).into(),
                p.start_date.map(date_text).into(),
                p.end_date.map(date_text).into(),
                p.prescriber_id.as_str().into(),
                p.prescriber_name.as_str().into(),
                p.department.as_str().into(),
                p.ordering_facility.as_str().into(),
                p.ordering_facility_code.as_str().into(),
                f.sha256.into(),
                i64::try_from(p.source_segment).unwrap_or(i64::MAX).into(),
                now.into(),
            ],
        )?;
    }
    Ok(())
}
