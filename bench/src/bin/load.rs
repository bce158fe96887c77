//! `load`: load that holds (issue #8), the long form of `integration/load.rs`.
//!
//! For each backend this seeds the demo region into a fresh database (SQLite in a
//! temporary directory; PostgreSQL in `tsunagu_load_<random>` created next to
//! `--postgres-url` and dropped afterwards), starts the real app in-process on loopback
//! and runs two phases:
//!
//! * **mix**: `--clients` clients at once (100 by default) for `--seconds`, after a
//!   warm-up, each a browser-like session of a member of 山田 花子's care team doing a
//!   weighted mix of chart opens, note writes, patient searches, full-text searches and
//!   fresh sign-ins. Every answer is checked (a chart open must show the chart, a note
//!   must be acknowledged with a redirect); any other answer, 503 included, is an error.
//!   At the end every acknowledged note must be on the chart.
//! * **overload**: a second server on the same database with only `--overload-permits`
//!   requests admitted at once, hit by `--overload-clients` clients opening the chart
//!   without pause: each answer must be the chart or a 503 with `Retry-After`, and the
//!   503s must come at once (their latency is reported), not after a timeout.
//!
//! Results: `bench/results/load-<backend>.json` and `bench/results/load.md` (every
//! backend with results). The run fails (exit 1) when the mix had errors or the
//! overload phase answered anything else; it is a measuring tool, not part of
//! `scripts/test` (whose short form is `integration/load.rs`).

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsunagu_bench::{Latency, Machine, create_postgres, drop_postgres, git_commit, machine, time_text, workspace_root};
use tsunagu_cli::demo::DEMO_PASSWORD;
use tsunagu_cli::server;
use tsunagu_domain::Clock;
use tsunagu_domain::clock::{RandomIdGen, SystemClock};
use tsunagu_store::{OpenMode, Store};
use tsunagu_web::WebConfig;

/// Members of 山田 花子's team who may write on her chart (the demo region).
const WRITERS: [&str; 4] =
    ["sato@hospital.example.jp", "suzuki@midori.example.jp", "takahashi@station.example.jp", "ito@hidamari.example.jp"];

