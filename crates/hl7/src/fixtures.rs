//! A deterministic synthetic SS-MIX2 standardized storage for tests and benchmarks.
//!
//! [`write_fixture_tree`] writes, per synthetic patient, ADT-00 demographics, two to four
//! OUL-01 lab reports (a routine panel: WBC, Hb, PLT, Alb, AST, ALT, Cr, BUN, Na, K, CRP,
//! eGFR, some values abnormal) and one or two OMP-01 prescriptions (opioid, laxatives, PPI,
//! as-needed analgesic), ISO-2022-JP encoded with MSH-18 `~ISO IR87`, plus one file or
//! folder per hostile case listed in [`FixtureSummary::hostile`] with its expected outcome.
//! Prescription files alternate between the two forms found in real storages: RDE^O11 with
//! RXE as SS-MIX2 writes it (JAHIS layout: amount per dose, daily amount in RXE-19, total
//! dispensed, department in ORC-17, the facility in ORC-21, start and end in TQ1) and the
//! older OMP^O09 with RXO of the first SS-MIX.
//!
//! Names come from small kanji/kana tables written for this module and are combined at
//! random, so they are plausible but belong to no one. Lab codes are shaped like JLAC10,
//! drug codes like HOT9/YJ and dosage codes like JAMI's 16 digits; drug codes start with 9
//! so they are never mistaken for real ones. The same `(patients, seed)` always writes the
//! same bytes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use encoding_rs::{Encoding, ISO_2022_JP, SHIFT_JIS};
use time::{Date, Duration, Month};

use crate::storage::{StorageDate, folder_for};

/// Patient id of the hostile-name patient (always written, counted as a good patient).
pub const HOSTILE_PATIENT_ID: &str = "9900000001";
/// Family name of the hostile patient: 本 is `K\` in ISO-2022-JP.
pub const HOSTILE_FAMILY_NAME: &str = "山本";
/// Given name of the hostile patient: 美 is `H~`, 枝 is `;^` in ISO-2022-JP.
pub const HOSTILE_GIVEN_NAME: &str = "美枝";
/// Patient id that has lab results but no ADT-00 demographics.
pub const NO_ADT_PATIENT_ID: &str = "9900000002";
/// Drugs of the hostile patient's last prescription (RDE^O11, one order of three Rp), in
/// order: マ of マグミット is `^` in ISO-2022-JP, 養 of 人参養栄湯 is `\`; the third is the
/// as-needed one (頓用, 頓 is `\`).
pub const HOSTILE_DRUG_NAMES: [&str; 3] =
    ["マグミット錠３３０ｍｇ", "ツムラ人参養栄湯エキス顆粒（医療用）", "ロキソプロフェンＮａ錠６０ｍｇ"];

/// What the tree holds and what an importer should make of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureSummary {
    /// The root written.
    pub root: PathBuf,
    /// Patients with ADT-00 demographics: the synthetic ones plus the hostile-name one.
    pub patients: usize,
    /// ADT-00 files (one per patient above).
    pub adt_files: usize,
    /// OUL-01 files expected to import.
    pub lab_files: usize,
    /// OMP-01 files expected to import.
    pub prescription_files: usize,
    /// Lab results (OBX) in the files expected to import.
    pub lab_results: usize,
    /// Of those, results flagged L, H, LL or HH.
    pub abnormal_lab_results: usize,
    /// Prescribed drugs (RXE or RXO) in the files expected to import.
    pub prescriptions: usize,
    /// Every file written, hostile ones included.
    pub files_written: usize,
    /// The hostile cases, each with its path and expected outcome.
    pub hostile: Vec<HostileCase>,
}

impl FixtureSummary {
    /// Files expected to import: ADT-00, OUL-01 and OMP-01 together.
    pub fn good_files(&self) -> usize {
        self.adt_files + self.lab_files + self.prescription_files
    }

    /// The expected outcome for a path, if it is a hostile case.
    pub fn expected_for(&self, path: &Path) -> Option<&ExpectedOutcome> {
        self.hostile.iter().find(|h| h.path == path).map(|h| &h.expected)
    }
}

/// One hostile file or folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileCase {
    /// What makes it hostile.
    pub kind: HostileKind,
    /// The path the storage walk reports it under.
    pub path: PathBuf,
    /// What an importer should make of it.
    pub expected: ExpectedOutcome,
}

/// The kinds of hostile input in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostileKind {
    /// A kanji name whose ISO-2022-JP bytes include `\`, `^` and `~` (ADT-00 of
    /// [`HOSTILE_PATIENT_ID`]); its OMP-01 dosage form 錠剤 holds `^` too.
    KanjiWithDelimiterBytes,
    /// An RDE^O11 (OMP-01) of [`HOSTILE_PATIENT_ID`] whose drug names and dosage text put
    /// `^`, `\` and `~` on the wire ([`HOSTILE_DRUG_NAMES`]).
    KanjiDrugWithDelimiterBytes,
    /// An OUL-01 cut in the middle of a segment id.
    TruncatedFile,
    /// An OUL-01 written in Shift_JIS but announcing ISO IR87 in MSH-18.
    WrongEncoding,
    /// An OUL-01 with Z-segments among the standard ones.
    UnknownZSegments,
    /// A file outside the SS-MIX2 layout.
    OutsideLayout,
    /// A zero-byte file with a valid SS-MIX2 name.
    EmptyFile,
    /// An OUL-01 for [`NO_ADT_PATIENT_ID`], who has no ADT-00.
    PatientWithoutAdt,
}

