// The jetton transfer bodies the Rust sdk builds (tests/vectors/jetton-transfers.json, written by
// sdk/tests/jetton_vectors.rs) read field by field with @ton/core, and their payloads rebuilt
// with the contracts' own wrappers: a deposit's forward_payload is what the JettonDepositGate
// reads (depositPayload), a compliant-jetton transfer carries the proof in custom_payload.

import { Address, beginCell, Cell } from '@ton/core';
import { readFileSync } from 'fs';
import { join } from 'path';
import { parseAttestation, parseSignatureBundle } from '../wrappers/Attestation';
import { Tag } from '../wrappers/Constants';
import { depositPayload } from '../wrappers/JettonDepositGate';
import { JettonOp } from './usdt-fixture';

type Vector = {
    name: string;
    placement: 'deposit' | 'custom_payload';
    query_id: string;
    amount: string;
    destination: string;
    response_destination: string;
    forward_ton_amount: string;
    attestation: string;
    bundle: string;
    reference: string | null;
    body: string;
    hash: string;
};

const vectors: Vector[] = JSON.parse(readFileSync(join(__dirname, '..', '..', 'tests', 'vectors', 'jetton-transfers.json'), 'utf8'));

describe('Jetton transfer vectors from the Rust sdk', () => {
    it('has every kind of body', () => {
        expect(vectors.map((v) => v.placement).sort()).toEqual(['custom_payload', 'deposit', 'deposit', 'deposit']);
    });

    for (const v of vectors) {
        it(`${v.name}: @ton/core reads the TEP-74 transfer and its payloads`, () => {
            const body = Cell.fromBase64(v.body);
            expect(body.hash().toString('hex')).toBe(v.hash);
            const s = body.beginParse();
            expect(s.loadUint(32)).toBe(JettonOp.transfer);
            expect(s.loadUintBig(64)).toBe(BigInt(v.query_id));
            expect(s.loadCoins()).toBe(BigInt(v.amount));
            expect(s.loadAddress().equals(Address.parse(v.destination))).toBe(true);
            expect(s.loadAddress().equals(Address.parse(v.response_destination))).toBe(true);
            const custom = s.loadMaybeRef();
            expect(s.loadCoins()).toBe(BigInt(v.forward_ton_amount));
            const attestation = Cell.fromBase64(v.attestation);
            const signatures = Cell.fromBase64(v.bundle);
            // the proof is about the response destination (the depositor, the sender)
            expect(parseAttestation(attestation).subject.equals(Address.parse(v.response_destination))).toBe(true);
            expect(parseSignatureBundle(signatures).map((e) => e.signer)).toEqual([0, 2]);
            if (v.placement === 'deposit') {
                expect(custom).toBeNull();
                // forward_payload in a ref (Either bit 1), nothing after it
                expect(s.loadBit()).toBe(true);
                const payload = s.loadRef();
                s.endParse();
                const reference = v.reference ? Cell.fromBase64(v.reference) : undefined;
                expect(payload.equals(depositPayload({ attestation, signatures }, reference))).toBe(true);
                const p = payload.beginParse();
                expect(p.loadUint(32)).toBe(Tag.attestationProof);
                expect(p.loadRef().equals(attestation)).toBe(true);
                expect(p.loadRef().equals(signatures)).toBe(true);
                if (reference) expect(p.asCell().equals(reference)).toBe(true);
                else expect(p.remainingBits + p.remainingRefs).toBe(0);
            } else {
                const proof = beginCell().storeUint(Tag.attestationProof, 32).storeRef(attestation).storeRef(signatures).endCell();
                expect(custom!.equals(proof)).toBe(true);
                expect(s.loadBit()).toBe(false); // empty inline forward_payload
                s.endParse();
            }
        });
    }
});
