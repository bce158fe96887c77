//! Walking an SS-MIX2 standardized storage:
//! `root/{pid[0..3]}/{pid[3..6]}/{pid}/{YYYYMMDD or -}/{data type}/{file}` where the file
//! is named `{pid}_{date or -}_{data type}_{order no or -}_{yyyymmddhhmmssfff}_{dept or -}_{flag}`.
//!
//! The walk is deterministic (names sorted bytewise at every level). Anything that does not
//! fit the layout is reported as an item and the walk goes on; a directory that does not
//! fit is reported once and not entered. Symbolic links are not followed. Each file comes
//! with its bytes and their SHA-256, for provenance and idempotent imports.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::{Date, Month};

/// Files larger than this are reported unreadable rather than loaded (an HL7 message
/// of an SS-MIX2 store is a few kilobytes).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The date folder of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageDate {
    /// `-`: data not tied to a day (ADT-00 demographics).
    Undated,
    /// `YYYYMMDD`: the day of care.
    Day(Date),
}

/// The parts of an SS-MIX2 file name after patient id, date and data type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNameParts {
    /// Order number, `None` for `-`.
    pub order_number: Option<String>,
    /// When the file was written, `yyyymmddhhmmssfff` as in the name.
    pub written_at: String,
    /// Department code, `None` for `-`.
    pub department: Option<String>,
    /// The condition flag as in the name (in practice `1` for current data).
    pub condition_flag: String,
}

/// One message file of the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFile {
    /// Full path.
    pub path: PathBuf,
    /// Path below the root.
    pub relative_path: PathBuf,
    /// Patient id, from the folder names.
    pub patient_id: String,
    /// Date folder.
    pub date: StorageDate,
    /// Data type folder (`ADT-00`, `OUL-01`, `OMP-01`...).
    pub data_type: String,
    /// The rest of the file name.
    pub name: FileNameParts,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
}

/// One thing found in the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageItem {
    /// A message file in its place.
    File(StorageFile),
    /// A file or directory that does not fit the SS-MIX2 layout (not entered if a directory).
    NotLayout {
        /// Its path.
        path: PathBuf,
        /// Why it does not fit.
        reason: String,
    },
    /// A file or directory that could not be read.
    Unreadable {
        /// Its path.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl StorageItem {
    /// The path of the item.
    pub fn path(&self) -> &Path {
        match self {
            StorageItem::File(file) => &file.path,
            StorageItem::NotLayout { path, .. } | StorageItem::Unreadable { path, .. } => path,
        }
    }
}

/// The storage root itself cannot be walked.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the SS-MIX2 storage root {path}: {source}")]
pub struct WalkError {
    /// The root given.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The walk: the tree is listed up front (names only), file contents are read one at a
/// time as the iterator advances.
#[derive(Debug)]
pub struct Walk {
    pending: std::vec::IntoIter<Pending>,
}

#[derive(Debug)]
enum Pending {
    File {
        path: PathBuf,
        relative_path: PathBuf,
        patient_id: String,
        date: StorageDate,
        data_type: String,
        name: FileNameParts,
    },
    Item(StorageItem),
}

impl Walk {
    /// Items left, for progress reporting.
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }
}

impl Iterator for Walk {
    type Item = StorageItem;

    fn next(&mut self) -> Option<StorageItem> {
        Some(match self.pending.next()? {
            Pending::Item(item) => item,
            Pending::File { path, relative_path, patient_id, date, data_type, name } => match read_file(&path) {
                Ok(bytes) => {
                    let sha256 = hex::encode(Sha256::digest(&bytes));
                    StorageItem::File(StorageFile {
                        path,
                        relative_path,
                        patient_id,
                        date,
                        data_type,
                        name,
                        bytes,
                        sha256,
                    })
                }
                Err(reason) => StorageItem::Unreadable { path, reason },
            },
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.pending.size_hint()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    fs::read(path).map_err(|e| e.to_string())
}

/// Walk the storage under `root`. Fails only when `root` itself cannot be listed.
pub fn walk(root: &Path) -> Result<Walk, WalkError> {
    let top = list(root).map_err(|source| WalkError { path: root.to_path_buf(), source })?;
    let mut pending = Vec::new();
    let mut walker = Walker { root, pending: &mut pending };
    walker.level1(top);
    Ok(Walk { pending: pending.into_iter() })
}

struct Entry {
    path: PathBuf,
    name: String,
    kind: Kind,
}

#[derive(PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Link,
    Other,
}

/// Sorted entries of a directory.
fn list(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => Kind::Link,
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(t) if t.is_file() => Kind::File,
            _ => Kind::Other,
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        entries.push(Entry { path, name, kind });
    }
    entries.sort_by(|a, b| a.path.as_os_str().cmp(b.path.as_os_str()));
    Ok(entries)
}

struct Walker<'a> {
    root: &'a Path,
    pending: &'a mut Vec<Pending>,
}

