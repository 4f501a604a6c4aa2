//! `GET /v1/openapi.json`: the API as OpenAPI 3.1, derived with utoipa from the handlers'
//! `#[utoipa::path]` attributes and the request/response types' `ToSchema` derives, so the
//! document changes when the code does.
//!
//! A new route needs its handler listed in [`ApiDoc`]'s `paths(...)`; a test
//! (`openapi_documents_every_route`) reads the router's `.route(...)` calls and fails when one
//! is missing, and calls every documented operation to show it exists.
//!
//! Types of other crates or modules that this module should not reach into (the sdk's wire
//! types, the store's records, the ingest summary) are described here by schema-only mirrors
//! (`*Doc`), each checked against a real value in the tests.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{
    admin, attestations, audit, batch, changes, cosign, evidence, health, jetton_payload, metrics,
    oracle, risk, screen, AddressForms,
};

/// The name of the admin token's security scheme (`Authorization: Bearer <token>`).
pub const ADMIN_SECURITY: &str = "admin_token";

/// The derived document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate oracle node",
        description = "Scores TON addresses and signs risk attestations (SPEC.md §9)."
    ),
    servers((url = "/", description = "The node serving this document (its `--listen` address)")),
    paths(
        risk::get_risk,
        screen::screen,
        attestations::attest,
        cosign::cosign,
        batch::attest_batch,
        batch::cosign_batch,
        oracle::info,
        jetton_payload::transfer_payload,
        jetton_payload::wallet_payload,
        audit::list,
        evidence::get_evidence,
        changes::list,
        admin::ingest,
        admin::label_counts,
        admin::list_overrides,
        admin::set_override,
        admin::remove_override,
        health::health,
        health::ready,
        metrics::render,
        document,
    ),
    components(schemas(ErrorDoc, AddressForms)),
    modifiers(&AdminToken),
    tags(
        (name = "screening", description = "Judgements of addresses"),
        (name = "signing", description = "Attestations, each recorded durably in the audit log before it is answered"),
        (name = "node", description = "Identity, probes, metrics and this document"),
        (name = "admin", description = "Behind the admin bearer token"),
    )
)]
pub struct ApiDoc;

/// Adds the admin token's security scheme (the paths name it in `security(...)`).
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ADMIN_SECURITY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The node's admin token (`--admin-token-file`); without one configured every admin request is 401",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as JSON text, built once.
pub fn spec_json() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the derived OpenAPI document serialises")
    })
}

/// Serves the document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    tag = "node",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json"))
)]
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], spec_json())
}

/// The body of every 4xx/5xx answer (`crate::error`).
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // a schema only: the node builds this body in `crate::error`
pub struct ErrorDoc {
    error: ErrorDetailDoc,
}

/// A stable code, a message for people, and for 409/422 the bound or policy that failed.
#[derive(ToSchema)]
#[schema(as = ErrorDetail)]
#[allow(dead_code)]
pub struct ErrorDetailDoc {
    /// Stable snake_case code.
    #[schema(examples(
        "invalid_address",
        "invalid_boc",
        "bound_violated",
        "policy_refused",
        "overloaded"
    ))]
    code: String,
    /// For people; never internals.
    message: String,
    /// Which bound or policy failed (409/422).
    #[schema(examples(
        "risk",
        "categories",
        "network",
        "verifier",
        "ttl",
        "epoch",
        "validity"
    ))]
    bound: Option<String>,
}

/// An attestation's fields (SPEC.md §1; the sdk's `Attestation`).
#[derive(ToSchema)]
#[schema(as = Attestation)]
#[allow(dead_code)]
pub struct AttestationDoc {
    /// `global_id` (-239 mainnet, -3 testnet).
    network: i32,
    /// The verifying contract, raw `wc:hex`.
    verifier: String,
    /// The screened address, raw `wc:hex`.
    subject: String,
    /// Risk bound 0–100.
    risk: u8,
    /// Category bitmask (SPEC.md §3).
    categories: u32,
    /// Unix seconds.
    issued_at: u32,
    /// Unix seconds.
    valid_until: u32,
    /// Signer-set epoch.
    epoch: u32,
    /// uint64 as decimal text.
    nonce: String,
}

/// One node's signature over one attestation (the sdk's `SignedAttestation`).
#[derive(ToSchema)]
#[schema(as = SignedAttestation)]
#[allow(dead_code)]
pub struct SignedAttestationDoc {
    attestation: AttestationDoc,
    /// Base64 BoC of the attestation cell.
    boc: String,
    /// Representation hash of the cell, hex: what was signed.
    hash: String,
    /// ed25519 signature over the hash, hex.
    signature: String,
    /// The signer's index in the signer set.
    signer_index: u8,
    /// The signer's public key, hex.
    public_key: String,
}

/// An allow/deny decision that wins over labels (the store's `Override`).
#[derive(ToSchema)]
#[schema(as = Override)]
#[allow(dead_code)]
pub struct OverrideDoc {
    /// Raw `wc:hex`.
    address: String,
    action: OverrideActionDoc,
    /// Category bitmask.
    categories: u32,
    reason: String,
    author: String,
    /// Unix seconds.
    created_at: u64,
    /// Unix seconds; absent or null: never expires.
    expires_at: Option<u64>,
}

