//! `fhir`: FHIR read and search latency (issue #7, point 6; the W5 workload of issue #9
//! in a first form), SQLite and PostgreSQL.
//!
//! For each backend: a fresh database with the demo region, `--patients` patients
//! registered by the demo hospital with its local ids, `--labs` lab results on one of
//! them; the app in-process on loopback; a bearer token of the hospital's physician.
//! Workloads, each at every `--concurrency` for `--seconds` after a warm-up:
//! - `read`: `GET Patient/[id]`, a random patient each time;
//! - `search-identifier`: `GET Patient?identifier=<system>|<local id>`;
//! - `observations`: `GET Observation?subject=Patient/[id]&_count=200`;
//! - `create`: `POST Patient` of a new patient (a durable write with its audit record).
//!
//! Every answer's status is checked. Results: `bench/results/fhir.md` and `.json`.
//! A measuring tool, not part of `scripts/test`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tsunagu_bench::{
    KANA_DIGITS, Latency, Machine, PATIENT_ID_OID, create_postgres, drop_postgres, git_commit, machine, spell,
    time_text, workspace_root,
};
use tsunagu_cli::server;
use tsunagu_domain::Clock;
use tsunagu_domain::clock::{RandomIdGen, SystemClock};
use tsunagu_domain::patient::{NewPatient, PatientForm};
use tsunagu_store::{AuditCtx, LabFile, LabResultIn, OpenMode, Registered, Store};

