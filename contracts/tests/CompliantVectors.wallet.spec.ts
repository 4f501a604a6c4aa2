// The Rust sdk's compliant transfers (tests/vectors/compliant-jetton.json) sent as they are to the
// FunC compliant wallet: the wallet accepts every Rust-built ComplianceAuth, the tokens reach the
// destination's wallet, and the TON the sdk says to attach (`fees::compliant_transfer_value`) pays
// for it. The least value the wallets accept is found by bisection, so the sdk's margin is
// measured, not assumed (printed per vector).

import '@ton/test-utils';
import { Blockchain, createShardAccount, internal } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import { readFileSync } from 'fs';
import { join } from 'path';
import { walletAddress, walletData, CompliantJettonWallet } from '../wrappers/CompliantJetton';
import { cjCodes } from './compliant-jetton-fixture';
import { setConfigGlobalId } from './checker-fixture';

type Vector = {
    name: string;
    root_public_key: string;
    certificate: { network: number; minter: string };
    attestation: { subject: string };
    now: number;
    transfer: { amount: string; destination: string; body: string; attach: string; forward_ton_amount: string };
};

const vectors: Vector[] = JSON.parse(readFileSync(join(__dirname, '..', '..', 'tests', 'vectors', 'compliant-jetton.json'), 'utf8'));
const BALANCE = 1_000_000_000_000n;

/** Sends the vector's transfer body from its subject with `value` attached; the tokens that reached
 *  the destination's wallet (0 when anything refused or bounced). */
async function send(v: Vector, walletCode: Cell, value: bigint): Promise<bigint> {
    const blockchain = await Blockchain.create();
    blockchain.now = v.now;
    setConfigGlobalId(blockchain, v.certificate.network);
    const owner = Address.parseRaw(v.attestation.subject);
    const minter = Address.parseRaw(v.certificate.minter);
    const root = Buffer.from(v.root_public_key, 'hex');
    const sender = walletAddress(owner, minter, root, walletCode);
    blockchain.setShardAccount(sender, createShardAccount({
        address: sender, code: walletCode, data: walletData(owner, minter, root, BALANCE), balance: toNano('0.05'),
    }));
    await blockchain.sendMessage(internal({ from: owner, to: sender, value, body: Cell.fromBase64(v.transfer.body), bounce: true }));
    const receiver = walletAddress(Address.parseRaw(v.transfer.destination), minter, root, walletCode);
    const account = await blockchain.getContract(receiver);
    if (account.accountState?.type !== 'active') return 0n;
    return (await blockchain.openContract(new CompliantJettonWallet(receiver)).getWalletData()).balance;
}

describe('Compliant jetton: the Rust-built transfers through the FunC wallets', () => {
    it("the sdk's copies of the wallet's fee terms are common.fc's", () => {
        const fc = readFileSync(join(__dirname, '..', 'contracts', 'jetton', 'compliant', 'common.fc'), 'utf8');
        const rs = readFileSync(join(__dirname, '..', '..', 'sdk', 'src', 'fees.rs'), 'utf8');
        const funC = (name: string) => Number(fc.match(new RegExp(`const int ${name.replace(/[.:]/g, '\\$&')} = ([0-9_]+);`))![1]);
        const rust = (name: string) => Number(rs.match(new RegExp(`pub const ${name}: u64 = ([0-9_]+);`))![1].replace(/_/g, ''));
        expect(rust('COMPLIANT_WALLET_BITS')).toBe(funC('cj::wallet_bits'));
        expect(rust('COMPLIANT_WALLET_CELLS')).toBe(funC('cj::wallet_cells'));
        expect(rust('COMPLIANT_TRANSFER_TAIL_GAS')).toBe(funC('gas::cj_transfer_tail'));
        expect(rust('COMPLIANT_RECEIVE_GAS')).toBe(funC('gas::cj_receive'));
    });

    for (const v of vectors) {
        it(`${v.name}: accepted with the TON the sdk attaches, and the margin over the least accepted`, async () => {
            const { wallet } = await cjCodes();
            const amount = BigInt(v.transfer.amount);
            const attach = BigInt(v.transfer.attach);
            expect(await send(v, wallet, attach)).toBe(amount);
            // Bisection for the least value the two wallets accept (monotone: more TON never refuses).
            let [low, high] = [0n, attach];
            while (high - low > 1000n) {
                const mid = (low + high) / 2n;
                if ((await send(v, wallet, mid)) === amount) high = mid;
                else low = mid;
            }
            expect(high).toBeLessThanOrEqual(attach);
            console.log(`${v.name}: sdk attaches ${attach}, least accepted ≈ ${high} nanoton (${(Number(attach) / Number(high)).toFixed(2)}×)`);
        });
    }
});