/// The mix, in parts per hundred.
const MIX: [(Op, u64); 5] =
    [(Op::ChartOpen, 45), (Op::NoteWrite, 20), (Op::PatientSearch, 15), (Op::FullText, 10), (Op::SignIn, 10)];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    ChartOpen,
    NoteWrite,
    PatientSearch,
    FullText,
    SignIn,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ChartOpen => "chart open",
            Op::NoteWrite => "note write",
            Op::PatientSearch => "patient search",
            Op::FullText => "full-text search",
            Op::SignIn => "sign-in",
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "load",
    about = "A hundred clients at once: zero errors, latencies, and 503 + Retry-After past the limit"
)]
struct Args {
    /// PostgreSQL server to create the load database on (any database URL on it).
    #[arg(long, env = "TSUNAGU_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// all, sqlite or postgres.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Clients at once in the mix.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Length of the measured mix.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Warm-up before the measured mix (not counted).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Requests admitted at once in the mix (the production default is 256).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Requests admitted at once in the overload phase.
    #[arg(long, default_value_t = 4)]
    overload_permits: usize,
    /// Clients at once in the overload phase.
    #[arg(long, default_value_t = 100)]
    overload_clients: usize,
    /// Length of the overload phase.
    #[arg(long, default_value_t = 10)]
    overload_seconds: u64,
    /// Where the result files go.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// A small deterministic generator for the mix (xorshift), one per client.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn op(&mut self) -> Op {
        let total: u64 = MIX.iter().map(|(_, w)| w).sum();
        let mut roll = self.next() % total.max(1);
        for (op, w) in MIX {
            if roll < w {
                return op;
            }
            roll -= w;
        }
        Op::ChartOpen
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct OpReport {
    op: String,
    requests: usize,
    errors: usize,
    per_second: f64,
    latency_ms: Latency,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Overload {
    permits: usize,
    clients: usize,
    seconds: u64,
    served: usize,
    shed_with_retry_after: usize,
    /// Anything else: a 503 without Retry-After, another status, a transport error.
    other: usize,
    served_ms: Latency,
    shed_ms: Latency,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Report {
    backend: String,
    started_at: String,
    git_commit: String,
    /// `release` or `dev`: figures from a dev build are not comparable.
    profile: String,
    machine: Machine,
    clients: usize,
    seconds: u64,
    warmup: u64,
    max_in_flight: usize,
    requests: usize,
    errors: usize,
    /// The first few errors, as `op: status or transport error`.
    error_samples: Vec<String>,
    per_second: f64,
    ops: Vec<OpReport>,
    notes_acknowledged: usize,
    notes_on_chart: i64,
    overload: Overload,
}

/// One answer: which operation, how long, and what went wrong if anything.
struct Sample {
    op: Op,
    ms: f64,
    error: Option<String>,
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?)
}

async fn sign_in(c: &reqwest::Client, base: &str, email: &str) -> Result<()> {
    let r = c
        .post(format!("{base}/signin"))
        .form(&[("email", email), ("password", DEMO_PASSWORD), ("next", "/patients")])
        .send()
        .await?;
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("sign-in of {email}: {}", r.status());
    }
    Ok(())
}

/// The CSRF token of a page.
fn csrf_of(body: &str) -> Option<String> {
    body.split("name=\"csrf\" value=\"").nth(1)?.split('"').next().map(str::to_string)
}

/// One client's session of the mix until `until`; samples after `from` are kept.
struct Session {
    base: String,
    patient: String,
    email: &'static str,
    rng: Rng,
}

impl Session {
    async fn run(mut self, from: Instant, until: Instant) -> Result<(Vec<Sample>, usize)> {
        let mut c = client()?;
        sign_in(&c, &self.base, self.email).await?;
        let chart = format!("{}/patients/{}", self.base, self.patient);
        let mut csrf = csrf_of(&c.get(&chart).send().await?.text().await?).context("no CSRF token on the chart")?;
        let mut samples = Vec::new();
        let mut notes = 0;
        let mut n = 0u64;
        while Instant::now() < until {
            let op = self.rng.op();
            n += 1;
            let t = Instant::now();
            let error = match op {
                Op::ChartOpen => match c.get(&chart).send().await {
                    Ok(r) if r.status().is_success() => {
                        let body = r.text().await.unwrap_or_default();
                        match csrf_of(&body) {
                            Some(token) if body.contains("id=\"timeline\"") => {
                                csrf = token;
                                None
                            }
                            _ => Some("chart page without its timeline".to_string()),
                        }
                    }
                    Ok(r) => Some(r.status().to_string()),
                    Err(e) => Some(format!("transport: {e}")),
                },
                Op::NoteWrite => {
                    let text = format!("負荷試験 {} の訪問記録 {n}: 疼痛 NRS 2、夜間は良眠。", self.email);
                    let form = [("csrf", csrf.as_str()), ("kind", "nursing_record"), ("text", text.as_str())];
                    match c.post(format!("{chart}/entries")).form(&form).send().await {
                        Ok(r) if r.status() == reqwest::StatusCode::SEE_OTHER => {
                            if t >= from {
                                notes += 1;
                            }
                            None
                        }
                        Ok(r) => Some(r.status().to_string()),
                        Err(e) => Some(format!("transport: {e}")),
                    }
                }
                Op::PatientSearch => {
                    status_error(c.get(format!("{}/patients/search?q=ヤマダ", self.base)).send().await)
                }
                Op::FullText => status_error(c.get(format!("{}/search?q=疼痛", self.base)).send().await),
                Op::SignIn => {
                    // A fresh session: password hashing included, as at the start of a shift.
                    c = client()?;
                    match sign_in(&c, &self.base, self.email).await {
                        Ok(()) => match c.get(&chart).send().await {
                            Ok(r) => match csrf_of(&r.text().await.unwrap_or_default()) {
                                Some(token) => {
                                    csrf = token;
                                    None
                                }
                                None => Some("no chart after sign-in".to_string()),
                            },
                            Err(e) => Some(format!("transport: {e}")),
                        },
                        Err(e) => Some(e.to_string()),
                    }
                }
            };
            if t >= from {
                samples.push(Sample { op, ms: t.elapsed().as_secs_f64() * 1000.0, error });
            }
        }
        Ok((samples, notes))
    }
}

fn status_error(r: reqwest::Result<reqwest::Response>) -> Option<String> {
    match r {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(r.status().to_string()),
        Err(e) => Some(format!("transport: {e}")),
    }
}

async fn notes_on_chart(url: &str, patient: &str) -> Result<i64> {
    use sqlx::{Connection, Row};
    let mut c = sqlx::AnyConnection::connect(url).await?;
    let r = sqlx::query("SELECT COUNT(*) AS n FROM entries WHERE patient_id = $1 AND kind = 'nursing_record'")
        .bind(patient)
        .fetch_one(&mut c)
        .await?;
    Ok(r.try_get::<i64, _>("n")?)
}

async fn yamada(url: &str) -> Result<String> {
    use sqlx::{Connection, Row};
    let mut c = sqlx::AnyConnection::connect(url).await?;
    let r = sqlx::query("SELECT id FROM patients WHERE family_kana = 'ヤマダ' ORDER BY created_at LIMIT 1")
        .fetch_one(&mut c)
        .await?;
    Ok(r.try_get::<String, _>("id")?)
}

async fn mix(base: &str, patient: &str, args: &Args) -> Result<(Vec<Sample>, usize)> {
    let start = Instant::now();
    let from = start + Duration::from_secs(args.warmup);
    let until = from + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let session = Session {
            base: base.to_string(),
            patient: patient.to_string(),
            email: WRITERS.get(i % WRITERS.len()).copied().unwrap_or("sato@hospital.example.jp"),
            rng: Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D)),
        };
        tasks.push(tokio::spawn(session.run(from, until)));
    }
    let mut samples = Vec::new();
    let mut notes = 0;
    for t in tasks {
        let (s, n) = t.await??;
        samples.extend(s);
        notes += n;
    }
    Ok((samples, notes))
}

