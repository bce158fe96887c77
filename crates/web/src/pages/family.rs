//! The family's pages (issue #10), made for a phone: accepting an invitation, signing
//! in, the home page (the care team with its contacts, night-time first; upcoming
//! visits; documents the team shared), the home diary and the family thread. A family
//! account reaches nothing else: these handlers take a [`FamilySigned`], which only a
//! family session under `/family/` yields, and every store call is bound to the one
//! patient of the account.

use super::{FormErrors, local_datetime, local_now, refused};
use crate::error::{AppError, AppResult};
use crate::family_auth::{FamilySigned, family_cookie, start_family_session};
use crate::middleware::RequestCtx;
use crate::password::{hash_password, sha256_hex, verify_password};
use crate::state::AppState;
use crate::view::{Chrome, field_messages, page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Duration;
use tsunagu_domain::Invalid;
use tsunagu_domain::family::DiaryInput;
use tsunagu_store::{DiaryPhoto, DiaryRow, FamilyHome, FamilyMessageRow, NewFamilyAccount};

fn chrome(state: &AppState, ctx: &RequestCtx, me: Option<&FamilySigned>) -> Chrome {
    Chrome {
        tr: ctx.tr(),
        here: ctx.here.clone(),
        signed_in: false,
        user_name: me.map(|m| m.principal.display_name.clone()).unwrap_or_default(),
        csrf: me.map(|m| m.csrf.clone()).unwrap_or_default(),
        demo_banner: state.config.demo_banner,
        request_id: ctx.request_id.clone(),
        ..Default::default()
    }
}

// --- accepting an invitation ---------------------------------------------------------

#[derive(Template)]
#[template(path = "family_welcome.html")]
pub struct WelcomePage {
    pub chrome: Chrome,
    pub token: String,
    pub invitee: String,
    pub relation: String,
    pub form: WelcomeForm,
    pub errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct WelcomeForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing)]
    pub password: String,
    #[serde(default, skip_serializing)]
    pub password_again: String,
}

/// `GET /f/{token}`: the invitation, and the form that makes the account. A used,
/// expired, revoked or unknown link is the same 404.
pub async fn welcome(State(state): State<AppState>, ctx: RequestCtx, Path(token): Path<String>) -> AppResult<Response> {
    let inv = state.store.family_invitation_by_token(&sha256_hex(&token)).await?;
    let form = WelcomeForm { display_name: inv.invitee.clone(), ..WelcomeForm::default() };
    page(&WelcomePage {
        chrome: chrome(&state, &ctx, None),
        token,
        invitee: inv.invitee,
        relation: inv.relation,
        form,
        errors: FormErrors::default(),
    })
}

