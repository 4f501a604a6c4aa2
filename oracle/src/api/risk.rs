//! `GET /v1/risk/{address}`: the node's judgement of one address.

use axum::extract::State;

use super::{parse_address, Path, SharedState};
use crate::error::Result;
use crate::risk::Assessment;

/// Score, level, categories and evidence of an address: raw, or user-friendly in either base64
/// alphabet (the route takes the rest of the path, so a `/` of standard base64 may stay as is).
pub async fn get_risk(
    State(state): State<SharedState>,
    Path(address): Path<String>,
) -> Result<axum::Json<Assessment>> {
    let address = parse_address(&address)?;
    Ok(axum::Json(
        state.engine.assess(&address, crate::unix_now())?,
    ))
}
