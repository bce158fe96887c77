//! Prescriptions from every facility on one page of the chart (issue #7): newest first,
//! grouped by prescribing day and facility, each drug with its dose, timing and days.
//! Imported from SS-MIX2 storage (`tsunagu import ss-mix2`).

use super::patients::patient_id;
use crate::auth::Signed;
use crate::error::AppResult;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use std::collections::BTreeSet;
use time::Date;
use time::format_description::well_known::Rfc3339;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{PatientRow, PrescriptionRow};

/// Where an order stands, from the order controls (ORC-1) imported for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxStatus {
    /// Nothing says otherwise.
    Ordered,
    /// This row cancels an order (CA), or a later row cancelled this one.
    Cancelled,
    /// This row discontinues an order (DC), or a later row discontinued this one.
    Discontinued,
}

/// One drug of a prescription.
pub struct RxLine {
    pub row: PrescriptionRow,
    pub status: RxStatus,
    /// TQ1-7 and TQ1-8, when given.
    pub start: Option<Date>,
    pub end: Option<Date>,
}

impl RxLine {
    pub fn is_cancelled(&self) -> bool {
        self.status == RxStatus::Cancelled
    }
    pub fn is_discontinued(&self) -> bool {
        self.status == RxStatus::Discontinued
    }
}

/// The drugs one facility prescribed on one day.
pub struct RxGroup {
    /// The prescribing day in Japan time; `None` if the stored time cannot be read.
    pub date: Option<Date>,
    pub org_id: String,
    pub org_name: String,
    /// Departments (ORC-17) and prescribers (ORC-12) of its lines, each once, in order.
    pub departments: String,
    pub prescribers: String,
    pub lines: Vec<RxLine>,
}

#[derive(Template)]
#[template(path = "prescriptions.html")]
pub struct PrescriptionsPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub groups: Vec<RxGroup>,
}

/// The day in Japan time of a stored timestamp.
fn day_of(ts: &str) -> Option<Date> {
    time::OffsetDateTime::parse(ts, &Rfc3339).ok().map(|t| t.to_offset(time::macros::offset!(+9)).date())
}

fn iso_date(text: &str) -> Option<Date> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn distinct_joined<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values.filter(|v| !v.is_empty()) {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join("、")
}

/// Group the rows (newest first, as the store orders them) by day and facility, keeping
/// that order, and mark orders that a CA or DC row cancelled or discontinued.
fn groups(rows: Vec<PrescriptionRow>) -> Vec<RxGroup> {
    let ended = |control: &str| -> BTreeSet<(String, String)> {
        rows.iter()
            .filter(|r| r.order_control == control && !r.order_number.is_empty())
            .map(|r| (r.org_id.clone(), r.order_number.clone()))
            .collect()
    };
    let (cancelled, discontinued) = (ended("CA"), ended("DC"));
    let mut out: Vec<RxGroup> = Vec::new();
    for row in rows {
        let key = (row.org_id.clone(), row.order_number.clone());
        let status = if row.order_control == "CA" || cancelled.contains(&key) {
            RxStatus::Cancelled
        } else if row.order_control == "DC" || discontinued.contains(&key) {
            RxStatus::Discontinued
        } else {
            RxStatus::Ordered
        };
        let date = day_of(&row.prescribed_at);
        let start = row.start_date.as_deref().and_then(iso_date);
        let end = row.end_date.as_deref().and_then(iso_date);
        let line = RxLine { row, status, start, end };
        match out.iter_mut().find(|g| g.date == date && g.org_id == line.row.org_id) {
            Some(g) => g.lines.push(line),
            None => out.push(RxGroup {
                date,
                org_id: line.row.org_id.clone(),
                org_name: line.row.org_name.clone(),
                departments: String::new(),
                prescribers: String::new(),
                lines: vec![line],
            }),
        }
    }
    for g in &mut out {
        g.departments = distinct_joined(g.lines.iter().map(|l| l.row.department.as_str()));
        g.prescribers = distinct_joined(g.lines.iter().map(|l| l.row.prescriber_name.as_str()));
    }
    out
}

/// `GET /patients/{patient}/prescriptions`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "prescriptions.read", &ctx.audit()).await?;
    let rows = state.store.prescriptions(&g).await?;
    page(&PrescriptionsPage {
        chrome: me.chrome(&ctx, &state),
        patient: state.store.patient(&g).await?,
        groups: groups(rows),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn row(org: &str, at: &str, order: &str, control: &str, drug: &str) -> PrescriptionRow {
        PrescriptionRow {
            id: format!("{org}-{order}-{control}"),
            order_control: control.into(),
            order_number: order.into(),
            rp_number: String::new(),
            drug_code: String::new(),
            drug_code_system: String::new(),
            drug_name: drug.into(),
            dose: "1".into(),
            dose_unit: "錠".into(),
            daily_dose: String::new(),
            daily_dose_unit: String::new(),
            dosage_form: String::new(),
            route: String::new(),
            timing_text: String::new(),
            instructions: String::new(),
            days: Some(7),
            total_occurrences: None,
            dispense_amount: String::new(),
            dispense_unit: String::new(),
            prescribed_at: at.into(),
            start_date: None,
            end_date: None,
            prescriber_name: format!("{org}医師"),
            department: "内科".into(),
            ordering_facility: String::new(),
            org_id: org.into(),
            org_name: format!("{org}病院"),
        }
    }

    #[test]
    fn grouped_by_japan_day_and_facility_in_the_store_order() {
        // 2024-03-04 23:30 UTC is the 5th in Japan; 2024-03-04 15:00 UTC is midnight of the 5th.
        let rows = vec![
            row("A", "2024-03-04T23:30:00.000000Z", "1", "NW", "x"),
            row("B", "2024-03-04T16:00:00.000000Z", "2", "NW", "y"),
            row("A", "2024-03-04T15:00:00.000000Z", "3", "NW", "z"),
            row("A", "2024-03-04T14:59:00.000000Z", "4", "NW", "w"),
        ];
        let g = groups(rows);
        let shape: Vec<_> = g
            .iter()
            .map(|g| (g.date.unwrap().day(), g.org_id.as_str(), g.lines.len(), g.prescribers.clone()))
            .collect();
        assert_eq!(
            shape,
            [(5, "A", 2, "A医師".to_string()), (5, "B", 1, "B医師".to_string()), (4, "A", 1, "A医師".to_string())]
        );
    }

    #[test]
    fn a_cancellation_marks_the_order_of_its_own_facility() {
        let rows = vec![
            row("A", "2024-03-06T01:00:00.000000Z", "1", "CA", "x"),
            row("A", "2024-03-05T01:00:00.000000Z", "1", "NW", "x"),
            row("B", "2024-03-05T01:00:00.000000Z", "1", "NW", "x"),
            row("A", "2024-03-04T01:00:00.000000Z", "2", "NW", "y"),
            row("A", "2024-03-03T01:00:00.000000Z", "3", "DC", "z"),
        ];
        let status: Vec<_> = groups(rows).into_iter().flat_map(|g| g.lines).map(|l| l.status).collect();
        use RxStatus::*;
        assert_eq!(status, [Cancelled, Cancelled, Ordered, Ordered, Discontinued]);
    }
}
