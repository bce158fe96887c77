//! The urgent-care summary (DOMAIN.md §7): one page with what an on-call doctor or an
//! emergency team needs at 3 a.m.: who the patient is, diagnoses and allergies (from
//! the latest letter), current medications, the advance-care-planning decisions, whom to
//! call at night, the family, and the latest vital signs. As HTML to read and print,
//! and as an A4 PDF in Japanese to hand over.

use super::patients::patient_id;
use crate::auth::Signed;
use crate::error::AppResult;
use crate::i18n::{Locale, Tr};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tsunagu_domain::letter::LetterState;
use tsunagu_domain::policy::ChartAction;
use tsunagu_store::{AcpView, ChartGrant, KeyPersonRow, PatientRow, TeamMemberRow};

/// Everything on the summary, gathered once for the page and the PDF.
pub struct Urgent {
    pub patient: PatientRow,
    pub age: i32,
    pub diagnoses: String,
    pub allergies: String,
    pub medications: String,
    pub acp: AcpView,
    pub team: Vec<TeamMemberRow>,
    pub key_persons: Vec<KeyPersonRow>,
    pub vitals: Vec<String>,
    pub made_at: String,
}

async fn gather(state: &AppState, g: &ChartGrant) -> AppResult<Urgent> {
    let today = state.store.clock().today_jst();
    let patient = state.store.patient(g).await?;
    // Diagnoses and allergies as the latest letter sent about the patient states them.
    let (mut diagnoses, mut allergies) = (String::new(), String::new());
    let mut letters = state.store.letters(g).await?;
    letters.retain(|l| !matches!(l.state, LetterState::Draft | LetterState::Discarded));
    letters.sort_by(|a, b| b.sent_at.cmp(&a.sent_at));
    for l in letters {
        let view = state.store.letter(g, &l.id).await?;
        for f in view.content.body.fields() {
            match f.name {
                "diagnoses" if diagnoses.is_empty() => diagnoses = f.text.to_string(),
                "allergies" if allergies.is_empty() => allergies = f.text.to_string(),
                _ => {}
            }
        }
        if !diagnoses.is_empty() && !allergies.is_empty() {
            break;
        }
    }
    let mut vitals = crate::letters::chart_findings(state, g).await?;
    vitals.truncate(3);
    Ok(Urgent {
        age: tsunagu_domain::era::age_on(patient.birth_date, today),
        patient,
        diagnoses,
        allergies,
        medications: crate::letters::current_medications(state, g, today).await?,
        acp: state.store.acp(g).await?,
        team: state.store.team(g).await?.into_iter().filter(|t| t.ended_at.is_none()).collect(),
        key_persons: state.store.key_persons(g).await?,
        vitals,
        made_at: tsunagu_store::ts(state.store.now()),
    })
}

#[derive(Template)]
#[template(path = "urgent.html")]
pub struct UrgentPage {
    pub chrome: Chrome,
    pub u: Urgent,
}

impl UrgentPage {
    pub fn place(&self, p: &tsunagu_domain::acp::Place) -> String {
        self.chrome.tr.label("place", p.as_str())
    }
    pub fn resus(&self, r: &tsunagu_domain::acp::Resuscitation) -> String {
        self.chrome.tr.label("resuscitation", r.as_str())
    }
}

/// `GET /patients/{patient}/urgent`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "urgent.read", &ctx.audit()).await?;
    page(&UrgentPage { chrome: me.chrome(&ctx, &state), u: gather(&state, &g).await? })
}

/// `GET /patients/{patient}/urgent.pdf`
pub async fn pdf(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "urgent.pdf", &ctx.audit()).await?;
    let bytes = crate::letters::render_pdf(print_doc(&gather(&state, &g).await?)).await?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    r.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"urgent-care-summary.pdf\""));
    Ok(r)
}

/// The summary as an A4 document (always Japanese: it travels with the patient).
fn print_doc(u: &Urgent) -> tsunagu_print::PrintDoc {
    let tr = Tr::new(Locale::Ja);
    let p = &u.patient;
    let acp = match u.acp.current() {
        Some(c) => {
            let b = &c.body;
            [
                format!("心肺蘇生：{}", tr.label("resuscitation", b.resuscitation.as_str())),
                format!("治療の範囲：{}", b.ceiling_of_treatment),
                format!("希望する療養場所：{}", tr.label("place", b.preferred_place_of_care.as_str())),
                format!("希望する最期の場所：{}", tr.label("place", b.preferred_place_of_death.as_str())),
                format!("代理意思決定者：{}", b.surrogate),
                format!("（{}の話し合い、{}記録）", b.discussed_on, c.recorded_org_name),
            ]
            .join("\n")
        }
        None => "記録なし".into(),
    };
    let team = u
        .team
        .iter()
        .map(|t| {
            let night = t.org_night_phone.as_deref().map(|n| format!("　夜間 {n}")).unwrap_or_default();
            format!(
                "{}：{}　{}{}",
                tr.label("role", t.role.as_str()),
                t.org_name,
                t.org_phone.clone().unwrap_or_default(),
                night
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let family = u
        .key_persons
        .iter()
        .map(|k| format!("{}（{}）{}", k.name, k.relation, k.phone.clone().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n");
    tsunagu_print::PrintDoc {
        title: "緊急時サマリー".into(),
        date: tr.datetime(&u.made_at),
        addressee: vec![],
        sender: vec![],
        patient: vec![
            ("氏名".into(), format!("{} {}（{}歳）", p.family_name, p.given_name, u.age)),
            ("フリガナ".into(), format!("{} {}", p.family_kana, p.given_kana)),
            ("生年月日".into(), tr.birth_date(&p.birth_date)),
            ("性別".into(), tr.label("sex", p.sex.as_str())),
            ("住所".into(), p.address.clone().unwrap_or_default()),
        ],
        sections: vec![
            ("事前指示・意向（ACP）".into(), acp),
            ("傷病名".into(), u.diagnoses.clone()),
            ("アレルギー".into(), u.allergies.clone()),
            ("現在の処方".into(), u.medications.clone()),
            ("連絡先（ケアチーム）".into(), team),
            ("家族・キーパーソン".into(), family),
            ("最近のバイタル".into(), u.vitals.join("\n")),
        ],
        footer: "つなぐ 地域共有カルテより作成".into(),
    }
}
