//! `GET /v1/oracle`: who this node is — public key, signer index, epoch — and what it signs.

use axum::extract::State;
use serde::Serialize;

use super::SharedState;
use crate::risk::POLICY_VERSION;
use crate::signer::KeyOrigin;

/// The node's identity and signing policy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OracleInfo {
    /// ed25519 public key, hex.
    pub public_key: String,
    /// Index in the signer set.
    pub signer_index: u8,
    /// Signer-set epoch.
    pub epoch: u32,
    /// Networks (`global_id`) it signs for.
    pub networks: Vec<i32>,
    /// Verifiers it signs for (raw form); empty means any.
    pub verifiers: Vec<String>,
    /// TTL used when a request gives none.
    pub default_ttl_secs: u32,
    /// Longest TTL it signs.
    pub max_ttl_secs: u32,
    /// Scoring policy.
    #[schema(value_type = String)]
    pub policy_version: &'static str,
    /// True when running on the generated development key (never in production).
    pub development_key: bool,
    /// Node software version.
    #[schema(value_type = String)]
    pub version: &'static str,
}

/// The node's identity.
#[utoipa::path(
    get,
    path = "/v1/oracle",
    operation_id = "oracleInfo",
    tag = "node",
    responses((status = 200, description = "Public key, signer index, epoch and signing policy", body = OracleInfo))
)]
pub async fn info(State(state): State<SharedState>) -> axum::Json<OracleInfo> {
    axum::Json(OracleInfo {
        public_key: state.signer.public_key_hex(),
        signer_index: state.signer.index,
        epoch: state.signer.epoch,
        networks: state.config.networks.clone(),
        verifiers: state.verifiers.iter().map(ToString::to_string).collect(),
        default_ttl_secs: state.config.default_ttl_secs,
        max_ttl_secs: state.config.max_ttl_secs,
        policy_version: POLICY_VERSION,
        development_key: matches!(state.signer.origin, KeyOrigin::Development(_)),
        version: env!("CARGO_PKG_VERSION"),
    })
}
