//! The test harness: a fresh database per test (SQLite in a temp dir, or a new
//! PostgreSQL database from `TSUNAGU_TEST_POSTGRES_URL` when
//! `TSUNAGU_TEST_BACKEND=postgres`), migrated and seeded with the demo region, served by
//! the real app on port 0. `finish()` checks the invariants and tears everything down.

use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode, redirect};
use sqlx::{AnyConnection, Connection, Row};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;
use tsunagu_cli::{demo, server};
use tsunagu_domain::clock::{ManualClock, RandomIdGen};
use tsunagu_domain::person::Email;
use tsunagu_domain::policy::Principal;
use tsunagu_domain::{IdGen, PatientId};
use tsunagu_store::{AuditCtx, AuditRow, Backend, OpenMode, OrgRow, SearchQuery, Store};
use tsunagu_web::WebConfig;
use tsunagu_web::password::{hash_password, random_token, sha256_hex};

pub const SATO: &str = "sato@hospital.example.jp";
pub const SUZUKI: &str = "suzuki@midori.example.jp";
pub const TAKAHASHI: &str = "takahashi@station.example.jp";
pub const OPERATOR: &str = "operator@ishikai.example.jp";
pub const KOBAYASHI: &str = "kobayashi@umibe.example.jp";

/// Strings that must never reach a caller: internals of the database, the runtime or
/// the source tree.
pub const LEAKS: &[&str] =
    &["SELECT", "INSERT", "sqlx", "panicked", "stack backtrace", "error returned from database", "src/"];

/// The message for `key` in the real catalogue (`crates/web/locales/{ja,en}/main.ftl`),
/// so that the tests assert what users read.
pub fn msg(lang: &str, key: &str) -> String {
    let src = match lang {
        "ja" => include_str!("../../../web/locales/ja/main.ftl"),
        "en" => include_str!("../../../web/locales/en/main.ftl"),
        other => panic!("no catalogue {other}"),
    };
    let m = src
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix('=')).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no message {key} in the {lang} catalogue"));
    assert!(!m.is_empty(), "{lang} {key} is empty");
    m
}

/// Cheap argon2 so that the suite stays fast (the production cost is in WebConfig's
/// defaults and is not what these tests are about).
pub fn web_config() -> WebConfig {
    // Most tests sign in with the password alone, as the demo does; the tests of the
    // second factor start the server with it required (its production default).
    WebConfig { argon2_m_kib: 256, argon2_t: 1, argon2_p: 1, second_factor_required: false, ..Default::default() }
}

/// A random UUID from the injected generator (the ambient calls are banned by clippy).
pub fn random_uuid() -> uuid::Uuid {
    RandomIdGen.uuid()
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The database URL the app and the CLI use.
    pub url: String,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    /// The server's request permits (to fill them up in the overload test).
    pub admission: Arc<tokio::sync::Semaphore>,
    pg: Option<PgDb>,
    running: Option<server::Running>,
    finished: bool,
    _dir: Option<tempfile::TempDir>,
}

struct PgDb {
    admin_url: String,
    name: String,
}

fn backend_from_env() -> Backend {
    match std::env::var("TSUNAGU_TEST_BACKEND").as_deref() {
        Err(_) | Ok("" | "sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("TSUNAGU_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

/// A new, empty database: its URL, the PostgreSQL database to drop later, the temp dir
/// to keep alive.
async fn fresh_database() -> (String, Option<PgDb>, Option<tempfile::TempDir>) {
    match backend_from_env() {
        Backend::Postgres => {
            let admin = std::env::var("TSUNAGU_TEST_POSTGRES_URL").unwrap_or_else(|_| {
                panic!(
                    "TSUNAGU_TEST_BACKEND=postgres needs TSUNAGU_TEST_POSTGRES_URL \
                     (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
                )
            });
            let name = format!("tsunagu_it_{}", random_uuid().simple());
            sqlx::any::install_default_drivers();
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
            (format!("{base}/{name}"), Some(PgDb { admin_url: admin, name }), None)
        }
        Backend::Sqlite => {
            let d = tempfile::tempdir().unwrap();
            (format!("sqlite://{}/tsunagu.db", d.path().display()), None, Some(d))
        }
    }
}

/// A new, empty database of the test backend (not migrated): for what must start from
/// nothing, like `tsunagu generate`. Dropped with the value, unless handed to
/// [`TestApp::start_on`].
pub struct FreshDb {
    pub url: String,
    pg: Option<PgDb>,
    dir: Option<tempfile::TempDir>,
}

impl FreshDb {
    pub async fn new() -> FreshDb {
        let (url, pg, dir) = fresh_database().await;
        FreshDb { url, pg, dir }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some(pg) = self.pg.take() {
            drop_pg_blocking(pg);
        }
    }
}

/// Drop a PostgreSQL test database from synchronous code (a `Drop`).
fn drop_pg_blocking(pg: PgDb) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&pg.admin_url).await {
                    let _ = sqlx::Executor::execute(
                        &mut c,
                        sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name)),
                    )
                    .await;
                }
            });
        }
    })
    .join();
}

