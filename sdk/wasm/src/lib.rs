//! tollgate-sdk for JavaScript: the Rust sdk compiled to wasm32 with wasm-bindgen.
//!
//! # Layout
//!
//! - this file: the functions JavaScript calls. Values cross the boundary as JSON text (the
//!   package's `index.js` parses and types them, see `index.d.ts`) and cells as base64 BoCs, so
//!   they interoperate with @ton/core (`Cell.fromBase64`).
//! - [`fetch`]: the quorum's [`Transport`](tollgate_sdk::quorum::Transport) over the global
//!   `fetch` (browsers, workers, Node ≥ 18).
//! - [`js_error`]: sdk errors as plain objects with a stable `code`, which `index.js` turns
//!   into `TollgateError`s.
//!
//! Keys and signatures are ed25519-dalek's, as in the Rust sdk; nothing here uses tonlib-core's
//! key code, which derives wrong keys on wasm32. The package verifies and never signs: oracle
//! nodes sign, and leaving signing out drops ed25519's 30 KB basepoint table (the package is
//! ≈ 171 KiB gzipped with it gone, ≈ 200 KiB with it).

pub mod fetch;
pub mod js_error;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use tollgate_sdk::messages::{GateTransfer, JettonTransfer};
use tollgate_sdk::quorum::{ClientConfig, Node};
use tollgate_sdk::ton_connect::{DepositRequest, GateRequest};
use tollgate_sdk::{
    boc, fees, Address, Attestation, AttestationProof, Error, FriendlyFlags, Network, ProofJson,
    SignatureBundle, SignatureEntry,
};
use wasm_bindgen::prelude::*;

use crate::js_error::{invalid_input, to_js, JsResult};

fn parse<'a, T: Deserialize<'a>>(what: &str, json: &'a str) -> JsResult<T> {
    serde_json::from_str(json).map_err(|err| invalid_input(what, &err.to_string()))
}

fn emit<T: Serialize>(value: &T) -> JsResult<String> {
    serde_json::to_string(value).map_err(|err| invalid_input("output", &err.to_string()))
}

fn address(text: &str) -> JsResult<Address> {
    text.parse().map_err(to_js)
}

fn key(hex_key: &str) -> JsResult<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| to_js(Error::InvalidPublicKey("expected 64 hex digits".into())))?;
    VerifyingKey::from_bytes(&bytes).map_err(|err| to_js(Error::InvalidPublicKey(err.to_string())))
}

fn keys(hex_keys: &[String]) -> JsResult<Vec<VerifyingKey>> {
    hex_keys.iter().map(|k| key(k)).collect()
}

/// `{boc, bundle}` (and whatever else a proof's JSON carries): the two BoCs are read.
#[derive(Deserialize)]
struct ProofInput {
    boc: String,
    bundle: String,
}

fn proof(json: &str) -> JsResult<AttestationProof> {
    let input: ProofInput = parse("proof", json)?;
    ProofJson::from_bocs(&input.boc, &input.bundle).map_err(to_js)
}

fn optional_proof(json: Option<String>) -> JsResult<Option<AttestationProof>> {
    json.as_deref().map(proof).transpose()
}

/// Encodes attestation fields (JSON as in `tests/vectors`) into `{boc, hash}`.
#[wasm_bindgen(js_name = encodeAttestation)]
pub fn encode_attestation(fields: &str) -> JsResult<String> {
    let attestation: Attestation = parse("attestation", fields)?;
    attestation.check_bounds().map_err(to_js)?;
    let encoded = attestation.encode().map_err(to_js)?;
    #[derive(Serialize)]
    struct Out {
        boc: String,
        hash: String,
    }
    emit(&Out {
        boc: encoded.to_boc_base64().map_err(to_js)?,
        hash: hex::encode(encoded.hash),
    })
}

/// Decodes an attestation BoC strictly into its fields (JSON).
#[wasm_bindgen(js_name = decodeAttestation)]
pub fn decode_attestation(boc_base64: &str) -> JsResult<String> {
    emit(&Attestation::from_boc_base64(boc_base64).map_err(to_js)?)
}