/// `POST /f/{token}`: make the account (once) and sign in.
pub async fn accept(
    State(state): State<AppState>,
    ctx: RequestCtx,
    Path(token): Path<String>,
    Form(f): Form<WelcomeForm>,
) -> AppResult<Response> {
    let hash = sha256_hex(&token);
    let inv = state.store.family_invitation_by_token(&hash).await?;
    let result: AppResult<tsunagu_store::FamilyPrincipal> = async {
        let mut bad = Invalid::default();
        bad.merge(tsunagu_domain::person::check_new_password(&f.password));
        if f.password != f.password_again {
            bad.push("password_again", "err-password-mismatch");
        }
        bad.merge(tsunagu_domain::family::login(&f.login));
        bad.into_result()?;
        let (pw, c) = (f.password.clone(), state.config.clone());
        let pw_hash = tokio::task::spawn_blocking(move || hash_password(&pw, c.argon2_m_kib, c.argon2_t, c.argon2_p))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let account = NewFamilyAccount {
            token_hash: &hash,
            login: &f.login,
            display_name: &f.display_name,
            password_hash: &pw_hash,
        };
        Ok(state.store.accept_family_invitation(&account, &ctx.audit()).await?)
    }
    .await;
    match result {
        Ok(fp) => {
            let id = start_family_session(&state, &fp).await?;
            let mut r = Redirect::to("/family").into_response();
            r.headers_mut().insert(header::SET_COOKIE, family_cookie(&state, Some(&id)));
            Ok(r)
        }
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e)?));
            let form = WelcomeForm { password: String::new(), password_again: String::new(), ..f };
            let p = WelcomePage {
                chrome: chrome(&state, &ctx, None),
                token,
                invitee: inv.invitee,
                relation: inv.relation,
                form,
                errors,
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

// --- signing in and out ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "family_signin.html")]
pub struct SigninPage {
    pub chrome: Chrome,
    pub login: String,
    pub error: String,
}

pub async fn signin_form(State(state): State<AppState>, ctx: RequestCtx) -> AppResult<Response> {
    page(&SigninPage { chrome: chrome(&state, &ctx, None), login: String::new(), error: String::new() })
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// `POST /family/signin`, throttled per account and per address like staff sign-in.
pub async fn signin(State(state): State<AppState>, ctx: RequestCtx, Form(f): Form<SigninForm>) -> AppResult<Response> {
    let tr = ctx.tr();
    let fail = |key: &str, status: StatusCode| -> AppResult<Response> {
        render(status, &SigninPage { chrome: chrome(&state, &ctx, None), login: f.login.clone(), error: tr.t(key) })
    };
    let login = f.login.trim().to_lowercase();
    let account_key = format!("family:{login}");
    let ip_key = format!("ip:{}", ctx.ip.as_deref().unwrap_or("-"));
    let since = state.store.now() - Duration::seconds(state.config.failure_window.as_secs() as i64);
    let throttled = state.store.recent_signin_failures(&account_key, since).await?
        >= state.config.max_failures_per_account
        || state.store.recent_signin_failures(&ip_key, since).await? >= state.config.max_failures_per_ip;
    if throttled {
        state.store.audit_family_signin(None, &login, &ctx.audit()).await?;
        return fail("signin-throttled", StatusCode::TOO_MANY_REQUESTS);
    }
    let found = state.store.family_signin_lookup(&login).await?;
    let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(|| crate::password::dummy_hash().to_string());
    let pw = f.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash)).await.unwrap_or(false);
    match found {
        Some((fp, _)) if ok => {
            state.store.clear_signin_failures(&account_key).await?;
            state.store.audit_family_signin(Some(&fp), &login, &ctx.audit()).await?;
            let id = start_family_session(&state, &fp).await?;
            let mut r = Redirect::to("/family").into_response();
            r.headers_mut().insert(header::SET_COOKIE, family_cookie(&state, Some(&id)));
            Ok(r)
        }
        _ => {
            state.store.record_signin_failure(&account_key).await?;
            state.store.record_signin_failure(&ip_key).await?;
            state.store.audit_family_signin(None, &login, &ctx.audit()).await?;
            fail("signin-failed", StatusCode::UNAUTHORIZED)
        }
    }
}

pub async fn signout(State(state): State<AppState>, me: FamilySigned) -> AppResult<Response> {
    state.store.delete_family_session(&me.session_hash).await?;
    let mut r = Redirect::to("/family/signin").into_response();
    r.headers_mut().insert(header::SET_COOKIE, family_cookie(&state, None));
    Ok(r)
}

// --- home --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "family_home.html")]
pub struct HomePage {
    pub chrome: Chrome,
    pub home: FamilyHome,
}

/// `GET /family`
pub async fn home(State(state): State<AppState>, ctx: RequestCtx, me: FamilySigned) -> AppResult<Response> {
    let home = state.store.family_home(&me.principal, &ctx.audit()).await?;
    page(&HomePage { chrome: chrome(&state, &ctx, Some(&me)), home })
}