/// What an importer should make of a hostile case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedOutcome {
    /// Imports normally; already counted in the summary's totals.
    Imports,
    /// [`crate::decode::decode`] fails.
    DecodeError,
    /// [`crate::parse::parse`] fails with `TruncatedSegment`.
    TruncatedSegment,
    /// [`crate::parse::parse`] fails with `Empty`.
    EmptyMessage,
    /// [`crate::storage::walk`] reports it as `NotLayout`.
    NotLayout,
    /// Decodes and parses, but the patient has no demographics: not imported, its lab
    /// results not counted in the totals.
    UnknownPatient {
        /// Lab results in the file.
        lab_results: usize,
    },
}

/// Write a synthetic SS-MIX2 storage under `root` (created if needed) with `patients`
/// synthetic patients plus the hostile cases. Deterministic for a given `seed`.
pub fn write_fixture_tree(root: &Path, patients: usize, seed: u64) -> io::Result<FixtureSummary> {
    fs::create_dir_all(root)?;
    let mut w = Writer {
        root: root.to_path_buf(),
        rng: Rng::new(seed),
        summary: FixtureSummary {
            root: root.to_path_buf(),
            patients: 0,
            adt_files: 0,
            lab_files: 0,
            prescription_files: 0,
            lab_results: 0,
            abnormal_lab_results: 0,
            prescriptions: 0,
            files_written: 0,
            hostile: Vec::new(),
        },
        control: 0,
        prescription_messages: 0,
    };
    let base_id = 1_000_000u64.saturating_add((seed % 900).saturating_mul(10_000));
    for i in 0..patients {
        let number = base_id.saturating_add(u64::try_from(i).unwrap_or(u64::MAX).saturating_mul(137));
        let patient = w.random_patient(format!("{number:010}"));
        w.good_patient(&patient)?;
    }
    w.hostile_cases()?;
    Ok(w.summary)
}

struct Writer {
    root: PathBuf,
    rng: Rng,
    summary: FixtureSummary,
    control: u64,
    /// Prescription messages built so far: odd ones are RDE^O11, even ones OMP^O09.
    prescription_messages: u64,
}

#[derive(Clone)]
struct PatientData {
    id: String,
    family: (String, String),
    given: (String, String),
    sex: char,
    birth: Date,
    postal: String,
    address: String,
    phone: String,
}

/// A message ready to write, with what it holds.
struct Built {
    text: String,
    lab_results: usize,
    abnormal: usize,
    prescriptions: usize,
}

const FACILITY: &str = "9999999999";
/// The sending hospital's name, as ORC-21 of an RDE^O11 gives it.
const FACILITY_NAME: &str = "つなぐ市立病院";

impl Writer {
    fn good_patient(&mut self, patient: &PatientData) -> io::Result<PathBuf> {
        let adt = self.write_adt(patient)?;
        let lab_days = 2 + self.rng.below(3);
        for day in self.distinct_days(lab_days) {
            let built = self.oul(patient, day, false);
            self.write_good(patient, day, "OUL-01", &built)?;
        }
        let rx_days = 1 + self.rng.below(2);
        for day in self.distinct_days(rx_days) {
            let built = self.omp(patient, day);
            self.write_good(patient, day, "OMP-01", &built)?;
        }
        Ok(adt)
    }

    fn write_adt(&mut self, patient: &PatientData) -> io::Result<PathBuf> {
        let written = self.written_at(day_of(2024, Month::January, 4));
        let text = self.adt(patient, &written);
        let name = format!("{}_-_ADT-00_-_{written}_-_1", patient.id);
        let path = self.path(&patient.id, StorageDate::Undated, "ADT-00", &name)?;
        write_encoded(&path, &text, ISO_2022_JP)?;
        self.summary.files_written += 1;
        self.summary.adt_files += 1;
        self.summary.patients += 1;
        Ok(path)
    }

    fn write_good(&mut self, patient: &PatientData, day: Date, data_type: &str, built: &Built) -> io::Result<PathBuf> {
        let path = self.message_path(patient, day, data_type)?;
        write_encoded(&path, &built.text, ISO_2022_JP)?;
        self.summary.files_written += 1;
        if data_type == "OUL-01" {
            self.summary.lab_files += 1;
        } else {
            self.summary.prescription_files += 1;
        }
        self.summary.lab_results += built.lab_results;
        self.summary.abnormal_lab_results += built.abnormal;
        self.summary.prescriptions += built.prescriptions;
        Ok(path)
    }

