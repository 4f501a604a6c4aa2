// Real oracle nodes for the package's tests, started as tests/e2e/quorum.e2e.spec.ts starts
// them: `tollgate-oracle keygen`, then `serve` on 127.0.0.1:0 with its own store and key, the
// address read from the line it prints. Node 2 alone has RISKY on a scam list.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const ORACLE = join(ROOT, 'target', 'debug', 'tollgate-oracle');
export const CLI = join(ROOT, 'target', 'debug', 'tollgate');
export const EPOCH = 1;
/** On no list: every node scores it 0. */
export const CLEAN = '0:' + '7'.repeat(64);
/** On node 2's scam list only. */
export const RISKY = '0:' + 'e'.repeat(64);

export function ensureBinaries() {
    if (!existsSync(ORACLE) || !existsSync(CLI)) {
        execFileSync('cargo', ['build', '--locked', '-p', 'tollgate-oracle', '-p', 'tollgate-sdk', '--bins'], { cwd: ROOT, stdio: 'inherit' });
    }
}

function start(dir, index, publicKey) {
    const child = spawn(ORACLE, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'),
        '--key-file', join(dir, 'key'), '--signer-index', String(index), '--epoch', String(EPOCH)],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`node ${index} did not start: ${out}`)), 60_000);
        child.stdout.on('data', (chunk) => {
            out += chunk;
            const m = out.match(/listening on (http:\/\/\S+)/);
            if (m) {
                clearTimeout(timer);
                resolve({ index, url: m[1], publicKey, process: child });
            }
        });
        child.stderr.on('data', () => {});
        child.on('exit', (code) => reject(new Error(`node ${index} exited with ${code}: ${out}`)));
    });
}

/** Starts three nodes; `stop()` kills them and removes their directories. */
export async function startNodes() {
    ensureBinaries();
    const work = mkdtempSync(join(tmpdir(), 'tollgate-wasm-'));
    const nodes = [];
    for (const index of [0, 1, 2]) {
        const dir = join(work, `node${index}`);
        mkdirSync(dir);
        const keygen = execFileSync(ORACLE, ['keygen', '--out', join(dir, 'key')], { encoding: 'utf8' });
        const publicKey = keygen.match(/public key: ([0-9a-f]{64})/)[1];
        if (index === 2) {
            const csv = join(work, 'risky.csv');
            writeFileSync(csv, `address,category,source,name\n${RISKY},scam,wasm-test,known scammer\n`);
            execFileSync(ORACLE, ['ingest', '--data-dir', join(dir, 'data'), 'csv', csv], { encoding: 'utf8' });
        }
        nodes.push(await start(dir, index, publicKey));
    }
    return {
        nodes,
        work,
        stop() {
            for (const node of nodes) node.process.kill('SIGKILL');
            rmSync(work, { recursive: true, force: true });
        },
    };
}

/** Runs the `tollgate` CLI: `{ok, stdout}` or `{ok: false, status, stderr}`. */
export function cli(args) {
    try {
        return { ok: true, stdout: execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
    } catch (err) {
        return { ok: false, status: err.status, stderr: String(err.stderr) };
    }
}
