// The gate's bounce handler: when the destination bounces the forward (no account, or a contract
// that refuses it), the value goes back to the original sender with gate_refund 520. The forward
// asks for the new bounce format, so the bounce carries gate_forward and its sender in full.

import { toNano } from '@ton/core';
import { compile } from '@ton/blueprint';
import { Address, beginCell, Cell } from '@ton/core';
import '@ton/test-utils';
import { AdminProxy } from '../wrappers/AdminProxy';
import { Screen } from '../wrappers/ComplianceGate';
import { Errors, Op } from '../wrappers/Constants';
import {
    attestationFor,
    balanceOf,
    BlockchainSnapshot,
    forwards,
    gateWorld,
    GateWorld,
    proofOf,
    refunds,
    T0,
    txTo,
} from './gate-fixture';

jest.setTimeout(120_000); // the machine is shared: compile and deploy can take a while

describe('ComplianceGate bounce of its forward', () => {
    let w: GateWorld;
    let snapshot: BlockchainSnapshot;
    let refuser: Address; // a contract that throws on gate_forward (AdminProxy: not its owner)

    beforeAll(async () => {
        w = await gateWorld();
        const proxy = w.blockchain.openContract(AdminProxy.createFromConfig({ owner: w.admin.address }, await compile('AdminProxy')));
        await proxy.sendDeploy(w.admin.getSender(), toNano('1'));
        refuser = proxy.address;
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    async function bounced(screen: number, destination: Address, amount: bigint, response: Address | null) {
        const g = w.gates[screen];
        w.blockchain.now = T0 + 10;
        const gateBefore = await balanceOf(w, g.address);
        const aliceBefore = await balanceOf(w, w.alice.address);
        const destinationBefore = await balanceOf(w, destination);
        const destinationProof = screen & Screen.destination ? proofOf(attestationFor(w, g.address, destination), [0, 1], w.keys) : null;
        const r = await g.sendTransfer(w.alice.getSender(), toNano('1'), {
            destination,
            amount,
            responseDestination: response,
            destinationProof,
            queryId: 77n,
        });
        const fwd = forwards(r, g.address);
        expect(fwd).toHaveLength(1);
        // the destination refused it and the gate got it back…
        expect(r.transactions).toHaveTransaction({ from: destination, to: g.address, inMessageBounced: true, success: true });
        // …and returned it to Alice with the reason
        const refund = refunds(r, g.address);
        expect(refund.map((x) => [x.queryId, x.error])).toEqual([[77n, Errors.forwardBounced]]);
        expect(refund[0].to.equals(w.alice.address)).toBe(true);
        const bounceTx = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.bounced)!;
        const bouncedValue = bounceTx.inMessage!.info.type === 'internal' ? bounceTx.inMessage!.info.value.coins : 0n;
        expect(refund[0].value).toBeLessThanOrEqual(bouncedValue);
        expect(refund[0].value).toBeGreaterThan(bouncedValue - toNano('0.01'));
        // the gate kept nothing and lost nothing beyond rent; the destination gained nothing
        expect(await balanceOf(w, g.address)).toBeGreaterThanOrEqual(gateBefore - 10_000n);
        expect(await balanceOf(w, g.address)).toBeLessThanOrEqual(gateBefore);
        expect(await balanceOf(w, destination)).toBeLessThanOrEqual(destinationBefore);
        // Alice lost fees only (at most 0.02 TON of her 1 TON)
        expect(aliceBefore - (await balanceOf(w, w.alice.address))).toBeLessThan(toNano('0.02'));
        return r;
    }

    it('can return the value to the sender when the destination has no account', async () => {
        const nobody = new Address(0, Buffer.alloc(32, 0x42));
        await bounced(Screen.destination, nobody, 0n, null);
    });

    it('can return the value to the sender when the destination contract refuses it', async () => {
        await bounced(Screen.destination, refuser, 0n, null);
    });

    it('can return the exact amount, with the excess already returned, when a response address is set', async () => {
        const r = await bounced(Screen.none, refuser, toNano('0.3'), w.alice.address);
        const excess = r.transactions.find(
            (t) => t.inMessage?.info.type === 'internal' && t.inMessage.body.beginParse().loadUint(32) === Op.gateExcess,
        );
        expect(excess).toBeDefined();
    });

    it('cannot be made to refund by a bounce that is not of its forward', async () => {
        // A refund the gate sends is not bounceable, so it can never come back; an old-format or
        // foreign bounce is ignored. Here: the gate's own refund reaches a contract that throws,
        // and nothing comes back to the gate.
        const g = w.gates[Screen.destination];
        w.blockchain.now = T0 + 10;
        const r = await g.sendTransfer(w.alice.getSender(), toNano('1'), { destination: w.bob.address });
        expect(refunds(r, g.address)).toHaveLength(1);
        expect(r.transactions).not.toHaveTransaction({ to: g.address, inMessageBounced: true });
        void txTo;
        void beginCell;
        void Cell;
    });
});