async fn overload(base: &str, patient: &str, args: &Args) -> Result<Overload> {
    let until = Instant::now() + Duration::from_secs(args.overload_seconds);
    let mut tasks = Vec::new();
    for i in 0..args.overload_clients {
        let (base, chart) = (base.to_string(), format!("{base}/patients/{patient}"));
        let email = WRITERS.get(i % WRITERS.len()).copied().unwrap_or("sato@hospital.example.jp");
        tasks.push(tokio::spawn(async move {
            let c = client()?;
            // Signing in may itself be shed: retry as a browser user would.
            while sign_in(&c, &base, email).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let mut out: Vec<(u16, bool, f64)> = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                match c.get(&chart).send().await {
                    Ok(r) => {
                        let retry = r.headers().contains_key("retry-after");
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        out.push((status, retry, t.elapsed().as_secs_f64() * 1000.0));
                    }
                    Err(_) => out.push((0, false, t.elapsed().as_secs_f64() * 1000.0)),
                }
            }
            anyhow::Ok(out)
        }));
    }
    let mut o = Overload {
        permits: args.overload_permits,
        clients: args.overload_clients,
        seconds: args.overload_seconds,
        ..Overload::default()
    };
    let (mut served, mut shed) = (Vec::new(), Vec::new());
    for t in tasks {
        for (status, retry, ms) in t.await?? {
            match (status, retry) {
                (200, _) => served.push(ms),
                (503, true) => shed.push(ms),
                _ => o.other += 1,
            }
        }
    }
    o.served = served.len();
    o.shed_with_retry_after = shed.len();
    o.served_ms = Latency::of(&mut served);
    o.shed_ms = Latency::of(&mut shed);
    Ok(o)
}

