//! `scale`: the benchmark harness of issue #9 against a generated prefecture.
//!
//! The server under test is `tsunagu serve` in a process of its own, on the database
//! `tsunagu generate` filled (SQLite in the data directory, or PostgreSQL), so that its
//! CPU time per request can be read from `/proc`. The harness samples what to ask for
//! from the database, makes a bearer token with `tsunagu token create`, measures the
//! ceilings, then runs each workload at each client count, a warm-up and then the
//! measured window, repeated; the results go to `bench/results/scale-<backend>.json`
//! and `bench/results/scale.md`. A measuring tool: it is not part of `scripts/test`,
//! and it fails only when it cannot measure, never because a figure is worse.

mod ceilings;
mod fixture;
mod proc;
mod report;
mod server;
mod ssmix;
mod workloads;

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tsunagu_bench::{git_commit, machine, time_text, workspace_root};
use tsunagu_domain::Clock;
use tsunagu_domain::clock::SystemClock;
use workloads::{Ctx, Meter, Workload};

#[derive(Parser, Debug)]
#[command(name = "scale", about = "Issue #9's workloads W1-W6 and ceilings against a generated prefecture")]
struct Args {
    /// The data directory `tsunagu generate` filled (and `tsunagu reindex` indexed).
    #[arg(long, required_unless_present = "static_server")]
    data: Option<PathBuf>,
    /// The PostgreSQL database it filled, when not the data directory's SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// The `tsunagu` executable (default: the one next to this one).
    #[arg(long)]
    tsunagu: Option<PathBuf>,
    /// Measured seconds of each case.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Warm-up seconds before each case (not counted).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Times each case is run.
    #[arg(long, default_value_t = 2)]
    repeats: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    /// Workloads: w1, w2, w3, w4, w5-read, w5-mix, w6-bundle, w6-ssmix.
    #[arg(long, value_delimiter = ',', default_value = "w1,w2,w3,w4,w5-read,w5-mix,w6-bundle,w6-ssmix")]
    workloads: Vec<String>,
    /// Seconds of each ceiling measurement.
    #[arg(long, default_value_t = 10)]
    ceiling_seconds: u64,
    #[arg(long)]
    no_ceilings: bool,
    /// Patients in each of the four SS-MIX2 trees of W6.
    #[arg(long, default_value_t = 250)]
    ssmix_patients: usize,
    /// Minutes of the soak (W1 + W2 at 8 clients, memory sampled each minute); 0: none.
    #[arg(long, default_value_t = 0)]
    soak_minutes: u64,
    /// A PostgreSQL URL for pgbench's throwaway database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_admin: String,
    /// Port of the server under test (the static server uses the next one).
    #[arg(long, default_value_t = 18181)]
    port: u16,
    #[arg(long)]
    out: Option<PathBuf>,
    /// Internal: be the static 2 KB server on this port.
    #[arg(long, hide = true)]
    static_server: Option<u16>,
}