impl Walker<'_> {
    fn not_layout(&mut self, path: PathBuf, reason: impl Into<String>) {
        self.pending.push(Pending::Item(StorageItem::NotLayout { path, reason: reason.into() }));
    }

    /// Entries of a directory expected at this level; anything but a directory is reported.
    fn subdirs(&mut self, dir: &Path, what: &str) -> Vec<Entry> {
        match list(dir) {
            Ok(entries) => entries
                .into_iter()
                .filter_map(|entry| match entry.kind {
                    Kind::Dir => Some(entry),
                    Kind::Link => {
                        self.not_layout(entry.path, "symbolic links are not followed");
                        None
                    }
                    _ => {
                        self.not_layout(entry.path, format!("a file where a {what} folder belongs"));
                        None
                    }
                })
                .collect(),
            Err(e) => {
                self.pending
                    .push(Pending::Item(StorageItem::Unreadable { path: dir.to_path_buf(), reason: e.to_string() }));
                Vec::new()
            }
        }
    }

    fn level1(&mut self, top: Vec<Entry>) {
        for entry in top {
            match entry.kind {
                Kind::Dir if entry.name.chars().count() == 3 && !entry.name.starts_with('.') => {
                    let prefix1 = entry.name.clone();
                    for l2 in self.subdirs(&entry.path, "patient-id prefix") {
                        if l2.name.chars().count() != 3 || l2.name.starts_with('.') {
                            self.not_layout(l2.path, "not a 3-character patient-id folder (characters 4 to 6)");
                            continue;
                        }
                        for l3 in self.subdirs(&l2.path, "patient") {
                            self.patient(&prefix1, &l2.name, l3);
                        }
                    }
                }
                Kind::Dir => self.not_layout(entry.path, "not a 3-character patient-id folder (characters 1 to 3)"),
                Kind::Link => self.not_layout(entry.path, "symbolic links are not followed"),
                _ => self.not_layout(entry.path, "a file where a patient-id folder belongs"),
            }
        }
    }

    fn patient(&mut self, prefix1: &str, prefix2: &str, dir: Entry) {
        let pid = dir.name.as_str();
        if pid.get(0..3) != Some(prefix1) || pid.get(3..6) != Some(prefix2) {
            self.not_layout(dir.path, "the patient folder does not start with the two folder names above it");
            return;
        }
        for date_dir in self.subdirs(&dir.path, "date") {
            let date = match parse_date_folder(&date_dir.name) {
                Some(date) => date,
                None => {
                    self.not_layout(date_dir.path, "not a date folder (YYYYMMDD or -)");
                    continue;
                }
            };
            for type_dir in self.subdirs(&date_dir.path, "data type") {
                if !is_data_type(&type_dir.name) {
                    self.not_layout(type_dir.path, "not a data type folder (like OUL-01)");
                    continue;
                }
                self.files(pid, &date_dir.name, date, &type_dir);
            }
        }
    }

    fn files(&mut self, pid: &str, date_name: &str, date: StorageDate, type_dir: &Entry) {
        let entries = match list(&type_dir.path) {
            Ok(entries) => entries,
            Err(e) => {
                self.pending.push(Pending::Item(StorageItem::Unreadable {
                    path: type_dir.path.clone(),
                    reason: e.to_string(),
                }));
                return;
            }
        };
        for entry in entries {
            match entry.kind {
                Kind::File => {}
                Kind::Link => {
                    self.not_layout(entry.path, "symbolic links are not followed");
                    continue;
                }
                _ => {
                    self.not_layout(entry.path, "a folder where message files belong");
                    continue;
                }
            }
            match parse_file_name(&entry.name, pid, date_name, &type_dir.name) {
                Ok(name) => {
                    let relative_path = entry.path.strip_prefix(self.root).unwrap_or(&entry.path).to_path_buf();
                    self.pending.push(Pending::File {
                        path: entry.path,
                        relative_path,
                        patient_id: pid.to_owned(),
                        date,
                        data_type: type_dir.name.clone(),
                        name,
                    });
                }
                Err(reason) => self.not_layout(entry.path, reason),
            }
        }
    }
}

fn parse_date_folder(name: &str) -> Option<StorageDate> {
    if name == "-" {
        return Some(StorageDate::Undated);
    }
    parse_yyyymmdd(name).map(StorageDate::Day)
}

