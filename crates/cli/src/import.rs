//! `tsunagu import ss-mix2 DIR --org CODE` (issue #7): read a hospital's SS-MIX2
//! standardized storage and put its lab results (OUL/ORU) and prescriptions (OMP-01:
//! RDE^O11, or OMP^O09 of the first SS-MIX) on the charts of the patients the
//! organization knows by their local id. Each file is decoded (ISO-2022-JP by default)
//! before it is parsed, imported once (known by its SHA-256), and a file that cannot be
//! read is reported with its path and reason while the rest go on. Files of patients
//! the organization has not registered are reported, never matched by guessing.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tsunagu_domain::OrgId;
use tsunagu_hl7::datetime::JST;
use tsunagu_hl7::decode::{Charset, decode};
use tsunagu_hl7::model::{AbnormalFlag, Coded, LabResult, LabValue, Prescription, Quantity};
use tsunagu_hl7::parse::{Message, parse};
use tsunagu_hl7::storage::{StorageDate, StorageFile, StorageItem, walk};
use tsunagu_store::{
    AuditCtx, ImportFile, ImportOutcome, LabFile, LabResultIn, PrescriptionFile, PrescriptionIn, Store,
};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Files in the storage layout.
    pub files: usize,
    /// Lab files imported now, and their results.
    pub lab_files: usize,
    pub lab_results: usize,
    /// Prescription files imported now, and their drugs.
    pub prescription_files: usize,
    pub prescriptions: usize,
    /// Lab and prescription files this organization had imported before.
    pub already_imported: usize,
    /// Local patient ids with lab or prescription files but no patient registered by the
    /// organization.
    pub unknown_patients: BTreeSet<String>,
    /// Files of other kinds, by data type (ADT-00, OMP-02, ...): read, not imported.
    pub not_imported: BTreeMap<String, usize>,
    /// Files that could not be read, with why.
    pub bad: Vec<(PathBuf, String)>,
}

impl ImportSummary {
    /// Add what another part of the same import found.
    fn add(&mut self, other: ImportSummary) {
        self.files += other.files;
        self.lab_files += other.lab_files;
        self.lab_results += other.lab_results;
        self.prescription_files += other.prescription_files;
        self.prescriptions += other.prescriptions;
        self.already_imported += other.already_imported;
        self.unknown_patients.extend(other.unknown_patients);
        for (kind, n) in other.not_imported {
            *self.not_imported.entry(kind).or_default() += n;
        }
        self.bad.extend(other.bad);
    }

    fn tally(&mut self, outcome: ImportOutcome, local_id: String, prescriptions: bool) {
        match outcome {
            ImportOutcome::Imported(n) if prescriptions => {
                self.prescription_files += 1;
                self.prescriptions += n;
            }
            ImportOutcome::Imported(n) => {
                self.lab_files += 1;
                self.lab_results += n;
            }
            ImportOutcome::AlreadyImported => self.already_imported += 1,
            ImportOutcome::UnknownPatient => {
                self.unknown_patients.insert(local_id);
            }
        }
    }
}

/// Files read and waiting for their transaction: a batch goes in as one
/// ([`Store::import_files`]) when it holds this many files or items, whichever comes
/// first. Large enough that the commit and the statements are shared by many files,
/// small enough that a failure rolls back little and the writer is never held long.
const BATCH_FILES: usize = 256;
const BATCH_ITEMS: usize = 4_096;

/// A file read, with what it holds, waiting for its batch.
struct Read {
    local_id: String,
    sha256: String,
    path: String,
    items: Items,
}

enum Items {
    Lab(Vec<LabResultIn>),
    Prescriptions(Vec<PrescriptionIn>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Lab(r) => r.len(),
            Items::Prescriptions(p) => p.len(),
        }
    }
}

