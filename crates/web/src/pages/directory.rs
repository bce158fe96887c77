//! The regional resource directory (DOMAIN.md §6): every approved organization with its
//! kind, address, contacts, capabilities and visiting area, as its own administrator
//! keeps them; filtered by kind and capability and, given a point (a patient's home),
//! sorted by distance from it. A list, not a map: it works offline and prints.
//! It holds no patient data.

use crate::auth::Signed;
use crate::error::AppResult;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use crate::view::{Chrome, page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use tsunagu_domain::org::OrgKind;
use tsunagu_domain::transition::distance_km;
use tsunagu_store::OrgRow;

pub struct DirectoryRow {
    pub org: OrgRow,
    pub distance: Option<f64>,
}

impl DirectoryRow {
    pub fn distance_text(&self) -> String {
        self.distance.map(|d| format!("{d:.1} km")).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "directory.html")]
pub struct DirectoryPage {
    pub chrome: Chrome,
    pub rows: Vec<DirectoryRow>,
    pub kinds: Vec<(&'static str, String)>,
    pub kind: String,
    pub caps: Vec<(&'static str, String, bool)>,
    pub lat: String,
    pub lon: String,
    pub sorted_by_distance: bool,
}

/// The capabilities a search can require, by form name.
const CAPS: [&str; 5] = ["home_visits", "support_24h", "palliative_care", "opioid_dispensing", "accepts_new_patients"];

fn has(org: &OrgRow, cap: &str) -> bool {
    let c = &org.capabilities;
    match cap {
        "home_visits" => c.home_visits,
        "support_24h" => c.support_24h,
        "palliative_care" => c.palliative_care,
        "opioid_dispensing" => c.opioid_dispensing,
        "accepts_new_patients" => c.accepts_new_patients,
        _ => false,
    }
}

/// `GET /directory?kind=clinic&cap=home_visits&cap=support_24h&lat=..&lon=..`
pub async fn show(
    State(state): State<AppState>,
    ctx: RequestCtx,
    me: Signed,
    Query(q): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    let tr = ctx.tr();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let kind = OrgKind::parse(&get("kind")).ok();
    let wanted: Vec<&str> = CAPS.into_iter().filter(|c| q.iter().any(|(n, v)| n == "cap" && v == c)).collect();
    let (lat, lon) = (get("lat"), get("lon"));
    // A point out of range is simply not used for sorting.
    let point = tsunagu_domain::org::parse_location("location", &lat, &lon).ok().flatten();
    let mut rows: Vec<DirectoryRow> = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.is_approved() && kind.is_none_or(|k| o.kind == k) && wanted.iter().all(|c| has(o, c)))
        .map(|org| DirectoryRow { distance: point.zip(org.lat.zip(org.lon)).map(|(p, at)| distance_km(p, at)), org })
        .collect();
    if point.is_some() {
        // Nearest first; organizations without a location after, in the usual order.
        rows.sort_by(|a, b| match (a.distance, b.distance) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    page(&DirectoryPage {
        chrome: me.chrome(&ctx, &state),
        rows,
        kinds: OrgKind::ALL.iter().map(|k| (k.as_str(), tr.label("org-kind", k.as_str()))).collect(),
        kind: kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
        caps: CAPS.iter().map(|c| (*c, tr.t(&format!("cap-{}", c.replace('_', "-"))), wanted.contains(c))).collect(),
        lat,
        lon,
        sorted_by_distance: point.is_some(),
    })
}
