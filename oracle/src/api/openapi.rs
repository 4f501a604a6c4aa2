//! `GET /v1/openapi.json`: the API described as OpenAPI 3.1, written by hand next to the code
//! it describes (a test checks that every route is documented).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Value};

/// The OpenAPI document.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(build)
}

/// Serves the document.
pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::Json(spec().clone()),
    )
}

fn error_responses(codes: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for code in codes {
        map.insert((*code).into(), json!({ "description": describe(code), "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }));
    }
    Value::Object(map)
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "Malformed input: bad address, bad BoC, malformed JSON",
        "401" => "Missing or wrong admin token (or admin API disabled)",
        "404" => "Not found",
        "409" => "A proposed bound does not hold for this node's judgement (`bound`: risk or categories)",
        "413" => "Body larger than the node's limit",
        "422" => "Valid input the node will not act on: unknown network, disallowed verifier, TTL above maximum, too many addresses",
        "503" => "Overloaded, timed out, or the store/audit log cannot record (the node fails closed)",
        _ => "Error",
    }
}

fn ok(schema: &str) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn with_errors(mut responses: Value, codes: &[&str]) -> Value {
    if let (Value::Object(map), Value::Object(errors)) = (&mut responses, error_responses(codes)) {
        map.extend(errors);
    }
    responses
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn build() -> Value {
    let address_param = json!([{ "name": "address", "in": "path", "required": true, "schema": { "type": "string" }, "description": "Raw `wc:hex` or user-friendly address" },
        { "name": "network", "in": "query", "schema": { "type": "string", "default": "mainnet" }, "description": "mainnet or testnet: the friendly forms shown; testnet-only addresses are refused for mainnet" }]);
    let admin = json!([{ "bearer": [] }]);
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Tollgate oracle node", "version": env!("CARGO_PKG_VERSION"), "description": "Scores TON addresses and signs risk attestations (SPEC.md)." },
        "paths": {
            "/v1/risk/{address}": { "get": { "summary": "Score, level, categories and evidence of an address", "parameters": address_param,
                "responses": with_errors(json!({ "200": ok("Assessment") }), &["400", "503"]) } },
            "/v1/screen": { "post": { "summary": "Judge up to 1000 addresses", "requestBody": body("ScreenRequest"),
                "responses": with_errors(json!({ "200": ok("ScreenResponse") }), &["400", "413", "422", "503"]) } },
            "/v1/attestations": { "post": { "summary": "Sign the node's judgement of a subject as an attestation", "requestBody": body("AttestRequest"),
                "responses": with_errors(json!({ "200": ok("Signed") }), &["400", "413", "422", "503"]) } },
            "/v1/attestations/cosign": { "post": { "summary": "Co-sign a proposed attestation if its bounds hold for this node", "requestBody": body("CosignRequest"),
                "responses": with_errors(json!({ "200": ok("Signed") }), &["400", "409", "413", "422", "503"]) } },
            "/v1/audit": { "get": { "summary": "The hash-chained audit log, in order (admin token: it names every subject and verifier)", "security": admin,
                "parameters": [
                    { "name": "after", "in": "query", "schema": { "type": "integer", "minimum": 0 }, "description": "Entries with seq greater than this" },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
                ],
                "responses": with_errors(json!({ "200": ok("AuditPage") }), &["401", "422", "503"]) } },
            "/v1/evidence/{address}": { "get": { "summary": "The signed evidence case file of an address: labels, override, exposure paths, judgement history (admin token: it names verifiers and counterparties; SPEC.md §13)", "security": admin,
                "parameters": [address_param[0].clone()],
                "responses": with_errors(json!({ "200": ok("CaseFile") }), &["400", "401", "503"]) } },
            "/v1/changes": { "get": { "summary": "The change feed: every change of an address's level, in order (admin token: it names the subjects of valid attestations)", "security": admin,
                "parameters": [
                    { "name": "since", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 }, "description": "Changes with seq greater than this (the last `next_since`)" },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
                ],
                "responses": with_errors(json!({ "200": ok("ChangesPage") }), &["401", "422", "503"]) } },
            "/v1/oracle": { "get": { "summary": "Public key, signer index, epoch and signing policy", "responses": { "200": ok("OracleInfo") } } },
            "/v1/admin/ingest": { "post": { "summary": "Ingest a label list", "security": admin, "requestBody": body("IngestRequest"),
                "responses": with_errors(json!({ "200": ok("IngestSummary") }), &["400", "401", "413", "422"]) } },
            "/v1/admin/labels": { "get": { "summary": "Label counts per category", "security": admin,
                "responses": with_errors(json!({ "200": { "description": "category → count", "content": { "application/json": { "schema": { "type": "object", "additionalProperties": { "type": "integer" } } } } } }), &["401"]) } },
            "/v1/admin/overrides": {
                "get": { "summary": "Every override", "security": admin, "responses": with_errors(json!({ "200": { "description": "OK", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Override" } } } } } }), &["401"]) },
                "post": { "summary": "Set an allow/deny override (wins over labels)", "security": admin, "requestBody": body("OverrideRequest"),
                    "responses": with_errors(json!({ "200": ok("Override") }), &["400", "401", "422"]) } },
            "/v1/admin/overrides/{address}": { "delete": { "summary": "Remove an override", "security": admin,
                "parameters": [address_param[0].clone(), { "name": "author", "in": "query", "required": true, "schema": { "type": "string" } }],
                "responses": with_errors(json!({ "200": { "description": "Removed" } }), &["400", "401", "404"]) } },
            "/v1/health": { "get": { "summary": "Liveness", "responses": { "200": { "description": "The process serves HTTP" } } } },
            "/v1/ready": { "get": { "summary": "Readiness: store readable and audit log writable", "responses": { "200": { "description": "Ready" }, "503": { "description": "Not ready" } } } },
            "/v1/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "Prometheus text format", "content": { "text/plain": {} } } } } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string", "examples": ["invalid_address", "invalid_boc", "unknown_network", "bound_violated", "policy_refused", "overloaded"] },
                    "message": { "type": "string" },
                    "bound": { "type": "string", "description": "Which bound or policy failed (409/422)", "examples": ["risk", "categories", "network", "verifier", "ttl", "epoch", "validity"] } } } } },
                "Level": { "type": "string", "enum": ["low", "medium", "high", "severe"], "description": "low < 25 <= medium < 50 <= high < 75 <= severe" },
                "Evidence": { "type": "object", "properties": {
                    "kind": { "type": "string", "enum": ["label", "override", "exposure"] }, "source": { "type": "string" },
                    "categories": { "type": "array", "items": { "type": "string" } }, "severity": { "type": "integer" },
                    "name": { "type": "string" }, "since": { "type": "integer" }, "counted": { "type": "boolean" } } },
                "Assessment": { "type": "object", "properties": {
                    "address": { "type": "string", "description": "raw wc:hex" },
                    "address_forms": { "$ref": "#/components/schemas/AddressForms", "description": "in /v1/risk and /v1/screen answers, not in judgements embedded in signatures" }, "score": { "type": "integer", "minimum": 0, "maximum": 100 },
                    "level": { "$ref": "#/components/schemas/Level" }, "categories": { "type": "array", "items": { "type": "string" } },
                    "categories_mask": { "type": "integer" }, "evidence": { "type": "array", "items": { "$ref": "#/components/schemas/Evidence" } },
                    "policy_version": { "type": "string" } } },
                "ScreenRequest": { "type": "object", "required": ["addresses"], "properties": { "addresses": { "type": "array", "maxItems": 1000, "items": { "type": "string" } } } },
                "ScreenResponse": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Assessment" } } } },
                "Network": { "oneOf": [{ "type": "integer", "description": "global_id, e.g. -239" }, { "type": "string", "description": "mainnet, testnet or a global_id" }] },
                "AttestRequest": { "type": "object", "required": ["subject", "verifier", "network"], "properties": {
                    "subject": { "type": "string" }, "verifier": { "type": "string" }, "network": { "$ref": "#/components/schemas/Network" },
                    "ttl_secs": { "type": "integer", "minimum": 1 } } },
                "CosignRequest": { "type": "object", "required": ["boc"], "properties": { "boc": { "type": "string", "description": "base64 BoC of the proposed attestation" } } },
                "Attestation": { "type": "object", "description": "SPEC.md §1", "properties": {
                    "network": { "type": "integer" }, "verifier": { "type": "string" }, "subject": { "type": "string" },
                    "risk": { "type": "integer" }, "categories": { "type": "integer", "description": "bitmask, SPEC.md §3" },
                    "issued_at": { "type": "integer" }, "valid_until": { "type": "integer" }, "epoch": { "type": "integer" },
                    "nonce": { "type": "string", "description": "uint64 as decimal text" } } },
                "Signed": { "type": "object", "properties": {
                    "attestation": { "$ref": "#/components/schemas/Attestation" }, "boc": { "type": "string" }, "hash": { "type": "string" },
                    "signature": { "type": "string" }, "signer_index": { "type": "integer" }, "public_key": { "type": "string" },
                    "subject_forms": { "$ref": "#/components/schemas/AddressForms" }, "verifier_forms": { "$ref": "#/components/schemas/AddressForms" },
                    "audit_seq": { "type": "integer" }, "judgement": { "$ref": "#/components/schemas/Assessment" } } },
                "AddressForms": { "type": "object", "description": "raw, and both user-friendly forms (testnet-flagged on testnet): bounceable for contracts, non-bounceable for wallets", "properties": {
                    "raw": { "type": "string" }, "bounceable": { "type": "string" }, "non_bounceable": { "type": "string" } } },
                "AuditPage": { "type": "object", "properties": { "entries": { "type": "array", "items": { "type": "object" } }, "next_after": { "type": ["integer", "null"] } } },
                "OracleInfo": { "type": "object", "properties": {
                    "public_key": { "type": "string" }, "signer_index": { "type": "integer" }, "epoch": { "type": "integer" },
                    "networks": { "type": "array", "items": { "type": "integer" } }, "verifiers": { "type": "array", "items": { "type": "string" } },
                    "default_ttl_secs": { "type": "integer" }, "max_ttl_secs": { "type": "integer" }, "policy_version": { "type": "string" },
                    "development_key": { "type": "boolean" }, "version": { "type": "string" } } },
                "IngestRequest": { "type": "object", "required": ["format", "content"], "properties": {
                    "format": { "type": "string", "enum": ["csv", "ton-assets", "ofac", "ton-labels"] }, "file": { "type": "string" }, "content": { "type": "string" } } },
                "IngestSummary": { "type": "object", "properties": {
                    "added": { "type": "integer" }, "changed": { "type": "integer" }, "unchanged": { "type": "integer" },
                    "per_category": { "type": "object", "additionalProperties": { "type": "integer" } },
                    "refused": { "type": "array", "items": { "type": "object", "properties": { "file": { "type": "string" }, "line": { "type": "integer" }, "reason": { "type": "string" } } } } } },
                "CaseFile": { "type": "object", "required": ["case", "signature"], "description": "SPEC.md §13; check with `tollgate verify-evidence FILE --key HEX`", "properties": {
                    "case": { "type": "object", "description": "format, subject, generated_at, node, policies, judgement, labels, override_decision, exposure, history, audit" },
                    "signature": { "type": "string", "description": "ed25519 over the domain prefix and the JCS form of `case`, hex" } } },
                "Snapshot": { "type": "object", "properties": { "score": { "type": "integer" }, "level": { "$ref": "#/components/schemas/Level" }, "categories": { "type": "integer", "description": "bitmask, SPEC.md §3" } } },
                "Change": { "type": "object", "description": "Also the body of every webhook (SPEC.md §14)", "properties": {
                    "seq": { "type": "integer" }, "at": { "type": "integer" }, "address": { "type": "string" },
                    "cause": { "type": "string", "enum": ["ingest", "override", "rescreen"] },
                    "previous": { "$ref": "#/components/schemas/Snapshot" }, "current": { "$ref": "#/components/schemas/Snapshot" },
                    "policy_version": { "type": "string" } } },
                "ChangesPage": { "type": "object", "properties": { "changes": { "type": "array", "items": { "$ref": "#/components/schemas/Change" } }, "next_since": { "type": "integer" } } },
                "OverrideRequest": { "type": "object", "required": ["address", "action", "reason", "author"], "properties": {
                    "address": { "type": "string" }, "action": { "type": "string", "enum": ["allow", "deny"] },
                    "categories": { "type": "array", "items": { "type": "string" } }, "reason": { "type": "string" }, "author": { "type": "string" },
                    "expires_at": { "type": "integer" } } },
                "Override": { "type": "object", "properties": {
                    "address": { "type": "string" }, "action": { "type": "string" }, "categories": { "type": "integer" }, "reason": { "type": "string" },
                    "author": { "type": "string" }, "created_at": { "type": "integer" }, "expires_at": { "type": ["integer", "null"] } } }
            }
        }
    })
}