/// Import `root` for organization `org`; `on_file` is called as files are read, with
/// how many so far (for a progress bar). Files go in by batches: if the import stops on
/// a database error, the batch under way is not in, and importing again picks it up (a
/// file is known by its SHA-256, so nothing goes in twice).
///
/// Reading a file (its bytes, its SHA-256, decoding and parsing) runs on a blocking
/// thread of its own, which hands over one batch at a time; this task writes a batch
/// while the next is read. Reading and writing were one after the other on one core
/// before (bench/results/scale.md, W6). One batch waits at most, so memory stays bounded.
pub async fn ss_mix2(
    store: &Store,
    org: OrgId,
    root: &Path,
    fallback: Charset,
    ctx: &AuditCtx,
    on_file: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    let items = walk(root).with_context(|| format!("cannot read the SS-MIX2 storage at {}", root.display()))?;
    let (batches, mut read) = tokio::sync::mpsc::channel(1);
    let reader = tokio::task::spawn_blocking(move || read_batches(items, fallback, &batches));
    let mut s = ImportSummary::default();
    let mut done = 0;
    while let Some(batch) = read.recv().await {
        let Batch { reads, seen, summary } = batch;
        done += seen;
        s.add(summary);
        // On an error the receiver is dropped on return, and the reader stops at its
        // next hand-over.
        import_batch(store, org, reads, &mut s, ctx).await?;
        on_file(done, 0);
    }
    reader.await.context("the reader of the SS-MIX2 storage stopped")?;
    Ok(s)
}

/// Files read and what else the reader found, handed over to be written together.
#[derive(Default)]
struct Batch {
    reads: Vec<Read>,
    /// Items of the walk this batch covers (files of every kind, and bad ones).
    seen: usize,
    /// Files seen, files not imported by kind, and bad files with why.
    summary: ImportSummary,
}

/// Read the walk's files into batches and hand each over, until the walk ends or the
/// writer is gone. Runs on a blocking thread.
fn read_batches(items: impl Iterator<Item = StorageItem>, fallback: Charset, out: &tokio::sync::mpsc::Sender<Batch>) {
    let mut batch = Batch::default();
    let mut batch_items = 0;
    for item in items {
        batch.seen += 1;
        let s = &mut batch.summary;
        match item {
            StorageItem::NotLayout { path, reason } | StorageItem::Unreadable { path, reason } => {
                s.bad.push((path, reason));
            }
            StorageItem::File(f) => {
                s.files += 1;
                let read = if is_lab(&f.data_type) {
                    Some(read_lab_file(&f, fallback).map(|(id, r)| (id, Items::Lab(r))))
                } else if is_prescription(&f.data_type) {
                    Some(read_prescription_file(&f, fallback).map(|(id, p)| (id, Items::Prescriptions(p))))
                } else {
                    // Read it all the same, so that a broken file is reported now.
                    match read_message(&f, fallback) {
                        Ok(_) => *s.not_imported.entry(f.data_type.clone()).or_default() += 1,
                        Err(reason) => s.bad.push((f.path.clone(), reason)),
                    }
                    None
                };
                match read {
                    Some(Ok((local_id, items))) => {
                        batch_items += items.len();
                        let path = f.relative_path.to_string_lossy().into_owned();
                        batch.reads.push(Read { local_id, sha256: f.sha256, path, items });
                    }
                    Some(Err(reason)) => s.bad.push((f.path.clone(), reason)),
                    None => {}
                }
            }
        }
        // Also hand over a stretch of files not imported, so that progress shows.
        if batch.reads.len() >= BATCH_FILES || batch_items >= BATCH_ITEMS || batch.seen >= 4 * BATCH_FILES {
            if out.blocking_send(std::mem::take(&mut batch)).is_err() {
                return;
            }
            batch_items = 0;
        }
    }
    // The writer may be gone already (it stopped on an error): nothing left to do then.
    let _ = out.blocking_send(batch);
}

