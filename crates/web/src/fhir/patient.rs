//! `Patient`: read, vread, `_history`, search, create (conditional on an identifier
//! with `If-None-Exist`) and update (version-aware with `If-Match`).
//!
//! Reads go through `open_chart` like the chart page; search narrows in the database
//! to the caller's reach and applies the FHIR matching rules (string prefixes, date
//! prefixes) here, so what is matched is exactly what R4 says.

use super::{FhirCaller, FhirError, FhirResult, base, require_json, resource_response, search_options};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::cmp::Ordering;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use tsunagu_domain::PatientId;
use tsunagu_domain::kana::search_key;
use tsunagu_domain::patient::{NewPatient, Sex};
use tsunagu_domain::policy::{ChartAction, Principal};
use tsunagu_fhir::PatientInfo;
use tsunagu_fhir::outcome::{Issue, IssueType};
use tsunagu_fhir::patient_in::{PatientIn, parse_patient_json};
use tsunagu_fhir::rest::{Entry, patient_resource};
use tsunagu_fhir::search::{
    DateRange, Modifier as M, ParamDef, ParamType as T, SearchParam, SearchRequest, SearchSpec, SearchValue, Token,
    TokenSystem, parse_search,
};
use tsunagu_store::{IdentifierMatch, LocalIdentifier, PatientFilter, PatientRecord, PatientSummary, PatientUpdate};

/// The JP Core OID prefix of an institution's patient numbers.
const PATIENT_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";
const URI_SYSTEM: &str = "urn:ietf:rfc:3986";
pub const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient";

/// The Patient search parameters served (the CapabilityStatement lists exactly these).
pub const PARAMS: &[ParamDef] = &[
    ParamDef::new("_id", T::Token).with_modifiers(&[]),
    ParamDef::new("_lastUpdated", T::Date).with_modifiers(&[]),
    ParamDef::new("identifier", T::Token).with_modifiers(&[]),
    ParamDef::new("name", T::String).with_modifiers(&[M::Exact, M::Contains]),
    ParamDef::new("family", T::String).with_modifiers(&[M::Exact, M::Contains]),
    ParamDef::new("given", T::String).with_modifiers(&[M::Exact, M::Contains]),
    ParamDef::new("birthdate", T::Date).with_modifiers(&[]),
    ParamDef::new("gender", T::Token).with_modifiers(&[]),
];

pub const SPEC: SearchSpec<'static> = SearchSpec { resource_type: "Patient", params: PARAMS, revinclude: &[] };

