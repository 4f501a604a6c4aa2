// Gas of a compliant jetton transfer (SPEC.md §16.6), against the real USDT wallet
// (tests/fixtures/usdt, stablecoin-contract) through the same transfer in the same sandbox, and the
// issue's token-contract figures (16,864 gas without forward, 19,320 with). `npm run gas:compliant`
// prints the table and writes gas-report-compliant-jetton.json.
import '@ton/test-utils';
import { Blockchain, SendMessageResult } from '@ton/sandbox';
import { Address, beginCell, toNano, Transaction } from '@ton/core';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { authFor, cjWorld, CjWorld, TOKENS, transfer, walletOf } from './compliant-jetton-fixture';
import { mintTo, topUpMessage, transferMessage, usdtMinter, usdtWalletAddress } from './usdt-fixture';

const TOKEN_CONTRACT = { withoutForward: 16864, withForward: 19320 };
/** The last measured figures (SPEC.md §16.6), as regression bounds. */
const BOUND = { withoutForward: 20260, withForward: 22492 };
const PAYLOAD = beginCell().storeUint(0, 32).storeStringTail('invoice 17').endCell();
const FORWARD_TON = toNano('0.01');

function gasOf(tx: Transaction): number {
    if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') return 0;
    return Number(tx.description.computePhase.gasUsed);
}

/** Gas of the transactions on `accounts` (the jetton wallets), and of the whole trace. */
function gas(r: SendMessageResult, accounts: Address[]) {
    const on = (tx: Transaction) => accounts.some((a) => tx.inMessage?.info.dest instanceof Address && tx.inMessage.info.dest.equals(a));
    const byAccount = accounts.map((a) => r.transactions.filter((tx) => tx.inMessage?.info.dest instanceof Address && tx.inMessage.info.dest.equals(a)).reduce((s, tx) => s + gasOf(tx), 0));
    return { jetton: r.transactions.filter(on).reduce((s, tx) => s + gasOf(tx), 0), trace: r.transactions.reduce((s, tx) => s + gasOf(tx), 0), byAccount };
}

