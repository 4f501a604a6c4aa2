// The holes a review of the gate found, each shown closed (issue "ComplianceGate and Tact trait:
// close the holes a review found"): whom the gate may pay, destinations it cannot send to, bodies
// too short to name a query, the strict attestation bounds, signer-set validation, rotation past
// epoch 2^32 − 1, masterchain prices, and the admin's withdrawal of the surplus only.

import { internal, SandboxContract } from '@ton/sandbox';
import { Address, beginCell, Cell, contractAddress, toNano } from '@ton/core';
import '@ton/test-utils';
import { Attestation, isSmallOrderKey, SignerSet, signerSetToCell, SMALL_ORDER_KEYS } from '../wrappers/Attestation';
import { attestationProofToCell, ComplianceGate, GateTransfer, Screen } from '../wrappers/ComplianceGate';
import { Errors } from '../wrappers/Constants';
import { freshKeys, otherAddress } from './checker-fixture';
import {
    attestationFor,
    balanceOf,
    BlockchainSnapshot,
    EPOCH,
    forwards,
    GATE_BALANCE,
    gateOutgoing,
    gateWorld,
    GateWorld,
    policy,
    proofOf,
    refunds,
    T0,
    txTo,
} from './gate-fixture';

jest.setTimeout(180_000);

const VALUE = toNano('1');
const MIN_STORAGE = toNano('0.1'); // gate::min_storage

