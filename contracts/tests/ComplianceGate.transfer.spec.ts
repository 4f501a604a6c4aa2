// gate_transfer: the gate forwards only with valid attestations for every screened party, refunds
// with the reason otherwise, and never spends its own balance. Every case asserts balances.

import { SandboxContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { Attestation, attestationToCell, signatureBundleToCell, signWith } from '../wrappers/Attestation';
import { AttestationProof, ComplianceGate, GateTransfer, Screen } from '../wrappers/ComplianceGate';
import { Category, Errors, Network } from '../wrappers/Constants';
import { otherAddress, setConfigGlobalId } from './checker-fixture';
import {
    attestationFor,
    balanceOf,
    BlockchainSnapshot,
    bundleOf,
    EPOCH,
    forwards,
    GATE_BALANCE,
    GRACE_UNTIL,
    gateWorld,
    GateWorld,
    MAX_SKEW,
    PREVIOUS_EPOCH,
    proofOf,
    refunds,
    T0,
    txTo,
} from './gate-fixture';

jest.setTimeout(120_000); // the machine is shared: compile and deploy can take a while

const VALUE = toNano('1');

describe('ComplianceGate gate_transfer', () => {
    let w: GateWorld;
    let snapshot: BlockchainSnapshot;

    beforeAll(async () => {
        w = await gateWorld();
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    const gate = (screen: number) => w.gates[screen];

    /** A proof of `subject` for `g`, signed by current keys 0 and 1 unless told otherwise. */
    function proof(g: SandboxContract<ComplianceGate>, subject: Address, over: Partial<Attestation> = {}, indexes = [0, 1]) {
        return proofOf(attestationFor(w, g.address, subject, over), indexes, w.keys);
    }

    /** Alice sends VALUE through `g` to Bob (unless `t` says otherwise) at `now`; returns the trace
     *  and every balance change. */
    async function send(g: SandboxContract<ComplianceGate>, t: Partial<GateTransfer> = {}, opts: { now?: number; value?: bigint } = {}) {
        w.blockchain.now = opts.now ?? T0 + 10;
        const destination = t.destination ?? w.bob.address;
        const before = {
            alice: await balanceOf(w, w.alice.address),
            destination: await balanceOf(w, destination),
            gate: await balanceOf(w, g.address),
        };
        const result = await g.sendTransfer(w.alice.getSender(), opts.value ?? VALUE, { destination, ...t });
        const after = {
            alice: await balanceOf(w, w.alice.address),
            destination: await balanceOf(w, destination),
            gate: await balanceOf(w, g.address),
        };
        const gateTx = txTo(result, g.address, w.alice.address);
        const storage = gateTx.description.type === 'generic' ? gateTx.description.storagePhase?.storageFeesCollected ?? 0n : 0n;
        return { result, before, after, gateTx, gateStorageFee: storage };
    }

    type Sent = Awaited<ReturnType<typeof send>>;

    /** Forwarded: one gate_forward to the destination with at most the incoming value, the gate's
     *  balance unchanged but for its rent, the destination richer, no refund. */
    function expectForwarded(s: Sent, g: SandboxContract<ComplianceGate>, destination = w.bob.address) {
        const d = s.gateTx.description;
        // The gate keeps what it had (less rent); an excess too small to pay its own forward fee
        // is dropped (mode +2) and stays with the gate, so at most that much more.
        const kept = d.type === 'generic' && d.actionPhase?.skippedActions ? toNano('0.001') : 0n;
        expect(s.gateTx.description.type === 'generic' && s.gateTx.description.computePhase.type === 'vm' && s.gateTx.description.computePhase.exitCode).toBe(0);
        const fwd = forwards(s.result, g.address);
        expect(fwd).toHaveLength(1);
        expect(fwd[0].to.equals(destination)).toBe(true);
        expect(fwd[0].bounce).toBe(true);
        expect(fwd[0].value).toBeLessThanOrEqual(VALUE);
        expect(ComplianceGate.parseForward(fwd[0].body).sender.equals(w.alice.address)).toBe(true);
        expect(refunds(s.result, g.address)).toHaveLength(0);
        expect(s.after.gate).toBeGreaterThanOrEqual(s.before.gate - s.gateStorageFee);
        expect(s.after.gate).toBeLessThanOrEqual(s.before.gate - s.gateStorageFee + kept);
        // The destination gets the forward's value, less the fees of its own transaction.
        const destinationTx = txTo(s.result, destination, g.address);
        expect(s.after.destination).toBe(s.before.destination + fwd[0].value - destinationTx.totalFees.coins);
        expect(s.after.alice).toBeLessThan(s.before.alice - fwd[0].value);
        return fwd[0];
    }

    /** Refused: one gate_refund to Alice with `error`, nothing forwarded, the gate's balance
     *  unchanged but for its rent, Alice out of pocket by fees only. */
    function expectRefunded(s: Sent, g: SandboxContract<ComplianceGate>, error: number) {
        expect(forwards(s.result, g.address)).toHaveLength(0);
        const r = refunds(s.result, g.address);
        expect(r.map((x) => x.error)).toEqual([error]);
        expect(r[0].to.equals(w.alice.address)).toBe(true);
        expect(r[0].bounce).toBe(false);
        expect(r[0].value).toBeGreaterThan(VALUE - toNano('0.02'));
        expect(s.after.gate).toBe(s.before.gate - s.gateStorageFee);
        expect(s.after.destination).toBe(s.before.destination);
        expect(s.before.alice - s.after.alice).toBeLessThan(toNano('0.02'));
        expect(s.gateTx.description.type === 'generic' && s.gateTx.description.aborted).toBe(false);
    }

    describe('policies', () => {
        it('can forward without attestations when the policy screens no party', async () => {
            expectForwarded(await send(gate(Screen.none)), gate(Screen.none));
        });

        it('can forward with the destination attestation the policy screens', async () => {
            const g = gate(Screen.destination);
            expectForwarded(await send(g, { destinationProof: proof(g, w.bob.address) }), g);
        });

        it('cannot forward without the destination attestation (515)', async () => {
            const g = gate(Screen.destination);
            expectRefunded(await send(g, { senderProof: proof(g, w.alice.address) }), g, Errors.missingAttestation);
        });

        it('can forward with the sender attestation the policy screens', async () => {
            const g = gate(Screen.sender);
            expectForwarded(await send(g, { senderProof: proof(g, w.alice.address) }), g);
        });

        it('cannot forward without the sender attestation (515)', async () => {
            const g = gate(Screen.sender);
            expectRefunded(await send(g, { destinationProof: proof(g, w.bob.address) }), g, Errors.missingAttestation);
        });

        it('can forward with both attestations when both parties are screened', async () => {
            const g = gate(Screen.both);
            expectForwarded(await send(g, { destinationProof: proof(g, w.bob.address), senderProof: proof(g, w.alice.address) }), g);
        });

        it('cannot forward with one of two screened attestations (515)', async () => {
            const g = gate(Screen.both);
            expectRefunded(await send(g, { destinationProof: proof(g, w.bob.address) }), g, Errors.missingAttestation);
            expectRefunded(await send(g, { senderProof: proof(g, w.alice.address) }), g, Errors.missingAttestation);
        });

        it('cannot forward when the sender attestation is the destination one swapped (260)', async () => {
            const g = gate(Screen.both);
            const s = await send(g, { destinationProof: proof(g, w.alice.address), senderProof: proof(g, w.bob.address) });
            expectRefunded(s, g, Errors.wrongSubject);
        });

        it('cannot forward when one of two attestations is bad, even if the other is good (268)', async () => {
            const g = gate(Screen.both);
            const good = proof(g, w.bob.address);
            const bad = proof(g, w.alice.address);
            const forged = { ...bad, signatures: bundleOf(attestationToCell(attestationFor(w, g.address, w.alice.address, { risk: 11 })), [0, 1], w.keys) };
            expectRefunded(await send(g, { destinationProof: good, senderProof: forged }), g, Errors.badSignature);
        });
    });

    describe('every library check refunds with its code', () => {
        const g = () => gate(Screen.destination);
        const refusedWith = async (code: number, p: AttestationProof, opts: { now?: number } = {}) =>
            expectRefunded(await send(g(), { destinationProof: p }, opts), g(), code);

        it('cannot forward with a malformed attestation (256)', async () => {
            const cell = beginCell().storeSlice(attestationToCell(attestationFor(w, g().address, w.bob.address)).beginParse()).storeBit(0).endCell();
            await refusedWith(Errors.malformedAttestation, { attestation: cell, signatures: bundleOf(cell, [0, 1], w.keys) });
        });

        it('cannot forward with a proof of another tag (257)', async () => {
            await refusedWith(Errors.unknownTag, { ...proof(g(), w.bob.address), tag: 0x5c1324ac });
        });

        it('cannot forward with an unknown tag (257)', async () => {
            await refusedWith(Errors.unknownTag, proof(g(), w.bob.address, { tag: 0x1bb33318 }));
        });

        it('cannot forward with an attestation for the other network (258)', async () => {
            const other = w.network === Network.mainnet ? Network.testnet : Network.mainnet;
            await refusedWith(Errors.wrongNetwork, proof(g(), w.bob.address, { network: other }));
        });

        it('cannot forward on the other network an attestation that passes on this one (258)', async () => {
            const p = proof(g(), w.bob.address);
            expectForwarded(await send(g(), { destinationProof: p }), g());
            setConfigGlobalId(w.blockchain, w.network === Network.mainnet ? Network.testnet : Network.mainnet);
            await refusedWith(Errors.wrongNetwork, p);
        });

        it('cannot forward through a second gate an attestation made for the first (259)', async () => {
            const second = w.blockchain.openContract(
                ComplianceGate.createFromConfig({ ...w.config(Screen.destination), graceUntil: GRACE_UNTIL + 1 }, w.code),
            );
            await second.sendDeploy(w.admin.getSender(), GATE_BALANCE);
            const p = proof(g(), w.bob.address);
            expectForwarded(await send(g(), { destinationProof: p }), g());
            expectRefunded(await send(second, { destinationProof: p }), second, Errors.wrongVerifier);
        });

        it('cannot forward to a destination the attestation does not name (260)', async () => {
            await refusedWith(Errors.wrongSubject, proof(g(), otherAddress(w.bob.address)));
        });

        it('can forward at valid_until − 1 and at valid_until', async () => {
            const p = proof(g(), w.bob.address, { validUntil: T0 + 600 });
            expectForwarded(await send(g(), { destinationProof: p }, { now: T0 + 599 }), g());
            expectForwarded(await send(g(), { destinationProof: p }, { now: T0 + 600 }), g());
        });

        it('cannot forward at valid_until + 1 (261)', async () => {
            await refusedWith(Errors.expired, proof(g(), w.bob.address, { validUntil: T0 + 600 }), { now: T0 + 601 });
        });

        it('can forward an attestation issued max_skew in the future', async () => {
            const p = proof(g(), w.bob.address, { issuedAt: T0 + 10 + MAX_SKEW, validUntil: T0 + 1000 });
            expectForwarded(await send(g(), { destinationProof: p }, { now: T0 + 10 }), g());
        });

        it('cannot forward an attestation issued beyond the skew (262)', async () => {
            const p = proof(g(), w.bob.address, { issuedAt: T0 + 11 + MAX_SKEW, validUntil: T0 + 1000 });
            await refusedWith(Errors.notYetValid, p, { now: T0 + 10 });
        });

        it('cannot forward above the maximum risk (263)', async () => {
            await refusedWith(Errors.riskTooHigh, proof(g(), w.bob.address, { risk: 51 }));
        });

        it('cannot forward with a forbidden category (264)', async () => {
            await refusedWith(Errors.forbiddenCategory, proof(g(), w.bob.address, { categories: Category.mixer }));
        });

        it('cannot forward with an unknown epoch (265)', async () => {
            await refusedWith(Errors.unknownEpoch, proof(g(), w.bob.address, { epoch: EPOCH + 1 }));
        });

        it('can forward with the previous set before its grace deadline', async () => {
            const p = proofOf(attestationFor(w, g().address, w.bob.address, { epoch: PREVIOUS_EPOCH, validUntil: GRACE_UNTIL + 600 }), [0, 2], w.previousKeys);
            expectForwarded(await send(g(), { destinationProof: p }, { now: GRACE_UNTIL }), g());
        });

        it('cannot forward with the previous set after its grace deadline (265)', async () => {
            const p = proofOf(attestationFor(w, g().address, w.bob.address, { epoch: PREVIOUS_EPOCH, validUntil: GRACE_UNTIL + 600 }), [0, 2], w.previousKeys);
            await refusedWith(Errors.unknownEpoch, p, { now: GRACE_UNTIL + 1 });
        });

        it('cannot forward with a signer index beyond the set (266)', async () => {
            const cell = attestationToCell(attestationFor(w, g().address, w.bob.address));
            const sigs = signatureBundleToCell([
                ...signWith(cell, [{ index: 0, secretKey: w.keys[0].secretKey }]),
                { signer: 5, signature: Buffer.alloc(64) },
            ]);
            await refusedWith(Errors.unknownSigner, { attestation: cell, signatures: sigs });
        });

        it('cannot forward with a duplicate signer index (267)', async () => {
            const cell = attestationToCell(attestationFor(w, g().address, w.bob.address));
            await refusedWith(Errors.signerOrder, { attestation: cell, signatures: bundleOf(cell, [1, 1], w.keys) });
        });

        it('cannot forward with signer indexes out of order (267)', async () => {
            const cell = attestationToCell(attestationFor(w, g().address, w.bob.address));
            await refusedWith(Errors.signerOrder, { attestation: cell, signatures: bundleOf(cell, [1, 0], w.keys) });
        });

        it('cannot forward with a signature by another key (268)', async () => {
            const cell = attestationToCell(attestationFor(w, g().address, w.bob.address));
            const sigs = signatureBundleToCell(signWith(cell, [{ index: 0, secretKey: w.keys[0].secretKey }, { index: 1, secretKey: w.keys[2].secretKey }]));
            await refusedWith(Errors.badSignature, { attestation: cell, signatures: sigs });
        });

        it('cannot forward with k − 1 valid signatures (269)', async () => {
            await refusedWith(Errors.tooFewSignatures, proof(g(), w.bob.address, {}, [3]));
        });

        it('cannot forward with a malformed signature entry (270)', async () => {
            const cell = attestationToCell(attestationFor(w, g().address, w.bob.address));
            const good = bundleOf(cell, [0, 1], w.keys);
            const bad = beginCell().storeSlice(good.beginParse()).storeBit(0).endCell();
            await refusedWith(Errors.malformedSignatures, { attestation: cell, signatures: bad });
        });
    });

    describe('value', () => {
        const g = () => gate(Screen.destination);
        const p = () => proof(g(), w.bob.address);

        it('can deliver exactly the amount, from 0 to nearly the whole value, and return the excess', async () => {
            for (const amount of [0n, 1n, VALUE / 4n, VALUE / 2n, VALUE - toNano('0.02')]) {
                const s = await send(g(), { destinationProof: p(), amount, responseDestination: w.alice.address });
                const fwd = expectForwarded(s, g());
                expect(fwd.value).toBe(amount);
                const bobTx = txTo(s.result, w.bob.address, g().address);
                expect(s.after.destination - s.before.destination).toBe(amount - bobTx.totalFees.coins);
                // Alice pays the amount and fees only: everything else came back as gate_excess.
                expect(s.before.alice - s.after.alice - amount).toBeLessThan(toNano('0.02'));
                await w.blockchain.loadFrom(snapshot);
            }
        });

        it('cannot deliver the whole incoming value (516), and refunds it', async () => {
            expectRefunded(await send(g(), { destinationProof: p(), amount: VALUE, responseDestination: w.alice.address }), g(), Errors.insufficientValue);
            expectRefunded(await send(g(), { destinationProof: p(), amount: VALUE }), g(), Errors.insufficientValue);
        });

        it('can forward the whole value less fees, and no more, without a response address', async () => {
            const s = await send(g(), { destinationProof: p(), amount: 0n });
            const fwd = expectForwarded(s, g());
            const d = s.gateTx.description;
            if (d.type !== 'generic' || d.computePhase.type !== 'vm') throw new Error('no compute phase');
            const forwardFee = d.actionPhase!.totalFwdFees ?? 0n;
            // The value less the gas and the forward fee, to the nanoton: the gate keeps nothing
            // and adds nothing.
            expect(fwd.value).toBe(VALUE - d.computePhase.gasFees - forwardFee);
        });

        it('cannot be made to pay fees from its balance by a value that barely covers the amount', async () => {
            for (const amount of [VALUE - toNano('0.001'), VALUE - 1n]) {
                expectRefunded(await send(g(), { destinationProof: p(), amount, responseDestination: w.alice.address }), g(), Errors.insufficientValue);
            }
        });

        it('can deliver the largest amount the fee check accepts, never out of its own balance', async () => {
            // Binary search for the largest accepted amount with a response address (the path with
            // the most gas after the check). At that amount the forward and the excess must go out
            // (no action-phase failure) and the gate must keep its balance: the fee estimate
            // (gas::transfer_tail) is not short.
            let lo = 0n;
            let hi = VALUE;
            while (hi - lo > 1n) {
                const mid = (lo + hi) / 2n;
                const s = await send(g(), { destinationProof: p(), amount: mid, responseDestination: w.alice.address });
                if (forwards(s.result, g().address).length) lo = mid;
                else hi = mid;
                await w.blockchain.loadFrom(snapshot);
            }
            const s = await send(g(), { destinationProof: p(), amount: lo, responseDestination: w.alice.address });
            const fwd = expectForwarded(s, g());
            expect(fwd.value).toBe(lo);
            const d = s.gateTx.description;
            if (d.type !== 'generic') throw new Error('not generic');
            expect(d.actionPhase?.success).toBe(true);
            // The margin the estimate leaves, which the excess carries back when it covers its own
            // forward fee (else it stays with the gate as rent).
            const margin = VALUE - lo - (d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n) - (d.actionPhase?.totalFwdFees ?? 0n);
            expect(margin).toBeGreaterThanOrEqual(0n);
            expect(margin).toBeLessThan(toNano('0.002'));
            console.log(`largest amount ${lo}, margin ${margin}, messages ${d.actionPhase?.messagesCreated}`);
            // and one nanoton more is refused with the reason
            await w.blockchain.loadFrom(snapshot);
            expectRefunded(await send(g(), { destinationProof: p(), amount: lo + 1n, responseDestination: w.alice.address }), g(), Errors.insufficientValue);
        });

        it('cannot forward a malformed body, and refunds with the exit code (9)', async () => {
            w.blockchain.now = T0 + 10;
            const before = await balanceOf(w, g().address);
            const body = beginCell().storeUint(0x159f1aa7, 32).storeUint(5, 64).storeUint(1, 3).endCell();
            const result = await w.alice.send({ to: g().address, value: VALUE, body });
            const r = refunds(result, g().address);
            expect(r.map((x) => [x.queryId, x.error])).toEqual([[5n, 9]]);
            expect(forwards(result, g().address)).toHaveLength(0);
            expect(await balanceOf(w, g().address)).toBeGreaterThanOrEqual(before - 1000n);
        });

        it('can carry a forward payload to the destination', async () => {
            const payload = beginCell().storeUint(0xdeadbeef, 32).storeRef(beginCell().storeUint(1, 8)).endCell();
            const s = await send(g(), { destinationProof: p(), forwardPayload: payload, queryId: 99n });
            const fwd = expectForwarded(s, g());
            const parsed = ComplianceGate.parseForward(fwd.body);
            expect(parsed.queryId).toBe(99n);
            expect(parsed.forwardPayload!.equals(payload)).toBe(true);
        });
    });
});
