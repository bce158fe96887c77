//! The demo region's outcome work (DOMAIN.md §8), so that the dashboard and the charts'
//! symptom pages show something on the first day: one home patient's own symptom
//! ratings over two weeks (not 山田 花子's: her chart is where a visitor tries it), specialist palliative care on several charts, and the region's sessions,
//! meetings and action plans for this fiscal year and the last. No death and no wish is
//! seeded: those are the team's to record.

use super::{PatientSpec, Site};
use anyhow::Context;
use std::collections::HashMap;
use time::{Date, Duration};
use tsunagu_domain::patient::TeamRole;
use tsunagu_domain::person::Profession;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::programme::{
    ActionPlan, Activity, ActivityKind, Attendance, CareContact, ContactKind, Pillar, PlanStatus,
};
use tsunagu_domain::questionnaire::{Answer, Answers};
use tsunagu_domain::transition::{fiscal_year, fiscal_year_range};
use tsunagu_domain::{OrgId, PatientId};
use tsunagu_store::{AuditCtx, Store};

pub(super) struct Region<'a> {
    pub store: &'a Store,
    pub people: &'a HashMap<&'static str, Principal>,
    pub orgs: &'a HashMap<Site, OrgId>,
    pub ctx: &'a AuditCtx,
}

/// The patient's own ratings (pain, tiredness, drowsiness, nausea, appetite, breath,
/// depression, anxiety, wellbeing), days before today: pain eases once the opioid dose
/// is settled.
const RATINGS: [(i64, [i64; 9]); 3] =
    [(13, [7, 6, 3, 4, 6, 3, 4, 6, 6]), (6, [4, 5, 3, 2, 5, 3, 3, 4, 4]), (1, [3, 5, 4, 1, 5, 3, 2, 3, 4])];
const KEYS: [&str; 9] = [
    "pain",
    "tiredness",
    "drowsiness",
    "nausea",
    "appetite",
    "shortness_of_breath",
    "depression",
    "anxiety",
    "wellbeing",
];

