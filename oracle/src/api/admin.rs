//! `/v1/admin/*`: ingestion and overrides, behind the bearer token from the configuration.
//!
//! - `POST /v1/admin/ingest` `{format: "csv"|"ton-assets"|"ofac"|"ton-labels", file?, content}` → summary.
//!   `content` is the file's text; `file` its name (ton-assets and OFAC take the category or
//!   asset from it).
//! - `GET /v1/admin/labels` → label counts per category.
//! - `GET /v1/admin/overrides`, `POST /v1/admin/overrides` `{address, action: "allow"|"deny",
//!   categories?, reason, author, expires_at?}`, `DELETE /v1/admin/overrides/{address}?author=`.
//!
//! Without a configured token every admin request is 401: the admin API is off.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tollgate_sdk::Categories;

use super::{parse_address, Json, Path, Query, SharedState};
use crate::changes;
use crate::error::{Error, Result};
use crate::ingest::{self, Summary};
use crate::store::{Override, OverrideAction};

/// Middleware on every admin route: checks `Authorization: Bearer <token>` (in constant time)
/// before any body is read.
pub async fn require_token(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    match authorize(&state, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

fn authorize(state: &SharedState, headers: &HeaderMap) -> Result<()> {
    let Some(expected) = &state.config.admin_token else {
        return Err(Error::Unauthorized);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Error::Unauthorized)?;
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let differ = a.len() != b.len() || a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0;
    if differ {
        return Err(Error::Unauthorized);
    }
    Ok(())
}

/// Longest override `reason`, in characters: overrides are kept with their history and copied
/// into judgements (and so into the audit log), so their text is bounded.
pub const MAX_REASON_CHARS: usize = 1024;

/// Longest `author` of an override or its removal, in characters.
pub const MAX_AUTHOR_CHARS: usize = 128;

/// Refuses empty or overlong text in `field`.
fn bounded_text(field: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::InvalidRequest(format!("{field} is required")));
    }
    if text.chars().count() > max {
        return Err(Error::InvalidRequest(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

/// An ingestion request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// `csv`, `ton-assets`, `ofac`, `ton-labels` (one label file) or `issuer-locks` (a page of
    /// the USDT minter's `/api/v3/transactions`: locks become labels, unlocks remove them).
    #[schema(examples("csv", "ton-assets", "ofac", "ton-labels", "issuer-locks"))]
    pub format: String,
    /// The file name (required for `ton-assets` and `ofac`).
    pub file: Option<String>,
    /// For `issuer-locks`: the jetton minter (any address form) [default: the USDT master].
    pub minter: Option<String>,
    /// The file's text.
    pub content: String,
}

/// Ingests one list sent in the body.
#[utoipa::path(
    post,
    path = "/v1/admin/ingest",
    operation_id = "adminIngest",
    tag = "admin",
    request_body = IngestRequest,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "What the ingestion did", body = super::openapi::IngestSummaryDoc),
        (status = 400, description = "Malformed input: bad address or BoC, malformed JSON", body = super::openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 413, description = "Body larger than the node's limit", body = super::openapi::ErrorDoc),
        (status = 422, description = "Valid input the node will not act on (network, verifier, TTL, too many items)", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn ingest(
    State(state): State<SharedState>,
    Json(request): Json<IngestRequest>,
) -> Result<Summary> {
    let file = request.file.clone();
    let need_file = || {
        file.clone().ok_or_else(|| {
            Error::InvalidRequest(
                "`file` (the list's file name) is required for this format".into(),
            )
        })
    };
    let parsed = match request.format.as_str() {
        "csv" => ingest::csv::parse(file.as_deref().unwrap_or("upload.csv"), &request.content),
        "ton-assets" => ingest::ton_assets::parse_file(&need_file()?, &request.content),
        "ofac" => ingest::ofac::parse_file(&need_file()?, &request.content),
        "ton-labels" => ingest::ton_labels::parse_file(
            file.as_deref().unwrap_or("upload.json"),
            &request.content,
        ),
        "issuer-locks" => {
            let minter = super::parse_address(
                request
                    .minter
                    .as_deref()
                    .unwrap_or(crate::exposure::generate::USDT_MASTER),
            )?;
            let transactions = crate::exposure::toncenter::records(&request.content)
                .map_err(|err| Error::InvalidRequest(format!("issuer-locks: {err}")))?;
            let file = file.clone().unwrap_or_else(|| "upload.json".into());
            crate::exposure::issuer_locks::labels(&[(file, transactions)], &minter)
        }
        other => {
            return Err(Error::InvalidRequest(format!(
                "unknown format `{}` (csv, ton-assets, ofac, ton-labels, issuer-locks)",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let touched = parsed.addresses();
    let shared = state.clone();
    let (summary, changes) = tokio::task::spawn_blocking(move || {
        // The addresses it labels are re-judged, and level changes recorded (change feed,
        // webhooks).
        changes::around(&shared, &touched, "ingest", || {
            ingest::apply(
                shared.store.as_ref(),
                parsed,
                crate::unix_now(),
                &indicatif::ProgressBar::hidden(),
            )
        })
    })
    .await
    .map_err(|err| Error::Store(format!("ingest task: {err}")))??;
    tracing::info!(
        added = summary.added,
        changed = summary.changed,
        removed = summary.removed,
        refused = summary.refused.len(),
        level_changes = changes.len(),
        "admin ingest"
    );
    Ok(summary)
}

/// Label counts per category.
#[utoipa::path(
    get,
    path = "/v1/admin/labels",
    operation_id = "adminLabelCounts",
    tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "category → count", body = BTreeMap<String, u64>),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn label_counts(
    State(state): State<SharedState>,
) -> Result<axum::Json<BTreeMap<String, u64>>> {
    let store = state.store.clone();
    let counts = tokio::task::spawn_blocking(move || store.label_counts())
        .await
        .map_err(|err| Error::Store(err.to_string()))??;
    Ok(axum::Json(counts))
}

/// Every override.
#[utoipa::path(
    get,
    path = "/v1/admin/overrides",
    operation_id = "adminListOverrides",
    tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Every override", body = Vec<super::openapi::OverrideDoc>),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn list_overrides(State(state): State<SharedState>) -> Result<axum::Json<Vec<Override>>> {
    Ok(axum::Json(state.store.overrides()?))
}

/// A new override.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// The address.
    pub address: String,
    /// `allow` or `deny`.
    #[schema(value_type = super::openapi::OverrideActionDoc)]
    pub action: OverrideAction,
    /// Category names to attest (see [`Override::categories`]).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Why (required).
    pub reason: String,
    /// Who (required).
    pub author: String,
    /// Unix seconds after which it lapses; absent: never.
    pub expires_at: Option<u64>,
}

/// Sets an override (replacing any earlier one for the address); recorded in the history.
#[utoipa::path(
    post,
    path = "/v1/admin/overrides",
    operation_id = "adminSetOverride",
    tag = "admin",
    request_body = OverrideRequest,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The override as stored", body = super::openapi::OverrideDoc),
        (status = 400, description = "Malformed input: bad address or BoC, malformed JSON", body = super::openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 422, description = "Valid input the node will not act on (network, verifier, TTL, too many items)", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn set_override(
    State(state): State<SharedState>,
    Json(request): Json<OverrideRequest>,
) -> Result<axum::Json<Override>> {
    let address = parse_address(&request.address)?;
    bounded_text("reason", &request.reason, MAX_REASON_CHARS)?;
    bounded_text("author", &request.author, MAX_AUTHOR_CHARS)?;
    let mut categories = Categories::NONE;
    for name in &request.categories {
        categories |= Categories::from_name(name).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "unknown category `{}`",
                name.chars().take(40).collect::<String>()
            ))
        })?;
    }
    let now = crate::unix_now();
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::InvalidRequest("expires_at is in the past".into()));
    }
    let item = Override {
        address,
        action: request.action,
        categories,
        reason: request.reason.trim().to_string(),
        author: request.author.trim().to_string(),
        created_at: now,
        expires_at: request.expires_at,
    };
    let shared = state.clone();
    let stored = item.clone();
    tokio::task::spawn_blocking(move || {
        changes::around(&shared, &[stored.address], "override", || {
            shared.store.put_override(&stored)
        })
    })
    .await
    .map_err(|err| Error::Store(format!("override task: {err}")))??;
    tracing::info!(address = %item.address, action = ?item.action, author = %item.author, "override set");
    Ok(axum::Json(item))
}