    fn message_path(&mut self, patient: &PatientData, day: Date, data_type: &str) -> io::Result<PathBuf> {
        self.control += 1;
        let written = self.written_at(day);
        let date = yyyymmdd(day);
        let order = format!("{:06}", self.control);
        let name = format!("{}_{date}_{data_type}_{order}_{written}_01_1", patient.id);
        self.path(&patient.id, StorageDate::Day(day), data_type, &name)
    }

    fn path(&self, pid: &str, date: StorageDate, data_type: &str, name: &str) -> io::Result<PathBuf> {
        let dir = folder_for(&self.root, pid, date, data_type)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "patient id shorter than 6 characters"))?;
        fs::create_dir_all(&dir)?;
        Ok(dir.join(name))
    }

    fn hostile_cases(&mut self) -> io::Result<()> {
        let hostile = PatientData {
            id: HOSTILE_PATIENT_ID.to_owned(),
            family: (HOSTILE_FAMILY_NAME.to_owned(), "ヤマモト".to_owned()),
            given: (HOSTILE_GIVEN_NAME.to_owned(), "ミエ".to_owned()),
            sex: 'F',
            birth: day_of(1938, Month::May, 14),
            postal: "1000001".to_owned(),
            address: "東京都千代田区千代田１－１".to_owned(),
            phone: "03-0000-0000".to_owned(),
        };
        let adt = self.write_adt(&hostile)?;
        self.add(HostileKind::KanjiWithDelimiterBytes, adt, ExpectedOutcome::Imports);
        let day = day_of(2024, Month::March, 1);
        let built = self.oul(&hostile, day, false);
        self.write_good(&hostile, day, "OUL-01", &built)?;
        let built = self.omp(&hostile, day);
        self.write_good(&hostile, day, "OMP-01", &built)?;

        // Z-segments among the standard ones: imports as usual.
        let built = self.oul(&hostile, day, true);
        let path = self.write_good(&hostile, day, "OUL-01", &built)?;
        self.add(HostileKind::UnknownZSegments, path, ExpectedOutcome::Imports);

        // Cut inside the id of the last OBX.
        let built = self.oul(&hostile, day, false);
        let (bytes, _, _) = ISO_2022_JP.encode(&built.text);
        let cut = bytes.windows(4).rposition(|w| w == b"\rOBX").map(|at| at + 3).unwrap_or(bytes.len() / 2);
        let path = self.message_path(&hostile, day, "OUL-01")?;
        fs::write(&path, bytes.get(..cut).unwrap_or_default())?;
        self.summary.files_written += 1;
        self.add(HostileKind::TruncatedFile, path, ExpectedOutcome::TruncatedSegment);

        // Shift_JIS bytes under an ISO IR87 announcement.
        let built = self.oul(&hostile, day, false);
        let path = self.message_path(&hostile, day, "OUL-01")?;
        write_encoded(&path, &built.text, SHIFT_JIS)?;
        self.summary.files_written += 1;
        self.add(HostileKind::WrongEncoding, path, ExpectedOutcome::DecodeError);

        // Zero bytes.
        let path = self.message_path(&hostile, day, "OUL-01")?;
        fs::write(&path, b"")?;
        self.summary.files_written += 1;
        self.add(HostileKind::EmptyFile, path, ExpectedOutcome::EmptyMessage);

        // Outside the layout: a note at the root and a stray file among messages.
        let readme = self.root.join("README.txt");
        fs::write(&readme, "synthetic SS-MIX2 storage written by tsunagu-hl7 fixtures\n")?;
        self.summary.files_written += 1;
        self.add(HostileKind::OutsideLayout, readme, ExpectedOutcome::NotLayout);
        let stray = self.path(HOSTILE_PATIENT_ID, StorageDate::Day(day), "OUL-01", "notes.txt")?;
        fs::write(&stray, "not a message\n")?;
        self.summary.files_written += 1;
        self.add(HostileKind::OutsideLayout, stray, ExpectedOutcome::NotLayout);

        // Lab results of a patient with no demographics.
        let mut orphan = self.random_patient(NO_ADT_PATIENT_ID.to_owned());
        orphan.id = NO_ADT_PATIENT_ID.to_owned();
        let built = self.oul(&orphan, day, false);
        let path = self.message_path(&orphan, day, "OUL-01")?;
        write_encoded(&path, &built.text, ISO_2022_JP)?;
        self.summary.files_written += 1;
        self.add(
            HostileKind::PatientWithoutAdt,
            path,
            ExpectedOutcome::UnknownPatient { lab_results: built.lab_results },
        );

        // A prescription whose drug names carry delimiter bytes: imports as usual.
        let day = day_of(2024, Month::March, 15);
        let built = self.hostile_rde(&hostile, day);
        let path = self.write_good(&hostile, day, "OMP-01", &built)?;
        self.add(HostileKind::KanjiDrugWithDelimiterBytes, path, ExpectedOutcome::Imports);
        Ok(())
    }

    fn add(&mut self, kind: HostileKind, path: PathBuf, expected: ExpectedOutcome) {
        self.summary.hostile.push(HostileCase { kind, path, expected });
    }

    fn random_patient(&mut self, id: String) -> PatientData {
        let first = self.rng.pick(FAMILY_FIRST);
        let second = self.rng.pick(FAMILY_SECOND);
        let family = (format!("{}{}", first.0, second.0), format!("{}{}", first.1, second.1));
        let sex = if self.rng.below(2) == 0 { 'F' } else { 'M' };
        let first = self.rng.pick(GIVEN_FIRST);
        let ending = if sex == 'F' { self.rng.pick(GIVEN_FEMALE_END) } else { self.rng.pick(GIVEN_MALE_END) };
        let given = (format!("{}{}", first.0, ending.0), format!("{}{}", first.1, ending.1));
        let birth = day_of(1930, Month::January, 1)
            .checked_add(Duration::days(i64::try_from(self.rng.below(365 * 30)).unwrap_or(0)))
            .unwrap_or(day_of(1930, Month::January, 1));
        let (city, postal_prefix) = self.rng.pick(CITIES);
        let address = format!(
            "{city}{}{}丁目{}番{}号",
            self.rng.pick(TOWNS),
            full_width(self.rng.below(5) + 1),
            full_width(self.rng.below(20) + 1),
            full_width(self.rng.below(30) + 1)
        );
        PatientData {
            id,
            family,
            given,
            sex,
            birth,
            postal: format!("{postal_prefix}{:04}", self.rng.below(10_000)),
            address,
            phone: format!("0{}-{:04}-{:04}", 3 + self.rng.below(6), self.rng.below(10_000), self.rng.below(10_000)),
        }
    }

    fn distinct_days(&mut self, count: usize) -> Vec<Date> {
        let start = day_of(2024, Month::January, 4);
        let mut days: Vec<Date> = Vec::new();
        while days.len() < count {
            let offset = i64::try_from(self.rng.below(330)).unwrap_or(0);
            let day = start.checked_add(Duration::days(offset)).unwrap_or(start);
            if !days.contains(&day) {
                days.push(day);
            }
        }
        days.sort();
        days
    }

    fn written_at(&mut self, day: Date) -> String {
        format!(
            "{}{:02}{:02}{:02}{:03}",
            yyyymmdd(day),
            8 + self.rng.below(10),
            self.rng.below(60),
            self.rng.below(60),
            self.rng.below(1000)
        )
    }

    fn msh(&mut self, written: &str, message_type: &str) -> String {
        self.control += 1;
        let stamp = written.get(..14).unwrap_or(written);
        format!(
            "MSH|^~\\&|HIS|{FACILITY}|SSMIX2|{FACILITY}|{stamp}||{message_type}|{:010}|P|2.5||||||~ISO IR87||ISO 2022-1994",
            self.control
        )
    }

    fn pid(patient: &PatientData) -> String {
        format!(
            "PID|0001||{}^^^^PI||{}^{}^^^^^L^I~{}^{}^^^^^L^P||{}|{}|||^^^^{}^JPN^H^{}||^PRN^PH^^^^^^^^^{}",
            patient.id,
            patient.family.0,
            patient.given.0,
            patient.family.1,
            patient.given.1,
            yyyymmdd(patient.birth),
            patient.sex,
            patient.postal,
            patient.address,
            patient.phone
        )
    }

    fn adt(&mut self, patient: &PatientData, written: &str) -> String {
        let msh = self.msh(written, "ADT^A08^ADT_A01");
        let stamp = written.get(..14).unwrap_or(written);
        let segments = [msh, format!("EVN||{stamp}"), Self::pid(patient), "PV1|0001|O".to_owned()];
        join(&segments)
    }

    fn oul(&mut self, patient: &PatientData, day: Date, with_z_segments: bool) -> Built {
        let written = self.written_at(day);
        let msh = self.msh(&written, "OUL^R22^OUL_R22");
        let date = yyyymmdd(day);
        let collected = format!("{date}{:02}{:02}00", 8 + self.rng.below(3), self.rng.below(60));
        let order = format!("L{:09}", self.control);
        let mut segments = vec![msh, Self::pid(patient)];
        if with_z_segments {
            segments.push("ZPD|1|synthetic|Z-segment after PID".to_owned());
        }
        segments.push("PV1|0001|O".to_owned());
        segments.push(format!("SPM|1|||023^血清^JC10||||||||||||||{collected}"));
        segments.push(format!("OBR|1|{order}|F{order}|LP01^生化学・血液一般^L|||{collected}"));
        segments.push(format!("ORC|SC|{order}|F{order}|||CM"));
        let mut lab_results = 0;
        let mut abnormal = 0;
        for test in LAB_TESTS {
            // Most panels hold most tests.
            if self.rng.below(10) == 0 {
                continue;
            }
            lab_results += 1;
            let set_id = lab_results;
            let (value_type, value, flag) = self.lab_value(test);
            if matches!(flag, "L" | "H" | "LL" | "HH") {
                abnormal += 1;
            }
            segments.push(format!(
                "OBX|{set_id}|{value_type}|{}^{}^JC10||{value}|{}^{}^ISO+|{}|{flag}|||F|||{collected}",
                test.code, test.name, test.unit, test.unit, test.range,
            ));
            if with_z_segments && set_id == 3 {
                segments.push("ZXX|local|extension^between^OBX".to_owned());
            }
        }
        Built { text: join(&segments), lab_results, abnormal, prescriptions: 0 }
    }

    /// OBX-2, OBX-5 and OBX-8 for one test.
    fn lab_value(&mut self, test: &LabTest) -> (&'static str, String, &'static str) {
        if test.code == CRP_CODE && self.rng.below(5) == 0 {
            return ("SN", "<^0.02".to_owned(), "");
        }
        // A sick population: centres and spreads differ from the healthy ranges.
        let value = (test.centre + self.rng.gaussian() * test.sd).max(test.floor);
        let factor = 10f64.powi(i32::try_from(test.decimals).unwrap_or(0));
        let value = (value * factor).round() / factor;
        let flag = if value < test.critical_low {
            "LL"
        } else if value < test.low {
            "L"
        } else if value > test.critical_high {
            "HH"
        } else if value > test.high {
            "H"
        } else {
            ""
        };
        ("NM", format!("{value:.prec$}", prec = test.decimals), flag)
    }

    fn omp(&mut self, patient: &PatientData, day: Date) -> Built {
        self.prescription_messages += 1;
        let rde = self.prescription_messages % 2 == 1;
        let written = self.written_at(day);
        let msh = self.msh(&written, if rde { "RDE^O11^RDE_O11" } else { "OMP^O09^OMP_O09" });
        let date = yyyymmdd(day);
        let mut segments = vec![msh, Self::pid(patient), "PV1|0001|O".to_owned()];
        let count = 1 + self.rng.below(3);
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < count {
            let i = self.rng.below(DRUGS.len());
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        chosen.sort_unstable();
        let order = format!("R{:09}", self.control);
        let doctor = format!(
            "{:04}^{}{}^{}{}^^^^^^^L^^^^^I",
            1000 + self.rng.below(50),
            self.rng.pick(FAMILY_FIRST).0,
            self.rng.pick(FAMILY_SECOND).0,
            self.rng.pick(GIVEN_FIRST).0,
            self.rng.pick(GIVEN_MALE_END).0
        );
        for (rp, &i) in chosen.iter().enumerate() {
            let Some(drug) = DRUGS.get(i) else { continue };
            let rp = rp + 1;
            let days = if drug.as_needed { None } else { [7, 14, 28].get(self.rng.below(3)).copied().or(Some(7)) };
            let orc = format!("ORC|NW|{order}_{rp:02}||{order}|||||{date}|||{doctor}");
            if rde {
                segments.extend(rde_order(&orc, drug, day, days));
                continue;
            }
            segments.push(orc);
            let tq1 = match days {
                None => format!("TQ1|||{}&{}&JAMISDP01||||{date}|||||||10", drug.timing_code, drug.timing_text),
                Some(days) => format!("TQ1|||{}&{}&JAMISDP01|||{days}^D|{date}", drug.timing_code, drug.timing_text),
            };
            segments.push(tq1);
            segments.push(format!(
                "RXO|{}^{}^HOT^{}^^YJ|{}||{}^{}^MR9P|TAB^錠剤^MR9F",
                drug.hot, drug.name, drug.yj, drug.dose, drug.unit_code, drug.unit_text
            ));
            segments.push("RXR|PO^経口^HL70162".to_owned());
        }
        Built { text: join(&segments), lab_results: 0, abnormal: 0, prescriptions: chosen.len() }
    }

    /// The hostile patient's last prescription: one order of three Rp, fixed drugs.
    fn hostile_rde(&mut self, patient: &PatientData, day: Date) -> Built {
        let written = self.written_at(day);
        let msh = self.msh(&written, "RDE^O11^RDE_O11");
        let date = yyyymmdd(day);
        let order = format!("R{:09}", self.control);
        let doctor = "1049^宮本^美枝子^^^^^^^L^^^^^I";
        let mut segments = vec![msh, Self::pid(patient), "PV1|0001|O".to_owned()];
        for (rp, (drug, days)) in HOSTILE_DRUGS.iter().enumerate() {
            let orc = format!("ORC|NW|{order}_{:02}||{order}|||||{date}|||{doctor}", rp + 1);
            segments.extend(rde_order(&orc, drug, day, *days));
        }
        Built { text: join(&segments), lab_results: 0, abnormal: 0, prescriptions: HOSTILE_DRUGS.len() }
    }
}