async fn run_backend(backend: &str, url: &str, args: &Args) -> Result<Report> {
    let started_at = time_text(SystemClock.now());
    let store = Store::open(url, OpenMode::CreateIfMissing, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    store.migrate().await?;
    // Production password hashing: sign-ins cost what they cost on a real server.
    let web = WebConfig { second_factor_required: false, max_in_flight: args.max_in_flight, ..WebConfig::default() };
    let hash = tsunagu_web::password::hash_password(DEMO_PASSWORD, web.argon2_m_kib, web.argon2_t, web.argon2_p)
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    tsunagu_cli::demo::seed(&store, &hash).await.context("seeding the demo region")?;
    let patient = yamada(url).await?;
    let before = notes_on_chart(url, &patient).await?;
    let machine = machine();

    eprintln!("[{backend}] mix: {} clients, {} s after {} s warm-up", args.clients, args.seconds, args.warmup);
    let running = server::spawn(server::state(store.clone(), web.clone()), "127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", running.addr);
    let result = mix(&base, &patient, args).await;
    let _ = running.shutdown.send(());
    let _ = running.task.await;
    let (samples, notes_acknowledged) = result?;
    // Notes written in the warm-up count too: compare with all acknowledged ones.
    let after = notes_on_chart(url, &patient).await?;

    eprintln!("[{backend}] overload: {} clients, {} permits", args.overload_clients, args.overload_permits);
    let limited = WebConfig { max_in_flight: args.overload_permits, ..web };
    let running = server::spawn(server::state(store.clone(), limited), "127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", running.addr);
    let shed = overload(&base, &patient, args).await;
    let _ = running.shutdown.send(());
    let _ = running.task.await;

    let mut by_op: BTreeMap<Op, (Vec<f64>, usize)> = BTreeMap::new();
    let mut error_samples = Vec::new();
    for s in &samples {
        let e = by_op.entry(s.op).or_default();
        e.0.push(s.ms);
        if let Some(err) = &s.error {
            e.1 += 1;
            if error_samples.len() < 20 {
                error_samples.push(format!("{}: {err}", s.op.name()));
            }
        }
    }
    let secs = args.seconds.max(1) as f64;
    let ops = by_op
        .into_iter()
        .map(|(op, (mut ms, errors))| OpReport {
            op: op.name().into(),
            requests: ms.len(),
            errors,
            per_second: ms.len() as f64 / secs,
            latency_ms: Latency::of(&mut ms),
        })
        .collect::<Vec<_>>();
    Ok(Report {
        backend: backend.into(),
        started_at,
        git_commit: git_commit(),
        profile: if cfg!(debug_assertions) { "dev" } else { "release" }.into(),
        machine,
        clients: args.clients,
        seconds: args.seconds,
        warmup: args.warmup,
        max_in_flight: args.max_in_flight,
        requests: samples.len(),
        errors: ops.iter().map(|o| o.errors).sum(),
        error_samples,
        per_second: samples.len() as f64 / secs,
        ops,
        notes_acknowledged,
        notes_on_chart: after - before,
        overload: shed?,
    })
}

fn markdown(reports: &[Report]) -> String {
    let mut s = String::from("# Load: a hundred clients at once (`bench/src/bin/load.rs`)\n\n");
    let _ = writeln!(
        s,
        "The mix per client: chart open 45 %, note write 20 %, patient search 15 %, full-text search 10 %, \
         fresh sign-in 10 % (production password hashing). Latencies in milliseconds, nearest-rank percentiles. \
         Every answer is checked; a 503 in the mix is an error.\n"
    );
    for r in reports {
        let m = &r.machine;
        let _ = writeln!(s, "## {}\n", r.backend);
        let _ = writeln!(
            s,
            "- run {} at commit `{}` ({} build) on {} × {} ({} MiB, load {:.2} at start)",
            r.started_at,
            r.git_commit,
            r.profile,
            m.nproc,
            m.cpu_model,
            m.mem_total_mib,
            m.load_at_start.unwrap_or(0.0)
        );
        let _ = writeln!(
            s,
            "- {} clients for {} s after {} s warm-up, {} admitted at once: **{} requests, {} errors**, {:.0} requests/s",
            r.clients, r.seconds, r.warmup, r.max_in_flight, r.requests, r.errors, r.per_second
        );
        let _ = writeln!(
            s,
            "- notes acknowledged in the measured part: {}; notes on the chart after the run (warm-up included): {} more than before\n",
            r.notes_acknowledged, r.notes_on_chart
        );
        let _ = writeln!(s, "| operation | requests | errors | per s | median | p90 | p99 | max |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for o in &r.ops {
            let l = &o.latency_ms;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                o.op, o.requests, o.errors, o.per_second, l.median, l.p90, l.p99, l.max
            );
        }
        let o = &r.overload;
        let _ = writeln!(
            s,
            "\nOverload: {} clients opening the chart without pause against {} permits for {} s: {} served \
             (median {:.1} ms, p99 {:.1} ms), {} answered 503 with `Retry-After` (median {:.1} ms, p99 {:.1} ms, \
             max {:.1} ms), {} other answers.\n",
            o.clients,
            o.permits,
            o.seconds,
            o.served,
            o.served_ms.median,
            o.served_ms.p99,
            o.shed_with_retry_after,
            o.shed_ms.median,
            o.shed_ms.p99,
            o.shed_ms.max,
            o.other
        );
        if !r.error_samples.is_empty() {
            let _ = writeln!(s, "Errors (first {}): {}\n", r.error_samples.len(), r.error_samples.join("; "));
        }
    }
    s
}

