// Compliant jetton (SPEC.md §16): TEP-74 / TEP-89 conformance of the minter and wallet, with the
// ComplianceAuth in custom_payload. Refusals: CompliantJetton.refusals.spec.ts; rotation, admin and
// rent: CompliantJetton.governance.spec.ts; gas: CompliantJetton.gas.spec.ts.
import '@ton/test-utils';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { createShardAccount } from '@ton/sandbox';
import { compile } from '@ton/blueprint';
import { Errors } from '../wrappers/Constants';
import { burnBody, CompliantJettonMinter, Tep74, walletAddress } from '../wrappers/CompliantJetton';
import { authFor, cjWorld, CjWorld, jettonBalance, TOKENS, transfer, TRANSFER_VALUE, walletOf } from './compliant-jetton-fixture';

describe('CompliantJetton TEP-74', () => {
    let w: CjWorld;
    beforeEach(async () => {
        w = await cjWorld();
    });

    it('mints to alice and reports the standard jetton and wallet data', async () => {
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
        const data = await w.minter.getJettonData();
        expect(data.totalSupply).toBe(TOKENS(1000));
        expect(data.mintable).toBe(true);
        expect(data.admin?.equals(w.admin.address)).toBe(true);
        expect(data.walletCode.equals(w.walletCode)).toBe(true);
        const wallet = walletOf(w, w.alice.address);
        expect((await w.minter.getWalletAddress(w.alice.address)).equals(wallet.address)).toBe(true);
        const wd = await wallet.getWalletData();
        expect(wd.owner.equals(w.alice.address)).toBe(true);
        expect(wd.minter.equals(w.minter.address)).toBe(true);
        expect(wd.walletCode.equals(w.walletCode)).toBe(true);
        expect(await wallet.getRootKey()).toBe(BigInt('0x' + w.root.publicKey.toString('hex')));
        expect(await w.minter.getRootKey()).toBe(BigInt('0x' + w.root.publicKey.toString('hex')));
    });

    it('transfers without forward: no notification, excesses to the response destination', async () => {
        const r = await transfer(w, { amount: TOKENS(10), forwardTon: 0n, queryId: 99n });
        const aliceWallet = walletOf(w, w.alice.address).address;
        const bobWallet = walletOf(w, w.bob.address).address;
        expect(r.transactions).toHaveTransaction({ from: aliceWallet, to: bobWallet, op: Tep74.internalTransfer, success: true, deploy: true });
        expect(r.transactions).not.toHaveTransaction({ to: w.bob.address, op: Tep74.transferNotification });
        expect(r.transactions).toHaveTransaction({
            from: bobWallet, to: w.alice.address, op: Tep74.excesses,
            body: beginCell().storeUint(Tep74.excesses, 32).storeUint(99n, 64).endCell(),
        });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(990));
        expect(await jettonBalance(w, w.bob.address)).toBe(TOKENS(10));
    });

    it('transfers with forward: the notification carries amount, sender and forward_payload', async () => {
        const payload = beginCell().storeUint(0, 32).storeStringTail('invoice 17').endCell();
        const forwardTon = toNano('0.01');
        const r = await transfer(w, { amount: TOKENS(5), forwardTon, forwardPayload: payload, queryId: 5n, value: toNano('0.2') });
        const bobWallet = walletOf(w, w.bob.address).address;
        expect(r.transactions).toHaveTransaction({
            from: bobWallet, to: w.bob.address, value: forwardTon,
            body: beginCell().storeUint(Tep74.transferNotification, 32).storeUint(5n, 64).storeCoins(TOKENS(5))
                .storeAddress(w.alice.address).storeBit(1).storeRef(payload).endCell(),
        });
        expect(r.transactions).toHaveTransaction({ from: bobWallet, to: w.alice.address, op: Tep74.excesses });
    });

    it('sends no excesses when the response destination is addr_none', async () => {
        const r = await transfer(w, { response: null });
        expect(r.transactions).not.toHaveTransaction({ op: Tep74.excesses });
        expect(await jettonBalance(w, w.bob.address)).toBe(TOKENS(10));
    });

    it('burns without screening; the minter lowers the supply and returns excesses', async () => {
        const wallet = walletOf(w, w.alice.address);
        const r = await wallet.sendBody(w.alice.getSender(), toNano('0.05'), burnBody({ amount: TOKENS(100), response: w.alice.address, queryId: 3n }));
        expect(r.transactions).toHaveTransaction({ from: wallet.address, to: w.minter.address, op: Tep74.burnNotification, success: true });
        expect(r.transactions).toHaveTransaction({ from: w.minter.address, to: w.alice.address, op: Tep74.excesses });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(900));
        expect((await w.minter.getJettonData()).totalSupply).toBe(TOKENS(900));
    });

    it('refuses a burn above the balance or from a non-owner', async () => {
        const wallet = walletOf(w, w.alice.address);
        let r = await wallet.sendBody(w.alice.getSender(), toNano('0.05'), burnBody({ amount: TOKENS(1001), response: null }));
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: false, exitCode: Errors.cjInsufficientBalance });
        r = await wallet.sendBody(w.mallory.getSender(), toNano('0.05'), burnBody({ amount: TOKENS(1), response: null }));
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: false, exitCode: Errors.cjNotOwner });
        r = await wallet.sendBody(w.alice.getSender(), toNano('0.001'), burnBody({ amount: TOKENS(1), response: null }));
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: false, exitCode: Errors.cjInsufficientValue });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
    });

    it('answers provide_wallet_address (TEP-89), with and without the owner', async () => {
        const asker = w.mallory;
        let r = await w.minter.sendBody(asker.getSender(), toNano('0.05'), CompliantJettonMinter.provideWalletAddressBody(w.bob.address, true, 8n));
        const bobWallet = walletAddress(w.bob.address, w.minter.address, w.root.publicKey, w.walletCode);
        expect(r.transactions).toHaveTransaction({
            from: w.minter.address, to: asker.address,
            body: beginCell().storeUint(Tep74.takeWalletAddress, 32).storeUint(8n, 64).storeAddress(bobWallet)
                .storeMaybeRef(beginCell().storeAddress(w.bob.address).endCell()).endCell(),
        });
        r = await w.minter.sendBody(asker.getSender(), toNano('0.05'), CompliantJettonMinter.provideWalletAddressBody(w.bob.address, false, 9n));
        expect(r.transactions).toHaveTransaction({
            from: w.minter.address, to: asker.address,
            body: beginCell().storeUint(Tep74.takeWalletAddress, 32).storeUint(9n, 64).storeAddress(bobWallet).storeMaybeRef(null).endCell(),
        });
        // a masterchain owner has no wallet of this jetton: addr_none
        const mc = new (w.bob.address.constructor as any)(-1, w.bob.address.hash);
        r = await w.minter.sendBody(asker.getSender(), toNano('0.05'), CompliantJettonMinter.provideWalletAddressBody(mc, false, 10n));
        expect(r.transactions).toHaveTransaction({
            from: w.minter.address, to: asker.address,
            body: beginCell().storeUint(Tep74.takeWalletAddress, 32).storeUint(10n, 64).storeAddress(null).storeMaybeRef(null).endCell(),
        });
        r = await w.minter.sendBody(asker.getSender(), toNano('0.001'), CompliantJettonMinter.provideWalletAddressBody(w.bob.address, false));
        expect(r.transactions).toHaveTransaction({ to: w.minter.address, success: false, exitCode: Errors.cjInsufficientValue });
    });

    /** Puts a contract that refuses every message (AdminProxy: 768, not its owner) at `address`. */
    async function refuser(address: Address, balance = toNano('1')) {
        const code = await compile('AdminProxy');
        await w.blockchain.setShardAccount(address, createShardAccount({ address, code, data: beginCell().storeAddress(w.admin.address).endCell(), balance }));
    }

    it('restores the balance when the internal_transfer bounces', async () => {
        const aliceWallet = walletOf(w, w.alice.address).address;
        const bobWallet = walletOf(w, w.bob.address).address;
        await refuser(bobWallet);
        const r = await transfer(w, { amount: TOKENS(10) });
        expect(r.transactions).toHaveTransaction({ from: aliceWallet, to: bobWallet, success: false, exitCode: Errors.notProxyOwner });
        expect(r.transactions).toHaveTransaction({ from: bobWallet, to: aliceWallet, inMessageBounced: true, success: true });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
    });

    it('restores the balance when the burn_notification bounces', async () => {
        const wallet = walletOf(w, w.alice.address);
        const minterState = (await w.blockchain.getContract(w.minter.address)).account;
        await refuser(w.minter.address);
        const r = await wallet.sendBody(w.alice.getSender(), toNano('0.05'), burnBody({ amount: TOKENS(100), response: w.alice.address }));
        expect(r.transactions).toHaveTransaction({ from: wallet.address, to: w.minter.address, success: false, exitCode: Errors.notProxyOwner });
        expect(r.transactions).toHaveTransaction({ from: w.minter.address, to: wallet.address, inMessageBounced: true, success: true });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
        await w.blockchain.setShardAccount(w.minter.address, minterState);
        expect((await w.minter.getJettonData()).totalSupply).toBe(TOKENS(1000));
    });

    it('takes back the supply of a mint whose internal_transfer bounces', async () => {
        const bobWallet = walletOf(w, w.bob.address).address;
        await refuser(bobWallet);
        const r = await w.minter.sendBody(w.admin.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: w.bob.address, amount: TOKENS(5) }));
        expect(r.transactions).toHaveTransaction({ from: bobWallet, to: w.minter.address, inMessageBounced: true, success: true });
        expect((await w.minter.getJettonData()).totalSupply).toBe(TOKENS(1000));
    });

    it('accepts top-ups and refuses unknown ops', async () => {
        const wallet = walletOf(w, w.alice.address);
        let r = await w.mallory.send({ to: wallet.address, value: toNano('0.01'), body: new Cell() });
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: true });
        r = await w.mallory.send({ to: wallet.address, value: toNano('0.01'), body: beginCell().storeUint(0x12345678, 32).storeUint(0, 64).endCell() });
        expect(r.transactions).toHaveTransaction({ to: wallet.address, success: false, exitCode: Errors.cjUnknownOp });
        r = await w.mallory.send({ to: w.minter.address, value: toNano('0.01'), body: beginCell().storeUint(0x12345678, 32).storeUint(0, 64).endCell() });
        expect(r.transactions).toHaveTransaction({ to: w.minter.address, success: false, exitCode: Errors.cjNotAdmin });
        r = await w.admin.send({ to: w.minter.address, value: toNano('0.01'), body: beginCell().storeUint(0x12345678, 32).storeUint(0, 64).endCell() });
        expect(r.transactions).toHaveTransaction({ to: w.minter.address, success: false, exitCode: Errors.cjUnknownOp });
    });
});
