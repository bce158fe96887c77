//! The fixture tree through walk → decode → parse → model, the way the importer will read
//! it: exact counts, every hostile case with its expected outcome, and no panic on any input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tsunagu_hl7::fixtures::{
    ExpectedOutcome, FixtureSummary, HOSTILE_DRUG_NAMES, HOSTILE_FAMILY_NAME, HOSTILE_GIVEN_NAME, HOSTILE_PATIENT_ID,
    HostileKind, NO_ADT_PATIENT_ID, write_fixture_tree,
};
use tsunagu_hl7::model::{LabValue, Patient};
use tsunagu_hl7::storage::{StorageDate, StorageItem};
use tsunagu_hl7::{Charset, LabResult, ParseError, Prescription, decode, parse, walk};

/// What reading each path gave.
#[derive(Debug, Default)]
struct Import {
    patients: BTreeMap<String, Patient>,
    labs: Vec<(String, LabResult)>,
    prescriptions: Vec<(String, Prescription)>,
    imported_files: BTreeSet<PathBuf>,
    outcomes: BTreeMap<PathBuf, ExpectedOutcome>,
    problems: Vec<(PathBuf, String)>,
}

/// A minimal importer: demographics first, then lab results and prescriptions of known
/// patients, every other outcome recorded per path.
fn import(root: &Path) -> Import {
    let mut out = Import::default();
    let mut messages = Vec::new();
    for item in walk(root).unwrap() {
        let file = match item {
            StorageItem::File(file) => file,
            StorageItem::NotLayout { path, .. } => {
                out.outcomes.insert(path, ExpectedOutcome::NotLayout);
                continue;
            }
            StorageItem::Unreadable { path, reason } => {
                out.problems.push((path, reason));
                continue;
            }
        };
        assert_eq!(file.sha256.len(), 64);
        let text = match decode(&file.bytes, Charset::ShiftJis) {
            Ok(text) => text,
            Err(_) => {
                out.outcomes.insert(file.path, ExpectedOutcome::DecodeError);
                continue;
            }
        };
        let message = match parse(&text) {
            Ok(message) => message,
            Err(ParseError::Empty) => {
                out.outcomes.insert(file.path, ExpectedOutcome::EmptyMessage);
                continue;
            }
            Err(ParseError::TruncatedSegment { .. }) => {
                out.outcomes.insert(file.path, ExpectedOutcome::TruncatedSegment);
                continue;
            }
            Err(other) => {
                out.problems.push((file.path, other.to_string()));
                continue;
            }
        };
        messages.push((file, message));
    }
    // Demographics first (the walk already puts the undated ADT-00 folder first per patient;
    // an importer should not rely on it).
    for (file, message) in &messages {
        if file.data_type == "ADT-00" {
            assert_eq!(file.date, StorageDate::Undated);
            assert_eq!(message.header().unwrap().message_type(), "ADT^A08");
            let patient = message.patient().unwrap();
            assert_eq!(patient.id, file.patient_id);
            out.patients.insert(patient.id.clone(), patient);
            out.imported_files.insert(file.path.clone());
        }
    }
    for (file, message) in &messages {
        let header = message.header().unwrap();
        let patient = message.patient().unwrap();
        assert_eq!(patient.id, file.patient_id, "PID-3 matches the folder");
        match file.data_type.as_str() {
            "ADT-00" => {}
            "OUL-01" => {
                assert_eq!(header.message_type(), "OUL^R22");
                let results = message.lab_results().into_result().unwrap();
                if !out.patients.contains_key(&patient.id) {
                    out.outcomes
                        .insert(file.path.clone(), ExpectedOutcome::UnknownPatient { lab_results: results.len() });
                    continue;
                }
                out.labs.extend(results.into_iter().map(|r| (patient.id.clone(), r)));
                out.imported_files.insert(file.path.clone());
            }
            "OMP-01" => {
                // SS-MIX2 writes RDE^O11 there; the first SS-MIX wrote OMP^O09.
                assert!(["RDE^O11", "OMP^O09"].contains(&header.message_type().as_str()));
                let items = message.prescriptions().into_result().unwrap();
                assert!(out.patients.contains_key(&patient.id));
                out.prescriptions.extend(items.into_iter().map(|p| (patient.id.clone(), p)));
                out.imported_files.insert(file.path.clone());
            }
            other => panic!("unexpected data type {other}"),
        }
    }
    out
}

