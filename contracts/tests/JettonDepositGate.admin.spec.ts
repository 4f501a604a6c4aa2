// JettonDepositGate governance (SPEC.md §12.5) and the admin's record of jettons the gate never
// saw (jgate_record, §12.4), against the real USDT minter and wallets. Paired "X can… / non-X
// cannot…" cases; every refusal asserts its exit code and that nothing moved.
import '@ton/test-utils';
import { BlockchainSnapshot } from '@ton/sandbox';
import { beginCell, toNano } from '@ton/core';
import { signerSetToCell, storeSignerSet } from '../wrappers/Attestation';
import { ComplianceGate } from '../wrappers/ComplianceGate';
import { Errors, Op, Tag } from '../wrappers/Constants';
import { depositPayload, JettonDepositGate, parseRefundPayload } from '../wrappers/JettonDepositGate';
import { freshKeys } from './checker-fixture';
import {
    deposit, EPOCH, invoice, JettonGateWorld, jettonGateWorld, payloadTo, POLICY, proof, T0, tonOf, USDT, usdt, wallet,
} from './jetton-gate-fixture';

describe('JettonDepositGate governance and recovery', () => {
    let w: JettonGateWorld;
    let snapshot: BlockchainSnapshot;

    beforeAll(async () => {
        w = await jettonGateWorld();
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    const send = (from: typeof w.admin, body: ReturnType<typeof beginCell>['endCell'] extends () => infer C ? C : never, value = toNano('0.05')) =>
        from.send({ to: w.gate.address, value, body });

    it('admin can rotate the signer set: the new set passes, the previous one until its grace deadline, then 265', async () => {
        const next = await freshKeys(3);
        const grace = T0 + 3600;
        const r = await send(w.admin, ComplianceGate.setSignersMessage({ epoch: EPOCH + 1, threshold: 2, publicKeys: next.map((k) => k.publicKey) }, grace));
        expect(r.transactions).toHaveTransaction({ to: w.gate.address, success: true });
        const before = await usdt(w, w.treasury.address);
        await deposit(w, w.alice, USDT(10), depositPayload(proof(w, { epoch: EPOCH + 1 }, [0, 1], next), invoice));
        await deposit(w, w.alice, USDT(10), depositPayload(proof(w), invoice)); // previous set, within grace
        expect(await usdt(w, w.treasury.address)).toBe(before + USDT(20));
        w.blockchain.now = grace + 1;
        const late = await deposit(w, w.alice, USDT(10), depositPayload(proof(w, { issuedAt: grace + 1, validUntil: grace + 601 })));
        expect(parseRefundPayload(payloadTo(w, late, w.alice.address)!.beginParse()).error).toBe(Errors.unknownEpoch);
    });

    it('admin cannot install a stale epoch (517) or a malformed set (518)', async () => {
        const same = await send(w.admin, ComplianceGate.setSignersMessage({ epoch: EPOCH, threshold: 2, publicKeys: w.keys.map((k) => k.publicKey) }, 0));
        expect(same.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.staleEpoch });
        const malformed = beginCell().store(storeSignerSet({ epoch: EPOCH + 1, threshold: 4, publicKeys: w.keys.map((k) => k.publicKey) })).endCell();
        const bad = await send(w.admin, ComplianceGate.setSignersMessage(malformed, 0));
        expect(bad.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.malformedSignerSet });
    });

    it('non-admin cannot set signers, set the policy, propose an admin or record (513)', async () => {
        const stateBefore = (await w.blockchain.getContract(w.gate.address)).accountState;
        for (const body of [
            ComplianceGate.setSignersMessage(signerSetToCell({ epoch: EPOCH + 1, threshold: 1, publicKeys: [w.keys[0].publicKey] }), 0),
            JettonDepositGate.setPolicyMessage({ ...POLICY, maxRisk: 100 }),
            ComplianceGate.proposeAdminMessage(w.mallory.address),
            JettonDepositGate.recordMessage(w.mallory.address, USDT(1)),
        ]) {
            const r = await send(w.mallory, body);
            expect(r.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.notAdmin });
        }
        const stateAfter = (await w.blockchain.getContract(w.gate.address)).accountState;
        expect(stateAfter?.type === 'active' && stateBefore?.type === 'active' && stateAfter.state.data!.equals(stateBefore.state.data!)).toBe(true);
    });

    it('admin can replace the policy; a max_risk above 100 is refused (519)', async () => {
        await send(w.admin, JettonDepositGate.setPolicyMessage({ ...POLICY, maxRisk: 5, minAmount: USDT(50) }));
        expect(await w.gate.getPolicy()).toEqual({ ...POLICY, maxRisk: 5, minAmount: USDT(50) });
        const r = await deposit(w, w.alice, USDT(10), depositPayload(proof(w)));
        expect(parseRefundPayload(payloadTo(w, r, w.alice.address)!.beginParse()).error).toBe(Errors.belowMinimum);
        const bad = await send(w.admin, JettonDepositGate.setPolicyMessage({ ...POLICY, maxRisk: 101 }));
        expect(bad.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.malformedPolicy });
    });

    it('the proposed admin can take over in two steps; others cannot claim (514); the old admin loses its power', async () => {
        await send(w.admin, ComplianceGate.proposeAdminMessage(w.treasury.address));
        const [, pending] = await getAdmin();
        expect(pending!.equals(w.treasury.address)).toBe(true);
        const byMallory = await send(w.mallory, ComplianceGate.claimAdminMessage());
        expect(byMallory.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.notPendingAdmin });
        await send(w.treasury, ComplianceGate.claimAdminMessage());
        const [admin, none] = await getAdmin();
        expect(admin!.equals(w.treasury.address)).toBe(true);
        expect(none).toBeNull();
        const old = await send(w.admin, JettonDepositGate.setPolicyMessage(POLICY));
        expect(old.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.notAdmin });
    });

    async function getAdmin() {
        const s = (await w.blockchain.runGetMethod(w.gate.address, 'get_admin', [])).stackReader;
        return [s.readAddressOpt(), s.readAddressOpt()];
    }

    it('refuses an unknown op (512) and a take_wallet_address from anyone but the minter (513)', async () => {
        const unknown = await send(w.admin, beginCell().storeUint(0x12345678, 32).storeUint(0, 64).endCell());
        expect(unknown.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.unknownGateOp });
        const fake = await send(w.mallory, beginCell().storeUint(0xd1735400, 32).storeUint(0, 64).storeAddress(wallet(w, w.mallory.address)).storeBit(0).endCell());
        expect(fake.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.notAdmin });
        expect((await w.gate.getWallet())!.equals(wallet(w, w.gate.address))).toBe(true);
    });

    it('admin can record jettons sent with forward_ton_amount 0 or 1 nanoton; the depositor claims them back, the admin releases', async () => {
        // Neither transfer gives the gate a notification it can run (SPEC.md §12.4).
        await deposit(w, w.alice, USDT(10), depositPayload(proof(w)), 0n);
        await deposit(w, w.alice, USDT(15), depositPayload(proof(w)), 1n);
        expect(await usdt(w, w.gate.address)).toBe(USDT(25));
        expect((await w.gate.getQuarantine()).nextId).toBe(0);
        const r = await send(w.admin, JettonDepositGate.recordMessage(w.alice.address, USDT(10)));
        const gateTx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === w.gate.address.toString())!;
        const log = [...gateTx.outMessages.values()].find((m) => m.info.type === 'external-out')!;
        expect(log.body.beginParse().loadUint(32)).toBe(Tag.jgateQuarantined);
        await send(w.admin, JettonDepositGate.recordMessage(w.alice.address, USDT(15)));
        const entry = (await w.gate.getQuarantineEntry(0))!;
        expect(entry.depositor!.equals(w.alice.address)).toBe(true);
        expect([entry.amount, entry.reason, entry.at]).toEqual([USDT(10), Errors.unrecordedDeposit, T0]);
        const aliceBefore = await usdt(w, w.alice.address);
        const claim = await send(w.alice, JettonDepositGate.claimMessage(0), toNano('0.1'));
        expect(parseRefundPayload(payloadTo(w, claim, w.alice.address)!.beginParse()).error).toBe(Errors.unrecordedDeposit);
        expect(await usdt(w, w.alice.address)).toBe(aliceBefore + USDT(10));
        const treasuryBefore = await usdt(w, w.treasury.address);
        await send(w.admin, JettonDepositGate.releaseMessage(1, true), toNano('0.1'));
        expect(await usdt(w, w.treasury.address)).toBe(treasuryBefore + USDT(15));
        expect(await usdt(w, w.gate.address)).toBe(0n);
        expect((await w.gate.getQuarantine()).entries.size).toBe(0);
    });

    it('admin cannot record for an address that cannot claim (addr_none: 1028)', async () => {
        const body = beginCell().storeUint(Op.jgateRecord, 32).storeUint(0, 64).storeAddress(null).storeCoins(USDT(1)).endCell();
        const r = await send(w.admin, body);
        expect(r.transactions).toHaveTransaction({ to: w.gate.address, success: false, exitCode: Errors.badDepositor });
        expect((await w.gate.getQuarantine()).nextId).toBe(0);
    });

    it('admin ops leave the gate\'s TON as it was, less storage: their value pays them', async () => {
        const before = await tonOf(w, w.gate.address);
        await send(w.admin, JettonDepositGate.setPolicyMessage(POLICY));
        await send(w.admin, ComplianceGate.proposeAdminMessage(w.treasury.address));
        expect(await tonOf(w, w.gate.address)).toBeGreaterThanOrEqual(before);
    });
});
