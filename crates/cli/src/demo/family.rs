//! The demo region's families (issue #10), so that the family pages and the nurse's
//! day show something on the first day: a son with an account for a home patient of
//! the visiting-nurse station (not 山田 花子: inviting her family is what a visitor
//! tries), a few days of his diary (under the alert threshold: alerts are for the
//! visitor to cause), a short family thread, and today's visits of the station.

use super::{PatientSpec, Site};
use anyhow::Context;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};
use tsunagu_domain::family::{DEFAULT_ALERT_THRESHOLD, DiaryInput, VisitInput};
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{OrgId, PatientId};
use tsunagu_store::{AuditCtx, NewFamilyAccount, Store};

/// The demo family's sign-in name (the password is the demo password).
pub const DEMO_FAMILY_LOGIN: &str = "kazoku@example.jp";

pub(super) struct Household<'a> {
    pub store: &'a Store,
    pub people: &'a HashMap<&'static str, Principal>,
    pub orgs: &'a HashMap<Site, OrgId>,
    pub ctx: &'a AuditCtx,
    pub password_hash: &'a str,
}

const NURSE: &str = "takahashi@station.example.jp";

impl Household<'_> {
    fn who(&self, email: &str) -> anyhow::Result<&Principal> {
        self.people.get(email).with_context(|| format!("demo person {email}"))
    }

    pub async fn write_all(&self, charts: &[(&PatientSpec, PatientId)]) -> anyhow::Result<()> {
        let _ = self.orgs;
        let nurse = self.who(NURSE)?;
        let home: Vec<PatientId> = charts
            .iter()
            .skip(1)
            .filter(|(s, _)| s.consent && s.team.iter().any(|(site, _)| *site == Site::Station))
            .map(|(_, p)| *p)
            .collect();
        let now = self.store.now();
        let jst = time::macros::offset!(+9);
        let today = now.to_offset(jst).date();
        let at = |days_before: i64, h: u8, m: u8| -> anyhow::Result<OffsetDateTime> {
            let d = today.checked_sub(Duration::days(days_before)).context("a date")?;
            Ok(d.with_hms(h, m, 0)?.assume_offset(jst))
        };

        // The son of the first home patient has an account and keeps the diary.
        if let Some(&pid) = home.first() {
            let g = self.store.open_chart(nurse, pid, ChartAction::Write, "family.invite", self.ctx).await?;
            let token_hash = format!("demo-family-invitation-{pid}");
            self.store.invite_family_member(&g, "長男", "長男", 30, &token_hash, self.ctx).await?;
            let account = NewFamilyAccount {
                token_hash: &token_hash,
                login: DEMO_FAMILY_LOGIN,
                display_name: "家族（長男）",
                password_hash: self.password_hash,
            };
            let fp = self.store.accept_family_invitation(&account, self.ctx).await?;
            for (days, pain, breath, sleep, rescue, note) in [
                (3, 5, 2, 4, false, "夜に2回起きた"),
                (2, 6, 2, 5, true, "夕方に痛みが強くなり頓服を使った"),
                (1, 4, 1, 3, false, "よく眠れた"),
            ] {
                let observed_at = at(days, 20, 0)?;
                let entry = DiaryInput {
                    observed_at,
                    pain: Some(pain),
                    breathlessness: Some(breath),
                    sleep: Some(sleep),
                    rescue_drug: rescue.then(|| "オキノーム散 2.5mg".to_string()),
                    rescue_at: rescue.then_some(observed_at - Duration::minutes(30)),
                    note: note.into(),
                };
                if observed_at < now {
                    self.store.add_diary_entry(&fp, entry, DEFAULT_ALERT_THRESHOLD, None, self.ctx).await?;
                }
            }
            self.store.post_family_message(&fp, "頓服のあと30分ほどで楽になりました。", self.ctx).await?;
            self.store
                .post_team_family_message(&g, "ありがとうございます。次の訪問で量を相談しましょう。", self.ctx)
                .await?;
        }

        // Today's visits of the station, the nurse's own first.
        for (n, &pid) in home.iter().take(3).enumerate() {
            let g = self.store.open_chart(nurse, pid, ChartAction::Write, "visit.schedule", self.ctx).await?;
            let hour = 10 + 2 * u8::try_from(n).unwrap_or(0);
            let visit =
                VisitInput { starts_at: at(0, hour, 0)?, profession: Profession::Nurse, note: "定期訪問".into() };
            self.store.schedule_visit(&g, visit, Some(nurse.user), self.ctx).await?;
            let next =
                VisitInput { starts_at: at(-7, hour, 0)?, profession: Profession::Nurse, note: "定期訪問".into() };
            self.store.schedule_visit(&g, next, Some(nurse.user), self.ctx).await?;
        }
        Ok(())
    }
}
