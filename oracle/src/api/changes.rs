//! `GET /v1/changes?since=SEQ&limit=N` (bearer token): the change feed, in order, a page at a
//! time — every change of an address's level the node recorded (`crate::changes`).
//!
//! Behind the admin token: the feed names the subjects of valid attestations as they are
//! re-judged, which the audit log keeps from the public.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{Query, SharedState};
use crate::changes::{Change, MAX_PAGE};
use crate::error::{Error, Result};

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Changes with seq above this (0, the default, for all).
    pub since: Option<u64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// One page of the feed.
#[derive(Debug, Serialize)]
pub struct ChangesPage {
    /// The changes, in seq order.
    pub changes: Vec<Change>,
    /// Pass as `since` for what follows (the last seq of this page, or `since` when empty): a
    /// poller keeps it and asks again.
    pub next_since: u64,
}

/// A page of the change feed.
#[utoipa::path(
    get,
    path = "/v1/changes",
    operation_id = "changes",
    tag = "admin",
    description = "The change feed: every change of an address's level, in order. Behind the admin token: it names the subjects of valid attestations (SPEC.md §14).",
    params(ChangesQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A page of changes", body = super::openapi::ChangesPageDoc),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 422, description = "limit out of range", body = super::openapi::ErrorDoc),
        (status = 503, description = "The store cannot be read", body = super::openapi::ErrorDoc),
    )
)]
pub async fn list(
    State(state): State<SharedState>,
    Query(query): Query<ChangesQuery>,
) -> Result<axum::Json<ChangesPage>> {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::InvalidRequest(format!(
            "limit must be in 1..={MAX_PAGE}"
        )));
    }
    let since = query.since.unwrap_or(0);
    let changes = state.changes.page(since, limit)?;
    let next_since = changes.last().map_or(since, |c| c.seq);
    Ok(axum::Json(ChangesPage {
        changes,
        next_since,
    }))
}
