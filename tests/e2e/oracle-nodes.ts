// Three real oracle nodes for the end-to-end specs, and the `tollgate` CLI they are driven with.
// Each node gets its own key (`tollgate-oracle keygen`), store and port (`serve` on 127.0.0.1:0,
// the address read from the line it prints). Nothing is mocked: the nodes score with their
// bundled lists, sign with their own keys and record every signature in their audit logs.
//
// The binaries come from `cargo build` (tests/run-all.sh builds them first; ensureBinaries builds
// them when they are missing).

import { ChildProcess, execFileSync, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

export const ROOT = join(__dirname, '..', '..');
export const ORACLE = join(ROOT, 'target', 'debug', 'tollgate-oracle');
export const CLI = join(ROOT, 'target', 'debug', 'tollgate');
/** The signer-set epoch every node reports. */
export const EPOCH = 1;

export type RunningNode = { index: number; url: string; publicKey: string; process: ChildProcess };

export type Nodes = {
    /** A temporary directory for the nodes and the specs' files; removed by stop(). */
    work: string;
    nodes: RunningNode[];
    /** `--node URL --key INDEX:HEX` for each of `which` (default: all), as `tollgate attest` takes them. */
    pinned(which?: RunningNode[]): string[];
    /** Kills every node (SIGKILL) and removes `work`. */
    stop(): void;
};

export function ensureBinaries() {
    if (!existsSync(ORACLE) || !existsSync(CLI)) {
        execFileSync('cargo', ['build', '--locked', '-p', 'tollgate-oracle', '-p', 'tollgate-sdk', '--bins'], {
            cwd: ROOT,
            stdio: 'inherit',
        });
    }
}

/** Starts `tollgate-oracle serve` on port 0 and waits for the line that names its address. */
function startNode(dir: string, index: number, publicKey: string): Promise<RunningNode> {
    const child = spawn(
        ORACLE,
        ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--key-file', join(dir, 'key'),
            '--signer-index', String(index), '--epoch', String(EPOCH)],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } },
    );
    return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`node ${index} did not start: ${out}`)), 60_000);
        child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const m = out.match(/listening on (http:\/\/\S+)/);
            if (m) {
                clearTimeout(timer);
                resolve({ index, url: m[1], publicKey, process: child });
            }
        });
        child.stderr!.on('data', () => {}); // drain
        child.on('exit', (code) => reject(new Error(`node ${index} exited with ${code}: ${out}`)));
    });
}

/**
 * Starts three nodes with signer indexes 0, 1, 2. `scamOnNode2` (raw addresses) are put on node
 * 2's list alone, as a CSV ingested into its store before it starts: the quorum must carry one
 * node's judgement.
 */
export async function startNodes(o: { prefix: string; scamOnNode2?: string[] }): Promise<Nodes> {
    ensureBinaries();
    const work = mkdtempSync(join(tmpdir(), `tollgate-${o.prefix}-`));
    const nodes: RunningNode[] = [];
    const stop = () => {
        for (const node of nodes) node.process.kill('SIGKILL');
        rmSync(work, { recursive: true, force: true });
    };
    try {
        for (const index of [0, 1, 2]) {
            const dir = join(work, `node${index}`);
            mkdirSync(dir);
            const keygen = execFileSync(ORACLE, ['keygen', '--out', join(dir, 'key')], { encoding: 'utf8' });
            const publicKey = keygen.match(/public key: ([0-9a-f]{64})/)![1];
            if (index === 2 && o.scamOnNode2?.length) {
                const csv = join(work, 'scam.csv');
                writeFileSync(csv, 'address,category,source,name\n'
                    + o.scamOnNode2.map((a) => `${a},scam,e2e-test,known scammer\n`).join(''));
                execFileSync(ORACLE, ['ingest', '--data-dir', join(dir, 'data'), 'csv', csv], { encoding: 'utf8' });
            }
            nodes.push(await startNode(dir, index, publicKey));
        }
    } catch (err) {
        stop();
        throw err;
    }
    return {
        work,
        nodes,
        pinned: (which = nodes) => which.flatMap((n) => ['--node', n.url, '--key', `${n.index}:${n.publicKey}`]),
        stop,
    };
}

export type CliResult = { ok: true; stdout: string } | { ok: false; status: number; stderr: string };

/** Runs the CLI: its stdout, or its exit status and stderr. */
export function cli(args: string[]): CliResult {
    try {
        return { ok: true, stdout: execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
    } catch (err: any) {
        return { ok: false, status: err.status, stderr: String(err.stderr) };
    }
}

/** The CLI's stdout, or an error with its stderr. */
export function cliOk(args: string[]): string {
    const r = cli(args);
    if (!r.ok) throw new Error(r.stderr);
    return r.stdout;
}
