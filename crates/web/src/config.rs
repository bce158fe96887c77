//! Settings of the HTTP layer; the CLI fills them from defaults, `tsunagu.toml` and the
//! environment.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// True behind TLS: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub session_absolute: Duration,
    /// Largest request body accepted (forms and JSON).
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Requests served at once; one more is answered at once with 503 and
    /// `Retry-After` instead of queueing until it times out (overload stays visible and
    /// short, and the requests already admitted keep their speed).
    pub max_in_flight: usize,
    /// Failed sign-ins per account in the window before the account is throttled.
    pub max_failures_per_account: i64,
    /// Failed sign-ins per client address in the window.
    pub max_failures_per_ip: i64,
    pub failure_window: Duration,
    /// argon2id cost: memory in KiB, iterations, parallelism.
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
    /// Take the client address from the first `X-Forwarded-For` hop (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Shown in the page header when the server runs the demo region.
    pub demo_banner: bool,
    /// Every account must have a second factor before it reaches anything. Only the
    /// demo relaxes this (people who set one up are still asked for it).
    pub second_factor_required: bool,
    /// Sensitive actions ask for the password (and code) again after this long.
    pub reauth_window: Duration,
    /// The name authenticator apps show for the account.
    pub totp_issuer: String,
    /// The passkey relying party id: the host name people reach the server by
    /// (`tsunagu.example.jp`); passkeys are bound to it. `localhost` accepts any port.
    pub passkey_rp_id: String,
    /// The origin the browser reports (`https://tsunagu.example.jp`).
    pub passkey_origin: String,
    /// A diary rating at or above this alerts the team.
    pub diary_alert_threshold: i64,
    /// E-mail notifications; off (None) unless SMTP is configured.
    pub mail: Option<MailConfig>,
}

/// How the server's SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP: only for a relay on the same host or a test server.
    None,
    /// STARTTLS on the submission port (587), required.
    StartTls,
    /// TLS from the first byte (465).
    Tls,
}

/// SMTP settings for notifications. Mail holds a category and a link, never clinical
/// content, so `public_url` must be the address people reach tsunagu by.
#[derive(Clone)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The From address (`tsunagu <noreply@example.jp>`).
    pub from: String,
    /// Links in mail start with this (`https://tsunagu.example.jp`).
    pub public_url: String,
    /// The hour (Japan time, 0-23) the daily digest goes out.
    pub digest_hour: u8,
    /// How often the sender looks for mail to send (besides being woken at once).
    pub poll: Duration,
}

impl std::fmt::Debug for MailConfig {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 256,
            max_failures_per_account: 5,
            max_failures_per_ip: 50,
            failure_window: Duration::from_secs(15 * 60),
            argon2_m_kib: 19 * 1024,
            argon2_t: 2,
            argon2_p: 1,
            trust_forwarded_for: false,
            demo_banner: false,
            second_factor_required: true,
            reauth_window: Duration::from_secs(10 * 60),
            totp_issuer: "tsunagu".into(),
            passkey_rp_id: "localhost".into(),
            passkey_origin: "http://localhost:8080".into(),
            diary_alert_threshold: tsunagu_domain::family::DEFAULT_ALERT_THRESHOLD,
            mail: None,
        }
    }
}