/// `GET /family/documents/{attachment}`: a document the team shared.
pub async fn document(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: FamilySigned,
    Path(att): Path<String>,
) -> AppResult<Response> {
    let a = state.store.family_attachment(&me.principal, &att, &ctx.audit()).await?;
    let bytes =
        state.blobs.get(&a.sha256).await.map_err(|e| AppError::Internal(format!("attachment {}: {e}", a.id)))?;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let disposition = format!("attachment; filename*=UTF-8''{}", crate::view::urlencode(&a.filename));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

// --- the diary -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "family_diary.html")]
pub struct DiaryPage {
    pub chrome: Chrome,
    pub rows: Vec<DiaryRow>,
    pub form: DiaryForm,
    pub errors: FormErrors,
    pub threshold: i64,
    pub saved: bool,
}

impl DiaryPage {
    /// The 0-10 scale the form offers.
    pub fn scale(&self) -> std::ops::RangeInclusive<i64> {
        0..=10
    }
    /// The rated items, in the form's order.
    pub fn scales(&self) -> [&'static str; 3] {
        ["pain", "breathlessness", "sleep"]
    }
    /// Whether `n` is the value the form holds for `field` (shown again after a refusal).
    pub fn chosen(&self, field: &str, n: &i64) -> bool {
        let v = match field {
            "pain" => &self.form.pain,
            "breathlessness" => &self.form.breathlessness,
            _ => &self.form.sleep,
        };
        v.trim() == n.to_string()
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct DiaryForm {
    #[serde(default)]
    pub observed_at: String,
    #[serde(default)]
    pub pain: String,
    #[serde(default)]
    pub breathlessness: String,
    #[serde(default)]
    pub sleep: String,
    #[serde(default)]
    pub rescue_drug: String,
    #[serde(default)]
    pub rescue_at: String,
    #[serde(default)]
    pub note: String,
}

impl DiaryForm {
    fn rating(field: &'static str, raw: &str, inv: &mut Invalid) -> Option<i64> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                inv.push(field, "err-rating");
                None
            }
        }
    }

    fn input(&self) -> Result<DiaryInput, Invalid> {
        let mut inv = Invalid::default();
        let observed_at = inv.merge(local_datetime("observed_at", &self.observed_at)).flatten();
        if observed_at.is_none() && inv.is_empty() {
            inv.push("observed_at", "err-required");
        }
        let pain = Self::rating("pain", &self.pain, &mut inv);
        let breathlessness = Self::rating("breathlessness", &self.breathlessness, &mut inv);
        let sleep = Self::rating("sleep", &self.sleep, &mut inv);
        let rescue_at = inv.merge(local_datetime("rescue_at", &self.rescue_at)).flatten();
        inv.clone().into_result()?;
        let observed_at = observed_at.ok_or(inv)?;
        Ok(DiaryInput {
            observed_at,
            pain,
            breathlessness,
            sleep,
            rescue_drug: Some(self.rescue_drug.clone()),
            rescue_at,
            note: self.note.clone(),
        })
    }
}

async fn diary_page(
    state: &AppState,
    ctx: &RequestCtx,
    me: &FamilySigned,
    form: DiaryForm,
    errors: FormErrors,
    saved: bool,
) -> AppResult<DiaryPage> {
    Ok(DiaryPage {
        chrome: chrome(state, ctx, Some(me)),
        rows: state.store.family_diary(&me.principal, &ctx.audit()).await?,
        form,
        errors,
        threshold: state.config.diary_alert_threshold,
        saved,
    })
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `GET /family/diary`
pub async fn diary(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: FamilySigned,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> AppResult<Response> {
    let form = DiaryForm { observed_at: local_now(&state), ..DiaryForm::default() };
    page(&diary_page(&state, &ctx, &me, form, FormErrors::default(), q.saved.is_some()).await?)
}

/// Largest photo a family may add to a diary entry.
pub const MAX_PHOTO_BYTES: usize = super::chart::MAX_UPLOAD_BYTES;

/// The diary form as posted (multipart, for the photo): its fields, and the photo's
/// bytes if one was chosen; `Err` when the photo is too large.
async fn read_diary_form(mut mp: Multipart) -> (DiaryForm, Result<Option<Vec<u8>>, Invalid>) {
    let mut f = DiaryForm::default();
    let mut photo: Result<Option<Vec<u8>>, Invalid> = Ok(None);
    while let Ok(Some(mut field)) = mp.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let mut buf: Vec<u8> = Vec::new();
            while let Ok(Some(chunk)) = field.chunk().await {
                if buf.len() + chunk.len() > MAX_PHOTO_BYTES {
                    photo = Err(Invalid::one("file", "err-file-too-large"));
                    break;
                }
                buf.extend_from_slice(&chunk);
            }
            if photo.is_ok() && !buf.is_empty() {
                photo = Ok(Some(buf));
            }
            continue;
        }
        let text = field.text().await.unwrap_or_default();
        match name.as_str() {
            "observed_at" => f.observed_at = text,
            "pain" => f.pain = text,
            "breathlessness" => f.breathlessness = text,
            "sleep" => f.sleep = text,
            "rescue_drug" => f.rescue_drug = text,
            "rescue_at" => f.rescue_at = text,
            "note" => f.note = text,
            _ => {}
        }
    }
    (f, photo)
}

/// `POST /family/diary`: one entry, with a photo if one was taken. A rating at the
/// threshold alerts every organization on the team: their inbox, and mail for those
/// who chose it.
pub async fn record(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: FamilySigned,
    mp: Multipart,
) -> AppResult<Response> {
    let (f, photo) = read_diary_form(mp).await;
    let result: AppResult<(String, usize)> = async {
        let mut inv = Invalid::default();
        let input = inv.merge(f.input());
        let photo = inv.merge(photo).flatten();
        // Only photos: what the family's phone takes (JPEG or PNG), told from the bytes.
        let media = match &photo {
            Some(bytes) => match tsunagu_domain::media::sniff(bytes).filter(|m| m.is_image()) {
                Some(m) => Some(m),
                None => {
                    inv.push("file", "err-photo-type");
                    None
                }
            },
            None => None,
        };
        inv.into_result()?;
        let input = input.ok_or_else(|| AppError::Invalid(Invalid::one("observed_at", "err-required")))?;
        // Checked before the bytes are stored: a refused entry leaves nothing behind.
        let input = input.check(state.store.now())?;
        let stored = match (&photo, media) {
            (Some(bytes), Some(m)) => {
                let b = state.blobs.put(bytes).await.map_err(|e| AppError::Internal(e.to_string()))?;
                Some(DiaryPhoto { sha256: b.sha256, size: b.size as i64, media_type: m.mime().to_string() })
            }
            _ => None,
        };
        let threshold = state.config.diary_alert_threshold;
        Ok(state.store.add_diary_entry(&me.principal, input, threshold, stored.as_ref(), &ctx.audit()).await?)
    }
    .await;
    match result {
        Ok((_, queued)) => {
            // The notices were queued with the entry; wake the sender for them.
            if queued > 0 {
                state.mail_wake.notify_one();
            }
            Ok(Redirect::to("/family/diary?saved=1").into_response())
        }
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e)?));
            render(StatusCode::UNPROCESSABLE_ENTITY, &diary_page(&state, &ctx, &me, f, errors, false).await?)
        }
    }
}

