// Forgery: 10,000 random single-bit flips of the attestation, of the signature bundle, or of a
// signer key in the gate's storage. None may be accepted and none may forward anything: every one
// is refunded to the sender with a library code, and the gate's balance never moves but for rent.
// FORGERY_FLIPS=n runs n instead (the default takes a few minutes on a shared 2-core machine).

import { createShardAccount, internal, SendMessageResult } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { attestationToCell } from '../wrappers/Attestation';
import { ComplianceGate, complianceGateConfigToCell, Screen } from '../wrappers/ComplianceGate';
import { flipBit } from './checker-fixture';
import { attestationFor, bundleOf, forwards, gateWorld, GateWorld, refunds, T0 } from './gate-fixture';

const FLIPS = Number(process.env.FORGERY_FLIPS ?? 10_000);
const VALUE = toNano('1');
jest.setTimeout(Math.max(120_000, FLIPS * 200));

/** A copy of the bundle chain with bit `bit` of entry `index` flipped (refs kept). */
function flipInBundle(bundle: Cell, index: number, bit: number): Cell {
    if (index === 0) return flipBit(bundle, bit);
    const s = bundle.beginParse();
    const head = s.loadBits(521 - 1);
    const hasNext = s.loadBit();
    if (!hasNext) throw new Error('short bundle');
    return beginCell().storeBits(head).storeBit(true).storeRef(flipInBundle(bundle.refs[0], index - 1, bit)).endCell();
}

describe('ComplianceGate forgery', () => {
    let w: GateWorld;

    beforeAll(async () => {
        w = await gateWorld();
    });

    it(`accepts none of ${FLIPS} random bit flips of attestation, bundle or key, and forwards nothing`, async () => {
        const g = w.gates[Screen.destination];
        const attestation = attestationToCell(attestationFor(w, g.address, w.bob.address));
        const signatures = bundleOf(attestation, [1, 3], w.keys); // threshold 2; keys in two key cells
        const honest = w.config(Screen.destination);
        const account = async (data: Cell) =>
            w.blockchain.setShardAccount(g.address, createShardAccount({ address: g.address, code: w.code, data, balance: toNano('0.2') }));

        // the honest transfer goes through
        w.blockchain.now = T0 + 10;
        let r: SendMessageResult = await g.sendTransfer(w.alice.getSender(), toNano("1"), { destination: w.bob.address, destinationProof: { attestation, signatures } });
        expect(forwards(r, g.address)).toHaveLength(1);

        const codes = new Map<number, number>();
        const counts = { attestation: 0, bundle: 0, key: 0 };
        for (let i = 0; i < FLIPS; i++) {
            const target = i % 3;
            let proof = { attestation, signatures };
            if (target === 0) {
                proof = { attestation: flipBit(attestation, Math.floor(Math.random() * attestation.bits.length)), signatures };
                counts.attestation++;
            } else if (target === 1) {
                proof = { attestation, signatures: flipInBundle(signatures, Math.floor(Math.random() * 2), Math.floor(Math.random() * 521)) };
                counts.bundle++;
            } else {
                // flip one bit of key 1 or 3 (the signers) in the gate's storage
                const keys = honest.signers.publicKeys.map((k) => Buffer.from(k));
                const which = Math.random() < 0.5 ? 1 : 3;
                const bit = Math.floor(Math.random() * 256);
                keys[which][bit >> 3] ^= 0x80 >> (bit & 7);
                await account(complianceGateConfigToCell({ ...honest, signers: { ...honest.signers, publicKeys: keys } }));
                counts.key++;
            }
            // Straight from Alice's address (no wallet transaction: 10,000 of these must be quick);
            // the gate's balance change is read off its transaction.
            r = await w.blockchain.sendMessage(
                internal({ from: w.alice.address, to: g.address, value: VALUE, body: ComplianceGate.transferMessage({ destination: w.bob.address, destinationProof: proof }) }),
            );
            const tx = r.transactions[0];
            const refund = refunds(r, g.address);
            if (forwards(r, g.address).length !== 0 || refund.length !== 1 || refund[0].error < 256 || !refund[0].to.equals(w.alice.address)) {
                throw new Error(`flip ${i} (target ${target}) was not refused: ${JSON.stringify(refund.map((x) => x.error))}`);
            }
            codes.set(refund[0].error, (codes.get(refund[0].error) ?? 0) + 1);
            const d = tx.description;
            const rent = d.type === 'generic' ? d.storagePhase?.storageFeesCollected ?? 0n : 0n;
            // in − out − fees other than rent: what the gate kept of this message. Never negative
            // (it paid nothing), and zero here (the refund carried everything back).
            const out = tx.outMessages.get(0)!.info;
            const forwardFee = out.type === 'internal' ? out.forwardFee : 0n; // the part the message carries
            const kept = VALUE - refund[0].value - forwardFee - (tx.totalFees.coins - rent);
            if (kept !== 0n) throw new Error(`flip ${i}: the gate kept ${kept}`);
            if (refund[0].value < VALUE - toNano('0.02')) throw new Error(`flip ${i}: refund ${refund[0].value}`);
            if (target === 2) await account(complianceGateConfigToCell(honest));
        }
        console.log(`forgery: ${JSON.stringify(counts)} flips, refund codes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
        expect(counts.attestation + counts.bundle + counts.key).toBe(FLIPS);
        void Address;
        void ComplianceGate;
    });
});
