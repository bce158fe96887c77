//! `tsunagu import ss-mix2 DIR --org CODE` (issue #7): read a hospital's SS-MIX2
//! standardized storage and put its lab results on the charts of the patients the
//! organization knows by their local id. Each file is decoded (ISO-2022-JP by default)
//! before it is parsed, imported once (known by its SHA-256), and a file that cannot be
//! read is reported with its path and reason while the rest go on. Files of patients
//! the organization has not registered are reported, never matched by guessing.
//! Prescriptions (OMP/RDE) are counted and left for a later import.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tsunagu_domain::OrgId;
use tsunagu_hl7::decode::{Charset, decode};
use tsunagu_hl7::model::{AbnormalFlag, LabResult, LabValue};
use tsunagu_hl7::parse::parse;
use tsunagu_hl7::storage::{StorageFile, StorageItem, walk};
use tsunagu_store::{AuditCtx, ImportOutcome, LabFile, LabResultIn, Store};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Files in the storage layout.
    pub files: usize,
    /// Lab files imported now, and their results.
    pub lab_files: usize,
    pub lab_results: usize,
    /// Lab files this organization had imported before.
    pub already_imported: usize,
    /// Local patient ids with lab files but no patient registered by the organization.
    pub unknown_patients: BTreeSet<String>,
    /// Files of other kinds, by data type (ADT-00, OMP-01, ...): read, not imported.
    pub not_imported: BTreeMap<String, usize>,
    /// Files that could not be read, with why.
    pub bad: Vec<(PathBuf, String)>,
}

/// Import `root` for organization `org`; `on_file` is called after each file (for a
/// progress bar).
pub async fn ss_mix2(
    store: &Store,
    org: OrgId,
    root: &Path,
    fallback: Charset,
    ctx: &AuditCtx,
    on_file: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    let items = walk(root).with_context(|| format!("cannot read the SS-MIX2 storage at {}", root.display()))?;
    let mut s = ImportSummary::default();
    let mut done = 0;
    for item in items {
        done += 1;
        match item {
            StorageItem::NotLayout { path, reason } | StorageItem::Unreadable { path, reason } => {
                s.bad.push((path, reason));
            }
            StorageItem::File(f) => {
                s.files += 1;
                if is_lab(&f.data_type) {
                    match read_lab_file(&f, fallback) {
                        Ok((local_id, results)) => {
                            let file = LabFile {
                                org,
                                local_patient_id: &local_id,
                                sha256: &f.sha256,
                                path: &f.relative_path.to_string_lossy(),
                                results: &results,
                            };
                            match store.import_lab_file(&file, ctx).await? {
                                ImportOutcome::Imported(n) => {
                                    s.lab_files += 1;
                                    s.lab_results += n;
                                }
                                ImportOutcome::AlreadyImported => s.already_imported += 1,
                                ImportOutcome::UnknownPatient => {
                                    s.unknown_patients.insert(local_id);
                                }
                            }
                        }
                        Err(reason) => s.bad.push((f.path.clone(), reason)),
                    }
                } else {
                    // Read it all the same, so that a broken file is reported now.
                    match decode(&f.bytes, fallback)
                        .map_err(|e| e.to_string())
                        .and_then(|t| parse(&t).map(|_| ()).map_err(|e| e.to_string()))
                    {
                        Ok(()) => *s.not_imported.entry(f.data_type.clone()).or_default() += 1,
                        Err(reason) => s.bad.push((f.path.clone(), reason)),
                    }
                }
            }
        }
        on_file(done, 0);
    }
    Ok(s)
}

fn is_lab(data_type: &str) -> bool {
    data_type.starts_with("OUL") || data_type.starts_with("ORU")
}

/// The local patient id and the results of one lab file, or why it cannot be read.
fn read_lab_file(f: &StorageFile, fallback: Charset) -> Result<(String, Vec<LabResultIn>), String> {
    let text = decode(&f.bytes, fallback).map_err(|e| e.to_string())?;
    let message = parse(&text).map_err(|e| e.to_string())?;
    // The message names its patient; the folder only files it.
    let local_id = message.patient().map(|p| p.id).unwrap_or_else(|_| f.patient_id.clone());
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
