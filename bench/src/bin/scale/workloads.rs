//! The workloads of issue #9 as HTTP requests, each answer checked, and the closed-loop
//! runner: `c` clients, each with its own keep-alive connection, sending the next
//! request as soon as the previous answer is in; a warm-up that is not counted; CPU
//! ticks of the server (and of PostgreSQL) read from `/proc` at the edges of the
//! measured window.

use crate::fixture::{Fixture, TERMS};
use crate::proc;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tsunagu_bench::Latency;
use tsunagu_bench::{KANA_DIGITS, KANJI_DIGITS, PATIENT_ID_OID, spell};
use tsunagu_web::view::urlencode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Workload {
    /// W1: the latest 200 entries of a shared chart (policy, audit record, page).
    ChartOpen,
    /// W2: a progress note and its audit record, acknowledged after the commit.
    NoteAppend,
    /// W3: patient search among the registry: by local id, kana prefix, name + birth date.
    PatientSearch,
    /// W4: full-text search of notes, a 2-kanji word.
    FullText,
    /// W5: `GET Patient/[id]`.
    FhirRead,
    /// W5: identifier search, `Observation?subject=..&_count=200`, create Patient.
    FhirMix,
    /// W6: transaction Bundles of 100 Patient creates.
    FhirBundle,
    /// The soak: chart opens and notes, 4 to 1.
    Soak,
    /// Ceiling: a static 2 KB answer from a trivial server.
    Static2k,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::ChartOpen => "W1 chart open",
            Workload::NoteAppend => "W2 note append",
            Workload::PatientSearch => "W3 patient search",
            Workload::FullText => "W4 full-text search",
            Workload::FhirRead => "W5 FHIR read",
            Workload::FhirMix => "W5 FHIR search + create",
            Workload::FhirBundle => "W6 FHIR Bundles of 100",
            Workload::Soak => "soak (W1 + W2)",
            Workload::Static2k => "ceiling: static 2 KB",
        }
    }

    pub fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "w1" => Workload::ChartOpen,
            "w2" => Workload::NoteAppend,
            "w3" => Workload::PatientSearch,
            "w4" => Workload::FullText,
            "w5-read" => Workload::FhirRead,
            "w5-mix" => Workload::FhirMix,
            "w6-bundle" => Workload::FhirBundle,
            _ => return None,
        })
    }
}

/// What every request needs: where, as whom, and what to ask for.
pub struct Ctx {
    pub base: String,
    pub token: String,
    pub fx: Fixture,
    /// Distinguishes this run's created patients from earlier runs' (possible-duplicate
    /// checks would otherwise refuse them).
    pub nonce: u64,
    pub static_base: Option<String>,
    pub next: AtomicU64,
}

/// One answered request: which operation and how many items it carried.
struct Done {
    op: &'static str,
    items: usize,
}

fn pick<T>(v: &[T], n: u64) -> Option<&T> {
    // A stride prime to any length walks every element before repeating.
    v.get((n.wrapping_mul(7919) % v.len().max(1) as u64) as usize)
}