describe('CompliantJetton gas', () => {
    it('measures a compliant transfer against the USDT wallet and token-contract', async () => {
        // compliant jetton: alice -> bob, bob's wallet already deployed (a warm-up transfer)
        const w: CjWorld = await cjWorld();
        await transfer(w, { amount: TOKENS(1) });
        const wallets = [walletOf(w, w.alice.address).address, walletOf(w, w.bob.address).address];
        const snapshot = w.blockchain.snapshot();
        const cj = async (o: Parameters<typeof transfer>[1]) => {
            await w.blockchain.loadFrom(snapshot);
            const r = await transfer(w, o);
            expect(r.transactions).toHaveTransaction({ to: wallets[1], success: true });
            return gas(r, wallets);
        };
        const compliantNoFwd = await cj({ amount: TOKENS(10) });
        // Breakdown of the sender wallet's gas: how far a transfer gets before each refusal
        // (the refused transaction's gas is the gas up to that check, plus the throw).
        const upTo = async (auth: ReturnType<typeof authFor> | null) => {
            await w.blockchain.loadFrom(snapshot);
            const r = await transfer(w, { amount: TOKENS(10), auth });
            return gasOf(r.transactions.find((tx) => tx.inMessage?.info.dest instanceof Address && tx.inMessage.info.dest.equals(wallets[0]))!);
        };
        const breakdown = {
            'no custom_payload (parse to the auth)': await upTo(null),
            'bad root signature (auth cell, HASHCU, CHKSIGNU)': await upTo(authFor(w, w.alice.address, { rootSecretKey: w.keys[0].secretKey })),
            'certificate expired (certificate cell, parse)': await upTo(authFor(w, w.alice.address, { certificate: { validUntil: 1 } })),
        };
        const compliantFwd = await cj({ amount: TOKENS(10), forwardTon: FORWARD_TON, forwardPayload: PAYLOAD, value: toNano('0.2') });
        const compliant1of1 = await (async () => {
            const w1 = await cjWorld({ threshold: 1, count: 1 });
            await transfer(w1, { amount: TOKENS(1), auth: authFor(w1, w1.alice.address, { indexes: [0] }) });
            const r = await transfer(w1, { amount: TOKENS(10), auth: authFor(w1, w1.alice.address, { indexes: [0] }) });
            return gas(r, [walletOf(w1, w1.alice.address).address, walletOf(w1, w1.bob.address).address]);
        })();

        // USDT (stablecoin-contract) in the same sandbox: the same transfer, no custom_payload
        const blockchain = await Blockchain.create();
        blockchain.now = w.blockchain.now;
        const admin = await blockchain.treasury('admin');
        const alice = await blockchain.treasury('alice');
        const bob = await blockchain.treasury('bob');
        const m = usdtMinter(admin.address);
        await admin.send({ to: m.address, value: toNano('2'), init: m.init, body: topUpMessage() });
        await mintTo(blockchain, admin, m.address, alice.address, TOKENS(1000));
        const usdtWallets = [usdtWalletAddress(alice.address, m.address), usdtWalletAddress(bob.address, m.address)];
        await alice.send({ to: usdtWallets[0], value: toNano('0.1'), body: transferMessage({ amount: TOKENS(1), destination: bob.address, response: alice.address, forwardTon: 0n }) });
        const usdtSnapshot = blockchain.snapshot();
        const usdt = async (forwardTon: bigint, forwardPayload?: typeof PAYLOAD) => {
            await blockchain.loadFrom(usdtSnapshot);
            const r = await alice.send({ to: usdtWallets[0], value: toNano('0.1'), body: transferMessage({ amount: TOKENS(10), destination: bob.address, response: alice.address, forwardTon, forwardPayload }) });
            expect(r.transactions).toHaveTransaction({ to: usdtWallets[1], success: true });
            return gas(r, usdtWallets);
        };
        const usdtNoFwd = await usdt(0n);
        const usdtFwd = await usdt(FORWARD_TON, PAYLOAD);

        const row = (name: string, c: ReturnType<typeof gas>, u: ReturnType<typeof gas>, tc: number) => ({
            transfer: name,
            compliantJettonWallets: c.jetton,
            compliantSender: c.byAccount[0],
            compliantReceiver: c.byAccount[1],
            usdtJettonWallets: u.jetton,
            usdtSender: u.byAccount[0],
            ratioToUsdt: +(c.jetton / u.jetton).toFixed(3),
            tokenContract: tc,
            ratioToTokenContract: +(c.jetton / tc).toFixed(3),
            compliantWholeTrace: c.trace,
            usdtWholeTrace: u.trace,
        });
        const rows = [
            row('2-of-3, no forward', compliantNoFwd, usdtNoFwd, TOKEN_CONTRACT.withoutForward),
            row('2-of-3, forward 0.01 TON + payload', compliantFwd, usdtFwd, TOKEN_CONTRACT.withForward),
            row('1-of-1, no forward', compliant1of1, usdtNoFwd, TOKEN_CONTRACT.withoutForward),
        ];
        console.table(rows);
        console.table(breakdown);
        writeFileSync(join(__dirname, '..', 'gas-report-compliant-jetton.json'), JSON.stringify({
            command: 'cd contracts && npm run gas:compliant',
            scope: 'compute gas of the sending and receiving jetton wallets (receiver already deployed); wholeTrace adds the owner wallets (sandbox treasuries)',
            rows,
            senderGasUpToRefusal: breakdown,
        }, null, 2) + '\n');
        // the receiver's gas the sender pays for (gas::cj_receive, common.fc) covers it
        expect(compliantFwd.byAccount[1]).toBeLessThanOrEqual(10000);
        // regression bounds: the figures of SPEC.md §16.6
        expect(compliantNoFwd.jetton).toBeLessThanOrEqual(BOUND.withoutForward);
        expect(compliantFwd.jetton).toBeLessThanOrEqual(BOUND.withForward);
    });
});
