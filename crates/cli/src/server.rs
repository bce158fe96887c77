//! Starting the HTTP server: state, metrics recorder, listener, graceful shutdown.

use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tsunagu_blobs::{Blobs, LocalBlobs};
use tsunagu_domain::clock::RandomIdGen;
use tsunagu_search::SearchIndex;
use tsunagu_store::Store;
use tsunagu_web::{AppState, WebConfig};

/// The process-wide Prometheus recorder (the `metrics` facade allows one).
fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|_| handle)
        })
        .clone()
}

/// State for tests and tools: attachments go to a directory under the system's
/// temporary directory (content-addressed, so apps may share it); the search index is
/// in memory.
#[allow(
    clippy::expect_used,
    reason = "a helper for tests and tools; an in-memory index fails only when no thread can be started"
)]
pub fn state(store: Store, web: WebConfig) -> AppState {
    let blobs = Blobs::Local(LocalBlobs::new(std::env::temp_dir().join("tsunagu-test-blobs")));
    let search = SearchIndex::in_memory().expect("an in-memory search index");
    state_with(store, web, blobs, Arc::new(search))
}

/// State of a real server: attachments in the configured store, the search index in
/// the data directory.
pub fn state_with(store: Store, web: WebConfig, blobs: Blobs, search: Arc<SearchIndex>) -> AppState {
    // Writes only queue their entries for the index; this commits them when no search
    // has done so within a second.
    if let Err(e) = tsunagu_search::flush_periodically(&search, tsunagu_search::FLUSH_EVERY) {
        tracing::error!(error = %e, "cannot start the search index's flush thread; searches still commit what they need");
    }
    AppState {
        admission: Arc::new(tokio::sync::Semaphore::new(web.max_in_flight.max(1))),
        store,
        blobs: Arc::new(blobs),
        search,
        config: Arc::new(web),
        ids: Arc::new(RandomIdGen),
        metrics: metrics_handle(),
        routes: Arc::new(Vec::new()),
        mail_wake: Arc::new(tokio::sync::Notify::new()),
    }
}

/// A running server: its address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub shutdown: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<Result<()>>,
}

/// Bind and serve in the background (tests use port 0).
pub async fn spawn(state: AppState, listen: SocketAddr) -> Result<Running> {
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    spawn_mail_sender(&state);
    let app = tsunagu_web::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .context("server failed")
    });
    Ok(Running { addr, shutdown: tx, task })
}

/// Every hour, drop expired sessions and sign-in failures that no longer count: rows
/// that would otherwise grow without end. Failures are logged and retried next hour.
fn spawn_housekeeping(state: &AppState) {
    let store = state.store.clone();
    let window = time::Duration::seconds(i64::try_from(state.config.failure_window.as_secs()).unwrap_or(i64::MAX));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match store.purge_expired(window).await {
                Ok((s, f)) if s + f > 0 => tracing::info!(sessions = s, signin_failures = f, "expired rows removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
            }
        }
    });
}

/// With SMTP configured, the notification mail sender runs beside the server.
fn spawn_mail_sender(state: &AppState) {
    if let Some(m) = &state.config.mail {
        tracing::info!(host = %m.host, port = m.port, "notification mail is on");
        tokio::spawn(tsunagu_web::mail::run(state.clone()));
    }
}

/// Serve in the foreground until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr) -> Result<()> {
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    spawn_housekeeping(&state);
    spawn_mail_sender(&state);
    tracing::info!(%addr, "tsunagu is serving");
    let search = state.search.clone();
    let app = tsunagu_web::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("server failed")?;
    // Notes written in the last second are queued for the index; commit them now
    // rather than leave them to the next start's catch-up.
    match tokio::task::spawn_blocking(move || search.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "committing the search index at shutdown failed"),
        Err(e) => tracing::warn!(error = %e, "committing the search index at shutdown failed"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