fn jst() -> UtcOffset {
    UtcOffset::from_hms(9, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// A path id that is not one of ours is answered like a missing patient.
fn parse_id(raw: &str) -> Option<PatientId> {
    raw.parse().ok()
}

/// The resource of one version, with the patient's institution numbers.
pub fn to_resource(r: &PatientRecord, ids: &[LocalIdentifier]) -> Value {
    let info = PatientInfo {
        id: r.id.to_string(),
        family_name: r.family_name.clone(),
        given_name: r.given_name.clone(),
        family_kana: r.family_kana.clone(),
        given_kana: r.given_kana.clone(),
        sex: r.sex,
        birth_date: r.birth_date.to_string(),
        postal_code: r.postal_code.clone(),
        address: r.address.clone(),
        phone: r.phone.clone(),
        local_ids: ids
            .iter()
            .filter(|i| i.patient_id == r.id)
            .map(|i| (i.institution_code.clone(), i.local_id.clone()))
            .collect(),
    };
    patient_resource(&info, r.version, &r.recorded_at)
}

fn location(base: &str, r: &PatientRecord) -> String {
    format!("{base}/Patient/{}/_history/{}", r.id, r.version)
}

// ---------------------------------------------------------------------------------
// read, vread, history

pub async fn read(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let (g, _) = open(&state, &ctx, &caller.principal, &raw, ChartAction::Read, "fhir.patient.read").await?;
    let r = state.store.patient_record(&g).await.map_err(|e| FhirError::from_store(&ctx, e, "Patient", &raw))?;
    let ids = state.store.local_identifiers(&[r.id]).await?;
    Ok(resource_response(StatusCode::OK, &to_resource(&r, &ids), r.version, &r.recorded_at, None))
}

pub async fn vread(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    Path((raw, vid)): Path<(String, String)>,
) -> FhirResult<Response> {
    let (g, _) = open(&state, &ctx, &caller.principal, &raw, ChartAction::Read, "fhir.patient.vread").await?;
    let gone = || FhirError::not_found("Patient", &format!("{raw}/_history/{vid}"));
    let version: i64 = vid.parse().ok().filter(|v| *v > 0).ok_or_else(gone)?;
    let r = state.store.patient_version(&g, version).await.map_err(|e| match e {
        tsunagu_store::StoreError::NotFound => gone(),
        other => FhirError::from_store(&ctx, other, "Patient", &raw),
    })?;
    let ids = state.store.local_identifiers(&[r.id]).await?;
    Ok(resource_response(StatusCode::OK, &to_resource(&r, &ids), r.version, &r.recorded_at, None))
}

pub async fn history_instance(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    let (g, pid) = open(&state, &ctx, &caller.principal, &raw, ChartAction::Read, "fhir.patient.history").await?;
    let versions =
        state.store.patient_history(&g).await.map_err(|e| FhirError::from_store(&ctx, e, "Patient", &raw))?;
    let ids = state.store.local_identifiers(&[pid]).await?;
    let base = base(&state, &headers);
    let entries: Vec<Entry> =
        versions.iter().map(|r| super::history_entry(&base, to_resource(r, &ids), r.version, &r.recorded_at)).collect();
    Ok(super::history_response(&state, &format!("{base}/Patient/{pid}/_history"), &entries))
}

/// The chart door for a path id: a malformed id is refused and recorded like a
/// missing patient (a random well-formed id and a malformed one look the same).
async fn open(
    state: &AppState,
    ctx: &RequestCtx,
    who: &Principal,
    raw: &str,
    action: ChartAction,
    what: &str,
) -> FhirResult<(tsunagu_store::ChartGrant, PatientId)> {
    let pid = parse_id(raw).ok_or_else(|| FhirError::not_found("Patient", raw))?;
    let g = state
        .store
        .open_chart(who, pid, action, what, &ctx.audit())
        .await
        .map_err(|e| FhirError::from_store(ctx, e, "Patient", raw))?;
    Ok((g, pid))
}

// ---------------------------------------------------------------------------------
// search

pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let req = super::parse_request(&state, &headers, q.as_deref(), &SPEC)?;
    let found = find(&state, &caller.principal, &req).await?;
    let base = base(&state, &headers);
    let b = page(&state, &ctx, &caller.principal, &base, &req, found, "fhir.patient.search").await?;
    Ok(super::json_response(StatusCode::OK, &b))
}

/// Every patient within reach matching the search, sorted as asked (registry order
/// otherwise).
pub async fn find(state: &AppState, who: &Principal, req: &SearchRequest) -> FhirResult<Vec<PatientRecord>> {
    let mut filter = PatientFilter::default();
    for p in &req.params {
        narrow(&mut filter, p);
    }
    let candidates = state.store.patient_candidates(who, &filter).await?;
    let mut found: Vec<PatientRecord> =
        candidates.into_iter().filter(|r| req.params.iter().all(|p| matches_param(p, r))).collect();
    if !req.sort.is_empty() {
        found.sort_by(|a, b| {
            req.sort.iter().fold(Ordering::Equal, |acc, k| {
                acc.then_with(|| {
                    let o = compare(&k.name, a, b);
                    if k.descending { o.reverse() } else { o }
                })
            })
        });
    }
    Ok(found)
}

/// A searchset Bundle of one page of `found`, with paging links; one audit record
/// names the patients shown.
async fn page(
    state: &AppState,
    ctx: &RequestCtx,
    who: &Principal,
    base: &str,
    req: &SearchRequest,
    found: Vec<PatientRecord>,
    action: &str,
) -> FhirResult<Value> {
    let page = super::Page::of(req, found.len());
    let shown: Vec<&PatientRecord> = found.iter().skip(page.offset).take(page.count).collect();
    let ids: Vec<PatientId> = shown.iter().map(|r| r.id).collect();
    let local = state.store.local_identifiers(&ids).await?;
    state.store.record_patients_shown(who, action, format!("{} match(es)", page.total), &ids, &ctx.audit()).await?;
    let entries: Vec<Entry> = shown.iter().map(|r| super::match_entry(base, to_resource(r, &local))).collect();
    Ok(page.bundle(state, &format!("{base}/Patient"), req, &entries))
}

/// What the database can narrow by for one parameter (never more than the exact
/// match lets through).
fn narrow(f: &mut PatientFilter, p: &SearchParam) {
    match p.name.as_str() {
        "_id" => {
            let ids: Vec<String> = p.values.iter().filter_map(token_code).map(str::to_string).collect();
            f.ids = Some(match f.ids.take() {
                Some(prev) => prev.into_iter().filter(|i| ids.contains(i)).collect(),
                None => ids,
            });
        }
        "identifier" => {
            let mut group = Vec::new();
            for v in &p.values {
                let SearchValue::Token(t) = v else { continue };
                match identifier_match(t) {
                    Some(Ident::Local(m)) => group.push(m),
                    // An id written as an identifier: matched exactly below.
                    Some(Ident::Uri(_)) => return,
                    None => {}
                }
            }
            f.identifiers.push(group);
        }
        "name" | "family" | "given" if p.values.len() == 1 && p.modifier != Some(M::Exact) => {
            if let Some(SearchValue::String(s)) = p.values.first() {
                let k = search_key(s);
                if !k.is_empty() {
                    f.name_keys.push(k);
                }
            }
        }
        "gender" => {
            let sexes: Vec<Sex> = p.values.iter().filter_map(token_code).filter_map(|c| Sex::parse(c).ok()).collect();
            f.sexes = Some(match f.sexes.take() {
                Some(prev) => prev.into_iter().filter(|s| sexes.contains(s)).collect(),
                None => sexes,
            });
        }
        _ => {}
    }
}

enum Ident {
    Local(IdentifierMatch),
    Uri(String),
}

/// An identifier token as we keep identifiers: an institution's number, or the
/// patient's own URN.
fn identifier_match(t: &Token) -> Option<Ident> {
    let code = t.code.as_deref()?;
    match &t.system {
        TokenSystem::Any => Some(match code.strip_prefix("urn:uuid:") {
            Some(id) => Ident::Uri(id.to_string()),
            None => Ident::Local(IdentifierMatch { institution_code: None, local_id: code.to_string() }),
        }),
        TokenSystem::Is(s) if s == URI_SYSTEM => code.strip_prefix("urn:uuid:").map(|id| Ident::Uri(id.to_string())),
        TokenSystem::Is(s) => {
            let inst =
                s.strip_prefix(PATIENT_ID_OID).filter(|c| c.len() == 10 && c.bytes().all(|b| b.is_ascii_digit()))?;
            Some(Ident::Local(IdentifierMatch { institution_code: Some(inst.to_string()), local_id: code.to_string() }))
        }
        TokenSystem::NoSystem => None,
    }
}

fn token_code(v: &SearchValue) -> Option<&str> {
    match v {
        SearchValue::Token(t) if !matches!(t.system, TokenSystem::Is(_)) => t.code.as_deref(),
        _ => None,
    }
}

/// Whether a patient matches one parameter (its values ORed), by the R4 rules.
fn matches_param(p: &SearchParam, r: &PatientRecord) -> bool {
    p.values.iter().any(|v| matches_value(p, v, r))
}

fn matches_value(p: &SearchParam, v: &SearchValue, r: &PatientRecord) -> bool {
    match (p.name.as_str(), v) {
        ("_id", SearchValue::Token(t)) => token_code(v).is_some_and(|c| c == r.id.to_string()) && t.code.is_some(),
        ("identifier", SearchValue::Token(t)) => match identifier_match(t) {
            Some(Ident::Uri(id)) => id == r.id.to_string(),
            // The database matched the institution numbers exactly.
            Some(Ident::Local(_)) => true,
            None => false,
        },
        ("name", SearchValue::String(s)) => string_matches(
            p.modifier,
            s,
            &[&r.family_name, &r.given_name, &r.family_kana, &r.given_kana],
            &[&format!("{} {}", r.family_name, r.given_name), &format!("{} {}", r.family_kana, r.given_kana)],
        ),
        ("family", SearchValue::String(s)) => string_matches(p.modifier, s, &[&r.family_name, &r.family_kana], &[]),
        ("given", SearchValue::String(s)) => string_matches(p.modifier, s, &[&r.given_name, &r.given_kana], &[]),
        ("birthdate", SearchValue::Date(d)) => day_range(r.birth_date).is_some_and(|day| d.matches(&day)),
        ("_lastUpdated", SearchValue::Date(d)) => OffsetDateTime::parse(&r.recorded_at, &Rfc3339)
            .ok()
            .and_then(DateRange::second)
            .is_some_and(|at| d.matches(&at)),
        ("gender", SearchValue::Token(_)) => token_code(v).is_some_and(|c| c == r.sex.as_str()),
        _ => false,
    }
}

/// String matching (R4 3.1.1.5.3): by default the value starts a name part, ignoring
/// case, width and kana script (ひらがな finds カタカナ); `:contains` anywhere;
/// `:exact` the whole part, exactly as written. `whole` are full names, which the
/// default and `:contains` match as well.
fn string_matches(modifier: Option<M>, value: &str, parts: &[&String], whole: &[&String]) -> bool {
    match modifier {
        Some(M::Exact) => parts.iter().chain(whole.iter()).any(|p| p.as_str() == value),
        Some(M::Contains) => {
            let k = search_key(value);
            parts.iter().chain(whole.iter()).any(|p| search_key(p).contains(&k))
        }
        _ => {
            let k = search_key(value);
            parts.iter().chain(whole.iter()).any(|p| search_key(p).starts_with(&k))
        }
    }
}

/// The day of a date as a time range in Japan time.
fn day_range(d: Date) -> Option<DateRange> {
    let start = d.midnight().assume_offset(jst());
    Some(DateRange { start, end: start.checked_add(Duration::DAY)? })
}

fn compare(key: &str, a: &PatientRecord, b: &PatientRecord) -> Ordering {
    match key {
        "birthdate" => a.birth_date.cmp(&b.birth_date),
        "family" | "name" => search_key(&a.family_kana)
            .cmp(&search_key(&b.family_kana))
            .then_with(|| search_key(&a.given_kana).cmp(&search_key(&b.given_kana))),
        "given" => search_key(&a.given_kana).cmp(&search_key(&b.given_kana)),
        "_lastUpdated" => a.recorded_at.cmp(&b.recorded_at),
        "_id" => a.id.to_string().cmp(&b.id.to_string()),
        "gender" => a.sex.as_str().cmp(b.sex.as_str()),
        _ => Ordering::Equal,
    }
}

// ---------------------------------------------------------------------------------
// create and update

/// Read the registry's values from an incoming Patient: the caller's institution
/// number becomes its local id; the domain's rules (dates, postal code, lengths) apply.
/// The patient a resource describes, checked by the domain's rules. With the
/// organization's institution code ([`org_code`]), the resource's identifier of that
/// institution becomes the organization's local id (a create); without, none is taken.
pub fn new_patient(
    state: &AppState,
    ctx: &RequestCtx,
    pin: &PatientIn,
    local_id_institution: Option<&str>,
) -> FhirResult<NewPatient> {
    let form = pin.to_form(local_id_institution);
    NewPatient::parse(&form, state.store.clock().today_jst()).map_err(|inv| FhirError::invalid(ctx, &inv))
}

/// The caller's organization's institution code, the system of its local ids.
pub async fn org_code(state: &AppState, who: &Principal) -> FhirResult<Option<String>> {
    Ok(state.store.get_org(who.org).await?.code)
}

pub fn parse_body(body: &[u8]) -> FhirResult<PatientIn> {
    parse_patient_json(body).map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, issues: e.issues })
}

