// The package's quorum client in Node against three real oracle nodes (oracle-nodes.mjs): many
// subjects through the nodes' batch endpoints (`attestMany`), each result checked by the
// package's own verifier and by the Rust CLI, and per-subject failures reported per subject.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sdk from '../node.js';
import { CLEAN, RISKY, cli, startNodes } from './oracle-nodes.mjs';

const GATE = 'EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs';
let cluster;

before(async () => {
    cluster = await startNodes();
});

after(() => cluster?.stop());

function config(overrides = {}) {
    return {
        nodes: cluster.nodes.map((n) => ({ url: n.url, index: n.index, publicKey: n.publicKey })),
        threshold: 2,
        epoch: 1,
        ...overrides,
    };
}

test('attestMany: more subjects than one batch, each proof verified, in order, the scammer bounded by its score', async () => {
    // 300 subjects: two batches of the nodes' batch endpoints (256 per request).
    const subjects = Array.from({ length: 300 }, (_, i) => `0:${i.toString(16).padStart(64, '0')}`);
    subjects[0] = CLEAN;
    subjects[257] = RISKY;
    const results = await sdk.attestMany(config(), { subjects, verifier: GATE });
    assert.equal(results.length, 300);
    const signers = { publicKeys: cluster.nodes.map((n) => n.publicKey), threshold: 2 };
    results.forEach((result, i) => {
        assert.equal(result.subject, subjects[i]);
        assert.equal(result.error, undefined, `${i}: ${result.error?.message}`);
        assert.equal(result.proof.attestation.subject, subjects[i]);
        sdk.verifyProof(result.proof, signers);
    });
    assert.equal(results[0].proof.attestation.risk, 0);
    // Node 2 alone lists RISKY: the bound the others co-sign is its score.
    assert.ok(results[257].proof.attestation.risk > 50, JSON.stringify(results[257].proof.attestation));
    // The Rust CLI accepts what the package produced.
    const file = join(cluster.work, 'many-proof.json');
    writeFileSync(file, JSON.stringify(results[257].proof));
    const check = cli(['verify', '--input', file, '--threshold', '2', ...cluster.nodes.flatMap((n) => ['--key', `${n.index}:${n.publicKey}`])]);
    assert.ok(check.ok, check.stderr);
});

test('attestMany: a subject no quorum signs is that subject\'s QuorumError; bad input rejects the call', async () => {
    // Epoch 9: every node refuses every subject (policy), and says so per subject.
    const results = await sdk.attestMany(config({ epoch: 9 }), { subjects: [CLEAN, RISKY], verifier: GATE });
    assert.equal(results.length, 2);
    for (const result of results) {
        assert.equal(result.proof, undefined);
        assert.ok(result.error instanceof sdk.QuorumError, String(result.error));
        assert.equal(result.error.code, 'quorum_not_reached');
        assert.equal(result.error.failures.length, 3);
        assert.match(result.error.failures[0].reason, /policy_refused, epoch/);
    }
    await assert.rejects(sdk.attestMany(config(), { subjects: [CLEAN, 'not an address'], verifier: GATE }),
        (err) => err instanceof sdk.TollgateError && err.code === 'invalid_address');
    await assert.rejects(sdk.attestMany(config({ threshold: 4 }), { subjects: [CLEAN], verifier: GATE }),
        { code: 'invalid_signer_set' });
    await assert.rejects(sdk.attestMany(config(), { subjects: [CLEAN], verifier: GATE, network: 'moon' }),
        { code: 'invalid_input' });
});