/// `[{index, signature}]` (hex signatures, any order) into a bundle BoC.
#[wasm_bindgen(js_name = encodeBundle)]
pub fn encode_bundle(entries: &str) -> JsResult<String> {
    #[derive(Deserialize)]
    struct Entry {
        index: u8,
        signature: String,
    }
    let entries: Vec<Entry> = parse("signatures", entries)?;
    let entries = entries
        .into_iter()
        .map(|e| {
            let bytes: [u8; 64] = hex::decode(&e.signature)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| invalid_input("signature", "expected 128 hex digits"))?;
            Ok(SignatureEntry {
                signer: e.index,
                signature: ed25519_dalek::Signature::from_bytes(&bytes),
            })
        })
        .collect::<JsResult<Vec<_>>>()?;
    SignatureBundle::new(entries)
        .and_then(|b| b.to_boc_base64())
        .map_err(to_js)
}

/// Decodes an attestation BoC and a bundle BoC into a proof's JSON (fields, hash, signatures).
#[wasm_bindgen(js_name = decodeProof)]
pub fn decode_proof(boc_base64: &str, bundle_base64: &str) -> JsResult<String> {
    let proof = ProofJson::from_bocs(boc_base64, bundle_base64).map_err(to_js)?;
    emit(&ProofJson::new(&proof).map_err(to_js)?)
}

/// The `AttestationProof` cell (attestation and bundle in one) of a proof, as a base64 BoC.
#[wasm_bindgen(js_name = proofCell)]
pub fn proof_cell(proof_json: &str) -> JsResult<String> {
    proof(proof_json)?.to_boc_base64().map_err(to_js)
}

/// Verifies every signature of a proof strictly against the signer set's keys (hex, by signer
/// index) and that there are at least `threshold` of them. Throws a `TollgateError` naming the
/// failed check (`bad_signature`, `unknown_signer`, `too_few_signatures`, …).
#[wasm_bindgen(js_name = verifyProof)]
pub fn verify_proof(proof_json: &str, public_keys: Vec<String>, threshold: usize) -> JsResult<()> {
    proof(proof_json)?
        .verify(&keys(&public_keys)?, threshold)
        .map_err(to_js)
}

/// Verifies many proofs (a JSON array) at once with ed25519 batch verification; on failure the
/// error names the first bad proof (`in_batch`, with `position`).
#[wasm_bindgen(js_name = verifyProofs)]
pub fn verify_proofs(
    proofs_json: &str,
    public_keys: Vec<String>,
    threshold: usize,
) -> JsResult<()> {
    let inputs: Vec<ProofInput> = parse("proofs", proofs_json)?;
    let proofs = inputs
        .iter()
        .map(|p| ProofJson::from_bocs(&p.boc, &p.bundle))
        .collect::<Result<Vec<_>, _>>()
        .map_err(to_js)?;
    AttestationProof::verify_batch(&proofs, &keys(&public_keys)?, threshold).map_err(to_js)
}

/// `{raw, workchain, hash, bounceable, testnet}` of a raw or user-friendly address.
#[wasm_bindgen(js_name = parseAddress)]
pub fn parse_address(text: &str) -> JsResult<String> {
    let (parsed, flags) = match Address::from_friendly(text) {
        Ok(friendly) => friendly,
        Err(_) => (address(text)?, FriendlyFlags::default()),
    };
    #[derive(Serialize)]
    struct Out {
        raw: String,
        workchain: i8,
        hash: String,
        bounceable: bool,
        testnet: bool,
    }
    emit(&Out {
        raw: parsed.to_raw(),
        workchain: parsed.workchain,
        hash: hex::encode(parsed.hash),
        bounceable: flags.bounceable,
        testnet: flags.testnet,
    })
}

/// The user-friendly (base64url) form of an address.
#[wasm_bindgen(js_name = friendlyAddress)]
pub fn friendly_address(text: &str, bounceable: bool, testnet: bool) -> JsResult<String> {
    Ok(address(text)?.to_friendly(FriendlyFlags {
        bounceable,
        testnet,
    }))
}

