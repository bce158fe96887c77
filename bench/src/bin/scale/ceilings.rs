//! Ceilings measured in the same run, so that the workloads' figures are ratios to
//! what this machine can do at all, not absolute times on a noisy machine:
//!
//! * HTTP on loopback: a trivial axum server answering 2,048 bytes, in a process of its
//!   own, driven by the same clients as the workloads;
//! * durable commits: an `fdatasync` loop on the data directory's disk, and single-row
//!   SQLite transactions with `synchronous = FULL` (WAL), the single-writer rate;
//! * PostgreSQL: `pgbench`, select-only and its TPC-B-like write mix.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The trivial server: `scale --static-server PORT` runs this and nothing else.
pub async fn static_server(port: u16) -> Result<()> {
    static BODY: [u8; 2048] = [b'x'; 2048];
    let app = axum::Router::new().route("/", axum::routing::get(|| async { &BODY[..] }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The trivial server as a child process (this executable again); killed when dropped.
pub struct StaticServer {
    child: Child,
    pub base: String,
}

impl StaticServer {
    pub async fn start(port: u16) -> Result<StaticServer> {
        let child = Command::new(std::env::current_exe()?)
            .args(["--static-server", &port.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .context("starting the static server")?;
        let s = StaticServer { child, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(format!("{}/", s.base)).send().await.is_ok() {
                return Ok(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the static server did not start")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Rate {
    pub what: String,
    pub per_second: f64,
    pub mean_ms: f64,
}

/// 512-byte writes to one block of a file in `dir`, each followed by `fdatasync`:
/// how many durable writes one writer gets per second from this disk.
pub fn fsync_loop(dir: &Path, seconds: f64) -> Result<Rate> {
    let path = dir.join("bench-fsync.tmp");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path)?;
    let block = [7u8; 512];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&block)?;
        f.sync_data()?;
        n += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(Rate {
        what: "fdatasync loop (512 B at offset 0)".into(),
        per_second: n as f64 / secs,
        mean_ms: secs * 1000.0 / n.max(1) as f64,
    })
}

/// Single-row transactions on a new SQLite file in `dir`, WAL with `synchronous =
/// FULL` (what tsunagu runs), one connection: the single writer's commit rate.
pub async fn sqlite_full_commits(dir: &Path, seconds: f64) -> Result<Rate> {
    use sqlx::Connection;
    let path = dir.join("bench-commits.db");
    let _ = std::fs::remove_file(&path);
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)").execute(&mut c).await?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        let mut tx = c.begin().await?;
        sqlx::query("INSERT INTO t (body) VALUES ($1)").bind("一行の記録").execute(&mut *tx).await?;
        tx.commit().await?;
        n += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    c.close().await?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(Rate {
        what: "SQLite single-row commits, WAL, synchronous=FULL".into(),
        per_second: n as f64 / secs,
        mean_ms: secs * 1000.0 / n.max(1) as f64,
    })
}

fn pgbench_path() -> Option<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pgbench {
    pub mode: String,
    pub clients: usize,
    pub tps: f64,
    pub latency_ms: f64,
}

/// `pgbench` against a new database on the server of `admin` (scale 10), select-only
/// (`-S`) and TPC-B-like (the default script: 5 statements, 1 commit) at each client
/// count; the database is dropped afterwards.
pub async fn pgbench(admin: &str, clients: &[usize], seconds: u64) -> Result<Vec<Pgbench>> {
    let bin = pgbench_path().context("pgbench not found under /usr/lib/postgresql/*/bin")?;
    let (url, name) = tsunagu_bench::create_postgres(admin, "tsunagu_pgbench").await?;
    let result = async {
        let init = Command::new(&bin).args(["-i", "-q", "-s", "10", &url]).output()?;
        if !init.status.success() {
            bail!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
        }
        let mut out = Vec::new();
        for (mode, flag) in [("select-only", Some("-S")), ("tpcb-like", None)] {
            for &c in clients {
                let mut cmd = Command::new(&bin);
                cmd.args(["-n", "-c", &c.to_string(), "-j", &c.min(2).to_string(), "-T", &seconds.to_string()]);
                if let Some(f) = flag {
                    cmd.arg(f);
                }
                let o = cmd.arg(&url).output()?;
                if !o.status.success() {
                    bail!("pgbench {mode} -c {c}: {}", String::from_utf8_lossy(&o.stderr));
                }
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                let find = |prefix: &str| {
                    text.lines()
                        .find_map(|l| l.trim().strip_prefix(prefix))
                        .and_then(|v| v.trim().trim_start_matches('=').split_whitespace().next())
                        .and_then(|v| v.parse::<f64>().ok())
                };
                out.push(Pgbench {
                    mode: mode.into(),
                    clients: c,
                    tps: find("tps").unwrap_or(0.0),
                    latency_ms: find("latency average").unwrap_or(0.0),
                });
            }
        }
        anyhow::Ok(out)
    }
    .await;
    tsunagu_bench::drop_postgres(admin, &name).await?;
    result
}
