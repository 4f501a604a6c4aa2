// End to end: three real oracle processes (their own keys and stores, on 127.0.0.1:0), the
// `tollgate` CLI assembling a 2-of-3 quorum, and the compiled ComplianceGate in @ton/sandbox.
//
// The nodes and the CLI: ./oracle-nodes.ts.

import { writeFileSync } from 'fs';
import { join } from 'path';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { compile } from '@ton/blueprint';
import { ComplianceGate, ComplianceGateConfig, Screen } from '../../contracts/wrappers/ComplianceGate';
import { Category, Errors, Op } from '../../contracts/wrappers/Constants';
import { cli, EPOCH, Nodes, RunningNode, startNodes } from './oracle-nodes';

/** A TON address on no list; every node scores it 0. */
const CLEAN = Address.parse('0:' + '7'.repeat(64));
/** An address only node 2 knows as a scammer (from a CSV ingested into its store alone). */
const RISKY = Address.parse('0:' + 'e'.repeat(64));

function raw(a: Address): string {
    return a.toRawString();
}

describe('Tollgate end to end: 3 oracle processes, the CLI and the ComplianceGate', () => {
    let started: Nodes;
    let work: string;
    let nodes: RunningNode[];
    let blockchain: Blockchain;
    let gate: SandboxContract<ComplianceGate>;
    let otherGate: SandboxContract<ComplianceGate>;
    let alice: SandboxContract<TreasuryContract>;

    beforeAll(async () => {
        started = await startNodes({ prefix: 'e2e', scamOnNode2: [raw(RISKY)] });
        ({ work, nodes } = started);

        const code = await compile('ComplianceGate');
        blockchain = await Blockchain.create();
        // The nodes stamp attestations with the wall clock; the sandbox must agree.
        blockchain.now = Math.floor(Date.now() / 1000);
        const admin = await blockchain.treasury('admin');
        alice = await blockchain.treasury('alice');
        const config = (owner: Address): ComplianceGateConfig => ({
            signers: { epoch: EPOCH, threshold: 2, publicKeys: nodes.map((n) => Buffer.from(n.publicKey, 'hex')) },
            policy: { screen: Screen.destination, maxRisk: 50, forbidden: Category.sanctions | Category.scam | Category.drainer, maxSkew: 120 },
            admin: owner,
        });
        gate = blockchain.openContract(ComplianceGate.createFromConfig(config(admin.address), code));
        await gate.sendDeploy(admin.getSender(), toNano('0.2'));
        // A second gate with its own admin (and so its own address).
        const otherAdmin = await blockchain.treasury('other-admin');
        otherGate = blockchain.openContract(ComplianceGate.createFromConfig(config(otherAdmin.address), code));
        await otherGate.sendDeploy(otherAdmin.getSender(), toNano('0.2'));
    }, 300_000);

    afterAll(() => started?.stop());

    const pinned = (which: RunningNode[]) => started.pinned(which);

    function attest(subject: Address, verifier: Address, which = nodes) {
        return cli(['attest', ...pinned(which), '--threshold', '2', '--epoch', String(EPOCH),
            '--subject', raw(subject), '--verifier', raw(verifier), '--network', 'mainnet']);
    }

    function proofFile(stdout: string, name: string): string {
        const path = join(work, name);
        writeFileSync(path, stdout);
        return path;
    }

    function gatePayload(proof: string, destination: Address, amount: bigint): Cell {
        const r = cli(['payload', 'gate', '--destination-proof', proof, '--destination', raw(destination),
            '--amount', String(amount)]);
        if (!r.ok) throw new Error(r.stderr);
        return Cell.fromBase64(JSON.parse(r.stdout).payload);
    }

    async function sendThrough(target: SandboxContract<ComplianceGate>, body: Cell, value = toNano('1.1')) {
        blockchain.now = Math.floor(Date.now() / 1000);
        return alice.send({ to: target.address, value, body });
    }

    it('delivers TON to a clean destination with a 2-of-3 quorum from the CLI', async () => {
        const r = attest(CLEAN, gate.address);
        if (!r.ok) throw new Error(r.stderr);
        const attested = JSON.parse(r.stdout);
        expect(attested.signatures).toHaveLength(2);
        expect(attested.attestation.risk).toBe(0);
        const proof = proofFile(r.stdout, 'clean.json');
        // The CLI's offline check agrees with the on-chain one.
        const check = cli(['verify', '--input', proof, '--threshold', '2',
            ...nodes.flatMap((n) => ['--key', `${n.index}:${n.publicKey}`])]);
        expect(check.ok).toBe(true);

        const destination = await blockchain.treasury('clean-destination');
        // Re-derive the CLEAN attestation for the treasury's own address.
        const forTreasury = attest(destination.address, gate.address);
        if (!forTreasury.ok) throw new Error(forTreasury.stderr);
        const body = gatePayload(proofFile(forTreasury.stdout, 'dest.json'), destination.address, toNano('1'));
        const before = await destination.getBalance();
        const result = await sendThrough(gate, body);
        expect(result.transactions).toHaveTransaction({ from: gate.address, to: destination.address, op: Op.gateForward, success: true });
        expect((await destination.getBalance()) - before).toBeGreaterThanOrEqual(toNano('1'));
        expect(result.transactions).not.toHaveTransaction({ from: gate.address, to: alice.address, op: Op.gateRefund });
    });

    it('refuses a destination one node labels as a scammer: the quorum bound carries its judgement', async () => {
        const r = attest(RISKY, gate.address);
        if (!r.ok) throw new Error(r.stderr);
        const attested = JSON.parse(r.stdout);
        expect(attested.attestation.risk).toBeGreaterThan(50);
        expect(attested.attestation.categories & Category.scam).toBe(Category.scam);
        const body = gatePayload(proofFile(r.stdout, 'risky.json'), RISKY, toNano('1'));
        const result = await sendThrough(gate, body);
        expect(result.transactions).not.toHaveTransaction({ from: gate.address, to: RISKY });
        const refund = result.transactions.find((t) => t.inMessage?.info.src?.toString() === gate.address.toString()
            && t.inMessage?.info.dest?.toString() === alice.address.toString());
        expect(refund).toBeDefined();
        const code = ComplianceGate.parseRefund(refund!.inMessage!.body).error;
        expect([Errors.riskTooHigh, Errors.forbiddenCategory]).toContain(code);
    });

    it('refuses on a second gate an attestation made for the first (259)', async () => {
        const r = attest(CLEAN, gate.address);
        if (!r.ok) throw new Error(r.stderr);
        const body = gatePayload(proofFile(r.stdout, 'for-first.json'), CLEAN, toNano('1'));
        const result = await sendThrough(otherGate, body);
        expect(result.transactions).not.toHaveTransaction({ from: otherGate.address, to: CLEAN });
        const refund = result.transactions.find((t) => t.inMessage?.info.src?.toString() === otherGate.address.toString());
        expect(ComplianceGate.parseRefund(refund!.inMessage!.body).error).toBe(Errors.wrongVerifier);
    });

    it('still forms the quorum with one node killed, and names the failed nodes with two killed', async () => {
        nodes[0].process.kill('SIGKILL');
        const two = attest(CLEAN, gate.address);
        if (!two.ok) throw new Error(two.stderr);
        expect(JSON.parse(two.stdout).signatures.map((s: any) => s.index)).toEqual([1, 2]);

        nodes[1].process.kill('SIGKILL');
        const one = attest(CLEAN, gate.address);
        expect(one.ok).toBe(false);
        if (one.ok) return;
        expect(one.stderr).toMatch(/1 of 2 required signatures|0 of 2 required signatures/);
        expect(one.stderr).toContain(`node 0 (${nodes[0].url})`);
        expect(one.stderr).toContain(`node 1 (${nodes[1].url})`);
        expect(one.stderr).not.toContain(`node 2 (`);
    });
});