#[test]
fn fixture_tree_round_trips_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_fixture_tree(dir.path(), 300, 20_240_105).unwrap();
    let imported = import(dir.path());

    assert!(imported.problems.is_empty(), "{:?}", imported.problems);
    assert_eq!(imported.patients.len(), summary.patients);
    assert_eq!(summary.patients, 301);
    assert_eq!(imported.labs.len(), summary.lab_results);
    assert_eq!(imported.prescriptions.len(), summary.prescriptions);
    assert_eq!(imported.imported_files.len(), summary.good_files());
    let abnormal = imported
        .labs
        .iter()
        .filter(|(_, r)| r.abnormal_flags.iter().any(tsunagu_hl7::model::AbnormalFlag::is_abnormal))
        .count();
    assert_eq!(abnormal, summary.abnormal_lab_results);
    // A realistic mix: most results are numeric, a fair share flagged.
    assert!(summary.lab_results > 300 * 2 * 9, "{}", summary.lab_results);
    assert!(abnormal * 5 > summary.lab_results && abnormal * 5 < summary.lab_results * 4, "{abnormal}");

    // Every hostile case gives exactly its expected outcome, and nothing else is hostile.
    assert_eq!(summary.hostile.len(), 9);
    for case in &summary.hostile {
        match &case.expected {
            ExpectedOutcome::Imports => assert!(imported.imported_files.contains(&case.path), "{case:?}"),
            expected => assert_eq!(imported.outcomes.get(&case.path), Some(expected), "{case:?}"),
        }
    }
    let hostile_paths: BTreeSet<_> = summary.hostile.iter().map(|h| h.path.clone()).collect();
    for path in imported.outcomes.keys() {
        assert!(hostile_paths.contains(path), "unexpected outcome for {}", path.display());
    }
    let orphan = summary.hostile.iter().find(|h| h.kind == HostileKind::PatientWithoutAdt).unwrap();
    assert!(matches!(orphan.expected, ExpectedOutcome::UnknownPatient { lab_results } if lab_results > 0));
    assert!(orphan.path.to_string_lossy().contains(NO_ADT_PATIENT_ID));

    // The kanji whose ISO-2022-JP bytes are `\`, `^` and `~` survive.
    let hostile = &imported.patients[HOSTILE_PATIENT_ID];
    let kanji = hostile.kanji_name.as_ref().unwrap();
    assert_eq!((kanji.family.as_str(), kanji.given.as_deref()), (HOSTILE_FAMILY_NAME, Some(HOSTILE_GIVEN_NAME)));
    assert_eq!(hostile.kana_name.as_ref().unwrap().full(), "ヤマモト\u{3000}ミエ");
    let forms: BTreeSet<_> = imported
        .prescriptions
        .iter()
        .filter(|(pid, _)| pid == HOSTILE_PATIENT_ID)
        .filter_map(|(_, p)| p.dosage_form.as_ref()?.text.clone())
        .collect();
    assert_eq!(forms, BTreeSet::from(["錠剤".to_owned(), "顆粒剤".to_owned()]));
    // The drug names whose ISO-2022-JP bytes are `^` and `\` survive too, in order.
    let case = summary.hostile.iter().find(|h| h.kind == HostileKind::KanjiDrugWithDelimiterBytes).unwrap();
    let bytes = std::fs::read(&case.path).unwrap();
    assert!(bytes.contains(&b'\\'), "the file holds a kanji whose bytes are a backslash");
    let message = parse(&decode(&bytes, Charset::Iso2022Jp).unwrap()).unwrap();
    let drugs: Vec<_> =
        message.prescriptions().into_result().unwrap().into_iter().map(|p| p.drug.text.unwrap()).collect();
    assert_eq!(drugs, HOSTILE_DRUG_NAMES);

    // What the importer will store is all there.
    for patient in imported.patients.values() {
        assert!(patient.kanji_name.is_some() && patient.kana_name.is_some() && patient.birth_date.is_some());
        assert!(patient.sex.is_some() && patient.address.is_some() && patient.phone.is_some());
    }
    for (_, r) in &imported.labs {
        assert_eq!(r.jlac_code().map(str::len), Some(17));
        assert!(r.observed_at.is_some() && r.unit.is_some() && r.placer_order_number.is_some());
        assert!(matches!(r.value, LabValue::Numeric { .. }), "{r:?}");
        assert_eq!(r.status.as_deref(), Some("F"));
        let range = r.reference_range.as_ref().unwrap();
        assert!(range.low.is_some() || range.high.is_some(), "{}", range.text);
    }
    // Both message forms are there, RDE^O11 with what only it carries.
    let rxe = imported.prescriptions.iter().filter(|(_, p)| p.source == "RXE").count();
    assert!(rxe > 0 && rxe < imported.prescriptions.len(), "{rxe} of {}", imported.prescriptions.len());
    for (_, p) in imported.prescriptions.iter().filter(|(_, p)| p.source == "RXE") {
        assert!(p.dispense_amount.is_some() && p.department.is_some() && p.ordering_facility.is_some());
        assert_eq!(p.daily_dose.is_some(), p.days.is_some(), "a daily amount for every regular drug");
        assert_eq!(p.end.is_some(), p.days.is_some());
    }
    for (_, p) in &imported.prescriptions {
        assert!(p.drug.code_in(&["HOT"]).is_some() && p.drug.code_in(&["YJ"]).is_some());
        assert!(p.dose.is_some() && p.route.is_some() && p.timing.is_some() && p.ordered_at.is_some());
        assert!(p.days.is_some() || p.total_occurrences.is_some());
        assert!(p.prescriber.is_some());
    }
}

