// scripts/deployComplianceGate.ts's logic (scripts/gateDeploy.ts) in the sandbox, with the
// signer set read from real oracle processes: the deployed gate reports the nodes' keys, epoch
// and threshold, and a transfer with the CLI's TON Connect request for it goes through. Nodes
// that do not form a signer set are refused with a typed DeployError.

import { ChildProcess, execFileSync, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Blockchain } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { compile } from '@ton/blueprint';
import { Screen } from '../wrappers/ComplianceGate';
import { Category, Op } from '../wrappers/Constants';
import { DeployError, deployGate, gateState, signerSetFromNodes } from '../scripts/gateDeploy';

const ROOT = join(__dirname, '..', '..');
const ORACLE = join(ROOT, 'target', 'debug', 'tollgate-oracle');
const CLI = join(ROOT, 'target', 'debug', 'tollgate');

function startNode(dir: string, index: number, extra: string[] = []): Promise<{ url: string; key: string; process: ChildProcess }> {
    mkdirSync(dir, { recursive: true });
    const key = execFileSync(ORACLE, ['keygen', '--out', join(dir, 'key')], { encoding: 'utf8' }).match(/public key: ([0-9a-f]{64})/)![1];
    const child = spawn(ORACLE, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--key-file', join(dir, 'key'),
        '--signer-index', String(index), '--epoch', '3', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    return new Promise((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const m = out.match(/listening on (http:\/\/\S+)/);
            if (m) resolve({ url: m[1], key, process: child });
        });
        child.stderr!.on('data', () => {});
        child.on('exit', (code) => reject(new Error(`node exited with ${code}: ${out}`)));
    });
}

describe('deployComplianceGate: a gate for the running oracle nodes', () => {
    let work: string;
    const nodes: { url: string; key: string; process: ChildProcess }[] = [];
    let testnetOnly: { url: string; key: string; process: ChildProcess };
    let duplicate: { url: string; key: string; process: ChildProcess };

    beforeAll(async () => {
        if (!existsSync(ORACLE) || !existsSync(CLI)) {
            execFileSync('cargo', ['build', '--locked', '-p', 'tollgate-oracle', '-p', 'tollgate-sdk', '--bins'], { cwd: ROOT, stdio: 'inherit' });
        }
        work = mkdtempSync(join(tmpdir(), 'tollgate-deploy-'));
        for (const index of [1, 0, 2]) nodes[index] = await startNode(join(work, `n${index}`), index);
        testnetOnly = await startNode(join(work, 'testnet'), 3, ['--networks', 'testnet']);
        duplicate = await startNode(join(work, 'dup'), 1);
    }, 120_000);

    afterAll(() => {
        for (const node of [...nodes, testnetOnly, duplicate]) node?.process.kill('SIGKILL');
        if (work) rmSync(work, { recursive: true, force: true });
    });

    it('deploys a gate whose get-methods report the nodes\' signer set, and a CLI request passes it', async () => {
        // Given in any order: the keys are placed by the indexes the nodes report.
        const urls = [nodes[2].url, nodes[0].url, nodes[1].url];
        const signers = await signerSetFromNodes(urls, 'mainnet');
        expect(signers.epoch).toBe(3);
        expect(signers.threshold).toBe(2);
        expect(signers.publicKeys.map((k) => k.toString('hex'))).toEqual(nodes.map((n) => n.key));

        const blockchain = await Blockchain.create();
        blockchain.now = Math.floor(Date.now() / 1000);
        const deployer = await blockchain.treasury('deployer');
        const policy = { screen: Screen.destination, maxRisk: 50, forbidden: Category.sanctions | Category.scam, maxSkew: 120 };
        const gate = await deployGate({ code: await compile('ComplianceGate'), signers, policy, admin: deployer.address,
            open: (c) => blockchain.openContract(c), sender: deployer.getSender() });
        const state = await gateState(gate);
        expect(state.signers).toEqual({ epoch: 3, threshold: 2, count: 3 });
        expect(state.policy).toEqual(policy);
        expect(state.admin.equals(deployer.address)).toBe(true);

        const bob = await blockchain.treasury('bob');
        const proof = execFileSync(CLI, ['attest', ...urls.flatMap((u) => ['--node', u]), '--threshold', '2',
            '--subject', bob.address.toRawString(), '--verifier', gate.address.toString()], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        writeFileSync(join(work, 'proof.json'), proof);
        const request = JSON.parse(execFileSync(CLI, ['payload', 'gate', '--destination-proof', join(work, 'proof.json'),
            '--destination', bob.address.toString(), '--amount', String(toNano('1')), '--gate', gate.address.toString()], { encoding: 'utf8' }));
        const message = request.messages[0];
        const result = await deployer.send({ to: Address.parse(message.address), value: BigInt(message.amount), body: Cell.fromBase64(message.payload) });
        expect(result.transactions).toHaveTransaction({ from: gate.address, to: bob.address, op: Op.gateForward, success: true });
    });

    it('refuses nodes that do not form a signer set, with a typed error', async () => {
        const refused = async (urls: string[], network: 'mainnet' | 'testnet' = 'mainnet', threshold?: number) => {
            try {
                await signerSetFromNodes(urls, network, threshold);
            } catch (err) {
                expect(err).toBeInstanceOf(DeployError);
                return (err as DeployError).code;
            }
            throw new Error('accepted');
        };
        expect(await refused([nodes[0].url, nodes[1].url, duplicate.url])).toBe('index_gap');
        expect(await refused([nodes[0].url, nodes[2].url])).toBe('index_gap');
        expect(await refused([nodes[0].url, nodes[1].url, nodes[2].url, testnetOnly.url])).toBe('network');
        expect(await refused(['http://127.0.0.1:9'])).toBe('unreachable');
        expect(await refused([`${nodes[0].url}/nothing-here`])).toBe('bad_answer');
        expect(await refused([nodes[0].url, nodes[1].url], 'mainnet', 3)).toBe('threshold');
    });
});
