//! Browser test of the walking skeleton: a real Chromium, driven through chromedriver,
//! against the app served in-process on a seeded SQLite store.
//!
//! The story is the one a hospital physician lives on the first day: sign in (the page
//! is Japanese and the cursor is in the e-mail field), register a new patient typing the
//! kana in hiragana, land on the chart with the hospital on the care team, find the
//! patient again from the list by typing half-width katakana, open the chart, and read
//! it in English.
//!
//! The second story is the shared chart (issue 3): a visiting nurse records vital signs,
//! a nursing note and a photo on 山田 花子's chart; the home physician, at another
//! organization, reads them and replies in the thread naming her; her inbox shows the
//! mention and the chart the reply, on a phone too.
//!
//! The third story is a referral letter (issue 4). The fourth is issue 6's outcome: a
//! visiting nurse records 山田 花子's own symptom ratings on two days a week apart and
//! sees each symptom's trend; the network operator sees the region's dashboard before
//! and after, with that week's change counted and every plot drawn.
//!
//! Screenshots go to `target/screenshots/` for a person to look at; on failure a test
//! also saves `failure.png` (`failure-chart.png`, `failure-letters.png` and
//! `failure-symptoms.png` for the others) and prints the tail of the page source. The
//! tests take turns with the browser.
//!
//! Needs `chromedriver` and `chromium` (Debian packages); `CHROMEDRIVER` and
//! `CHROME_BIN` override the paths.

use anyhow::{Context, Result, anyhow, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsunagu_cli::demo::{DEMO_PASSWORD, seed};
use tsunagu_cli::server::{Running, spawn, state};
use tsunagu_domain::clock::{Clock, RandomIdGen, SystemClock};
use tsunagu_domain::transition::fiscal_year;
use tsunagu_store::{OpenMode, Store};
use tsunagu_web::WebConfig;

mod family;
mod passkey;

/// Longest any single wait may take.
const TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

const DESKTOP: (u32, u32) = (1280, 900);
const TABLET: (u32, u32) = (820, 1180);
const PHONE: (u32, u32) = (390, 844);

const SATO: &str = "sato@hospital.example.jp";
const HOSPITAL: &str = "つなぐ市立総合病院";
const NURSE: &str = "takahashi@station.example.jp";
const NURSE_NAME: &str = "高橋 順子";
const STATION: &str = "つなぐ訪問看護ステーション";
const PHYSICIAN: &str = "suzuki@midori.example.jp";
const PHYSICIAN_NAME: &str = "鈴木 誠";
const HANAKO: &str = "山田 花子";

// ---------------------------------------------------------------------------------------
// chromedriver

/// A chromedriver child process, killed when dropped, whether the test passed or not.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Driver {
    fn start(log_dir: &Path) -> Result<Self> {
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = free_port()?;
        let log = log_dir.join("chromedriver.log");
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(&bin);
        cmd.arg(format!("--port={port}")).stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().with_context(|| format!("cannot start {bin} (set CHROMEDRIVER)"))?;
        Ok(Self { child, port, log })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Wait until chromedriver answers `/status` with `ready`.
    async fn ready(&mut self) -> Result<()> {
        let http = reqwest::Client::new();
        let url = format!("{}/status", self.url());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("chromedriver exited with {status}:\n{}", self.log_tail());
            }
            if let Ok(r) = http.get(&url).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v.pointer("/value/ready") == Some(&json!(true))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not answer on {url}:\n{}", self.log_tail());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log).map(|s| tail(&s, 2000).to_string()).unwrap_or_default()
    }
}

impl Drop for Driver {
    /// Ends this chromedriver by its own handle, nothing else. The browser is ended by
    /// closing the session first (the test always does); no `kill` of a process group.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

async fn connect(driver: &Driver, profile: &Path) -> Result<Client> {
    let chrome = std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chrome,
            // No --lang: the browser asks for en-US, and pages must still be Japanese.
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            ],
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        bail!("capabilities are not an object");
    };
    // chromedriver speaks plain http on localhost: no TLS, so no crypto provider.
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .with_context(|| format!("no browser session:\n{}", driver.log_tail()))?;
    client.set_window_size(DESKTOP.0, DESKTOP.1).await?;
    Ok(client)
}

// ---------------------------------------------------------------------------------------
// The app

async fn start_app(dir: &Path) -> Result<Running> {
    let url = format!("sqlite://{}/t.db", dir.display());
    let store = Store::open(&url, OpenMode::CreateIfMissing, Arc::new(SystemClock), Arc::new(RandomIdGen)).await?;
    store.migrate().await?;
    let hash = tsunagu_web::password::hash_password(DEMO_PASSWORD, 256, 1, 1)?;
    seed(&store, &hash).await?;
    // As `tsunagu demo` runs: the demo accounts sign in with the password alone (the
    // second factor is tested over HTTP in integration/second_factor.rs).
    let web = WebConfig {
        argon2_m_kib: 256,
        argon2_t: 1,
        argon2_p: 1,
        demo_banner: true,
        second_factor_required: false,
        ..Default::default()
    };
    spawn(state(store, web), "127.0.0.1:0".parse()?).await
}

// ---------------------------------------------------------------------------------------
// Waiting and looking

