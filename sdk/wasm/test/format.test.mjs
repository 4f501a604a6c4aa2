// The package against Rust and @ton/core: golden vectors (tests/vectors/attestations.json),
// gate_transfer payloads and TON Connect requests Rust built for them and for 1,000 random
// proofs (sdk/examples/random_payloads.rs, path in TOLLGATE_RANDOM_PAYLOADS or built here), and
// every kind of typed error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Address, beginCell, Cell } from '@ton/core';
import * as sdk from '../node.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const vectors = JSON.parse(readFileSync(`${root}/tests/vectors/attestations.json`, 'utf8'));

function payloads() {
    const path = process.env.TOLLGATE_RANDOM_PAYLOADS ?? `${root}/target/tollgate/random-payloads.json`;
    if (!existsSync(path)) {
        const out = execFileSync('cargo', ['run', '--quiet', '--locked', '-p', 'tollgate-sdk', '--example',
            'random_payloads', '--', '1000', '7'], { cwd: root, maxBuffer: 1 << 28 });
        return JSON.parse(out);
    }
    return JSON.parse(readFileSync(path, 'utf8'));
}
const rust = payloads();

/** gate_transfer built by @ton/core from the schema line (contracts/schema.tlb). */
function tonCoreGateTransfer(c) {
    const proof = beginCell().storeUint(0x5c1324ad, 32)
        .storeRef(Cell.fromBase64(c.proof.boc)).storeRef(Cell.fromBase64(c.proof.bundle)).endCell();
    return beginCell()
        .storeUint(0x159f1aa7, 32)
        .storeUint(BigInt(c.transfer.queryId), 64)
        .storeAddress(Address.parse(c.transfer.destination))
        .storeCoins(BigInt(c.transfer.amount))
        .storeAddress(c.transfer.responseDestination ? Address.parse(c.transfer.responseDestination) : null)
        .storeMaybeRef(null)
        .storeMaybeRef(proof)
        .storeMaybeRef(null)
        .endCell();
}

test('golden vectors: encodings, hashes and bundles equal Rust\'s and @ton/core\'s', () => {
    for (const v of vectors) {
        const encoded = sdk.encodeAttestation(v.fields);
        assert.equal(encoded.boc, v.boc, v.name);
        assert.equal(encoded.hash, v.hash, v.name);
        assert.equal(Cell.fromBase64(encoded.boc).hash().toString('hex'), v.hash, v.name);
        assert.equal(Cell.fromBase64(encoded.boc).toBoc().toString('base64'), v.boc, v.name);
        assert.deepEqual(sdk.decodeAttestation(v.boc), v.fields, v.name);
        assert.equal(sdk.encodeBundle(v.signatures), v.bundle, v.name);
        const proof = sdk.decodeProof(v.boc, v.bundle);
        assert.deepEqual(proof.signatures, v.signatures, v.name);
        sdk.verifyProof(v, { publicKeys: v.public_keys, threshold: v.signatures.length });
    }
});

test('golden vectors: gate_transfer payloads equal Rust\'s and @ton/core\'s', () => {
    assert.equal(rust.golden.length, vectors.length);
    for (const c of rust.golden) {
        const ours = sdk.gateTransferPayload(c.transfer, { destinationProof: c.proof });
        assert.equal(ours.payload, c.payload, c.name);
        assert.equal(ours.hash, c.payload_hash, c.name);
        assert.equal(tonCoreGateTransfer(c).hash().toString('hex'), c.payload_hash, c.name);
    }
});