fn write_results(out: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let json = out.join(format!("load-{}.json", report.backend));
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    eprintln!("wrote {}", json.display());
    let mut reports = Vec::new();
    for b in ["sqlite", "postgres"] {
        if let Ok(s) = std::fs::read_to_string(out.join(format!("load-{b}.json"))) {
            reports.push(serde_json::from_str::<Report>(&s)?);
        }
    }
    let md = out.join("load.md");
    std::fs::write(&md, markdown(&reports))?;
    eprintln!("wrote {}", md.display());
    Ok(())
}

fn held(r: &Report) -> bool {
    r.errors == 0 && r.overload.other == 0 && r.notes_on_chart >= r.notes_acknowledged as i64
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let out = args.out.clone().unwrap_or_else(|| workspace_root().join("bench").join("results"));
    let (sqlite, postgres) = match args.backend.as_str() {
        "all" => (true, args.postgres_url.is_some()),
        "sqlite" => (true, false),
        "postgres" => (false, true),
        other => bail!("--backend {other}: use sqlite, postgres or all"),
    };
    if args.clients == 0 || args.overload_clients == 0 || args.overload_permits == 0 {
        bail!("--clients, --overload-clients and --overload-permits must be positive");
    }
    let mut ok = true;
    if sqlite {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("load.db").display());
        let r = run_backend("sqlite", &url, &args).await?;
        write_results(&out, &r)?;
        ok &= held(&r);
    }
    if postgres {
        let admin = args.postgres_url.clone().context("--postgres-url (or TSUNAGU_TEST_POSTGRES_URL) is needed")?;
        let (url, name) = create_postgres(&admin, "tsunagu_load").await?;
        let r = run_backend("postgres", &url, &args).await;
        drop_postgres(&admin, &name).await?;
        let r = r?;
        write_results(&out, &r)?;
        ok &= held(&r);
    }
    if !ok {
        bail!("the load did not hold: see {}", out.join("load.md").display());
    }
    Ok(())
}
