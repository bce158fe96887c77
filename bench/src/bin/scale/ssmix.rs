//! W6, SS-MIX2: four imports at once, each a tree of its own (as four hospitals'
//! storage, or four days of one), into the generated database. The import is a
//! command (`tsunagu import ss-mix2`), not an HTTP route, so it runs here as the
//! command runs it: the library call on the same database the server uses.

use crate::fixture::Fixture;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tsunagu_domain::Clock;
use tsunagu_domain::clock::{RandomIdGen, SystemClock};
use tsunagu_hl7::decode::Charset;
use tsunagu_store::{AuditCtx, OpenMode, Store};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportResult {
    pub trees: usize,
    pub patients_per_tree: usize,
    /// Every file read (ADT, lab results, prescriptions, hostile ones).
    pub files: usize,
    pub lab_files: usize,
    pub lab_results: usize,
    pub prescription_files: usize,
    pub seconds: f64,
    pub files_per_second: f64,
    pub lab_results_per_second: f64,
    /// CPU of this process (the import) and of PostgreSQL, per file.
    pub importer_cpu_ms_per_file: f64,
    pub database_cpu_ms_per_file: f64,
}

/// Seeds whose trees' local ids are not yet registered by the organization: a tree of
/// seed `s` numbers its patients from 1,000,000 + (s mod 900) × 10,000, so seeds 300
/// apart never overlap, and earlier runs' trees are skipped.
async fn free_seeds(pool: &AnyPool, fx: &Fixture, n: usize) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for k in 0..900u64 {
        let seed = 7 + k * 3;
        let first = format!("{:010}", 1_000_000 + (seed % 900) * 10_000);
        let taken: i64 = sqlx::query("SELECT COUNT(*) FROM patient_identifiers WHERE org_id = $1 AND local_id = $2")
            .bind(&fx.org_id)
            .bind(&first)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        if taken == 0 && out.iter().all(|s: &u64| (s % 900).abs_diff(seed % 900) > 4) {
            out.push(seed);
            if out.len() == n {
                break;
            }
        }
    }
    Ok(out)
}

pub async fn run(
    url: &str,
    pool: &AnyPool,
    fx: &Fixture,
    work: &Path,
    patients: usize,
    postgres: bool,
) -> Result<ImportResult> {
    let store = Store::open(url, OpenMode::MustExist, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    let user = store.user_by_email(&tsunagu_domain::person::Email::parse(&fx.email)?).await?;
    let org = fx.org_id.parse().context("the organization id")?;
    let who = store.principal(user.id, org).await?;
    let seeds = free_seeds(pool, fx, 4).await?;
    let mut trees = Vec::new();
    for seed in &seeds {
        let dir = work.join(format!("ss-mix2-{seed}"));
        let _ = std::fs::remove_dir_all(&dir);
        tsunagu_hl7::fixtures::write_fixture_tree(&dir, patients, *seed)?;
        // Registering the patients is the hospital's work before any import: not timed.
        tsunagu_bench::register_tree_patients(&store, &who, &dir, SystemClock.today_jst()).await?;
        trees.push(dir);
    }
    eprintln!("W6 SS-MIX2: {} trees of {patients} patients registered; importing 4 at once", trees.len());
    let ctx = AuditCtx::default();
    let quiet = |_: usize, _: usize| {};
    let ticks = crate::proc::clock_ticks();
    let me = std::process::id();
    let (cpu0, db0) = (crate::proc::process_ticks(me), if postgres { crate::proc::ticks_named("postgres") } else { 0 });
    let started = Instant::now();
    let one = |i: usize| {
        let dir = trees.get(i).cloned();
        let (store, ctx) = (store.clone(), ctx.clone());
        async move {
            match dir {
                Some(d) => {
                    tsunagu_cli::import::ss_mix2(&store, who.org, &d, Charset::Iso2022Jp, &ctx, &quiet).await.map(Some)
                }
                None => Ok(None),
            }
        }
    };
    let (a, b, c, d) = tokio::join!(one(0), one(1), one(2), one(3));
    let seconds = started.elapsed().as_secs_f64();
    let (cpu1, db1) = (crate::proc::process_ticks(me), if postgres { crate::proc::ticks_named("postgres") } else { 0 });
    let mut r = ImportResult { trees: trees.len(), patients_per_tree: patients, seconds, ..ImportResult::default() };
    for s in [a?, b?, c?, d?].into_iter().flatten() {
        r.files += s.files;
        r.lab_files += s.lab_files;
        r.lab_results += s.lab_results;
        r.prescription_files += s.prescription_files;
    }
    r.files_per_second = r.files as f64 / seconds;
    r.lab_results_per_second = r.lab_results as f64 / seconds;
    r.importer_cpu_ms_per_file = (cpu1.saturating_sub(cpu0)) as f64 * 1000.0 / ticks / r.files.max(1) as f64;
    r.database_cpu_ms_per_file = (db1.saturating_sub(db0)) as f64 * 1000.0 / ticks / r.files.max(1) as f64;
    for t in &trees {
        let _ = std::fs::remove_dir_all(t);
    }
    Ok(r)
}
