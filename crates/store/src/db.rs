//! Connections. SQLite gets WAL, `synchronous=FULL`, foreign keys and a busy timeout on
//! every connection, one writer connection and a separate read pool; PostgreSQL one pool.

use crate::{Result, StoreError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tsunagu_domain::{Clock, IdGen};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Whether opening may create a new, empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `migrate` and `demo`: create the SQLite file when it is missing.
    CreateIfMissing,
    /// Everything else: a missing file is a mistyped path, not a new database.
    MustExist,
}

#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGen>,
    /// How a bulk load connects: like the writer, without statement logging (a
    /// statement of thousands of rows would fill the log with its placeholders).
    pub(crate) bulk_opts: AnyConnectOptions,
    /// Group commit of writes (None outside a tokio runtime): see `group_commit`.
    pub(crate) writes: Option<crate::group_commit::WriteQueue>,
    /// The readable patients of organizations, kept for full-text search's narrowing.
    pub(crate) reach: Arc<crate::reach_cache::ReachCache>,
    /// SQLite's write-ahead log checkpoints, off the writer's path (see `checkpoint`);
    /// the task stops when the last clone of the store is dropped.
    _checkpointer: Option<Arc<crate::checkpoint::Checkpointer>>,
    url_display: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).field("url", &self.url_display).finish()
    }
}

/// The file path of a `sqlite://` URL (query string removed).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// A URL safe to print: the password of a PostgreSQL URL is masked.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = url.get(s + 3..at).unwrap_or("");
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", url.get(..s + 3).unwrap_or(""), user, url.get(at..).unwrap_or(""))
        }
        _ => url.to_string(),
    }
}

