//! Letters for the pages and the API alike: reading what the writer filled in,
//! pre-filling a new letter from the chart, sending (which files the PDF on the chart),
//! and turning a letter into its PDF and its FHIR document.

use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, Tr};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use time::Date;
use tsunagu_domain::chart::{DocumentType, EntryBody, EntryKind};
use tsunagu_domain::letter::{LetterBody, LetterKind, LetterState};
use tsunagu_domain::patient::{TeamRole, parse_iso_date};
use tsunagu_domain::policy::ChartAction;
use tsunagu_domain::{Invalid, OrgId, PatientId};
use tsunagu_store::{ChartGrant, LetterContent, LetterView, TimelineFilter};

/// Read a letter's content from name/value pairs (a form, or the JSON API's fields
/// flattened): `to_org`, `to_person`, `role`, every field of the kind, `attachment`
/// (repeated). Unknown field names are ignored here (forms carry `csrf`, `action`).
pub fn content_from_pairs(kind: LetterKind, pairs: &[(String, String)]) -> Result<LetterContent, Invalid> {
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let mut inv = Invalid::default();
    let to_org: Option<OrgId> = match get("to_org").trim() {
        "" if kind == LetterKind::Reply => Some(OrgId(uuid::Uuid::nil())),
        "" => {
            inv.push("to_org", "err-letter-to-org-required");
            None
        }
        s => match s.parse() {
            Ok(o) => Some(o),
            Err(_) => {
                inv.push("to_org", "err-org-unknown");
                None
            }
        },
    };
    let role = match get("role").trim() {
        "" => Some(kind.usual_recipient_role()),
        s => inv.merge(TeamRole::parse(s)),
    };
    let mut body = LetterBody::empty(kind);
    let names: Vec<&'static str> = body.fields().iter().map(|f| f.name).collect();
    for name in names {
        // Only names taken from the kind's own fields: `set` cannot fail here.
        let _ = body.set(name, get(name).to_string());
    }
    // Findings picked from the chart are added to the lab results, once each.
    let mut labs = get("lab_results").to_string();
    for (_, pick) in pairs.iter().filter(|(k, _)| k == "lab_pick") {
        let pick = pick.trim();
        if !pick.is_empty() && !labs.contains(pick) {
            if !labs.trim().is_empty() {
                labs.push('\n');
            }
            labs.push_str(pick);
        }
    }
    if kind == LetterKind::Referral {
        let _ = body.set("lab_results", labs);
    }
    let attachments = pairs.iter().filter(|(k, _)| k == "attachment").map(|(_, v)| v.trim().to_string()).collect();
    inv.into_result()?;
    match (to_org, role) {
        (Some(to_org), Some(role)) => {
            Ok(LetterContent { to_org, to_person: Some(get("to_person").to_string()), role, body, attachments })
        }
        _ => Err(Invalid::one("to_org", "err-org-unknown")),
    }
}

