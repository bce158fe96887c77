//! Layered configuration: defaults, then `tsunagu.toml`, then `TSUNAGU_*` environment
//! variables (`*_FILE` for secrets), then command-line flags. Unknown keys in the file
//! are errors; unknown `TSUNAGU_` variables are warned about.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tsunagu_web::WebConfig;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub secure_cookies: Option<bool>,
    pub trust_forwarded_for: Option<bool>,
    pub session_idle_minutes: Option<u64>,
    pub session_absolute_hours: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub request_timeout_seconds: Option<u64>,
    pub max_in_flight: Option<usize>,
    pub log_format: Option<String>,
    pub argon2_m_kib: Option<u32>,
    pub argon2_t: Option<u32>,
    /// Passkeys: the host name people reach the server by, and the browser's origin
    /// (default `localhost` and `http://localhost:<listen port>`).
    pub passkey_rp_id: Option<String>,
    pub passkey_origin: Option<String>,
    /// A diary rating at or above this alerts the team (default 7).
    pub diary_alert_threshold: Option<i64>,
    /// Notification mail; off unless smtp_host is set.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    /// "starttls" (default), "tls", or "none" (a relay on the same host only).
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub mail_from: Option<String>,
    /// The address people reach tsunagu by (`https://tsunagu.example.jp`); links in mail
    /// start with it.
    pub public_url: Option<String>,
    /// The hour (Japan time) the daily digest goes out (default 8).
    pub mail_digest_hour: Option<u8>,
    /// Where attachments go: "local" (the data directory, default) or "s3".
    pub storage: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key_file: Option<PathBuf>,
    pub s3_path_style: Option<bool>,
    pub s3_allow_http: Option<bool>,
    pub s3_prefix: Option<String>,
}

/// The settings every subcommand works from.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Explicit database URL; None means SQLite under the data directory.
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub log_format: String,
    pub web: WebConfig,
    /// Attachment storage; `None` is `objects/` in the data directory.
    pub s3: Option<tsunagu_blobs::S3Config>,
}

