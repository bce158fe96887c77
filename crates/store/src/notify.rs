//! E-mail notifications (issue #10): what each person chose to hear about, and the
//! outbox the mail sender drains. An outbox row holds a category and a link into
//! tsunagu, never clinical content; the person signs in to see what happened.

use crate::db::{Store, ts};
use crate::orgs::parse_uuid;
use crate::{Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;
use tsunagu_domain::family::{Frequency, NotificationCategory};
use tsunagu_domain::{OrgId, UserId};

/// Who an event is for.
#[derive(Debug, Clone)]
pub enum Recipients {
    /// One person.
    User(UserId),
    /// Everyone active in these organizations.
    Orgs(Vec<OrgId>),
}

/// One mail to send.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: String,
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub category: NotificationCategory,
    pub link: String,
    pub created_at: String,
    /// Waits for the daily digest.
    pub digest: bool,
}

impl Store {
    /// Each category with the person's choice (off when never chosen).
    pub async fn notification_prefs(&self, user: UserId) -> Result<Vec<(NotificationCategory, Frequency)>> {
        let rows = sqlx::query("SELECT category, frequency FROM notification_prefs WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_all(&self.read)
            .await?;
        let mut chosen = Vec::new();
        for r in &rows {
            let c = NotificationCategory::parse(&r.try_get::<String, _>("category")?);
            let f = Frequency::parse(&r.try_get::<String, _>("frequency")?);
            if let (Ok(c), Ok(f)) = (c, f) {
                chosen.push((c, f));
            }
        }
        Ok(NotificationCategory::ALL
            .into_iter()
            .map(|c| (c, chosen.iter().find(|(k, _)| *k == c).map(|(_, f)| *f).unwrap_or_default()))
            .collect())
    }

    pub async fn set_notification_prefs(
        &self,
        user: UserId,
        prefs: &[(NotificationCategory, Frequency)],
    ) -> Result<()> {
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        for (c, f) in prefs {
            sqlx::query(
                "INSERT INTO notification_prefs (user_id, category, frequency, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, category) DO UPDATE SET frequency = excluded.frequency, updated_at = excluded.updated_at",
            )
            .bind(user.to_string())
            .bind(c.as_str())
            .bind(f.as_str())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Put a mail in the outbox for every recipient who chose this category (and is
    /// active, in an approved organization), except `except` (the person who caused
    /// the event). Returns how many mails were queued.
    pub async fn enqueue_notification(
        &self,
        to: &Recipients,
        category: NotificationCategory,
        link: &str,
        except: Option<UserId>,
    ) -> Result<usize> {
        let mut tx = self.write.begin().await?;
        let queued = self.enqueue_in(&mut tx, to, category, link, except).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// [`Store::enqueue_notification`] inside the caller's transaction, so that the
    /// notice commits with the record it is about (or neither does).
    pub(crate) async fn enqueue_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        to: &Recipients,
        category: NotificationCategory,
        link: &str,
        except: Option<UserId>,
    ) -> Result<usize> {
        let mut users: Vec<(String, String)> = Vec::new();
        let orgs: Vec<Option<OrgId>> = match to {
            Recipients::User(_) => vec![None],
            Recipients::Orgs(orgs) => orgs.iter().copied().map(Some).collect(),
        };
        for org in orgs {
            let rows = match (to, org) {
                (Recipients::User(u), _) => {
                    sqlx::query(
                        "SELECT u.id, n.frequency FROM users u \
                         JOIN notification_prefs n ON n.user_id = u.id AND n.category = $2 \
                         WHERE u.id = $1 AND u.status = 'active'",
                    )
                    .bind(u.to_string())
                    .bind(category.as_str())
                    .fetch_all(&mut *conn)
                    .await?
                }
                (_, org) => {
                    sqlx::query(
                        "SELECT DISTINCT u.id, n.frequency FROM memberships m JOIN users u ON u.id = m.user_id \
                         JOIN organizations o ON o.id = m.org_id \
                         JOIN notification_prefs n ON n.user_id = u.id AND n.category = $2 \
                         WHERE m.org_id = $1 AND u.status = 'active' AND o.status = 'approved'",
                    )
                    .bind(org.map(|o| o.to_string()).unwrap_or_default())
                    .bind(category.as_str())
                    .fetch_all(&mut *conn)
                    .await?
                }
            };
            for r in &rows {
                let pair: (String, String) = (r.try_get("id")?, r.try_get("frequency")?);
                if !users.contains(&pair) {
                    users.push(pair);
                }
            }
        }
        let except = except.map(|u| u.to_string());
        let now = ts(self.now());
        let mut queued = 0;
        for (user, frequency) in users {
            let digest = match Frequency::parse(&frequency) {
                // Overdue tasks are told once a day already (at digest time): a
                // "daily" choice must not hold them back another day.
                Ok(Frequency::Daily) if category != NotificationCategory::OverdueTask => 1,
                Ok(Frequency::Immediate | Frequency::Daily) => 0,
                _ => continue,
            };
            if except.as_deref() == Some(user.as_str()) {
                continue;
            }
            sqlx::query(
                "INSERT INTO mail_outbox (id, user_id, category, link, digest, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(self.new_id())
            .bind(&user)
            .bind(category.as_str())
            .bind(link)
            .bind(digest)
            .bind(&now)
            .execute(&mut *conn)
            .await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Mail due now: every immediate one not sent, and, when `digest_before` is given,
    /// digest items queued before it. Oldest first; failed ones are retried a few times.
    pub async fn due_mail(&self, digest_before: Option<OffsetDateTime>, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT x.id, x.user_id, u.email, u.display_name, x.category, x.link, x.created_at, x.digest FROM mail_outbox x \
             JOIN users u ON u.id = x.user_id WHERE x.sent_at IS NULL AND x.attempts < 5 \
             AND (x.digest = 0 OR x.created_at < $1) ORDER BY x.created_at, x.id LIMIT $2",
        )
        .bind(digest_before.map(ts).unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    user_id: parse_uuid(&r.try_get::<String, _>("user_id")?)?,
                    email: r.try_get("email")?,
                    display_name: r.try_get("display_name")?,
                    category: NotificationCategory::parse(&r.try_get::<String, _>("category")?)
                        .map_err(|_| StoreError::Corrupt("mail_outbox: bad category".into()))?,
                    link: r.try_get("link")?,
                    created_at: r.try_get("created_at")?,
                    digest: r.try_get::<i64, _>("digest")? != 0,
                })
            })
            .collect()
    }

    pub async fn mark_mail_sent(&self, ids: &[String]) -> Result<()> {
        let now = ts(self.now());
        let mut tx = self.write.begin().await?;
        for id in ids {
            sqlx::query("UPDATE mail_outbox SET sent_at = $1, attempts = attempts + 1 WHERE id = $2")
                .bind(&now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn mark_mail_failed(&self, ids: &[String], error: &str) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for id in ids {
            sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2")
                .bind(error.chars().take(500).collect::<String>())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// People who own at least one overdue hospital-to-home task on `today` and have
    /// not been told since `since` (the day's digest time): the daily overdue notice.
    pub async fn system_users_with_overdue_tasks(
        &self,
        today: time::Date,
        since: OffsetDateTime,
    ) -> Result<Vec<UserId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT COALESCE((SELECT e.owner_user_id FROM task_events e WHERE e.patient_id = t.patient_id \
               AND e.task_id = t.id AND e.kind = 'assign' ORDER BY e.seq DESC LIMIT 1), t.owner_user_id) AS owner \
             FROM transition_tasks t WHERE t.due_date < $1 \
             AND NOT EXISTS (SELECT 1 FROM task_events d WHERE d.patient_id = t.patient_id AND d.task_id = t.id AND d.kind = 'done')",
        )
        .bind(today.to_string())
        .fetch_all(&self.read)
        .await?;
        let start = ts(since);
        let mut out = Vec::new();
        for r in &rows {
            let Some(owner) = r.try_get::<Option<String>, _>("owner")? else { continue };
            let told = sqlx::query(
                "SELECT 1 AS x FROM mail_outbox WHERE user_id = $1 AND category = 'overdue_task' AND created_at >= $2",
            )
            .bind(&owner)
            .bind(&start)
            .fetch_optional(&self.read)
            .await?
            .is_some();
            if !told {
                out.push(parse_uuid(&owner)?);
            }
        }
        Ok(out)
    }
}
