//! `POST /v1/attestations/batch` and `POST /v1/attestations/cosign/batch`: many subjects in one
//! request, for callers such as an exchange screening a block of deposits.
//!
//! Each item is checked, judged and signed as its single endpoint would do it, and gets that
//! endpoint's status: 200 with the signature, or its 4xx error. All signatures of a request go
//! to the audit log as **one submission** — consecutive seqs, one write and one fdatasync — and
//! the response is sent only after that fdatasync. Whole-request failures:
//!
//! | failure | answer |
//! |---|---|
//! | body not the expected JSON (a malformed item included) | 400 `malformed_body` |
//! | more than [`MAX_BATCH`] items | 413 `batch_too_large` |
//! | no items | 422 `invalid_request` |
//! | the node cannot sign or record (store damaged, audit log down), also found while judging one item | 503: nothing of the batch is answered |

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_sdk::api::{ErrorDetail, MAX_BATCH};
use tollgate_sdk::Attestation;

use super::attestations::{
    check_can_sign, check_request, judge, AttestRequest, Encoded, Signed, VerifierForms,
};
use super::cosign::{check_proposal, judge_proposal};
use super::{Json, SharedState};
use crate::audit::{AuditRecord, Kind};
use crate::error::{Error, Result};
use crate::risk::Assessment;

/// `POST /v1/attestations/batch`.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestBatchRequest {
    /// The requests, answered in this order.
    #[schema(max_items = 256, min_items = 1)]
    pub items: Vec<AttestRequest>,
}

/// `POST /v1/attestations/cosign/batch`.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CosignBatchRequest {
    /// Base64 BoCs of the proposed attestations, answered in this order.
    #[schema(max_items = 256, min_items = 1)]
    pub bocs: Vec<String>,
}

/// One result per item, in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// One per item.
    pub results: Vec<BatchItem>,
}

/// One item's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    /// 200, or the 4xx the single endpoint would answer for this item.
    pub status: u16,
    /// The signature (status 200), durable in the audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<Signed>,
    /// Why not (other statuses).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::openapi::ErrorDetailDoc>)]
    pub error: Option<ErrorDetail>,
}