impl std::fmt::Debug for Config {
    // The database URL may hold a password: never print it whole.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(tsunagu_store::redact_url))
            .field("listen", &self.listen)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// SMTP for notification mail, when `smtp_host` is set.
fn mail_config(env: &dyn Fn(&str) -> Option<String>, file: &FileConfig) -> Result<Option<tsunagu_web::MailConfig>> {
    let Some(host) = env("TSUNAGU_SMTP_HOST").or(file.smtp_host.clone()) else { return Ok(None) };
    let security = match env("TSUNAGU_SMTP_SECURITY").or(file.smtp_security.clone()).as_deref() {
        None | Some("starttls") => tsunagu_web::SmtpSecurity::StartTls,
        Some("tls") => tsunagu_web::SmtpSecurity::Tls,
        Some("none") => tsunagu_web::SmtpSecurity::None,
        Some(other) => bail!("smtp_security must be starttls, tls or none, not {other:?}"),
    };
    let default_port = match security {
        tsunagu_web::SmtpSecurity::StartTls => 587,
        tsunagu_web::SmtpSecurity::Tls => 465,
        tsunagu_web::SmtpSecurity::None => 25,
    };
    let port = match env("TSUNAGU_SMTP_PORT") {
        Some(p) => p.parse().context("TSUNAGU_SMTP_PORT")?,
        None => file.smtp_port.unwrap_or(default_port),
    };
    let password = match env("TSUNAGU_SMTP_PASSWORD_FILE").map(PathBuf::from).or(file.smtp_password_file.clone()) {
        Some(p) => Some(read_secret_file(&p)?),
        None => env("TSUNAGU_SMTP_PASSWORD"),
    };
    let from = env("TSUNAGU_MAIL_FROM").or(file.mail_from.clone()).unwrap_or_default();
    let public_url = env("TSUNAGU_PUBLIC_URL").or(file.public_url.clone()).unwrap_or_default();
    if from.is_empty() || public_url.is_empty() {
        bail!("smtp_host needs mail_from and public_url (the address people reach tsunagu by)");
    }
    let digest_hour = match env("TSUNAGU_MAIL_DIGEST_HOUR") {
        Some(h) => h.parse().context("TSUNAGU_MAIL_DIGEST_HOUR")?,
        None => file.mail_digest_hour.unwrap_or(8),
    };
    if digest_hour > 23 {
        bail!("mail_digest_hour must be 0 to 23");
    }
    Ok(Some(tsunagu_web::MailConfig {
        host,
        port,
        security,
        username: env("TSUNAGU_SMTP_USERNAME").or(file.smtp_username.clone()),
        password,
        from,
        public_url: public_url.trim_end_matches('/').to_string(),
        digest_hour,
        poll: Duration::from_secs(30),
    }))
}

/// Flags that every subcommand accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Data directory (SQLite database, attachments, config). Default ./tsunagu-data
    #[arg(long = "data", global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (overrides the data directory's SQLite)
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Configuration file (default: DIR/tsunagu.toml or ./tsunagu.toml when present)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

const KNOWN_ENV: &[&str] = &[
    "TSUNAGU_DATA",
    "TSUNAGU_CONFIG",
    "TSUNAGU_DATABASE_URL",
    "TSUNAGU_DATABASE_URL_FILE",
    "TSUNAGU_LISTEN",
    "TSUNAGU_SECURE_COOKIES",
    "TSUNAGU_TRUST_FORWARDED_FOR",
    "TSUNAGU_SESSION_IDLE_MINUTES",
    "TSUNAGU_SESSION_ABSOLUTE_HOURS",
    "TSUNAGU_MAX_BODY_BYTES",
    "TSUNAGU_REQUEST_TIMEOUT_SECONDS",
    "TSUNAGU_MAX_IN_FLIGHT",
    "TSUNAGU_LOG_FORMAT",
    "TSUNAGU_ARGON2_M_KIB",
    "TSUNAGU_ARGON2_T",
    "TSUNAGU_PASSKEY_RP_ID",
    "TSUNAGU_PASSKEY_ORIGIN",
    "TSUNAGU_STORAGE",
    "TSUNAGU_S3_ENDPOINT",
    "TSUNAGU_S3_BUCKET",
    "TSUNAGU_S3_REGION",
    "TSUNAGU_S3_ACCESS_KEY_ID",
    "TSUNAGU_S3_SECRET_ACCESS_KEY",
    "TSUNAGU_S3_SECRET_ACCESS_KEY_FILE",
    "TSUNAGU_S3_PATH_STYLE",
    "TSUNAGU_S3_ALLOW_HTTP",
    "TSUNAGU_S3_PREFIX",
    "TSUNAGU_DIARY_ALERT_THRESHOLD",
    "TSUNAGU_SMTP_HOST",
    "TSUNAGU_SMTP_PORT",
    "TSUNAGU_SMTP_SECURITY",
    "TSUNAGU_SMTP_USERNAME",
    "TSUNAGU_SMTP_PASSWORD",
    "TSUNAGU_SMTP_PASSWORD_FILE",
    "TSUNAGU_MAIL_FROM",
    "TSUNAGU_PUBLIC_URL",
    "TSUNAGU_MAIL_DIGEST_HOUR",
    "TSUNAGU_TEST_S3_ENDPOINT",
    "TSUNAGU_TEST_S3",
    // Read by the test suite, not by the server.
    "TSUNAGU_TEST_BACKEND",
    "TSUNAGU_TEST_POSTGRES_URL",
    "TSUNAGU_PG_FORCE_THROWAWAY",
    "TSUNAGU_PG_PORT",
];

fn parse_env<T: std::str::FromStr>(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Result<Option<T>> {
    match env(key) {
        Some(v) => v.trim().parse().map(Some).map_err(|_| anyhow::anyhow!("{key}: cannot parse {v:?}")),
        None => Ok(None),
    }
}

fn read_secret_file(path: &Path) -> Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(s.trim().to_string())
}

impl Config {
    /// Load from the process environment.
    pub fn load(args: &GlobalArgs) -> Result<Self> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        for (k, _) in &vars {
            if k.starts_with("TSUNAGU_") && !KNOWN_ENV.contains(&k.as_str()) {
                tracing::warn!(variable = %k, "unknown TSUNAGU_ environment variable ignored");
            }
        }
        Self::load_with(args, &|k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    /// Load with an injected environment (tests).
    pub fn load_with(args: &GlobalArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let data_dir = args
            .data
            .clone()
            .or_else(|| env("TSUNAGU_DATA").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("tsunagu-data"));
        let file_path = args.config.clone().or_else(|| env("TSUNAGU_CONFIG").map(PathBuf::from));
        let file: FileConfig = match file_path {
            Some(p) => parse_file(&p)?,
            None => {
                let candidates = [data_dir.join("tsunagu.toml"), PathBuf::from("tsunagu.toml")];
                match candidates.iter().find(|p| p.is_file()) {
                    Some(p) => parse_file(p)?,
                    None => FileConfig::default(),
                }
            }
        };
        let data_dir = args
            .data
            .clone()
            .or_else(|| env("TSUNAGU_DATA").map(PathBuf::from))
            .or(file.data_dir.clone())
            .unwrap_or(data_dir);

        let mut database_url = file.database_url.clone();
        if let Some(p) = &file.database_url_file {
            database_url = Some(read_secret_file(p)?);
        }
        if let Some(u) = env("TSUNAGU_DATABASE_URL") {
            database_url = Some(u);
        }
        if let Some(p) = env("TSUNAGU_DATABASE_URL_FILE") {
            database_url = Some(read_secret_file(Path::new(&p))?);
        }
        if let Some(u) = &args.database_url {
            database_url = Some(u.clone());
        }

        let mut web = WebConfig::default();
        let listen = parse_env::<SocketAddr>(env, "TSUNAGU_LISTEN")?
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        if let Some(v) = parse_env::<bool>(env, "TSUNAGU_SECURE_COOKIES")?.or(file.secure_cookies) {
            web.secure_cookies = v;
        }
        if let Some(v) = parse_env::<bool>(env, "TSUNAGU_TRUST_FORWARDED_FOR")?.or(file.trust_forwarded_for) {
            web.trust_forwarded_for = v;
        }
        if let Some(v) = parse_env::<u64>(env, "TSUNAGU_SESSION_IDLE_MINUTES")?.or(file.session_idle_minutes) {
            web.session_idle = Duration::from_secs(v * 60);
        }
        if let Some(v) = parse_env::<u64>(env, "TSUNAGU_SESSION_ABSOLUTE_HOURS")?.or(file.session_absolute_hours) {
            web.session_absolute = Duration::from_secs(v * 3600);
        }
        if let Some(v) = parse_env::<usize>(env, "TSUNAGU_MAX_BODY_BYTES")?.or(file.max_body_bytes) {
            web.max_body_bytes = v;
        }
        if let Some(v) = parse_env::<usize>(env, "TSUNAGU_MAX_IN_FLIGHT")?.or(file.max_in_flight) {
            web.max_in_flight = v.max(1);
        }
        if let Some(v) = parse_env::<u64>(env, "TSUNAGU_REQUEST_TIMEOUT_SECONDS")?.or(file.request_timeout_seconds) {
            web.request_timeout = Duration::from_secs(v);
        }
        if let Some(v) = parse_env::<u32>(env, "TSUNAGU_ARGON2_M_KIB")?.or(file.argon2_m_kib) {
            web.argon2_m_kib = v;
        }
        if let Some(v) = parse_env::<u32>(env, "TSUNAGU_ARGON2_T")?.or(file.argon2_t) {
            web.argon2_t = v;
        }
        web.passkey_rp_id =
            env("TSUNAGU_PASSKEY_RP_ID").or(file.passkey_rp_id.clone()).unwrap_or_else(|| "localhost".into());
        web.passkey_origin = env("TSUNAGU_PASSKEY_ORIGIN")
            .or(file.passkey_origin.clone())
            .unwrap_or_else(|| format!("http://localhost:{}", listen.port()));
        if web.passkey_rp_id != "localhost" && web.passkey_origin.starts_with("http://localhost") {
            bail!("passkey_rp_id {:?} needs passkey_origin (the https:// address people use)", web.passkey_rp_id);
        }
        if let Some(v) = parse_env::<i64>(env, "TSUNAGU_DIARY_ALERT_THRESHOLD")?.or(file.diary_alert_threshold) {
            if !(1..=10).contains(&v) {
                bail!("diary_alert_threshold must be 1 to 10");
            }
            web.diary_alert_threshold = v;
        }
        web.mail = mail_config(env, &file)?;
        let log_format = env("TSUNAGU_LOG_FORMAT").or(file.log_format).unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            bail!("log_format must be \"text\" or \"json\"");
        }
        let storage = env("TSUNAGU_STORAGE").or(file.storage.clone()).unwrap_or_else(|| "local".into());
        let s3 = match storage.as_str() {
            "local" => None,
            "s3" => {
                let secret = match env("TSUNAGU_S3_SECRET_ACCESS_KEY_FILE")
                    .map(PathBuf::from)
                    .or(file.s3_secret_access_key_file.clone())
                {
                    Some(p) => read_secret_file(&p)?,
                    None => env("TSUNAGU_S3_SECRET_ACCESS_KEY").unwrap_or_default(),
                };
                let bucket = env("TSUNAGU_S3_BUCKET").or(file.s3_bucket.clone()).unwrap_or_default();
                if bucket.is_empty() {
                    bail!("storage = \"s3\" needs s3_bucket (TSUNAGU_S3_BUCKET)");
                }
                Some(tsunagu_blobs::S3Config {
                    endpoint: env("TSUNAGU_S3_ENDPOINT").or(file.s3_endpoint.clone()).unwrap_or_default(),
                    bucket,
                    region: env("TSUNAGU_S3_REGION").or(file.s3_region.clone()).unwrap_or_default(),
                    access_key_id: env("TSUNAGU_S3_ACCESS_KEY_ID")
                        .or(file.s3_access_key_id.clone())
                        .unwrap_or_default(),
                    secret_access_key: secret,
                    path_style: parse_env::<bool>(env, "TSUNAGU_S3_PATH_STYLE")?.or(file.s3_path_style).unwrap_or(true),
                    allow_http: parse_env::<bool>(env, "TSUNAGU_S3_ALLOW_HTTP")?
                        .or(file.s3_allow_http)
                        .unwrap_or(false),
                    prefix: env("TSUNAGU_S3_PREFIX").or(file.s3_prefix.clone()).unwrap_or_default(),
                })
            }
            other => bail!("storage must be \"local\" or \"s3\", not {other:?}"),
        };
        Ok(Self { data_dir, database_url, listen, log_format, web, s3 })
    }

