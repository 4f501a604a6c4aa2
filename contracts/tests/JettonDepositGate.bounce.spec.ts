// JettonDepositGate: a real bounce of the gate's transfer by its USDT wallet, five years of
// storage rent with entries in quarantine, and no message that drains the gate's TON or jettons
// (SPEC.md §12.3, §12.4), against the real USDT minter and wallets.
import '@ton/test-utils';
import { BlockchainSnapshot } from '@ton/sandbox';
import { beginCell, Cell, toNano } from '@ton/core';
import { ComplianceGate } from '../wrappers/ComplianceGate';
import { Errors } from '../wrappers/Constants';
import { depositPayload, JettonDepositGate, parseRefundPayload } from '../wrappers/JettonDepositGate';
import {
    deposit, invoice, JettonGateWorld, jettonGateWorld, payloadTo, POLICY, proof, T0, TINY, tonOf, USDT, usdt, wallet,
} from './jetton-gate-fixture';
import { JettonOp, transferMessage } from './usdt-fixture';

/** USDT's admin op call_to#235caf52 query_id to_owner ton_amount ^(set_status#eed236d3 query_id status:uint4). */
function setStatusVia(owner: import('@ton/core').Address, status: number): Cell {
    const setStatus = beginCell().storeUint(0xeed236d3, 32).storeUint(0, 64).storeUint(status, 4).endCell();
    return beginCell().storeUint(0x235caf52, 32).storeUint(0, 64).storeAddress(owner).storeCoins(toNano('0.05')).storeRef(setStatus).endCell();
}