/// One Rp of an RDE^O11 in the JAHIS layout: ORC (with department and facility), RXE
/// (amount per dose, total dispensed, daily amount), TQ1 after it (dosage code, days,
/// start and end; as-needed drugs a number of doses instead), RXR.
fn rde_order(orc: &str, drug: &Drug, day: Date, days: Option<u32>) -> [String; 4] {
    let dose: u32 = drug.dose.parse().unwrap_or(1);
    let daily = dose.saturating_mul(drug.per_day);
    let total = match days {
        Some(days) => daily.saturating_mul(days),
        None => dose.saturating_mul(AS_NEEDED_DOSES),
    };
    let unit = format!("{}^{}^MR9P", drug.unit_code, drug.unit_text);
    let daily_dose =
        if drug.as_needed { String::new() } else { format!("{daily}^{}&{}&MR9P", drug.unit_code, drug.unit_text) };
    let date = yyyymmdd(day);
    let tq1 = match days {
        Some(days) => {
            let last = day.checked_add(Duration::days(i64::from(days) - 1)).unwrap_or(day);
            format!("TQ1|||{}&{}&JAMISDP01|||{days}^D|{date}|{}", drug.timing_code, drug.timing_text, yyyymmdd(last))
        }
        None => format!("TQ1|||{}&{}&JAMISDP01||||{date}|||||||{AS_NEEDED_DOSES}", drug.timing_code, drug.timing_text),
    };
    [
        format!("{orc}|||||01^内科^99Z01||||{FACILITY_NAME}^^^^^^^^^{FACILITY}"),
        format!(
            "RXE||{}^{}^HOT^{}^^YJ|{}||{unit}|{}^{}^MR9F||||{total}|{unit}||||||||{daily_dose}",
            drug.hot, drug.name, drug.yj, drug.dose, drug.form_code, drug.form_text
        ),
        tq1,
        "RXR|PO^経口^HL70162".to_owned(),
    ]
}