/// Judges many subjects and signs each judgement, recorded in one audit commit.
#[utoipa::path(
    post,
    path = "/v1/attestations/batch",
    operation_id = "attestBatch",
    tag = "signing",
    request_body = AttestBatchRequest,
    responses(
        (status = 200, description = "One result per item; every signature is on disk in the audit log", body = BatchResponse),
        (status = 400, description = "Malformed JSON (a malformed item included)", body = super::openapi::ErrorDoc),
        (status = 413, description = "More items than the node takes per batch, or a body over the limit", body = super::openapi::ErrorDoc),
        (status = 422, description = "No items", body = super::openapi::ErrorDoc),
        (status = 503, description = "The node cannot sign or record: nothing of the batch is signed", body = super::openapi::ErrorDoc),
    )
)]
pub async fn attest_batch(
    State(state): State<SharedState>,
    Json(request): Json<AttestBatchRequest>,
) -> Result<axum::Json<BatchResponse>> {
    check_size(request.items.len())?;
    let _permit = check_can_sign(&state)?;
    let now = crate::unix_now();
    let judged = request
        .items
        .iter()
        .map(|item| {
            let judged = check_request(&state, item).and_then(|c| judge(&state, c, now));
            item_outcome(judged.map(|(attestation, judgement)| Judged {
                ttl_requested: item.ttl_secs,
                attestation,
                judgement,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(axum::Json(sign_all(&state, Kind::Attest, judged).await?))
}

/// Co-signs many proposals, each if its bounds hold for this node; recorded in one audit
/// commit.
#[utoipa::path(
    post,
    path = "/v1/attestations/cosign/batch",
    operation_id = "cosignBatch",
    tag = "signing",
    request_body = CosignBatchRequest,
    responses(
        (status = 200, description = "One result per proposal (409/422 items name the `bound`); every signature is on disk in the audit log", body = BatchResponse),
        (status = 400, description = "Malformed JSON", body = super::openapi::ErrorDoc),
        (status = 413, description = "More items than the node takes per batch, or a body over the limit", body = super::openapi::ErrorDoc),
        (status = 422, description = "No items", body = super::openapi::ErrorDoc),
        (status = 503, description = "The node cannot sign or record: nothing of the batch is signed", body = super::openapi::ErrorDoc),
    )
)]
pub async fn cosign_batch(
    State(state): State<SharedState>,
    Json(request): Json<CosignBatchRequest>,
) -> Result<axum::Json<BatchResponse>> {
    check_size(request.bocs.len())?;
    let _permit = check_can_sign(&state)?;
    let now = crate::unix_now();
    let judged = request
        .bocs
        .iter()
        .map(|boc| {
            let judged = check_proposal(&state, boc, now).and_then(|proposal| {
                let judgement = judge_proposal(&state, &proposal, now)?;
                Ok(Judged {
                    ttl_requested: None,
                    attestation: proposal,
                    judgement,
                })
            });
            item_outcome(judged)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(axum::Json(sign_all(&state, Kind::Cosign, judged).await?))
}

/// Refuses empty and oversize batches.
fn check_size(items: usize) -> Result<()> {
    if items > MAX_BATCH {
        return Err(Error::BatchTooLarge {
            max: MAX_BATCH,
            got: items,
        });
    }
    if items == 0 {
        return Err(Error::InvalidRequest(
            "a batch needs at least one item".into(),
        ));
    }
    Ok(())
}

/// An item ready to sign.
struct Judged {
    ttl_requested: Option<u32>,
    attestation: Attestation,
    judgement: Assessment,
}

/// A client error stays with its item; anything else (store damaged, clock) fails the whole
/// request, because the node must not sign from state it cannot trust.
fn item_outcome(result: Result<Judged>) -> Result<std::result::Result<Judged, BatchItem>> {
    match result {
        Ok(judged) => Ok(Ok(judged)),
        Err(err) if err.is_client_error() => {
            let (status, code) = err.status();
            Ok(Err(BatchItem {
                status: status.as_u16(),
                signed: None,
                error: Some(ErrorDetail {
                    code: code.into(),
                    message: err.to_string(),
                    bound: err.bound().map(Into::into),
                }),
            }))
        }
        Err(err) => Err(err),
    }
}

/// Signs every judged item, records all of them as one audit submission (several only when the
/// node's `audit_batch_max` is below [`MAX_BATCH`]) and answers after its fdatasync.
async fn sign_all(
    state: &SharedState,
    kind: Kind,
    items: Vec<std::result::Result<Judged, BatchItem>>,
) -> Result<BatchResponse> {
    // Cells first, then every signature in one loop (ed25519 is most of a batch, and its
    // tables stay in the cache between signatures), then the records and answers.
    let mut slots = Vec::with_capacity(items.len());
    for item in items {
        slots.push(match item {
            Ok(judged) => Ok((
                judged.ttl_requested,
                Encoded::new(judged.attestation, judged.judgement)?,
            )),
            Err(refused) => Err(refused),
        });
    }
    let signatures: Vec<[u8; 64]> = slots
        .iter()
        .filter_map(|slot| slot.as_ref().ok())
        .map(|(_, encoded)| state.signer.sign(&encoded.encoded).to_bytes())
        .collect();
    let mut records: Vec<AuditRecord> = Vec::with_capacity(signatures.len());
    let mut verifiers = VerifierForms::default();
    let mut signatures = signatures.into_iter();
    let slots: Vec<_> = slots
        .into_iter()
        .map(|slot| match slot {
            Ok((ttl_requested, encoded)) => {
                let signature = signatures.next().expect("one signature per signed item");
                let (record, unrecorded) =
                    encoded.record(state, kind, ttl_requested, signature, &mut verifiers)?;
                records.push(record);
                Ok(Ok(unrecorded))
            }
            Err(refused) => Ok(Err(refused)),
        })
        .collect::<Result<_>>()?;
    let signed = records.len();
    let mut seqs = Vec::with_capacity(signed);
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let chunk: Vec<_> = records.by_ref().take(state.audit.batch_max()).collect();
        let count = chunk.len() as u64;
        // Nothing is answered before this resolves, i.e. before the fdatasync of the chunk.
        let first = state.audit.append_all(chunk).await?;
        seqs.extend(first..first + count);
    }
    super::metrics::signatures(kind).increment(signed as u64);
    let mut seqs = seqs.into_iter();
    let results = slots
        .into_iter()
        .map(|slot| match slot {
            Ok(unrecorded) => BatchItem {
                status: StatusCode::OK.as_u16(),
                signed: Some(unrecorded.recorded_at(seqs.next().unwrap_or_default())),
                error: None,
            },
            Err(refused) => refused,
        })
        .collect();
    Ok(BatchResponse { results })
}