impl Store {
    pub async fn open(url: &str, mode: OpenMode, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let quiet = |o: AnyConnectOptions| {
            o.log_statements(log::LevelFilter::Off).log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1))
        };
        let (write, read, bulk_opts, checkpointer) = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url).ok_or(StoreError::UnsupportedUrl)?;
                if !path.exists() {
                    match mode {
                        OpenMode::MustExist => {
                            return Err(StoreError::DatabaseMissing(path.display().to_string()));
                        }
                        OpenMode::CreateIfMissing => {
                            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
                            }
                        }
                    }
                }
                let base = format!("sqlite://{}", path.display());
                let write_opts = AnyConnectOptions::from_str(&format!("{base}?mode=rwc"))?;
                let read_opts = AnyConnectOptions::from_str(&format!("{base}?mode=rw"))?;
                let bulk_opts = quiet(write_opts.clone());
                let write = sqlite_pool(1, &[WRITER_CACHE, crate::checkpoint::WRITER_BACKSTOP])
                    .connect_with(write_opts)
                    .await?;
                let read = sqlite_pool(4, &[READER_CACHE]).connect_with(read_opts.clone()).await?;
                let checkpointer = crate::checkpoint::Checkpointer::start(quiet(read_opts)).map(Arc::new);
                (write, read, bulk_opts, checkpointer)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // No JIT compilation: it pays off for long analytic queries,
                            // and tsunagu's are short. PostgreSQL compiles any query whose
                            // estimate is over jit_above_cost, and a large organization's
                            // inbox (correlated counts over 20,000 team rows) spent 1.2 s
                            // compiling a 0.4 s query (bench/results/scale.md).
                            conn.execute("SET jit = off").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                (pool.clone(), pool, quiet(AnyConnectOptions::from_str(url)?), None)
            }
        };
        let writes = crate::group_commit::WriteQueue::start(write.clone());
        let reach = Arc::default();
        Ok(Self {
            backend,
            write,
            read,
            clock,
            ids,
            bulk_opts,
            writes,
            reach,
            _checkpointer: checkpointer,
            url_display: redact_url(url),
        })
    }

    /// Run one write in the next group commit (see `group_commit`): answered after the
    /// commit that holds it, with its number or its own error.
    pub(crate) async fn grouped(&self, write: crate::group_commit::Write) -> Result<i64> {
        let write = match &self.writes {
            Some(q) => match q.run(write).await {
                Ok(r) => return r,
                Err(write) => write,
            },
            None => write,
        };
        crate::group_commit::run_alone(&self.write, write).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn new_id(&self) -> String {
        self.ids.uuid().hyphenated().to_string()
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Liveness of the database for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Integrity of the stored data: SQLite's integrity and foreign-key checks (on
    /// PostgreSQL, which enforces keys itself, none), and on both that the name search's
    /// grams are those of the patients' names.
    pub async fn integrity_problems(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let stale = crate::name_grams::mismatches(&mut *self.read.acquire().await?).await?;
        if stale != 0 {
            problems.push(format!("patient_name_grams: {stale} row(s) differ from the patients' names"));
        }
        if self.backend == Backend::Sqlite {
            use sqlx::Row;
            let rows = sqlx::query("PRAGMA integrity_check").fetch_all(&self.write).await?;
            for r in rows {
                let s: String = r.try_get(0)?;
                if s != "ok" {
                    problems.push(format!("integrity_check: {s}"));
                }
            }
            let fk = sqlx::query("PRAGMA foreign_key_check").fetch_all(&self.write).await?;
            if !fk.is_empty() {
                problems.push(format!("foreign_key_check: {} violation(s)", fk.len()));
            }
        }
        Ok(problems)
    }
}

/// Page cache of the SQLite writer connection. SQLite's default (2 MiB) holds a
/// few hundred pages: on a million-patient file every write then read the upper levels
/// of each index it touched again from the OS, and a transaction of 100 registrations
/// spilled dirty pages to the log before its commit (`getPageNormal` and `pagerStress`
/// in the profile of bench/results/scale.md, W6). The cache grows only as pages are
/// used, so a small database costs nothing.
const WRITER_CACHE: &str = "PRAGMA cache_size = -65536"; // 64 MiB (negative: KiB)

/// Page cache of each of the four SQLite read connections (see above).
const READER_CACHE: &str = "PRAGMA cache_size = -32768"; // 32 MiB

/// A pool of SQLite connections with the store's settings, then `extra` pragmas.
fn sqlite_pool(max: u32, extra: &'static [&'static str]) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(30)).after_connect(
        move |conn, _meta| {
            Box::pin(async move {
                // Durable clinical writes: WAL with a full fsync at every commit.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                // Statement journals (what undoes one failed statement of a transaction)
                // and temporary tables in memory: a multi-row INSERT's journal otherwise
                // spills to a temporary file, a write system call per page (a tenth of
                // the writer's time under FHIR transactions, bench/results/scale.md).
                // Durability is the write-ahead log's, which this does not touch.
                conn.execute("PRAGMA temp_store = MEMORY").await?;
                for pragma in extra {
                    conn.execute(*pragma).await?;
                }
                Ok(())
            })
        },
    )
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text with microseconds, which
/// sorts as time on both databases.
pub fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

pub fn parse_ts(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| StoreError::Corrupt(format!("bad timestamp {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let t = time::macros::datetime!(2026-01-02 03:04:05.000006 UTC);
        assert_eq!(ts(t), "2026-01-02T03:04:05.000006Z");
        assert_eq!(parse_ts(&ts(t)).unwrap(), t);
    }

    #[test]
    fn urls() {
        assert_eq!(sqlite_path("sqlite://data/t.db?mode=rwc").unwrap(), PathBuf::from("data/t.db"));
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}

/// A local date and time to the minute, as the pages and forms write it
/// (`2026-11-23T09:00`; zero-padded, so the text sorts as time).
pub(crate) fn minute_text(t: time::PrimitiveDateTime) -> String {
    format!("{}T{:02}:{:02}", t.date(), t.hour(), t.minute())
}

#[cfg(test)]
mod minute_tests {
    #[test]
    fn morning_times_are_zero_padded() {
        let t = time::macros::datetime!(2026-11-23 09:05);
        assert_eq!(super::minute_text(t), "2026-11-23T09:05");
        assert_eq!(super::minute_text(time::macros::datetime!(2026-11-23 14:00)), "2026-11-23T14:00");
    }
}
