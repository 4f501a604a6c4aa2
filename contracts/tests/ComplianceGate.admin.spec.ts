// Admin ops of the ComplianceGate: set_signers (rotation with a grace period), set_policy and the
// two-step admin handover, by the admin only; and an admin that is another contract (AdminProxy,
// standing in for a multisig). Refused admin ops throw, so the bounce returns the value.

import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { compile } from '@ton/blueprint';
import '@ton/test-utils';
import { signerKeysToCell, signerSetToCell, SignerSet } from '../wrappers/Attestation';
import { AdminProxy } from '../wrappers/AdminProxy';
import { ComplianceGate, GatePolicy, Screen } from '../wrappers/ComplianceGate';
import { Errors } from '../wrappers/Constants';
import { freshKeys } from './checker-fixture';
import {
    attestationFor,
    balanceOf,
    BlockchainSnapshot,
    EPOCH,
    forwards,
    GRACE_UNTIL,
    gateWorld,
    GateWorld,
    policy,
    PREVIOUS_EPOCH,
    proofOf,
    refunds,
    T0,
} from './gate-fixture';

jest.setTimeout(120_000); // the machine is shared: compile and deploy can take a while

describe('ComplianceGate admin ops', () => {
    let w: GateWorld;
    let g: SandboxContract<ComplianceGate>;
    let mallory: SandboxContract<TreasuryContract>;
    let proxy: SandboxContract<AdminProxy>;
    let snapshot: BlockchainSnapshot;

    beforeAll(async () => {
        w = await gateWorld();
        g = w.gates[Screen.destination];
        mallory = await w.blockchain.treasury('mallory');
        proxy = w.blockchain.openContract(AdminProxy.createFromConfig({ owner: w.admin.address }, await compile('AdminProxy')));
        await proxy.sendDeploy(w.admin.getSender(), toNano('1'));
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    /** Sends `body` to the gate from `via`; asserts the outcome and that the gate keeps its
     *  balance when it refuses (the bounce returns the value less fees). */
    async function adminOp(via: SandboxContract<TreasuryContract>, body: Cell, exitCode = 0) {
        w.blockchain.now = Math.max(w.blockchain.now ?? T0, T0 + 10);
        const gateBefore = await balanceOf(w, g.address);
        const senderBefore = await balanceOf(w, via.address);
        const result = await via.send({ to: g.address, value: toNano('0.05'), body });
        expect(result.transactions).toHaveTransaction({ from: via.address, to: g.address, success: exitCode === 0, exitCode });
        if (exitCode !== 0) {
            expect(result.transactions).toHaveTransaction({ from: g.address, to: via.address, inMessageBounced: true });
            expect(await balanceOf(w, g.address)).toBeGreaterThanOrEqual(gateBefore - 10_000n); // rent only
            expect(senderBefore - (await balanceOf(w, via.address))).toBeLessThan(toNano('0.01'));
        }
        return result;
    }

    async function newSet(epoch: number, threshold = 2, n = 4) {
        const keys = await freshKeys(n);
        return { keys, set: { epoch, threshold, publicKeys: keys.map((k) => k.publicKey) } as SignerSet };
    }

    /** Alice → Bob through the gate with an attestation of `epoch` signed by `keys` [0, 1]. */
    async function transferWith(epoch: number, keys: { secretKey: Buffer }[] & any, now: number) {
        w.blockchain.now = now;
        const p = proofOf(attestationFor(w, g.address, w.bob.address, { epoch, validUntil: now + 600 }), [0, 1], keys);
        const r = await g.sendTransfer(w.alice.getSender(), toNano('1'), { destination: w.bob.address, destinationProof: p });
        const refund = refunds(r, g.address)[0]?.error ?? 0;
        expect(forwards(r, g.address)).toHaveLength(refund === 0 ? 1 : 0);
        return refund;
    }

    describe('gate_set_signers', () => {
        it('admin can rotate the signer set; the previous set stays valid until the grace deadline, then never again', async () => {
            const { keys: next, set } = await newSet(EPOCH + 1);
            const grace = T0 + 1000;
            await adminOp(w.admin, ComplianceGate.setSignersMessage(set, grace));
            const s = await g.getSignerSet();
            expect([s.epoch, s.threshold, s.count, s.graceUntil]).toEqual([EPOCH + 1, 2, 4, grace]);
            expect(s.keys.equals(signerKeysToCell(set.publicKeys))).toBe(true);
            expect(s.previous!.beginParse().loadUint(32)).toBe(EPOCH);
            expect(await transferWith(EPOCH + 1, next, T0 + 20)).toBe(0);
            expect(await transferWith(EPOCH, w.keys, grace)).toBe(0); // rotated out, within grace
            expect(await transferWith(EPOCH, w.keys, grace + 1)).toBe(Errors.unknownEpoch); // after it
            expect(await transferWith(PREVIOUS_EPOCH, w.previousKeys, grace + 2)).toBe(Errors.unknownEpoch);
        });

        it('admin can rotate twice; the set before the previous one is refused at once', async () => {
            const a = await newSet(EPOCH + 1);
            const b = await newSet(EPOCH + 2, 1, 16);
            await adminOp(w.admin, ComplianceGate.setSignersMessage(a.set, T0 + 5000));
            await adminOp(w.admin, ComplianceGate.setSignersMessage(b.set, T0 + 5000));
            expect(await transferWith(EPOCH, w.keys, T0 + 30)).toBe(Errors.unknownEpoch);
            expect(await transferWith(EPOCH + 1, a.keys, T0 + 31)).toBe(0);
            expect(await transferWith(EPOCH + 2, b.keys, T0 + 32)).toBe(0);
        });

        it('non-admin cannot rotate the signer set (513)', async () => {
            const { set } = await newSet(EPOCH + 1);
            await adminOp(mallory, ComplianceGate.setSignersMessage(set, T0 + 1000), Errors.notAdmin);
            await adminOp(w.alice, ComplianceGate.setSignersMessage(set, T0 + 1000), Errors.notAdmin);
            expect((await g.getSignerSet()).epoch).toBe(EPOCH);
        });

        it('admin cannot rotate to an epoch other than the current one + 1 (517)', async () => {
            for (const epoch of [EPOCH, EPOCH - 1, PREVIOUS_EPOCH, EPOCH + 2, 0xffffffff]) {
                const { set } = await newSet(epoch);
                await adminOp(w.admin, ComplianceGate.setSignersMessage(set, T0 + 1000), Errors.staleEpoch);
            }
        });

        it('admin cannot install a malformed signer set (518)', async () => {
            const keys = (await freshKeys(4)).map((k) => k.publicKey);
            const raw = (threshold: number, count: number, keysCell: Cell) =>
                beginCell().storeUint(EPOCH + 1, 32).storeUint(threshold, 8).storeUint(count, 8).storeRef(keysCell).endCell();
            const bad = [
                raw(0, 4, signerKeysToCell(keys)), // threshold 0
                raw(5, 4, signerKeysToCell(keys)), // threshold above count
                raw(2, 5, signerKeysToCell(keys)), // count says 5, 4 keys
                raw(2, 3, signerKeysToCell(keys)), // count says 3, 4 keys
                raw(2, 17, signerKeysToCell(keys)), // more than 16
                beginCell().storeSlice(signerSetToCell({ epoch: EPOCH + 1, threshold: 2, publicKeys: keys }).beginParse()).storeBit(1).endCell(),
            ];
            for (const cell of bad) await adminOp(w.admin, ComplianceGate.setSignersMessage(cell, T0 + 1000), Errors.malformedSignerSet);
            expect((await g.getSignerSet()).epoch).toBe(EPOCH);
        });
    });

    describe('gate_set_policy', () => {
        const next: GatePolicy = { screen: Screen.both, maxRisk: 20, forbidden: 0xffff, maxSkew: 5 };

        it('admin can change the policy', async () => {
            await adminOp(w.admin, ComplianceGate.setPolicyMessage(next));
            expect(await g.getPolicy()).toEqual(next);
            // now the sender is screened too
            expect(await transferWith(EPOCH, w.keys, T0 + 20)).toBe(Errors.missingAttestation);
        });

        it('non-admin cannot change the policy (513)', async () => {
            await adminOp(mallory, ComplianceGate.setPolicyMessage(policy(Screen.none)), Errors.notAdmin);
            expect((await g.getPolicy()).screen).toBe(Screen.destination);
        });

        it('admin cannot set a maximum risk above 100 (519)', async () => {
            await adminOp(w.admin, ComplianceGate.setPolicyMessage({ ...next, maxRisk: 101 }), Errors.malformedPolicy);
        });
    });

    describe('gate_propose_admin / gate_claim_admin', () => {
        it('admin can propose a successor, who can claim', async () => {
            await adminOp(w.admin, ComplianceGate.proposeAdminMessage(mallory.address));
            let a = await g.getAdmin();
            expect(a.admin.equals(w.admin.address) && a.pendingAdmin!.equals(mallory.address)).toBe(true);
            await adminOp(mallory, ComplianceGate.claimAdminMessage());
            a = await g.getAdmin();
            expect(a.admin.equals(mallory.address)).toBe(true);
            expect(a.pendingAdmin).toBeNull();
            // the old admin is out
            await adminOp(w.admin, ComplianceGate.setPolicyMessage(policy(Screen.none)), Errors.notAdmin);
        });

        it('non-admin cannot propose an admin (513)', async () => {
            await adminOp(mallory, ComplianceGate.proposeAdminMessage(mallory.address), Errors.notAdmin);
            expect((await g.getAdmin()).pendingAdmin).toBeNull();
        });

        it('non-pending cannot claim the admin role (514)', async () => {
            await adminOp(mallory, ComplianceGate.claimAdminMessage(), Errors.notPendingAdmin);
            await adminOp(w.admin, ComplianceGate.proposeAdminMessage(w.alice.address));
            await adminOp(mallory, ComplianceGate.claimAdminMessage(), Errors.notPendingAdmin);
            await adminOp(w.admin, ComplianceGate.claimAdminMessage(), Errors.notPendingAdmin);
        });

        it('admin can cancel a proposal, after which the proposed cannot claim (514)', async () => {
            await adminOp(w.admin, ComplianceGate.proposeAdminMessage(mallory.address));
            await adminOp(w.admin, ComplianceGate.proposeAdminMessage(null));
            expect((await g.getAdmin()).pendingAdmin).toBeNull();
            await adminOp(mallory, ComplianceGate.claimAdminMessage(), Errors.notPendingAdmin);
        });
    });

    describe('other ops', () => {
        it('cannot run an unknown op (512)', async () => {
            await adminOp(w.admin, beginCell().storeUint(0x12345678, 32).storeUint(0, 64).endCell(), Errors.unknownGateOp);
        });

        it('can be topped up by an empty message', async () => {
            const before = await balanceOf(w, g.address);
            await w.alice.send({ to: g.address, value: toNano('1') });
            expect(await balanceOf(w, g.address)).toBeGreaterThan(before + toNano('0.99'));
        });
    });

    describe('an admin that is another contract (AdminProxy)', () => {
        /** The owner has the proxy send `body` to the gate. */
        async function viaProxy(from: SandboxContract<TreasuryContract>, body: Cell) {
            return proxy.sendProxy(from.getSender(), toNano('0.1'), g.address, body);
        }

        async function handOverToProxy() {
            await adminOp(w.admin, ComplianceGate.proposeAdminMessage(proxy.address));
            const r = await viaProxy(w.admin, ComplianceGate.claimAdminMessage());
            expect(r.transactions).toHaveTransaction({ from: proxy.address, to: g.address, success: true });
            expect((await g.getAdmin()).admin.equals(proxy.address)).toBe(true);
        }

        it('admin can hand the role to a contract, which can then rotate signers and change policy', async () => {
            await handOverToProxy();
            const { keys: next, set } = await newSet(EPOCH + 1);
            let r = await viaProxy(w.admin, ComplianceGate.setSignersMessage(set, T0 + 100));
            expect(r.transactions).toHaveTransaction({ from: proxy.address, to: g.address, success: true });
            expect((await g.getSignerSet()).epoch).toBe(EPOCH + 1);
            expect(await transferWith(EPOCH + 1, next, T0 + 40)).toBe(0);
            r = await viaProxy(w.admin, ComplianceGate.setPolicyMessage(policy(Screen.none)));
            expect(r.transactions).toHaveTransaction({ from: proxy.address, to: g.address, success: true });
            expect((await g.getPolicy()).screen).toBe(Screen.none);
            // the former wallet admin cannot act directly any more
            await adminOp(w.admin, ComplianceGate.setPolicyMessage(policy(Screen.both)), Errors.notAdmin);
        });

        it('non-owner cannot make the contract admin act (768)', async () => {
            await handOverToProxy();
            const { set } = await newSet(EPOCH + 1);
            const r = await viaProxy(mallory, ComplianceGate.setSignersMessage(set, T0 + 100));
            expect(r.transactions).toHaveTransaction({ from: mallory.address, to: proxy.address, success: false, exitCode: Errors.notProxyOwner });
            expect(r.transactions).not.toHaveTransaction({ from: proxy.address, to: g.address });
            expect((await g.getSignerSet()).epoch).toBe(EPOCH);
        });

        it('owner cannot send the proxy an unknown op (769), and keeps the value', async () => {
            const before = await balanceOf(w, w.admin.address);
            const r = await w.admin.send({ to: proxy.address, value: toNano('0.1'), body: beginCell().storeUint(0x0badc0de, 32).endCell() });
            expect(r.transactions).toHaveTransaction({ from: w.admin.address, to: proxy.address, success: false, exitCode: Errors.unknownProxyOp });
            expect(r.transactions).toHaveTransaction({ from: proxy.address, to: w.admin.address, inMessageBounced: true });
            expect(before - (await balanceOf(w, w.admin.address))).toBeLessThan(toNano('0.01'));
        });

        it('a contract that is not the admin cannot act through its owner (513)', async () => {
            const { set } = await newSet(EPOCH + 1);
            const r = await viaProxy(w.admin, ComplianceGate.setSignersMessage(set, T0 + 100));
            expect(r.transactions).toHaveTransaction({ from: proxy.address, to: g.address, success: false, exitCode: Errors.notAdmin });
            expect((await g.getSignerSet()).epoch).toBe(EPOCH);
        });
    });
});
