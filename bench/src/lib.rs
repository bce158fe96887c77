//! What the benchmark tools share: latency percentiles, a description of the machine
//! and the commit measured, and a throwaway PostgreSQL database. Measuring tools, not
//! product code; they follow the workspace lints anyway.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Connection};
use std::path::{Path, PathBuf};

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