#[derive(Deserialize)]
pub struct MistakeForm {
    #[serde(default)]
    reason: String,
}

/// `GET /family/diary/{entry}/photo`: the photo of one of the family's entries.
pub async fn photo(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: FamilySigned,
    Path(entry): Path<String>,
) -> AppResult<Response> {
    let p = state.store.family_diary_photo(&me.principal, &entry, &ctx.audit()).await?;
    photo_response(&state, &p).await
}

/// A diary photo's bytes, shown inline (it is an image, told from its bytes when stored).
pub async fn photo_response(state: &AppState, p: &DiaryPhoto) -> AppResult<Response> {
    let bytes = state.blobs.get(&p.sha256).await.map_err(|e| AppError::Internal(format!("diary photo: {e}")))?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&p.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    r.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Ok(r)
}

/// `POST /family/diary/{entry}/mistake`: the family marks its own entry as a mistake.
pub async fn mark_mistake(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: FamilySigned,
    Path(entry): Path<String>,
    Form(f): Form<MistakeForm>,
) -> AppResult<Response> {
    match state.store.mark_diary_entry(&me.principal, &entry, &f.reason, &ctx.audit()).await {
        Ok(()) => Ok(Redirect::to("/family/diary").into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e.into())?));
            let form = DiaryForm { observed_at: local_now(&state), ..DiaryForm::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &diary_page(&state, &ctx, &me, form, errors, false).await?)
        }
    }
}

// --- the family thread -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "family_messages.html")]
pub struct MessagesPage {
    pub chrome: Chrome,
    pub rows: Vec<FamilyMessageRow>,
    pub body: String,
    pub errors: FormErrors,
}

#[derive(Deserialize, Default)]
pub struct MessageForm {
    #[serde(default)]
    pub body: String,
}

/// `GET /family/messages`
pub async fn messages(State(state): State<AppState>, ctx: RequestCtx, me: FamilySigned) -> AppResult<Response> {
    let rows = state.store.family_thread(&me.principal, &ctx.audit()).await?;
    page(&MessagesPage {
        chrome: chrome(&state, &ctx, Some(&me)),
        rows,
        body: String::new(),
        errors: FormErrors::default(),
    })
}

/// `POST /family/messages`
pub async fn post_message(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: FamilySigned,
    Form(f): Form<MessageForm>,
) -> AppResult<Response> {
    match state.store.post_family_message(&me.principal, &f.body, &ctx.audit()).await {
        Ok(_) => Ok(Redirect::to("/family/messages#latest").into_response()),
        Err(e) => {
            let errors = FormErrors(field_messages(&ctx.tr(), &refused(e.into())?));
            let rows = state.store.family_thread(&me.principal, &ctx.audit()).await?;
            let p = MessagesPage { chrome: chrome(&state, &ctx, Some(&me)), rows, body: f.body, errors };
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}