fn join(segments: &[String]) -> String {
    let mut text = segments.join("\r");
    text.push('\r');
    text
}

fn write_encoded(path: &Path, text: &str, encoding: &'static Encoding) -> io::Result<()> {
    let (bytes, _, had_errors) = encoding.encode(text);
    if had_errors {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("text not representable in {}", encoding.name()),
        ));
    }
    fs::write(path, bytes)
}

fn yyyymmdd(day: Date) -> String {
    format!("{:04}{:02}{:02}", day.year(), u8::from(day.month()), day.day())
}

fn day_of(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN)
}

fn full_width(n: usize) -> String {
    n.to_string().chars().map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)).collect()
}

/// SplitMix64: tiny, deterministic, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x7473_756E_6167_7521)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        if n64 == 0 {
            return 0;
        }
        usize::try_from(self.next() % n64).unwrap_or(0)
    }

    fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let i = self.below(items.len());
        items.get(i).copied().unwrap_or_default()
    }

    /// Approximately standard normal (Irwin–Hall with 6 uniforms).
    fn gaussian(&mut self) -> f64 {
        let sum: f64 = (0..6).map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64).sum();
        (sum - 3.0) * std::f64::consts::SQRT_2
    }
}

struct LabTest {
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    range: &'static str,
    low: f64,
    high: f64,
    centre: f64,
    sd: f64,
    floor: f64,
    decimals: usize,
    critical_low: f64,
    critical_high: f64,
}

