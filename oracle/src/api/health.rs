//! `GET /v1/health` (liveness) and `GET /v1/ready` (readiness: can the node sign and record?).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::SharedState;

/// The liveness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// The readiness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Both parts below.
    ready: bool,
    /// The store answers and every record checked so far is intact.
    store: bool,
    /// The audit log accepts entries.
    audit: bool,
    /// With the payload API configured: its signer certificate has not expired (when false,
    /// `/v2/jettons/…/payload` answers 503 `certificate_expired`; attestations still work, so
    /// `ready` does not depend on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    jetton_certificate: Option<bool>,
}

/// 200 while the process serves HTTP.
#[utoipa::path(
    get,
    path = "/v1/health",
    operation_id = "health",
    tag = "node",
    responses((status = 200, description = "Liveness", body = Health))
)]
pub async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// 200 when the store answers and is intact, and the audit log accepts entries; 503 otherwise, so a load
/// balancer stops sending attestation requests to a node that would refuse them.
#[utoipa::path(
    get,
    path = "/v1/ready",
    operation_id = "ready",
    tag = "node",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready (which part fails is in the body)", body = Readiness),
    )
)]
pub async fn ready(State(state): State<SharedState>) -> (StatusCode, axum::Json<Readiness>) {
    let store_ok = state.store.meta_get("readiness-probe").is_ok() && state.store.is_intact();
    let audit_ok = state.audit.is_healthy();
    let status = if store_ok && audit_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(Readiness {
            ready: status == StatusCode::OK,
            store: store_ok,
            audit: audit_ok,
            jetton_certificate: state.jetton_payload.as_ref().map(|service| {
                service.certificate_current(u32::try_from(crate::unix_now()).unwrap_or(u32::MAX))
            }),
        }),
    )
}
