//! `GET /metrics`: Prometheus text exposition, and the one list of the node's metric names.
//!
//! Every metric is declared here with its HELP text; request metrics are labelled only with
//! bounded values (a fixed method set, matched route templates, status codes), so no client can
//! create new series by sending odd methods or paths.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, Method};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::SharedState;
use crate::audit::Kind;

/// Requests answered, by method, route and status.
pub const HTTP_REQUESTS: &str = "tollgate_http_requests_total";
/// Request latency, by method and route.
pub const HTTP_REQUEST_SECONDS: &str = "tollgate_http_request_duration_seconds";
/// Attestations signed, by kind (`attest`, `cosign`).
pub const SIGNATURES: &str = "tollgate_signatures_total";
/// Connections open now.
pub const OPEN_CONNECTIONS: &str = "tollgate_open_connections";
/// Connections refused because `max_connections` were open.
pub const CONNECTIONS_REFUSED: &str = "tollgate_connections_refused_total";
/// Failed `accept` calls (typically out of file descriptors).
pub const ACCEPT_ERRORS: &str = "tollgate_accept_errors_total";
/// Always 1; its labels say which build runs.
pub const BUILD_INFO: &str = "tollgate_build_info";

/// Histogram buckets for request latency, in seconds: 0.5 ms to 10 s (the default request
/// timeout), dense where the node's answers are (a few milliseconds).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The methods that get their own label value; every other method counts as `other`.
pub const METHOD_LABELS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
];

/// The bounded label value for a request method.
pub fn method_label(method: &Method) -> &'static str {
    METHOD_LABELS
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

/// The process-wide Prometheus recorder (installed once; `metrics` has one global recorder),
/// with every metric described and the build-info gauge set.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets(LATENCY_BUCKETS)
                    .expect("the bucket list is not empty")
            };
            let handle = builder()
                .install_recorder()
                .unwrap_or_else(|_| builder().build_recorder().handle());
            describe();
            handle
        })
        .clone()
}

/// The [`SIGNATURES`] counter of `kind`, registered once and kept: the recorder's lookup of a
/// series by name and labels costs more than the increment, on every signature.
pub fn signatures(kind: Kind) -> &'static ::metrics::Counter {
    static COUNTERS: OnceLock<[::metrics::Counter; 2]> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        // The recorder first: a handle taken before it is installed counts nothing.
        handle();
        [Kind::Attest, Kind::Cosign]
            .map(|kind| ::metrics::counter!(SIGNATURES, "kind" => kind.name()))
    });
    match kind {
        Kind::Attest => &counters[0],
        Kind::Cosign => &counters[1],
    }
}

fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Time from request head to response, by method and route template"
    );
    describe_counter!(SIGNATURES, "Attestations signed and recorded, by kind");
    describe_counter!(
        "tollgate_transfers_ingested_total",
        "Transfers the follower added to the transfer store"
    );
    describe_gauge!(OPEN_CONNECTIONS, "HTTP connections open now");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections refused because max_connections were open"
    );
    describe_counter!(
        ACCEPT_ERRORS,
        "Failed accept calls (e.g. out of file descriptors)"
    );
    describe_gauge!(BUILD_INFO, "Always 1; the labels name the running build");
    describe_counter!(
        super::jetton_payload::PAYLOADS,
        "Compliant-jetton payload requests, by outcome (issued or the error code)"
    );
    describe_gauge!(
        super::jetton_payload::CERTIFICATE_EXPIRY,
        "valid_until of the payload API's signer certificate, unix seconds"
    );
    // The audit writer's metrics are recorded in audit.rs under these names (its owner may
    // move the names here as constants when merging).
    describe_histogram!(
        "tollgate_audit_batch_size",
        Unit::Count,
        "Audit entries written per group commit"
    );
    describe_histogram!(
        "tollgate_audit_commit_seconds",
        Unit::Seconds,
        "Time to write and flush one group commit of audit entries"
    );
    describe_counter!(
        "tollgate_audit_entries_total",
        "Audit entries written and flushed"
    );
    describe_histogram!(
        "tollgate_rescreen_seconds",
        Unit::Seconds,
        "Time to re-judge the subjects of valid attestations (every rescreen_interval_secs)"
    );
    ::metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Zero-valued series exist from the start, so dashboards and alerts see them before the
    // first event.
    ::metrics::counter!(CONNECTIONS_REFUSED).absolute(0);
    ::metrics::counter!(ACCEPT_ERRORS).absolute(0);
    ::metrics::gauge!(OPEN_CONNECTIONS).set(0.0);
}

/// The metrics in Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "node",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"))
)]
pub async fn render(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"FOO").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"BAR").unwrap()), "other");
    }
}