const CRP_CODE: &str = "5C070000002306001";

#[rustfmt::skip]
const LAB_TESTS: &[LabTest] = &[
    LabTest { code: "2A990000001930101", name: "白血球数", unit: "10*3/uL", range: "3.3-8.6", low: 3.3, high: 8.6, centre: 6.5, sd: 2.5, floor: 0.8, decimals: 1, critical_low: 1.5, critical_high: 20.0 },
    LabTest { code: "2A030000001930101", name: "ヘモグロビン", unit: "g/dL", range: "11.6-16.8", low: 11.6, high: 16.8, centre: 11.2, sd: 1.8, floor: 5.0, decimals: 1, critical_low: 7.0, critical_high: 20.0 },
    LabTest { code: "2A050000001930101", name: "血小板数", unit: "10*4/uL", range: "15.8-34.8", low: 15.8, high: 34.8, centre: 21.0, sd: 8.0, floor: 2.0, decimals: 1, critical_low: 5.0, critical_high: 80.0 },
    LabTest { code: "3A015000002327101", name: "アルブミン", unit: "g/dL", range: "4.1-5.1", low: 4.1, high: 5.1, centre: 3.3, sd: 0.6, floor: 1.2, decimals: 1, critical_low: 2.0, critical_high: 6.5 },
    LabTest { code: "3B035000002327201", name: "AST", unit: "U/L", range: "13-30", low: 13.0, high: 30.0, centre: 30.0, sd: 15.0, floor: 8.0, decimals: 0, critical_low: 0.0, critical_high: 300.0 },
    LabTest { code: "3B045000002327201", name: "ALT", unit: "U/L", range: "7-42", low: 7.0, high: 42.0, centre: 25.0, sd: 14.0, floor: 4.0, decimals: 0, critical_low: 0.0, critical_high: 300.0 },
    LabTest { code: "3C015000002327101", name: "クレアチニン", unit: "mg/dL", range: "0.46-1.07", low: 0.46, high: 1.07, centre: 0.95, sd: 0.35, floor: 0.3, decimals: 2, critical_low: 0.0, critical_high: 5.0 },
    LabTest { code: "3C025000002327101", name: "尿素窒素", unit: "mg/dL", range: "8-20", low: 8.0, high: 20.0, centre: 19.0, sd: 8.0, floor: 4.0, decimals: 1, critical_low: 0.0, critical_high: 80.0 },
    LabTest { code: "3H010000002324101", name: "ナトリウム", unit: "mmol/L", range: "138-145", low: 138.0, high: 145.0, centre: 137.0, sd: 3.5, floor: 118.0, decimals: 0, critical_low: 125.0, critical_high: 155.0 },
    LabTest { code: "3H015000002324101", name: "カリウム", unit: "mmol/L", range: "3.6-4.8", low: 3.6, high: 4.8, centre: 4.3, sd: 0.55, floor: 2.6, decimals: 1, critical_low: 2.8, critical_high: 6.0 },
    LabTest { code: CRP_CODE, name: "CRP", unit: "mg/dL", range: "<=0.14", low: 0.0, high: 0.14, centre: 1.4, sd: 2.0, floor: 0.03, decimals: 2, critical_low: 0.0, critical_high: 15.0 },
    LabTest { code: "8A065000002391901", name: "eGFR", unit: "mL/min/1.73m2", range: "60以上", low: 60.0, high: f64::INFINITY, centre: 58.0, sd: 18.0, floor: 6.0, decimals: 0, critical_low: 15.0, critical_high: f64::INFINITY },
];