/// A new letter's first draft, filled from the chart where it can be: the current
/// medication list, the writer's emergency contact, the referral being answered.
pub async fn prefill(
    state: &AppState,
    g: &ChartGrant,
    kind: LetterKind,
    answering: Option<&LetterView>,
) -> AppResult<LetterBody> {
    let mut body = LetterBody::empty(kind);
    let today = state.store.clock().today_jst();
    let meds = current_medications(state, g, today).await?;
    match kind {
        LetterKind::Referral => {
            let _ = body.set("medications", meds);
        }
        LetterKind::NursingInstruction => {
            let _ = body.set("medications", meds);
            let _ = body.set("period_from", today.to_string());
            let to = today.checked_add(time::Duration::days(30)).unwrap_or(today);
            let _ = body.set("period_to", to.to_string());
            let org = state.store.get_org(g.principal().org).await?;
            let contact =
                [org.name.clone(), org.phone.clone().unwrap_or_default(), org.night_phone.clone().unwrap_or_default()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
            let _ = body.set("emergency_contact", contact);
        }
        LetterKind::Reply => {
            if let Some(LetterBody::Referral(r)) = answering.map(|a| &a.content.body) {
                let _ = body.set("diagnoses", r.diagnoses.clone());
            }
        }
    }
    Ok(body)
}

/// Findings on the chart a referral can quote as its lab results, one line each, newest
/// first: recent vital signs and lab reports (structured lab results arrive with the
/// SS-MIX2 import). Worded in Japanese, the language of the letter.
pub async fn chart_findings(state: &AppState, g: &ChartGrant) -> AppResult<Vec<String>> {
    let tr = Tr::new(Locale::Ja);
    let mut out = Vec::new();
    let day = |ts: &str| tr.datetime(ts).get(..10).unwrap_or_default().to_string();
    let f = TimelineFilter { kind: Some(EntryKind::VitalSigns), limit: 5, ..TimelineFilter::default() };
    for e in state.store.timeline(g, &f).await?.into_iter().filter(|e| e.in_error.is_none()) {
        if let EntryBody::VitalSigns(v) = &e.body {
            let mut parts: Vec<String> = Vec::new();
            if let Some(t) = v.temperature_c {
                parts.push(format!("{} {t}℃", tr.t("field-temperature-c")));
            }
            if let Some(p) = v.pulse_bpm {
                parts.push(format!("{} {p}", tr.t("field-pulse-bpm")));
            }
            if let (Some(s), Some(d)) = (v.bp_systolic, v.bp_diastolic) {
                parts.push(format!("{} {s}/{d}", tr.t("letter-pick-bp")));
            }
            if let Some(r) = v.respiration_rate {
                parts.push(format!("{} {r}", tr.t("field-respiration-rate")));
            }
            if let Some(o) = v.spo2 {
                parts.push(format!("SpO2 {o}%"));
            }
            if let Some(n) = v.pain_nrs {
                parts.push(format!("NRS {n}"));
            }
            if !parts.is_empty() {
                out.push(format!("{} {}", day(&e.recorded_at), parts.join(" ")));
            }
        }
    }
    let f = TimelineFilter { kind: Some(EntryKind::Document), limit: 100, ..TimelineFilter::default() };
    for e in state.store.timeline(g, &f).await?.into_iter().filter(|e| e.in_error.is_none()) {
        if let EntryBody::Document(d) = &e.body
            && d.doc_type == DocumentType::LabReport
        {
            out.push(format!("{} {}: {}", day(&e.recorded_at), tr.t("doc-type-lab-report"), d.title));
        }
    }
    Ok(out)
}

/// The chart's current medication list (the newest one not entered in error), one
/// line per drug still given today.
pub(crate) async fn current_medications(state: &AppState, g: &ChartGrant, today: Date) -> AppResult<String> {
    let f = TimelineFilter { kind: Some(EntryKind::MedicationList), limit: 10, ..TimelineFilter::default() };
    let lists = state.store.timeline(g, &f).await?;
    let Some(EntryBody::MedicationList(m)) = lists.into_iter().find(|e| e.in_error.is_none()).map(|e| e.body) else {
        return Ok(String::new());
    };
    Ok(m.items
        .iter()
        .filter(|i| i.stop.is_none_or(|s| s >= today))
        .map(|i| {
            [i.drug.as_str(), i.dose.as_str(), i.route.as_str(), i.frequency.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The server's address as the request reached it: the scheme from the deployment (TLS
/// behind a proxy sets `secure_cookies`), the host from the request.
pub fn base_url(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    let scheme = if state.config.secure_cookies { "https" } else { "http" };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// Which draft a form or API call writes.
pub enum Draft<'a> {
    New,
    /// A saved draft: its id, the version the writer started from, its content now.
    Saved {
        id: &'a str,
        expected_version: Option<i64>,
        current: &'a LetterContent,
    },
}

/// Save what the writer filled in (a new draft, or a new version of a saved one, unless
/// nothing changed) and send it when asked. A letter that cannot be sent is not saved
/// either: the send is checked first. For the page and the API alike.
pub async fn write(
    state: &AppState,
    ctx: &RequestCtx,
    who: &tsunagu_domain::policy::Principal,
    g: &ChartGrant,
    draft: Draft<'_>,
    content: LetterContent,
    and_send: bool,
) -> AppResult<String> {
    if and_send {
        state.store.check_sendable(g, &content).await?;
    }
    let id = match draft {
        Draft::New => state.store.create_letter(g, content, None, &ctx.audit()).await?,
        Draft::Saved { id, expected_version, current } => {
            if content != *current {
                state.store.save_letter(g, id, content, expected_version, &ctx.audit()).await?;
            }
            id.to_string()
        }
    };
    if and_send {
        send(state, ctx, who, g.patient(), &id).await?;
    }
    Ok(id)
}

/// Send a draft, then file its PDF on the chart. The letter is sent (and the chart
/// opened to the recipient) even if filing the PDF fails: the PDF can always be made
/// again from the letter, and the failure is logged.
pub async fn send(
    state: &AppState,
    ctx: &RequestCtx,
    who: &tsunagu_domain::policy::Principal,
    pid: PatientId,
    id: &str,
) -> AppResult<tsunagu_store::Sent> {
    let g = state.store.open_chart(who, pid, ChartAction::Refer, "letter.send", &ctx.audit()).await?;
    let sent = state.store.send_letter(&g, id, &ctx.audit()).await?;
    if let Ok(view) = state.store.letter(&g, id).await {
        let to = tsunagu_store::Recipients::Orgs(vec![view.summary.to_org_id]);
        crate::mail::notify(
            state,
            to,
            tsunagu_domain::family::NotificationCategory::Referral,
            "/letters",
            Some(who.user),
        )
        .await;
    }
    if let Err(e) = file_pdf(state, ctx, who, pid, id).await {
        tracing::error!(letter = %id, error = ?e, "the letter was sent but its PDF could not be filed on the chart");
    }
    Ok(sent)
}

async fn file_pdf(
    state: &AppState,
    ctx: &RequestCtx,
    who: &tsunagu_domain::policy::Principal,
    pid: PatientId,
    id: &str,
) -> AppResult<()> {
    let g = state.store.open_chart(who, pid, ChartAction::Write, "letter.document", &ctx.audit()).await?;
    let view = state.store.letter(&g, id).await?;
    let bytes = pdf(state, &g, &view).await?;
    let tr = Tr::new(Locale::Ja);
    let title = format!("{}（{}）", tr.label("letter-title", view.summary.kind.as_str()), view.summary.to_org_name);
    let doc_type = match view.summary.kind {
        LetterKind::NursingInstruction => DocumentType::NursingInstruction,
        _ => DocumentType::ReferralLetter,
    };
    let filename = format!(
        "{}-{}.pdf",
        view.summary.kind.as_str(),
        view.summary.sent_at.as_deref().and_then(|s| s.get(..10)).unwrap_or("draft")
    );
    let e = crate::pages::chart::store_document(state, &g, &bytes, &filename, doc_type, Some(title), None, ctx).await?;
    state.store.set_letter_document(&g, id, &e.entry_id, &ctx.audit()).await?;
    Ok(())
}

/// The letter as a PDF in the usual Japanese layout (always in Japanese: it is read
/// by the recipient, whatever language the writer's screen is in).
pub async fn pdf(state: &AppState, g: &ChartGrant, view: &LetterView) -> AppResult<Vec<u8>> {
    render_pdf(print_doc(state, g, view).await?).await
}

/// Lay a document out as PDF off the async threads (typst blocks for tens of ms).
pub async fn render_pdf(doc: tsunagu_print::PrintDoc) -> AppResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || tsunagu_print::render_pdf(&doc))
        .await
        .map_err(|e| AppError::Internal(format!("pdf task: {e}")))?
        .map_err(|e| AppError::Internal(format!("pdf: {e}")))
}

fn ja_date(ts: Option<&str>, fallback: Date) -> String {
    let d = ts
        .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| t.to_offset(time::macros::offset!(+9)).date())
        .unwrap_or(fallback);
    tsunagu_domain::era::format_ja(d)
}

async fn print_doc(state: &AppState, g: &ChartGrant, view: &LetterView) -> AppResult<tsunagu_print::PrintDoc> {
    let tr = Tr::new(Locale::Ja);
    let s = &view.summary;
    let patient = state.store.patient(g).await?;
    let from = state.store.get_org(s.from_org_id).await?;
    let writer = state.store.user_by_id(s.from_user_id).await?;
    let today = state.store.clock().today_jst();
    let mut addressee = vec![s.to_org_name.clone()];
    match s.to_person.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => addressee.push(format!("{p} 御侍史")),
        None => {
            if let Some(first) = addressee.first_mut() {
                first.push_str(" 御中");
            }
        }
    }
    let mut sender = vec![from.name.clone()];
    let address = [from.postal_code.as_deref().map(|z| format!("〒{z}")), from.address.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !address.is_empty() {
        sender.push(address);
    }
    if let Some(p) = &from.phone {
        sender.push(format!("TEL {p}"));
    }
    sender.push(format!("{} {}", tr.label("profession", writer.profession.as_str()), writer.display_name));
    let age = tsunagu_domain::era::age_on(patient.birth_date, today);
    let patient_rows = vec![
        (tr.t("field-name"), format!("{} {}", patient.family_name, patient.given_name)),
        (tr.t("field-name-kana"), format!("{} {}", patient.family_kana, patient.given_kana)),
        (
            tr.t("field-birth-date"),
            format!(
                "{}（{}）",
                tsunagu_domain::era::format_ja(patient.birth_date),
                tr.t1("age-years", "age", &age.to_string())
            ),
        ),
        (tr.t("field-sex"), tr.label("sex", patient.sex.as_str())),
        (
            tr.t("field-address"),
            [patient.postal_code.as_deref().map(|z| format!("〒{z}")), patient.address.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    let mut sections: Vec<(String, String)> = Vec::new();
    if let LetterBody::NursingInstruction(n) = &view.content.body {
        let d = |v: &str| parse_iso_date(v).map(tsunagu_domain::era::format_ja).unwrap_or_else(|| v.to_string());
        sections.push((tr.t("letter-field-period"), format!("{} 〜 {}", d(&n.period_from), d(&n.period_to))));
    }
    for f in view.content.body.fields() {
        if matches!(f.name, "period_from" | "period_to") {
            continue;
        }
        sections.push((tr.label("field", f.name), f.text.to_string()));
    }
    if !view.attachments.is_empty() {
        let list = view
            .attachments
            .iter()
            .map(|a| format!("・{}（{}）", a.title, tr.label("doc-type", a.doc_type.as_str())))
            .collect::<Vec<_>>()
            .join("\n");
        sections.push((tr.t("field-attachments"), list));
    }
    let state_note = match s.state {
        LetterState::Draft => format!(" · {}", tr.t("letter-state-draft")),
        _ => String::new(),
    };
    Ok(tsunagu_print::PrintDoc {
        title: tr.label("letter-title", s.kind.as_str()),
        date: ja_date(s.sent_at.as_deref(), today),
        addressee,
        sender,
        patient: patient_rows,
        sections,
        footer: format!("tsunagu · {} · v{}{state_note}", s.id, s.version),
    })
}

/// The letter as a FHIR R4 document Bundle (JP eReferral structure). `base` is the
/// server's address as the caller reached it (`https://host`): attachments are named by
/// absolute URL in the document.
pub async fn fhir_bundle(
    state: &AppState,
    g: &ChartGrant,
    view: &LetterView,
    base: &str,
) -> AppResult<serde_json::Value> {
    Ok(tsunagu_fhir::letter_bundle(&letter_document(state, g, view, base).await?))
}

/// What the document Bundle of a letter is made from: the letter and everything it
/// names (patient, writer, both organizations, attachments by absolute URL). The FHIR
/// API's Composition is made from the same document, so the two never differ.
pub async fn letter_document<'a>(
    state: &AppState,
    g: &ChartGrant,
    view: &'a LetterView,
    base: &str,
) -> AppResult<tsunagu_fhir::LetterDocument<'a>> {
    let s = &view.summary;
    let patient = state.store.patient(g).await?;
    let mut local_ids = Vec::new();
    for i in state.store.identifiers(g).await? {
        let code = state.store.get_org(i.org_id).await.ok().and_then(|o| o.code);
        local_ids.push((code, i.local_id));
    }
    let org_info = |o: tsunagu_store::OrgRow| tsunagu_fhir::OrgInfo {
        id: o.id.to_string(),
        name: o.name,
        institution_code: o.code,
        postal_code: o.postal_code,
        address: o.address,
        phone: o.phone,
    };
    let writer = state.store.user_by_id(s.from_user_id).await?;
    let attachments = view
        .attachments
        .iter()
        .flat_map(|a| {
            a.files.iter().map(move |f| tsunagu_fhir::AttachmentInfo {
                entry_id: a.entry_id.clone(),
                title: a.title.clone(),
                doc_type: a.doc_type.as_str().to_string(),
                media_type: f.media_type.clone(),
                size: f.size,
                sha256_hex: f.sha256.clone(),
                url: format!("{base}/api/v1/patients/{}/attachments/{}", g.patient(), f.id),
                created_at: a.recorded_at.clone(),
            })
        })
        .collect();
    let issued_at = s.sent_at.clone().unwrap_or_else(|| s.created_at.clone());
    let doc = tsunagu_fhir::LetterDocument {
        letter_id: s.id.clone(),
        version: s.version,
        issued_at,
        body: &view.content.body,
        in_reply_to: s.in_reply_to.clone(),
        patient: tsunagu_fhir::PatientInfo {
            id: patient.id.to_string(),
            family_name: patient.family_name,
            given_name: patient.given_name,
            family_kana: patient.family_kana,
            given_kana: patient.given_kana,
            sex: patient.sex,
            birth_date: patient.birth_date.to_string(),
            postal_code: patient.postal_code,
            address: patient.address,
            phone: patient.phone,
            local_ids,
        },
        author: tsunagu_fhir::PersonInfo {
            id: writer.id.to_string(),
            name: writer.display_name,
            name_kana: writer.name_kana,
            profession: writer.profession.as_str().to_string(),
        },
        author_org: org_info(state.store.get_org(s.from_org_id).await?),
        recipient_org: org_info(state.store.get_org(s.to_org_id).await?),
        recipient_person: s.to_person.clone(),
        attachments,
    };
    Ok(doc)
}
