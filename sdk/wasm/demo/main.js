// The demo Mini App: asks the gate's oracle nodes for a quorum attestation of the destination
// with tollgate-sdk (WebAssembly), shows each node's judgement and the bound the quorum signs,
// and builds the TON Connect transaction for @tonconnect/ui to send.
//
// Configuration comes from the form, prefilled from the query string (`?config=<JSON>&gate=…
// &destination=…`), so a test or a link can open it ready to go.

import { TonConnectUI } from '@tonconnect/ui';
import { initialize, attest, categoryNames, gateTransaction, TollgateError } from '../index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
for (const id of ['config', 'gate', 'destination', 'network', 'amount']) {
    if (params.has(id)) $(id).value = params.get(id);
}

const ready = initialize(new URL('./tollgate_sdk_wasm_bg.wasm', location.href));

let tonConnect = null;
try {
    tonConnect = new TonConnectUI({
        manifestUrl: new URL('./tonconnect-manifest.json', location.href).href,
        buttonRootId: 'ton-connect',
    });
} catch (err) {
    console.warn('TON Connect UI unavailable:', err);
}

const describeCategories = (mask) => (mask === 0 ? 'none' : categoryNames(mask).join(', ') || `bits ${mask}`);

function row(index) {
    let tr = document.querySelector(`#judgements tr[data-index="${index}"]`);
    if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.index = String(index);
        tr.innerHTML = '<td></td><td></td><td></td><td></td><td></td><td></td>';
        $('judgements').append(tr);
    }
    return tr.children;
}

function onProgress(event) {
    if (event.event === 'judged') {
        const cells = row(event.index);
        cells[0].textContent = String(event.index);
        cells[1].textContent = event.url;
        if (event.error) {
            cells[2].textContent = '–';
            cells[3].innerHTML = '';
            cells[3].className = 'error';
            cells[3].textContent = event.error;
        } else {
            cells[2].textContent = String(event.score);
            cells[3].textContent = event.level;
            cells[4].textContent = describeCategories(event.categories);
        }
    } else if (event.event === 'proposed') {
        const a = event.attestation;
        $('bound').textContent = `Quorum bound: risk ≤ ${a.risk}, categories ⊆ ${describeCategories(a.categories)}, valid until ${new Date(a.valid_until * 1000).toISOString()}`;
        $('bound').dataset.risk = String(a.risk);
    } else if (event.event === 'cosigned') {
        const cell = row(event.index)[5];
        cell.textContent = event.error ? event.error : 'signed';
        cell.className = event.error ? 'error' : 'ok';
    }
}

let request = null;

$('screen').addEventListener('click', async () => {
    $('judgements').textContent = '';
    for (const id of ['bound', 'status', 'request', 'proof']) $(id).textContent = '';
    $('status').className = '';
    $('send').disabled = true;
    document.body.dataset.state = 'running';
    const started = performance.now();
    try {
        await ready;
        const config = JSON.parse($('config').value);
        for (const node of [...config.nodes].sort((a, b) => a.index - b.index)) {
            const cells = row(node.index);
            cells[0].textContent = String(node.index);
            cells[1].textContent = node.url;
        }
        const gate = $('gate').value.trim();
        const destination = $('destination').value.trim();
        const nanotons = BigInt(Math.round(Number($('amount').value) * 1e9));
        const proof = await attest(config, { subject: destination, verifier: gate, network: $('network').value, onProgress });
        const elapsed = performance.now() - started;
        request = gateTransaction({ gate, transfer: { destination, amount: nanotons }, destinationProof: proof });
        for (const tr of $('judgements').children) {
            // The client stops at k signatures; the other nodes were not needed.
            if (tr.children[5].textContent === '' && tr.children[2].textContent !== '–') tr.children[5].textContent = 'not needed (k reached)';
        }
        $('proof').textContent = JSON.stringify(proof, null, 2);
        $('request').textContent = JSON.stringify(request, null, 2);
        $('status').textContent = `Attested by ${proof.signatures.length} of ${config.nodes.length} nodes in ${elapsed.toFixed(0)} ms.`;
        $('status').className = 'ok';
        $('status').dataset.ms = elapsed.toFixed(1);
        $('send').disabled = tonConnect === null;
        document.body.dataset.state = 'done';
    } catch (err) {
        $('status').className = 'error';
        $('status').textContent = err instanceof TollgateError
            ? `${err.code}: ${err.message}`
            : String(err);
        document.body.dataset.state = 'failed';
    }
});

$('send').addEventListener('click', async () => {
    if (!tonConnect || !request) return;
    try {
        if (!tonConnect.connected) await tonConnect.openModal();
        const result = await tonConnect.sendTransaction(request);
        $('status').textContent = `Sent: ${result.boc.slice(0, 24)}…`;
    } catch (err) {
        $('status').className = 'error';
        $('status').textContent = String(err);
    }
});
