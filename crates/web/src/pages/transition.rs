//! From hospital to home, on the chart (DOMAIN.md §6): the hospital flags an inpatient
//! as a candidate, opens a transition case when discharge is decided, works through its
//! checklist, chooses the home physician from a ranked proposal (and the visiting-nurse
//! station and care manager), holds the discharge conference with its sheet, and
//! discharges: one action files the sheet and the discharge summary on the chart and
//! sends the referral letters that open the chart to the community team.

use super::FormErrors;
use super::patients::patient_id;
use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, Tr};
use crate::letters::Draft;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Date;
use tsunagu_domain::chart::DocumentType;
use tsunagu_domain::letter::LetterKind;
use tsunagu_domain::org::OrgKind;
use tsunagu_domain::patient::parse_iso_date;
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::transition::{
    CandidateStage, EndReason, Reason, TransitionEvent, TransitionStage, distance_km, rank_home_physicians,
};
use tsunagu_domain::{Invalid, OrgId, PatientId, UserId};
use tsunagu_store::{
    CandidateFilter, CandidateInput, CandidateRow, CaseInput, CaseView, ChartGrant, CommunityRole, ConferenceSheet,
    LetterContent, PatientRow, TaskEventKind, TransitionStats,
};

/// One line of the home-physician proposal, with its reasons in the reader's language.
pub struct ProposalLine {
    pub rank: usize,
    pub org_id: OrgId,
    pub name: String,
    pub reasons: Vec<String>,
    pub chosen: bool,
}

/// A visiting-nurse station or care-manager office to choose from, nearest first.
pub struct OrgChoice {
    pub id: OrgId,
    pub name: String,
    pub distance: String,
    pub chosen: bool,
}

pub struct SheetField {
    pub name: &'static str,
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "transition.html")]
pub struct TransitionPage {
    pub chrome: Chrome,
    pub patient: PatientRow,
    pub is_hospital: bool,
    pub can_write: bool,
    pub candidate: Option<CandidateRow>,
    pub candidate_stages: Vec<(&'static str, String)>,
    pub staff: Vec<(UserId, String)>,
    pub case: Option<CaseView>,
    pub proposals: Vec<ProposalLine>,
    pub nurses: Vec<OrgChoice>,
    pub care_managers: Vec<OrgChoice>,
    pub clinics: Vec<(OrgId, String)>,
    pub sheet_fields: Vec<SheetField>,
    pub end_reasons: Vec<(&'static str, String)>,
    pub today: Date,
    pub errors: FormErrors,
}

impl TransitionPage {
    pub fn stage_label(&self) -> String {
        self.case.as_ref().map(|c| self.chrome.tr.label("transition-stage", c.stage.as_str())).unwrap_or_default()
    }
    pub fn can_discharge(&self) -> bool {
        self.case.as_ref().is_some_and(|c| c.stage == TransitionStage::ConferenceHeld)
    }
    pub fn stage_is(&self, s: &str) -> bool {
        self.case.as_ref().is_some_and(|c| c.stage.as_str() == s)
    }
}

fn reason_text(tr: &Tr, r: &Reason) -> String {
    match r {
        Reason::SeenBefore(d) => tr.t1("reason-seen-before", "date", &tr.date(d)),
        Reason::DistanceKm(km) => tr.t1("reason-distance", "km", &format!("{km:.1}")),
        Reason::DistanceUnknown => tr.t("reason-distance-unknown"),
        Reason::Wished => tr.t("reason-wished"),
        Reason::Support24h => tr.t("reason-24h"),
        Reason::PalliativeExperience => tr.t("reason-palliative"),
        Reason::NotAcceptingNewPatients => tr.t("reason-not-accepting"),
        Reason::NoHomeVisits => tr.t("reason-no-home-visits"),
    }
}

async fn org_choices(state: &AppState, case: &CaseView, role: CommunityRole) -> AppResult<Vec<OrgChoice>> {
    let chosen = case.chosen(role).map(|c| c.0);
    let mut list: Vec<(Option<f64>, OrgChoice)> = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.is_approved() && role.kinds().contains(&o.kind))
        .map(|o| {
            let d = case.home.zip(o.lat.zip(o.lon)).map(|(h, at)| distance_km(h, at));
            let choice = OrgChoice {
                id: o.id,
                distance: d.map(|d| format!("{d:.1} km")).unwrap_or_default(),
                chosen: chosen == Some(o.id),
                name: o.name,
            };
            (d, choice)
        })
        .collect();
    // Nearest first; unknown distances after, by name.
    list.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.name.cmp(&b.1.name),
    });
    Ok(list.into_iter().map(|(_, c)| c).collect())
}