/// `allow` scores 0, `deny` scores 100.
#[derive(ToSchema)]
#[schema(as = OverrideAction)]
#[allow(dead_code)]
#[serde(rename_all = "lowercase")]
pub enum OverrideActionDoc {
    /// Judged risk-free whatever the labels say.
    Allow,
    /// Judged severe whatever the labels say.
    Deny,
}

/// What an ingestion did (`crate::ingest::Summary`).
#[derive(ToSchema)]
#[schema(as = IngestSummary)]
#[allow(dead_code)]
pub struct IngestSummaryDoc {
    added: u64,
    changed: u64,
    unchanged: u64,
    /// Labels removed because their source retracted them (an issuer unlock).
    removed: u64,
    /// Rows read per category name.
    per_category: std::collections::BTreeMap<String, u64>,
    refused: Vec<RefusalDoc>,
}

/// A refused record.
#[derive(ToSchema)]
#[schema(as = Refusal)]
#[allow(dead_code)]
pub struct RefusalDoc {
    file: String,
    line: u64,
    reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_operation_ids_and_the_admin_scheme() {
        let doc: serde_json::Value = serde_json::from_str(spec_json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"][ADMIN_SECURITY]["scheme"],
            "bearer"
        );
        assert!(doc["servers"].as_array().is_some_and(|s| !s.is_empty()));
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_else(|| {
                    panic!("{method} {path} has no operationId");
                });
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
            }
        }
        let audit = &doc["paths"]["/v1/audit"]["get"];
        assert!(
            audit["security"][0].get(ADMIN_SECURITY).is_some(),
            "{audit}"
        );
    }

    /// The mirrors describe the real types: every field a real value serialises is in the
    /// mirror's schema, and the other way round.
    #[test]
    fn mirrors_match_the_types_they_describe() {
        use tollgate_sdk::{Address, Attestation, Categories, Network};
        let doc: serde_json::Value = serde_json::from_str(spec_json()).unwrap();
        let fields = |schema: &str| -> std::collections::BTreeSet<String> {
            doc["components"]["schemas"][schema]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("no schema {schema}"))
                .keys()
                .cloned()
                .collect()
        };
        let keys = |value: serde_json::Value| -> std::collections::BTreeSet<String> {
            value.as_object().unwrap().keys().cloned().collect()
        };
        let address = Address::from_raw(&format!("0:{}", "ab".repeat(32))).unwrap();
        let attestation = Attestation {
            network: Network::MAINNET,
            verifier: address,
            subject: address,
            risk: 1,
            categories: Categories::SCAM,
            issued_at: 1,
            valid_until: 2,
            epoch: 0,
            nonce: 7,
        };
        assert_eq!(
            keys(serde_json::to_value(attestation).unwrap()),
            fields("Attestation")
        );
        let signed = tollgate_sdk::api::SignedAttestation {
            attestation,
            boc: String::new(),
            hash: String::new(),
            signature: String::new(),
            signer_index: 0,
            public_key: String::new(),
        };
        assert_eq!(
            keys(serde_json::to_value(signed).unwrap()),
            fields("SignedAttestation")
        );
        let item = crate::store::Override {
            address,
            action: crate::store::OverrideAction::Deny,
            categories: Categories::SCAM,
            reason: "r".into(),
            author: "a".into(),
            created_at: 1,
            expires_at: None,
        };
        assert_eq!(
            keys(serde_json::to_value(item).unwrap()),
            fields("Override")
        );
        assert_eq!(
            keys(serde_json::to_value(crate::ingest::Summary::default()).unwrap()),
            fields("IngestSummary")
        );
    }
}

/// A signed evidence case file (SPEC.md §13; the sdk's `evidence::SignedCaseFile`). Check it
/// offline with `tollgate verify-evidence FILE --key HEX`.
#[derive(ToSchema)]
#[schema(as = CaseFile)]
#[allow(dead_code)]
pub struct CaseFileDoc {
    /// format, subject, generated_at, node, policies, judgement, labels, override_decision,
    /// exposure (findings with their transfer paths), history, audit.
    #[schema(value_type = Object)]
    case: (),
    /// ed25519 over the domain prefix and the JCS form of `case`, hex.
    signature: String,
}

/// A judgement's level at one time (`crate::changes::Snapshot`).
#[derive(ToSchema)]
#[schema(as = Snapshot)]
#[allow(dead_code)]
pub struct SnapshotDoc {
    /// 0–100.
    score: u8,
    /// `low`, `medium`, `high` or `severe`.
    level: String,
    /// Category bitmask (SPEC.md §3).
    categories: u32,
}

/// One change of an address's level; also the body of every webhook (SPEC.md §14).
#[derive(ToSchema)]
#[schema(as = Change)]
#[allow(dead_code)]
pub struct ChangeDoc {
    /// Position in the feed, from 1.
    seq: u64,
    /// Unix seconds.
    at: u64,
    /// Raw `wc:hex`.
    address: String,
    /// `ingest`, `override` or `rescreen`.
    cause: String,
    previous: SnapshotDoc,
    current: SnapshotDoc,
    /// Scoring policy and label set of the new judgement.
    policy_version: String,
}

/// A page of the change feed.
#[derive(ToSchema)]
#[schema(as = ChangesPage)]
#[allow(dead_code)]
pub struct ChangesPageDoc {
    changes: Vec<ChangeDoc>,
    /// Pass as `since` for the next page.
    next_since: u64,
}