describe('JettonDepositGate bounces, rent and drains', () => {
    let w: JettonGateWorld;
    let snapshot: BlockchainSnapshot;

    beforeAll(async () => {
        w = await jettonGateWorld();
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    it('quarantines the jettons when its own USDT wallet really bounces the transfer (locked by USDT\'s admin: 1025)', async () => {
        // USDT's admin can lock a wallet's outgoing transfers (status bit 1); incoming still arrive.
        // (the gate's wallet exists once it has received jettons)
        await deposit(w, w.alice, USDT(1), depositPayload(proof(w)));
        const lock = await w.admin.send({ to: w.minter, value: toNano('0.1'), body: setStatusVia(w.gate.address, 1) });
        expect(lock.transactions).toHaveTransaction({ to: wallet(w, w.gate.address), success: true });
        const before = await tonOf(w, w.gate.address);
        const r = await deposit(w, w.alice, USDT(100), depositPayload(proof(w), invoice));
        // the gate's transfer fails in its wallet (contract_locked, 45) and bounces back in the new format
        expect(r.transactions).toHaveTransaction({ from: w.gate.address, to: wallet(w, w.gate.address), success: false, exitCode: 45 });
        expect(r.transactions).toHaveTransaction({ from: wallet(w, w.gate.address), to: w.gate.address, success: true });
        const entry = (await w.gate.getQuarantineEntry(0))!;
        expect(entry.depositor!.equals(w.alice.address)).toBe(true);
        expect([entry.amount, entry.reason]).toEqual([USDT(100), Errors.transferBounced]);
        expect(await usdt(w, w.gate.address)).toBe(USDT(100));
        expect(await tonOf(w, w.gate.address)).toBeGreaterThanOrEqual(before - toNano('0.002'));
        // once unlocked, the depositor takes the jettons back
        await w.admin.send({ to: w.minter, value: toNano('0.1'), body: setStatusVia(w.gate.address, 0) });
        const aliceBefore = await usdt(w, w.alice.address);
        const claim = await w.alice.send({ to: w.gate.address, value: toNano('0.1'), body: JettonDepositGate.claimMessage(0) });
        expect(parseRefundPayload(payloadTo(w, claim, w.alice.address)!.beginParse()).error).toBe(Errors.transferBounced);
        expect(await usdt(w, w.alice.address)).toBe(aliceBefore + USDT(100));
    });

    it('is still alive after five years of storage rent with ten entries in quarantine, and pays them out', async () => {
        for (let i = 0; i < 10; i++) await deposit(w, w.alice, USDT(2), depositPayload(proof(w, { risk: 90 })), TINY);
        expect((await w.gate.getQuarantine()).entries.size).toBe(10);
        const start = await tonOf(w, w.gate.address);
        w.blockchain.now = T0 + 5 * 365 * 86400;
        const aliceBefore = await usdt(w, w.alice.address);
        const claim = await w.alice.send({ to: w.gate.address, value: toNano('0.1'), body: JettonDepositGate.claimMessage(9) });
        const tx = claim.transactions.find((t) => t.inMessage?.info.dest?.toString() === w.gate.address.toString())!;
        const d: any = tx.description;
        const rent = d.storagePhase.storageFeesCollected as bigint;
        console.log(`gate balance ${start} nanoton, five years of rent with 10 entries ${rent} nanoton`);
        expect(d.storagePhase.statusChange).toBe('unchanged');
        expect(await usdt(w, w.alice.address)).toBe(aliceBefore + USDT(2));
        const fresh = proof(w, { issuedAt: w.blockchain.now, validUntil: w.blockchain.now + 600 });
        const treasuryBefore = await usdt(w, w.treasury.address);
        await deposit(w, w.alice, USDT(10), depositPayload(fresh));
        expect(await usdt(w, w.treasury.address)).toBe(treasuryBefore + USDT(10));
        // Ten entries make the gate's storage rent large (SPEC.md §12.4): it must stay funded.
        expect(rent).toBeLessThan(start);
    });

    it('sends nothing and keeps its TON and jettons for every message a stranger can send', async () => {
        await deposit(w, w.alice, USDT(100), depositPayload(proof(w, { risk: 90 })), TINY); // entry 0 is alice's
        const before = { ton: await tonOf(w, w.gate.address), usdt: await usdt(w, w.gate.address) };
        const fakeNotification = beginCell().storeUint(JettonOp.transferNotification, 32).storeUint(0, 64).storeCoins(USDT(1000))
            .storeAddress(w.mallory.address).storeBit(0).storeSlice(depositPayload(proof(w, { subject: w.mallory.address })).beginParse()).endCell();
        const bodies: [string, Cell][] = [
            ['an empty body', beginCell().endCell()],
            ['a fake transfer_notification', fakeNotification],
            ['a claim of another depositor\'s entry', JettonDepositGate.claimMessage(0)],
            ['a release', JettonDepositGate.releaseMessage(0, true)],
            ['a record', JettonDepositGate.recordMessage(w.mallory.address, USDT(100))],
            ['a policy', JettonDepositGate.setPolicyMessage({ ...POLICY, maxRisk: 100, forbidden: 0 })],
            ['an admin proposal', ComplianceGate.proposeAdminMessage(w.mallory.address)],
            ['an admin claim', ComplianceGate.claimAdminMessage()],
            ['a take_wallet_address', beginCell().storeUint(0xd1735400, 32).storeUint(0, 64).storeAddress(wallet(w, w.mallory.address)).storeBit(0).endCell()],
            ['a jetton transfer addressed to the gate', transferMessage({ amount: USDT(100), destination: w.mallory.address, response: w.mallory.address, forwardTon: 0n })],
            ['an unknown op', beginCell().storeUint(0xffffffff, 32).storeUint(0, 64).endCell()],
            ['a truncated op', beginCell().storeUint(0x6c3e3b41, 32).endCell()],
        ];
        for (const [what, body] of bodies) {
            for (const value of [1n, toNano('0.01'), toNano('1')]) {
                const r = await w.mallory.send({ to: w.gate.address, value, body });
                const tx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === w.gate.address.toString())!;
                // nothing leaves the gate but the bounce of the stranger's own value
                const out = [...tx.outMessages.values()].filter((m) => m.info.type === 'internal');
                for (const m of out) expect(m.info.type === 'internal' && m.info.bounced).toBe(true);
                expect(await usdt(w, w.gate.address)).toBe(before.usdt);
                expect(await tonOf(w, w.gate.address)).toBeGreaterThanOrEqual(before.ton - toNano('0.000001'));
                void what;
            }
        }
        expect((await w.gate.getQuarantineEntry(0))!.depositor!.equals(w.alice.address)).toBe(true);
    });

    it('a quarantine costs the gate less TON than it costs whoever triggers it', async () => {
        const gateBefore = await tonOf(w, w.gate.address);
        const malloryBefore = await tonOf(w, w.mallory.address);
        for (let i = 0; i < 5; i++) await deposit(w, w.mallory, USDT(1), depositPayload(proof(w, { subject: w.mallory.address, risk: 90 })), TINY);
        const gateCost = gateBefore - (await tonOf(w, w.gate.address));
        const malloryCost = malloryBefore - (await tonOf(w, w.mallory.address));
        console.log(`five quarantines: the gate paid ${gateCost} nanoton, the depositor ${malloryCost}`);
        expect((await w.gate.getQuarantine()).entries.size).toBe(5);
        expect(gateCost).toBeLessThan(malloryCost);
    });
});
