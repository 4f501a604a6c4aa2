//! `POST /v1/attestations/cosign`: co-sign an attestation a client proposes (for a quorum).
//!
//! The node signs only if every bound holds for its own judgement. Checks, in order, each with
//! its own answer:
//!
//! | check | failure |
//! |---|---|
//! | the BoC decodes strictly | 400 `invalid_boc` |
//! | network is one the node signs for | 422 `policy_refused`, bound `network` |
//! | verifier is allowed | 422, bound `verifier` |
//! | epoch is the node's | 422, bound `epoch` |
//! | `valid_until - issued_at <= max_ttl_secs` | 422, bound `ttl` |
//! | not expired, `issued_at` not beyond the allowed clock skew | 422, bound `validity` |
//! | node's score `<=` proposed `risk` | 409 `bound_violated`, bound `risk` |
//! | node's categories `⊆` proposed `categories` | 409, bound `categories` |

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_sdk::{Attestation, Categories, Network};

use super::attestations::{check_can_sign, check_verifier, sign_and_record, Signed};
use super::{Json, SharedState};
use crate::audit::Kind;
use crate::error::{Error, Result};
use crate::risk::Assessment;

/// The request body.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CosignRequest {
    /// The proposed attestation, a base64 BoC.
    pub boc: String,
}

/// Checks a proposal against the node's policy and judgement, then signs it.
#[utoipa::path(
    post,
    path = "/v1/attestations/cosign",
    operation_id = "cosign",
    tag = "signing",
    request_body = CosignRequest,
    responses(
        (status = 200, description = "Co-signed, and on disk in the audit log", body = Signed),
        (status = 400, description = "Malformed input: bad address or BoC, malformed JSON", body = super::openapi::ErrorDoc),
        (status = 409, description = "A proposed bound does not hold for this node's judgement (`bound`: risk or categories)", body = super::openapi::ErrorDoc),
        (status = 413, description = "Body larger than the node's limit", body = super::openapi::ErrorDoc),
        (status = 422, description = "Valid input the node will not act on (network, verifier, TTL, too many items)", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn cosign(
    State(state): State<SharedState>,
    Json(request): Json<CosignRequest>,
) -> Result<axum::Json<Signed>> {
    let now = crate::unix_now();
    let proposal = check_proposal(&state, &request.boc, now)?;
    let _permit = check_can_sign(&state)?;
    let judgement = judge_proposal(&state, &proposal, now)?;
    Ok(axum::Json(
        sign_and_record(&state, Kind::Cosign, None, proposal, judgement).await?,
    ))
}

/// Decodes a proposal and checks it against the node's policy (the table above, up to the
/// judgement).
pub(crate) fn check_proposal(state: &SharedState, boc: &str, now: u64) -> Result<Attestation> {
    let proposal = Attestation::from_boc_base64(boc.trim())
        .map_err(|err| Error::InvalidBoc(err.to_string()))?;
    let config = &state.config;
    if !config.networks.contains(&proposal.network.0) {
        return Err(Error::PolicyRefused {
            policy: "network",
            detail: format!(
                "network {} is not one this node signs for",
                Network(proposal.network.0)
            ),
        });
    }
    check_verifier(state, &proposal.verifier)?;
    if proposal.epoch != state.signer.epoch {
        return Err(Error::PolicyRefused {
            policy: "epoch",
            detail: format!(
                "epoch {} is not this node's epoch {}",
                proposal.epoch, state.signer.epoch
            ),
        });
    }
    let ttl = proposal.valid_until - proposal.issued_at; // decoding guarantees valid_until >= issued_at
    if ttl > config.max_ttl_secs {
        return Err(Error::PolicyRefused {
            policy: "ttl",
            detail: format!("ttl {ttl}s is above the maximum {}s", config.max_ttl_secs),
        });
    }
    if u64::from(proposal.valid_until) < now {
        return Err(Error::PolicyRefused {
            policy: "validity",
            detail: "the attestation has expired".into(),
        });
    }
    if u64::from(proposal.issued_at) > now + u64::from(config.max_clock_skew_secs) {
        return Err(Error::PolicyRefused {
            policy: "validity",
            detail: "issued_at is in the future".into(),
        });
    }
    Ok(proposal)
}

/// Judges the proposal's subject; the judgement must lie within the proposal's bounds.
pub(crate) fn judge_proposal(
    state: &SharedState,
    proposal: &Attestation,
    now: u64,
) -> Result<Assessment> {
    let judgement = state.engine.assess(&proposal.subject, now)?;
    if judgement.score > proposal.risk {
        return Err(Error::BoundViolated {
            bound: "risk",
            detail: format!(
                "this node scores the subject {} ({:?}), above the proposed bound {}",
                judgement.score, judgement.level, proposal.risk
            ),
        });
    }
    let mine = Categories(judgement.categories_mask);
    let outside = Categories(mine.0 & !proposal.categories.0);
    if !outside.is_empty() {
        return Err(Error::BoundViolated {
            bound: "categories",
            detail: format!(
                "this node finds categories outside the proposed set: {} (mask {:#x})",
                outside.names().join(", "),
                outside.0
            ),
        });
    }
    Ok(judgement)
}