const KANA: &[(&str, &str)] = &[
    ("山田", "ヤマダ"),
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
];
const GIVEN: &[(&str, &str)] =
    &[("一郎", "イチロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("和子", "カズコ"), ("茂", "シゲル")];

#[derive(Parser)]
struct Args {
    /// Patients registered by the hospital
    #[arg(long, default_value_t = 2000)]
    patients: usize,
    /// Lab results on the patient the Observation search reads
    #[arg(long, default_value_t = 200)]
    labs: usize,
    /// Seconds per measured case
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests before each case, not counted
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

#[derive(Serialize)]
struct Case {
    backend: String,
    workload: String,
    concurrency: usize,
    requests: usize,
    errors: usize,
    seconds: f64,
    throughput_per_s: f64,
    latency_ms: Latency,
}

#[derive(Serialize)]
struct Report {
    commit: String,
    at: String,
    machine: Machine,
    patients: usize,
    labs: usize,
    cases: Vec<Case>,
}

struct Fixture {
    base: String,
    token: String,
    /// (patient id, local id) of every registered patient.
    patients: Vec<(String, String)>,
    system: String,
    lab_patient: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    sqlx::any::install_default_drivers();
    let mut cases = Vec::new();
    for backend in &args.backends {
        let dir = tempfile::tempdir()?;
        let (url, pg) = match backend.as_str() {
            "sqlite" => (format!("sqlite://{}/t.db", dir.path().display()), None),
            "postgres" => {
                let (url, name) = create_postgres(&args.postgres_url, "tsunagu_fhir").await?;
                (url, Some(name))
            }
            other => bail!("unknown backend {other}"),
        };
        let r = run_backend(backend, &url, &args).await;
        if let Some(name) = pg {
            drop_postgres(&args.postgres_url, &name).await?;
        }
        cases.extend(r?);
    }
    write_results(&args, cases)
}

async fn run_backend(backend: &str, url: &str, args: &Args) -> Result<Vec<Case>> {
    let store = Store::open(url, OpenMode::CreateIfMissing, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    store.migrate().await?;
    let hash = tsunagu_web::password::hash_password(tsunagu_cli::demo::DEMO_PASSWORD, 256, 1, 1)?;
    tsunagu_cli::demo::seed(&store, &hash).await.context("seeding the demo region")?;
    let ctx = AuditCtx::default();
    let sato = store.user_by_email(&tsunagu_domain::person::Email::parse("sato@hospital.example.jp")?).await?;
    let org = store.memberships(sato.id).await?.into_iter().next().context("the hospital")?.org;
    let who = store.principal(sato.id, org.id).await?;
    let code = org.code.clone().context("the hospital's institution code")?;
    let today = SystemClock.today_jst();
    let mut patients = Vec::with_capacity(args.patients);
    for i in 0..args.patients {
        let (f, fk) = KANA.get(i % KANA.len()).copied().unwrap_or(("山田", "ヤマダ"));
        let (g, gk) = GIVEN.get((i / KANA.len()) % GIVEN.len()).copied().unwrap_or(("一郎", "イチロウ"));
        let local = format!("B{i:07}");
        let form = PatientForm {
            family_name: f.into(),
            given_name: g.into(),
            family_kana: fk.into(),
            given_kana: gk.into(),
            sex: if i % 2 == 0 { "female" } else { "male" }.into(),
            birth_date: format!("19{:02}-{:02}-{:02}", 20 + i % 50, 1 + i % 12, 1 + i % 28),
            local_id: local.clone(),
            ..PatientForm::default()
        };
        let p = NewPatient::parse(&form, today).map_err(|e| anyhow::anyhow!("{e}"))?;
        match store.register_patient(&who, &p, true, &ctx).await? {
            Registered::Created(id) => patients.push((id.to_string(), local)),
            Registered::PossibleDuplicates(_) => bail!("confirm_new registers regardless"),
        }
    }
    let (lab_patient, lab_local) = patients.first().cloned().context("at least one patient")?;
    let start = time::macros::datetime!(2025-01-01 09:00 +09:00);
    let results: Vec<LabResultIn> = (0..args.labs)
        .map(|i| LabResultIn {
            code: format!("3D{:03}", i % 20),
            code_system: "JC10".into(),
            name: format!("検査{}", i % 20),
            value_num: Some(1.0 + (i % 7) as f64),
            value_text: format!("{}", 1 + i % 7),
            unit: "mg/dL".into(),
            reference_range: "1-5".into(),
            abnormal: if i % 7 > 4 { "H".into() } else { String::new() },
            observed_at: start + time::Duration::days(i as i64),
        })
        .collect();
    let sha = "cd".repeat(32);
    store
        .import_lab_file(
            &LabFile { org: org.id, local_patient_id: &lab_local, sha256: &sha, path: "bench", results: &results },
            &ctx,
        )
        .await?;
    if matches!(store.backend(), tsunagu_store::Backend::Postgres) {
        sqlx::raw_sql("ANALYZE").execute(&sqlx::AnyPool::connect(url).await?).await?;
    }
    let token = format!("tsu_bench_{}", uuid_like(&store));
    store.create_token(sato.id, org.id, &tsunagu_web::password::sha256_hex(&token), "bench", None, &ctx).await?;

    let web = tsunagu_web::WebConfig { max_in_flight: 512, ..tsunagu_web::WebConfig::default() };
    let running = server::spawn(server::state(store.clone(), web), "127.0.0.1:0".parse()?).await?;
    let fixture = Arc::new(Fixture {
        base: format!("http://{}/fhir/r4", running.addr),
        token,
        patients,
        system: format!("{PATIENT_ID_OID}{code}"),
        lab_patient,
    });
    let mut out = Vec::new();
    let result = async {
        for workload in ["read", "search-identifier", "observations", "create"] {
            for &c in &args.concurrency {
                let case = measure(backend, workload, c, fixture.clone(), args).await?;
                println!(
                    "{backend} {workload:>17} c={c:<3} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms{}",
                    case.throughput_per_s,
                    case.latency_ms.median,
                    case.latency_ms.p99,
                    if case.errors > 0 { format!("  ERRORS {}", case.errors) } else { String::new() }
                );
                out.push(case);
            }
        }
        anyhow::Ok(())
    }
    .await;
    let _ = running.shutdown.send(());
    let _ = running.task.await;
    result?;
    Ok(out)
}

fn uuid_like(store: &Store) -> String {
    format!("{}", store.now().unix_timestamp_nanos())
}

/// One request of a workload; `n` varies what is asked for.
async fn call(client: &reqwest::Client, f: &Fixture, workload: &str, n: usize) -> Result<()> {
    let (pid, local) = f.patients.get(n.wrapping_mul(7919) % f.patients.len().max(1)).context("a patient")?;
    let req = match workload {
        "read" => client.get(format!("{}/Patient/{pid}", f.base)),
        "search-identifier" => client.get(format!("{}/Patient?identifier={}|{local}", f.base, f.system)),
        "observations" => client.get(format!("{}/Observation?subject=Patient/{}&_count=200", f.base, f.lab_patient)),
        "create" => {
            let body = serde_json::json!({
                "resourceType": "Patient",
                "name": [
                    { "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE" }],
                      "family": "負荷", "given": [format!("試験{n}")] },
                    { "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL" }],
                      "family": "フカ", "given": [format!("シケン{}", spell(n as u64, KANA_DIGITS))] }
                ],
                "gender": "unknown",
                "birthDate": format!("19{:02}-{:02}-{:02}", 30 + n % 60, 1 + n % 12, 1 + n % 28),
            });
            client
                .post(format!("{}/Patient", f.base))
                .header("content-type", "application/fhir+json")
                .body(body.to_string())
        }
        other => bail!("unknown workload {other}"),
    };
    let r = req.bearer_auth(&f.token).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    let want = if workload == "create" { reqwest::StatusCode::CREATED } else { reqwest::StatusCode::OK };
    if status != want {
        bail!("{workload}: {status}: {}", String::from_utf8_lossy(&body).chars().take(300).collect::<String>());
    }
    Ok(())
}