async fn drop_pg(db: &PgDb) {
    let mut c = sqlx::PgConnection::connect(&db.admin_url).await.unwrap();
    sqlx::Executor::execute(&mut c, sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name)))
        .await
        .unwrap();
    let _ = c.close().await;
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_inner(None, web_config()).await
    }

    /// Like [`TestApp::start`], with these web settings.
    pub async fn start_with_config(config: WebConfig) -> TestApp {
        Self::start_inner(None, config).await
    }

    /// Like [`TestApp::start`], with attachments kept in `blobs` (a directory of the
    /// test's own, or an S3 bucket) instead of the shared temporary directory.
    pub async fn start_with_blobs(blobs: tsunagu_blobs::Blobs) -> TestApp {
        Self::start_inner(Some(blobs), web_config()).await
    }

    async fn start_inner(blobs: Option<tsunagu_blobs::Blobs>, c: WebConfig) -> TestApp {
        let (url, pg, dir) = fresh_database().await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 01:00 UTC)));
        let store = Store::open(&url, OpenMode::CreateIfMissing, clock.clone(), Arc::new(RandomIdGen)).await.unwrap();
        store.migrate().await.unwrap();
        let hash = hash_password(demo::DEMO_PASSWORD, c.argon2_m_kib, c.argon2_t, c.argon2_p).unwrap();
        demo::seed(&store, &hash).await.unwrap();
        let mut state = server::state(store.clone(), c);
        if let Some(b) = blobs {
            state.blobs = Arc::new(b);
        }
        let admission = state.admission.clone();
        let running = server::spawn(state, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        TestApp {
            base: format!("http://{}", running.addr),
            url,
            store,
            clock,
            admission,
            pg,
            running: Some(running),
            finished: false,
            _dir: dir,
        }
    }

    /// The real app on a database that already holds data (nothing is seeded), its
    /// full-text index rebuilt from that data as `tsunagu reindex` would.
    pub async fn start_on(mut db: FreshDb) -> TestApp {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 01:00 UTC)));
        let store = Store::open(&db.url, OpenMode::MustExist, clock.clone(), Arc::new(RandomIdGen)).await.unwrap();
        store.migrate().await.unwrap();
        let state = server::state(store.clone(), web_config());
        let (rt, s, index) = (tokio::runtime::Handle::current(), store.clone(), state.search.clone());
        tokio::task::spawn_blocking(move || tsunagu_cli::reindex::rebuild_blocking(&rt, &s, &index, &|_| {}))
            .await
            .unwrap()
            .unwrap();
        let admission = state.admission.clone();
        let running = server::spawn(state, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        TestApp {
            base: format!("http://{}", running.addr),
            url: db.url.clone(),
            store,
            clock,
            admission,
            pg: db.pg.take(),
            running: Some(running),
            finished: false,
            _dir: db.dir.take(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client with a cookie store that does not follow redirects (tests look at them).
    pub fn client(&self) -> Client {
        // No idle connection reuse: a server that refuses an oversize body closes the
        // connection, and a pooled one would then fail the next request at random.
        Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// A client without cookies (for the API and for replaying old cookies by hand).
    pub fn bare_client(&self) -> Client {
        Client::builder()
            .redirect(redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// Sign in with the demo password; returns the session cookie value too.
    pub async fn signin(&self, email: &str) -> Session {
        let client = self.client();
        let r = client
            .post(self.at("/signin"))
            .form(&[("email", email), ("password", demo::DEMO_PASSWORD), ("next", "/patients")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
        let cookie = session_cookie(r.headers()).expect("a session cookie at sign-in");
        let page = Resp::of(client.get(self.at("/patients")).send().await.unwrap()).await;
        assert_eq!(page.status, 200, "/patients after sign-in of {email}");
        let csrf = page.csrf().expect("a CSRF token on a signed-in page");
        Session { client, csrf, cookie, base: self.base.clone() }
    }

    /// A bearer token for the person's first organization, made through the store.
    pub async fn token_for(&self, email: &str) -> String {
        let org = self.org_of(email).await;
        let user = self.user(email).await;
        let token = format!("tsu_{}", random_token().unwrap());
        self.store
            .create_token(user.id, org.id, &sha256_hex(&token), "integration test", None, &AuditCtx::default())
            .await
            .unwrap();
        token
    }

    pub async fn user(&self, email: &str) -> tsunagu_store::UserRow {
        self.store.user_by_email(&Email::parse(email).unwrap()).await.unwrap()
    }

    /// The person's first organization (every demo login has exactly one).
    pub async fn org_of(&self, email: &str) -> OrgRow {
        let u = self.user(email).await;
        let m = self.store.memberships(u.id).await.unwrap();
        m.into_iter().next().expect("a membership").org
    }

    pub async fn principal(&self, email: &str) -> Principal {
        let u = self.user(email).await;
        let org = self.org_of(email).await;
        self.store.principal(u.id, org.id).await.unwrap()
    }

    /// The id of the one patient whose kana matches, as sato (who owns 山田 花子) sees it.
    pub async fn patient_id(&self, kana: &str) -> PatientId {
        let who = self.principal(SATO).await;
        let q = SearchQuery { text: Some(kana.into()), limit: 10, ..Default::default() };
        let found = self.store.search_patients(&who, &q, &AuditCtx::default()).await.unwrap();
        assert_eq!(found.len(), 1, "exactly one patient matches {kana}");
        found[0].id
    }

    /// (organizations, users, patients)
    pub async fn counts(&self) -> (i64, i64, i64) {
        let mut c = self.raw_conn().await;
        let users: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&mut c).await.unwrap().try_get("n").unwrap();
        let _ = c.close().await;
        (self.store.count_orgs().await.unwrap(), users, self.store.count_patients().await.unwrap())
    }

    /// The audit rows written while answering one request (matched by request id).
    pub async fn audit_of_request(&self, request_id: &str) -> Vec<AuditRow> {
        self.store
            .audit_recent(None, 200)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.request_id.as_deref() == Some(request_id))
            .collect()
    }

    /// A connection of its own, outside the store's pools.
    pub async fn raw_conn(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.url).await.unwrap()
    }

    /// Run the real `tsunagu` binary against this database.
    pub async fn cli(&self, args: &[&str]) -> Output {
        run_cli(&self.url, args).await
    }

    /// Check the invariants, stop the server, drop the database.
    pub async fn finish(self) {
        self.finish_inner(None).await;
    }

    /// For the tampering test: the chain must break exactly at `seq`.
    pub async fn finish_with_audit_break_at(self, seq: i64) {
        self.finish_inner(Some(seq)).await;
    }

    async fn finish_inner(mut self, expected_break: Option<i64>) {
        let problems = self.store.integrity_problems().await.unwrap();
        assert!(problems.is_empty(), "integrity problems: {problems:?}");
        let report = self.store.verify_audit().await.unwrap();
        assert_eq!(report.first_break.as_ref().map(|b| b.0), expected_break, "audit chain: {:?}", report.first_break);
        if let Some(r) = self.running.take() {
            let _ = r.shutdown.send(());
            match tokio::time::timeout(Duration::from_secs(10), r.task).await {
                Ok(res) => res.unwrap().unwrap(),
                Err(_) => panic!("the server did not stop within 10 s"),
            }
        }
        self.store.close().await;
        if let Some(pg) = self.pg.take() {
            drop_pg(&pg).await;
        }
        self.finished = true;
    }
}

impl Drop for TestApp {
    /// A test that failed before `finish()` must not leave its PostgreSQL database
    /// behind on a shared server.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(pg) = self.pg.take() {
            drop_pg_blocking(pg);
        }
    }
}

/// Run the real binary with `--database-url`, in an empty working directory and without
/// the caller's `TSUNAGU_*` settings, so that nothing but the arguments counts.
pub async fn run_cli(url: &str, args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tsunagu"));
    cmd.arg("--database-url").arg(url).args(args);
    cmd.current_dir(cwd.path()).kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("TSUNAGU_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn");
    match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("tsunagu {args:?} did not finish within 60 s"),
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The value of the `tsunagu` cookie set by a response, if any.
pub fn session_cookie(h: &HeaderMap) -> Option<String> {
    set_cookie_line(h, "tsunagu").and_then(|l| {
        l.split(';').next().and_then(|kv| kv.split_once('=')).map(|(_, v)| v.to_string()).filter(|v| !v.is_empty())
    })
}

/// The whole Set-Cookie line for a cookie name.
pub fn set_cookie_line(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub async fn of(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        Resp { status, headers, body }
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }

    pub fn request_id(&self) -> String {
        let id = self.header("x-request-id");
        assert!(!id.is_empty(), "every response carries x-request-id");
        id
    }

    pub fn location(&self) -> String {
        self.header("location")
    }

    /// The body with HTML entities undone, for looking for catalogue messages.
    pub fn text(&self) -> String {
        unescape(&self.body)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The CSRF token of a signed-in page.
    pub fn csrf(&self) -> Option<String> {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// Assert that nothing internal leaked into the body.
    pub fn assert_no_leak(&self, what: &str) {
        for l in LEAKS {
            assert!(!self.body.contains(l), "{what}: the response shows {l:?}:\n{}", self.body);
        }
    }
}

/// Percent-encode a query-string value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Put a value in every `{name}` segment of a route path: `{patient}` and the names in
/// `given`, any other parameter gets `other`.
pub fn fill_path(path: &str, given: &[(&str, &str)], other: &str) -> String {
    path.split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => given.iter().find(|(n, _)| *n == name).map_or(other, |(_, v)| *v).to_string(),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// A signed-in browser: its cookie jar and the session's CSRF token.
pub struct Session {
    pub client: Client,
    pub csrf: String,
    /// The session cookie's value as set at sign-in.
    pub cookie: String,
    pub base: String,
}

impl Session {
    pub async fn get(&self, path: &str) -> Resp {
        Resp::of(self.client.get(format!("{}{path}", self.base)).send().await.unwrap()).await
    }

    /// POST a form with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Switch the language the way a user does (the `lang` cookie).
    pub async fn set_lang(&self, lang: &str) {
        let r = self.get(&format!("/lang?to={lang}&back=/patients")).await;
        assert_eq!(r.status, 303, "language switch");
    }

    /// POST a multipart form (a file upload) with the session's CSRF token in the query
    /// string, where uploads carry it.
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> Resp {
        self.post_multipart_with(path, fields, Some(file)).await
    }

    /// Like [`Session::post_multipart`], with the file optional (a form whose file
    /// input was left empty).
    pub async fn post_multipart_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> Resp {
        let boundary = format!("----tsunagu-test-{}", random_uuid().simple());
        let mut body: Vec<u8> = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        if let Some((filename, content_type, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let sep = if path.contains('?') { '&' } else { '?' };
        Resp::of(
            self.client
                .post(format!("{}{path}{sep}csrf={}", self.base, urlencode(&self.csrf)))
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POST a form exactly as given (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        Resp::of(self.client.post(format!("{}{path}", self.base)).form(fields).send().await.unwrap()).await
    }
}

/// The text of a PDF, laid out (poppler's `pdftotext`, installed by scripts/test).
/// The text of the element marked `data-fig="name"` (a dashboard figure).
pub fn fig(body: &str, name: &str) -> String {
    body.split(&format!("data-fig=\"{name}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name}"))
        .split('<')
        .next()
        .unwrap()
        .to_string()
}

/// The secret of a one-time survey link shown on the page that made it.
pub fn link_token(body: &str) -> String {
    let link = body.split("id=\"survey-link\">").nth(1).unwrap().split('<').next().unwrap();
    link.rsplit("/s/").next().unwrap().to_string()
}

pub fn pdftotext(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
