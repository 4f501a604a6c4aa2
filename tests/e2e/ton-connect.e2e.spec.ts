// End to end: the TON Connect request `tollgate payload gate --gate` prints, sent as a wallet
// would send it (its address, its amount, its payload) to the compiled ComplianceGate in the
// sandbox, with proofs from three real oracle processes (2-of-3).
//
// It proves that the amount the sdk adds for the gate's fees (sdk/src/fees.rs) covers what the
// gate's fee check asks for: if the gate's gas grows past the sdk's constants, the gate refunds
// with 516 and this spec fails.

import { writeFileSync } from 'fs';
import { join } from 'path';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { compile } from '@ton/blueprint';
import { ComplianceGate, Screen } from '../../contracts/wrappers/ComplianceGate';
import { Category, Errors, Op } from '../../contracts/wrappers/Constants';
import { cli, Nodes, RunningNode, startNodes } from './oracle-nodes';

describe('TON Connect request from the CLI, sent to the ComplianceGate as a wallet would', () => {
    let started: Nodes;
    let work: string;
    let nodes: RunningNode[] = [];
    let blockchain: Blockchain;
    let gate: SandboxContract<ComplianceGate>;
    let alice: SandboxContract<TreasuryContract>;

    beforeAll(async () => {
        started = await startNodes({ prefix: 'tonconnect' });
        ({ work, nodes } = started);
        blockchain = await Blockchain.create();
        blockchain.now = Math.floor(Date.now() / 1000);
        const admin = await blockchain.treasury('admin');
        alice = await blockchain.treasury('alice');
        gate = blockchain.openContract(ComplianceGate.createFromConfig({
            signers: { epoch: 1, threshold: 2, publicKeys: nodes.map((n) => Buffer.from(n.publicKey, 'hex')) },
            policy: { screen: Screen.destination, maxRisk: 50, forbidden: Category.sanctions | Category.scam | Category.drainer, maxSkew: 120 },
            admin: admin.address,
        }, await compile('ComplianceGate')));
        await gate.sendDeploy(admin.getSender(), toNano('0.2'));
    }, 300_000);

    afterAll(() => started?.stop());

    function request(destination: Address, amount: bigint) {
        const attested = cli(['attest', ...started.pinned(),
            '--threshold', '2', '--epoch', '1', '--subject', destination.toRawString(), '--verifier', gate.address.toRawString()]);
        if (!attested.ok) throw new Error(attested.stderr);
        const proof = join(work, `${destination.toRawString().slice(2, 10)}.json`);
        writeFileSync(proof, attested.stdout);
        const r = cli(['payload', 'gate', '--destination-proof', proof, '--destination', destination.toString(),
            '--amount', String(amount), '--gate', gate.address.toString()]);
        if (!r.ok) throw new Error(r.stderr);
        return { proof: JSON.parse(attested.stdout), request: JSON.parse(r.stdout) };
    }

    async function send(message: { address: string; amount: string; payload: string }, value = BigInt(message.amount)) {
        blockchain.now = Math.floor(Date.now() / 1000);
        return alice.send({ to: Address.parse(message.address), value, body: Cell.fromBase64(message.payload) });
    }

    it('is complete: validUntil within the proof, mainnet, the gate bounceable, one message', () => {
        const destination = Address.parse('0:' + '7'.repeat(64));
        const { proof, request: r } = request(destination, toNano('1'));
        expect(Object.keys(r).sort()).toEqual(['messages', 'network', 'validUntil']);
        expect(r.network).toBe('-239');
        expect(r.validUntil).toBeLessThanOrEqual(proof.attestation.valid_until);
        expect(r.validUntil).toBeGreaterThan(Math.floor(Date.now() / 1000));
        expect(r.messages).toHaveLength(1);
        const parsed = Address.parseFriendly(r.messages[0].address);
        expect(parsed.isBounceable).toBe(true);
        expect(parsed.isTestOnly).toBe(false);
        expect(parsed.address.equals(gate.address)).toBe(true);
        expect(typeof r.messages[0].amount).toBe('string');
        expect(BigInt(r.messages[0].amount)).toBeGreaterThan(toNano('1'));
    });

    it('delivers the amount when sent with exactly the amount the request attaches', async () => {
        const bob = await blockchain.treasury('bob');
        const { request: r } = request(bob.address, toNano('1'));
        const before = await bob.getBalance();
        const result = await send(r.messages[0]);
        expect(result.transactions).toHaveTransaction({ from: gate.address, to: bob.address, op: Op.gateForward, success: true });
        expect(result.transactions).not.toHaveTransaction({ from: gate.address, to: alice.address, op: Op.gateRefund });
        expect((await bob.getBalance()) - before).toBeGreaterThanOrEqual(toNano('1'));
    });

    it('is refunded with 516 when sent without the fees the request adds', async () => {
        const carol = await blockchain.treasury('carol');
        const { request: r } = request(carol.address, toNano('1'));
        const result = await send(r.messages[0], toNano('1'));
        const refund = result.transactions.find((t) => t.inMessage?.info.src?.toString() === gate.address.toString()
            && t.inMessage?.info.dest?.toString() === alice.address.toString());
        expect(refund).toBeDefined();
        expect(ComplianceGate.parseRefund(refund!.inMessage!.body).error).toBe(Errors.insufficientValue);
    });

    it('is refused by the CLI for a proof about another subject (proof_mismatch, exit 1)', () => {
        const destination = Address.parse('0:' + '7'.repeat(64));
        const attested = cli(['attest', ...started.pinned(),
            '--threshold', '2', '--epoch', '1', '--subject', destination.toRawString(), '--verifier', gate.address.toRawString()]);
        if (!attested.ok) throw new Error(attested.stderr);
        const proof = join(work, 'other.json');
        writeFileSync(proof, attested.stdout);
        const r = cli(['payload', 'gate', '--destination-proof', proof, '--destination', alice.address.toString(),
            '--amount', '1', '--gate', gate.address.toString()]);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/^tollgate: proof_mismatch: the destination proof's subject is/);
    });
});
