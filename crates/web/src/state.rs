use crate::config::WebConfig;
use crate::routes::RouteInfo;
use std::sync::Arc;
use tsunagu_blobs::Blobs;
use tsunagu_domain::IdGen;
use tsunagu_store::Store;

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Attachments' bytes (local directory or S3).
    pub blobs: Arc<Blobs>,
    /// Full-text index of the chart entries (derived; rebuilt by `tsunagu reindex`).
    pub search: Arc<tsunagu_search::SearchIndex>,
    pub config: Arc<WebConfig>,
    pub ids: Arc<dyn IdGen>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub routes: Arc<Vec<RouteInfo>>,
    /// Permits for requests in flight (`WebConfig::max_in_flight`).
    pub admission: Arc<tokio::sync::Semaphore>,
    /// Wakes the notification mail sender when something was queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
}
