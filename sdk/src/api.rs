//! JSON bodies of the oracle node's HTTP API (`/v1`, SPEC.md §9) as the client reads and writes
//! them. Responses carry more fields than these (evidence, audit positions); serde ignores the
//! rest, so a node may add fields without breaking clients.

use serde::{Deserialize, Serialize};

use crate::{Address, Attestation, Categories, Network};

/// `GET /v1/oracle`: who this node is in the signer set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleInfo {
    /// The node's ed25519 public key, hex.
    pub public_key: String,
    /// The node's index in the signer set.
    pub signer_index: u8,
    /// The signer set's epoch the node signs for.
    pub epoch: u32,
    /// Networks the node signs for.
    pub networks: Vec<Network>,
    /// Longest validity the node grants, in seconds.
    pub max_ttl_secs: u32,
}

/// `POST /v1/attestations/cosign`: ask the node to co-sign an attestation someone proposed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignRequest {
    /// Base64 BoC of the proposed attestation cell.
    pub boc: String,
}

/// A node's signature over one attestation: the answer to both attestation endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAttestation {
    /// The attestation's fields.
    pub attestation: Attestation,
    /// Base64 BoC of the attestation cell.
    pub boc: String,
    /// Representation hash of the cell, hex: what was signed.
    pub hash: String,
    /// ed25519 signature over the hash, hex.
    pub signature: String,
    /// The signer's index in the signer set.
    pub signer_index: u8,
    /// The signer's public key, hex.
    pub public_key: String,
}

/// `GET /v1/risk/{address}` and each row of `POST /v1/screen`: the node's judgement. Clients
/// read the score and the category mask; the evidence is for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskSummary {
    /// The address judged, raw form.
    pub address: Address,
    /// Risk score 0–100.
    pub score: u8,
    /// `low`, `medium`, `high` or `severe`.
    pub level: String,
    /// The categories as a bitmask (SPEC.md §3).
    pub categories_mask: Categories,
}

/// The body of every 4xx/5xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine-readable code and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `bound_violated` (409), `policy_refused` (422),
    /// `invalid_address` (400).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// For `bound_violated` and `policy_refused`: which bound or policy failed (`risk`,
    /// `categories`, `network`, `verifier`, `epoch`, `ttl`, `validity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<String>,
}