/// The patients a conditional create names (`If-None-Exist: identifier=...`).
pub async fn conditional_matches(
    state: &AppState,
    headers: &HeaderMap,
    who: &Principal,
    condition: &str,
) -> FhirResult<Vec<PatientRecord>> {
    let mut opts = search_options(state, headers);
    // A condition that is not understood must not create a second patient.
    opts.handling = tsunagu_fhir::search::Handling::Strict;
    let req = parse_search(condition, &SPEC, &opts)
        .map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, issues: vec![e.to_issue().at("If-None-Exist")] })?;
    if req.params.is_empty() {
        return Err(FhirError::bad_request("If-None-Exist names no search parameter"));
    }
    find(state, who, &req).await
}

/// Possible duplicates stop a create (as on the registration form): the client links
/// its identifier to the patient that exists instead (update, or a conditional create).
pub async fn refuse_duplicates(state: &AppState, who: &Principal, p: &NewPatient) -> FhirResult<()> {
    let dups = state.store.possible_duplicates(who, p).await?;
    if dups.is_empty() { Ok(()) } else { Err(duplicates_found(&dups)) }
}

/// The refusal of a create that has possible duplicates (409, one issue each).
pub fn duplicates_found(dups: &[PatientSummary]) -> FhirError {
    FhirError {
        status: StatusCode::CONFLICT,
        issues: dups
            .iter()
            .map(|d| {
                Issue::error(
                    IssueType::Duplicate,
                    format!("possible duplicate of Patient/{} (same birth date and name); update it instead", d.id),
                )
            })
            .collect(),
    }
}

