//! The HTTP API: one file per endpoint, the shared state, and the hardening layers.
//!
//! | route | file |
//! |---|---|
//! | `GET /v1/risk/{address}` | [`risk`] |
//! | `POST /v1/screen` | [`screen`] |
//! | `POST /v1/attestations` | [`attestations`] |
//! | `POST /v1/attestations/cosign` | [`cosign`] |
//! | `POST /v1/attestations/batch`, `POST /v1/attestations/cosign/batch` | [`batch`] |
//! | `GET /v1/audit?after=SEQ&limit=N` (bearer token) | [`audit`] |
//! | `GET /v1/evidence/{address}` (bearer token) | [`evidence`] |
//! | `GET /v1/changes?since=SEQ&limit=N` (bearer token) | [`changes`] |
//! | `GET /v1/oracle` | [`oracle`] |
//! | `GET /v2/jettons/{jetton}/transfer/{address}/payload`, `GET /v1/jettons/{jetton}/wallet/{address}` | [`jetton_payload`] |
//! | `/v1/admin/*` (bearer token) | [`admin`] |
//! | `GET /v1/health`, `GET /v1/ready` | [`health`] |
//! | `GET /metrics` | [`metrics`] |
//! | `GET /v1/openapi.json` | [`openapi`] |
//!
//! [`layers`] holds what wraps them all: body reading under a deadline, JSON bodies for every
//! error, bounded request metrics, the access log and CORS.

pub mod admin;
pub mod attestations;
pub mod audit;
pub mod batch;
pub mod changes;
pub mod cosign;
pub mod evidence;
pub mod health;
pub mod jetton_payload;
pub mod layers;
pub mod metrics;
pub mod openapi;
pub mod oracle;
pub mod risk;
pub mod screen;

use std::sync::Arc;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{BoxError, Router};
use tollgate_sdk::{Address, FriendlyFlags, Network};
use tower::ServiceBuilder;

use crate::audit::AuditLog;
use crate::changes::{Attested, ChangeLog};
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
    /// The change feed (levels re-judged after ingests, overrides and periodically).
    pub changes: Arc<ChangeLog>,
    /// Subjects of valid attestations, read from the audit log (for re-judging them).
    pub attested: std::sync::Mutex<Attested>,
    /// Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The compliant jetton's payload API, when `[jetton_payload]` is configured.
    pub jetton_payload: Option<jetton_payload::PayloadService>,
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
    parse_address_on(text, None)
}

/// Parses an address meant for `network`: a user-friendly address flagged testnet-only is
/// refused for mainnet (a wallet that shows it would warn its user; so does the node).
pub fn parse_address_on(text: &str, network: Option<Network>) -> Result<Address, Error> {
    let text = text.trim();
    let invalid = |err: tollgate_sdk::Error| Error::InvalidAddress(err.to_string());
    if text.contains(':') {
        return Address::from_raw(text).map_err(invalid);
    }
    let (address, flags) = Address::from_friendly(text).map_err(invalid)?;
    if flags.testnet && network == Some(Network::MAINNET) {
        return Err(Error::InvalidAddress(
            "a testnet-only address (kQ…/0Q…) cannot be used on mainnet".into(),
        ));
    }
    Ok(address)
}

/// An address in the forms wallets and explorers show, beside the raw one.
///
/// The node cannot know whether an address is a wallet or a contract, so it gives both
/// user-friendly forms: `bounceable` (`EQ…`, for contracts: a transfer to a missing contract
/// bounces back) and `non_bounceable` (`UQ…`, for wallets, including ones not deployed yet).
/// For testnet they carry the testnet-only flag (`kQ…`, `0Q…`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AddressForms {
    /// `workchain:hex`.
    pub raw: String,
    /// Base64url, bounceable.
    pub bounceable: String,
    /// Base64url, non-bounceable.
    pub non_bounceable: String,
}

impl AddressForms {
    /// The forms of `address` for `network` (testnet-only flag on testnet).
    pub fn new(address: &Address, network: Network) -> Self {
        let testnet = network == Network::TESTNET;
        let form = |bounceable| {
            address.to_friendly(FriendlyFlags {
                bounceable,
                testnet,
            })
        };
        AddressForms {
            raw: address.to_raw(),
            bounceable: form(true),
            non_bounceable: form(false),
        }
    }
}

/// The API with its hardening layers.
///
/// Probes (`/v1/health`, `/v1/ready`, `/metrics`) sit outside the concurrency cap, so a
/// saturated or attacked API never makes a load balancer think the node is dead.
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
        // The log names every subject screened and every verifier: not for the public.
        .route("/v1/audit", get(audit::list))
        // A case file names the verifiers and counterparties of an address: like the log.
        .route("/v1/evidence/{*address}", get(evidence::get_evidence))
        .route("/v1/changes", get(changes::list))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_token,
        ));
    let routes = Router::new()
        .route("/v1/risk/{*address}", get(risk::get_risk))
        .route("/v1/screen", post(screen::screen))
        .route("/v1/attestations", post(attestations::attest))
        .route("/v1/attestations/cosign", post(cosign::cosign))
        .route("/v1/attestations/batch", post(batch::attest_batch))
        .route("/v1/attestations/cosign/batch", post(batch::cosign_batch))
        .route("/v1/oracle", get(oracle::info))
        .route(
            "/v2/jettons/{jetton}/transfer/{address}/payload",
            get(jetton_payload::transfer_payload),
        )
        .route(
            "/v1/jettons/{jetton}/wallet/{address}",
            get(jetton_payload::wallet_payload),
        )
        .route("/v1/openapi.json", get(openapi::document))
        .merge(admin_routes)
        .with_state(state.clone());
    let probes = Router::new()
        .route("/v1/health", get(health::health))
        .route("/v1/ready", get(health::ready))
        .route("/metrics", get(metrics::render))
        .with_state(state);
    layers::outer(harden(routes, &config).merge(probes), &config)
}

/// Wraps routes in the node's per-request protections: the body is read first, under a
/// deadline and the size limit (408, 413 — a declared oversize `Content-Length` is refused
/// before any byte of the body is read); only then does the request take one of the
/// `max_concurrency` permits, shedding excess load with 503 instead of queueing it; the handler
/// runs under the request timeout (503).
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
        .layer(middleware::from_fn_with_state(
            layers::BodyLimits::from(config),
            layers::read_body,
        ))
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

impl IntoResponse for crate::ingest::Summary {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}