async fn transition_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    g: &ChartGrant,
    errors: FormErrors,
) -> AppResult<TransitionPage> {
    let tr = ctx.tr();
    let org = state.store.get_org(me.principal.org).await?;
    let is_hospital = org.kind == OrgKind::Hospital;
    let can_write = state.store.allows(g, ChartAction::Write).await?;
    let candidate = if is_hospital { state.store.candidate(g).await? } else { None };
    let case = state.store.case_for(g).await?;
    let staff = if is_hospital {
        state
            .store
            .staff(me.principal.org)
            .await?
            .into_iter()
            .filter(|(u, _)| u.is_active())
            .map(|(u, _)| (u.id, u.display_name))
            .collect()
    } else {
        Vec::new()
    };
    let (mut proposals, mut nurses, mut care_managers) = (Vec::new(), Vec::new(), Vec::new());
    let mut sheet_fields = Vec::new();
    if let Some(c) = &case {
        let chosen = c.chosen(CommunityRole::HomePhysician).map(|x| x.0);
        proposals = rank_home_physicians(state.store.physician_candidates(g, c).await?)
            .into_iter()
            .map(|p| ProposalLine {
                rank: p.rank,
                org_id: p.candidate.org_id,
                reasons: p.reasons.iter().map(|r| reason_text(&tr, r)).collect(),
                chosen: chosen == Some(p.candidate.org_id),
                name: p.candidate.name,
            })
            .collect();
        nurses = org_choices(state, c, CommunityRole::VisitingNurse).await?;
        care_managers = org_choices(state, c, CommunityRole::CareManager).await?;
        let sheet = c.conference.as_ref().map(|k| k.sheet.clone()).unwrap_or_default();
        sheet_fields = sheet
            .fields()
            .iter()
            .map(|(name, text)| SheetField {
                name,
                label: tr.t(&format!("sheet-{}", name.replace('_', "-"))),
                value: text.to_string(),
            })
            .collect();
    }
    let clinics = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.is_approved() && o.kind == OrgKind::Clinic)
        .map(|o| (o.id, o.name))
        .collect();
    Ok(TransitionPage {
        chrome: me.chrome(ctx, state),
        patient: state.store.patient(g).await?,
        is_hospital,
        can_write,
        candidate,
        candidate_stages: CandidateStage::ALL
            .iter()
            .map(|s| (s.as_str(), tr.label("candidate-stage", s.as_str())))
            .collect(),
        staff,
        case,
        proposals,
        nurses,
        care_managers,
        clinics,
        sheet_fields,
        end_reasons: EndReason::ALL.iter().map(|r| (r.as_str(), tr.label("end-reason", r.as_str()))).collect(),
        today: state.store.clock().today_jst(),
        errors,
    })
}

/// `GET /patients/{patient}/transition`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "transition.read", &ctx.audit()).await?;
    page(&transition_page(&state, &ctx, &me, &g, FormErrors::default()).await?)
}

/// Run a write; on a validation or conflict error show the page again with the
/// message (nothing was changed), else go back to the page.
async fn write_then_show<F, Fut>(
    state: &AppState,
    ctx: &RequestCtx,
    me: &Signed,
    pid: PatientId,
    f: F,
) -> AppResult<Response>
where
    F: FnOnce(ChartGrant) -> Fut,
    Fut: std::future::Future<Output = AppResult<()>>,
{
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Write, "transition.write", &ctx.audit()).await?;
    let fields = match f(g).await {
        Ok(()) => return Ok(Redirect::to(&format!("/patients/{pid}/transition")).into_response()),
        Err(AppError::Invalid(inv)) => inv.0,
        Err(AppError::Conflict(fe)) => vec![fe],
        Err(e) => return Err(e),
    };
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "transition.read", &ctx.audit()).await?;
    let p = transition_page(state, ctx, me, &g, FormErrors(field_messages(&ctx.tr(), &fields))).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &p)
}

