//! The result files: `bench/results/scale-<backend>.json` (everything measured) and
//! `bench/results/scale.md` (regenerated from every JSON file there): the ceilings, the
//! workloads, and each target of issue #9 with how far it is met or missed.

use crate::ceilings::{Pgbench, Rate};
use crate::ssmix::ImportResult;
use crate::workloads::{CaseResult, Workload};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use tsunagu_bench::Machine;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Dataset {
    pub patients: i64,
    pub entries: i64,
    pub organization: String,
    pub user: String,
    pub charts_sampled: usize,
    pub charts_with_labs: usize,
    pub patients_sampled: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SoakPoint {
    pub minute: f64,
    pub per_second: f64,
    pub p99_ms: f64,
    pub errors: usize,
    pub server_rss_mib: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub backend: String,
    pub started_at: String,
    pub finished_at: String,
    pub git_commit: String,
    /// `release` or `dev`: only release figures are comparable.
    pub profile: String,
    pub machine: Machine,
    pub dataset: Dataset,
    pub seconds: u64,
    pub warmup: u64,
    pub repeats: usize,
    pub fsync: Option<Rate>,
    pub sqlite_commits: Option<Rate>,
    pub pgbench: Vec<Pgbench>,
    pub static_2k: Vec<CaseResult>,
    pub cases: Vec<CaseResult>,
    pub ssmix2: Option<ImportResult>,
    pub soak: Vec<SoakPoint>,
}

fn cases(r: &Report, w: Workload) -> impl Iterator<Item = &CaseResult> {
    r.cases.iter().chain(r.static_2k.iter()).filter(move |c| c.workload == w.name())
}

/// The median of the repeats' throughput, and the worst repeat's p99, at `clients`.
fn at(r: &Report, w: Workload, clients: usize) -> Option<(f64, f64, f64)> {
    let mut tp: Vec<f64> = cases(r, w).filter(|c| c.concurrency == clients).map(|c| c.per_second).collect();
    if tp.is_empty() {
        return None;
    }
    tp.sort_by(f64::total_cmp);
    let median = tp.get(tp.len() / 2).copied().unwrap_or(0.0);
    let p99 = cases(r, w).filter(|c| c.concurrency == clients).map(|c| c.latency_ms.p99).fold(0.0, f64::max);
    let items = cases(r, w).filter(|c| c.concurrency == clients).map(|c| c.items_per_second).fold(0.0, f64::max);
    Some((median, p99, items))
}

fn best(r: &Report, w: Workload) -> Option<(usize, f64)> {
    cases(r, w).map(|c| (c.concurrency, c.items_per_second)).max_by(|a, b| a.1.total_cmp(&b.1))
}

fn verdict(met: bool, how: String) -> String {
    format!("{} {how}", if met { "**met**" } else { "**not met**" })
}

/// Each target of the issue against this report.
pub fn targets(r: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let top = r.cases.iter().map(|c| c.concurrency).max().unwrap_or(32);
    if let Some((tp, p99, _)) = at(r, Workload::ChartOpen, top) {
        out.push((
            format!("W1 chart open: p99 < 20 ms at {top} clients"),
            verdict(p99 < 20.0, format!("p99 {p99:.1} ms ({:.1}× the target)", p99 / 20.0)),
        ));
        if r.backend == "sqlite" {
            let (c, best_tp) = best(r, Workload::ChartOpen).unwrap_or((top, tp));
            out.push((
                "W1 chart open: at least 5,000 opens/s on SQLite".into(),
                verdict(
                    best_tp >= 5000.0,
                    format!("{best_tp:.0}/s at {c} clients ({:.0} % of the target)", best_tp / 50.0),
                ),
            ));
        }
    }
    if let (Some((c, tp)), Some(f)) = (best(r, Workload::NoteAppend), r.fsync.as_ref()) {
        let ratio = tp / f.per_second.max(1e-9);
        out.push((
            "W2 durable notes: at least 10× the single-writer fsync rate".into(),
            verdict(
                ratio >= 10.0,
                format!("{tp:.0} notes/s at {c} clients = {ratio:.2}× the {:.0} fsyncs/s", f.per_second),
            ),
        ));
    }
    for (w, limit, label) in
        [(Workload::PatientSearch, 30.0, "W3 patient search"), (Workload::FullText, 100.0, "W4 full-text search")]
    {
        if let Some((_, p99, _)) = at(r, w, top) {
            out.push((
                format!("{label}: p99 < {limit:.0} ms (at {top} clients)"),
                verdict(p99 < limit, format!("p99 {p99:.1} ms ({:.1}× the target)", p99 / limit)),
            ));
        }
    }
    if let Some((tp, _, _)) = at(r, Workload::FhirRead, top)
        && let Some((st, _, _)) = at(r, Workload::Static2k, top)
    {
        let share = tp / st.max(1e-9) * 100.0;
        out.push((
            format!("W5 FHIR read by id: at least 35 % of the static 2 KB ceiling ({top} clients)"),
            verdict(share >= 35.0, format!("{tp:.0}/s against {st:.0}/s = {share:.1} %")),
        ));
    }
    if let Some((c, items)) = best(r, Workload::FhirBundle) {
        out.push((
            "W6 Bundles: at least 12,000 resources/s".into(),
            verdict(
                items >= 12000.0,
                format!("{items:.0} resources/s with {c} clients ({:.1} % of the target)", items / 120.0),
            ),
        ));
    }
    if let Some(s) = &r.ssmix2 {
        out.push((
            "W6 SS-MIX2: at least 20,000 messages/s".into(),
            verdict(
                s.files_per_second >= 20000.0,
                format!(
                    "{:.0} messages/s, 4 imports at once ({:.1} % of the target)",
                    s.files_per_second,
                    s.files_per_second / 200.0
                ),
            ),
        ));
    }
    out
}

fn backend_section(s: &mut String, r: &Report) {
    let m = &r.machine;
    let _ = writeln!(s, "## {}\n", r.backend);
    let _ = writeln!(
        s,
        "- {} to {}, commit `{}`, **{} build**, {} × {} ({} MiB), kernel {}, load {:.2} at start",
        r.started_at,
        r.finished_at,
        r.git_commit,
        r.profile,
        m.nproc,
        m.cpu_model,
        m.mem_total_mib,
        m.kernel,
        m.load_at_start.unwrap_or(0.0)
    );
    let d = &r.dataset;
    let _ = writeln!(
        s,
        "- dataset: {} patients, {} entries; as {} of {} ({} shared charts sampled, {} with labs; {} registered patients sampled)",
        d.patients, d.entries, d.user, d.organization, d.charts_sampled, d.charts_with_labs, d.patients_sampled
    );
    let _ = writeln!(s, "- each case: {} s warm-up, {} s measured, {} repeat(s)\n", r.warmup, r.seconds, r.repeats);

    let _ = writeln!(s, "### Ceilings\n");
    let _ = writeln!(s, "| ceiling | per second | mean ms |");
    let _ = writeln!(s, "|---|---:|---:|");
    for rate in [&r.fsync, &r.sqlite_commits].into_iter().flatten() {
        let _ = writeln!(s, "| {} | {:.0} | {:.2} |", rate.what, rate.per_second, rate.mean_ms);
    }
    for p in &r.pgbench {
        let _ = writeln!(s, "| pgbench {} ({} clients) | {:.0} tps | {:.2} |", p.mode, p.clients, p.tps, p.latency_ms);
    }
    for c in &r.static_2k {
        let _ = writeln!(
            s,
            "| static 2 KB over HTTP ({} clients) | {:.0} | {:.2} (p99 {:.2}; server {:.3} CPU ms/req) |",
            c.concurrency, c.per_second, c.latency_ms.mean, c.latency_ms.p99, c.server_cpu_ms_per_request
        );
    }

    let _ = writeln!(s, "\n### Workloads\n");
    let _ = writeln!(
        s,
        "Throughput and latency per repeat; CPU is milliseconds of CPU time per answered request, from `/proc` (server = the `tsunagu` process; db = every `postgres` process).\n"
    );
    let _ = writeln!(
        s,
        "| workload | clients | repeat | req/s | items/s | p50 ms | p99 ms | max ms | server CPU ms/req | db CPU ms/req | errors | RSS MiB |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for c in &r.cases {
        let l = &c.latency_ms;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} | {} | {:.0} |",
            c.workload,
            c.concurrency,
            c.repeat,
            c.per_second,
            c.items_per_second,
            l.median,
            l.p99,
            l.max,
            c.server_cpu_ms_per_request,
            c.database_cpu_ms_per_request,
            c.errors,
            c.server_rss_mib
        );
    }
    let mixed: Vec<&CaseResult> = r.cases.iter().filter(|c| c.ops.len() > 1).collect();
    if !mixed.is_empty() {
        let _ = writeln!(s, "\nBy operation (the mixed workloads):\n");
        let _ = writeln!(s, "| workload | clients | repeat | operation | requests | p50 ms | p99 ms |");
        let _ = writeln!(s, "|---|---:|---:|---|---:|---:|---:|");
        for c in mixed {
            for (op, o) in &c.ops {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {:.2} | {:.2} |",
                    c.workload, c.concurrency, c.repeat, op, o.requests, o.latency_ms.median, o.latency_ms.p99
                );
            }
        }
    }
    if let Some(i) = &r.ssmix2 {
        let _ = writeln!(
            s,
            "\nW6 SS-MIX2: {} imports at once, {} patients each: {} files ({} lab files, {} results, {} prescription files) in {:.2} s = **{:.0} messages/s**, {:.0} results/s; importer {:.2} CPU ms/file, database {:.2} CPU ms/file.",
            i.trees,
            i.patients_per_tree,
            i.files,
            i.lab_files,
            i.lab_results,
            i.prescription_files,
            i.seconds,
            i.files_per_second,
            i.lab_results_per_second,
            i.importer_cpu_ms_per_file,
            i.database_cpu_ms_per_file
        );
    }
    if !r.soak.is_empty() {
        let _ = writeln!(s, "\n### Soak (W1 + W2, 4 to 1, 8 clients)\n");
        let _ = writeln!(s, "| minute | req/s | p99 ms | errors | server RSS MiB |");
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|");
        for p in &r.soak {
            let _ = writeln!(
                s,
                "| {:.0} | {:.0} | {:.1} | {} | {:.0} |",
                p.minute, p.per_second, p.p99_ms, p.errors, p.server_rss_mib
            );
        }
    }
    let _ = writeln!(s, "\n### Targets\n");
    let _ = writeln!(s, "| target | result |");
    let _ = writeln!(s, "|---|---|");
    for (t, v) in targets(r) {
        let _ = writeln!(s, "| {t} | {v} |");
    }
    let _ = writeln!(s);
}

