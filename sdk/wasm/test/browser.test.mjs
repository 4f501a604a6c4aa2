// The demo Mini App (demo/, built with esbuild) in headless Chromium (Debian's, driven by
// playwright-core) against three real oracle nodes. The page reaches the nodes through a
// same-origin proxy in the test server (/node/{index}/… → the node), as a Mini App's own backend
// would expose them; nodes that send CORS headers could be called directly.
//
// Checks: each node's judgement and the quorum's bound appear, and the transaction the page
// builds equals the one the Rust CLI builds from the same proof (payload hash and all). Writes
// target/tollgate/demo.png and target/tollgate/browser-measurements.json (time to first
// attestation, package size, verifications per second in the page).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { Cell } from '@ton/core';
import { CLEAN, CLI, RISKY, ROOT, cli, startNodes } from './oracle-nodes.mjs';

const HERE = new URL('..', import.meta.url).pathname;
const DIST = join(HERE, 'demo', 'dist');
const OUT = join(ROOT, 'target', 'tollgate');
/** Any basechain address works as the gate for the page: nodes sign for every verifier by default. */
const GATE = 'EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

let cluster;
let server;
let origin;
let browser;

function serve(nodes) {
    return new Promise((resolve) => {
        const s = createServer((req, res) => {
            const proxied = req.url.match(/^\/node\/(\d+)(\/.*)$/);
            if (proxied) {
                const target = new URL(proxied[2], nodes[Number(proxied[1])].url);
                const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
                    res.writeHead(r.statusCode, r.headers);
                    r.pipe(res);
                });
                upstream.on('error', () => { res.writeHead(502); res.end(); });
                req.pipe(upstream);
                return;
            }
            const path = normalize(join(DIST, new URL(req.url, 'http://x').pathname.replace(/\/$/, '/index.html')));
            if (!path.startsWith(DIST) || !existsSync(path)) {
                res.writeHead(404);
                res.end();
                return;
            }
            res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
            res.end(readFileSync(path));
        });
        s.listen(0, '127.0.0.1', () => resolve(s));
    });
}

before(async () => {
    execFileSync('node', [join(HERE, 'demo', 'build.mjs')], { stdio: 'inherit' });
    cluster = await startNodes();
    server = await serve(cluster.nodes);
    origin = `http://127.0.0.1:${server.address().port}`;
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
        args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        // launch() gives every run a fresh temporary profile (a --user-data-dir is refused).
    });
});

after(async () => {
    await browser?.close();
    server?.close();
    cluster?.stop();
});

function pageUrl(destination) {
    const config = {
        nodes: cluster.nodes.map((n) => ({ url: `${origin}/node/${n.index}`, index: n.index, publicKey: n.publicKey })),
        threshold: 2,
        epoch: 1,
    };
    const query = new URLSearchParams({ config: JSON.stringify(config, null, 1), gate: GATE, destination, amount: '1' });
    return `${origin}/?${query}`;
}

async function screen(page, destination) {
    await page.goto(pageUrl(destination));
    await page.click('#screen');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state), null, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', await page.textContent('#status'));
}

test('the demo shows each judgement and the bound, and builds the transaction the CLI builds', async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await screen(page, CLEAN);

    const rows = await page.$$eval('#judgements tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.equal(rows.length, 3);
    for (const row of rows) assert.equal(row[2], '0', JSON.stringify(row));
    assert.equal(rows.filter((row) => row[5] === 'signed').length >= 2, true, JSON.stringify(rows));
    assert.match(await page.textContent('#bound'), /risk ≤ 0/);

    const proof = JSON.parse(await page.textContent('#proof'));
    const request = JSON.parse(await page.textContent('#request'));
    const file = join(cluster.work, 'page-proof.json');
    writeFileSync(file, JSON.stringify(proof));
    const r = cli(['payload', 'gate', '--destination-proof', file, '--destination', CLEAN, '--amount', '1000000000', '--gate', GATE]);
    assert.ok(r.ok, r.stderr);
    const rust = JSON.parse(r.stdout);
    assert.deepEqual(request, rust);
    assert.equal(Cell.fromBase64(request.messages[0].payload).hash().toString('hex'),
        Cell.fromBase64(rust.messages[0].payload).hash().toString('hex'));
    assert.ok(request.validUntil <= proof.attestation.valid_until);
    const check = cli(['verify', '--input', file, '--threshold', '2', ...cluster.nodes.flatMap((n) => ['--key', `${n.index}:${n.publicKey}`])]);
    assert.ok(check.ok, check.stderr);

    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'demo.png'), fullPage: true });
    const firstAttestationMs = Number(await page.getAttribute('#status', 'data-ms'));
    assert.deepEqual(errors, []);

    // Verification speed in the page: the package's verifyProof over a 3-signature golden vector.
    const vectors = JSON.parse(readFileSync(join(ROOT, 'tests', 'vectors', 'attestations.json'), 'utf8'));
    const vector = vectors.reduce((a, b) => (b.signatures.length > a.signatures.length ? b : a));
    const perSecond = await page.evaluate(async (v) => {
        const sdk = await import('./bench.js');
        return sdk.verificationsPerSecond(v);
    }, vector).catch(() => null);
    const wasm = readFileSync(join(HERE, 'pkg', 'tollgate_sdk_wasm_bg.wasm'));
    const measurements = {
        wasm_bytes: wasm.length,
        wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
        first_attestation_ms: firstAttestationMs,
        signatures_per_proof: vector.signatures.length,
        ...perSecond,
    };
    writeFileSync(join(OUT, 'browser-measurements.json'), JSON.stringify(measurements, null, 2));
    console.log('browser measurements', measurements);
    await page.close();
});

test('the bound carries the one node that labels a scammer; a node down shows in its row', async () => {
    const page = await browser.newPage();
    await screen(page, RISKY);
    const risk = Number(await page.getAttribute('#bound', 'data-risk'));
    const rows = await page.$$eval('#judgements tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const scores = rows.map((row) => Number(row[2]));
    assert.equal(risk, Math.max(...scores));
    assert.ok(risk > 50, `risk ${risk}`);
    assert.match(rows.find((row) => row[0] === '2')[4], /scam/);

    cluster.nodes[0].process.kill('SIGKILL');
    await screen(page, CLEAN);
    const down = await page.$$eval('#judgements tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.match(down.find((row) => row[0] === '0')[3], /server error: 502|unreachable/);
    assert.equal(down.filter((row) => row[5] === 'signed').length, 2);
    await page.close();
});

test('the CLI refuses a proof about another subject than the destination (typed, non-zero exit)', async () => {
    const file = join(cluster.work, 'clean-proof.json');
    const nodes = cluster.nodes.slice(1);
    const r = cli(['attest', ...nodes.flatMap((n) => ['--node', n.url, '--key', `${n.index}:${n.publicKey}`]),
        '--threshold', '2', '--epoch', '1', '--subject', CLEAN, '--verifier', GATE]);
    assert.ok(r.ok, r.stderr);
    writeFileSync(file, r.stdout);
    for (const extra of [[], ['--gate', GATE]]) {
        const refused = cli(['payload', 'gate', '--destination-proof', file, '--destination', RISKY, '--amount', '1', ...extra]);
        assert.equal(refused.ok, false);
        assert.equal(refused.status, 1);
        assert.match(refused.stderr, /^tollgate: proof_mismatch: the destination proof's subject is 0:7{64}, not 0:e{64}/);
    }
    assert.ok(existsSync(CLI));
});
