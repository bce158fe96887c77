//! Notification mail (issue #10). Events put rows in the outbox (a category and a link
//! for each person who chose that category); this sender drains it over SMTP: mail
//! chosen "immediately" as soon as it is queued (the queue wakes the sender), daily
//! digests once a day at the configured hour. A mail never holds clinical content:
//! the category, a link into tsunagu, and the reason the person gets it.

use crate::config::{MailConfig, SmtpSecurity};
use crate::i18n::Tr;
use crate::state::AppState;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::BTreeMap;
use std::time::Duration;
use tsunagu_domain::family::NotificationCategory;
use tsunagu_store::{OutboxRow, Recipients};

/// Queue a notification for everyone in `to` who chose `category`, except the person
/// who caused it, and wake the sender. A failure to queue is logged, never shown to
/// the person whose action caused it (their write already committed).
pub async fn notify(
    state: &AppState,
    to: Recipients,
    category: NotificationCategory,
    link: &str,
    except: Option<tsunagu_domain::UserId>,
) {
    match state.store.enqueue_notification(&to, category, link, except).await {
        Ok(n) if n > 0 => state.mail_wake.notify_one(),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, category = category.as_str(), "could not queue a notification"),
    }
}

/// Tell the people and organizations named in a thread message.
pub async fn notify_mentions(
    state: &AppState,
    patient: tsunagu_domain::PatientId,
    mentions: &[tsunagu_store::Mention],
    author: tsunagu_domain::UserId,
) {
    let link = format!("/patients/{patient}");
    for m in mentions {
        let to = match m {
            tsunagu_store::Mention::User(u) => Recipients::User(*u),
            tsunagu_store::Mention::Org(o) => Recipients::Orgs(vec![*o]),
        };
        notify(state, to, NotificationCategory::Mention, &link, Some(author)).await;
    }
}

fn transport(c: &MailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match c.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host).map_err(|e| e.to_string())?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host).map_err(|e| e.to_string())?,
    };
    let mut builder = builder.port(c.port).timeout(Some(Duration::from_secs(20)));
    if let (Some(u), Some(p)) = (&c.username, &c.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok(builder.build())
}

/// The mail for one person: one item (immediate) or several (digest). Japanese first,
/// English below, since we do not know the reader's language outside a session.
fn compose(c: &MailConfig, to: &OutboxRow, items: &[&OutboxRow]) -> Result<Message, String> {
    let ja = Tr::new(crate::i18n::Locale::Ja);
    let en = Tr::new(crate::i18n::Locale::En);
    let subject = match items {
        [one] => format!("[tsunagu] {}", ja.label("notify", one.category.as_str())),
        many => format!("[tsunagu] {}", ja.t1("notify-digest-subject", "count", &many.len().to_string())),
    };
    let mut body = String::new();
    for tr in [&ja, &en] {
        body.push_str(&tr.t1("notify-greeting", "name", &to.display_name));
        body.push_str("\n\n");
        for it in items {
            body.push_str(&format!("・{}\n  {}{}\n", tr.label("notify", it.category.as_str()), c.public_url, it.link));
        }
        body.push('\n');
        body.push_str(&tr.t("notify-footer"));
        body.push_str("\n\n----\n\n");
    }
    let from: Mailbox = c.from.parse().map_err(|e| format!("mail_from: {e}"))?;
    let to_box: Mailbox = to.email.parse().map_err(|e| format!("recipient: {e}"))?;
    // Base64 always: the text is Japanese, and one encoding keeps it plain to decode.
    let part = SinglePart::builder().header(ContentType::TEXT_PLAIN).header(ContentTransferEncoding::Base64).body(body);
    Message::builder().from(from).to(to_box).subject(subject).singlepart(part).map_err(|e| e.to_string())
}

/// The start of the last digest hour that has passed (Japan time), as UTC.
fn last_digest_time(now: time::OffsetDateTime, hour: u8) -> time::OffsetDateTime {
    let jst = now.to_offset(time::macros::offset!(+9));
    let today = jst.date().with_hms(hour.min(23), 0, 0).map(|t| t.assume_offset(time::macros::offset!(+9)));
    match today {
        Ok(t) if t <= now => t,
        Ok(t) => t - time::Duration::days(1),
        Err(_) => now,
    }
}

/// Send what is due now; returns how many mails went out. Each person's digest items
/// go as one mail; a failure is recorded on its rows and retried later (five tries).
pub async fn deliver_due(state: &AppState) -> Result<usize, String> {
    let Some(c) = &state.config.mail else { return Ok(0) };
    let now = state.store.now();
    // Overdue tasks are told once a day: at the first pass after the digest time.
    let digest_at = last_digest_time(now, c.digest_hour);
    let today = state.store.clock().today_jst();
    match state.store.system_users_with_overdue_tasks(today, digest_at).await {
        Ok(users) => {
            for u in users {
                let to = Recipients::User(u);
                notify(state, to, NotificationCategory::OverdueTask, "/inbox", None).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "overdue-task notices: query failed"),
    }
    let due = state.store.due_mail(Some(digest_at), 500).await.map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok(0);
    }
    let mailer = transport(c)?;
    // Immediate rows go each alone; a person's digest rows go together.
    let mut digests: BTreeMap<String, Vec<&OutboxRow>> = BTreeMap::new();
    let mut singles: Vec<&OutboxRow> = Vec::new();
    for row in &due {
        if row.digest {
            digests.entry(row.user_id.to_string()).or_default().push(row);
        } else {
            singles.push(row);
        }
    }
    let mut sent = 0;
    let batches: Vec<Vec<&OutboxRow>> = singles.into_iter().map(|r| vec![r]).chain(digests.into_values()).collect();
    for batch in batches {
        let Some(first) = batch.first() else { continue };
        let ids: Vec<String> = batch.iter().map(|r| r.id.clone()).collect();
        let result = match compose(c, first, &batch) {
            Ok(m) => mailer.send(m).await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                state.store.mark_mail_sent(&ids).await.map_err(|e| e.to_string())?;
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "notification mail not sent; will retry");
                state.store.mark_mail_failed(&ids, &e).await.map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(sent)
}

/// The sender's loop: wake on a queued notification or every `poll`, send what is due.
pub async fn run(state: AppState) {
    let Some(c) = state.config.mail.clone() else { return };
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "notification mail: delivery pass failed");
        }
        let _ = tokio::time::timeout(c.poll, state.mail_wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_digest_goes_at_the_hour_in_japan() {
        // 08:00 JST is 23:00 UTC the day before.
        assert_eq!(last_digest_time(datetime!(2026-11-24 01:00 UTC), 8), datetime!(2026-11-23 23:00 UTC));
        assert_eq!(last_digest_time(datetime!(2026-11-23 22:59 UTC), 8), datetime!(2026-11-22 23:00 UTC));
    }
}