    /// Where attachments are kept: `objects/` in the data directory, or S3.
    pub fn blob_config(&self) -> tsunagu_blobs::BlobConfig {
        match &self.s3 {
            Some(c) => tsunagu_blobs::BlobConfig::S3(c.clone()),
            None => tsunagu_blobs::BlobConfig::Local { root: self.data_dir.join("objects") },
        }
    }

    /// The database URL in force: explicit, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tsunagu.db").display()))
    }
}

fn parse_file(p: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    toml::from_str(&text).with_context(|| format!("in {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_then_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tsunagu.toml"),
            "listen = \"127.0.0.1:9000\"\nsession_idle_minutes = 10\nsecure_cookies = true\n",
        )
        .unwrap();
        let args = GlobalArgs { data: Some(dir.path().to_path_buf()), ..Default::default() };
        let c = Config::load_with(&args, &env_of(&[])).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.web.session_idle, Duration::from_secs(600));
        assert!(c.web.secure_cookies);
        assert!(c.database_url().starts_with("sqlite://"));

        let c = Config::load_with(
            &args,
            &env_of(&[("TSUNAGU_LISTEN", "127.0.0.1:9100"), ("TSUNAGU_DATABASE_URL", "postgres://u:pw@h/db")]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.database_url(), "postgres://u:pw@h/db");
        assert!(!format!("{c:?}").contains("pw"), "secrets are redacted in Debug");

        let args = GlobalArgs { database_url: Some("sqlite:///tmp/x.db".into()), ..args };
        let c = Config::load_with(&args, &env_of(&[("TSUNAGU_DATABASE_URL", "postgres://h/db")])).unwrap();
        assert_eq!(c.database_url(), "sqlite:///tmp/x.db");
    }

    #[test]
    fn secrets_from_files_and_bad_values_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://u:s3cret@h/db\n").unwrap();
        let args = GlobalArgs { data: Some(dir.path().to_path_buf()), ..Default::default() };
        let c = Config::load_with(&args, &env_of(&[("TSUNAGU_DATABASE_URL_FILE", secret.to_str().unwrap())])).unwrap();
        assert_eq!(c.database_url(), "postgres://u:s3cret@h/db");
        assert!(Config::load_with(&args, &env_of(&[("TSUNAGU_SESSION_IDLE_MINUTES", "soon")])).is_err());
        std::fs::write(dir.path().join("tsunagu.toml"), "lissten = \"x\"\n").unwrap();
        assert!(Config::load_with(&args, &env_of(&[])).is_err(), "a typo in the file is an error");
    }

    #[test]
    fn mail_is_off_until_smtp_is_set_and_then_needs_a_sender_and_a_public_address() {
        let dir = tempfile::tempdir().unwrap();
        let args = GlobalArgs { data: Some(dir.path().to_path_buf()), ..Default::default() };
        let c = Config::load_with(&args, &env_of(&[])).unwrap();
        assert!(c.web.mail.is_none());
        assert_eq!(c.web.diary_alert_threshold, 7);
        assert!(Config::load_with(&args, &env_of(&[("TSUNAGU_SMTP_HOST", "smtp.example.jp")])).is_err());
        let pw = dir.path().join("smtp-pw");
        std::fs::write(&pw, "kagi\n").unwrap();
        std::fs::write(
            dir.path().join("tsunagu.toml"),
            format!(
                "smtp_host = \"smtp.example.jp\"\nmail_from = \"noreply@example.jp\"\n\
                 public_url = \"https://tsunagu.example.jp/\"\nsmtp_password_file = \"{}\"\n\
                 smtp_username = \"tsunagu\"\ndiary_alert_threshold = 8\n",
                pw.display()
            ),
        )
        .unwrap();
        let c = Config::load_with(&args, &env_of(&[])).unwrap();
        let m = c.web.mail.clone().unwrap();
        assert_eq!((m.port, m.security), (587, tsunagu_web::SmtpSecurity::StartTls));
        assert_eq!(m.public_url, "https://tsunagu.example.jp");
        assert_eq!(m.password.as_deref(), Some("kagi"));
        assert_eq!(c.web.diary_alert_threshold, 8);
        assert!(!format!("{m:?}").contains("kagi"), "the SMTP password is never printed");
        let tls = Config::load_with(&args, &env_of(&[("TSUNAGU_SMTP_SECURITY", "tls")])).unwrap();
        assert_eq!(tls.web.mail.unwrap().port, 465);
        assert!(Config::load_with(&args, &env_of(&[("TSUNAGU_SMTP_SECURITY", "ssl3")])).is_err());
        assert!(Config::load_with(&args, &env_of(&[("TSUNAGU_DIARY_ALERT_THRESHOLD", "11")])).is_err());
    }
}