/// Write the files read so far in one transaction and count what became of each.
async fn import_batch(
    store: &Store,
    org: OrgId,
    batch: Vec<Read>,
    s: &mut ImportSummary,
    ctx: &AuditCtx,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let files: Vec<ImportFile<'_>> = batch
        .iter()
        .map(|r| match &r.items {
            Items::Lab(results) => ImportFile::Lab(LabFile {
                org,
                local_patient_id: &r.local_id,
                sha256: &r.sha256,
                path: &r.path,
                results,
            }),
            Items::Prescriptions(prescriptions) => ImportFile::Prescriptions(PrescriptionFile {
                org,
                local_patient_id: &r.local_id,
                sha256: &r.sha256,
                path: &r.path,
                prescriptions,
            }),
        })
        .collect();
    let outcomes = store.import_files(&files, ctx).await?;
    drop(files);
    for (r, outcome) in batch.into_iter().zip(outcomes) {
        s.tally(outcome, r.local_id, matches!(r.items, Items::Prescriptions(_)));
    }
    Ok(())
}

fn is_lab(data_type: &str) -> bool {
    data_type.starts_with("OUL") || data_type.starts_with("ORU")
}

/// OMP-01 is SS-MIX2's prescription order (OMP-02 is injections, OMP-11/12 what was
/// given: not prescriptions); some exports file RDE messages under their own type.
fn is_prescription(data_type: &str) -> bool {
    data_type == "OMP-01" || data_type.starts_with("RDE")
}

/// The decoded, parsed message and the local patient id it names, or why it cannot be
/// read.
fn read_message(f: &StorageFile, fallback: Charset) -> Result<(Message, String), String> {
    let text = decode(&f.bytes, fallback).map_err(|e| e.to_string())?;
    let message = parse(&text).map_err(|e| e.to_string())?;
    // The message names its patient; the folder only files it.
    let local_id = message.patient().map(|p| p.id).unwrap_or_else(|_| f.patient_id.clone());
    Ok((message, local_id))
}

/// The local patient id and the results of one lab file, or why it cannot be read.
fn read_lab_file(f: &StorageFile, fallback: Charset) -> Result<(String, Vec<LabResultIn>), String> {
    let (message, local_id) = read_message(f, fallback)?;
    let results = message.lab_results().into_result().map_err(|e| e.to_string())?;
    let results = results.iter().filter_map(lab_result).collect::<Result<Vec<_>, String>>()?;
    Ok((local_id, results))
}

/// One OBX as the chart keeps it; `None` for a result with no value (nothing to show),
/// an error for one with no time (it cannot be placed on a trend).
fn lab_result(r: &LabResult) -> Option<Result<LabResultIn, String>> {
    let (value_num, value_text) = match &r.value {
        LabValue::Numeric { value, text, comparator } => {
            let prefix = comparator.map(tsunagu_hl7::model::Comparator::symbol).unwrap_or("");
            (Some(*value), format!("{prefix}{text}"))
        }
        LabValue::Text(t) => (None, t.clone()),
        LabValue::Coded(c) => (None, c.text.clone().or_else(|| c.code.clone()).unwrap_or_default()),
        LabValue::Missing => return None,
    };
    let Some(at) = &r.observed_at else {
        return Some(Err(format!("OBX-{} has no observation time", r.segment)));
    };
    let abnormal = r
        .abnormal_flags
        .iter()
        .find(|f| f.is_abnormal())
        .map(|f| match f {
            AbnormalFlag::Low => "L",
            AbnormalFlag::High => "H",
            AbnormalFlag::CriticallyLow => "LL",
            AbnormalFlag::CriticallyHigh => "HH",
            AbnormalFlag::CriticallyAbnormal => "AA",
            _ => "A",
        })
        .unwrap_or("");
    Some(Ok(LabResultIn {
        code: r.jlac_code().map(str::to_string).or_else(|| r.code.code.clone()).unwrap_or_default(),
        code_system: r.code.system.clone().unwrap_or_default(),
        name: r.code.text.clone().or_else(|| r.code.alt_text.clone()).unwrap_or_default(),
        value_num,
        value_text,
        unit: r.unit.clone().unwrap_or_default(),
        reference_range: r.reference_range.as_ref().map(|x| x.text.clone()).unwrap_or_default(),
        abnormal: abnormal.to_string(),
        observed_at: at.to_offset_date_time(),
    }))
}