test('1,000 random proofs: payload hashes, TON Connect requests and verification agree with Rust', () => {
    assert.equal(rust.random.length, 1000);
    let requests = 0;
    for (const c of rust.random) {
        const ours = sdk.gateTransferPayload(c.transfer, { destinationProof: c.proof });
        assert.equal(ours.hash, c.payload_hash);
        assert.equal(ours.payload, c.payload);
        assert.equal(tonCoreGateTransfer(c).hash().toString('hex'), c.payload_hash);
        assert.equal(sdk.encodeAttestation(c.proof.attestation).hash, c.proof.hash);
        sdk.verifyProof(c.proof, { publicKeys: c.public_keys, threshold: c.proof.signatures.length });
        const args = { gate: c.proof.attestation.verifier, transfer: c.transfer, destinationProof: c.proof, now: c.proof.attestation.issued_at };
        if (c.request) {
            requests += 1;
            assert.deepEqual(sdk.gateTransaction(args), c.request);
        } else {
            assert.throws(() => sdk.gateTransaction(args), { code: 'unsupported_network' });
        }
    }
    assert.ok(requests > 500, `${requests} requests`);
});

test('TON Connect request: gate address form, amount with the gate fee, validUntil, network', () => {
    const c = rust.random.find((x) => x.proof.attestation.network === -3);
    const fields = c.proof.attestation;
    const request = sdk.gateTransaction({ gate: fields.verifier, transfer: c.transfer, destinationProof: c.proof, now: fields.issued_at });
    assert.equal(request.network, '-3');
    assert.equal(request.validUntil, fields.valid_until);
    const gate = Address.parseFriendly(request.messages[0].address);
    assert.ok(gate.isBounceable && gate.isTestOnly);
    assert.ok(gate.address.equals(Address.parse(fields.verifier)));
    const fee = BigInt(sdk.gateFee({ destinationWorkchain: Address.parse(fields.subject).workChain, signatures: c.proof.signatures.length }));
    assert.equal(BigInt(request.messages[0].amount), BigInt(c.transfer.amount) + fee);
    assert.equal(Cell.fromBase64(request.messages[0].payload).hash().toString('hex'), c.payload_hash);
    const mainnet = rust.random.find((x) => x.proof.attestation.network === -239);
    const m = sdk.gateTransaction({ gate: mainnet.proof.attestation.verifier, transfer: mainnet.transfer, destinationProof: mainnet.proof, now: mainnet.proof.attestation.issued_at });
    assert.equal(m.network, '-239');
    const mg = Address.parseFriendly(m.messages[0].address);
    assert.ok(mg.isBounceable && !mg.isTestOnly);
});

const v0 = vectors[0];
const keys0 = { publicKeys: v0.public_keys, threshold: 1 };
const code = (fn) => {
    try {
        fn();
    } catch (err) {
        assert.ok(err instanceof sdk.TollgateError, `${err}`);
        assert.ok(err instanceof Error);
        return err;
    }
    assert.fail('did not throw');
};

test('typed errors: malformed BoCs, cells and text', () => {
    assert.equal(code(() => sdk.decodeAttestation('te6cckEBAQEAAgAAAEysuc0=')).code, 'malformed_attestation');
    assert.equal(code(() => sdk.decodeAttestation('AAAA')).code, 'invalid_boc');
    assert.equal(code(() => sdk.decodeAttestation('%%%')).code, 'invalid_encoding');
    const otherTag = beginCell().storeUint(0x12345678, 32).endCell().toBoc().toString('base64');
    assert.equal(code(() => sdk.decodeAttestation(otherTag)).code, 'unknown_tag');
    assert.equal(code(() => sdk.encodeAttestation({ ...v0.fields, risk: 101 })).code, 'risk_out_of_range');
    assert.equal(code(() => sdk.encodeAttestation({ ...v0.fields, valid_until: v0.fields.issued_at - 1 })).code, 'invalid_validity');
    assert.equal(code(() => sdk.encodeAttestation({ ...v0.fields, subject: 'nope' })).code, 'invalid_input');
    assert.equal(code(() => sdk.parseAddress('0:12')).code, 'invalid_address');
    assert.equal(code(() => sdk.decodeProof(v0.boc, v0.boc)).code, 'malformed_signature_entry');
});

