// Verification speed in the page, for the browser test's measurements: the package's
// verifyProof (strict, one signature after another, as a dApp checks a proof) and verifyProofs
// (ed25519 batch verification of 64 proofs), each timed for one second after a warm-up.
import { initialize, verifyProof, verifyProofs } from '../index.js';

function rate(run, perRun) {
    for (let i = 0; i < 20; i++) run();
    let count = 0;
    const started = performance.now();
    while (performance.now() - started < 1000) {
        run();
        count += perRun;
    }
    return (count * 1000) / (performance.now() - started);
}

export async function verificationsPerSecond(vector) {
    await initialize(new URL('./tollgate_sdk_wasm_bg.wasm', location.href));
    const signers = { publicKeys: vector.public_keys, threshold: vector.signatures.length };
    const batch = Array.from({ length: 64 }, () => vector);
    const proofs = rate(() => verifyProof(vector, signers), 1);
    const batched = rate(() => verifyProofs(batch, signers), batch.length);
    return {
        proofs_per_second: Math.round(proofs),
        signatures_per_second: Math.round(proofs * vector.signatures.length),
        batch_proofs_per_second: Math.round(batched),
    };
}
