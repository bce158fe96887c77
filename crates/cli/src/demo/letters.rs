//! The demo region's letters: 山田 花子's referral from the hospital to her home
//! physician, acknowledged and answered, with the physician's visiting-nurse
//! instruction; and a fresh referral of another patient that the clinic has not yet
//! acknowledged, so that signing in as the home physician shows the alert.
//!
//! Letters are written through the store like everything else (the PDFs are made on
//! demand by the web layer; the seed has no renderer).

use super::{PatientSpec, Site};
use anyhow::Context;
use std::collections::HashMap;
use tsunagu_domain::letter::{LetterBody, LetterKind};
use tsunagu_domain::patient::TeamRole;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::{OrgId, PatientId};
use tsunagu_store::{AuditCtx, LetterContent, Store};

pub(super) struct Post<'a> {
    pub store: &'a Store,
    pub people: &'a HashMap<&'static str, Principal>,
    pub orgs: &'a HashMap<Site, OrgId>,
    pub ctx: &'a AuditCtx,
}

fn body(kind: LetterKind, fields: &[(&str, &str)]) -> anyhow::Result<LetterBody> {
    let mut b = LetterBody::empty(kind);
    for (k, v) in fields {
        b.set(k, (*v).to_string()).map_err(|e| anyhow::anyhow!("demo letter field {k}: {e}"))?;
    }
    Ok(b)
}

impl Post<'_> {
    fn who(&self, email: &str) -> anyhow::Result<&Principal> {
        self.people.get(email).with_context(|| format!("demo person {email}"))
    }
    fn org(&self, site: Site) -> anyhow::Result<OrgId> {
        self.orgs.get(&site).copied().with_context(|| format!("demo organization {site:?}"))
    }

    /// Write and send a letter; returns its id.
    async fn send(
        &self,
        from: &str,
        pid: PatientId,
        content: LetterContent,
        in_reply_to: Option<&str>,
    ) -> anyhow::Result<String> {
        let who = self.who(from)?;
        let g = self.store.open_chart(who, pid, ChartAction::Refer, "letter.create", self.ctx).await?;
        let id = self.store.create_letter(&g, content, in_reply_to, self.ctx).await?;
        self.store.send_letter(&g, &id, self.ctx).await?;
        Ok(id)
    }

    async fn receive(&self, by: &str, pid: PatientId, id: &str) -> anyhow::Result<()> {
        let g = self.store.open_chart(self.who(by)?, pid, ChartAction::Write, "letter.receive", self.ctx).await?;
        self.store.receive_letter(&g, id, self.ctx).await?;
        Ok(())
    }

    pub async fn write_all(&self, charts: &[(&PatientSpec, PatientId)]) -> anyhow::Result<usize> {
        let hanako = charts.first().map(|(_, p)| *p).context("山田 花子 is the first demo patient")?;
        let midori = self.org(Site::Midori)?;
        let station = self.org(Site::Station)?;
        let hospital = self.org(Site::Hospital)?;

        // 1. The hospital's referral of 山田 花子 to her home physician at discharge.
        let referral = LetterContent {
            to_org: midori,
            to_person: Some("鈴木 誠 先生".into()),
            role: TeamRole::HomePhysician,
            body: body(
                LetterKind::Referral,
                &[
                    ("purpose", "退院後の在宅緩和ケアと看取りを含めた在宅診療をお願いいたします。"),
                    ("diagnoses", "膵頭部癌 cStage IV（肝転移）\n2型糖尿病"),
                    ("chief_complaint", "心窩部から背部の痛み、食欲低下"),
                    (
                        "present_illness",
                        "本年8月に閉塞性黄疸で発症し当院で胆管ステントを留置。化学療法は本人の意向で行わず、疼痛緩和を中心に加療しました。オキシコドンで疼痛は自制内（NRS 2〜3）です。",
                    ),
                    ("allergies", "ロキソプロフェン（蕁麻疹）"),
                    ("social_history", "長男夫婦と同居。主介護者は長男の妻。"),
                    (
                        "care_policy",
                        "ご本人・ご家族とも自宅での看取りを希望されています。急変時は救急搬送を希望されません。",
                    ),
                    ("devices", "胆管ステント（金属）"),
                ],
            )?,
            attachments: vec![],
        };
        let first = self.send("sato@hospital.example.jp", hanako, referral, None).await?;
        self.receive("suzuki@midori.example.jp", hanako, &first).await?;
        let reply = LetterContent {
            to_org: hospital,
            to_person: Some("佐藤 健一 先生".into()),
            role: TeamRole::HospitalAttending,
            body: body(
                LetterKind::Reply,
                &[
                    (
                        "body",
                        "ご紹介ありがとうございました。退院翌日に初回訪問いたしました。疼痛は自制内で、ご家族の介護体制も整っています。今後は当院で訪問診療を行い、訪問看護と連携して看取りまで支えてまいります。",
                    ),
                    ("diagnoses", "膵頭部癌（肝転移）"),
                ],
            )?,
            attachments: vec![],
        };
        self.send("suzuki@midori.example.jp", hanako, reply, Some(&first)).await?;

        // 2. The home physician's instruction to the visiting-nurse station.
        let today = self.store.clock().today_jst();
        let from = today.checked_sub(time::Duration::days(12)).unwrap_or(today);
        let to = from.checked_add(time::Duration::days(90)).unwrap_or(today);
        let instruction = LetterContent {
            to_org: station,
            to_person: None,
            role: TeamRole::VisitingNurse,
            body: body(
                LetterKind::NursingInstruction,
                &[
                    ("period_from", &from.to_string()),
                    ("period_to", &to.to_string()),
                    ("diagnoses", "膵頭部癌（肝転移）"),
                    ("condition", "疼痛はオキシコドンで自制内。経口摂取は少量。ADLはベッド上中心。"),
                    (
                        "instructions",
                        "疼痛の評価（NRS）とレスキュー使用回数の記録。褥瘡予防（体圧分散、体位変換）。家族への看取りの説明の補助。",
                    ),
                    ("emergency_contact", "みどり在宅クリニック 24時間対応"),
                ],
            )?,
            attachments: vec![],
        };
        let instr = self.send("suzuki@midori.example.jp", hanako, instruction, None).await?;
        self.receive("takahashi@station.example.jp", hanako, &instr).await?;

        // 3. A new referral the clinic has not opened yet (the alert on sign-in).
        let pending = charts
            .iter()
            .skip(1)
            .find(|(spec, _)| {
                spec.owner == Site::Hospital && spec.consent && spec.team.iter().all(|(s, _)| *s != Site::Midori)
            })
            .map(|(_, p)| *p)
            .context("a hospital patient not yet with みどり在宅クリニック")?;
        let fresh = LetterContent {
            to_org: midori,
            to_person: Some("鈴木 誠 先生".into()),
            role: TeamRole::HomePhysician,
            body: body(
                LetterKind::Referral,
                &[
                    ("purpose", "退院前カンファレンスへのご参加と、退院後の訪問診療をお願いいたします。"),
                    ("diagnoses", "慢性心不全（NYHA III）"),
                    (
                        "present_illness",
                        "心不全の増悪で入院。利尿薬の調整で症状は改善し、ご本人が自宅療養を希望されています。",
                    ),
                ],
            )?,
            attachments: vec![],
        };
        self.send("sato@hospital.example.jp", pending, fresh, None).await?;
        Ok(4)
    }
}