#[test]
fn summary_is_stable_for_importer_tests() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa: FixtureSummary = write_fixture_tree(a.path(), 20, 1).unwrap();
    let sb = write_fixture_tree(b.path(), 20, 1).unwrap();
    assert_eq!(
        (sa.patients, sa.lab_results, sa.prescriptions, sa.files_written),
        (sb.patients, sb.lab_results, sb.prescriptions, sb.files_written)
    );
    // Zero synthetic patients still gives the hostile cases.
    let c = tempfile::tempdir().unwrap();
    let sc = write_fixture_tree(c.path(), 0, 1).unwrap();
    assert_eq!(sc.patients, 1);
    let imported = import(c.path());
    assert_eq!(imported.labs.len(), sc.lab_results);
}

/// A few real messages from the fixture tree, hostile ones included.
fn fixture_messages() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    write_fixture_tree(dir.path(), 1, 3).unwrap();
    walk(dir.path())
        .unwrap()
        .filter_map(|item| match item {
            StorageItem::File(file) => Some(file.bytes),
            _ => None,
        })
        .collect()
}

fn exercise(bytes: &[u8]) {
    for charset in [Charset::Iso2022Jp, Charset::ShiftJis, Charset::Utf8] {
        let decoded = [decode(bytes, charset), tsunagu_hl7::decode::decode_as(bytes, charset)];
        for text in decoded.into_iter().flatten() {
            if let Ok(message) = parse(&text) {
                let _ = message.header();
                let _ = message.patient();
                let _ = message.lab_results();
                let _ = message.prescriptions();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn hl7_shaped_text_never_panics(
        body in proptest::collection::vec(
            prop::sample::select(vec![
                "|", "^", "~", "\\", "&", "\r", "\n", "MSH", "PID", "OBX", "OBR", "ORC", "RXO", "RXE", "TQ1",
                "RXR", "SPM", "ZXX", "NM", "SN", "CWE", "ST", "\\F\\", "\\X41\\", "\\X", "<", ">=", "-", ".",
                "1", "2024", "20240105", "0930", "+0900", "F", "X", "I", "L", "P", "D", "山本", "ヤマ", "\"\"",
                "\x1b$B", "\x1b(B", "\u{0b}", "\u{1c}",
            ]),
            0..80,
        )
    ) {
        let text = format!("MSH|^~\\&|{}", body.concat());
        exercise(text.as_bytes());
        if let Ok(message) = parse(&text) {
            // Accessors are total.
            for segment in message.segments() {
                for n in 0..segment.field_count() + 2 {
                    let _ = segment.get(n, 1, 1, 1);
                    let _ = segment.text(n);
                }
            }
        }
    }

    #[test]
    fn mutated_fixture_messages_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        thread_local! {
            static MESSAGES: Vec<Vec<u8>> = fixture_messages();
        }
        let mut bytes = MESSAGES.with(|m| m[pick.index(m.len())].clone());
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => bytes.truncate(i),
            }
        }
        exercise(&bytes);
    }
}