test('typed errors: signatures and signer sets', () => {
    const e = code(() => sdk.verifyProof(v0, { publicKeys: v0.public_keys.slice(1), threshold: 1 }));
    assert.equal(e.code, 'bad_signature');
    assert.equal(e.index, 0);
    assert.equal(code(() => sdk.verifyProof(v0, { publicKeys: [], threshold: 1 })).code, 'unknown_signer');
    const few = code(() => sdk.verifyProof(v0, { ...keys0, threshold: 2 }));
    assert.equal(few.code, 'too_few_signatures');
    assert.equal(few.threshold, 2);
    assert.equal(code(() => sdk.verifyProof(v0, { publicKeys: ['00'], threshold: 1 })).code, 'invalid_public_key');
    const sig = v0.signatures[0].signature;
    assert.equal(code(() => sdk.encodeBundle([{ index: 1, signature: sig }, { index: 1, signature: sig }])).code, 'signer_order');
    assert.equal(code(() => sdk.encodeBundle([])).code, 'bundle_size');
    const batch = code(() => sdk.verifyProofs([v0, { boc: vectors[1].boc, bundle: v0.bundle }], keys0));
    assert.equal(batch.code, 'in_batch');
    assert.equal(batch.position, 1);
    assert.equal(batch.cause.code, 'bad_signature');
    sdk.verifyProofs([v0, v0], keys0);
});

test('typed errors: proofs that do not fit the transfer', () => {
    const f = v0.fields;
    const transfer = { destination: f.subject, amount: 1 };
    const other = '0:' + '7'.repeat(64);
    const mismatch = code(() => sdk.gateTransaction({ gate: f.verifier, transfer: { ...transfer, destination: other }, destinationProof: v0, now: f.issued_at }));
    assert.equal(mismatch.code, 'proof_mismatch');
    assert.equal(mismatch.field, 'subject');
    assert.equal(mismatch.party, 'destination');
    assert.equal(code(() => sdk.gateTransferPayload({ ...transfer, destination: other }, { destinationProof: v0 })).code, 'proof_mismatch');
    assert.equal(code(() => sdk.gateTransaction({ gate: other, transfer, destinationProof: v0, now: f.issued_at })).field, 'verifier');
    const expired = code(() => sdk.gateTransaction({ gate: f.verifier, transfer, destinationProof: v0, now: f.valid_until + 1 }));
    assert.equal(expired.code, 'proof_expired');
    assert.equal(expired.validUntil, f.valid_until);
    assert.equal(code(() => sdk.gateTransaction({ gate: f.verifier, transfer, now: f.issued_at })).code, 'missing_proof');
    assert.equal(code(() => sdk.gateTransaction({ gate: f.verifier, transfer: { ...transfer, amount: -1 }, destinationProof: v0 })).code, 'invalid_input');
    assert.equal(code(() => sdk.jettonTransferPayload({ amount: 1, destination: other, responseDestination: other }, v0, 'inline')).code, 'invalid_input');
});

test('jetton transfers carry the proof where asked, as @ton/core reads them', () => {
    const other = '0:' + '7'.repeat(64);
    for (const placement of ['custom', 'forward']) {
        const { payload, hash } = sdk.jettonTransferPayload({ queryId: 5, amount: 1_500_000n, destination: other, responseDestination: other }, v0, placement);
        const cell = Cell.fromBase64(payload);
        assert.equal(cell.hash().toString('hex'), hash);
        const s = cell.beginParse();
        assert.equal(s.loadUint(32), 0x0f8a7ea5);
        assert.equal(s.loadUintBig(64), 5n);
        assert.equal(s.loadCoins(), 1_500_000n);
        s.loadAddress();
        s.loadAddress();
        const custom = s.loadMaybeRef();
        assert.equal(s.loadCoins(), 10_000_000n);
        const forward = s.loadBit() ? s.loadRef() : null;
        const proof = placement === 'custom' ? custom : forward;
        assert.equal(proof.hash().toString('hex'), Cell.fromBase64(sdk.proofCell(v0)).hash().toString('hex'));
    }
});

