//! Full-text search across the notes of the patients a person may see (`GET /search`),
//! and keeping the index up to date after each write.
//!
//! The index (crate `tsunagu-search`) is derived from the chart: a failure to update it
//! is logged and never fails the write. Searching asks the index only about the
//! patients the person may read, and the store checks the policy again on every hit
//! before anything is shown (and records what was shown in one audit record).

use crate::auth::Signed;
use crate::error::{AppError, AppResult};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::HashMap;
use tsunagu_domain::PatientId;
use tsunagu_domain::policy::Principal;
use tsunagu_search::{IndexedEntry, SearchError};
use tsunagu_store::{AuditCtx, EntryView, FulltextRow};

/// Hits shown at most.
pub const SHOW: usize = 50;
/// Hits asked of the index: more than shown, since some may be stale (a version the
/// index has not caught up with) and are dropped.
const ASK: usize = 100;

/// What the index keeps of a version just written.
pub fn indexed(patient: PatientId, e: &EntryView) -> IndexedEntry {
    IndexedEntry {
        patient_id: patient.to_string(),
        entry_id: e.entry_id.clone(),
        version_id: e.version_id.clone(),
        kind: e.kind.as_str().to_string(),
        recorded_at: e.entry_recorded_at.clone(),
        text: e.body.text(),
    }
}

/// Queue a version just written for the index (a new entry or a correction, which
/// replaces the entry's earlier version in the index). Cheap: the index commits before
/// the next search, so the note is findable by any search that starts after this.
/// Nothing here can fail the write: the chart is the record, and the index catches up
/// at the next start (or with `tsunagu reindex`) if a commit fails.
pub fn index_version(state: &AppState, patient: PatientId, e: &EntryView) {
    state.search.index_entry(&indexed(patient, e));
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
}

/// One hit as shown.
pub struct HitView {
    pub entry_id: String,
    pub kind: String,
    pub kind_label: String,
    pub author: String,
    pub org: String,
    pub when: String,
    pub corrected_version: Option<String>,
    pub in_error: bool,
    /// Escaped by the index, with matches in `<mark>`.
    pub snippet: String,
}

/// The hits of one patient.
pub struct PatientGroup {
    pub patient_id: String,
    pub name: String,
    pub kana: String,
    pub hits: Vec<HitView>,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub chrome: Chrome,
    pub q: String,
    /// A message instead of results (a word too short, the index unavailable).
    pub message: Option<String>,
    pub searched: bool,
    pub count: usize,
    pub groups: Vec<PatientGroup>,
}

/// What a full-text search gave: the notes found, or why there are none to show.
pub enum Found {
    /// The words cannot be searched (too short, too long): the catalogue key saying so.
    Refused(&'static str),
    /// The index failed (logged here): the catalogue key saying so.
    Unavailable(&'static str),
    /// The notes found, policy checked and audited, with the index's snippet of each
    /// version (escaped, matches in `<mark>`), keyed by version id.
    Notes { rows: Vec<FulltextRow>, snippets: HashMap<String, String> },
}

/// The search the page and the JSON API share: ask the index about the patients
/// `who` may read only (hits of others never reach this process beyond the index and
/// do not crowd out the person's own), then let the store check the policy on every
/// hit again and record what is shown in one audit record.
pub async fn find_notes(state: &AppState, who: &Principal, q: &str, audit: &AuditCtx) -> AppResult<Found> {
    let readable = state.store.readable_patients_for_search(who).await?;
    let index = state.search.clone();
    let query = q.to_string();
    let found = tokio::task::spawn_blocking(move || index.search_patients(&query, &readable, ASK))
        .await
        .map_err(|e| AppError::Internal(format!("search task: {e}")))?;
    let hits = match found {
        Ok(h) => h,
        Err(SearchError::QueryTooLong) => return Ok(Found::Refused("fulltext-too-long")),
        Err(e) if e.is_query_error() => return Ok(Found::Refused("fulltext-too-short")),
        Err(e) => {
            tracing::error!(error = %e, "full-text search failed");
            return Ok(Found::Unavailable("fulltext-unavailable"));
        }
    };
    let mut snippets: HashMap<String, String> = HashMap::new();
    let mut pairs: Vec<(PatientId, String)> = Vec::new();
    for h in hits {
        if snippets.contains_key(&h.version_id) {
            continue;
        }
        if let Ok(pid) = h.patient_id.parse::<PatientId>() {
            pairs.push((pid, h.version_id.clone()));
            snippets.insert(h.version_id, h.snippet);
        }
    }
    let rows = state.store.fulltext_results(who, &pairs, SHOW, audit).await?;
    Ok(Found::Notes { rows, snippets })
}

/// `GET /search?q=...`: notes of the person's patients that contain every word.
pub async fn search(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(p): Query<SearchParams>,
) -> AppResult<Response> {
    let tr = ctx.tr();
    let q = p.q.trim().to_string();
    let mut out = SearchPage {
        chrome: me.chrome(&ctx, &state),
        q: q.clone(),
        message: None,
        searched: false,
        count: 0,
        groups: Vec::new(),
    };
    if q.is_empty() {
        return page(&out);
    }
    let (rows, mut snippets) = match find_notes(&state, &me.principal, &q, &ctx.audit()).await? {
        Found::Refused(key) | Found::Unavailable(key) => {
            out.message = Some(tr.t(key));
            return page(&out);
        }
        Found::Notes { rows, snippets } => (rows, snippets),
    };
    out.searched = true;
    out.count = rows.len();
    for r in rows {
        let e = &r.entry;
        let hit = HitView {
            entry_id: e.entry_id.clone(),
            kind: e.kind.as_str().to_string(),
            kind_label: tr.label("entry-kind", e.kind.as_str()),
            author: e.author_name.clone(),
            org: e.author_org_name.clone(),
            when: tr.datetime(&e.entry_recorded_at),
            corrected_version: e.is_corrected().then(|| e.version.to_string()),
            in_error: e.in_error.is_some(),
            snippet: snippets.remove(&e.version_id).unwrap_or_default(),
        };
        let pid = r.patient_id.to_string();
        match out.groups.iter_mut().find(|g| g.patient_id == pid) {
            Some(g) => g.hits.push(hit),
            None => out.groups.push(PatientGroup {
                patient_id: pid,
                name: format!("{} {}", r.family_name, r.given_name),
                kana: format!("{} {}", r.family_kana, r.given_kana),
                hits: vec![hit],
            }),
        }
    }
    page(&out)
}