describe('ComplianceGate review', () => {
    let w: GateWorld;
    let snapshot: BlockchainSnapshot;
    const g = () => w.gates[Screen.destination];

    beforeAll(async () => {
        w = await gateWorld();
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    const proof = (gate: Address, subject: Address, over: Partial<Attestation> = {}) => proofOf(attestationFor(w, gate, subject, over), [0, 1], w.keys);

    /** Alice sends `body` with `value` to `gate`; returns the trace and the gate's and Alice's
     *  balance change. */
    async function sendBody(gate: Address, body: Cell, value = VALUE) {
        w.blockchain.now = T0 + 10;
        const gateBefore = await balanceOf(w, gate);
        const aliceBefore = await balanceOf(w, w.alice.address);
        const result = await w.alice.send({ to: gate, value, body });
        const gateTx = txTo(result, gate, w.alice.address);
        const rent = gateTx.description.type === 'generic' ? gateTx.description.storagePhase?.storageFeesCollected ?? 0n : 0n;
        return {
            result,
            gateTx,
            gateDelta: (await balanceOf(w, gate)) - gateBefore + rent,
            aliceCost: aliceBefore - (await balanceOf(w, w.alice.address)),
        };
    }

    const send = (gate: SandboxContract<ComplianceGate>, t: Partial<GateTransfer>, value = VALUE) =>
        sendBody(gate.address, ComplianceGate.transferMessage({ destination: w.bob.address, ...t }), value);

    /** Refunded to Alice with `error`; nothing else left the gate; the gate kept exactly its balance
     *  (less rent); Alice lost fees only. */
    function expectRefund(s: Awaited<ReturnType<typeof sendBody>>, gate: Address, error: number, queryId?: bigint) {
        const out = gateOutgoing(s.result, gate);
        const r = refunds(s.result, gate);
        expect(r.map((x) => x.error)).toEqual([error]);
        expect(out).toHaveLength(1);
        expect(r[0].to.equals(w.alice.address)).toBe(true);
        if (queryId !== undefined) expect(r[0].queryId).toBe(queryId);
        expect(s.gateDelta).toBe(0n);
        expect(s.aliceCost).toBeLessThan(toNano('0.02'));
        expect(s.gateTx.description.type === 'generic' && s.gateTx.description.aborted).toBe(false);
    }

    describe('the gate pays only the sender and screened parties', () => {
        it('cannot pay an unscreened response address: a tiny amount to the screened destination, the rest to another payee (521)', async () => {
            const mallory = otherAddress(w.bob.address);
            const s = await send(g(), { amount: 1n, responseDestination: mallory, destinationProof: proof(g().address, w.bob.address) });
            expectRefund(s, g().address, Errors.unscreenedResponse);
            expect(await balanceOf(w, mallory)).toBe(0n);
        });

        it('cannot use itself as the response address, which would keep the excess (521)', async () => {
            expectRefund(await send(g(), { amount: 1n, responseDestination: g().address, destinationProof: proof(g().address, w.bob.address) }), g().address, Errors.unscreenedResponse);
        });

        it('cannot use an addr_extern response address, which cannot receive (521)', async () => {
            const body = beginCell()
                .storeUint(0x159f1aa7, 32)
                .storeUint(3, 64)
                .storeAddress(w.bob.address)
                .storeCoins(1n)
                .storeUint(1, 2) // addr_extern$01 len:(## 9) external_address:(bits len)
                .storeUint(8, 9)
                .storeUint(0xab, 8)
                .storeMaybeRef(null)
                .storeMaybeRef(attestationProofToCell(proof(g().address, w.bob.address)))
                .storeMaybeRef(null)
                .endCell();
            expectRefund(await sendBody(g().address, body), g().address, Errors.unscreenedResponse, 3n);
        });

        it('can send the excess back to the sender, and to the screened destination', async () => {
            for (const response of [w.alice.address, w.bob.address]) {
                const s = await send(g(), { amount: toNano('0.3'), responseDestination: response, destinationProof: proof(g().address, w.bob.address) });
                const out = gateOutgoing(s.result, g().address);
                expect(out.map((m) => m.op)).toEqual([0x46cd6c39, 0x262e0fe5]);
                expect(out[0].value).toBe(toNano('0.3'));
                expect(out[1].to.equals(response)).toBe(true);
                expect(out[1].value).toBeGreaterThan(VALUE - toNano('0.3') - toNano('0.02'));
                expect(s.gateDelta).toBe(0n);
                await w.blockchain.loadFrom(snapshot);
            }
        });

        it('pays no address but the sender and the destination, over random response addresses', async () => {
            // 40 random response addresses; only the sender and the destination are ever paid.
            for (let i = 0; i < 40; i++) {
                const pick = i % 4;
                const response = pick === 0 ? w.alice.address : pick === 1 ? w.bob.address : new Address(i % 3 === 0 ? -1 : 0, Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))));
                const s = await send(g(), { amount: BigInt(Math.floor(Math.random() * 5e8)), responseDestination: response, destinationProof: proof(g().address, w.bob.address) });
                for (const m of gateOutgoing(s.result, g().address)) {
                    expect(m.to.equals(w.alice.address) || m.to.equals(w.bob.address)).toBe(true);
                }
                expect(s.gateDelta).toBe(0n);
                await w.blockchain.loadFrom(snapshot);
            }
        });
    });

    describe('destinations the action phase would refuse are refunded with a reason', () => {
        it('cannot forward to a workchain that does not exist (522), and refunds instead of bouncing', async () => {
            for (const wc of [5, 1, -2, 127]) {
                const destination = new Address(wc, w.bob.address.hash);
                const s = await send(w.gates[Screen.none], { destination, amount: 0n });
                expectRefund(s, w.gates[Screen.none].address, Errors.badDestination);
                await w.blockchain.loadFrom(snapshot);
            }
        });

        it('cannot forward to an anycast destination, and refunds (9: the sandbox TVM refuses anycast when parsing)', async () => {
            const body = beginCell()
                .storeUint(0x159f1aa7, 32)
                .storeUint(4, 64)
                .storeUint(0b10, 2) // addr_std
                .storeUint(1, 1) // anycast: just$1 (depth:(#<= 30) rewrite_pfx:(bits depth))
                .storeUint(1, 5)
                .storeUint(1, 1)
                .storeInt(0, 8)
                .storeBuffer(w.bob.address.hash)
                .storeCoins(0n)
                .storeUint(0, 2)
                .storeUint(0, 3)
                .endCell();
            // Anycast is deprecated: LDMSGADDR throws (9) before the gate's own check (522) could.
            expectRefund(await sendBody(w.gates[Screen.none].address, body), w.gates[Screen.none].address, 9, 4n);
        });

        it('refunds a body too short for query_id with the exit code (9), query_id 0', async () => {
            for (const body of [beginCell().storeUint(0x159f1aa7, 32).endCell(), beginCell().storeUint(0x159f1aa7, 32).storeUint(5, 63).endCell()]) {
                expectRefund(await sendBody(g().address, body), g().address, 9, 0n);
                await w.blockchain.loadFrom(snapshot);
            }
        });
    });

    describe('the on-chain checks are as strict as the sdk decoder', () => {
        it('cannot forward an attestation whose valid_until is before its issued_at (272)', async () => {
            const p = proof(g().address, w.bob.address, { issuedAt: T0 + 11, validUntil: T0 + 10 });
            expectRefund(await send(g(), { destinationProof: p }), g().address, Errors.invalidValidity);
        });

        it('cannot forward an attestation valid for more than a day (272), and can for exactly one', async () => {
            const long = proof(g().address, w.bob.address, { issuedAt: T0, validUntil: T0 + 86_401 });
            expectRefund(await send(g(), { destinationProof: long }), g().address, Errors.invalidValidity);
            const day = proof(g().address, w.bob.address, { issuedAt: T0, validUntil: T0 + 86_400 });
            const s = await send(g(), { destinationProof: day });
            expect(forwards(s.result, g().address)).toHaveLength(1);
        });

        it('cannot forward a risk above 100 even when the deployed policy allows it (273)', async () => {
            // A gate deployed with max_risk 255 by hand (the wrapper refuses such a policy).
            const patched = patchMaxRisk(ComplianceGate.createFromConfig(w.config(Screen.destination), w.code).init!.data, 255);
            const init = { code: w.code, data: patched };
            const gate = w.blockchain.openContract(new ComplianceGate(contractAddress(0, init), init));
            await gate.sendDeploy(w.admin.getSender(), GATE_BALANCE);
            expect((await gate.getPolicy()).maxRisk).toBe(255);
            expectRefund(await send(gate, { destinationProof: proof(gate.address, w.bob.address, { risk: 101 }) }), gate.address, Errors.riskOutOfRange);
            const ok = await send(gate, { destinationProof: proof(gate.address, w.bob.address, { risk: 100 }) });
            expect(forwards(ok.result, gate.address)).toHaveLength(1);
        });
    });

    describe('signer sets', () => {
        async function setSigners(cell: Cell, exitCode: number) {
            w.blockchain.now = T0 + 10;
            const r = await w.admin.send({ to: g().address, value: toNano('0.05'), body: ComplianceGate.setSignersMessage(cell, T0 + 1000) });
            expect(r.transactions).toHaveTransaction({ from: w.admin.address, to: g().address, exitCode, success: exitCode === 0 });
        }

        it('cannot install a set holding one key twice, at any two indexes (518)', async () => {
            const keys = (await freshKeys(7)).map((k) => k.publicKey);
            for (const [i, j] of [[0, 1], [0, 6], [2, 3], [4, 5], [1, 5]]) {
                const dup = [...keys];
                dup[j] = keys[i];
                await setSigners(signerSetToCell({ epoch: EPOCH + 1, threshold: 2, publicKeys: dup }), Errors.malformedSignerSet);
            }
            expect((await g().getSignerSet()).epoch).toBe(EPOCH);
        });

        it('cannot install a set holding a small-order key, in either sign, at any index (518)', async () => {
            const keys = (await freshKeys(4)).map((k) => k.publicKey);
            for (const hex of SMALL_ORDER_KEYS) {
                for (const sign of [0, 0x80]) {
                    const weak = Buffer.from(hex, 'hex');
                    weak[31] |= sign;
                    expect(isSmallOrderKey(weak)).toBe(true);
                    const set = [...keys];
                    set[(weak[0] + sign) % 4] = weak;
                    await setSigners(signerSetToCell({ epoch: EPOCH + 1, threshold: 1, publicKeys: set }), Errors.malformedSignerSet);
                }
            }
            expect((await g().getSignerSet()).epoch).toBe(EPOCH);
        });

        it('refuses the same sets in the wrapper before they reach the chain', async () => {
            const keys = (await freshKeys(3)).map((k) => k.publicKey);
            const dup: SignerSet = { epoch: EPOCH + 1, threshold: 2, publicKeys: [keys[0], keys[1], keys[0]] };
            const weak: SignerSet = { epoch: EPOCH + 1, threshold: 1, publicKeys: [keys[0], Buffer.from(SMALL_ORDER_KEYS[1], 'hex')] };
            expect(() => ComplianceGate.setSignersMessage(dup, T0)).toThrow('key 2 is key 0 again');
            expect(() => ComplianceGate.setSignersMessage(weak, T0)).toThrow('key 1 has small order');
            expect(() => ComplianceGate.createFromConfig({ ...w.config(Screen.none), signers: dup }, w.code)).toThrow('again');
            expect(() => ComplianceGate.createFromConfig({ ...w.config(Screen.none), policy: policy(Screen.none, { maxRisk: 101 }) }, w.code)).toThrow('max_risk');
        });

        it('can rotate past epoch 2^32 − 1 to 0, and the rotated-out set stays valid within grace', async () => {
            const last = 0xffffffff;
            const gate = w.blockchain.openContract(
                ComplianceGate.createFromConfig({ ...w.config(Screen.destination), signers: { epoch: last, threshold: 2, publicKeys: w.keys.map((k) => k.publicKey) } }, w.code),
            );
            await gate.sendDeploy(w.admin.getSender(), GATE_BALANCE);
            const next = await freshKeys(3);
            w.blockchain.now = T0 + 10;
            const r = await w.admin.send({ to: gate.address, value: toNano('0.05'), body: ComplianceGate.setSignersMessage({ epoch: 0, threshold: 2, publicKeys: next.map((k) => k.publicKey) }, T0 + 1000) });
            expect(r.transactions).toHaveTransaction({ to: gate.address, success: true });
            expect((await gate.getSignerSet()).epoch).toBe(0);
            const viaNew = await send(gate, { destinationProof: proofOf(attestationFor(w, gate.address, w.bob.address, { epoch: 0 }), [0, 1], next) });
            expect(forwards(viaNew.result, gate.address)).toHaveLength(1);
            const viaOld = await send(gate, { destinationProof: proofOf(attestationFor(w, gate.address, w.bob.address, { epoch: last }), [0, 1], w.keys) });
            expect(forwards(viaOld.result, gate.address)).toHaveLength(1);
            // and 1 follows 0
            const again = await w.admin.send({ to: gate.address, value: toNano('0.05'), body: ComplianceGate.setSignersMessage({ epoch: 1, threshold: 1, publicKeys: w.keys.slice(0, 2).map((k) => k.publicKey) }, T0 + 1000) });
            expect(again.transactions).toHaveTransaction({ to: gate.address, success: true });
        });
    });

    describe('masterchain prices', () => {
        /** The largest amount the fee check accepts with a response address, and that transfer. */
        async function largest(gate: SandboxContract<ComplianceGate>, destination: Address) {
            const t = (amount: bigint) => send(gate, { destination, amount, responseDestination: w.alice.address, destinationProof: proof(gate.address, destination) });
            const base = w.blockchain.snapshot();
            let lo = 0n;
            let hi = VALUE;
            while (hi - lo > 1n) {
                const mid = (lo + hi) / 2n;
                const s = await t(mid);
                if (forwards(s.result, gate.address).length) lo = mid;
                else hi = mid;
                await w.blockchain.loadFrom(base);
            }
            const s = await t(lo);
            await w.blockchain.loadFrom(base);
            return { lo, s };
        }

        it('can deliver at least the amount from a masterchain gate, never out of its own balance', async () => {
            const gate = w.blockchain.openContract(ComplianceGate.createFromConfig(w.config(Screen.destination), w.code, -1));
            await gate.sendDeploy(w.admin.getSender(), GATE_BALANCE);
            const { lo, s } = await largest(gate, w.bob.address);
            const fwd = forwards(s.result, gate.address);
            expect(fwd[0].value).toBe(lo);
            const d = s.gateTx.description;
            if (d.type !== 'generic') throw new Error('not generic');
            expect(d.actionPhase?.success).toBe(true);
            // Only an excess too small to pay its own masterchain forward fee (a lump of 0.01 TON)
            // stays, as surplus the admin can withdraw.
            expect(s.gateDelta).toBeGreaterThanOrEqual(0n);
            expect(s.gateDelta).toBeLessThan(toNano('0.01'));
            // masterchain gas is dearer: the accepted amount leaves room for it
            expect(VALUE - lo).toBeGreaterThan(toNano('0.01'));
        });

        it('can deliver at least the amount to a masterchain destination, never out of its own balance', async () => {
            const destination = await w.blockchain.treasury('mc-bob', { workchain: -1 });
            const gate = g();
            const { lo, s } = await largest(gate, destination.address);
            expect(forwards(s.result, gate.address)[0].value).toBe(lo);
            expect(s.gateDelta).toBeGreaterThanOrEqual(0n);
            expect(s.gateDelta).toBeLessThan(toNano('0.001'));
        });
    });

    describe('gate_withdraw_surplus', () => {
        async function withdraw(via = w.admin) {
            w.blockchain.now = T0 + 10;
            return via.send({ to: g().address, value: toNano('0.05'), body: ComplianceGate.withdrawSurplusMessage(8n) });
        }

        it('admin can take what the gate holds above its reserve, and no more', async () => {
            await w.alice.send({ to: g().address, value: toNano('5'), body: Cell.EMPTY }); // a top-up by mistake
            const adminBefore = await balanceOf(w, w.admin.address);
            const r = await withdraw();
            expect(r.transactions).toHaveTransaction({ from: g().address, to: w.admin.address, op: 0x262e0fe5, success: true });
            expect(await balanceOf(w, g().address)).toBe(MIN_STORAGE);
            const gained = (await balanceOf(w, w.admin.address)) - adminBefore;
            expect(gained).toBeGreaterThan(toNano('5.09'));
            expect(gained).toBeLessThan(toNano('5.1'));
        });

        it('cannot withdraw when there is nothing above the reserve (523)', async () => {
            await withdraw();
            const r = await withdraw();
            expect(r.transactions).toHaveTransaction({ to: g().address, exitCode: Errors.noSurplus, success: false });
            expect(await balanceOf(w, g().address)).toBeGreaterThanOrEqual(MIN_STORAGE - 1000n); // rent only
            expect(await balanceOf(w, g().address)).toBeLessThanOrEqual(MIN_STORAGE);
        });

        it('non-admin cannot withdraw (513)', async () => {
            for (const who of [w.alice, w.bob]) {
                const r = await withdraw(who);
                expect(r.transactions).toHaveTransaction({ to: g().address, exitCode: Errors.notAdmin, success: false });
            }
        });

        it('cannot take value in flight: a forward that bounces after a withdrawal is still refunded in full', async () => {
            // The forward leaves; the admin withdraws while it is on its way; its bounce comes back
            // with the value and the gate refunds Alice with it.
            w.blockchain.now = T0 + 10;
            const nobody = otherAddress(w.bob.address); // no account: the bounceable forward bounces
            const body = ComplianceGate.transferMessage({ destination: nobody, destinationProof: proof(g().address, nobody), queryId: 31n });
            const aliceBefore = await balanceOf(w, w.alice.address);
            const iter = await w.blockchain.sendMessageIter(internal({ from: w.alice.address, to: g().address, value: VALUE, body }));
            const first = await iter.next(); // the gate's transfer: the forward is out
            expect(first.done).toBe(false);
            await withdraw();
            expect(await balanceOf(w, g().address)).toBe(MIN_STORAGE);
            for (let n = await iter.next(); !n.done; n = await iter.next()) {
                /* the bounce, the refund */
            }
            expect(await balanceOf(w, g().address)).toBeGreaterThanOrEqual(MIN_STORAGE - 1000n);
            expect(await balanceOf(w, g().address)).toBeLessThanOrEqual(MIN_STORAGE);
            // Alice got the value back, less the fees of the three transactions.
            expect((await balanceOf(w, w.alice.address)) - aliceBefore + VALUE).toBeGreaterThan(VALUE - toNano('0.02'));
        });
    });

});

/** The gate's storage with `max_risk` replaced: SignerSet (48 bits + ref), Maybe ^SignerSet,
 *  grace_until:uint32, screen:uint2, then max_risk:uint8. */
function patchMaxRisk(data: Cell, maxRisk: number): Cell {
    const s = data.beginParse();
    const b = beginCell();
    b.storeBits(s.loadBits(48)).storeRef(s.loadRef());
    b.storeMaybeRef(s.loadMaybeRef());
    b.storeUint(s.loadUint(32), 32).storeUint(s.loadUint(2), 2);
    s.loadUint(8);
    b.storeUint(maxRisk, 8);
    b.storeSlice(s);
    return b.endCell();
}