/// The fields of a `gate_transfer` as JavaScript passes them (amounts as decimal strings).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GateTransferInput {
    #[serde(default)]
    query_id: Option<String>,
    destination: String,
    amount: String,
    #[serde(default)]
    response_destination: Option<String>,
    #[serde(default)]
    forward_payload: Option<String>,
}

fn number<T: std::str::FromStr>(what: &str, text: &str) -> JsResult<T> {
    text.parse()
        .map_err(|_| invalid_input(what, "expected a non-negative integer (decimal string)"))
}

impl GateTransferInput {
    fn to_transfer(&self) -> JsResult<GateTransfer> {
        Ok(GateTransfer {
            query_id: self
                .query_id
                .as_deref()
                .map(|q| number("queryId", q))
                .transpose()?
                .unwrap_or(0),
            destination: address(&self.destination)?,
            amount: number("amount", &self.amount)?,
            response_destination: self
                .response_destination
                .as_deref()
                .map(address)
                .transpose()?,
            forward_payload: self
                .forward_payload
                .as_deref()
                .map(boc::from_base64)
                .transpose()
                .map_err(to_js)?,
        })
    }
}

fn payload_out(cell: tonlib_core::cell::Cell) -> JsResult<String> {
    let cell = cell.to_arc();
    #[derive(Serialize)]
    struct Out {
        payload: String,
        hash: String,
    }
    emit(&Out {
        payload: boc::to_base64(&cell).map_err(to_js)?,
        hash: hex::encode(cell.cell_hash().as_slice()),
    })
}

/// The `gate_transfer` body `{payload, hash}` with the proofs the gate's policy asks for.
/// A destination proof about another subject is refused (`proof_mismatch`).
#[wasm_bindgen(js_name = gateTransferPayload)]
pub fn gate_transfer_payload(
    transfer: &str,
    destination_proof: Option<String>,
    sender_proof: Option<String>,
) -> JsResult<String> {
    let transfer = parse::<GateTransferInput>("transfer", transfer)?.to_transfer()?;
    let destination_proof = optional_proof(destination_proof)?;
    let sender_proof = optional_proof(sender_proof)?;
    if let Some(p) = &destination_proof {
        if p.attestation.subject != transfer.destination {
            return Err(to_js(Error::ProofMismatch {
                party: "destination",
                field: "subject",
                expected: transfer.destination.to_string(),
                found: p.attestation.subject.to_string(),
            }));
        }
    }
    payload_out(
        transfer
            .to_cell(destination_proof.as_ref(), sender_proof.as_ref())
            .map_err(to_js)?,
    )
}

/// The TON Connect `sendTransaction` request for a transfer through `gate` (JSON, as
/// `tonConnectUI.sendTransaction` takes it). `now` is the unix time expiry is checked at.
#[wasm_bindgen(js_name = gateTransaction)]
pub fn gate_transaction(
    gate: &str,
    transfer: &str,
    destination_proof: Option<String>,
    sender_proof: Option<String>,
    now: u32,
) -> JsResult<String> {
    let transfer = parse::<GateTransferInput>("transfer", transfer)?.to_transfer()?;
    let destination_proof = optional_proof(destination_proof)?;
    let sender_proof = optional_proof(sender_proof)?;
    let request = GateRequest {
        gate: address(gate)?,
        transfer: &transfer,
        destination_proof: destination_proof.as_ref(),
        sender_proof: sender_proof.as_ref(),
        now,
    }
    .to_request()
    .map_err(to_js)?;
    emit(&request)
}