test('quorum client: unreachable nodes are reported per node (quorum_not_reached)', async () => {
    const config = {
        nodes: [0, 1].map((index) => ({ url: `http://127.0.0.1:9/n${index}`, index, publicKey: v0.public_keys[index] })),
        threshold: 2, epoch: 1, attempts: 2, backoffMs: 1, timeoutMs: 500,
    };
    await assert.rejects(sdk.attest(config, { subject: v0.fields.subject, verifier: v0.fields.verifier }), (err) => {
        assert.ok(err instanceof sdk.QuorumError);
        assert.equal(err.code, 'quorum_not_reached');
        assert.equal(err.signed, 0);
        assert.deepEqual(err.failures.map((f) => f.index), [0, 1]);
        assert.match(err.failures[0].reason, /^unreachable: /);
        return true;
    });
    await assert.rejects(sdk.attest({ ...config, threshold: 3 }, { subject: v0.fields.subject, verifier: v0.fields.verifier }), { code: 'invalid_signer_set' });
});

test('category names come from the Rust table', () => {
    assert.deepEqual(sdk.categoryNames(0), []);
    assert.deepEqual(sdk.categoryNames((1 << 3) | (1 << 16)), ['scam', 'exchange']);
});

const jettonVectors = JSON.parse(readFileSync(`${root}/tests/vectors/jetton-transfers.json`, 'utf8'));

test('deposit request: the body Rust wrote in tests/vectors/jetton-transfers.json, to the jetton wallet, from the depositor', () => {
    const wallet = '0:' + 'ab'.repeat(32);
    const deposits = jettonVectors.filter((v) => v.placement === 'deposit');
    assert.equal(deposits.length, 3);
    for (const v of deposits) {
        const proof = { boc: v.attestation, bundle: v.bundle };
        const issuedAt = sdk.decodeAttestation(v.attestation).issued_at;
        const request = sdk.depositTransaction({
            gate: v.destination, proof, now: issuedAt,
            deposit: { amount: v.amount, queryId: v.query_id, reference: v.reference ?? undefined, jettonWallet: wallet },
        });
        assert.equal(request.network, '-239');
        assert.equal(request.from, v.response_destination);
        assert.equal(request.items, undefined);
        const [m] = request.messages;
        assert.ok(Address.parseFriendly(m.address).isBounceable);
        assert.ok(Address.parseFriendly(m.address).address.equals(Address.parse(wallet)));
        assert.equal(Cell.fromBase64(m.payload).hash().toString('hex'), v.hash, v.name);
        assert.ok(BigInt(m.amount) > BigInt(v.forward_ton_amount));
        // the structured item carries the same fields
        const items = sdk.depositTransaction({
            gate: v.destination, proof, now: issuedAt,
            deposit: { amount: v.amount, queryId: v.query_id, reference: v.reference ?? undefined, master: wallet },
        });
        assert.equal(items.messages, undefined);
        const [item] = items.items;
        assert.equal(item.type, 'jetton');
        assert.equal(item.forwardAmount, v.forward_ton_amount);
        assert.equal(item.attachAmount, m.amount);
        assert.equal(item.queryId, v.query_id);
        assert.ok(Address.parse(item.destination).equals(Address.parse(v.destination)));
    }
    assert.equal(sdk.depositForwardTon({ signatures: 2 }), deposits[1].forward_ton_amount);
});

test('deposit request: typed errors', () => {
    const v = jettonVectors[0];
    const proof = { boc: v.attestation, bundle: v.bundle };
    const now = sdk.decodeAttestation(v.attestation).issued_at;
    const deposit = { amount: 1, jettonWallet: v.response_destination };
    const other = '0:' + '7'.repeat(64);
    const mismatch = code(() => sdk.depositTransaction({ gate: other, proof, now, deposit }));
    assert.equal(mismatch.code, 'proof_mismatch');
    assert.equal(mismatch.party, 'depositor');
    assert.equal(code(() => sdk.depositTransaction({ gate: v.destination, proof, now: now + 601, deposit })).code, 'proof_expired');
    assert.equal(code(() => sdk.depositTransaction({ gate: v.destination, proof, now, deposit: { ...deposit, comment: 'x'.repeat(120) } })).code, 'reference_too_large');
    assert.equal(code(() => sdk.depositTransaction({ gate: v.destination, proof, now, deposit: { amount: 1 } })).code, 'invalid_input');
});
