//! `GET /v1/evidence/{address}` (bearer token): the signed evidence case file of an address
//! (SPEC.md §13).
//!
//! Behind the admin token, like `/v1/audit`: a case file names the verifiers that screened the
//! address and when, its counterparties and the transaction paths between them — what the audit
//! log keeps from the public. The operator hands the file to whoever needs it (an investigator,
//! a victim's lawyer); it verifies offline with the node's public key, without access to the
//! node.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{parse_address, Path, SharedState};
use crate::error::{Error, Result};
use crate::evidence::{self, Sources};

/// The case file of one address, as JSON.
#[utoipa::path(
    get,
    path = "/v1/evidence/{address}",
    operation_id = "evidence",
    tag = "admin",
    description = "The signed evidence case file of an address: labels with sources, override, exposure paths, judgement history. Behind the admin token: it names verifiers and counterparties (SPEC.md §13).",
    params(("address" = String, Path, description = "Raw `wc:hex` or user-friendly")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The case file", body = super::openapi::CaseFileDoc),
        (status = 400, description = "Malformed address", body = super::openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 503, description = "The store cannot be read or failed its checks (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn get_evidence(
    State(state): State<SharedState>,
    Path(address): Path<String>,
) -> Result<Response> {
    let address = parse_address(&address)?;
    // The node signs the file: not from a store it cannot prove intact.
    if !state.store.is_intact() {
        return Err(Error::Corrupt("a store record failed its check".into()));
    }
    let file = tokio::task::spawn_blocking(move || {
        let sources = Sources {
            store: state.store.as_ref(),
            engine: &state.engine,
            signer: &state.signer,
            audit: &state.audit,
        };
        evidence::case_file(&sources, &address, crate::unix_now())
    })
    .await
    .map_err(|err| Error::Store(format!("evidence task: {err}")))??;
    let body = file.to_json()?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
