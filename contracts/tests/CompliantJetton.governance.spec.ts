// Compliant jetton (SPEC.md §16): certificate rotation without a message to any wallet, the
// minter's admin (two-step, mint, content), no path that drains TON from a wallet or the minter,
// and five years of a wallet's rent.
import '@ton/test-utils';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { Errors } from '../wrappers/Constants';
import { burnBody, CompliantJettonMinter } from '../wrappers/CompliantJetton';
import { freshKeys } from './checker-fixture';
import { authFor, cjWorld, CjWorld, jettonBalance, T0, TOKENS, transfer, walletOf } from './compliant-jetton-fixture';

const DAY = 86400;

async function tonBalance(w: CjWorld, a: Address): Promise<bigint> {
    return (await w.blockchain.getContract(a)).balance;
}

/** Number of distinct cells and their bits under `c`. */
function cellsAndBits(c: Cell, seen = new Set<string>()): [number, number] {
    const h = c.hash().toString('hex');
    if (seen.has(h)) return [0, 0];
    seen.add(h);
    let cells = 1, bits = c.bits.length;
    for (const r of c.refs) {
        const [a, b] = cellsAndBits(r, seen);
        cells += a;
        bits += b;
    }
    return [cells, bits];
}

describe('CompliantJetton governance', () => {
    let w: CjWorld;
    beforeEach(async () => {
        w = await cjWorld();
    });

    it('rotates signer sets by certificate: the old one works until its valid_until, the new one after, no wallet message', async () => {
        const newKeys = await freshKeys(3);
        const newSigners = { epoch: w.signers.epoch + 1, threshold: 2, publicKeys: newKeys.map((k) => k.publicKey) };
        const oldCert = { validUntil: T0 + 10 * DAY };
        const newCert = { validUntil: T0 + 40 * DAY, signers: newSigners };
        const wallet = walletOf(w, w.alice.address);
        const dataBefore = (await w.blockchain.getContract(wallet.address)).accountState;
        const oldAuth = (o = {}) => authFor(w, w.alice.address, { certificate: oldCert, ...o });
        const newAuth = (o = {}) => authFor(w, w.alice.address, { certificate: newCert, keys: newKeys, attestation: { epoch: newSigners.epoch }, ...o });

        // overlap: both certificates are accepted
        let r = await transfer(w, { auth: oldAuth(), amount: TOKENS(1) });
        expect(r.transactions).toHaveTransaction({ to: walletOf(w, w.bob.address).address, success: true });
        r = await transfer(w, { auth: newAuth(), amount: TOKENS(1) });
        expect(r.transactions).toHaveTransaction({ to: walletOf(w, w.bob.address).address, success: true });
        // the old keys cannot sign under the new certificate, nor the new under the old
        r = await transfer(w, { auth: authFor(w, w.alice.address, { certificate: newCert, attestation: { epoch: newSigners.epoch } }) });
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: false, exitCode: Errors.badSignature });

        // past the old certificate's valid_until
        w.blockchain.now = T0 + 10 * DAY + 1;
        r = await transfer(w, { auth: oldAuth() });
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: false, exitCode: Errors.cjCertificateExpired });
        r = await transfer(w, { auth: newAuth(), amount: TOKENS(1) });
        expect(r.transactions).toHaveTransaction({ to: walletOf(w, w.bob.address).address, success: true });
        expect(await jettonBalance(w, w.bob.address)).toBe(TOKENS(3));
        // the wallet's code and root key never changed: nothing was sent to it but transfers
        const after = (await w.blockchain.getContract(wallet.address)).accountState;
        expect(after?.type === 'active' && dataBefore?.type === 'active' && after.state.code!.equals(dataBefore.state.code!)).toBe(true);
        expect(await wallet.getRootKey()).toBe(BigInt('0x' + w.root.publicKey.toString('hex')));
    });

    it('changes admin in two steps; only the admin mints, proposes and changes content', async () => {
        const m = w.minter;
        let r = await m.sendBody(w.mallory.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: w.mallory.address, amount: 1n }));
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotAdmin });
        r = await m.sendBody(w.mallory.getSender(), toNano('0.05'), CompliantJettonMinter.proposeAdminBody(w.mallory.address));
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotAdmin });
        r = await m.sendBody(w.mallory.getSender(), toNano('0.05'), CompliantJettonMinter.changeContentBody(beginCell().storeUint(1, 8).endCell()));
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotAdmin });
        r = await m.sendBody(w.mallory.getSender(), toNano('0.05'), CompliantJettonMinter.claimAdminBody());
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotPendingAdmin });

        await m.sendBody(w.admin.getSender(), toNano('0.05'), CompliantJettonMinter.proposeAdminBody(w.bob.address));
        expect((await m.getAdmin()).pending?.equals(w.bob.address)).toBe(true);
        r = await m.sendBody(w.mallory.getSender(), toNano('0.05'), CompliantJettonMinter.claimAdminBody());
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotPendingAdmin });
        // until claimed, the old admin keeps control
        r = await m.sendBody(w.admin.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: w.bob.address, amount: 5n }));
        expect(r.transactions).toHaveTransaction({ to: m.address, success: true });
        r = await m.sendBody(w.bob.getSender(), toNano('0.05'), CompliantJettonMinter.claimAdminBody());
        expect(r.transactions).toHaveTransaction({ to: m.address, success: true });
        const admins = await m.getAdmin();
        expect(admins.admin?.equals(w.bob.address)).toBe(true);
        expect(admins.pending).toBeNull();
        r = await m.sendBody(w.admin.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: w.admin.address, amount: 1n }));
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotAdmin });
        // the new admin changes content; a proposal can be cancelled with addr_none
        const content = beginCell().storeUint(0, 8).storeStringTail('https://example.org/jetton.json').endCell();
        await m.sendBody(w.bob.getSender(), toNano('0.05'), CompliantJettonMinter.changeContentBody(content));
        expect((await m.getJettonData()).content.equals(content)).toBe(true);
        await m.sendBody(w.bob.getSender(), toNano('0.05'), CompliantJettonMinter.proposeAdminBody(w.alice.address));
        await m.sendBody(w.bob.getSender(), toNano('0.05'), CompliantJettonMinter.proposeAdminBody(null));
        r = await m.sendBody(w.alice.getSender(), toNano('0.05'), CompliantJettonMinter.claimAdminBody());
        expect(r.transactions).toHaveTransaction({ to: m.address, success: false, exitCode: Errors.cjNotPendingAdmin });
        expect((await m.getJettonData()).totalSupply).toBe(TOKENS(1000) + 5n);
    });

    it('drains no TON from a wallet or the minter: the sender pays, a wallet keeps its reserve', async () => {
        const aliceWallet = walletOf(w, w.alice.address).address;
        const bobWallet = walletOf(w, w.bob.address).address;
        // first transfer to bob: his new wallet keeps exactly its storage reserve
        await transfer(w, { amount: TOKENS(10) });
        const reserve = await walletOf(w, w.bob.address).getMinStorage();
        expect(await tonBalance(w, bobWallet)).toBe(reserve);
        // top both wallets and the minter up by 1 TON: every path below may only add to these
        for (const a of [aliceWallet, bobWallet, w.minter.address]) await w.admin.send({ to: a, value: toNano('1'), body: new Cell() });
        const before = new Map<string, bigint>();
        for (const a of [aliceWallet, bobWallet, w.minter.address]) before.set(a.toString(), await tonBalance(w, a));
        const paths: [string, () => Promise<unknown>][] = [
            ['transfer with excesses to the sender', () => transfer(w, { amount: TOKENS(1) })],
            ['transfer with forward', () => transfer(w, { amount: TOKENS(1), forwardTon: toNano('0.05'), value: toNano('0.2') })],
            ['transfer, response to a third party', () => transfer(w, { amount: TOKENS(1), response: w.mallory.address })],
            ['refused transfer', () => transfer(w, { auth: authFor(w, w.bob.address) })],
            ['underpaid transfer', () => transfer(w, { value: toNano('0.01') })],
            ['burn', () => walletOf(w, w.alice.address).sendBody(w.alice.getSender(), toNano('0.05'), burnBody({ amount: 1n, response: w.mallory.address }))],
            ['provide_wallet_address', () => w.minter.sendBody(w.mallory.getSender(), toNano('0.05'), CompliantJettonMinter.provideWalletAddressBody(w.bob.address, true))],
            ['fake burn_notification', () => w.mallory.send({ to: w.minter.address, value: toNano('0.05'), body: beginCell().storeUint(0x7bdd97de, 32).storeUint(0, 64).storeCoins(1).storeAddress(w.alice.address).storeAddress(w.mallory.address).endCell() })],
            ['mint', () => w.minter.sendBody(w.admin.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: w.bob.address, amount: 1n, response: w.mallory.address }))],
        ];
        for (const [name, run] of paths) {
            await run();
            for (const a of [aliceWallet, bobWallet, w.minter.address]) {
                const now = await tonBalance(w, a);
                expect({ name, a: a.toString(), drained: now < before.get(a.toString())! }).toEqual({ name, a: a.toString(), drained: false });
                before.set(a.toString(), now);
            }
        }
    });

    it('keeps a wallet alive through five years of rent on its reserve', async () => {
        await transfer(w, { amount: TOKENS(10) });
        const bob = walletOf(w, w.bob.address);
        const state = (await w.blockchain.getContract(bob.address)).accountState;
        if (state?.type !== 'active') throw new Error('bob has no wallet');
        // the reserve's size bound (cj::wallet_cells, cj::wallet_bits) covers the wallet's state
        const [cells, bits] = cellsAndBits(beginCell().storeRef(state.state.code!).storeRef(state.state.data!).endCell());
        expect(cells - 1).toBeLessThanOrEqual(30);
        expect(bits).toBeLessThanOrEqual(14000);
        expect(await (await w.blockchain.getContract(bob.address)).balance).toBe(await bob.getMinStorage());
        w.blockchain.now = T0 + 5 * 365 * DAY;
        // a certificate current at that time (the issuer signs a new one every 30 days)
        const auth = authFor(w, w.bob.address, { certificate: { validUntil: w.blockchain.now + 30 * DAY } });
        const r = await transfer(w, { from: w.bob, to: w.alice.address, amount: TOKENS(10), auth });
        const tx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === bob.address.toString())!;
        if (tx.description.type !== 'generic') throw new Error('not generic');
        expect(tx.description.storagePhase?.storageFeesDue ?? 0n).toBe(0n);
        expect(tx.description.storagePhase!.storageFeesCollected).toBeGreaterThan(toNano('0.03'));
        expect(r.transactions).toHaveTransaction({ to: walletOf(w, w.alice.address).address, success: true });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
    });
});