fn new_patient(ctx: &Ctx, n: u64) -> serde_json::Value {
    let repr = |code: &str| json!([{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": code }]);
    json!({
        "resourceType": "Patient",
        "name": [
            { "extension": repr("IDE"), "family": "負荷", "given": [format!("試{}之{}", spell(ctx.nonce, KANJI_DIGITS), spell(n, KANJI_DIGITS))] },
            { "extension": repr("SYL"), "family": "フカ", "given": [format!("シ{}ノ{}", spell(ctx.nonce, KANA_DIGITS), spell(n, KANA_DIGITS))] }
        ],
        "gender": if n.is_multiple_of(2) { "female" } else { "male" },
        "birthDate": birth_date(ctx.nonce.wrapping_add(n)),
    })
}

/// Birth dates of the patients a run creates, spread over 1930-1989 (21,900 days), run
/// after run. Every create first looks for possible duplicates born the same day, so
/// patients piled on a few dates (420, before) made each run slower than the one before.
fn birth_date(k: u64) -> String {
    let day = i64::try_from(k.wrapping_mul(7_919) % 21_900).unwrap_or(0);
    let first = time::Date::from_calendar_date(1930, time::Month::January, 1).unwrap_or(time::Date::MIN);
    (first + time::Duration::days(day)).to_string()
}

/// Send one request of `w` and check its answer.
async fn request(c: &reqwest::Client, ctx: &Ctx, w: Workload, n: u64) -> Result<Done> {
    let fx = &ctx.fx;
    let api = |path: String| c.get(format!("{}{path}", ctx.base)).bearer_auth(&ctx.token);
    let (op, req, want): (&'static str, reqwest::RequestBuilder, u16) = match w {
        Workload::ChartOpen => {
            let chart = pick(&fx.charts, n).map(String::as_str).unwrap_or_default();
            ("chart open", api(format!("/api/v1/patients/{chart}/entries?limit=200")), 200)
        }
        Workload::NoteAppend => note(c, ctx, n),
        Workload::Soak if n.is_multiple_of(5) => note(c, ctx, n),
        Workload::Soak => {
            let chart = pick(&fx.charts, n).map(String::as_str).unwrap_or_default();
            ("chart open", api(format!("/api/v1/patients/{chart}/entries?limit=200")), 200)
        }
        Workload::PatientSearch => {
            let Some(k) = pick(&fx.known, n / 3) else { bail!("no patient to search") };
            match n % 3 {
                0 => ("by local id", api(format!("/api/v1/patients?local_id={}", urlencode(&k.local_id))), 200),
                1 => {
                    // The first two kana of the family name: what a receptionist types first.
                    let prefix: String = k.family_kana.chars().take(2).collect();
                    ("by kana prefix", api(format!("/api/v1/patients?q={}", urlencode(&prefix))), 200)
                }
                _ => (
                    "by name + birth date",
                    api(format!("/api/v1/patients?q={}&birth_date={}", urlencode(&k.family_name), k.birth_date)),
                    200,
                ),
            }
        }
        Workload::FullText => {
            let term = pick(&TERMS, n).copied().unwrap_or("疼痛");
            ("full-text", api(format!("/api/v1/search?q={}", urlencode(term))), 200)
        }
        Workload::FhirRead => {
            let Some(k) = pick(&fx.known, n) else { bail!("no patient to read") };
            ("read", api(format!("/fhir/r4/Patient/{}", k.id)), 200)
        }
        Workload::FhirMix => match n % 3 {
            0 => {
                let Some(k) = pick(&fx.known, n / 3) else { bail!("no patient") };
                let system = format!("{PATIENT_ID_OID}{}", fx.org_code);
                let q = format!("{system}|{}", k.local_id);
                ("search by identifier", api(format!("/fhir/r4/Patient?identifier={}", urlencode(&q))), 200)
            }
            1 => {
                let chart =
                    pick(&fx.lab_charts, n / 3).or(pick(&fx.charts, n / 3)).map(String::as_str).unwrap_or_default();
                (
                    "Observation?subject&_count=200",
                    api(format!("/fhir/r4/Observation?subject=Patient/{chart}&_count=200")),
                    200,
                )
            }
            _ => (
                "create Patient",
                c.post(format!("{}/fhir/r4/Patient", ctx.base))
                    .bearer_auth(&ctx.token)
                    .header("content-type", "application/fhir+json")
                    .body(new_patient(ctx, n).to_string()),
                201,
            ),
        },
        Workload::FhirBundle => {
            let entries: Vec<serde_json::Value> = (0..100u64)
                .map(|i| json!({ "resource": new_patient(ctx, n * 100 + i), "request": { "method": "POST", "url": "Patient" } }))
                .collect();
            let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries });
            (
                "transaction of 100",
                c.post(format!("{}/fhir/r4", ctx.base))
                    .bearer_auth(&ctx.token)
                    .header("content-type", "application/fhir+json")
                    .body(bundle.to_string()),
                200,
            )
        }
        Workload::Static2k => {
            let base = ctx.static_base.as_deref().unwrap_or_default();
            ("static", c.get(format!("{base}/")), 200)
        }
    };
    let r = req.send().await?;
    let status = r.status().as_u16();
    let body = r.bytes().await?;
    if status != want {
        bail!("{op}: {status}: {}", String::from_utf8_lossy(&body).chars().take(200).collect::<String>());
    }
    let items = match w {
        Workload::FhirBundle => 100,
        Workload::Static2k if body.len() != 2048 => bail!("static: {} bytes", body.len()),
        _ => 1,
    };
    if op == "chart open" && !body.starts_with(b"{\"entries\":[{") {
        bail!("chart open: no entries");
    }
    if op == "by name + birth date" || op == "by local id" {
        let Some(k) = pick(&fx.known, n / 3) else { bail!("no patient") };
        if !String::from_utf8_lossy(&body).contains(&k.id) {
            bail!("{op}: the patient searched for is not in the answer");
        }
    }
    Ok(Done { op, items })
}

fn note(c: &reqwest::Client, ctx: &Ctx, n: u64) -> (&'static str, reqwest::RequestBuilder, u16) {
    let chart = pick(&ctx.fx.charts, n).map(String::as_str).unwrap_or_default();
    let body = json!({ "body": {
        "kind": "progress_note",
        "subjective": "夜間の疼痛は自制内。食事は半分程度摂取。",
        "assessment": format!("負荷試験の記録 {n}。疼痛コントロール良好、せん妄なし。"),
        "plan": "レスキューの使用回数を家族と確認し、次回訪問で評価する。"
    } });
    ("note", c.post(format!("{}/api/v1/patients/{chart}/entries", ctx.base)).bearer_auth(&ctx.token).json(&body), 201)
}

/// The CPU ticks of the processes under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ticks {
    pub server: u64,
    pub database: u64,
}