pub async fn create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    body: Bytes,
) -> FhirResult<Response> {
    require_json(&headers)?;
    let pin = parse_body(&body)?;
    let who = &caller.principal;
    let base = base(&state, &headers);
    if let Some(cond) = headers.get("if-none-exist") {
        let cond = cond.to_str().map_err(|_| FhirError::bad_request("If-None-Exist is not readable text"))?;
        let found = conditional_matches(&state, &headers, who, cond).await?;
        match found.as_slice() {
            [] => {}
            [one] => {
                let ids = state.store.local_identifiers(&[one.id]).await?;
                state
                    .store
                    .record_patients_shown(
                        who,
                        "fhir.patient.create.exists",
                        "If-None-Exist".into(),
                        &[one.id],
                        &ctx.audit(),
                    )
                    .await?;
                return Ok(resource_response(
                    StatusCode::OK,
                    &to_resource(one, &ids),
                    one.version,
                    &one.recorded_at,
                    Some(&location(&base, one)),
                ));
            }
            _ => {
                return Err(FhirError::new(
                    StatusCode::PRECONDITION_FAILED,
                    Issue::error(IssueType::MultipleMatches, "If-None-Exist matches more than one patient"),
                ));
            }
        }
    }
    let code = org_code(&state, who).await?;
    let p = new_patient(&state, &ctx, &pin, code.as_deref())?;
    refuse_duplicates(&state, who, &p).await?;
    let id = state
        .store
        .register_patient_fhir(who, &p, &ctx.audit())
        .await
        .map_err(|e| FhirError::from_store(&ctx, e, "Patient", "new"))?;
    let g = state.store.open_chart(who, id, ChartAction::Read, "fhir.patient.create", &ctx.audit()).await?;
    let r = state.store.patient_record(&g).await?;
    let ids = state.store.local_identifiers(&[id]).await?;
    Ok(resource_response(
        StatusCode::CREATED,
        &to_resource(&r, &ids),
        r.version,
        &r.recorded_at,
        Some(&location(&base, &r)),
    ))
}

