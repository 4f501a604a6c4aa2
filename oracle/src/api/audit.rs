//! `GET /v1/audit?after=SEQ&limit=N`: the audit log, in order, a page at a time.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Query, SharedState};
use crate::audit::view::entry_json;
use crate::error::{Error, Result};

/// Most entries per page.
pub const MAX_PAGE: usize = 1000;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Return entries with seq greater than this (from the start when absent).
    pub after: Option<u64>,
    /// Page size (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One page of the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Entries as JSON (`audit::view`), each with its `entry_hash` (SHA-256 of the stored record).
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Value>,
    /// Pass as `after` to get the next page; absent when this page is the end.
    pub next_after: Option<u64>,
}

/// A page of the audit log.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "auditLog",
    tag = "admin",
    description = "The hash-chained audit log in order. Behind the admin token: it names every subject and verifier.",
    params(AuditQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 422, description = "Valid input the node will not act on (network, verifier, TTL, too many items)", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn list(
    State(state): State<SharedState>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>> {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::InvalidRequest(format!(
            "limit must be in 1..={MAX_PAGE}"
        )));
    }
    let audit = state.audit.clone();
    // File reads: off the async workers.
    let page = tokio::task::spawn_blocking(move || audit.page(query.after, limit))
        .await
        .map_err(|err| Error::Store(format!("audit task: {err}")))??;
    let full = page.len() == limit;
    let next_after = if full {
        page.last().map(|(entry, _)| entry.seq)
    } else {
        None
    };
    let entries = page
        .iter()
        .map(|(entry, hash)| entry_json(entry, hash))
        .collect::<Result<Vec<_>>>()?;
    Ok(axum::Json(AuditPage {
        entries,
        next_after,
    }))
}
