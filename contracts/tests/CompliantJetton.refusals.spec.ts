// Compliant jetton (SPEC.md §16.4): every refusal of a transfer with its exit code, the sender's
// jetton balance unchanged and the TON bounced back; the transfer accepted with 1-of-1 and 2-of-3.
import '@ton/test-utils';
import { Address, beginCell, toNano } from '@ton/core';
import { Category, Errors } from '../wrappers/Constants';
import { CompliantJettonMinter, Tep74 } from '../wrappers/CompliantJetton';
import { freshKeys, otherAddress } from './checker-fixture';
import { authFor, cjWorld, CjWorld, jettonBalance, T0, TOKENS, transfer, walletOf } from './compliant-jetton-fixture';
import { certificateToCell } from '../wrappers/CompliantJetton';

describe('CompliantJetton refusals', () => {
    let w: CjWorld;
    beforeAll(async () => {
        w = await cjWorld();
    });

    async function refused(code: number, o: Parameters<typeof transfer>[1]) {
        const snapshot = w.blockchain.snapshot();
        const wallet = walletOf(w, (o.from ?? w.alice).address).address;
        const r = await transfer(w, o);
        expect(r.transactions).toHaveTransaction({ to: wallet, success: false, exitCode: code });
        expect(r.transactions).toHaveTransaction({ from: wallet, to: (o.from ?? w.alice).address, inMessageBounced: true });
        expect(r.transactions).not.toHaveTransaction({ from: wallet, op: Tep74.internalTransfer });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
        await w.blockchain.loadFrom(snapshot);
    }

    it('accepts 2-of-3 (any two signers) and refuses one signature (269)', async () => {
        for (const indexes of [[0, 1], [0, 2], [1, 2], [0, 1, 2]]) {
            const snapshot = w.blockchain.snapshot();
            const r = await transfer(w, { auth: authFor(w, w.alice.address, { indexes }) });
            expect(r.transactions).toHaveTransaction({ to: walletOf(w, w.bob.address).address, success: true });
            expect(await jettonBalance(w, w.bob.address)).toBe(TOKENS(10));
            await w.blockchain.loadFrom(snapshot);
        }
        await refused(Errors.tooFewSignatures, { auth: authFor(w, w.alice.address, { indexes: [1] }) });
    });

    it('accepts 1-of-1', async () => {
        const w1 = await cjWorld({ threshold: 1, count: 1 });
        const r = await transfer(w1, { auth: authFor(w1, w1.alice.address, { indexes: [0] }) });
        expect(r.transactions).toHaveTransaction({ to: walletOf(w1, w1.bob.address).address, success: true });
        expect(await jettonBalance(w1, w1.bob.address)).toBe(TOKENS(10));
    });

    it('refuses a transfer without custom_payload (1280)', async () => {
        await refused(Errors.cjMissingAuth, { auth: null });
    });

    it('refuses a custom_payload that is not a compliance_auth (1281)', async () => {
        const good = authFor(w, w.alice.address);
        const s = good.beginParse();
        s.loadUint(32);
        const wrongTag = beginCell().storeUint(0x5c1324ad, 32).storeSlice(s).endCell();
        await refused(Errors.cjMalformedAuth, { auth: wrongTag });
        await refused(Errors.cjMalformedAuth, { auth: beginCell().storeUint(0x16b70dce, 32).endCell() });
        await refused(Errors.cjMalformedAuth, { auth: beginCell().storeSlice(good.beginParse()).storeBit(1).endCell() });
    });

    it('refuses a certificate the root key did not sign (1283)', async () => {
        const [fake] = await freshKeys(1);
        await refused(Errors.cjBadRootSignature, { auth: authFor(w, w.alice.address, { rootSecretKey: fake.secretKey }) });
    });

    it('refuses a root-signed cell that is not a certificate (1282)', async () => {
        const wrongTag = certificateToCell({ ...certOf(w), tag: 0x12345678 });
        await refused(Errors.cjMalformedCertificate, { auth: authFor(w, w.alice.address, { certificate: wrongTag }) });
        const short = beginCell().storeSlice(certificateToCell(certOf(w)).beginParse().skip(8)).endCell();
        await refused(Errors.cjMalformedCertificate, { auth: authFor(w, w.alice.address, { certificate: short }) });
    });

    it('refuses a certificate for another network (1284), another minter (1285), or expired (1286)', async () => {
        await refused(Errors.cjCertificateNetwork, { auth: authFor(w, w.alice.address, { certificate: { network: w.network === -239 ? -3 : -239 } }) });
        await refused(Errors.cjCertificateMinter, { auth: authFor(w, w.alice.address, { certificate: { minter: otherAddress(w.minter.address) } }) });
        await refused(Errors.cjCertificateExpired, { auth: authFor(w, w.alice.address, { certificate: { validUntil: T0 - 1 } }) });
    });

    it('refuses an attestation for someone else (260), to another verifier (259), on another network (258)', async () => {
        await refused(Errors.wrongSubject, { auth: authFor(w, w.bob.address) });
        await refused(Errors.wrongVerifier, { auth: authFor(w, w.alice.address, { attestation: { verifier: walletOf(w, w.alice.address).address } }) });
        await refused(Errors.wrongNetwork, { auth: authFor(w, w.alice.address, { attestation: { network: w.network === -239 ? -3 : -239 } }) });
    });

    it('refuses an expired attestation (261), risk over the certificate policy (263), a forbidden category (264)', async () => {
        await refused(Errors.expired, { auth: authFor(w, w.alice.address, { attestation: { issuedAt: T0 - 7200, validUntil: T0 - 1 } }) });
        await refused(Errors.riskTooHigh, { auth: authFor(w, w.alice.address, { attestation: { risk: 51 } }) });
        // the policy is the certificate's: the same risk passes under a certificate allowing it
        const snapshot = w.blockchain.snapshot();
        const r = await transfer(w, { auth: authFor(w, w.alice.address, { attestation: { risk: 51 }, certificate: { maxRisk: 60 } }) });
        expect(r.transactions).toHaveTransaction({ to: walletOf(w, w.bob.address).address, success: true });
        await w.blockchain.loadFrom(snapshot);
        await refused(Errors.forbiddenCategory, { auth: authFor(w, w.alice.address, { attestation: { categories: Category.mixer } }) });
    });

    it("refuses an attestation of another epoch than the certificate's signer set (265), or signed by other keys (268)", async () => {
        await refused(Errors.unknownEpoch, { auth: authFor(w, w.alice.address, { attestation: { epoch: w.signers.epoch + 1 } }) });
        const other = await freshKeys(3);
        await refused(Errors.badSignature, { auth: authFor(w, w.alice.address, { keys: other }) });
    });

    it('refuses a transfer from a non-owner (1287), above the balance (1288), underpaid (1289), off the basechain (1294)', async () => {
        const aliceWallet = walletOf(w, w.alice.address);
        // mallory sends to alice's wallet with a valid auth of herself: not the owner
        const body = (await import('../wrappers/CompliantJetton')).transferBody({
            amount: TOKENS(1), destination: w.mallory.address, response: null,
            customPayload: authFor(w, w.mallory.address), forwardTon: 0n,
        });
        const r = await w.mallory.send({ to: aliceWallet.address, value: toNano('0.1'), body });
        expect(r.transactions).toHaveTransaction({ to: aliceWallet.address, success: false, exitCode: Errors.cjNotOwner });
        await refused(Errors.cjInsufficientBalance, { amount: TOKENS(1001) });
        await refused(Errors.cjInsufficientValue, { value: toNano('0.02') });
        await refused(Errors.cjInsufficientValue, { value: toNano('0.1'), forwardTon: toNano('0.1') });
        await refused(Errors.cjBadWorkchain, { to: new Address(-1, w.bob.address.hash) });
    });

    it('refuses an internal_transfer not from a wallet of this jetton (1290), and a fake burn_notification (1290)', async () => {
        const aliceWallet = walletOf(w, w.alice.address).address;
        const fake = beginCell().storeUint(Tep74.internalTransfer, 32).storeUint(0, 64).storeCoins(TOKENS(1_000_000))
            .storeAddress(w.mallory.address).storeAddress(null).storeCoins(0).storeBit(0).endCell();
        let r = await w.mallory.send({ to: aliceWallet, value: toNano('0.1'), body: fake });
        expect(r.transactions).toHaveTransaction({ to: aliceWallet, success: false, exitCode: Errors.cjNotWallet });
        expect(await jettonBalance(w, w.alice.address)).toBe(TOKENS(1000));
        const fakeBurn = beginCell().storeUint(Tep74.burnNotification, 32).storeUint(0, 64).storeCoins(TOKENS(1000))
            .storeAddress(w.alice.address).storeAddress(w.mallory.address).endCell();
        r = await w.mallory.send({ to: w.minter.address, value: toNano('0.1'), body: fakeBurn });
        expect(r.transactions).toHaveTransaction({ to: w.minter.address, success: false, exitCode: Errors.cjNotWallet });
        expect((await w.minter.getJettonData()).totalSupply).toBe(TOKENS(1000));
    });

    it('refuses a mint off the basechain (1294)', async () => {
        const r = await w.minter.sendBody(w.admin.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: new Address(-1, w.bob.address.hash), amount: 1n }));
        expect(r.transactions).toHaveTransaction({ to: w.minter.address, success: false, exitCode: Errors.cjBadWorkchain });
    });
});

function certOf(w: CjWorld) {
    return { network: w.network, minter: w.minter.address, validUntil: T0 + 86400, maxRisk: 50, forbidden: 0, maxSkew: 60, signers: w.signers };
}
