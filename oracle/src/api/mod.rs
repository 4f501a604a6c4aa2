//! The HTTP API: one file per endpoint, the shared state, and the hardening layers.
//!
//! | route | file |
//! |---|---|
//! | `GET /v1/risk/{address}` | [`risk`] |
//! | `POST /v1/screen` | [`screen`] |
//! | `POST /v1/attestations` | [`attestations`] |
//! | `POST /v1/attestations/cosign` | [`cosign`] |
//! | `GET /v1/audit?after=SEQ&limit=N` | [`audit`] |
//! | `GET /v1/oracle` | [`oracle`] |
//! | `/v1/admin/*` (bearer token) | [`admin`] |
//! | `GET /v1/health`, `GET /v1/ready` | [`health`] |
//! | `GET /metrics` | [`metrics`] |
//! | `GET /v1/openapi.json` | [`openapi`] |

pub mod admin;
pub mod attestations;
pub mod audit;
pub mod cosign;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod oracle;
pub mod risk;
pub mod screen;

use std::sync::Arc;
use std::time::Instant;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{BoxError, Router};
use tollgate_sdk::Address;
use tower::ServiceBuilder;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::error::{plain_error, Error};
use crate::nonce::NonceAllocator;
use crate::risk::RiskEngine;
use crate::signer::Signer;
use crate::store::Store;

/// Everything a handler needs.
pub struct AppState {
    /// The configuration the node runs with.
    pub config: Config,
    /// Allowed verifiers, parsed (empty: any).
    pub verifiers: Vec<Address>,
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// The risk engine.
    pub engine: RiskEngine,
    /// The signing key.
    pub signer: Signer,
    /// The audit log writer.
    pub audit: AuditLog,
    /// Nonce source.
    pub nonces: NonceAllocator,
    /// Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// The state handlers share.
pub type SharedState = Arc<AppState>;

/// A JSON body whose rejections are this crate's [`Error`] (400/413 as JSON, not text).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

/// A query string whose rejections are this crate's [`Error`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// A path parameter whose rejections are this crate's [`Error`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// Parses an address from request text, as a 400 on failure.
pub fn parse_address(text: &str) -> Result<Address, Error> {
    text.trim()
        .parse()
        .map_err(|err: tollgate_sdk::Error| Error::InvalidAddress(err.to_string()))
}

/// The API with its hardening layers.
pub fn app(state: SharedState) -> Router {
    let config = state.config.clone();
    let admin_routes = Router::new()
        .route("/v1/admin/ingest", post(admin::ingest))
        .route("/v1/admin/labels", get(admin::label_counts))
        .route(
            "/v1/admin/overrides",
            get(admin::list_overrides).post(admin::set_override),
        )
        .route(
            "/v1/admin/overrides/{*address}",
            delete(admin::remove_override),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_token,
        ));
    let routes = Router::new()
        .route("/v1/risk/{*address}", get(risk::get_risk))
        .route("/v1/screen", post(screen::screen))
        .route("/v1/attestations", post(attestations::attest))
        .route("/v1/attestations/cosign", post(cosign::cosign))
        .route("/v1/audit", get(audit::list))
        .route("/v1/oracle", get(oracle::info))
        .merge(admin_routes)
        .route("/v1/health", get(health::health))
        .route("/v1/ready", get(health::ready))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(metrics::render))
        .fallback(|| async { Error::NotFound })
        .with_state(state);
    harden(routes, &config)
}

/// Wraps routes in the node's protections: a body limit (413), a concurrency cap that sheds
/// excess load with 503 instead of queueing it, a per-request timeout (503), and request metrics.
pub fn harden(routes: Router, config: &Config) -> Router {
    // One semaphore for the whole API (a per-route limit would multiply the cap by the routes).
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_concurrency));
    routes
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overload_response))
                .load_shed()
                .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
                    permits,
                ))
                .timeout(config.request_timeout()),
        )
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn(track))
}

/// Turns the layers' errors into JSON 503s.
async fn overload_response(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        // The request took longer than the node allows: the client may retry (elsewhere).
        plain_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "request timed out",
        )
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        // Shedding load keeps latency bounded for the requests already admitted.
        plain_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many concurrent requests",
        )
    } else {
        tracing::error!(error = %err, "middleware error");
        plain_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

/// Counts requests and their latency per route and status.
async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    ::metrics::counter!("tollgate_http_requests_total", &labels).increment(1);
    ::metrics::histogram!("tollgate_http_request_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

impl IntoResponse for crate::ingest::Summary {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}
