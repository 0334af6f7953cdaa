//! The service's HTTP endpoints: `/healthz` (alive), `/readyz` (policy loaded and queue
//! reachable) and `/metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::domain::resource::ResourceRef;
use crate::service::metrics::Metrics;
use crate::service::workqueue::WorkQueue;

#[derive(Clone)]
pub struct Probe {
    pub metrics: Arc<Metrics>,
    pub queue: WorkQueue<ResourceRef>,
    pub queue_reachable: Arc<AtomicBool>,
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(p): State<Probe>) -> impl IntoResponse {
    // The policy is loaded before the server starts, and a reload never unloads it.
    if p.queue_reachable.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the queue has not been reached\n",
        )
    }
}

async fn metrics(State(p): State<Probe>) -> impl IntoResponse {
    p.metrics.workqueue_depth.set(p.queue.depth() as i64);
    p.metrics
        .workqueue_deduplicated
        .inner()
        .store(p.queue.deduplicated(), Ordering::Relaxed);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        p.metrics.encode(),
    )
}

/// Binds `addr` (port 0: any free port) and serves until `stop` fires. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    probe: Probe,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(probe);
    let handle = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    Ok((bound, handle))
}

/// Asks `url` with a GET, as a container health check does: `Ok` when it answers 200 within
/// `timeout`, else why not.
pub async fn check(url: &str, timeout: std::time::Duration) -> Result<(), String> {
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let uri: axum::http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let client: Client<_, Empty<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let answer = tokio::time::timeout(timeout, client.get(uri))
        .await
        .map_err(|_| format!("no answer within {}", humantime::format_duration(timeout)))?
        .map_err(|e| format!("cannot ask: {e}"))?;
    match answer.status() {
        StatusCode::OK => Ok(()),
        status => Err(format!("answered {status}")),
    }
}
