//! The demo region's hospital-to-home work: the hospital's candidate list on two wards
//! at every stage, and one case under way (home physician chosen, conference booked,
//! the sheet begun, some of the checklist done), so that the liaison nurse's and the
//! MSW's screens show a working day. Also each organization's visiting area for the
//! resource directory.

use super::{PatientSpec, Site};
use anyhow::Context;
use std::collections::HashMap;
use time::Duration;
use tsunagu_domain::patient::TeamRole;
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_domain::transition::CandidateStage;
use tsunagu_domain::{OrgId, PatientId};
use tsunagu_store::{
    AuditCtx, CandidateInput, CaseInput, CommunityRole, ConferenceSheet, OrgUpdate, Store, TaskEventKind,
};

pub(super) struct Ward<'a> {
    pub store: &'a Store,
    pub people: &'a HashMap<&'static str, Principal>,
    pub orgs: &'a HashMap<Site, OrgId>,
    pub ctx: &'a AuditCtx,
}

const AREAS: [(Site, &str, &str); 5] = [
    (Site::Midori, "suzuki@midori.example.jp", "つなぐ市全域（車で30分以内）"),
    (Site::Sakura, "hayashi@sakura.example.jp", "大東町・泉町・本町周辺"),
    (Site::Station, "takahashi@station.example.jp", "つなぐ市全域、隣接町の一部"),
    (Site::Hidamari, "ito@hidamari.example.jp", "つなぐ市全域"),
    (Site::Aoba, "watanabe@aoba.example.jp", "つなぐ市中心部（訪問薬剤管理）"),
];

/// (ward, stage, reason, barriers, review in days)
const CANDIDATES: [(&str, CandidateStage, &str, &str, i64); 3] = [
    (
        "5階東",
        CandidateStage::Ready,
        "疼痛がオキシコドンで安定し、本人が自宅で過ごすことを強く希望している。",
        "日中独居の時間がある。夜間の連絡体制の確認が必要。",
        2,
    ),
    (
        "6階西",
        CandidateStage::Assessing,
        "肺炎は軽快。ADLの回復次第で自宅退院を検討。",
        "階段昇降が困難。住宅改修の要否。",
        5,
    ),
    ("5階東", CandidateStage::Flagged, "家族から自宅療養の相談あり。", "主介護者の妻が高齢。", 7),
];

impl Ward<'_> {
    fn who(&self, email: &str) -> anyhow::Result<&Principal> {
        self.people.get(email).with_context(|| format!("demo person {email}"))
    }
    fn org(&self, site: Site) -> anyhow::Result<OrgId> {
        self.orgs.get(&site).copied().with_context(|| format!("demo organization {site:?}"))
    }

    pub async fn write_all(&self, charts: &[(&PatientSpec, PatientId)]) -> anyhow::Result<usize> {
        for (site, admin, area) in AREAS {
            let org = self.store.get_org(self.org(site)?).await?;
            let update = OrgUpdate {
                phone: org.phone.clone(),
                night_phone: org.night_phone.clone(),
                address: org.address.clone(),
                location: org.lat.zip(org.lon),
                visiting_area: area.into(),
                capabilities: org.capabilities,
            };
            self.store.update_org(self.who(admin)?, &update, self.ctx).await?;
        }

        // Inpatients: the hospital's own, sharing consented, with no home physician yet.
        let inpatients: Vec<PatientId> = charts
            .iter()
            .skip(1)
            .filter(|(s, _)| {
                s.owner == Site::Hospital && s.consent && !s.team.iter().any(|(_, r)| *r == TeamRole::HomePhysician)
            })
            .map(|(_, p)| *p)
            .take(CANDIDATES.len())
            .collect();
        let msw = self.who("tanaka@hospital.example.jp")?;
        let today = self.store.clock().today_jst();
        for (pid, (ward, stage, reason, barriers, review)) in inpatients.iter().zip(CANDIDATES) {
            let g = self.store.open_chart(msw, *pid, ChartAction::Write, "candidate.flag", self.ctx).await?;
            let input = CandidateInput {
                ward: ward.into(),
                stage,
                reason: reason.into(),
                barriers: barriers.into(),
                owner: Some(msw.user),
                review_date: today.checked_add(Duration::days(review)),
            };
            self.store.flag_candidate(&g, &input, self.ctx).await?;
        }

        // The first is going home next week: a case under way.
        let Some(first) = inpatients.first().copied() else { return Ok(inpatients.len()) };
        let g = self.store.open_chart(msw, first, ChartAction::Write, "transition.open", self.ctx).await?;
        let planned = today.checked_add(Duration::days(7)).unwrap_or(today);
        let input = CaseInput {
            planned_discharge: planned,
            home: Some((38.7452, 139.8391)),
            wishes: "本人：最期まで自宅で過ごしたい。妻：夜間の急変が心配。".into(),
            wished_org: None,
        };
        let case = self.store.open_case(&g, &input, self.ctx).await?;
        self.store.choose_org(&g, &case, CommunityRole::HomePhysician, self.org(Site::Sakura)?, self.ctx).await?;
        self.store.choose_org(&g, &case, CommunityRole::VisitingNurse, self.org(Site::Station)?, self.ctx).await?;
        self.store.choose_org(&g, &case, CommunityRole::CareManager, self.org(Site::Hidamari)?, self.ctx).await?;
        let at = today.checked_add(Duration::days(3)).unwrap_or(today).with_hms(14, 0, 0)?;
        self.store
            .schedule_conference(
                &g,
                &case,
                at,
                "5階東 カンファレンス室",
                "主治医、病棟看護師、MSW、在宅医、訪問看護師、ケアマネジャー、本人、妻",
                self.ctx,
            )
            .await?;
        let sheet = ConferenceSheet {
            patient_wishes: "最期まで自宅で過ごしたい。".into(),
            family_wishes: "夜間の急変時にどこへ連絡すればよいか知りたい。".into(),
            medical_status: "肺腺癌 多発骨転移。疼痛はオキシコドン徐放錠で NRS 2〜3。".into(),
            medications_devices: "オキシコドン徐放錠 10mg 1日2回、レスキュー オキシコドン速放散 2.5mg\n在宅酸素 2L/分"
                .into(),
            ..ConferenceSheet::default()
        };
        self.store.save_sheet(&g, &case, &sheet, 0, self.ctx).await?;
        let view = self.store.case_for(&g).await?.context("the demo case")?;
        for key in ["task-home-physician", "task-care-manager"] {
            if let Some(t) = view.tasks.iter().find(|t| t.key == key) {
                self.store.task_event(&g, &t.id, TaskEventKind::Done, self.ctx).await?;
            }
        }
        Ok(inpatients.len())
    }
}
