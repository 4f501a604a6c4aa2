//! `GET /v1/risk/{address}?network=`: the node's judgement of one address.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_sdk::Network;

use super::{parse_address_on, AddressForms, Path, Query, SharedState};
use crate::config::parse_network;
use crate::error::Result;
use crate::risk::Assessment;

/// Query parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RiskQuery {
    /// `mainnet` (default) or `testnet`: which user-friendly forms to show, and whether a
    /// testnet-only address is acceptable.
    pub network: Option<String>,
}

/// A judgement with the address in every form.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Judged {
    /// The judgement (its `address` is raw).
    #[serde(flatten)]
    pub assessment: Assessment,
    /// The address as raw, bounceable and non-bounceable text.
    pub address_forms: AddressForms,
}

impl Judged {
    /// A judgement shown for `network`.
    pub fn new(assessment: Assessment, network: Network) -> Self {
        let address_forms = AddressForms::new(&assessment.address, network);
        Judged {
            assessment,
            address_forms,
        }
    }
}

/// The network a query names, mainnet when absent.
pub(crate) fn query_network(name: Option<&str>) -> Result<Network> {
    name.map_or(Ok(Network::MAINNET), parse_network)
}

/// Score, level, categories and evidence of an address: raw, or user-friendly in either base64
/// alphabet (the route takes the rest of the path, so a `/` of standard base64 may stay as is).
#[utoipa::path(
    get,
    path = "/v1/risk/{address}",
    operation_id = "getRisk",
    tag = "screening",
    params(("address" = String, Path, description = "Raw `wc:hex` or user-friendly address"), RiskQuery),
    responses(
        (status = 200, description = "The node's judgement", body = Judged),
        (status = 400, description = "Malformed input: bad address or BoC, malformed JSON", body = super::openapi::ErrorDoc),
        (status = 422, description = "Valid input the node will not act on (network, verifier, TTL, too many items)", body = super::openapi::ErrorDoc),
        (status = 503, description = "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)", body = super::openapi::ErrorDoc),
    )
)]
pub async fn get_risk(
    State(state): State<SharedState>,
    Path(address): Path<String>,
    Query(query): Query<RiskQuery>,
) -> Result<axum::Json<Judged>> {
    let network = query_network(query.network.as_deref())?;
    let address = parse_address_on(&address, Some(network))?;
    Ok(axum::Json(Judged::new(
        state.engine.assess(&address, crate::unix_now())?,
        network,
    )))
}
