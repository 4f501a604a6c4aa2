// tollgate-sdk for JavaScript: typed wrappers over the Rust sdk compiled to WebAssembly
// (pkg/, built by build.sh). Values cross into wasm as JSON text and come back parsed; cells
// are base64 BoCs (@ton/core: Cell.fromBase64(boc)). Every failure is a TollgateError whose
// `code` is the Rust sdk's Error::code() (the same names the `tollgate` CLI prints).
//
// Call `initialize()` once before anything else (in Node, import 'tollgate-sdk/node' instead).

import init, * as wasm from './pkg/tollgate_sdk_wasm.js';

let initialized = null;

/**
 * Loads the WebAssembly module. Without an argument it is fetched next to this file (browsers
 * and bundlers that keep `new URL(..., import.meta.url)`); pass a URL, a Response, bytes or a
 * compiled WebAssembly.Module to load it from elsewhere.
 */
export function initialize(moduleOrPath) {
    initialized ??= init(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
    return initialized;
}

/** Loads the module synchronously from its bytes or a compiled WebAssembly.Module. */
export function initializeSync(module) {
    wasm.initSync({ module });
    initialized = Promise.resolve();
}

/** A failure of the sdk: `code` names its kind (`bad_signature`, `proof_mismatch`, …). */
export class TollgateError extends Error {
    constructor(detail) {
        super(detail.message);
        this.name = 'TollgateError';
        /** Stable snake_case kind of the failure. */
        this.code = detail.code;
        for (const [key, value] of Object.entries(detail)) {
            if (key !== 'message' && key !== 'code') this[key] = key === 'cause' ? toError(value) : value;
        }
    }
}

/** Fewer than k nodes signed: `failures` lists every node that failed, and why. */
export class QuorumError extends TollgateError {
    constructor(detail) {
        super(detail);
        this.name = 'QuorumError';
    }
}

function toError(value) {
    if (value && typeof value === 'object' && !(value instanceof Error) && typeof value.code === 'string') {
        return value.code === 'quorum_not_reached' ? new QuorumError(value) : new TollgateError(value);
    }
    return value;
}

function call(fn) {
    try {
        return fn();
    } catch (err) {
        throw toError(err);
    }
}

const json = (value) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
const decimal = (value) => (value === undefined || value === null ? undefined : String(value));
const proofJson = (proof) => (proof ? json(proof) : undefined);

/** Encodes attestation fields into the attestation cell: `{boc, hash}`. */
export function encodeAttestation(fields) {
    return JSON.parse(call(() => wasm.encodeAttestation(json(fields))));
}

/** Decodes an attestation BoC (base64) strictly into its fields. */
export function decodeAttestation(boc) {
    return JSON.parse(call(() => wasm.decodeAttestation(boc)));
}

/** The representation hash (hex) of an attestation: what signers sign. */
export function attestationHash(fields) {
    return encodeAttestation(fields).hash;
}

/** A signature bundle BoC (base64) from `[{index, signature}]` in any order. */
export function encodeBundle(signatures) {
    return call(() => wasm.encodeBundle(json(signatures)));
}

/** A proof (fields, hash and signatures) decoded strictly from its two BoCs. */
export function decodeProof(boc, bundle) {
    return JSON.parse(call(() => wasm.decodeProof(boc, bundle)));
}

/** The AttestationProof cell (attestation and bundle in one), base64 BoC. */
export function proofCell(proof) {
    return call(() => wasm.proofCell(json(proof)));
}

/** Verifies a proof strictly against a signer set; throws a TollgateError when it fails. */
export function verifyProof(proof, signers) {
    call(() => wasm.verifyProof(json(proof), signers.publicKeys, signers.threshold));
}

/** Verifies many proofs with ed25519 batch verification; the error names the first bad one. */
export function verifyProofs(proofs, signers) {
    call(() => wasm.verifyProofs(json(proofs), signers.publicKeys, signers.threshold));
}

/** The parts and flags of a raw or user-friendly address. */
export function parseAddress(text) {
    return JSON.parse(call(() => wasm.parseAddress(text)));
}

/** The user-friendly form of an address. */
export function friendlyAddress(text, { bounceable = true, testnet = false } = {}) {
    return call(() => wasm.friendlyAddress(text, bounceable, testnet));
}

function gateTransferJson(t) {
    return json({
        queryId: decimal(t.queryId),
        destination: t.destination,
        amount: decimal(t.amount),
        responseDestination: t.responseDestination ?? undefined,
        forwardPayload: t.forwardPayload ?? undefined,
    });
}

/** The `gate_transfer` body `{payload, hash}`; a destination proof about another subject is refused. */
export function gateTransferPayload(transfer, { destinationProof, senderProof } = {}) {
    return JSON.parse(call(() => wasm.gateTransferPayload(gateTransferJson(transfer),
        proofJson(destinationProof), proofJson(senderProof))));
}

/**
 * The TON Connect `sendTransaction` request for a transfer through a ComplianceGate, ready for
 * `tonConnectUI.sendTransaction(request)`.
 */
export function gateTransaction({ gate, transfer, destinationProof, senderProof, now }) {
    const seconds = now ?? Math.floor(Date.now() / 1000);
    return JSON.parse(call(() => wasm.gateTransaction(gate, gateTransferJson(transfer),
        proofJson(destinationProof), proofJson(senderProof), seconds)));
}

/**
 * The TON Connect `sendTransaction` request for a jetton deposit to a JettonDepositGate: the
 * proof and reference in `forward_payload`, the forward amount and TON computed. Give the
 * depositor's `jettonWallet` (a raw message) or the jetton's `master` (a structured jetton item).
 */
export function depositTransaction({ gate, deposit, proof, now }) {
    const seconds = now ?? Math.floor(Date.now() / 1000);
    return JSON.parse(call(() => wasm.depositTransaction(gate, json({
        amount: decimal(deposit.amount),
        queryId: decimal(deposit.queryId),
        comment: deposit.comment,
        reference: deposit.reference,
        jettonWallet: deposit.jettonWallet,
        master: deposit.master,
    }), proofJson(proof), seconds)));
}

/** `forward_ton_amount` (decimal string) a JettonDepositGate needs for a proof of k signatures. */
export function depositForwardTon({ signatures = 1 } = {}) {
    return wasm.depositForwardTon(signatures);
}

/** Nanotons (decimal string) a gate charges on top of the amount it forwards. */
export function gateFee({ destinationWorkchain = 0, parties = 1, signatures = 1 } = {}) {
    return wasm.gateFee(destinationWorkchain, parties, signatures);
}

/** A TEP-74 jetton `transfer` body `{payload, hash}` carrying the proof. */
export function jettonTransferPayload(transfer, proof, placement) {
    return JSON.parse(call(() => wasm.jettonTransferPayload(json({
        queryId: decimal(transfer.queryId),
        amount: decimal(transfer.amount),
        destination: transfer.destination,
        responseDestination: transfer.responseDestination,
        forwardTonAmount: decimal(transfer.forwardTonAmount ?? 10_000_000),
    }), proofJson(proof), placement)));
}

/**
 * Gets an attestation of `subject` for `verifier` signed by at least k of the nodes, over
 * `fetch`: the Rust client's rounds, bounds and failure report. Rejects with a QuorumError
 * listing every failed node when fewer than k sign.
 */
export async function attest(config, { subject, verifier, network = 'mainnet', onProgress }) {
    const progress = onProgress ? (text) => onProgress(JSON.parse(text)) : undefined;
    try {
        return JSON.parse(await wasm.attest(json(config), subject, verifier, String(network), progress));
    } catch (err) {
        throw toError(err);
    }
}

/**
 * Gets attestations of many subjects for one verifier, each signed by at least k nodes, with the
 * nodes' batch endpoints (256 subjects per request, one audit commit per batch on each node).
 * Resolves to one result per subject, in order: `{subject, proof}` or `{subject, error}` (a
 * TollgateError, QuorumError when too few nodes signed that subject). Rejects only for a bad
 * configuration, address or network.
 */
export async function attestMany(config, { subjects, verifier, network = 'mainnet' }) {
    let results;
    try {
        results = await wasm.attestMany(json(config), JSON.stringify(subjects), verifier, String(network));
    } catch (err) {
        throw toError(err);
    }
    return results.map((item, i) => (typeof item === 'string'
        ? { subject: subjects[i], proof: JSON.parse(item) }
        : { subject: subjects[i], error: toError(item) }));
}

/** The SPEC.md §3 names of the categories in a bitmask, in bit order. */
export function categoryNames(mask) {
    return JSON.parse(wasm.categoryNames(mask >>> 0));
}
