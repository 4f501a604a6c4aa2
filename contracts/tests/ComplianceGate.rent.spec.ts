// Storage rent: a gate deployed with gate::min_storage (0.1 TON) still works after five years
// idle, and a transfer tops its reserve back up from the transfer's value, never from the gate.

import { toNano } from '@ton/core';
import '@ton/test-utils';
import { ComplianceGate, Screen } from '../wrappers/ComplianceGate';
import { attestationFor, balanceOf, forwards, gateWorld, GateWorld, proofOf, T0, txTo } from './gate-fixture';

jest.setTimeout(120_000);

const MIN_STORAGE = toNano('0.1'); // gate::min_storage (contracts/imports/gate/gas.fc)
const YEAR = 365 * 24 * 3600;

describe('ComplianceGate storage rent', () => {
    let w: GateWorld;

    beforeAll(async () => {
        w = await gateWorld();
    });

    it('is still alive after five years of storage rent', async () => {
        const g = w.blockchain.openContract(ComplianceGate.createFromConfig({ ...w.config(Screen.destination), graceUntil: 1 }, w.code));
        await g.sendDeploy(w.admin.getSender(), MIN_STORAGE);
        const start = await balanceOf(w, g.address);
        expect(start).toBeLessThanOrEqual(MIN_STORAGE);
        // one year first, to print the rent of one year (gas.fc cites it)
        w.blockchain.now = T0 + YEAR;
        let r = await w.alice.send({ to: g.address, value: 1n }); // a 1-nanoton top-up: just collects rent
        const yearTx = txTo(r, g.address);
        const rentOfYear = yearTx.description.type === 'generic' ? yearTx.description.storagePhase!.storageFeesCollected : 0n;
        console.log(`ComplianceGate rent of one year: ${rentOfYear} nanoton (code+data ${(await w.blockchain.getContract(g.address)).account.account?.storageStats.used.cells} cells)`);
        expect(rentOfYear * 5n).toBeLessThan(MIN_STORAGE - toNano('0.005'));

        const now = T0 + 5 * YEAR;
        w.blockchain.now = now;
        const p = proofOf(attestationFor(w, g.address, w.bob.address, { issuedAt: now, validUntil: now + 600 }), [0, 1], w.keys);
        const before = await balanceOf(w, g.address);
        r = await g.sendTransfer(w.alice.getSender(), toNano('1'), { destination: w.bob.address, destinationProof: p });
        const tx = txTo(r, g.address, w.alice.address);
        expect(tx.description.type === 'generic' && tx.description.aborted).toBe(false);
        const account = (await w.blockchain.getContract(g.address)).accountState;
        expect(account?.type).toBe('active');
        expect(forwards(r, g.address)).toHaveLength(1);
        // The transfer paid the rent shortfall: the gate is back at its minimum.
        expect(await balanceOf(w, g.address)).toBe(MIN_STORAGE);
        expect(before).toBeLessThan(MIN_STORAGE);
    });
});
