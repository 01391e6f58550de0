//! Prometheus metrics at `GET /metrics`, through the `metrics` facade and
//! `metrics-exporter-prometheus`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `runway_http_requests_total` | counter | `method`, `route`, `status` |
//! | `runway_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `runway_errors_total` | counter | `code` (`rate_limited`, `overloaded`, ...) |
//! | `runway_jobs_running` | gauge | |
//! | `runway_tasks_waiting` | gauge | |
//! | `runway_requests_waiting` | gauge | |
//! | `runway_job_duration_seconds` | histogram | `operation` |
//! | `runway_jobs_failed_total` | counter | `operation` |
//! | `runway_ffmpeg_failures_total` | counter | |
//! | `runway_ffmpeg_timeouts_total` | counter | |
//! | `runway_tasks_created_total` | counter | |
//! | `runway_tasks_finished_total` | counter | `status` |
//! | `runway_tasks_active` | gauge | |
//! | `runway_upload_bytes_total` | counter | |
//! | `runway_served_bytes_total` | counter | |
//!
//! The recorder is global to the process (one per process, shared by servers
//! started in-process); gauges are set when `/metrics` is read.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::{Error, ErrorCode};
use crate::services::App;

/// Histogram buckets for every `_seconds` metric: from 5 ms (a metadata read) to
/// 5 min (the job timeout).
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The process's recorder, installed by the first server that starts.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process. `None` when another recorder was
/// installed first (an embedding application's): then `/metrics` is empty.
pub(crate) fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(%err, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Counts and times every routed request by its route (the pattern, not the URL).
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("runway_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("runway_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format; with `--metrics-token`, only for
/// `Authorization: Bearer <token>`.
pub(crate) async fn scrape(State(state): State<App>, headers: HeaderMap) -> Response {
    if let Some(token) = state
        .config
        .metrics_token
        .as_ref()
        .map(crate::config::Secret::expose)
        .filter(|t| !t.is_empty())
    {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token) {
            return Error::new(
                ErrorCode::Unauthorized,
                "metrics need the metrics token: send Authorization: Bearer <token>",
            )
            .into_response();
        }
    }
    metrics::gauge!("runway_jobs_running").set(state.jobs.running() as f64);
    if let Ok(pending) = state.pending_tasks().await {
        metrics::gauge!("runway_tasks_waiting").set(pending as f64);
    }
    metrics::gauge!("runway_requests_waiting").set(state.jobs.waiting_requests() as f64);
    metrics::gauge!("runway_tasks_active").set(state.tasks.len() as f64);
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
