//! The route table. Every route is registered with its scope, so that tests can walk
//! all of them (the outsider sweep fails when a patient route is added without being
//! covered).

use crate::state::AppState;
use crate::{api, api_chart, api_letters, auth, fhir, middleware, pages};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post, put};
use std::sync::Arc;
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No sign-in needed and no patient data (health, assets, sign-in page).
    Public,
    /// Signed in; no single patient's data.
    Authenticated,
    /// Signed in; reaches one patient's data through the access policy. The path has a
    /// `{patient}` segment.
    Patient,
    /// An organization administrator's pages.
    OrgAdmin,
    /// The network operator's pages.
    Operator,
    /// A family account's pages, under `/family/`: only a family session reaches them,
    /// and they reach only that account's patient.
    Family,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub scope: Scope,
}

struct Table {
    router: Router<AppState>,
    routes: Vec<RouteInfo>,
}

impl Table {
    fn add(mut self, method: &'static str, path: &'static str, scope: Scope, handler: MethodRouter<AppState>) -> Self {
        self.routes.push(RouteInfo { method, path, scope });
        self.router = self.router.route(path, handler);
        self
    }
}

fn table() -> Table {
    use Scope::*;
    let t = Table { router: Router::new(), routes: Vec::new() };
    t.add("GET", "/healthz", Public, get(pages::system::healthz))
        .add("GET", "/metrics", Public, get(pages::system::metrics))
        .add("GET", "/static/{file}", Public, get(pages::system::asset))
        .add("GET", "/lang", Public, get(pages::system::switch_language))
        .add("GET", "/signin", Public, get(pages::signin::form))
        .add("POST", "/signin", Public, post(pages::signin::submit))
        .add("GET", "/s/{token}", Public, get(pages::surveys::open))
        .add("POST", "/s/{token}", Public, post(pages::surveys::answer))
        .add("GET", "/signin/code", Public, get(pages::second_factor::code_form))
        .add("POST", "/signin/code", Public, post(pages::second_factor::code_submit))
        .add("GET", "/signin/enrol", Public, get(pages::second_factor::enrol_form))
        .add("POST", "/signin/enrol", Public, post(pages::second_factor::enrol_submit))
        .add("POST", "/signin/passkey/options", Public, post(pages::passkeys::signin_options))
        .add("POST", "/signin/passkey", Public, post(pages::passkeys::signin_finish))
        .add("GET", "/f/{token}", Public, get(pages::family::welcome))
        .add("POST", "/f/{token}", Public, post(pages::family::accept))
        .add("GET", "/family/signin", Public, get(pages::family::signin_form))
        .add("POST", "/family/signin", Public, post(pages::family::signin))
        .add("POST", "/family/signout", Family, post(pages::family::signout))
        .add("GET", "/family", Family, get(pages::family::home))
        .add("GET", "/family/diary", Family, get(pages::family::diary))
        .add(
            "POST",
            "/family/diary",
            Family,
            post(pages::family::record).layer(DefaultBodyLimit::max(pages::family::MAX_PHOTO_BYTES + 64 * 1024)),
        )
        .add("GET", "/family/diary/{entry}/photo", Family, get(pages::family::photo))
        .add("POST", "/family/diary/{entry}/mistake", Family, post(pages::family::mark_mistake))
        .add("GET", "/family/messages", Family, get(pages::family::messages))
        .add("POST", "/family/messages", Family, post(pages::family::post_message))
        .add("GET", "/family/documents/{attachment}", Family, get(pages::family::document))
        .add("GET", "/today", Authenticated, get(pages::today::show))
        .add("GET", "/account/notifications", Authenticated, get(pages::notifications::show))
        .add("POST", "/account/notifications", Authenticated, post(pages::notifications::save))
        .add("GET", "/reauth", Authenticated, get(pages::second_factor::reauth_form))
        .add("POST", "/reauth", Authenticated, post(pages::second_factor::reauth_submit))
        .add("GET", "/account", Authenticated, get(pages::account::show))
        .add("GET", "/account/authenticator", Authenticated, get(pages::account::setup_form))
        .add("POST", "/account/authenticator", Authenticated, post(pages::account::setup_submit))
        .add("POST", "/account/authenticator/remove", Authenticated, post(pages::account::remove))
        .add("POST", "/account/recovery-codes", Authenticated, post(pages::account::new_recovery_codes))
        .add("POST", "/reauth/passkey/options", Authenticated, post(pages::passkeys::reauth_options))
        .add("POST", "/reauth/passkey", Authenticated, post(pages::passkeys::reauth_finish))
        .add("GET", "/account/passkeys/new", Authenticated, get(pages::passkeys::add_form))
        .add("POST", "/account/passkeys/options", Authenticated, post(pages::passkeys::add_options))
        .add("POST", "/account/passkeys", Authenticated, post(pages::passkeys::add_finish))
        .add("POST", "/account/passkeys/{passkey}/remove", Authenticated, post(pages::passkeys::remove))
        .add("POST", "/signout", Authenticated, post(pages::signin::signout))
        .add("POST", "/signout-everywhere", Authenticated, post(pages::signin::signout_everywhere))
        .add("POST", "/org/switch", Authenticated, post(pages::signin::switch_org))
        .add("GET", "/", Authenticated, get(pages::patients::home))
        .add("GET", "/patients", Authenticated, get(pages::patients::list))
        .add("POST", "/patients", Authenticated, post(pages::patients::register))
        .add("GET", "/patients/search", Authenticated, get(pages::patients::search_fragment))
        .add("GET", "/patients/new", Authenticated, get(pages::patients::new_form))
        .add("GET", "/patients/{patient}", Patient, get(pages::patients::show))
        .add("GET", "/patients/{patient}/access-log", Patient, get(pages::patients::access_log))
        .add("POST", "/patients/{patient}/team", Patient, post(pages::patients::add_member))
        .add("POST", "/patients/{patient}/team/{member}/end", Patient, post(pages::patients::end_member))
        .add("POST", "/patients/{patient}/team/leave", Patient, post(pages::patients::leave_team))
        .add("POST", "/patients/{patient}/consent", Patient, post(pages::patients::record_consent))
        .add("POST", "/patients/{patient}/key-persons", Patient, post(pages::patients::add_key_person))
        .add("POST", "/patients/{patient}/identifiers", Patient, post(pages::patients::add_identifier))
        .add("GET", "/inbox", Authenticated, get(pages::chart::inbox))
        .add("GET", "/search", Authenticated, get(pages::search::search))
        .add("GET", "/patients/{patient}/timeline", Patient, get(pages::chart::timeline))
        .add("GET", "/patients/{patient}/live", Patient, get(pages::chart::live))
        .add("POST", "/patients/{patient}/entries", Patient, post(pages::chart::add_entry))
        .add(
            "POST",
            "/patients/{patient}/documents",
            Patient,
            post(pages::chart::upload_document)
                .layer(DefaultBodyLimit::max(pages::chart::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .add("GET", "/patients/{patient}/attachments/{attachment}", Patient, get(pages::chart::download))
        .add("GET", "/patients/{patient}/entries/{entry}", Patient, get(pages::chart::history))
        .add("GET", "/patients/{patient}/entries/{entry}/correct", Patient, get(pages::chart::correct_form))
        .add("POST", "/patients/{patient}/entries/{entry}/correct", Patient, post(pages::chart::correct))
        .add("POST", "/patients/{patient}/entries/{entry}/error", Patient, post(pages::chart::mark_error))
        .add("GET", "/emergency", Authenticated, get(pages::emergency::form))
        .add("POST", "/emergency", Authenticated, post(pages::emergency::open))
        .add("GET", "/operator/emergency", Operator, get(pages::emergency::review))
        .add("GET", "/letters", Authenticated, get(pages::letters::letter_box))
        .add("GET", "/letters/badge", Authenticated, get(pages::letters::badge))
        .add("GET", "/patients/{patient}/letters", Patient, get(pages::letters::chart_letters))
        .add("POST", "/patients/{patient}/letters", Patient, post(pages::letters::create))
        .add("GET", "/patients/{patient}/letters/new", Patient, get(pages::letters::new_form))
        .add("GET", "/patients/{patient}/letters/{letter}", Patient, get(pages::letters::show))
        .add("POST", "/patients/{patient}/letters/{letter}", Patient, post(pages::letters::update))
        .add("POST", "/patients/{patient}/letters/{letter}/receive", Patient, post(pages::letters::receive))
        .add("POST", "/patients/{patient}/letters/{letter}/decline", Patient, post(pages::letters::decline))
        .add("POST", "/patients/{patient}/letters/{letter}/discard", Patient, post(pages::letters::discard))
        .add("POST", "/patients/{patient}/letters/{letter}/reply", Patient, post(pages::letters::start_reply))
        .add("GET", "/patients/{patient}/letters/{letter}/pdf", Patient, get(pages::letters::pdf))
        .add("GET", "/patients/{patient}/letters/{letter}/fhir", Patient, get(pages::letters::fhir))
        .add("GET", "/directory", Authenticated, get(pages::directory::show))
        .add("GET", "/dashboard", Authenticated, get(pages::dashboard::show))
        .add("GET", "/programme", Authenticated, get(pages::programme::show))
        .add("POST", "/programme/activities", Authenticated, post(pages::programme::record_activity))
        .add("POST", "/programme/activities/{activity}/in-error", Authenticated, post(pages::programme::mark_activity))
        .add("POST", "/programme/plans", Authenticated, post(pages::programme::add_plan))
        .add("POST", "/programme/plans/{plan}", Authenticated, post(pages::programme::revise_plan))
        .add("GET", "/surveys", Authenticated, get(pages::surveys::staff_list))
        .add("POST", "/surveys", Authenticated, post(pages::surveys::staff_invite))
        .add("POST", "/surveys/{invitation}/revoke", Authenticated, post(pages::surveys::staff_revoke))
        .add("GET", "/transitions", Authenticated, get(pages::transition::list))
        .add("GET", "/transitions/stats", Authenticated, get(pages::transition::stats))
        .add("GET", "/patients/{patient}/acp", Patient, get(pages::acp::show))
        .add("GET", "/patients/{patient}/urgent", Patient, get(pages::urgent::show))
        .add("GET", "/patients/{patient}/labs", Patient, get(pages::labs::show))
        .add("GET", "/patients/{patient}/prescriptions", Patient, get(pages::prescriptions::show))
        .add("GET", "/patients/{patient}/symptoms", Patient, get(pages::symptoms::show))
        .add("POST", "/patients/{patient}/symptoms", Patient, post(pages::symptoms::record))
        .add(
            "POST",
            "/patients/{patient}/symptoms/{assessment}/in-error",
            Patient,
            post(pages::symptoms::mark_in_error),
        )
        .add("GET", "/patients/{patient}/palliative-care", Patient, get(pages::contacts::show))
        .add("POST", "/patients/{patient}/palliative-care", Patient, post(pages::contacts::record))
        .add(
            "POST",
            "/patients/{patient}/palliative-care/{contact}/in-error",
            Patient,
            post(pages::contacts::mark_in_error),
        )
        .add("GET", "/patients/{patient}/family", Patient, get(pages::family_team::show))
        .add("POST", "/patients/{patient}/family/invitations", Patient, post(pages::family_team::invite))
        .add(
            "POST",
            "/patients/{patient}/family/invitations/{invitation}/revoke",
            Patient,
            post(pages::family_team::revoke),
        )
        .add(
            "POST",
            "/patients/{patient}/family/accounts/{account}/end",
            Patient,
            post(pages::family_team::end_account),
        )
        .add(
            "POST",
            "/patients/{patient}/family/diary/{entry}/acknowledge",
            Patient,
            post(pages::family_team::acknowledge),
        )
        .add("GET", "/patients/{patient}/family/diary/{entry}/photo", Patient, get(pages::family_team::photo))
        .add("POST", "/patients/{patient}/family/messages", Patient, post(pages::family_team::post_message))
        .add("POST", "/patients/{patient}/family/shares", Patient, post(pages::family_team::share))
        .add("GET", "/patients/{patient}/visits", Patient, get(pages::family_team::visits))
        .add("POST", "/patients/{patient}/visits", Patient, post(pages::family_team::schedule))
        .add("POST", "/patients/{patient}/visits/{visit}/cancel", Patient, post(pages::family_team::cancel))
        .add("GET", "/patients/{patient}/surveys", Patient, get(pages::surveys::list))
        .add("POST", "/patients/{patient}/surveys", Patient, post(pages::surveys::invite))
        .add("POST", "/patients/{patient}/surveys/{invitation}/revoke", Patient, post(pages::surveys::revoke))
        .add("GET", "/patients/{patient}/urgent.pdf", Patient, get(pages::urgent::pdf))
        .add("POST", "/patients/{patient}/acp", Patient, post(pages::acp::record))
        .add("POST", "/patients/{patient}/death", Patient, post(pages::acp::record_death))
        .add("GET", "/patients/{patient}/transition", Patient, get(pages::transition::show))
        .add("POST", "/patients/{patient}/transition/candidate", Patient, post(pages::transition::save_candidate))
        .add("POST", "/patients/{patient}/transition/case", Patient, post(pages::transition::open_case))
        .add("POST", "/patients/{patient}/transition/choose", Patient, post(pages::transition::choose))
        .add("POST", "/patients/{patient}/transition/tasks/{task}", Patient, post(pages::transition::task))
        .add("POST", "/patients/{patient}/transition/conference", Patient, post(pages::transition::schedule))
        .add("POST", "/patients/{patient}/transition/sheet", Patient, post(pages::transition::save_sheet))
        .add("POST", "/patients/{patient}/transition/move", Patient, post(pages::transition::move_case))
        .add("POST", "/patients/{patient}/transition/discharge", Patient, post(pages::transition::discharge))
        .add("GET", "/patients/{patient}/transition/sheet.pdf", Patient, get(pages::transition::sheet_pdf))
        .add("GET", "/admin/org", OrgAdmin, get(pages::admin::show))
        .add("POST", "/admin/org", OrgAdmin, post(pages::admin::update_org))
        .add("POST", "/admin/staff", OrgAdmin, post(pages::admin::add_staff))
        .add("POST", "/admin/staff/{user}/status", OrgAdmin, post(pages::admin::set_staff_status))
        .add("POST", "/admin/staff/{user}/password", OrgAdmin, post(pages::admin::reset_staff_password))
        .add("GET", "/operator/orgs", Operator, get(pages::operator::list))
        .add("POST", "/operator/orgs", Operator, post(pages::operator::register_org))
        .add("POST", "/operator/orgs/{org}/status", Operator, post(pages::operator::set_status))
        .add("GET", "/api/openapi.json", Public, get(api::openapi))
        .add("GET", "/api/v1/me", Authenticated, get(api::me))
        .add("GET", "/api/v1/patients", Authenticated, get(api::search_patients))
        .add("POST", "/api/v1/patients", Authenticated, post(api::register_patient))
        .add("GET", "/api/v1/patients/{patient}", Patient, get(api::patient))
        .add("GET", "/api/v1/patients/{patient}/team", Patient, get(api::team))
        .add("GET", "/api/v1/patients/{patient}/access-log", Patient, get(api::access_log))
        .add("GET", "/api/v1/inbox", Authenticated, get(api_chart::inbox))
        .add("GET", "/api/v1/search", Authenticated, get(api_chart::search_notes))
        .add("GET", "/api/v1/patients/{patient}/entries", Patient, get(api_chart::timeline))
        .add("POST", "/api/v1/patients/{patient}/entries", Patient, post(api_chart::add_entry))
        .add("POST", "/api/v1/patients/{patient}/messages", Patient, post(api_chart::post_message))
        .add("GET", "/api/v1/patients/{patient}/entries/{entry}", Patient, get(api_chart::history))
        .add("POST", "/api/v1/patients/{patient}/entries/{entry}/corrections", Patient, post(api_chart::correct))
        .add(
            "POST",
            "/api/v1/patients/{patient}/entries/{entry}/entered-in-error",
            Patient,
            post(api_chart::mark_error),
        )
        .add(
            "POST",
            "/api/v1/patients/{patient}/documents",
            Patient,
            post(api_chart::upload).layer(DefaultBodyLimit::max(pages::chart::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .add("GET", "/api/v1/patients/{patient}/attachments/{attachment}", Patient, get(api_chart::download))
        .add("GET", "/api/v1/letters", Authenticated, get(api_letters::letter_box))
        .add("GET", "/api/v1/patients/{patient}/letters", Patient, get(api_letters::list))
        .add("POST", "/api/v1/patients/{patient}/letters", Patient, post(api_letters::create))
        .add("GET", "/api/v1/patients/{patient}/letters/{letter}", Patient, get(api_letters::show))
        .add("PUT", "/api/v1/patients/{patient}/letters/{letter}", Patient, put(api_letters::save))
        .add("POST", "/api/v1/patients/{patient}/letters/{letter}/send", Patient, post(api_letters::send))
        .add("POST", "/api/v1/patients/{patient}/letters/{letter}/receive", Patient, post(api_letters::receive))
        .add("POST", "/api/v1/patients/{patient}/letters/{letter}/decline", Patient, post(api_letters::decline))
        .add("POST", "/api/v1/patients/{patient}/letters/{letter}/discard", Patient, post(api_letters::discard))
        .add("POST", "/api/v1/patients/{patient}/letters/{letter}/reply", Patient, post(api_letters::start_reply))
        .add("GET", "/api/v1/patients/{patient}/letters/{letter}/pdf", Patient, get(api_letters::pdf))
        .add("GET", "/api/v1/patients/{patient}/letters/{letter}/fhir", Patient, get(api_letters::fhir))
        .add("GET", "/fhir/r4/metadata", Public, get(fhir::capability::metadata))
        .add("POST", "/fhir/r4", Authenticated, post(fhir::transaction::transaction))
        .add("GET", "/fhir/r4/Patient", Authenticated, get(fhir::patient::search))
        .add("POST", "/fhir/r4/Patient", Authenticated, post(fhir::patient::create))
        .add("GET", "/fhir/r4/Patient/$export", Authenticated, get(fhir::export::kick_off))
        .add("GET", "/fhir/r4/$export-status/{export}", Authenticated, get(fhir::export::status))
        .add("GET", "/fhir/r4/$export-file/{export}/{file}", Authenticated, get(fhir::export::file))
        .add("GET", "/fhir/r4/_history", Authenticated, get(fhir::history_not_served))
        .add("GET", "/fhir/r4/Patient/_history", Authenticated, get(fhir::history_not_served))
        .add("GET", "/fhir/r4/Observation/_history", Authenticated, get(fhir::history_not_served))
        .add("GET", "/fhir/r4/Communication/_history", Authenticated, get(fhir::history_not_served))
        .add("GET", "/fhir/r4/DocumentReference/_history", Authenticated, get(fhir::history_not_served))
        .add("GET", "/fhir/r4/Patient/{patient}", Patient, get(fhir::patient::read))
        .add("PUT", "/fhir/r4/Patient/{patient}", Patient, put(fhir::patient::update))
        .add("GET", "/fhir/r4/Patient/{patient}/_history", Patient, get(fhir::patient::history_instance))
        .add("GET", "/fhir/r4/Patient/{patient}/_history/{version}", Patient, get(fhir::patient::vread))
        .add("GET", "/fhir/r4/Observation", Authenticated, get(fhir::observation::search))
        .add("GET", "/fhir/r4/Observation/{observation}", Authenticated, get(fhir::observation::read))
        .add("GET", "/fhir/r4/Observation/{observation}/_history", Authenticated, get(fhir::observation::history))
        .add(
            "GET",
            "/fhir/r4/Observation/{observation}/_history/{version}",
            Authenticated,
            get(fhir::observation::vread),
        )
        .add("GET", "/fhir/r4/MedicationRequest", Authenticated, get(fhir::medication::search))
        .add("GET", "/fhir/r4/MedicationRequest/{medication}", Authenticated, get(fhir::medication::read))
        .add("GET", "/fhir/r4/CareTeam", Authenticated, get(fhir::team::search_care_team))
        .add("GET", "/fhir/r4/CareTeam/{careteam}", Authenticated, get(fhir::team::read_care_team))
        .add("GET", "/fhir/r4/Consent", Authenticated, get(fhir::team::search_consent))
        .add("GET", "/fhir/r4/AuditEvent", Authenticated, get(fhir::team::search_audit_event))
        .add("GET", "/fhir/r4/Communication", Authenticated, get(fhir::chart::search_communication))
        .add("POST", "/fhir/r4/Communication", Authenticated, post(fhir::chart::create_communication))
        .add(
            "GET",
            "/fhir/r4/Communication/{communication}",
            Authenticated,
            get(fhir::entries::read_handler::<fhir::chart::Communication>),
        )
        .add(
            "GET",
            "/fhir/r4/Communication/{communication}/_history",
            Authenticated,
            get(fhir::entries::history_handler::<fhir::chart::Communication>),
        )
        .add(
            "GET",
            "/fhir/r4/Communication/{communication}/_history/{version}",
            Authenticated,
            get(fhir::entries::vread_handler::<fhir::chart::Communication>),
        )
        .add("GET", "/fhir/r4/DocumentReference", Authenticated, get(fhir::document::search))
        .add(
            "GET",
            "/fhir/r4/DocumentReference/{document}",
            Authenticated,
            get(fhir::entries::read_handler::<fhir::document::DocumentReference>),
        )
        .add(
            "GET",
            "/fhir/r4/DocumentReference/{document}/_history",
            Authenticated,
            get(fhir::entries::history_handler::<fhir::document::DocumentReference>),
        )
        .add(
            "GET",
            "/fhir/r4/DocumentReference/{document}/_history/{version}",
            Authenticated,
            get(fhir::entries::vread_handler::<fhir::document::DocumentReference>),
        )
        .add("GET", "/fhir/r4/Binary/{binary}", Authenticated, get(fhir::document::read_binary))
        .add("GET", "/fhir/r4/QuestionnaireResponse", Authenticated, get(fhir::symptoms::search))
        .add("GET", "/fhir/r4/QuestionnaireResponse/{response}", Authenticated, get(fhir::symptoms::read))
        .add("GET", "/fhir/r4/Organization", Authenticated, get(fhir::team::search_organization))
        .add("GET", "/fhir/r4/Organization/{organization}", Authenticated, get(fhir::team::read_organization))
        .add("GET", "/fhir/r4/Practitioner", Authenticated, get(fhir::directory::search_practitioner))
        .add("GET", "/fhir/r4/Practitioner/{practitioner}", Authenticated, get(fhir::directory::read_practitioner))
        .add("GET", "/fhir/r4/PractitionerRole", Authenticated, get(fhir::directory::search_practitioner_role))
        .add("GET", "/fhir/r4/PractitionerRole/{role}", Authenticated, get(fhir::directory::read_practitioner_role))
        .add("GET", "/fhir/r4/ServiceRequest", Authenticated, get(fhir::letters::search_service_request))
        .add("GET", "/fhir/r4/ServiceRequest/{request}", Authenticated, get(fhir::letters::read_service_request))
        .add("GET", "/fhir/r4/Composition", Authenticated, get(fhir::letters::search_composition))
        .add("GET", "/fhir/r4/Composition/{composition}", Authenticated, get(fhir::letters::read_composition))
        .add("GET", "/fhir/r4/Composition/{composition}/$document", Authenticated, get(fhir::letters::document))
        .add("GET", "/fhir/r4/Task", Authenticated, get(fhir::task::search))
        .add("GET", "/fhir/r4/Task/{task}", Authenticated, get(fhir::task::read))
}

/// Every route with its method and scope.
pub fn route_table() -> Vec<RouteInfo> {
    table().routes
}

/// Which responses go gzip-compressed to a client that accepts it: the JSON and FHIR
/// APIs' bodies (a chart page of 200 entries, a FHIR search of 200 Observations) and
/// static text, for clinics and visiting nurses on slow lines. Never HTML: a page holds
/// its form's CSRF token next to text a request can put there (a search box), and
/// compressed together their sizes would give the token away (BREACH). Not PDFs, images
/// or attachments, which are compressed already; not under 1 KiB, where it buys nothing.
fn compressible() -> impl Predicate {
    use axum::http::{Extensions, HeaderMap, StatusCode, Version, header::CONTENT_TYPE};
    SizeAbove::new(1024).and(|_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        matches!(
            essence,
            "application/json"
                | "application/fhir+json"
                | "application/problem+json"
                | "text/css"
                | "text/javascript"
                | "application/javascript"
        )
    })
}

/// The whole application. Layers, outermost first: the frame (request id, locale,
/// headers, error rendering), admission, compression, time limit, body limit, session
/// and CSRF.
pub fn app(mut state: AppState) -> Router {
    let t = table();
    state.routes = Arc::new(t.routes);
    let timeout = state.config.request_timeout;
    let max_body = state.config.max_body_bytes;
    t.router
        .fallback(pages::system::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::session_layer))
        // Extractors (forms, JSON) stop at max_body; the upload route raises its own
        // limit, so the outer hard limit is the upload size.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body.max(pages::chart::MAX_UPLOAD_BYTES + 64 * 1024)))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            timeout.max(Duration::from_millis(1)),
        ))
        .layer(CompressionLayer::new().compress_when(compressible()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::admission))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::frame))
        .with_state(state)
}
