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

/// `POST /v1/screen`: judgements of many addresses (at most 1,000).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenRequest {
    /// Addresses, raw or user-friendly.
    pub addresses: Vec<String>,
}

/// The answer to `POST /v1/screen`: one judgement per address, in request order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScreenResponse {
    /// Judgements in request order.
    pub results: Vec<RiskSummary>,
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

/// Most items one batch request (`POST /v1/attestations/batch`,
/// `POST /v1/attestations/cosign/batch`) may carry; a node answers more with 413
/// `batch_too_large`. A client with more subjects sends several batches.
pub const MAX_BATCH: usize = 256;

/// `POST /v1/attestations`, and one item of `POST /v1/attestations/batch`: ask the node to
/// judge `subject` and sign its own judgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestRequest {
    /// The address to judge (raw or user-friendly).
    pub subject: String,
    /// The contract that will check the attestation.
    pub verifier: String,
    /// The network (`global_id`).
    pub network: Network,
    /// Validity in seconds (the node's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u32>,
}

/// `POST /v1/attestations/batch`: up to [`MAX_BATCH`] attestation requests, signed and recorded
/// together (one audit commit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestBatchRequest {
    /// The requests, answered in this order.
    pub items: Vec<AttestRequest>,
}

/// `POST /v1/attestations/cosign/batch`: up to [`MAX_BATCH`] proposals to co-sign together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignBatchRequest {
    /// Base64 BoCs of the proposed attestation cells, answered in this order.
    pub bocs: Vec<String>,
}

/// The answer to both batch endpoints: one result per item, in request order. The request as
/// a whole succeeds (200) when it was well-formed and the node could record; each item then
/// carries the status the single endpoint would have answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// One per item.
    pub results: Vec<BatchItem>,
}

/// One item's outcome: a signature (`status` 200) or the error the single endpoint would give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// 200, or the item's 4xx status.
    pub status: u16,
    /// The signature, when `status` is 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<SignedAttestation>,
    /// Why not, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}
