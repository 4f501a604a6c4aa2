// Gas and fees of a gated transfer against the ungated forward through the same contract (policy
// screen = none: the same parsing, fee check and forward, no verification). Gas is deterministic,
// so the measured numbers are asserted as regression bounds; the goals are printed beside
// them. `npm run gas:gate` prints the table and writes gas-report-gate.json.

import { SandboxContract } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { writeFileSync } from 'fs';
import { join } from 'path';
import '@ton/test-utils';
import { ComplianceGate, Screen } from '../wrappers/ComplianceGate';
import { compileTactGate, TactGate } from '../wrappers/TactGate';
import { attestationFor, computeGas, gateWorld, GateWorld, proofOf, T0, traceFees, txTo, forwards } from './gate-fixture';

jest.setTimeout(300_000);

const GOAL_K1 = 1200; // gas over the ungated forward, one signature
const GOAL_PER_SIGNER = 560; // gas per further signature
const GOAL_FEE_RATIO = 1.25; // total fees of the trace, gated / ungated

export type GasRow = {
    contract: string;
    parties: number;
    k: number;
    gas: number;
    gasOverUngated: number;
    perExtraSigner: number | '';
    traceFees: string;
    feeRatio: number;
};

describe('ComplianceGate gas', () => {
    let w: GateWorld;
    const gates: Record<string, SandboxContract<ComplianceGate> | SandboxContract<TactGate>> = {};

    beforeAll(async () => {
        w = await gateWorld();
        const tactCode = compileTactGate();
        for (const screen of [Screen.none, Screen.destination, Screen.both]) {
            for (const k of [1, 2, 3]) {
                const g = w.blockchain.openContract(ComplianceGate.createFromConfig(w.config(screen, k), w.code));
                await g.sendDeploy(w.admin.getSender(), toNano('0.2'));
                gates[`${screen}/${k}`] = g;
                const c = w.config(screen, k);
                const t = w.blockchain.openContract(
                    TactGate.createFromConfig({ signers: c.signers, previous: c.previous, graceUntil: c.graceUntil, ...c.policy }, tactCode),
                );
                await t.sendDeploy(w.admin.getSender(), toNano('0.2'));
                gates[`tact/${screen}/${k}`] = t;
            }
        }
    });

    async function measure(screen: number, k: number, contract = '') {
        const g = gates[`${contract}${screen}/${k}`];
        w.blockchain.now = T0 + 10;
        const indexes = [0, 1, 2].slice(0, k);
        const destinationProof = screen & Screen.destination ? proofOf(attestationFor(w, g.address, w.bob.address), indexes, w.keys) : null;
        const senderProof = screen & Screen.sender ? proofOf(attestationFor(w, g.address, w.alice.address), indexes, w.keys) : null;
        const r = await g.sendTransfer(w.alice.getSender(), toNano('1'), { destination: w.bob.address, destinationProof, senderProof });
        expect(forwards(r, g.address)).toHaveLength(1);
        return { gas: computeGas(txTo(r, g.address, w.alice.address)), fees: traceFees(r) };
    }

    /** A refused transfer (risk above the policy, 263), k = 1, one party: what a refusal costs. */
    async function refusal(contract: string, prefix: string, ungatedFees: bigint) {
        const g = gates[`${prefix}${Screen.destination}/1`];
        w.blockchain.now = T0 + 10;
        const destinationProof = proofOf(attestationFor(w, g.address, w.bob.address, { risk: 99 }), [0], w.keys);
        const r = await g.sendTransfer(w.alice.getSender(), toNano('1'), { destination: w.bob.address, destinationProof });
        expect(forwards(r, g.address)).toHaveLength(0);
        const fees = traceFees(r);
        return { contract, refusal: 263, gas: computeGas(txTo(r, g.address, w.alice.address)), traceFees: fees.toString(), feeRatio: Number((Number(fees) / Number(ungatedFees)).toFixed(3)) };
    }

    async function table(contract: string, prefix: string): Promise<GasRow[]> {
        const ungated = await measure(Screen.none, 1, prefix);
        const rows: GasRow[] = [
            { contract, parties: 0, k: 0, gas: ungated.gas, gasOverUngated: 0, perExtraSigner: '', traceFees: ungated.fees.toString(), feeRatio: 1 },
        ];
        for (const [screen, parties] of [[Screen.destination, 1], [Screen.both, 2]]) {
            let k1 = 0;
            for (const k of [1, 2, 3]) {
                const m = await measure(screen, k, prefix);
                const over = m.gas - ungated.gas;
                if (k === 1) k1 = over;
                rows.push({
                    contract,
                    parties,
                    k,
                    gas: m.gas,
                    gasOverUngated: over,
                    perExtraSigner: k > 1 ? Math.round((over - k1) / (k - 1) / parties) : '',
                    traceFees: m.fees.toString(),
                    feeRatio: Number((Number(m.fees) / Number(ungated.fees)).toFixed(3)),
                });
            }
        }
        return rows;
    }

    it('measures a gated transfer (k = 1, 2, 3; one and two parties) against the ungated forward, FunC and Tact', async () => {
        const funC = await table('ComplianceGate', '');
        const tact = await table('TactGate', 'tact/');
        const refusals = [await refusal('ComplianceGate', '', BigInt(funC[0].traceFees)), await refusal('TactGate', 'tact/', BigInt(tact[0].traceFees))];
        console.table([...funC, ...tact]);
        console.table(refusals);
        writeFileSync(
            join(__dirname, '..', 'gas-report-gate.json'),
            JSON.stringify({ goals: { gasOverUngatedK1: GOAL_K1, perExtraSigner: GOAL_PER_SIGNER, feeRatio: GOAL_FEE_RATIO }, funC, tact, refusals }, null, 2) + '\n',
        );

        // Regression bounds: the measured numbers (SPEC.md §10.7) plus 3% (code layout moves a
        // little with every library change). The goals (+1,200 for k = 1, +560 per
        // further signer, fees 1.25x) are not met; they are printed in the report beside the rows.
        for (const [rows, bounds] of [[funC, BOUNDS.funC], [tact, BOUNDS.tact]] as const) {
            const row = (parties: number, k: number) => rows.find((r) => r.parties === parties && r.k === k)!;
            expect(row(0, 0).gas).toBeLessThanOrEqual(bounds.ungated * 1.03);
            for (const parties of [1, 2]) {
                for (const k of [1, 2, 3]) {
                    expect(row(parties, k).gasOverUngated).toBeLessThanOrEqual(bounds.over[parties][k] * 1.03);
                    expect(row(parties, k).feeRatio).toBeLessThanOrEqual(bounds.feeRatio[parties][k] * 1.03);
                }
            }
        }
    });
});

/** Measured (FunC 0.4.6, Tact 1.6.13, sandbox 0.41.0); tightened by hand when a gate gets cheaper. */
type Bounds = { ungated: number; over: Record<number, Record<number, number>>; feeRatio: Record<number, Record<number, number>> };
const BOUNDS: { funC: Bounds; tact: Bounds } = {
    funC: {
        ungated: 5892,
        over: { 1: { 1: 3251, 2: 3884, 3: 4517 }, 2: { 1: 6330, 2: 7596, 3: 8862 } },
        feeRatio: { 1: { 1: 1.49, 2: 1.622, 3: 1.753 }, 2: { 1: 1.965, 2: 2.228, 3: 2.491 } },
    },
    tact: {
        ungated: 7191,
        over: { 1: { 1: 4064, 2: 4697, 3: 5330 }, 2: { 1: 7748, 2: 9014, 3: 10280 } },
        feeRatio: { 1: { 1: 1.504, 2: 1.622, 3: 1.74 }, 2: { 1: 1.978, 2: 2.214, 3: 2.449 } },
    },
};