/// The local patient id and the drugs of one prescription file, or why it cannot be read.
fn read_prescription_file(f: &StorageFile, fallback: Charset) -> Result<(String, Vec<PrescriptionIn>), String> {
    let (message, local_id) = read_message(f, fallback)?;
    let header = message.header().map_err(|e| e.to_string())?;
    if !matches!(header.message_code.as_str(), "RDE" | "OMP") {
        return Err(format!("{} holds a {} message, not RDE^O11 or OMP^O09", f.data_type, header.message_type()));
    }
    let items = message.prescriptions().into_result().map_err(|e| e.to_string())?;
    // The day folder is the day of care: the prescribing day when the message gives none.
    let day = match f.date {
        StorageDate::Day(day) => Some(day),
        StorageDate::Undated => None,
    };
    let items = items.iter().map(|p| prescription(p, day)).collect::<Result<Vec<_>, String>>()?;
    Ok((local_id, items))
}

/// One RXE/RXO as the chart keeps it; an error for one with no prescribing day at all.
fn prescription(p: &Prescription, day: Option<time::Date>) -> Result<PrescriptionIn, String> {
    let prescribed_at = match (&p.ordered_at, day) {
        (Some(at), _) => at.to_offset_date_time(),
        (None, Some(day)) => day.midnight().assume_offset(JST),
        (None, None) => return Err(format!("{}-{} has no prescribing date", p.source, p.segment)),
    };
    let text = |c: &Option<Coded>| c.as_ref().and_then(Coded::display).unwrap_or_default().to_string();
    let amount = |q: &Option<Quantity>| q.as_ref().map(|q| q.text.clone()).unwrap_or_default();
    let own = |s: &Option<String>| s.clone().unwrap_or_default();
    let local_date = |t: &Option<tsunagu_hl7::Hl7Timestamp>| t.map(|t| t.to_offset_date_time().to_offset(JST).date());
    let timing = p.timing.as_ref();
    let prescriber = p.prescriber.as_ref();
    let facility = p.ordering_facility.as_ref();
    Ok(PrescriptionIn {
        order_control: own(&p.order_control),
        order_number: p.placer_order_number.clone().or_else(|| p.filler_order_number.clone()).unwrap_or_default(),
        rp_number: own(&p.placer_group_number),
        drug_code: own(&p.drug.code),
        drug_code_system: own(&p.drug.system),
        drug_alt_code: own(&p.drug.alt_code),
        drug_alt_code_system: own(&p.drug.alt_system),
        drug_name: p.drug.text.clone().or_else(|| p.drug.alt_text.clone()).unwrap_or_default(),
        dose: amount(&p.dose),
        dose_unit: text(&p.dose_unit),
        daily_dose: amount(&p.daily_dose),
        daily_dose_unit: text(&p.daily_dose_unit),
        dosage_form: text(&p.dosage_form),
        route: text(&p.route),
        timing_code: timing.and_then(|t| t.code.clone()).unwrap_or_default(),
        timing_text: timing.and_then(|t| t.text.clone()).unwrap_or_default(),
        instructions: own(&p.instructions),
        days: p.days,
        total_occurrences: p.total_occurrences,
        dispense_amount: amount(&p.dispense_amount),
        dispense_unit: text(&p.dispense_unit),
        prescribed_at,
        start_date: local_date(&p.start),
        end_date: local_date(&p.end),
        prescriber_id: prescriber.and_then(|d| d.id.clone()).unwrap_or_default(),
        prescriber_name: prescriber.and_then(|d| d.name.clone()).unwrap_or_default(),
        department: text(&p.department),
        ordering_facility: facility.and_then(|o| o.name.clone()).unwrap_or_default(),
        ordering_facility_code: facility.and_then(|o| o.id.clone()).unwrap_or_default(),
        source_segment: p.segment,
    })
}