/// Poll `probe` until it yields `Some`, for at most [`TIMEOUT`]; the error names what was
/// awaited and the last error the probe met.
async fn wait_until<T, F, Fut>(what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + TIMEOUT;
    let mut last_err = None;
    loop {
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if Instant::now() > deadline {
            return Err(match last_err {
                Some(e) => e.context(format!("timed out after {TIMEOUT:?} waiting for {what}")),
                None => anyhow!("timed out after {TIMEOUT:?} waiting for {what}"),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The element matching `css`, once it is in the page.
async fn find(c: &Client, css: &str) -> Result<Element> {
    match c.wait().at_most(TIMEOUT).every(POLL).for_element(Locator::Css(css)).await {
        Ok(el) => Ok(el),
        Err(e) => Err(anyhow!(e).context(format!("no element `{css}` in {}", url_of(c).await))),
    }
}

/// The text of `css`, once it contains `needle`.
async fn wait_text(c: &Client, css: &str, needle: &str) -> Result<String> {
    let what = format!("`{css}` to contain {needle:?}");
    wait_until(&what, || async move {
        let Ok(el) = c.find(Locator::Css(css)).await else {
            return Ok(None);
        };
        let text = el.text().await?;
        Ok(text.contains(needle).then_some(text))
    })
    .await
}

/// Wait until the browser is at `path` (ignoring the query) and the document is loaded.
async fn wait_path(c: &Client, what: &str, accept: impl Fn(&str) -> bool) -> Result<String> {
    let accept = &accept;
    wait_until(what, || async move {
        let url = c.current_url().await?;
        let ready = c.execute("return document.readyState", vec![]).await?;
        Ok((accept(url.path()) && ready == json!("complete")).then(|| url.path().to_string()))
    })
    .await
}

async fn goto(c: &Client, base: &str, path: &str) -> Result<()> {
    c.goto(&format!("{base}{path}")).await?;
    wait_path(c, &format!("page {path}"), |p| p == path).await?;
    Ok(())
}

async fn fill(c: &Client, css: &str, value: &str) -> Result<()> {
    let el = find(c, css).await?;
    el.clear().await?;
    el.send_keys(value).await.with_context(|| format!("typing into `{css}`"))
}

async fn url_of(c: &Client) -> String {
    c.current_url().await.map(|u| u.to_string()).unwrap_or_else(|e| format!("(no url: {e})"))
}

async fn html_lang(c: &Client) -> Result<String> {
    let v = c.execute("return document.documentElement.lang", vec![]).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

// ---------------------------------------------------------------------------------------
// Screenshots

fn shots_dir() -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.canonicalize().unwrap_or(dir))
}

/// A screenshot of the whole page at the given width (its first 8000 px): the window is
/// stretched to the page's height for the shot, then put back. The page is scrolled to
/// its top first (after a post, the chart is at its `#timeline`).
async fn shot(c: &Client, name: &str, (width, height): (u32, u32)) -> Result<PathBuf> {
    c.set_window_size(width, height).await?;
    c.execute("window.scrollTo(0, 0)", vec![]).await?;
    let sizes = c
        .execute("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]", vec![])
        .await?;
    let page = sizes.pointer("/0").and_then(|v| v.as_u64()).unwrap_or(0);
    let chrome = sizes.pointer("/1").and_then(|v| v.as_u64()).unwrap_or(0);
    let full = u32::try_from(page + chrome).unwrap_or(height).clamp(height, 8000);
    if full > height {
        c.set_window_size(width, full).await?;
    }
    let png = c.screenshot().await?;
    c.set_window_size(DESKTOP.0, DESKTOP.1).await?;
    let path = shots_dir()?.join(name);
    std::fs::write(&path, png)?;
    println!("screenshot: {}", path.display());
    Ok(path)
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s.get(start..).unwrap_or(s)
}

// ---------------------------------------------------------------------------------------
// The story

async fn story(c: &Client, base: &str) -> Result<()> {
    // 1. The sign-in page is Japanese and the cursor starts in the e-mail field.
    goto(c, base, "/signin").await?;
    let title = c.title().await?;
    ensure!(title.contains("ログイン"), "sign-in title is {title:?}");
    ensure!(html_lang(c).await? == "ja", "sign-in page is not lang=ja");
    wait_until("focus in #email (autofocus)", || async move {
        let id = c.active_element().await?.attr("id").await?;
        Ok((id.as_deref() == Some("email")).then_some(()))
    })
    .await?;
    shot(c, "signin.png", DESKTOP).await?;

    fill(c, "#email", SATO).await?;
    fill(c, "#password", DEMO_PASSWORD).await?;
    find(c, "#signin-submit").await?.click().await?;
    wait_path(c, "leaving /signin", |p| p != "/signin").await?;
    if c.find(Locator::Css("#signin-error")).await.is_ok() {
        bail!("sign-in refused");
    }

    // 2. Register 佐々木 ハル, the family-name kana typed in hiragana.
    goto(c, base, "/patients/new").await?;
    fill(c, "#family_name", "佐々木").await?;
    fill(c, "#given_name", "ハル").await?;
    fill(c, "#family_kana", "ささき").await?;
    fill(c, "#given_kana", "ハル").await?;
    find(c, "#sex").await?.select_by_value("female").await?;
    fill(c, "#birth_date", "1942-05-10").await?;
    fill(c, "#postal_code", "997-0035").await?;
    fill(c, "#address", "山形県つなぐ市馬場町3-14").await?;
    fill(c, "#phone", "0235-22-0510").await?;
    let local_id = format!("BR-{}", std::process::id());
    fill(c, "#local_id", &local_id).await?;
    shot(c, "patient-new.png", DESKTOP).await?;
    find(c, "#register-submit").await?.click().await?;

    // The chart, or the form again with errors or possible duplicates.
    let outcome = wait_until("the registration outcome", || async move {
        for css in ["#patient-name", "#form-errors", "#duplicates"] {
            if c.find(Locator::Css(css)).await.is_ok() {
                return Ok(Some(css));
            }
        }
        Ok(None)
    })
    .await?;
    match outcome {
        "#form-errors" => {
            let text = find(c, "#form-errors").await?.text().await?;
            bail!("registration refused: {text}");
        }
        "#duplicates" => {
            // The demo region has other ササキ; if one shares the birth date the form
            // asks first. This is a new person: confirm and send again.
            println!("registration asked about possible duplicates; confirming");
            find(c, "#confirm_new").await?.click().await?;
            find(c, "#register-submit").await?.click().await?;
            find(c, "#patient-name").await?;
        }
        _ => {}
    }
    let chart_path = wait_path(c, "the new patient's chart", |p| {
        p.strip_prefix("/patients/").is_some_and(|rest| !rest.is_empty() && rest != "new" && !rest.contains('/'))
    })
    .await?;
    let name = find(c, "#patient-name").await?.text().await?;
    ensure!(name == "佐々木 ハル", "chart shows the name {name:?}");
    let kana = find(c, "#patient-head .kana").await?.text().await?;
    ensure!(kana == "ササキ ハル", "the hiragana was not turned into katakana: {kana:?}");
    wait_text(c, "section#team", HOSPITAL).await?;
    let consent = find(c, "#consent-status").await?.text().await?;
    println!("registered {chart_path} (local id {local_id}); consent: {consent}");
    shot(c, "patient-page.png", DESKTOP).await?;
    shot(c, "patient-page-tablet.png", TABLET).await?;

    // 3. Find her again from the list by typing half-width katakana.
    goto(c, base, "/patients").await?;
    let before = find(c, "#result-count").await?.text().await?;
    fill(c, "#q", "ｻｻｷ").await?;
    // The live search (htmx, on input) swaps the results without leaving the page.
    let expect_link = format!("a.patient-link[href='{chart_path}']");
    let found = wait_until("the live search results for ｻｻｷ", || {
        let (before, expect_link) = (&before, &expect_link);
        async move {
            let count = c.find(Locator::Css("#result-count")).await?.text().await?;
            if count == *before || !count.contains("件") {
                return Ok(None);
            }
            let links = c.find_all(Locator::Css("a.patient-link")).await?;
            let mut texts = Vec::new();
            for l in &links {
                texts.push(l.text().await?);
            }
            let ours = c.find(Locator::Css(expect_link)).await.is_ok();
            let all_sasaki = texts.iter().all(|t| t.contains("ササキ"));
            Ok((ours && all_sasaki).then_some((count, texts)))
        }
    })
    .await?;
    let url = c.current_url().await?;
    ensure!(url.path() == "/patients" && url.query().is_none(), "the live search left the page: {url}");
    println!("live search: {} — {:?}", found.0, found.1);

    // Submitting the form gives the same results, swapped in again: mark the current
    // ones so that the new ones can be told apart (and no stale element is touched).
    c.execute("document.getElementById('result-count').dataset.stale = '1'", vec![]).await?;
    find(c, "#search-submit").await?.click().await?;
    let fresh = format!("#result-count:not([data-stale]) ~ table {expect_link}");
    let link_text = wait_text(c, &fresh, "佐々木 ハル").await?;
    ensure!(link_text.contains("ササキ ハル"), "result link reads {link_text:?}");
    shot(c, "patients-search.png", DESKTOP).await?;

    wait_until("a click on the result", || {
        let fresh = &fresh;
        async move { Ok(c.find(Locator::Css(fresh)).await?.click().await.ok()) }
    })
    .await?;
    wait_path(c, "the chart from the search", |p| p == chart_path).await?;
    wait_text(c, "#patient-name", "佐々木 ハル").await?;
    wait_text(c, "section#team", HOSPITAL).await?;
    wait_text(c, "section#team h2", "ケアチーム").await?;

    // 4. The header link switches the language; the chart reads in English.
    let english = c
        .wait()
        .at_most(TIMEOUT)
        .for_element(Locator::LinkText("English"))
        .await
        .context("no header link \"English\"")?;
    english.click().await?;
    wait_until("the page in English", || async move { Ok((html_lang(c).await? == "en").then_some(())) }).await?;
    wait_path(c, "back on the chart", |p| p == chart_path).await?;
    wait_text(c, "section#team h2", "Care team").await?;
    wait_text(c, "section#team", HOSPITAL).await?;
    let title = c.title().await?;
    ensure!(title.contains("佐々木 ハル"), "English chart title {title:?}");
    shot(c, "patient-page-en.png", DESKTOP).await?;
    Ok(())
}

/// On failure: a screenshot and the end of the page source, to see what went wrong.
async fn report_failure(c: &Client, err: &anyhow::Error, shot_name: &str) {
    eprintln!("browser story failed at {}: {err:?}", url_of(c).await);
    match c.screenshot().await {
        Ok(png) => match shots_dir().map(|d| d.join(shot_name)) {
            Ok(path) => {
                if std::fs::write(&path, png).is_ok() {
                    eprintln!("failure screenshot: {}", path.display());
                }
            }
            Err(e) => eprintln!("no screenshot directory: {e}"),
        },
        Err(e) => eprintln!("no failure screenshot: {e}"),
    }
    match c.source().await {
        Ok(src) => eprintln!("--- page source (tail) ---\n{}\n---", tail(&src, 4000)),
        Err(e) => eprintln!("no page source: {e}"),
    }
}

/// One story at a time: each starts a browser, and the machine is small.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Seed an app, start chromedriver and a browser, run `story`, and end all of them
/// whatever the story did; the story's error comes back after the failure report.
async fn in_browser(failure_shot: &str, story: impl AsyncFnOnce(&Client, &str) -> Result<()>) -> Result<()> {
    let _turn = BROWSER.lock().await;
    // A failure shot from an earlier run would mislead whoever looks at the directory.
    let _ = std::fs::remove_file(shots_dir()?.join(failure_shot));
    let tmp = tempfile::tempdir()?;
    let profile = tempfile::tempdir()?;
    let app = start_app(tmp.path()).await?;
    let base = format!("http://{}", app.addr);

    let mut driver = Driver::start(tmp.path())?;
    driver.ready().await?;
    let client = connect(&driver, profile.path()).await?;

    let result = story(&client, &base).await;
    if let Err(e) = &result {
        report_failure(&client, e, failure_shot).await;
    }

    // Closing the session ends the browser; then the guard ends chromedriver.
    let _ = tokio::time::timeout(TIMEOUT, client.close()).await;
    drop(driver);
    let _ = app.shutdown.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), app.task).await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_skeleton_in_a_browser() {
    if let Err(e) = in_browser("failure.png", story).await {
        panic!("browser story failed: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nurse_and_physician_share_the_chart_in_a_browser() {
    if let Err(e) = in_browser("failure-chart.png", chart_story).await {
        panic!("browser story failed: {e:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The shared chart

async fn sign_in(c: &Client, base: &str, email: &str, name: &str) -> Result<()> {
    goto(c, base, "/signin").await?;
    fill(c, "#email", email).await?;
    fill(c, "#password", DEMO_PASSWORD).await?;
    find(c, "#signin-submit").await?.click().await?;
    wait_path(c, &format!("{email} leaving /signin"), |p| p != "/signin").await?;
    if let Ok(e) = c.find(Locator::Css("#signin-error")).await {
        bail!("sign-in of {email} refused: {}", e.text().await.unwrap_or_default());
    }
    wait_text(c, "header.top .who", name).await.with_context(|| format!("{email} is not shown as signed in"))?;
    Ok(())
}

async fn sign_out(c: &Client) -> Result<()> {
    find(c, "#signout").await?.click().await?;
    wait_path(c, "the sign-in page after signing out", |p| p == "/signin").await?;
    Ok(())
}

/// Find a patient from the list by typing `query`, open the chart, and return its path.
async fn open_chart_by_search(c: &Client, base: &str, query: &str, name: &str) -> Result<String> {
    goto(c, base, "/patients").await?;
    fill(c, "#q", query).await?;
    // The live search swaps the results in; once every link is the patient, click the
    // first (a click on a link being swapped out fails and is tried again).
    wait_until(&format!("the search for {query} to list only {name}, and a click on it"), || async move {
        let links = c.find_all(Locator::Css("a.patient-link")).await?;
        let mut texts = Vec::new();
        for l in &links {
            texts.push(l.text().await?);
        }
        if texts.is_empty() || !texts.iter().all(|t| t.contains(name)) {
            return Ok(None);
        }
        let Some(first) = links.first() else { return Ok(None) };
        Ok(first.click().await.ok())
    })
    .await?;
    let path = wait_path(c, &format!("the chart of {name}"), |p| {
        p.strip_prefix("/patients/").is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    })
    .await?;
    wait_text(c, "#patient-name", name).await?;
    Ok(path)
}

/// Open a composer tab (`details#tab-…`) and wait until `field` can be typed into.
async fn open_tab(c: &Client, tab: &str, field: &str) -> Result<()> {
    find(c, &format!("details#{tab} > summary")).await?.click().await?;
    wait_until(&format!("`{field}` to show in the {tab} tab"), || async move {
        Ok(c.find(Locator::Css(field)).await?.is_displayed().await?.then_some(()))
    })
    .await
}

/// Press a submit button and wait for the page the post leads to. The old document is
/// marked first: the new one has the same address (the chart), so only the mark tells
/// them apart. A form shown again with errors fails the story with the errors.
async fn submit(c: &Client, button: &str) -> Result<()> {
    press(c, button, false).await
}

/// Press `button`; when `confirm`, accept the question its form asks first. Then wait
/// for the page the post leads to, and fail with the form's errors if it came back.
async fn press(c: &Client, button: &str, confirm: bool) -> Result<()> {
    c.execute("document.documentElement.dataset.submitted = '1'", vec![]).await?;
    find(c, button).await?.click().await.with_context(|| format!("pressing `{button}`"))?;
    if confirm {
        wait_until(&format!("the confirmation asked by `{button}`"), || async move { Ok(c.accept_alert().await.ok()) })
            .await?;
    }
    wait_until(&format!("the page after pressing `{button}`"), || async move {
        // While the page changes, the script may fail: that is "not yet".
        let fresh = c
            .execute("return document.readyState === 'complete' && !document.documentElement.dataset.submitted", vec![])
            .await;
        Ok(matches!(fresh, Ok(v) if v == json!(true)).then_some(()))
    })
    .await?;
    if let Ok(e) = c.find(Locator::Css("#form-errors")).await {
        bail!("`{button}` was refused: {}", e.text().await.unwrap_or_default());
    }
    Ok(())
}

/// The class and text of the `n`-th entry of the timeline, newest first.
async fn entry(c: &Client, n: usize) -> Result<(String, String)> {
    let all = c.find_all(Locator::Css("#timeline-entries article.entry")).await?;
    let el = all.get(n).with_context(|| format!("the timeline has {} entries, not {}", all.len(), n + 1))?;
    Ok((el.attr("class").await?.unwrap_or_default(), el.text().await?))
}

/// Wait until the `n`-th entry (newest first) is of `kind` and says every one of
/// `needles`; on timeout the error shows what the entry was.
async fn expect_entry(c: &Client, n: usize, kind: &str, needles: &[&str]) -> Result<String> {
    let class = format!("kind-{kind}");
    let what = format!("entry #{} to be a {kind} saying {needles:?}", n + 1);
    let found = wait_until(&what, || {
        let class = &class;
        async move {
            let (classes, text) = entry(c, n).await?;
            let ok = classes.split_whitespace().any(|k| k == class) && needles.iter().all(|w| text.contains(w));
            Ok(ok.then_some(text))
        }
    })
    .await;
    match found {
        Ok(text) => Ok(text),
        Err(e) => {
            let seen = entry(c, n).await.map(|(k, t)| format!("[{k}] {t}")).unwrap_or_else(|e| e.to_string());
            Err(e.context(format!("entry #{} is: {seen}", n + 1)))
        }
    }
}

/// Wait until the photo of the `n`-th entry has loaded from the server.
async fn expect_photo(c: &Client, n: usize) -> Result<()> {
    let script = "const a = document.querySelectorAll('#timeline-entries article.entry')[arguments[0]]; \
                  const img = a && a.querySelector('img.preview'); \
                  return img ? [img.complete, img.naturalWidth] : null;";
    let shown = wait_until(&format!("the photo of entry #{} to load", n + 1), || async move {
        let v = c.execute(script, vec![json!(n)]).await?;
        let loaded = v.pointer("/0") == Some(&json!(true)) && v.pointer("/1").and_then(|w| w.as_u64()) > Some(0);
        Ok(loaded.then_some(v))
    })
    .await?;
    println!("photo shown: {shown}");
    Ok(())
}

/// A small PNG: skin with a red patch, as a photo of redness over the sacrum would be.
/// Stored (uncompressed) deflate, so no image library is needed.
fn sacrum_png() -> Result<Vec<u8>> {
    const W: u32 = 160;
    const H: u32 = 120;
    let mut raw = Vec::new();
    for y in 0..H {
        raw.push(0); // no filter
        for x in 0..W {
            let (dx, dy) = (f64::from(x) - 84.0, f64::from(y) - 64.0);
            let r = (dx * dx) / (38.0 * 38.0) + (dy * dy) / (26.0 * 26.0);
            raw.extend_from_slice(if r < 0.6 {
                &[206, 96, 92]
            } else if r < 1.0 {
                &[222, 142, 126]
            } else {
                &[236, 200, 174]
            });
        }
    }
    let len = u16::try_from(raw.len()).context("the image is too large for one stored block")?;
    let mut zlib = vec![0x78, 0x01, 1];
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&W.to_be_bytes());
    ihdr.extend_from_slice(&H.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", zlib.as_slice()), (b"IEND", &[])] {
        png.extend_from_slice(&u32::try_from(data.len())?.to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(png.get(start..).unwrap_or_default());
        png.extend_from_slice(&crc.to_be_bytes());
    }
    Ok(png)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

const NURSING_TEXT: &str = "訪問時、仙骨部の発赤が拡大（約3×4cm、指押しで消退せず）。写真を添付します。\
                            エアマットレスの設定を確認し、2時間ごとの体位変換を長男さんと継続。";
const REPLY_TEXT: &str = "高橋さん、記録と写真を確認しました。仙骨部の発赤は褥瘡の初期（d1）と考えます。\
                          フィルム材で保護を続けてください。37.6℃の発熱もあり、明日の訪問で診察します。";

async fn chart_story(c: &Client, base: &str) -> Result<()> {
    let files = tempfile::tempdir()?;
    let photo = files.path().join("sacrum.png");
    std::fs::write(&photo, sacrum_png()?)?;

    // 1. The visiting nurse opens 山田 花子's chart, which the team has written in.
    sign_in(c, base, NURSE, NURSE_NAME).await?;
    let chart = open_chart_by_search(c, base, "ﾔﾏﾀﾞ", HANAKO).await?;
    wait_text(c, "#timeline-entries", "鈴木 誠").await.context("the demo chart has no entries")?;

    // 2. Vital signs.
    open_tab(c, "tab-vitals", "#v-t").await?;
    for (field, value) in
        [("#v-t", "37.6"), ("#v-p", "92"), ("#v-bs", "118"), ("#v-bd", "70"), ("#v-s", "93"), ("#v-pain", "5")]
    {
        fill(c, field, value).await?;
    }
    submit(c, "#save-vitals").await?;
    let vitals = ["SpO2 93", "37.6", "92", "118/70", "NRS 5", NURSE_NAME];
    expect_entry(c, 0, "vital_signs", &vitals).await?;

    // 3. A nursing record.
    open_tab(c, "tab-nursing", "#nr-text").await?;
    fill(c, "#nr-text", NURSING_TEXT).await?;
    submit(c, "#save-nursing").await?;
    expect_entry(c, 0, "nursing_record", &["仙骨部の発赤が拡大", NURSE_NAME]).await?;

    // 4. A photo, through the document tab.
    open_tab(c, "tab-document", "#d-title").await?;
    let path = photo.to_str().context("the temporary path is not UTF-8")?;
    find(c, "#d-file").await?.send_keys(path).await.context("choosing the photo")?;
    find(c, "#d-type").await?.select_by_value("photo").await?;
    fill(c, "#d-title", "仙骨部の写真").await?;
    submit(c, "#save-document").await?;
    expect_entry(c, 0, "document", &["仙骨部の写真", "sacrum.png", NURSE_NAME]).await?;
    expect_photo(c, 0).await?;

    // All three on the timeline, newest first.
    expect_entry(c, 1, "nursing_record", &["仙骨部の発赤"]).await?;
    expect_entry(c, 2, "vital_signs", &vitals).await?;
    shot(c, "chart-nurse.png", DESKTOP).await?;
    sign_out(c).await?;

    // 5. The home physician, at another organization, sees them with her name and
    //    organization, and replies to her.
    sign_in(c, base, PHYSICIAN, PHYSICIAN_NAME).await?;
    let seen = open_chart_by_search(c, base, "ﾔﾏﾀﾞ", HANAKO).await?;
    ensure!(seen == chart, "the physician opened {seen}, the nurse wrote in {chart}");
    expect_entry(c, 0, "document", &["仙骨部の写真", NURSE_NAME, STATION]).await?;
    expect_photo(c, 0).await?;
    expect_entry(c, 1, "nursing_record", &["仙骨部の発赤が拡大", NURSE_NAME, STATION]).await?;
    expect_entry(c, 2, "vital_signs", &["SpO2 93", NURSE_NAME, STATION]).await?;

    open_tab(c, "tab-message", "#m-text").await?;
    fill(c, "#m-text", REPLY_TEXT).await?;
    let mut options = Vec::new();
    for o in c.find_all(Locator::Css("#m-mention option")).await? {
        let text = o.text().await?;
        if text.contains(NURSE_NAME) {
            o.click().await.with_context(|| format!("choosing {text:?} to mention"))?;
            ensure!(o.is_selected().await?, "{text:?} was clicked but is not selected");
        }
        options.push(text);
    }
    ensure!(options.iter().any(|o| o.contains(NURSE_NAME)), "{NURSE_NAME} cannot be mentioned; options: {options:?}");
    submit(c, "#save-message").await?;
    expect_entry(c, 0, "message", &["褥瘡の初期（d1）", PHYSICIAN_NAME]).await?;
    shot(c, "chart-physician.png", DESKTOP).await?;
    sign_out(c).await?;

    // 6. The nurse's inbox shows the mention; the chart shows the reply.
    sign_in(c, base, NURSE, NURSE_NAME).await?;
    goto(c, base, "/inbox").await?;
    let mentions = wait_until(&format!("a mention on {HANAKO}'s row of the inbox"), || async move {
        for row in c.find_all(Locator::Css("#inbox tbody tr")).await? {
            if !row.text().await?.contains(HANAKO) {
                continue;
            }
            let Ok(count) = row.find(Locator::Css("[data-mentions]")).await else { return Ok(None) };
            let n: u32 = count.attr("data-mentions").await?.unwrap_or_default().parse()?;
            return Ok((n >= 1).then_some(n));
        }
        bail!("{HANAKO} is not in the inbox")
    })
    .await?;
    println!("inbox: {mentions} mention(s) on {HANAKO}'s chart");
    shot(c, "inbox-nurse.png", DESKTOP).await?;

    let link = format!("#inbox a.patient-link[href='{chart}']");
    find(c, &link).await?.click().await?;
    wait_path(c, "the chart from the inbox", |p| p == chart).await?;
    expect_entry(c, 0, "message", &["褥瘡の初期（d1）", PHYSICIAN_NAME, "みどり在宅クリニック"]).await?;

    // 7. The same chart on a phone.
    c.set_window_size(PHONE.0, PHONE.1).await?;
    let width = c.execute("return window.innerWidth", vec![]).await?;
    ensure!(width == json!(PHONE.0), "the window is {width} px wide, not {} (a phone)", PHONE.0);
    let overflow =
        c.execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![]).await?;
    ensure!(overflow == json!(0), "on a phone the chart is {overflow} px wider than the screen");
    shot(c, "chart-phone.png", PHONE).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Referral letters (issue 4)

const CLINIC_DOCTOR: &str = "kobayashi@umibe.example.jp";
const CLINIC_DOCTOR_NAME: &str = "小林 徹";
const CLINIC: &str = "海辺クリニック";
const PURPOSE: &str = "ご自宅での緩和ケアの継続をお願いいたします。";
const REPLY_BODY: &str =
    "ご紹介ありがとうございました。本日初回訪問し、疼痛は自制内です。今後は当院で在宅診療を担当いたします。";

/// Press a button whose form asks for confirmation, and accept the question.
async fn submit_confirmed(c: &Client, button: &str) -> Result<()> {
    press(c, button, true).await
}

async fn letters_story(c: &Client, base: &str) -> Result<()> {
    // 1. The hospital physician writes a referral letter from 山田 花子's chart to a
    //    clinic that is not on her team; the chart's medication list is already in it.
    sign_in(c, base, SATO, "佐藤").await?;
    let chart = open_chart_by_search(c, base, "ﾔﾏﾀﾞ", HANAKO).await?;
    find(c, "#chart-letters-link").await?.click().await?;
    wait_path(c, "the chart's letters", |p| p == format!("{chart}/letters")).await?;
    find(c, "#new-referral").await?.click().await?;
    wait_path(c, "a new referral letter", |p| p.ends_with("/letters/new")).await?;
    let meds = find(c, "#f-medications").await?.prop("value").await?.unwrap_or_default();
    ensure!(!meds.trim().is_empty(), "the chart's medications are not offered to the letter");
    let mut chosen = false;
    for o in c.find_all(Locator::Css("#to_org option")).await? {
        if o.text().await?.contains(CLINIC) {
            o.click().await?;
            chosen = true;
        }
    }
    ensure!(chosen, "{CLINIC} is not among the recipients");
    fill(c, "#to_person", "小林 徹 先生").await?;
    fill(c, "#f-purpose", PURPOSE).await?;
    fill(c, "#f-diagnoses", "膵癌（肝転移）").await?;
    fill(c, "#f-present_illness", "2026年8月に閉塞性黄疸で発症。本人の希望で化学療法は行わず、自宅療養を希望。")
        .await?;
    shot(c, "letter-write.png", DESKTOP).await?;
    submit_confirmed(c, "#letter-send").await?;
    let letter = wait_path(c, "the sent letter", |p| p.starts_with(&format!("{chart}/letters/"))).await?;
    wait_text(c, "#letter-state", "送信済み").await?;
    wait_text(c, "#letter-to", CLINIC).await?;
    shot(c, "letter-sent.png", DESKTOP).await?;
    sign_out(c).await?;

    // 2. The clinic physician gets the alert, reads the letter, acknowledges it and
    //    opens the chart, which is now shared with the clinic.
    sign_in(c, base, CLINIC_DOCTOR, CLINIC_DOCTOR_NAME).await?;
    wait_text(c, "#letters-new", "1").await.context("no alert of the new letter in the header")?;
    goto(c, base, "/inbox").await?;
    wait_text(c, "#inbox-letters", HANAKO).await.context("the new letter is not at the top of the inbox")?;
    shot(c, "inbox-clinic-letter.png", DESKTOP).await?;
    find(c, "#nav-letters").await?.click().await?;
    wait_path(c, "the letter box", |p| p == "/letters").await?;
    wait_text(c, "#letters-incoming", HANAKO).await?;
    shot(c, "letters-box-clinic.png", DESKTOP).await?;
    find(c, &format!("#letters-incoming a.letter-link[href='{letter}']")).await?.click().await?;
    wait_path(c, "the letter", |p| p == letter).await?;
    wait_text(c, "#letter-body", PURPOSE).await?;
    submit(c, "#letter-receive").await?;
    wait_text(c, "#letter-state", "受領済み").await?;
    goto(c, base, &chart).await?;
    wait_text(c, "#patient-name", HANAKO).await?;
    wait_text(c, "#team", CLINIC).await.context("the clinic is not shown on the care team")?;

    // 3. ... and writes the reply letter.
    goto(c, base, &letter).await?;
    submit(c, "#letter-reply").await?;
    wait_text(c, "#letter-title", "返書").await?;
    fill(c, "#f-body", REPLY_BODY).await?;
    submit_confirmed(c, "#letter-send").await?;
    wait_text(c, "#letter-state", "送信済み").await?;
    shot(c, "letter-reply.png", DESKTOP).await?;
    sign_out(c).await?;

    // 4. The hospital sees the reply: the letter is replied, the reply one click away.
    sign_in(c, base, SATO, "佐藤").await?;
    goto(c, base, "/letters").await?;
    wait_text(c, "#letters-outgoing", "返書済み").await?;
    goto(c, base, &letter).await?;
    wait_text(c, "#letter-state", "返書済み").await?;
    find(c, "#letter-replies a").await?.click().await?;
    wait_text(c, "#letter-body", "本日初回訪問し").await?;
    wait_text(c, "#letter-head", CLINIC).await?;
    shot(c, "letter-reply-seen.png", DESKTOP).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_letter_opens_the_chart_and_is_answered_in_a_browser() {
    if let Err(e) = in_browser("failure-letters.png", letters_story).await {
        panic!("browser story failed: {e:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Symptom ratings and the outcome dashboard (issue 6)

const OPERATOR: &str = "operator@ishikai.example.jp";
const OPERATOR_NAME: &str = "斎藤 隆";
const SYMPTOM_RATING: &str = "symptom-rating-patient";

/// 山田 花子's own ratings (0-10) at a visit and a week later, in the instrument's order:
/// pain and nausea ease, drowsiness rises with the opioid. Totals 43, then 28.
const RATINGS: [(&str, i64, i64); 9] = [
    ("pain", 7, 3),
    ("tiredness", 6, 5),
    ("drowsiness", 3, 4),
    ("nausea", 5, 1),
    ("appetite", 6, 4),
    ("shortness_of_breath", 2, 2),
    ("depression", 3, 2),
    ("anxiety", 5, 3),
    ("wellbeing", 6, 4),
];

/// One symptom's plot as the browser drew it.
#[derive(Debug, serde::Deserialize)]
struct Plot {
    key: String,
    caption: String,
    latest: Option<String>,
    /// The y of the x axis, where a rating of 0 lies.
    axis: f64,
    /// The polyline's `points`, if there is one.
    line: Option<String>,
    /// Each dot's centre and title (`date time: value`), left to right in the markup.
    dots: Vec<(f64, f64, String)>,
    width: f64,
}

/// The trend plots on the symptom page, read in one round trip.
async fn plots(c: &Client) -> Result<Vec<Plot>> {
    let script = "return Array.from(document.querySelectorAll('#trends figure.trend')).map(f => { \
                    const svg = f.querySelector('svg'); \
                    const line = svg.querySelector('polyline.series'); \
                    const latest = f.querySelector('figcaption strong'); \
                    return { key: f.dataset.item, caption: f.querySelector('figcaption').textContent, \
                      latest: latest ? latest.textContent : null, \
                      axis: Number(svg.querySelector('line.axis').getAttribute('y1')), \
                      line: line ? line.getAttribute('points') : null, \
                      dots: Array.from(svg.querySelectorAll('circle.dot')).map(d => \
                        [Number(d.getAttribute('cx')), Number(d.getAttribute('cy')), d.querySelector('title').textContent]), \
                      width: svg.getBoundingClientRect().width }; })";
    let v = c.execute(script, vec![]).await?;
    serde_json::from_value(v).context("the trend plots are not as expected")
}

/// Fill the assessment form with one rating per item, made at `at`, and save it.
async fn record_ratings(c: &Client, at: &str, ratings: &[(&str, i64)]) -> Result<()> {
    // A datetime-local input is typed in segments laid out by the browser's locale;
    // set its value as the picker would.
    let set = "const el = document.getElementById('a-at'); el.value = arguments[0]; \
               el.dispatchEvent(new Event('input', { bubbles: true })); return el.value;";
    let value = c.execute(set, vec![json!(at)]).await?;
    ensure!(value == json!(at), "the assessment time reads {value}, not {at}");
    for (key, v) in ratings {
        fill(c, &format!("#a-{key}"), &v.to_string()).await?;
    }
    submit(c, "#assessment-save").await
}

/// Open the dashboard from the menu, at fiscal year `fy` (this year's or the last).
async fn open_dashboard(c: &Client, fy: i32) -> Result<()> {
    find(c, "#nav-dashboard").await?.click().await?;
    wait_path(c, "the dashboard", |p| p == "/dashboard").await?;
    wait_text(c, "main h1", "地域の成果指標").await?;
    wait_text(c, "main h1 + p.muted", "地域全体").await.context("the operator does not see the whole region")?;
    if fy != fiscal_year(SystemClock.today_jst()) {
        find(c, &format!("a[href='/dashboard?fy={fy}']")).await?.click().await?;
        wait_path(c, &format!("the dashboard of FY {fy}"), |p| p == "/dashboard").await?;
        wait_until(&format!("the dashboard of FY {fy}"), || async move {
            Ok(c.current_url().await?.query().is_some_and(|q| q == format!("fy={fy}")).then_some(()))
        })
        .await?;
    }
    Ok(())
}

/// The text of the dashboard's figure `name`.
async fn figure(c: &Client, name: &str) -> Result<String> {
    Ok(find(c, &format!("[data-fig='{name}']")).await?.text().await?)
}

/// The mean totals of [`SYMPTOM_RATING`] at the first assessment and about a week later.
#[derive(Debug, Default)]
struct SymptomChange {
    first: f64,
    week: f64,
    pairs: i64,
}

/// The dashboard's symptom change for [`SYMPTOM_RATING`]; none shown is no pair yet.
async fn symptom_change(c: &Client) -> Result<SymptomChange> {
    let Ok(el) = c.find(Locator::Css(&format!("[data-fig='symptoms-{SYMPTOM_RATING}']"))).await else {
        return Ok(SymptomChange::default());
    };
    let text = el.text().await?;
    // "<title>: 44.0 → 30.5（n=2）": the last three numbers (the title has some too).
    let numbers: Vec<&str> =
        text.split(|ch: char| !(ch.is_ascii_digit() || ch == '.')).filter(|n| !n.is_empty()).collect();
    let [.., first, week, pairs] = numbers.as_slice() else { bail!("the symptom change reads {text:?}") };
    let change = SymptomChange { first: first.parse()?, week: week.parse()?, pairs: pairs.parse()? };
    ensure!(text.contains(&format!("n={}", change.pairs)), "the symptom change reads {text:?}");
    Ok(change)
}

/// One plot of the dashboard as the browser drew it.
#[derive(Debug, serde::Deserialize)]
struct DashboardPlot {
    label: String,
    plot: Option<String>,
    width: f64,
    height: f64,
    bars: Vec<f64>,
    /// The figures written in the plot (`data-fig`), for a plot of counts.
    counts: Vec<f64>,
}

async fn dashboard_plots(c: &Client) -> Result<Vec<DashboardPlot>> {
    let script = "return Array.from(document.querySelectorAll('#main svg')).map(svg => { \
                    const box = svg.getBoundingClientRect(); \
                    return { label: svg.getAttribute('aria-label') || '', plot: svg.dataset.plot || null, \
                      width: box.width, height: box.height, \
                      bars: Array.from(svg.querySelectorAll('rect.bar')).map(r => Number(r.getAttribute('width'))), \
                      counts: Array.from(svg.querySelectorAll('[data-fig]')).map(t => Number(t.textContent)) }; })";
    let v = c.execute(script, vec![]).await?;
    serde_json::from_value(v).context("the dashboard's plots are not as expected")
}

async fn symptoms_story(c: &Client, base: &str) -> Result<()> {
    // A visit eight days ago and one seven days later: both in the past in Japan, and
    // a week apart, as the dashboard's "about a week later" counts them.
    let today = SystemClock.today_jst();
    let (first_day, week_day) = (today - time::Duration::days(8), today - time::Duration::days(1));
    let (first_at, week_at) = (format!("{first_day}T10:00"), format!("{week_day}T10:00"));

    // 0. The network operator looks at the region's dashboard for the fiscal year of the
    //    first visit: the symptom change at about a week, if any patient has one yet.
    let fy = fiscal_year(first_day);
    sign_in(c, base, OPERATOR, OPERATOR_NAME).await?;
    open_dashboard(c, fy).await?;
    let before = symptom_change(c).await?;
    sign_out(c).await?;

    // 1. The visiting nurse opens 山田 花子's symptom page from her chart and chooses
    //    the patient's own rating; nothing is rated yet.
    sign_in(c, base, NURSE, NURSE_NAME).await?;
    let chart = open_chart_by_search(c, base, "ﾔﾏﾀﾞ", HANAKO).await?;
    find(c, "#chart-symptoms-link").await?.click().await?;
    let page = format!("{chart}/symptoms");
    wait_path(c, "the symptom page", |p| p == page).await?;
    find(c, "#s-ins").await?.select_by_value(SYMPTOM_RATING).await?;
    submit(c, "#instrument-choice button[type=submit]").await?;
    wait_text(c, "#trends h2", "症状のつらさ（本人の評価、0〜10）").await?;
    let chosen = find(c, "#assessment-form input[name=instrument]").await?.prop("value").await?;
    ensure!(chosen.as_deref() == Some(SYMPTOM_RATING), "the form records {chosen:?}");
    wait_text(c, "#trends", "まだ評価はありません").await.context("the demo chart already has ratings")?;

    // 2. Her ratings on the two days; the second saved lands back on the trend.
    let first: Vec<_> = RATINGS.iter().map(|(k, a, _)| (*k, *a)).collect();
    let week: Vec<_> = RATINGS.iter().map(|(k, _, b)| (*k, *b)).collect();
    record_ratings(c, &first_at, &first).await?;
    record_ratings(c, &week_at, &week).await?;
    wait_path(c, "the symptom page after saving", |p| p == page).await?;

    // 3. One plot per symptom, in the instrument's order, each with the two days' dots
    //    joined by a line and drawn on one 0-10 scale; the caption shows the latest.
    let plots = wait_until("a plot per symptom with two dots", || async move {
        let p = plots(c).await?;
        Ok((p.len() == RATINGS.len() && p.iter().all(|t| t.dots.len() == 2)).then_some(p))
    })
    .await?;
    let keys: Vec<&str> = plots.iter().map(|p| p.key.as_str()).collect();
    let expected: Vec<&str> = RATINGS.iter().map(|(k, _, _)| *k).collect();
    ensure!(keys == expected, "the plots are {keys:?}, not {expected:?}");
    let mut per_point = Vec::new();
    for (p, (key, a, b)) in plots.iter().zip(RATINGS) {
        ensure!(p.width > 0.0, "the {key} plot is not drawn");
        let [(x1, y1, t1), (x2, y2, t2)] = p.dots.as_slice() else { bail!("{key}: dots {:?}", p.dots) };
        let want = [format!("{first_day} 10:00: {a}"), format!("{week_day} 10:00: {b}")];
        ensure!([t1, t2] == want.each_ref(), "{key}: the dots say {t1:?} and {t2:?}, not {want:?}");
        ensure!(x1 < x2, "{key}: the later day is not to the right ({x1} vs {x2})");
        let line: Vec<f64> =
            p.line.as_deref().unwrap_or_default().split([',', ' ']).filter_map(|n| n.parse().ok()).collect();
        ensure!(line == [*x1, *y1, *x2, *y2], "{key}: the line {:?} does not join the dots", p.line);
        ensure!(
            p.latest.as_deref() == Some(b.to_string().as_str()),
            "{key}: the caption shows {:?}, not {b}",
            p.latest
        );
        // Higher is worse and drawn higher: the height above the axis per point.
        for (y, v) in [(y1, a), (y2, b)] {
            ensure!(v > 0 && y < &p.axis, "{key}: {v} is drawn at {y}, not above the axis at {}", p.axis);
            per_point.push((p.axis - y) / v as f64);
        }
    }
    let (lo, hi) = per_point.iter().fold((f64::MAX, f64::MIN), |(lo, hi), k| (lo.min(*k), hi.max(*k)));
    ensure!(hi - lo < 0.1, "the plots are not on one scale: {lo:.2} to {hi:.2} per point");
    let pain = plots.first().context("no pain plot")?;
    ensure!(pain.caption.contains("痛み"), "the first plot is captioned {:?}", pain.caption);

    // The history, newest first, with the totals and who recorded them.
    let history: Vec<String> = {
        let mut v = Vec::new();
        for li in c.find_all(Locator::Css("#assessments > ul > li")).await? {
            v.push(li.text().await?);
        }
        v
    };
    let [newest, oldest] = history.as_slice() else { bail!("the history lists {history:?}") };
    for (row, day, total) in [(newest, week_day, 28), (oldest, first_day, 43)] {
        for needle in [format!("{day} 10:00"), format!("合計 {total}"), NURSE_NAME.into(), STATION.into()] {
            ensure!(row.contains(&needle), "the history row {row:?} does not say {needle:?}");
        }
    }
    shot(c, "symptom-trend.png", DESKTOP).await?;
    sign_out(c).await?;

    // 4. The operator sees the region's dashboard again: the figures, every plot drawn
    //    and matching its figures, and the nurse's two assessments counted as one more
    //    patient's change at about a week.
    sign_in(c, base, OPERATOR, OPERATOR_NAME).await?;
    open_dashboard(c, fy).await?;
    let registered: i64 = figure(c, "registered").await?.trim().parse().context("registered patients")?;
    // The demo region is seeded today: this year has its patients.
    ensure!(registered > 0 || fy != fiscal_year(today), "the dashboard counts no patient registered this year");
    for name in ["shared", "conferences", "discharges", "where-wished", "compared"] {
        let text = figure(c, name).await?;
        ensure!(text.trim().parse::<i64>().is_ok(), "the figure {name} reads {text:?}");
    }
    let after = symptom_change(c).await?;
    ensure!(after.pairs == before.pairs + 1, "pairs at about a week: {} before, {} after", before.pairs, after.pairs);
    // The means are shown to one decimal: compare the totals they stand for.
    let slack = 0.05 * (before.pairs + after.pairs) as f64 + 1e-9;
    for (what, was, is, added) in [("first", before.first, after.first, 43.0), ("week", before.week, after.week, 28.0)]
    {
        let (was_total, is_total) = (was * before.pairs as f64, is * after.pairs as f64);
        ensure!(
            (is_total - was_total - added).abs() <= slack,
            "the {what} mean went from {was} to {is} over {} pairs: not {added} more",
            after.pairs
        );
    }

    let drawn = dashboard_plots(c).await?;
    let names: Vec<&str> = drawn.iter().map(|p| p.label.as_str()).collect();
    println!("dashboard plots: {names:?}");
    ensure!(drawn.len() >= 2, "the dashboard has the plots {names:?}");
    for p in &drawn {
        ensure!(p.width > 0.0 && p.height > 0.0, "the plot {:?} is not drawn ({} x {})", p.label, p.width, p.height);
        // A plot of counts: a bar per count, as long as its count allows.
        if p.counts.is_empty() {
            continue;
        }
        ensure!(p.bars.len() == p.counts.len(), "the plot {:?}: bars {:?} for counts {:?}", p.label, p.bars, p.counts);
        let most = p.counts.iter().copied().fold(0.0, f64::max);
        let longest = p.bars.iter().copied().fold(0.0, f64::max);
        ensure!(most == 0.0 || longest > 0.0, "the plot {:?} draws no bar for {:?}", p.label, p.counts);
        for (w, n) in p.bars.iter().zip(&p.counts) {
            let want = if most > 0.0 { longest * n / most } else { 0.0 };
            ensure!(
                (w - want).abs() < 0.2,
                "the plot {:?}: a bar of {w} for {n} (longest {longest} for {most})",
                p.label
            );
        }
    }
    let symptoms = drawn
        .iter()
        .find(|p| p.plot.as_deref() == Some(&*format!("symptoms-{SYMPTOM_RATING}")))
        .with_context(|| format!("no plot of {SYMPTOM_RATING} among {names:?}"))?;
    let [first_bar, week_bar] = symptoms.bars.as_slice() else {
        bail!("the symptom plot has bars {:?}", symptoms.bars)
    };
    ensure!(
        *first_bar > 0.0 && (week_bar / first_bar - after.week / after.first).abs() < 0.02,
        "the symptom bars {first_bar} and {week_bar} do not show {} and {}",
        after.first,
        after.week
    );
    shot(c, "dashboard.png", DESKTOP).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nurse_records_symptoms_on_two_days_and_the_operator_sees_the_dashboard_in_a_browser() {
    if let Err(e) = in_browser("failure-symptoms.png", symptoms_story).await {
        panic!("browser story failed: {e:?}");
    }
}
