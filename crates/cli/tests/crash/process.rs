//! The database and the server process under test: a fresh database per run, the real
//! `tsunagu` binary started, SIGKILLed and restarted on it, the CLI run against it.

use sqlx::Connection;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tsunagu_domain::IdGen;
use tsunagu_domain::clock::RandomIdGen;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_env() -> Backend {
        match std::env::var("TSUNAGU_TEST_BACKEND").as_deref() {
            Err(_) | Ok("" | "sqlite") => Backend::Sqlite,
            Ok("postgres") => Backend::Postgres,
            Ok(other) => panic!("TSUNAGU_TEST_BACKEND={other:?}: use sqlite or postgres"),
        }
    }
}

/// A random number from the injected generator (the ambient calls are banned by clippy).
pub fn random_u64() -> u64 {
    let u = RandomIdGen.uuid().as_u128();
    (u as u64) ^ ((u >> 64) as u64)
}

/// A fresh database and the directory the server runs in (its data directory: search
/// index, attachments; and the server log). A failed run keeps the directory (SQLite:
/// with the database) for a post-mortem; a PostgreSQL database is always dropped.
pub struct Db {
    pub backend: Backend,
    pub url: String,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    pg: Option<(String, String)>,
}

impl Db {
    pub async fn fresh() -> Db {
        let backend = Backend::from_env();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/tsunagu.db", path.display());
                Db { backend, url, dir: Some(dir), path, pg: None }
            }
            Backend::Postgres => {
                let admin = std::env::var("TSUNAGU_TEST_POSTGRES_URL").unwrap_or_else(|_| {
                    panic!(
                        "TSUNAGU_TEST_BACKEND=postgres needs TSUNAGU_TEST_POSTGRES_URL \
                         (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
                    )
                });
                let name = format!("tsunagu_crash_{:016x}", random_u64());
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to TSUNAGU_TEST_POSTGRES_URL: {e}"));
                sqlx::Executor::execute(&mut c, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
                let _ = c.close().await;
                let base = admin
                    .split('?')
                    .next()
                    .unwrap()
                    .rsplit_once('/')
                    .expect("TSUNAGU_TEST_POSTGRES_URL has no database part")
                    .0
                    .to_string();
                Db { backend, url: format!("{base}/{name}"), dir: Some(dir), path, pg: Some((admin, name)) }
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Drop the PostgreSQL database and the directory after a successful run.
    pub async fn finish(mut self) {
        if let Some((admin, name)) = self.pg.take() {
            drop_pg(&admin, &name).await;
        }
    }
}

async fn drop_pg(admin: &str, name: &str) {
    if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::Executor::execute(
            &mut c,
            sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
        )
        .await;
        let _ = c.close().await;
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(d) = self.dir.take()
        {
            eprintln!("crash: kept {} for a post-mortem", d.keep().display());
        }
        // A failed run must not leave its database behind on a shared server.
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(drop_pg(&admin, &name));
                }
            })
            .join();
        }
    }
}

/// The real binary with `--database-url`, without the caller's `TSUNAGU_*` settings.
fn command(url: &str, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsunagu"));
    cmd.arg("--database-url").arg(url).args(args);
    cmd.current_dir(cwd).kill_on_drop(true).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("TSUNAGU_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn").env("NO_COLOR", "1");
    cmd
}

/// Run a CLI subcommand to the end.
pub async fn cli(db: &Db, args: &[&str]) -> Output {
    let mut cmd = command(&db.url, db.dir(), args);
    match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("tsunagu {args:?} did not finish within 60 s"),
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `demo` seeds the region on the first start; every restart is `serve`, the
/// production path.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Demo,
    Serve,
}

/// One server process at a time, on one port (a new one only if the old cannot be
/// bound again); writers follow `base`.
pub struct Server {
    url: String,
    cwd: PathBuf,
    pub log: PathBuf,
    port: u16,
    child: Option<Child>,
    starts: u32,
    pub base: Arc<RwLock<String>>,
    health: reqwest::Client,
}

impl Server {
    pub fn new(db: &Db) -> Server {
        let port = free_port();
        Server {
            url: db.url.clone(),
            cwd: db.dir().to_path_buf(),
            log: db.dir().join("server.log"),
            port,
            child: None,
            starts: 0,
            base: Arc::new(RwLock::new(format!("http://127.0.0.1:{port}"))),
            health: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        }
    }

    pub fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }

    /// How many processes were started so far.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Start a process without waiting for it to be ready.
    pub fn spawn(&mut self, mode: Mode) {
        assert!(self.child.is_none(), "a server is already running");
        self.starts += 1;
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        writeln!(log, "--- crash harness: start {} ({mode:?}) on port {} ---", self.starts, self.port).unwrap();
        let sub = match mode {
            Mode::Demo => "demo",
            Mode::Serve => "serve",
        };
        let listen = format!("127.0.0.1:{}", self.port);
        let mut cmd = command(&self.url, &self.cwd, &[sub, "--listen", &listen]);
        cmd.stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log));
        self.child = Some(cmd.spawn().unwrap());
    }

    /// Start a process and wait until `/healthz` answers 200.
    pub async fn start(&mut self, mode: Mode) {
        for _ in 0..3 {
            self.spawn(mode);
            match self.wait_healthy().await {
                Ok(()) => return,
                Err(why) => {
                    self.child = None;
                    if !self.log_tail(5).contains("cannot listen") {
                        self.fail(&format!("start {} ({mode:?}): {why}", self.starts));
                    }
                    // The port was not free again: go on elsewhere; writers follow.
                    self.port = free_port();
                    *self.base.write().unwrap() = format!("http://127.0.0.1:{}", self.port);
                }
            }
        }
        self.fail("the server could not bind a port three times");
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let url = format!("{}/healthz", self.base());
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("exited with {status} before it was healthy"));
            }
            if let Ok(r) = self.health.get(&url).send().await
                && r.status() == 200
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err("not healthy within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fail if the process ended by itself: nobody but the harness stops it.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
            self.fail(&format!("start {}: the server exited by itself with {status}", self.starts));
        }
    }

    /// SIGKILL the process and reap it.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("a running server");
        if let Some(status) = child.try_wait().unwrap() {
            self.fail(&format!("start {}: the server exited by itself with {status}", self.starts));
        }
        // Child::start_kill sends SIGKILL to this one process (by its own pid).
        child.start_kill().unwrap();
        let status = match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(s) => s.unwrap(),
            Err(_) => self.fail("the server did not die within 10 s of SIGKILL"),
        };
        if status.signal() != Some(9) {
            self.fail(&format!("start {}: expected death by SIGKILL, got {status}", self.starts));
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Panic with the tail of the server log.
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n--- last lines of {} ---\n{}", self.log.display(), self.log_tail(60))
    }
}