/// Who removes an override.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Author of the removal (recorded).
    pub author: String,
}

/// Removes an override; 404 if there was none.
#[utoipa::path(
    delete,
    path = "/v1/admin/overrides/{address}",
    operation_id = "adminRemoveOverride",
    tag = "admin",
    params(("address" = String, Path, description = "Raw `wc:hex` or user-friendly address"), RemoveQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Removed: `{\"removed\": address}`", body = Object),
        (status = 400, description = "Malformed input: bad address or BoC, malformed JSON", body = super::openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong admin token, or admin API disabled", body = super::openapi::ErrorDoc),
        (status = 404, description = "No such override", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn remove_override(
    State(state): State<SharedState>,
    Path(address): Path<String>,
    Query(query): Query<RemoveQuery>,
) -> Result<axum::Json<serde_json::Value>> {
    let address = parse_address(&address)?;
    bounded_text("author", &query.author, MAX_AUTHOR_CHARS)?;
    let shared = state.clone();
    let author = query.author.clone();
    let (removed, _) = tokio::task::spawn_blocking(move || {
        changes::around(&shared, &[address], "override", || {
            shared
                .store
                .remove_override(&address, &author, crate::unix_now())
        })
    })
    .await
    .map_err(|err| Error::Store(format!("override task: {err}")))??;
    if !removed {
        return Err(Error::NotFound);
    }
    tracing::info!(%address, author = %query.author, "override removed");
    Ok(axum::Json(serde_json::json!({ "removed": address })))
}