fn parse_yyyymmdd(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = text.get(0..4)?.parse().ok()?;
    let month: u8 = text.get(4..6)?.parse().ok()?;
    let day: u8 = text.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// `ADT-00`, `OMP-01`, `OUL-01`, `PPR-01`, `RDE-01`: letters, a hyphen, two letters or digits.
fn is_data_type(name: &str) -> bool {
    let Some((kind, number)) = name.split_once('-') else { return false };
    (2..=4).contains(&kind.len())
        && kind.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && number.len() == 2
        && number.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn parse_file_name(name: &str, pid: &str, date: &str, data_type: &str) -> Result<FileNameParts, String> {
    let parts: Vec<&str> = name.split('_').collect();
    let [file_pid, file_date, file_type, order, written_at, department, flag] = parts.as_slice() else {
        return Err(format!(
            "the file name has {} parts separated by '_', SS-MIX2 names have 7 \
             (patient_date_type_order_written_department_flag)",
            parts.len()
        ));
    };
    if *file_pid != pid {
        return Err("the patient id in the file name differs from its folder".to_owned());
    }
    if *file_date != date {
        return Err("the date in the file name differs from its folder".to_owned());
    }
    if *file_type != data_type {
        return Err("the data type in the file name differs from its folder".to_owned());
    }
    if written_at.is_empty() || !written_at.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the written-at part of the file name is not digits".to_owned());
    }
    if flag.is_empty() {
        return Err("the condition flag of the file name is empty".to_owned());
    }
    let dash_is_none = |s: &str| (s != "-" && !s.is_empty()).then(|| s.to_owned());
    Ok(FileNameParts {
        order_number: dash_is_none(order),
        written_at: (*written_at).to_owned(),
        department: dash_is_none(department),
        condition_flag: (*flag).to_owned(),
    })
}

/// The folder of a patient's data of one day and type, below `root`.
pub fn folder_for(root: &Path, patient_id: &str, date: StorageDate, data_type: &str) -> Option<PathBuf> {
    let date = match date {
        StorageDate::Undated => "-".to_owned(),
        StorageDate::Day(d) => format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()),
    };
    Some(root.join(patient_id.get(0..3)?).join(patient_id.get(3..6)?).join(patient_id).join(date).join(data_type))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use time::macros::date;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn walks_in_order_and_reports_misfits() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "100/000/1000001/20240105/OUL-01/1000001_20240105_OUL-01_ORD1_20240105093012123_01_1", b"b");
        write(root, "100/000/1000001/-/ADT-00/1000001_-_ADT-00_-_20240105093012123_-_1", b"a");
        write(root, "100/000/1000001/20240105/OUL-01/notes.txt", b"x");
        write(root, "100/000/1000001/2024-01-05/OUL-01/whatever", b"x");
        write(root, "100/000/2000001/-/ADT-00/2000001_-_ADT-00_-_1_-_1", b"x");
        write(root, "100/000/1000001/20240105/OMP-01/1000002_20240105_OMP-01_-_1_-_1", b"x");
        write(root, "100/000/1000001/20240105/oul/file", b"x");
        write(root, "README.txt", b"x");
        write(root, "12/x", b"x");
        let items: Vec<_> = walk(root).unwrap().collect();
        let summary: Vec<(String, &str)> = items
            .iter()
            .map(|item| {
                let rel = item.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let kind = match item {
                    StorageItem::File(_) => "file",
                    StorageItem::NotLayout { .. } => "not-layout",
                    StorageItem::Unreadable { .. } => "unreadable",
                };
                (rel, kind)
            })
            .collect();
        let expected = [
            ("100/000/1000001/-/ADT-00/1000001_-_ADT-00_-_20240105093012123_-_1", "file"),
            ("100/000/1000001/2024-01-05", "not-layout"),
            ("100/000/1000001/20240105/OMP-01/1000002_20240105_OMP-01_-_1_-_1", "not-layout"),
            ("100/000/1000001/20240105/OUL-01/1000001_20240105_OUL-01_ORD1_20240105093012123_01_1", "file"),
            ("100/000/1000001/20240105/OUL-01/notes.txt", "not-layout"),
            ("100/000/1000001/20240105/oul", "not-layout"),
            ("100/000/2000001", "not-layout"),
            ("12", "not-layout"),
            ("README.txt", "not-layout"),
        ];
        let expected: Vec<(String, &str)> = expected.iter().map(|(p, k)| (p.to_string(), *k)).collect();
        assert_eq!(summary, expected);

        let StorageItem::File(adt) = &items[0] else { panic!() };
        assert_eq!(adt.patient_id, "1000001");
        assert_eq!(adt.date, StorageDate::Undated);
        assert_eq!(adt.data_type, "ADT-00");
        assert_eq!(adt.bytes, b"a");
        // SHA-256 of "a".
        assert_eq!(adt.sha256, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
        let StorageItem::File(oul) = &items[3] else { panic!() };
        assert_eq!(oul.date, StorageDate::Day(date!(2024 - 01 - 05)));
        assert_eq!(oul.name.order_number.as_deref(), Some("ORD1"));
        assert_eq!(oul.name.department.as_deref(), Some("01"));
        assert_eq!(oul.name.condition_flag, "1");
        assert_eq!(oul.name.written_at, "20240105093012123");
        assert_eq!(
            folder_for(root, "1000001", oul.date, "OUL-01").unwrap(),
            root.join("100/000/1000001/20240105/OUL-01")
        );
    }

    #[test]
    fn root_errors_and_empty_root() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(walk(dir.path()).unwrap().count(), 0);
        let err = walk(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot read the SS-MIX2 storage root"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "100/000/1000001/-/ADT-00/1000001_-_ADT-00_-_1_-_1", b"a");
        std::os::unix::fs::symlink(root.join("100"), root.join("100/000/1000001/-/ADT-00/loop")).unwrap();
        let items: Vec<_> = walk(root).unwrap().collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[1], StorageItem::NotLayout { reason, .. } if reason.contains("symbolic")));
    }
}