fn optional_date(field: &'static str, s: &str, inv: &mut Invalid) -> Option<Date> {
    if s.trim().is_empty() {
        return None;
    }
    let d = parse_iso_date(s.trim());
    if d.is_none() {
        inv.push(field, "err-date");
    }
    d
}

fn optional_id<T: std::str::FromStr>(field: &'static str, s: &str, inv: &mut Invalid) -> Option<T> {
    if s.trim().is_empty() {
        return None;
    }
    let v = s.trim().parse().ok();
    if v.is_none() {
        inv.push(field, "err-invalid-choice");
    }
    v
}

#[derive(Deserialize)]
pub struct CandidateForm {
    #[serde(default)]
    ward: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    barriers: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    review_date: String,
    /// The version the writer started from (absent for a new candidate).
    version: Option<i64>,
}

/// `POST /patients/{patient}/transition/candidate`: flag, or update the record.
pub async fn save_candidate(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<CandidateForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let mut inv = Invalid::default();
        let stage = inv.merge(CandidateStage::parse(&f.stage));
        let owner = optional_id("owner", &f.owner, &mut inv);
        let review_date = optional_date("review_date", &f.review_date, &mut inv);
        inv.into_result()?;
        let input = CandidateInput {
            ward: f.ward,
            stage: stage.ok_or(AppError::Invalid(Invalid::one("stage", "err-candidate-stage")))?,
            reason: f.reason,
            barriers: f.barriers,
            owner,
            review_date,
        };
        match f.version {
            Some(v) => state.store.update_candidate(&g, &input, v, &ctx.audit()).await?,
            None => {
                state.store.flag_candidate(&g, &input, &ctx.audit()).await?;
            }
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    planned_discharge: String,
    #[serde(default)]
    home_lat: String,
    #[serde(default)]
    home_lon: String,
    #[serde(default)]
    wishes: String,
    #[serde(default)]
    wished_org: String,
}

/// `POST /patients/{patient}/transition/case`: discharge is decided.
pub async fn open_case(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<CaseForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let mut inv = Invalid::default();
        let planned = parse_iso_date(f.planned_discharge.trim());
        if planned.is_none() {
            inv.push("planned_discharge", "err-date");
        }
        let home = inv.merge(tsunagu_domain::org::parse_location("home", &f.home_lat, &f.home_lon)).flatten();
        let wished_org = optional_id("wished_org", &f.wished_org, &mut inv);
        inv.into_result()?;
        let input = CaseInput {
            planned_discharge: planned.ok_or(AppError::Invalid(Invalid::one("planned_discharge", "err-date")))?,
            home,
            wishes: f.wishes,
            wished_org,
        };
        state.store.open_case(&g, &input, &ctx.audit()).await?;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct ChooseForm {
    #[serde(default)]
    case: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    org: String,
}

/// `POST /patients/{patient}/transition/choose`: a person confirms an organization.
pub async fn choose(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<ChooseForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let role = CommunityRole::parse(&f.role).ok_or(AppError::Invalid(Invalid::one("org", "err-invalid-choice")))?;
        let org: OrgId = f.org.parse().map_err(|_| AppError::Invalid(Invalid::one("org", "err-invalid-choice")))?;
        state.store.choose_org(&g, &f.case, role, org, &ctx.audit()).await?;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct TaskForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    owner: String,
}

/// `POST /patients/{patient}/transition/tasks/{task}`: done, reopen, or hand on.
pub async fn task(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path((raw, task)): Path<(String, String)>,
    Form(f): Form<TaskForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let kind = match f.action.as_str() {
            "done" => TaskEventKind::Done,
            "reopen" => TaskEventKind::Reopen,
            "assign" => TaskEventKind::Assign(
                f.owner.parse().map_err(|_| AppError::Invalid(Invalid::one("owner", "err-invalid-choice")))?,
            ),
            _ => return Err(AppError::Invalid(Invalid::one("action", "err-invalid-choice"))),
        };
        state.store.task_event(&g, &task, kind, &ctx.audit()).await?;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct ConferenceForm {
    #[serde(default)]
    case: String,
    #[serde(default)]
    scheduled_at: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    participants: String,
}

/// `POST /patients/{patient}/transition/conference`: schedule or move the conference.
pub async fn schedule(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<ConferenceForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        let at = time::PrimitiveDateTime::parse(f.scheduled_at.trim(), &fmt)
            .map_err(|_| AppError::Invalid(Invalid::one("scheduled_at", "err-datetime")))?;
        if f.place.trim().is_empty() {
            return Err(Invalid::one("place", "err-required").into());
        }
        state.store.schedule_conference(&g, &f.case, at, &f.place, &f.participants, &ctx.audit()).await?;
        Ok(())
    })
    .await
}

/// `POST /patients/{patient}/transition/sheet`: save the conference sheet.
pub async fn save_sheet(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let mut sheet = ConferenceSheet::default();
        let (mut case, mut version) = (String::new(), 0i64);
        for (k, v) in pairs {
            match k.as_str() {
                "case" => case = v,
                "version" => version = v.parse().unwrap_or(-1),
                "csrf" => {}
                name => {
                    let _ = sheet.set(name, v.replace("\r\n", "\n"));
                }
            }
        }
        state.store.save_sheet(&g, &case, &sheet, version, &ctx.audit()).await?;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    case: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    reason: String,
}

/// `POST /patients/{patient}/transition/move`: conference held, home care started,
/// or the case ended (with its reason).
pub async fn move_case(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<MoveForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let event = match f.event.as_str() {
            "hold_conference" => TransitionEvent::HoldConference,
            "start_home_care" => TransitionEvent::StartHomeCare,
            "end" => TransitionEvent::End(EndReason::parse(&f.reason)?),
            _ => return Err(AppError::Invalid(Invalid::one("event", "err-invalid-choice"))),
        };
        state.store.move_case(&g, &f.case, event, "", &ctx.audit()).await?;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct DischargeForm {
    #[serde(default)]
    case: String,
    #[serde(default)]
    diagnoses: String,
    #[serde(default)]
    summary: String,
}

/// `POST /patients/{patient}/transition/discharge`: the one action of the day of
/// discharge. Files the conference sheet and the discharge summary on the chart as
/// PDFs, sends a referral letter (with both attached) to the chosen home physician,
/// visiting-nurse station and care manager, which opens the chart to each, and moves
/// the case to "discharged home". Everything that can be refused is checked first, so
/// a refusal changes nothing.
pub async fn discharge(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
    Form(f): Form<DischargeForm>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let (state, ctx, me) = (&state, &ctx, &me);
    write_then_show(state, ctx, me, pid, |g| async move {
        let case = state.store.case_for(&g).await?.filter(|c| c.id == f.case).ok_or(AppError::NotFound)?;
        if case.stage != TransitionStage::ConferenceHeld {
            return Err(AppError::Conflict(tsunagu_domain::FieldError::new("stage", "err-transition-stage")));
        }
        let mut inv = Invalid::default();
        if f.diagnoses.trim().is_empty() {
            inv.push("diagnoses", "err-letter-diagnoses-required");
        }
        if f.summary.trim().is_empty() {
            inv.push("summary", "err-required");
        }
        inv.into_result()?;
        let Some(physician) = case.chosen(CommunityRole::HomePhysician) else {
            return Err(AppError::Conflict(tsunagu_domain::FieldError::new(
                "home_physician",
                "err-home-physician-none",
            )));
        };
        let sheet = case.conference.as_ref().map(|c| c.sheet.clone()).unwrap_or_default();
        // The letters, checked before anything is filed or sent.
        let mut letters = Vec::new();
        for role in CommunityRole::ALL {
            let Some((org, _)) = case.chosen(role) else { continue };
            let mut body = crate::letters::prefill(state, &g, LetterKind::Referral, None).await?;
            let _ = body.set("purpose", referral_purpose(role).to_string());
            let _ = body.set("diagnoses", f.diagnoses.trim().to_string());
            let _ = body.set("present_illness", f.summary.trim().replace("\r\n", "\n"));
            if !sheet.medications_devices.trim().is_empty() {
                let _ = body.set("medications", sheet.medications_devices.clone());
            }
            let _ = body.set("social_history", sheet.family_wishes.clone());
            let content =
                LetterContent { to_org: org, to_person: None, role: role.team_role(), body, attachments: Vec::new() };
            state.store.check_sendable(&g, &content).await?;
            letters.push(content);
        }
        let _ = physician;
        let patient = state.store.patient(&g).await?;
        let hospital = state.store.get_org(case.hospital_org_id).await?;
        let sheet_pdf = crate::letters::render_pdf(conference_doc(&patient, &hospital, &case, &sheet)).await?;
        let summary_doc = summary_doc(&patient, &hospital, &case, &f.diagnoses, &f.summary, &sheet);
        let summary_pdf = crate::letters::render_pdf(summary_doc).await?;
        let day = state.store.clock().today_jst();
        let sheet_entry = crate::pages::chart::store_document(
            state,
            &g,
            &sheet_pdf,
            &format!("conference-sheet-{day}.pdf"),
            DocumentType::ConferenceSheet,
            Some("退院前カンファレンス記録".into()),
            None,
            ctx,
        )
        .await?;
        let summary_entry = crate::pages::chart::store_document(
            state,
            &g,
            &summary_pdf,
            &format!("discharge-summary-{day}.pdf"),
            DocumentType::DischargeSummary,
            Some("退院時サマリー".into()),
            None,
            ctx,
        )
        .await?;
        for mut content in letters {
            content.attachments = vec![sheet_entry.entry_id.clone(), summary_entry.entry_id.clone()];
            let g =
                state.store.open_chart(&me.principal, pid, ChartAction::Refer, "letter.compose", &ctx.audit()).await?;
            crate::letters::write(state, ctx, &me.principal, &g, Draft::New, content, true).await?;
        }
        state.store.move_case(&g, &case.id, TransitionEvent::Discharge, "", &ctx.audit()).await?;
        Ok(())
    })
    .await
}

fn referral_purpose(role: CommunityRole) -> &'static str {
    match role {
        CommunityRole::HomePhysician => "退院後の訪問診療（在宅医療）をお願いいたします。",
        CommunityRole::VisitingNurse => "退院後の訪問看護をお願いいたします。",
        CommunityRole::CareManager => "退院後の在宅療養について、ケアプランの作成と調整をお願いいたします。",
    }
}

fn patient_table(p: &PatientRow) -> Vec<(String, String)> {
    let tr = Tr::new(Locale::Ja);
    vec![
        ("氏名".into(), format!("{} {}", p.family_name, p.given_name)),
        ("フリガナ".into(), format!("{} {}", p.family_kana, p.given_kana)),
        ("生年月日".into(), tr.birth_date(&p.birth_date)),
        ("性別".into(), tr.label("sex", p.sex.as_str())),
        ("住所".into(), p.address.clone().unwrap_or_default()),
    ]
}

/// The conference sheet as a document (always in Japanese: the community team reads it).
pub fn conference_doc(
    p: &PatientRow,
    hospital: &tsunagu_store::OrgRow,
    case: &CaseView,
    sheet: &ConferenceSheet,
) -> tsunagu_print::PrintDoc {
    let tr = Tr::new(Locale::Ja);
    let when = case.conference.as_ref().map(|c| c.scheduled_at.replace('T', " ")).unwrap_or_default();
    let place = case.conference.as_ref().map(|c| c.place.clone()).unwrap_or_default();
    let participants = case.conference.as_ref().map(|c| c.participants.clone()).unwrap_or_default();
    let mut sections = vec![("日時・場所".to_string(), format!("{when}　{place}")), ("参加予定".into(), participants)];
    sections.extend(
        sheet
            .fields()
            .iter()
            .map(|(name, text)| (tr.t(&format!("sheet-{}", name.replace('_', "-"))), text.to_string())),
    );
    tsunagu_print::PrintDoc {
        title: "退院前カンファレンス記録".into(),
        // The day of the conference, as the sheet records that meeting.
        date: tsunagu_domain::era::format_ja(
            case.conference
                .as_ref()
                .and_then(|c| c.scheduled_at.get(..10).and_then(parse_iso_date))
                .unwrap_or(case.planned_discharge),
        ),
        addressee: vec![],
        sender: vec![hospital.name.clone(), hospital.phone.clone().unwrap_or_default()],
        patient: patient_table(p),
        sections,
        footer: format!("退院予定日 {}", case.planned_discharge),
    }
}

fn summary_doc(
    p: &PatientRow,
    hospital: &tsunagu_store::OrgRow,
    case: &CaseView,
    diagnoses: &str,
    summary: &str,
    sheet: &ConferenceSheet,
) -> tsunagu_print::PrintDoc {
    tsunagu_print::PrintDoc {
        title: "退院時サマリー".into(),
        date: tsunagu_domain::era::format_ja(case.planned_discharge),
        addressee: vec![],
        sender: vec![hospital.name.clone(), hospital.phone.clone().unwrap_or_default()],
        patient: patient_table(p),
        sections: vec![
            ("傷病名".into(), diagnoses.trim().to_string()),
            ("入院経過・退院時の状態".into(), summary.trim().replace("\r\n", "\n")),
            ("症状と対応".into(), sheet.symptom_plan.clone()),
            ("薬剤・医療機器".into(), sheet.medications_devices.clone()),
            ("夜間の対応と連絡先".into(), sheet.night_plan.clone()),
        ],
        footer: String::new(),
    }
}

/// `GET /patients/{patient}/transition/sheet.pdf`: the conference sheet as it is now.
pub async fn sheet_pdf(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Path(raw): Path<String>,
) -> AppResult<Response> {
    let pid = patient_id(&raw)?;
    let g = state.store.open_chart(&me.principal, pid, ChartAction::Read, "conference.pdf", &ctx.audit()).await?;
    let case = state.store.case_for(&g).await?.ok_or(AppError::NotFound)?;
    let conf = case.conference.as_ref().ok_or(AppError::NotFound)?;
    let patient = state.store.patient(&g).await?;
    let hospital = state.store.get_org(case.hospital_org_id).await?;
    let bytes = crate::letters::render_pdf(conference_doc(&patient, &hospital, &case, &conf.sheet)).await?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    r.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"conference-sheet.pdf\""));
    Ok(r)
}