/// The TON Connect `sendTransaction` request for a jetton deposit to a JettonDepositGate (JSON):
/// `deposit` is `{amount, queryId?, comment? | reference?, jettonWallet? | master?}`; with
/// `jettonWallet` a raw message to the depositor's jetton wallet, with `master` TON Connect's
/// structured jetton item. `now` is the unix time expiry is checked at.
#[wasm_bindgen(js_name = depositTransaction)]
pub fn deposit_transaction(
    gate: &str,
    deposit: &str,
    proof_json: &str,
    now: u32,
) -> JsResult<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Input {
        amount: String,
        #[serde(default)]
        query_id: Option<String>,
        #[serde(default)]
        comment: Option<String>,
        #[serde(default)]
        reference: Option<String>,
        #[serde(default)]
        jetton_wallet: Option<String>,
        #[serde(default)]
        master: Option<String>,
    }
    let input: Input = parse("deposit", deposit)?;
    let proof = proof(proof_json)?;
    let reference = match (&input.comment, &input.reference) {
        (Some(_), Some(_)) => {
            return Err(invalid_input(
                "deposit",
                "give comment or reference, not both",
            ))
        }
        (Some(text), None) => Some(tollgate_sdk::messages::comment(text).map_err(to_js)?),
        (None, Some(b64)) => Some(boc::from_base64(b64).map_err(to_js)?.as_ref().clone()),
        (None, None) => None,
    };
    let request = DepositRequest {
        gate: address(gate)?,
        amount: number("amount", &input.amount)?,
        query_id: input
            .query_id
            .as_deref()
            .map(|q| number("queryId", q))
            .transpose()?
            .unwrap_or(0),
        reference: reference.as_ref(),
        proof: &proof,
        now,
    };
    let request = match (&input.master, &input.jetton_wallet) {
        (Some(master), None) => request.to_items_request(address(master)?),
        (None, Some(wallet)) => request.to_request(address(wallet)?),
        _ => {
            return Err(invalid_input(
                "deposit",
                "give jettonWallet or master, exactly one",
            ))
        }
    }
    .map_err(to_js)?;
    emit(&request)
}

/// `forward_ton_amount` (decimal string) a JettonDepositGate needs for a proof with `signatures`
/// signatures and no reference: see the Rust sdk's `fees::deposit_forward_ton`.
#[wasm_bindgen(js_name = depositForwardTon)]
pub fn deposit_forward_ton(signatures: u32) -> String {
    fees::deposit_forward_ton(u64::from(signatures), None).to_string()
}

/// Nanotons a gate charges on top of the amount (decimal string): see the Rust sdk's `fees`.
#[wasm_bindgen(js_name = gateFee)]
pub fn gate_fee(destination_workchain: i8, parties: u32, signatures: u32) -> String {
    fees::gate_fee(
        destination_workchain,
        u64::from(parties),
        u64::from(signatures),
        None,
    )
    .to_string()
}

/// A TEP-74 jetton `transfer` body `{payload, hash}` with the proof in `custom_payload`
/// (`placement = "custom"`) or `forward_payload` (`"forward"`).
#[wasm_bindgen(js_name = jettonTransferPayload)]
pub fn jetton_transfer_payload(
    transfer: &str,
    proof_json: &str,
    placement: &str,
) -> JsResult<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Input {
        #[serde(default)]
        query_id: Option<String>,
        amount: String,
        destination: String,
        response_destination: String,
        forward_ton_amount: String,
    }
    let input: Input = parse("transfer", transfer)?;
    let transfer = JettonTransfer {
        query_id: input
            .query_id
            .as_deref()
            .map(|q| number("queryId", q))
            .transpose()?
            .unwrap_or(0),
        amount: number("amount", &input.amount)?,
        destination: address(&input.destination)?,
        response_destination: address(&input.response_destination)?,
        forward_ton_amount: number("forwardTonAmount", &input.forward_ton_amount)?,
    };
    let proof = proof(proof_json)?;
    let cell = match placement {
        "custom" => transfer.with_proof_in_custom_payload(&proof, None),
        "forward" => transfer.with_proof_in_forward_payload(&proof),
        _ => {
            return Err(invalid_input(
                "placement",
                "expected \"custom\" or \"forward\"",
            ))
        }
    }
    .map_err(to_js)?;
    payload_out(cell)
}

/// The quorum client's configuration as JavaScript passes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientInput {
    nodes: Vec<NodeInput>,
    threshold: usize,
    epoch: u32,
    #[serde(default)]
    ttl_secs: Option<u32>,
    #[serde(default)]
    timeout_ms: Option<u32>,
    #[serde(default)]
    attempts: Option<u32>,
    #[serde(default)]
    backoff_ms: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeInput {
    url: String,
    index: u8,
    public_key: String,
}

