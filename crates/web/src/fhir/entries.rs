//! Resources kept as chart entries: `Communication` (thread messages),
//! `DocumentReference` (documents) and the vital-sign `Observation`s. Their read, vread
//! and `_history` come from the chart's authenticity model: a correction is the entry's
//! next version, never a change of the old one, and an entry marked "entered in error"
//! keeps its versions and shows that status.
//!
//! An id is found through the chart that holds it: its owner is looked up by the
//! entry id, that chart opened through the access policy (recorded), and only then is
//! anything read. A missing id, an entry of another kind and an entry on a chart out of
//! reach answer alike.

use super::{FhirCaller, FhirError, FhirResult, base, resource_response};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tsunagu_domain::chart::EntryKind;
use tsunagu_fhir::rest::Entry;
use tsunagu_store::{ChartGrant, EntryView, Owned, StoreError};

/// What a resource made from an entry needs besides the entry.
pub struct Render<'a> {
    pub grant: &'a ChartGrant,
    /// The API's base URL (for references that must be absolute, e.g. attachments).
    pub base: &'a str,
}

/// A FHIR resource type served from the chart entries of one kind.
pub struct EntryType {
    pub resource_type: &'static str,
    pub kind: EntryKind,
    /// The audit action prefix: `<audit>.read`, `.vread`, `.history`.
    pub audit: &'static str,
    /// The resource id → the entry id and the part of the entry it shows ("" when the
    /// entry is one resource; vital signs are one Observation per measurement).
    pub split_id: fn(&str) -> Option<(&str, &str)>,
    /// The resource one version of the entry makes (None: that version has no such part).
    pub render: fn(&Render<'_>, &EntryView, &str) -> Option<Value>,
}

/// The id is the entry id.
pub fn whole_entry(id: &str) -> Option<(&str, &str)> {
    Some((id, ""))
}

/// Every version of the entry behind a resource id, oldest first, with the chart
/// opened to read it.
async fn versions(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    t: &EntryType,
    raw: &str,
    action: &str,
) -> FhirResult<(ChartGrant, Vec<EntryView>, String)> {
    let missing = || FhirError::not_found(t.resource_type, raw);
    let (entry_id, part) = (t.split_id)(raw).ok_or_else(missing)?;
    let owner = state.store.patient_owning(Owned::Entry, entry_id).await?;
    let what = format!("{}.{action}", t.audit);
    let g = super::open_owning_chart(state, ctx, &caller.principal, owner, &what, missing).await?;
    let versions = match state.store.entry_history(&g, entry_id).await {
        Ok(v) => v,
        Err(StoreError::NotFound) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    if versions.first().is_none_or(|v| v.kind != t.kind) {
        return Err(missing());
    }
    Ok((g, versions, part.to_string()))
}

/// `GET [type]/[id]`: the entry's current version.
pub async fn read(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    headers: &HeaderMap,
    t: &EntryType,
    raw: &str,
) -> FhirResult<Response> {
    let (g, versions, part) = versions(state, ctx, caller, t, raw, "read").await?;
    let base = base(state, headers);
    let r = Render { grant: &g, base: &base };
    let current = versions.last().ok_or_else(|| FhirError::not_found(t.resource_type, raw))?;
    let v = (t.render)(&r, current, &part).ok_or_else(|| FhirError::not_found(t.resource_type, raw))?;
    Ok(resource_response(StatusCode::OK, &v, current.version, &current.recorded_at, None))
}

/// `GET [type]/[id]/_history/[vid]`: one version. A version where the entry had no such
/// part (a measurement added by a correction) is not found.
pub async fn vread(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    headers: &HeaderMap,
    t: &EntryType,
    raw: &str,
    raw_version: &str,
) -> FhirResult<Response> {
    let (g, versions, part) = versions(state, ctx, caller, t, raw, "vread").await?;
    let gone = || {
        FhirError::not_found(
            t.resource_type,
            &format!("{raw}/_history/{}", tsunagu_fhir::outcome::excerpt(raw_version)),
        )
    };
    let wanted: i64 = raw_version.parse().map_err(|_| gone())?;
    let base = base(state, headers);
    let r = Render { grant: &g, base: &base };
    let e = versions.iter().find(|e| e.version == wanted).ok_or_else(gone)?;
    let v = (t.render)(&r, e, &part).ok_or_else(gone)?;
    Ok(resource_response(StatusCode::OK, &v, e.version, &e.recorded_at, None))
}

/// `GET [type]/[id]/_history`: every version, newest first.
pub async fn history(
    state: &AppState,
    ctx: &RequestCtx,
    caller: &FhirCaller,
    headers: &HeaderMap,
    t: &EntryType,
    raw: &str,
) -> FhirResult<Response> {
    let (g, versions, part) = versions(state, ctx, caller, t, raw, "history").await?;
    let base = base(state, headers);
    let r = Render { grant: &g, base: &base };
    let entries: Vec<Entry> = versions
        .iter()
        .rev()
        .filter_map(|e| Some(super::history_entry(&base, (t.render)(&r, e, &part)?, e.version, &e.recorded_at)))
        .collect();
    if entries.is_empty() {
        return Err(FhirError::not_found(t.resource_type, raw));
    }
    Ok(super::history_response(state, &format!("{base}/{}/{raw}/_history", t.resource_type), &entries))
}

/// A resource type served from chart entries, named by a marker type so that one set
/// of axum handlers ([`read_handler`], [`vread_handler`], [`history_handler`]) serves
/// every such type.
pub trait Served {
    const TYPE: EntryType;
}

pub async fn read_handler<S: Served>(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    read(&state, &ctx, &caller, &headers, &S::TYPE, &raw).await
}

pub async fn vread_handler<S: Served>(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path((raw, version)): Path<(String, String)>,
) -> FhirResult<Response> {
    vread(&state, &ctx, &caller, &headers, &S::TYPE, &raw, &version).await
}

pub async fn history_handler<S: Served>(
    State(state): State<AppState>,
    ctx: RequestCtx,
    caller: FhirCaller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> FhirResult<Response> {
    history(&state, &ctx, &caller, &headers, &S::TYPE, &raw).await
}

/// The status of a resource made from an entry version: entered in error when the
/// entry is so marked, amended when it was corrected, else `final_status`.
pub fn status(e: &EntryView, final_status: &'static str, amended: &'static str) -> &'static str {
    if e.in_error.is_some() {
        "entered-in-error"
    } else if e.version > 1 {
        amended
    } else {
        final_status
    }
}

/// `meta` of a resource made from an entry version.
pub fn meta(e: &EntryView) -> Value {
    serde_json::json!({ "versionId": e.version.to_string(), "lastUpdated": e.recorded_at })
}