pub async fn update(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Bytes,
) -> FhirResult<Response> {
    // The door first: an outsider learns nothing from how his body is judged.
    let (g, pid) = open(&state, &ctx, &caller.principal, &raw, ChartAction::Write, "fhir.patient.update").await?;
    require_json(&headers)?;
    let pin = parse_body(&body)?;
    if pin.id.as_deref() != Some(raw.as_str()) {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(IssueType::Invalid, "Patient.id must be present and equal the id in the URL").at("Patient.id"),
        ));
    }
    let expected = match headers.get("if-match") {
        None => None,
        Some(v) => {
            let text = v.to_str().map_err(|_| FhirError::bad_request("If-Match is not readable text"))?;
            let n = tsunagu_fhir::etag::parse_if_match(text)
                .map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, issues: vec![e.to_issue()] })?;
            Some(i64::try_from(n).unwrap_or(i64::MAX))
        }
    };
    let p = new_patient(&state, &ctx, &pin, None)?;
    match state
        .store
        .update_patient(&g, expected, &p, &ctx.audit())
        .await
        .map_err(|e| FhirError::from_store(&ctx, e, "Patient", &raw))?
    {
        PatientUpdate::Updated { .. } => {
            let r = state.store.patient_record(&g).await?;
            let ids = state.store.local_identifiers(&[pid]).await?;
            Ok(resource_response(StatusCode::OK, &to_resource(&r, &ids), r.version, &r.recorded_at, None))
        }
        PatientUpdate::Stale { current } => Err(FhirError::new(
            StatusCode::PRECONDITION_FAILED,
            tsunagu_fhir::outcome::conflict_version(
                expected.and_then(|e| u64::try_from(e).ok()).unwrap_or(0),
                u64::try_from(current).unwrap_or(0),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_match_from_the_start_of_a_part_in_any_kana_script() {
        let yamada = "山田".to_string();
        let taro = "太郎".to_string();
        let kana = "ヤマダ".to_string();
        let parts = [&yamada, &taro, &kana];
        assert!(string_matches(None, "やま", &parts, &[]));
        assert!(string_matches(None, "ﾔﾏﾀﾞ", &parts, &[]));
        assert!(string_matches(None, "太", &parts, &[]));
        assert!(!string_matches(None, "まだ", &parts, &[]));
        assert!(string_matches(Some(M::Contains), "まだ", &parts, &[]));
        assert!(!string_matches(Some(M::Exact), "やまだ", &parts, &[]));
        assert!(string_matches(Some(M::Exact), "ヤマダ", &parts, &[]));
    }

    #[test]
    fn a_birth_date_is_its_day_in_japan() {
        let d = time::macros::date!(1940 - 04 - 01);
        let r = day_range(d).unwrap();
        assert_eq!(r.start.offset(), jst());
        assert_eq!(r.end - r.start, Duration::DAY);
    }

    #[test]
    fn identifiers_are_read_as_institution_numbers_or_our_urn() {
        let t = Token { system: TokenSystem::Is(format!("{PATIENT_ID_OID}1312345678")), code: Some("0042".into()) };
        assert!(
            matches!(identifier_match(&t), Some(Ident::Local(m)) if m.institution_code.as_deref() == Some("1312345678"))
        );
        let t = Token { system: TokenSystem::Is("http://other".into()), code: Some("0042".into()) };
        assert!(identifier_match(&t).is_none());
        let t = Token { system: TokenSystem::Is(URI_SYSTEM.into()), code: Some("urn:uuid:abc".into()) };
        assert!(matches!(identifier_match(&t), Some(Ident::Uri(id)) if id == "abc"));
    }
}
