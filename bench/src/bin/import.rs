//! `import`: the SS-MIX2 import rate (issue #7, point 6), SQLite and PostgreSQL.
//!
//! For each backend: a fresh database with the demo region, a generated SS-MIX2 tree of
//! `--patients` synthetic patients (ISO-2022-JP, hostile files included), every patient
//! registered by the demo hospital under its local id (from the tree's ADT-00), then
//! `tsunagu import ss-mix2` as the library runs it, timed: files (messages) per second and
//! lab results per second, then the same tree again (nothing new: the idempotency pass).
//! Results: `bench/results/import.md`. A measuring tool, not part of `scripts/test`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;
use tsunagu_bench::{create_postgres, drop_postgres, git_commit, machine, time_text, workspace_root};
use tsunagu_domain::Clock;
use tsunagu_domain::clock::{RandomIdGen, SystemClock};
use tsunagu_hl7::decode::Charset;
use tsunagu_store::{AuditCtx, OpenMode, Store};

#[derive(Parser)]
struct Args {
    /// Synthetic patients in the tree
    #[arg(long, default_value_t = 300)]
    patients: usize,
    /// Backends to run: sqlite, postgres
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

struct Run {
    backend: String,
    files: usize,
    lab_files: usize,
    results: usize,
    seconds: f64,
    again_seconds: f64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    sqlx::any::install_default_drivers();
    let tree = tempfile::tempdir()?;
    let fixture = tsunagu_hl7::fixtures::write_fixture_tree(tree.path(), args.patients, 42)?;
    let mut runs = Vec::new();
    for backend in &args.backends {
        let dir = tempfile::tempdir()?;
        let (url, pg) = match backend.as_str() {
            "sqlite" => (format!("sqlite://{}/t.db", dir.path().display()), None),
            "postgres" => {
                let (url, name) = create_postgres(&args.postgres_url, "tsunagu_import").await?;
                (url, Some(name))
            }
            other => bail!("unknown backend {other}"),
        };
        let run = one(backend, &url, tree.path()).await;
        if let Some(name) = pg {
            drop_postgres(&args.postgres_url, &name).await?;
        }
        let run = run?;
        if run.lab_files != fixture.lab_files || run.results != fixture.lab_results {
            bail!(
                "{backend}: imported {} files / {} results, the tree holds {} / {}",
                run.lab_files,
                run.results,
                fixture.lab_files,
                fixture.lab_results
            );
        }
        println!(
            "{backend}: {} files in {:.2} s ({:.0} files/s, {:.0} results/s); again in {:.2} s",
            run.files,
            run.seconds,
            run.files as f64 / run.seconds,
            run.results as f64 / run.seconds,
            run.again_seconds
        );
        runs.push(run);
    }
    write_results(&args, &runs)
}

async fn one(backend: &str, url: &str, tree: &std::path::Path) -> Result<Run> {
    let store = Store::open(url, OpenMode::CreateIfMissing, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    store.migrate().await?;
    let hash = tsunagu_web::password::hash_password(tsunagu_cli::demo::DEMO_PASSWORD, 256, 1, 1)?;
    tsunagu_cli::demo::seed(&store, &hash).await.context("seeding the demo region")?;
    let ctx = AuditCtx::default();
    // The demo hospital registers every patient of the tree, from its ADT-00.
    let sato = store.user_by_email(&tsunagu_domain::person::Email::parse("sato@hospital.example.jp")?).await?;
    let membership = store.memberships(sato.id).await?.into_iter().next().context("the hospital")?;
    let who = store.principal(sato.id, membership.org.id).await?;
    let today = SystemClock.today_jst();
    let registered = tsunagu_bench::register_tree_patients(&store, &who, tree, today).await?;
    if registered.refused > 0 {
        bail!("{} fixture patients could not be registered", registered.refused);
    }
    let quiet = |_: usize, _: usize| {};
    let started = Instant::now();
    let s = tsunagu_cli::import::ss_mix2(&store, who.org, tree, Charset::Iso2022Jp, &ctx, &quiet).await?;
    let seconds = started.elapsed().as_secs_f64();
    let again = Instant::now();
    let s2 = tsunagu_cli::import::ss_mix2(&store, who.org, tree, Charset::Iso2022Jp, &ctx, &quiet).await?;
    let again_seconds = again.elapsed().as_secs_f64();
    if s2.lab_files != 0 {
        bail!("{backend}: the second import added {} files", s2.lab_files);
    }
    Ok(Run {
        backend: backend.into(),
        files: s.files,
        lab_files: s.lab_files,
        results: s.lab_results,
        seconds,
        again_seconds,
    })
}

fn write_results(args: &Args, runs: &[Run]) -> Result<()> {
    let m = machine();
    let mut md = String::new();
    writeln!(md, "# SS-MIX2 import rate")?;
    writeln!(md)?;
    writeln!(
        md,
        "`cargo run -p tsunagu-bench --bin import -- --patients {}` (add `--release` for release figures) at {} on {} ({} cores, {} MiB), {}.",
        args.patients,
        git_commit(),
        m.cpu_model,
        m.nproc,
        m.mem_total_mib,
        time_text(SystemClock.now())
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "Each file is one HL7 v2.5 message (ADT, OUL lab results, OMP prescriptions; hostile files included), decoded from ISO-2022-JP, parsed, and for lab files written with its provenance and audit record in one transaction. \"Again\" is the idempotency pass over the same tree (every file read and hashed, nothing written)."
    )?;
    writeln!(md)?;
    writeln!(md, "| backend | files | lab files | results | seconds | files/s | results/s | again (s) |")?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in runs {
        writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.2} |",
            r.backend,
            r.files,
            r.lab_files,
            r.results,
            r.seconds,
            r.files as f64 / r.seconds,
            r.results as f64 / r.seconds,
            r.again_seconds
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "The issue's target (issue #9, W6) is 20,000 messages/s. This path writes each file in its own transaction (one fsync per file on SQLite); batching files into one transaction is the next step and is not done yet."
    )?;
    let path = workspace_root().join("bench/results/import.md");
    std::fs::write(&path, md)?;
    println!("wrote {}", path.display());
    Ok(())
}