// --- the hospital's list and the region's figures ---------------------------------

#[derive(Template)]
#[template(path = "transitions.html")]
pub struct TransitionsPage {
    pub chrome: Chrome,
    pub rows: Vec<CandidateRow>,
    pub wards: Vec<String>,
    pub ward: String,
    pub stage: String,
    pub candidate_stages: Vec<(&'static str, String)>,
    pub today: Date,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    ward: String,
    #[serde(default)]
    stage: String,
}

/// `GET /transitions`: the hospital's candidates, by ward and stage.
pub async fn list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let tr = ctx.tr();
    let stage = CandidateStage::parse(&q.stage).ok();
    let filter = CandidateFilter { ward: Some(q.ward.trim().to_string()).filter(|w| !w.is_empty()), stage };
    let rows = state.store.candidates(&me.principal, &filter, &ctx.audit()).await?;
    page(&TransitionsPage {
        chrome: me.chrome(&ctx, &state),
        rows,
        wards: state.store.candidate_wards(&me.principal).await?,
        ward: q.ward,
        stage: stage.map(|s| s.as_str().to_string()).unwrap_or_default(),
        candidate_stages: CandidateStage::ALL
            .iter()
            .map(|s| (s.as_str(), tr.label("candidate-stage", s.as_str())))
            .collect(),
        today: state.store.clock().today_jst(),
    })
}

#[derive(Template)]
#[template(path = "transition_stats.html")]
pub struct StatsPage {
    pub chrome: Chrome,
    pub scope: String,
    pub years: Vec<TransitionStats>,
}

impl StatsPage {
    pub fn median(&self, s: &TransitionStats) -> String {
        s.median_days().map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into())
    }
    pub fn end_label(&self, r: &EndReason) -> String {
        self.chrome.tr.label("end-reason", r.as_str())
    }
}

/// `GET /transitions/stats`: the figures the region reports, for this and the two
/// previous fiscal years: the operator sees the region, a hospital its own.
pub async fn stats(State(state): State<AppState>, ctx: RequestCtx, me: Signed) -> AppResult<Response> {
    let org = if me.principal.operator { None } else { Some(me.principal.org) };
    let scope = match org {
        None => ctx.tr().t("stats-region"),
        Some(o) => state.store.get_org(o).await?.name,
    };
    let mut years = Vec::new();
    for y in super::fiscal_years(&state, None).1 {
        years.push(state.store.transition_stats(org, y).await?);
    }
    page(&StatsPage { chrome: me.chrome(&ctx, &state), scope, years })
}