struct Drug {
    hot: &'static str,
    yj: &'static str,
    name: &'static str,
    /// Amount per dose (1回量).
    dose: &'static str,
    unit_code: &'static str,
    unit_text: &'static str,
    form_code: &'static str,
    form_text: &'static str,
    timing_code: &'static str,
    timing_text: &'static str,
    /// Doses a day (0 for an as-needed drug).
    per_day: u32,
    as_needed: bool,
}

/// Doses dispensed of an as-needed drug (TQ1-14).
const AS_NEEDED_DOSES: u32 = 10;

#[rustfmt::skip]
const DRUGS: &[Drug] = &[
    Drug { hot: "900000101", yj: "9119002G1001", name: "オキシコドン塩酸塩徐放錠５ｍｇ", dose: "1", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1022000000000000", timing_text: "内服・経口・１日２回１２時間毎", per_day: 2, as_needed: false },
    Drug { hot: "900000202", yj: "9344009F1002", name: "酸化マグネシウム錠３３０ｍｇ", dose: "1", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1013044400000000", timing_text: "内服・経口・１日３回朝昼夕食後", per_day: 3, as_needed: false },
    Drug { hot: "900000303", yj: "9329023F1003", name: "ランソプラゾールＯＤ錠１５ｍｇ", dose: "1", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1011000400000000", timing_text: "内服・経口・１日１回朝食後", per_day: 1, as_needed: false },
    Drug { hot: "900000404", yj: "9354003F1004", name: "センノシド錠１２ｍｇ", dose: "2", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1010000000080000", timing_text: "内服・経口・１日１回就寝前", per_day: 1, as_needed: false },
    Drug { hot: "900000505", yj: "9141007F1005", name: "アセトアミノフェン錠２００ｍｇ", dose: "2", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1050110020000000", timing_text: "頓用・経口・疼痛時", per_day: 0, as_needed: true },
];

/// The hostile patient's last prescription ([`HOSTILE_DRUG_NAMES`]) with its days.
#[rustfmt::skip]
const HOSTILE_DRUGS: [(Drug, Option<u32>); 3] = [
    (Drug { hot: "900000606", yj: "9344009F2006", name: HOSTILE_DRUG_NAMES[0], dose: "1", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1013044400000000", timing_text: "内服・経口・１日３回朝昼夕食後", per_day: 3, as_needed: false }, Some(14)),
    (Drug { hot: "900000707", yj: "9520108D1007", name: HOSTILE_DRUG_NAMES[1], dose: "3", unit_code: "G", unit_text: "ｇ", form_code: "GRA", form_text: "顆粒剤", timing_code: "1013022200000000", timing_text: "内服・経口・１日３回朝昼夕食前", per_day: 3, as_needed: false }, Some(14)),
    (Drug { hot: "900000808", yj: "9149019F1008", name: HOSTILE_DRUG_NAMES[2], dose: "1", unit_code: "TAB", unit_text: "錠", form_code: "TAB", form_text: "錠剤", timing_code: "1050110020000000", timing_text: "頓用・経口・疼痛時", per_day: 0, as_needed: true }, None),
];

// Name parts written for this module: surnames are two parts, given names a head and an
// ending by sex. Several kanji carry delimiter bytes in ISO-2022-JP (本 宮 `\`, 笠 枝 `^`,
// 美 `~`, 愛 `&`), so ordinary fixture patients exercise decode-before-split too.
const FAMILY_FIRST: &[(&str, &str)] = &[
    ("山", "ヤマ"),
    ("川", "カワ"),
    ("中", "ナカ"),
    ("石", "イシ"),
    ("松", "マツ"),
    ("高", "タカ"),
    ("小", "コ"),
    ("大", "オオ"),
    ("北", "キタ"),
    ("西", "ニシ"),
    ("岡", "オカ"),
    ("森", "モリ"),
    ("竹", "タケ"),
    ("藤", "フジ"),
    ("笠", "カサ"),
    ("宮", "ミヤ"),
];
const FAMILY_SECOND: &[(&str, &str)] = &[
    ("田", "タ"),
    ("本", "モト"),
    ("村", "ムラ"),
    ("井", "イ"),
    ("野", "ノ"),
    ("原", "ハラ"),
    ("沢", "サワ"),
    ("島", "シマ"),
    ("川", "カワ"),
    ("口", "グチ"),
    ("崎", "サキ"),
    ("内", "ウチ"),
];
const GIVEN_FIRST: &[(&str, &str)] = &[
    ("美", "ミ"),
    ("和", "カズ"),
    ("春", "ハル"),
    ("秋", "アキ"),
    ("直", "ナオ"),
    ("幸", "ユキ"),
    ("良", "ヨシ"),
    ("正", "マサ"),
    ("清", "キヨ"),
    ("光", "ミツ"),
    ("愛", "アイ"),
    ("千", "チ"),
];
const GIVEN_FEMALE_END: &[(&str, &str)] = &[("子", "コ"), ("江", "エ"), ("代", "ヨ"), ("枝", "エ"), ("恵", "エ")];
const GIVEN_MALE_END: &[(&str, &str)] =
    &[("夫", "オ"), ("雄", "オ"), ("男", "オ"), ("治", "ジ"), ("吉", "キチ"), ("郎", "ロウ")];
const CITIES: &[(&str, &str)] = &[
    ("東京都世田谷区", "154"),
    ("神奈川県横浜市青葉区", "225"),
    ("大阪府堺市北区", "591"),
    ("福岡県福岡市東区", "813"),
    ("北海道札幌市中央区", "060"),
    ("愛知県名古屋市千種区", "464"),
    ("宮城県仙台市青葉区", "980"),
];
const TOWNS: &[&str] = &["本町", "緑町", "桜台", "東", "中央", "若葉", "旭町"];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn codes_are_shaped_right() {
        for test in LAB_TESTS {
            assert_eq!(test.code.len(), 17, "{}", test.name);
        }
        for drug in DRUGS.iter().chain(HOSTILE_DRUGS.iter().map(|(d, _)| d)) {
            assert_eq!((drug.hot.len(), drug.yj.len(), drug.timing_code.len()), (9, 12, 16), "{}", drug.name);
            assert!(drug.hot.starts_with('9') && drug.yj.starts_with('9'), "never a real code: {}", drug.name);
            assert_eq!(drug.as_needed, drug.per_day == 0, "{}", drug.name);
        }
        assert_eq!(full_width(42), "４２");
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let sa = write_fixture_tree(a.path(), 5, 7).unwrap();
        let sb = write_fixture_tree(b.path(), 5, 7).unwrap();
        let sc = write_fixture_tree(c.path(), 5, 8).unwrap();
        let files = |root: &Path| {
            crate::storage::walk(root)
                .unwrap()
                .filter_map(|item| match item {
                    crate::storage::StorageItem::File(f) => Some((f.relative_path, f.sha256)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(files(a.path()), files(b.path()));
        assert_ne!(files(a.path()), files(c.path()));
        assert_eq!((sa.lab_results, sa.prescriptions), (sb.lab_results, sb.prescriptions));
        assert_ne!(sa.hostile, sc.hostile, "hostile paths carry seed-dependent written-at stamps");
        assert_eq!(sa.patients, 6);
    }

    #[test]
    fn hostile_name_bytes_hold_delimiters() {
        let name = format!("{HOSTILE_FAMILY_NAME}{HOSTILE_GIVEN_NAME}");
        let (bytes, _, _) = ISO_2022_JP.encode(&name);
        for delimiter in [b'\\', b'^', b'~'] {
            assert!(bytes.contains(&delimiter));
        }
        let drugs = HOSTILE_DRUG_NAMES.concat();
        let (bytes, _, _) = ISO_2022_JP.encode(&drugs);
        for delimiter in [b'\\', b'^'] {
            assert!(bytes.contains(&delimiter));
        }
    }
}