/// The quorum client's configuration from its JSON (`ClientConfig` in `index.d.ts`).
fn client_config(config: &str) -> JsResult<ClientConfig> {
    let input: ClientInput = parse("config", config)?;
    let nodes = input
        .nodes
        .iter()
        .map(|n| {
            Ok(Node {
                url: n.url.clone(),
                index: n.index,
                public_key: key(&n.public_key)?,
            })
        })
        .collect::<JsResult<Vec<_>>>()?;
    let mut client = ClientConfig::new(nodes, input.threshold, input.epoch);
    if let Some(ttl) = input.ttl_secs {
        client.ttl_secs = ttl;
    }
    if let Some(ms) = input.timeout_ms {
        client.timeout = std::time::Duration::from_millis(u64::from(ms));
    }
    if let Some(attempts) = input.attempts {
        client.attempts = attempts;
    }
    if let Some(ms) = input.backoff_ms {
        client.backoff = std::time::Duration::from_millis(u64::from(ms));
    }
    Ok(client)
}

fn network(name: &str) -> JsResult<Network> {
    Network::from_name(name)
        .ok_or_else(|| invalid_input("network", "expected mainnet, testnet or a global_id"))
}

/// Gets an attestation of `subject` for `verifier` on `network` ("mainnet", "testnet" or a
/// global_id) signed by at least k of the configured nodes, over `fetch`: the Rust client's
/// rounds, bounds and failure report (`quorum_not_reached` with `failures`). `on_progress`, if
/// given, is called with each event as JSON text. Resolves to the proof's JSON.
#[wasm_bindgen]
pub async fn attest(
    config: String,
    subject: String,
    verifier: String,
    network_name: String,
    on_progress: Option<js_sys::Function>,
) -> JsResult<String> {
    let client = client_config(&config)?;
    let network = network(&network_name)?;
    let transport = fetch::Fetch::new(&client, on_progress);
    let proof = tollgate_sdk::quorum::attest(
        &client,
        &transport,
        address(&subject)?,
        address(&verifier)?,
        network,
    )
    .await
    .map_err(to_js)?;
    emit(&ProofJson::new(&proof).map_err(to_js)?)
}

/// Attestations of many `subjects` (a JSON array of addresses) for one `verifier`, each signed
/// by at least k nodes, with the nodes' batch endpoints (the Rust sdk's `attest_many`: per 256
/// subjects one `POST /v1/screen` and one `POST /v1/attestations/cosign/batch` to each node,
/// which records the batch in one audit commit). Resolves to an array in the subjects' order:
/// each element the proof's JSON text, or the error object of that subject (e.g.
/// `quorum_not_reached` with the nodes that refused it). A bad configuration or address
/// rejects the whole call. (The batch rounds report no progress events.)
#[wasm_bindgen(js_name = attestMany)]
pub async fn attest_many(
    config: String,
    subjects: String,
    verifier: String,
    network_name: String,
) -> JsResult<js_sys::Array> {
    let client = client_config(&config)?;
    let network = network(&network_name)?;
    let texts: Vec<String> = parse("subjects", &subjects)?;
    let subjects = texts
        .iter()
        .map(|text| address(text))
        .collect::<JsResult<Vec<_>>>()?;
    let transport = fetch::Fetch::new(&client, None);
    let results = tollgate_sdk::quorum::attest_many(
        &client,
        &transport,
        &subjects,
        address(&verifier)?,
        network,
    )
    .await
    .map_err(to_js)?;
    let out = js_sys::Array::new();
    for result in results {
        let item = match result.and_then(|proof| ProofJson::new(&proof)) {
            Ok(json) => JsValue::from_str(&emit(&json)?),
            Err(err) => to_js(err),
        };
        out.push(&item);
    }
    Ok(out)
}

/// The SPEC.md §3 names of the categories in a bitmask (JSON array), in bit order.
#[wasm_bindgen(js_name = categoryNames)]
pub fn category_names(mask: u32) -> String {
    serde_json::to_string(&tollgate_sdk::Categories(mask).names()).unwrap_or_default()
}