async fn measure(backend: &str, workload: &str, concurrency: usize, f: Arc<Fixture>, args: &Args) -> Result<Case> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency.max(1)).build()?;
    // Creates use their own numbers so that none repeats across cases.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    for _ in 0..args.warmup {
        call(&client, &f, workload, NEXT.fetch_add(1, Ordering::Relaxed)).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let client = client.clone();
        let f = f.clone();
        let workload = workload.to_string();
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                match call(&client, &f, &workload, NEXT.fetch_add(1, Ordering::Relaxed)).await {
                    Ok(()) => ms.push(t.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("{e:#}");
                        }
                        errors += 1;
                    }
                }
            }
            (ms, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (ms, e) = t.await?;
        all.extend(ms);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    let requests = all.len();
    Ok(Case {
        backend: backend.into(),
        workload: workload.into(),
        concurrency,
        requests,
        errors,
        seconds,
        throughput_per_s: requests as f64 / seconds,
        latency_ms: Latency::of(&mut all),
    })
}

fn write_results(args: &Args, cases: Vec<Case>) -> Result<()> {
    let m = machine();
    let report = Report {
        commit: git_commit(),
        at: time_text(SystemClock.now()),
        machine: m.clone(),
        patients: args.patients,
        labs: args.labs,
        cases,
    };
    let mut md = String::new();
    writeln!(md, "# FHIR read and search latency")?;
    writeln!(md)?;
    writeln!(
        md,
        "`cargo run {}-p tsunagu-bench --bin fhir -- --patients {} --labs {} --seconds {}` ({}) at {} on {} ({} cores, {} MiB), {}. The server and the load generator share the machine.",
        if cfg!(debug_assertions) { "" } else { "--release " },
        args.patients,
        args.labs,
        args.seconds,
        if cfg!(debug_assertions) {
            "a dev build: the workspace unoptimized, dependencies at opt-level 1; release figures are several times better"
        } else {
            "a release build"
        },
        report.commit,
        m.cpu_model,
        m.nproc,
        m.mem_total_mib,
        report.at
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "Every request carries a bearer token and goes through the access policy; every read writes its audit record (a hash-chained row, committed) before the answer."
    )?;
    writeln!(md)?;
    writeln!(md, "| backend | workload | clients | requests | req/s | p50 ms | p99 ms | errors |")?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|")?;
    for c in &report.cases {
        writeln!(
            md,
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} |",
            c.backend,
            c.workload,
            c.concurrency,
            c.requests,
            c.throughput_per_s,
            c.latency_ms.median,
            c.latency_ms.p99,
            c.errors
        )?;
    }
    let dir = workspace_root().join("bench/results");
    std::fs::write(dir.join("fhir.md"), md)?;
    std::fs::write(dir.join("fhir.json"), serde_json::to_string_pretty(&report)?)?;
    println!("wrote {}", dir.join("fhir.md").display());
    Ok(())
}