fn tsunagu_exe(args: &Args) -> Result<PathBuf> {
    if let Some(p) = &args.tsunagu {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let p = me.parent().context("no directory of this executable")?.join("tsunagu");
    if !p.exists() {
        bail!("{} is missing: build the workspace (cargo build --release --workspace) or pass --tsunagu", p.display());
    }
    Ok(p)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(port) = args.static_server {
        return ceilings::static_server(port).await;
    }
    let data = args.data.clone().context("--data")?;
    let postgres = args.database_url.as_deref().is_some_and(|u| u.starts_with("postgres"));
    let backend = if postgres { "postgres" } else { "sqlite" };
    let target =
        server::Target { tsunagu: tsunagu_exe(&args)?, data: data.clone(), database_url: args.database_url.clone() };
    let mut selected = Vec::new();
    let mut ssmix = false;
    for w in &args.workloads {
        match (w.as_str(), Workload::parse(w)) {
            ("w6-ssmix", _) => ssmix = true,
            (_, Some(w)) => selected.push(w),
            (other, None) => bail!("unknown workload {other}"),
        }
    }
    let out = args.out.clone().unwrap_or_else(|| workspace_root().join("bench").join("results"));
    let mut report = report::Report {
        backend: backend.into(),
        started_at: time_text(SystemClock.now()),
        git_commit: git_commit(),
        profile: if cfg!(debug_assertions) { "dev" } else { "release" }.into(),
        machine: machine(),
        seconds: args.seconds,
        warmup: args.warmup,
        repeats: args.repeats,
        ..report::Report::default()
    };

    target.migrate()?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&target.url()).await.context("opening the generated database")?;
    let fx = fixture::sample(&pool, 500, 5000).await?;
    report.dataset = report::Dataset {
        patients: fx.patients_total,
        entries: fx.entries_total,
        organization: fx.org_name.clone(),
        user: fx.email.clone(),
        charts_sampled: fx.charts.len(),
        charts_with_labs: fx.lab_charts.len(),
        patients_sampled: fx.known.len(),
    };
    eprintln!(
        "[{backend}] {} patients, {} entries; as {} of {}: {} charts ({} with labs), {} patients sampled",
        fx.patients_total,
        fx.entries_total,
        fx.email,
        fx.org_name,
        fx.charts.len(),
        fx.lab_charts.len(),
        fx.known.len()
    );
    let token = target.token(&fx.email, &fx.org_code)?;
    let warmup = Duration::from_secs(args.warmup);
    let seconds = Duration::from_secs(args.seconds);

    if !args.no_ceilings {
        let secs = args.ceiling_seconds as f64;
        report.fsync = Some(ceilings::fsync_loop(&data, secs)?);
        report.sqlite_commits = Some(ceilings::sqlite_full_commits(&data, secs).await?);
        eprintln!("[{backend}] fsync {:?}; SQLite FULL commits {:?}", report.fsync, report.sqlite_commits);
        if postgres {
            report.pgbench = ceilings::pgbench(&args.postgres_admin, &args.concurrency, args.ceiling_seconds).await?;
            eprintln!("[{backend}] pgbench {:?}", report.pgbench);
        }
        let st = ceilings::StaticServer::start(args.port + 1).await?;
        let ctx = Arc::new(Ctx {
            base: String::new(),
            token: String::new(),
            fx: fx.clone(),
            nonce: 0,
            static_base: Some(st.base.clone()),
            next: AtomicU64::new(0),
        });
        let meter = Meter { server_pid: st.pid(), postgres: false };
        for &c in &args.concurrency {
            let case = workloads::run(
                ctx.clone(),
                Workload::Static2k,
                c,
                Duration::from_secs(2),
                Duration::from_secs(args.ceiling_seconds),
                meter,
            )
            .await?;
            eprintln!("[{backend}] static 2 KB c={c}: {:.0}/s p99 {:.2} ms", case.per_second, case.latency_ms.p99);
            report.static_2k.push(case);
        }
    }

    let log = data.join("bench-server.log");
    let srv = target.serve(args.port, &log).await?;
    let meter = Meter { server_pid: srv.pid(), postgres };
    let ctx = Arc::new(Ctx {
        base: srv.base.clone(),
        token,
        fx: fx.clone(),
        nonce: SystemClock.now().unix_timestamp() as u64,
        static_base: None,
        next: AtomicU64::new(0),
    });
    for &w in &selected {
        // W6 Bundles: four clients at once, as the issue sets it.
        let levels = if w == Workload::FhirBundle { vec![4] } else { args.concurrency.clone() };
        for c in levels {
            for repeat in 1..=args.repeats.max(1) {
                let mut case = workloads::run(ctx.clone(), w, c, warmup, seconds, meter).await?;
                case.repeat = repeat;
                eprintln!(
                    "[{backend}] {:<26} c={c:<3} #{repeat} {:>8.0} req/s {:>9.0} items/s  p50 {:>8.2} ms  p99 {:>8.2} ms  server {:.2} + db {:.2} CPU ms/req{}",
                    w.name(),
                    case.per_second,
                    case.items_per_second,
                    case.latency_ms.median,
                    case.latency_ms.p99,
                    case.server_cpu_ms_per_request,
                    case.database_cpu_ms_per_request,
                    if case.errors > 0 {
                        format!("  ERRORS {}: {:?}", case.errors, case.error_samples)
                    } else {
                        String::new()
                    }
                );
                report.cases.push(case);
            }
        }
    }
    if ssmix {
        let work = data.join("bench-ssmix");
        let r = ssmix::run(&target.url(), &pool, &fx, &work, args.ssmix_patients, postgres).await?;
        eprintln!(
            "[{backend}] W6 SS-MIX2: {:.0} messages/s ({} files in {:.2} s)",
            r.files_per_second, r.files, r.seconds
        );
        report.ssmix2 = Some(r);
    }
    for minute in 1..=args.soak_minutes {
        let case =
            workloads::run(ctx.clone(), Workload::Soak, 8, Duration::ZERO, Duration::from_secs(60), meter).await?;
        let point = report::SoakPoint {
            minute: minute as f64,
            per_second: case.per_second,
            p99_ms: case.latency_ms.p99,
            errors: case.errors,
            server_rss_mib: case.server_rss_mib,
        };
        eprintln!("[{backend}] soak minute {minute}: {:.0}/s, RSS {:.0} MiB", point.per_second, point.server_rss_mib);
        report.soak.push(point);
    }
    drop(srv);
    pool.close().await;
    report.finished_at = time_text(SystemClock.now());
    report::write(&out, &report)
}