/// Write this backend's JSON and regenerate the markdown from every backend's JSON;
/// `notes` (the analysis, written by hand) is kept between the markers.
pub fn write(out: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = out.join(format!("scale-{}.json", report.backend));
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    eprintln!("wrote {}", json.display());
    let md_path = out.join("scale.md");
    let notes = std::fs::read_to_string(&md_path)
        .ok()
        .and_then(|old| {
            let start = old.find(NOTES_START)?;
            let end = old.find(NOTES_END)?;
            old.get(start..end + NOTES_END.len()).map(str::to_string)
        })
        .unwrap_or_else(|| format!("{NOTES_START}\n{NOTES_END}"));
    let mut s = String::from("# Scale: the issue #9 harness (`bench/src/bin/scale`)\n\n");
    let _ = writeln!(
        s,
        "Generated by `scale` from `scale-<backend>.json`; the analysis between the markers below is written by hand and kept when the tables are regenerated. How to run it: `bench/README.md`, section `scale`.\n"
    );
    let _ = writeln!(s, "{notes}\n");
    for b in ["sqlite", "postgres"] {
        if let Ok(text) = std::fs::read_to_string(out.join(format!("scale-{b}.json"))) {
            let r: Report = serde_json::from_str(&text)?;
            backend_section(&mut s, &r);
        }
    }
    std::fs::write(&md_path, s)?;
    eprintln!("wrote {}", md_path.display());
    Ok(())
}

const NOTES_START: &str = "<!-- analysis -->";
const NOTES_END: &str = "<!-- /analysis -->";