impl Region<'_> {
    fn who(&self, email: &str) -> anyhow::Result<&Principal> {
        self.people.get(email).with_context(|| format!("demo person {email}"))
    }
    fn org(&self, site: Site) -> anyhow::Result<OrgId> {
        self.orgs.get(&site).copied().with_context(|| format!("demo organization {site:?}"))
    }

    pub async fn write_all(&self, charts: &[(&PatientSpec, PatientId)]) -> anyhow::Result<()> {
        let today = self.store.clock().today_jst();
        let day = |n: i64| today.checked_sub(Duration::days(n)).unwrap_or(today);

        // The visiting nurse enters a home patient's ratings at each visit.
        let visited = charts
            .iter()
            .skip(1)
            .find(|(s, _)| s.consent && s.team.iter().any(|(site, _)| *site == Site::Station))
            .map(|(_, p)| *p);
        if let Some(pid) = visited {
            let nurse = self.who("takahashi@station.example.jp")?;
            let g = self.store.open_chart(nurse, pid, ChartAction::Write, "assessment.record", self.ctx).await?;
            let esas = self
                .store
                .instruments()
                .await?
                .into_iter()
                .find(|i| i.id == "symptom-rating-patient")
                .context("the patient-rated instrument")?;
            for (before, values) in RATINGS {
                let answers: Answers =
                    KEYS.iter().zip(values).map(|(k, v)| (k.to_string(), Answer::Rating(v))).collect();
                let at = day(before).with_hms(10, 30, 0)?;
                self.store.record_assessment(&g, &esas, &answers, at, self.ctx).await?;
            }
        }

        // Specialist palliative care: the hospital's palliative care team saw its own
        // patients; the home physicians visit theirs.
        let team_nurse = self.who("nakamura@hospital.example.jp")?;
        let home_doctor = self.who("hayashi@sakura.example.jp")?;
        for (n, (spec, pid)) in charts.iter().enumerate() {
            let n = n as i64;
            if spec.owner == Site::Hospital && spec.consent {
                let g = self.store.open_chart(team_nurse, *pid, ChartAction::Write, "contact.record", self.ctx).await?;
                for (kind, before) in
                    [(ContactKind::PalliativeTeamConsult, 20 + n), (ContactKind::PalliativeOutpatientVisit, 9 + n)]
                {
                    let c = CareContact { kind, occurred_on: day(before), note: String::new() };
                    self.store.record_care_contact(&g, c, self.ctx).await?;
                }
            }
            if spec.team.iter().any(|(site, role)| *site == Site::Sakura && *role == TeamRole::HomePhysician)
                || (spec.owner == Site::Sakura && spec.consent)
            {
                let g =
                    self.store.open_chart(home_doctor, *pid, ChartAction::Write, "contact.record", self.ctx).await?;
                for before in [14 + n, 7 + n] {
                    let c = CareContact {
                        kind: ContactKind::HomeVisit,
                        occurred_on: day(before),
                        note: "定期訪問診療".into(),
                    };
                    self.store.record_care_contact(&g, c, self.ctx).await?;
                }
            }
        }

        self.programme(today).await
    }

    /// Sessions and meetings this fiscal year (those already past) and last, and the
    /// year's action plans, one of them updated.
    async fn programme(&self, today: Date) -> anyhow::Result<()> {
        let operator = self.who("operator@ishikai.example.jp")?;
        let centre = self.who("ikeda@renkei.example.jp")?;
        let fy = fiscal_year(today);
        let (this_start, _) = fiscal_year_range(fy);
        let (last_start, _) = fiscal_year_range(fy - 1);
        let at = |start: Date, days: i64| start.checked_add(Duration::days(days)).unwrap_or(start);
        let hospital = self.org(Site::Hospital)?;
        let station = self.org(Site::Station)?;
        let sakura = self.org(Site::Sakura)?;
        let line = |profession, org, count| Attendance { profession: Some(profession), org: Some(org), count };
        let activities = [
            (
                operator,
                Activity {
                    pillar: Pillar::Education,
                    kind: ActivityKind::Session,
                    held_on: at(last_start, 200),
                    topic: "オピオイドの使い方 基礎編".into(),
                    attendance: vec![
                        line(Profession::Nurse, station, 6),
                        line(Profession::Pharmacist, self.org(Site::Aoba)?, 3),
                        line(Profession::Physician, sakura, 2),
                    ],
                },
            ),
            (
                operator,
                Activity {
                    pillar: Pillar::Education,
                    kind: ActivityKind::Session,
                    held_on: at(this_start, 45),
                    topic: "在宅での呼吸困難への対応".into(),
                    attendance: vec![
                        line(Profession::Nurse, station, 8),
                        line(Profession::Nurse, hospital, 5),
                        line(Profession::CareManager, self.org(Site::Hidamari)?, 4),
                    ],
                },
            ),
            (
                operator,
                Activity {
                    pillar: Pillar::PublicAwareness,
                    kind: ActivityKind::Session,
                    held_on: at(this_start, 60),
                    topic: "市民公開講座「家で最期まで過ごすということ」".into(),
                    attendance: vec![Attendance { profession: None, org: None, count: 85 }],
                },
            ),
            (
                centre,
                Activity {
                    pillar: Pillar::RegionalCooperation,
                    kind: ActivityKind::Meeting,
                    held_on: at(this_start, 100),
                    topic: "地域緩和ケア連携会議（困難事例の振り返り）".into(),
                    attendance: vec![
                        line(Profession::MedicalSocialWorker, hospital, 2),
                        line(Profession::Physician, sakura, 1),
                        line(Profession::Nurse, station, 2),
                    ],
                },
            ),
        ];
        for (who, a) in activities {
            if a.held_on <= today {
                self.store.record_activity(who, a, self.ctx).await?;
            }
        }

        let plan = |pillar, title: &str, owner: &str, due: i64, status| ActionPlan {
            fiscal_year: fy,
            pillar,
            title: title.into(),
            owner: owner.into(),
            due_on: at(this_start, due),
            status,
        };
        self.store
            .save_action_plan(
                operator,
                None,
                0,
                plan(Pillar::Education, "訪問看護師向け研修を年4回開催", "事務局 斎藤", 360, PlanStatus::InProgress),
                self.ctx,
            )
            .await?;
        let id = self
            .store
            .save_action_plan(
                operator,
                None,
                0,
                plan(
                    Pillar::RegionalCooperation,
                    "退院前カンファレンスの標準シートを全病院で使う",
                    "連携センター 池田",
                    180,
                    PlanStatus::Planned,
                ),
                self.ctx,
            )
            .await?;
        let started = plan(
            Pillar::RegionalCooperation,
            "退院前カンファレンスの標準シートを全病院で使う",
            "連携センター 池田",
            240,
            PlanStatus::InProgress,
        );
        self.store.save_action_plan(operator, Some(&id), 1, started, self.ctx).await?;
        Ok(())
    }
}
