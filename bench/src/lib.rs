//! What the benchmark tools share: latency percentiles, a description of the machine
//! and the commit measured, and a throwaway PostgreSQL database. Measuring tools, not
//! product code; they follow the workspace lints anyway.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Connection};
use std::path::{Path, PathBuf};

/// The assigning authority of an organization's local patient numbers (JP Core): this
/// prefix followed by the 10-digit institution code. The benchmarks speak plain FHIR
/// to any server, so they spell it out rather than borrow the server's.
pub const PATIENT_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";

/// Digits in katakana and in kanji, for [`spell`].
pub const KANA_DIGITS: [char; 10] = ['ゼ', 'イ', 'ニ', 'サ', 'ヨ', 'ゴ', 'ロ', 'ナ', 'ハ', 'キ'];
pub const KANJI_DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// `n` written with `digits`: the names of patients a benchmark creates are kana and
/// kanji, and each must differ (the registry refuses possible duplicates: same birth
/// date and name).
pub fn spell(mut n: u64, digits: [char; 10]) -> String {
    let mut s = Vec::new();
    loop {
        s.push(digits.get((n % 10) as usize).copied().unwrap_or('〇'));
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.iter().rev().collect()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub n: usize,
    pub min: f64,
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of milliseconds.
    pub fn of(ms: &mut [f64]) -> Latency {
        ms.sort_by(|a, b| a.total_cmp(b));
        let n = ms.len();
        let at = |p: f64| -> f64 {
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n.max(1));
            ms.get(rank - 1).copied().unwrap_or(0.0)
        };
        Latency {
            n,
            min: ms.first().copied().unwrap_or(0.0),
            mean: ms.iter().sum::<f64>() / n.max(1) as f64,
            median: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: ms.last().copied().unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    pub load_at_start: Option<f64>,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Machine {
        nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default(),
        mem_total_mib: meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib / 1024)
            .unwrap_or(0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        load_at_start: loadavg(),
    }
}

pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `git rev-parse --short HEAD`, with `-dirty` when the tree has changes.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    match run(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}

/// A new, empty PostgreSQL database `<prefix>_<random>` next to `admin` (any database
/// URL on the server): its URL and name. Drop it with [`drop_postgres`].
pub async fn create_postgres(admin: &str, prefix: &str) -> Result<(String, String)> {
    let name = format!("{prefix}_{}", random_suffix());
    let base = admin.split('?').next().unwrap_or(admin);
    let (server, _) = base.rsplit_once('/').context("the PostgreSQL URL has no database part")?;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(admin).await.context("connecting to the PostgreSQL server")?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await?;
    let _ = c.close().await;
    Ok((format!("{server}/{name}"), name))
}

pub async fn drop_postgres(admin: &str, name: &str) -> Result<()> {
    let mut c = sqlx::AnyConnection::connect(admin).await.context("connecting to the PostgreSQL server")?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut c).await?;
    let _ = c.close().await;
    Ok(())
}

fn random_suffix() -> String {
    use tsunagu_domain::IdGen;
    tsunagu_domain::clock::RandomIdGen.uuid().simple().to_string()
}

pub fn time_text(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// What [`register_tree_patients`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeRegistration {
    pub registered: usize,
    /// Patients the store refused (e.g. a local id already taken).
    pub refused: usize,
}

/// Register, as `who`'s organization, every patient of an SS-MIX2 tree from its ADT-00
/// messages (names, sex, birth date, the local id), the way a hospital's staff would
/// before its lab results can be imported onto their charts. Possible duplicates are
/// registered anyway (`confirm_new`): the tree's patients are distinct people.
pub async fn register_tree_patients(
    store: &tsunagu_store::Store,
    who: &tsunagu_domain::policy::Principal,
    tree: &Path,
    today: time::Date,
) -> Result<TreeRegistration> {
    use tsunagu_domain::patient::{NewPatient, PatientForm};
    use tsunagu_hl7::decode::{Charset, decode};
    use tsunagu_hl7::model::Sex;
    use tsunagu_hl7::parse::parse;
    use tsunagu_hl7::storage::{StorageItem, walk};
    let ctx = tsunagu_store::AuditCtx::default();
    let mut out = TreeRegistration::default();
    for item in walk(tree)? {
        let StorageItem::File(f) = item else { continue };
        if f.data_type != "ADT-00" {
            continue;
        }
        let Ok(text) = decode(&f.bytes, Charset::Iso2022Jp) else { continue };
        let Ok(msg) = parse(&text) else { continue };
        let Ok(p) = msg.patient() else { continue };
        let (Some(kanji), Some(kana), Some(birth)) = (p.kanji_name, p.kana_name, p.birth_date) else { continue };
        let form = PatientForm {
            family_name: kanji.family,
            given_name: kanji.given.unwrap_or_default(),
            family_kana: kana.family,
            given_kana: kana.given.unwrap_or_default(),
            sex: match p.sex {
                Some(Sex::Male) => "male",
                Some(Sex::Female) => "female",
                _ => "unknown",
            }
            .into(),
            birth_date: birth.to_string(),
            local_id: p.id,
            ..PatientForm::default()
        };
        let new = NewPatient::parse(&form, today).map_err(|e| anyhow::anyhow!("{e}"))?;
        match store.register_patient(who, &new, true, &ctx).await {
            Ok(tsunagu_store::Registered::Created(_)) => out.registered += 1,
            Ok(tsunagu_store::Registered::PossibleDuplicates(_)) | Err(_) => out.refused += 1,
        }
    }
    Ok(out)
}