/// Whose CPU the run charges: the server process, and the database's processes.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    pub server_pid: u32,
    pub postgres: bool,
}

impl Meter {
    pub fn read(&self) -> Ticks {
        Ticks {
            server: proc::process_ticks(self.server_pid),
            database: if self.postgres { proc::ticks_named("postgres") } else { 0 },
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OpResult {
    pub requests: usize,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseResult {
    pub workload: String,
    pub concurrency: usize,
    pub repeat: usize,
    pub warmup_s: f64,
    pub seconds: f64,
    pub requests: usize,
    pub errors: usize,
    pub error_samples: Vec<String>,
    pub per_second: f64,
    /// Items per second: resources for Bundles, otherwise requests.
    pub items_per_second: f64,
    pub latency_ms: Latency,
    pub ops: BTreeMap<String, OpResult>,
    /// CPU of the server process per answered request (user + system).
    pub server_cpu_ms_per_request: f64,
    /// CPU of every PostgreSQL process per answered request (0 on SQLite).
    pub database_cpu_ms_per_request: f64,
    /// Share of the machine's cores the server (and the database) kept busy.
    pub server_cores_busy: f64,
    pub database_cores_busy: f64,
    pub server_rss_mib: f64,
}

struct Sample {
    op: &'static str,
    ms: f64,
    items: usize,
}

/// Run `w` with `concurrency` clients: `warmup` not counted, then `seconds` measured.
pub async fn run(
    ctx: Arc<Ctx>,
    w: Workload,
    concurrency: usize,
    warmup: Duration,
    seconds: Duration,
    meter: Meter,
) -> Result<CaseResult> {
    let start = Instant::now();
    let from = start + warmup;
    let until = from + seconds;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let client =
                reqwest::Client::builder().pool_max_idle_per_host(1).timeout(Duration::from_secs(120)).build()?;
            let (mut samples, mut errors) = (Vec::new(), Vec::new());
            loop {
                let t = Instant::now();
                if t >= until {
                    break;
                }
                let n = ctx.next.fetch_add(1, Ordering::Relaxed);
                let r = request(&client, &ctx, w, n).await;
                let end = Instant::now();
                // Counted: started in the window and answered before its end.
                if t < from || end > until {
                    continue;
                }
                match r {
                    Ok(d) => samples.push(Sample { op: d.op, ms: (end - t).as_secs_f64() * 1000.0, items: d.items }),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            anyhow::Ok((samples, errors))
        }));
    }
    tokio::time::sleep_until(from.into()).await;
    let before = meter.read();
    tokio::time::sleep_until(until.into()).await;
    let after = meter.read();
    let rss = proc::rss_mib(meter.server_pid);
    let (mut samples, mut errors) = (Vec::new(), Vec::new());
    for t in tasks {
        let (s, e) = t.await??;
        samples.extend(s);
        errors.extend(e);
    }
    let secs = seconds.as_secs_f64();
    let requests = samples.len();
    let tick_ms = 1000.0 / proc::clock_ticks();
    let server_ms = after.server.saturating_sub(before.server) as f64 * tick_ms;
    let db_ms = after.database.saturating_sub(before.database) as f64 * tick_ms;
    let mut by_op: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in &samples {
        by_op.entry(s.op.to_string()).or_default().push(s.ms);
    }
    let items: usize = samples.iter().map(|s| s.items).sum();
    let mut all: Vec<f64> = samples.iter().map(|s| s.ms).collect();
    Ok(CaseResult {
        workload: w.name().to_string(),
        concurrency,
        repeat: 0,
        warmup_s: warmup.as_secs_f64(),
        seconds: secs,
        requests,
        errors: errors.len(),
        error_samples: errors.into_iter().take(5).collect(),
        per_second: requests as f64 / secs,
        items_per_second: items as f64 / secs,
        latency_ms: Latency::of(&mut all),
        ops: by_op
            .into_iter()
            .map(|(op, mut ms)| (op, OpResult { requests: ms.len(), latency_ms: Latency::of(&mut ms) }))
            .collect(),
        server_cpu_ms_per_request: server_ms / requests.max(1) as f64,
        database_cpu_ms_per_request: db_ms / requests.max(1) as f64,
        server_cores_busy: server_ms / 1000.0 / secs,
        database_cores_busy: db_ms / 1000.0 / secs,
        server_rss_mib: rss,
    })
}

#[cfg(test)]
mod tests {
    use super::birth_date;
    use std::collections::BTreeSet;

    #[test]
    fn a_run_spreads_its_patients_over_sixty_years_of_birth_dates() {
        let dates: BTreeSet<String> = (1_000..3_000u64).map(birth_date).collect();
        assert_eq!(dates.len(), 2_000, "no two of 2,000 consecutive patients share a birth date");
        assert!(dates.iter().all(|d| ("1930-01-01"..="1989-12-31").contains(&d.as_str())), "{dates:?}");
    }
}
