//! The server under test: `tsunagu serve` as a process of its own, so that its CPU time
//! can be read from `/proc` apart from the load generator's; and the `tsunagu` commands
//! the run needs (a bearer token).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the database is: the data directory, and a PostgreSQL URL when not SQLite.
#[derive(Debug, Clone)]
pub struct Target {
    pub tsunagu: PathBuf,
    pub data: PathBuf,
    pub database_url: Option<String>,
}

impl Target {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.tsunagu);
        c.arg("--data").arg(&self.data);
        if let Some(url) = &self.database_url {
            c.arg("--database-url").arg(url);
        }
        c
    }

    /// The URL sqlx opens: the PostgreSQL URL, or the data directory's SQLite file.
    pub fn url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data.join("tsunagu.db").display()))
    }

    /// A bearer token of `email` at the organization `code` (`tsunagu token create`).
    pub fn token(&self, email: &str, code: &str) -> Result<String> {
        let out = self
            .command()
            .args(["token", "create", "--user", email, "--org", code, "--label", "bench scale"])
            .output()
            .context("running tsunagu token create")?;
        if !out.status.success() {
            bail!("tsunagu token create: {}", String::from_utf8_lossy(&out.stderr));
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !token.starts_with("tsu_") {
            bail!("tsunagu token create printed no token");
        }
        Ok(token)
    }

    /// Start `tsunagu serve` on `port`, its log in `log`, and wait until `/healthz`
    /// answers.
    pub async fn serve(&self, port: u16, log: &Path) -> Result<Server> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        let child = self
            .command()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // Far above the clients of the run: nothing is shed, everything is measured.
            .env("TSUNAGU_MAX_IN_FLIGHT", "4096")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .context("starting tsunagu serve")?;
        let server = Server { child, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!("tsunagu serve did not answer /healthz within 300 s; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A running `tsunagu serve`; stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: the server drains and closes its database as on a real shutdown;
        // killed only when it does not stop within 30 s.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
