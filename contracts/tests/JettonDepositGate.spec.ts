// JettonDepositGate in front of the real USDT minter and wallet (tests/fixtures/usdt). The
import '@ton/test-utils';
// sandbox's default config lists the USDT wallet code in param 45, as mainnet does.
import { Blockchain, BlockchainSnapshot, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { KeyPair } from '@ton/crypto';
import { compile } from '@ton/blueprint';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { Attestation, attestationToCell } from '../wrappers/Attestation';
import { Category, Errors } from '../wrappers/Constants';
import { depositPayload, JettonDepositGate, parseRefundPayload } from '../wrappers/JettonDepositGate';
import { configGlobalId, freshKeys } from './checker-fixture';
import { bundleOf, traceFees } from './gate-fixture';
import {
    mintTo, transferMessage, usdtBalance, usdtMinter, usdtWalletAddress, USDT_MINTER_CODE, USDT_MINTER_HASH,
    USDT_WALLET_CODE, USDT_WALLET_HASH, JettonOp, topUpMessage, mintMessage,
} from './usdt-fixture';

const T0 = 1_800_000_000;
const EPOCH = 7;
const USDT = (n: number) => BigInt(Math.round(n * 1e6));
const FORBIDDEN = Category.sanctions | Category.drainer | Category.mixer;
const FORWARD_TON = toNano('0.05'); // what a depositor attaches for the gate
// Too little to pay a return (~0.036 TON), enough for the gate's compute phase to start: below
// ~0.0005 TON an internal message gets no gas at all (compute skipped, "no-gas"), see the test of
// forward_ton_amount 0 and 1 nanoton.
const TINY = toNano('0.002');

describe('JettonDepositGate (real USDT)', () => {
    let blockchain: Blockchain;
    let admin: SandboxContract<TreasuryContract>;
    let alice: SandboxContract<TreasuryContract>; // depositor
    let mallory: SandboxContract<TreasuryContract>;
    let treasury: SandboxContract<TreasuryContract>;
    let gate: SandboxContract<JettonDepositGate>;
    let minter: Address;
    let keys: KeyPair[];
    let network: number;
    let snapshot: BlockchainSnapshot;
    const wallet = (owner: Address) => usdtWalletAddress(owner, minter);

    beforeAll(async () => {
        const code = await compile('JettonDepositGate');
        blockchain = await Blockchain.create();
        blockchain.now = T0;
        network = configGlobalId(blockchain);
        admin = await blockchain.treasury('admin');
        alice = await blockchain.treasury('alice');
        mallory = await blockchain.treasury('mallory');
        treasury = await blockchain.treasury('treasury');
        keys = await freshKeys(3);
        const m = usdtMinter(admin.address);
        minter = m.address;
        await admin.send({ to: minter, value: toNano('2'), init: m.init, body: topUpMessage() });
        gate = blockchain.openContract(
            JettonDepositGate.createFromConfig(
                {
                    signers: { epoch: EPOCH, threshold: 2, publicKeys: keys.map((k) => k.publicKey) },
                    graceUntil: 0,
                    policy: { maxRisk: 50, forbidden: FORBIDDEN, maxSkew: 60, minAmount: USDT(1) },
                    minter,
                    treasury: treasury.address,
                    admin: admin.address,
                },
                code,
            ),
        );
        await gate.sendDeploy(admin.getSender(), toNano('0.2'));
        await mintTo(blockchain, admin, minter, alice.address, USDT(1000));
        await mintTo(blockchain, admin, minter, mallory.address, USDT(1000));
        snapshot = blockchain.snapshot();
    });

    afterEach(async () => {
        await blockchain.loadFrom(snapshot);
    });

    const attestation = (over: Partial<Attestation> = {}): Attestation => ({
        network,
        verifier: gate.address,
        subject: alice.address,
        risk: 10,
        categories: Category.exchange,
        issuedAt: T0,
        validUntil: T0 + 600,
        epoch: EPOCH,
        nonce: 1n,
        ...over,
    });
    const proof = (over: Partial<Attestation> = {}, signers = [0, 2]) => {
        const cell = attestationToCell(attestation(over));
        return { attestation: cell, signatures: bundleOf(cell, signers, keys) };
    };
    const invoice = beginCell().storeUint(0, 32).storeStringTail('invoice 42').endCell();

    async function deposit(from: SandboxContract<TreasuryContract>, amount: bigint, payload: Cell | undefined, o: { forwardTon?: bigint; inline?: boolean } = {}) {
        return from.send({
            to: wallet(from.address),
            value: (o.forwardTon ?? FORWARD_TON) + toNano('0.05'),
            body: transferMessage({ amount, destination: gate.address, response: from.address, forwardTon: o.forwardTon ?? FORWARD_TON, forwardPayload: payload, inline: o.inline }),
        });
    }

    /** The forward_payload of the internal_transfer that reached `owner`'s USDT wallet from the gate's wallet. */
    function payloadTo(r: SendMessageResult, owner: Address): Cell | null {
        for (const tx of r.transactions) {
            const m = tx.inMessage;
            if (m?.info.type !== 'internal' || !m.info.dest.equals(wallet(owner)) || !m.info.src.equals(wallet(gate.address))) continue;
            const s = m.body.beginParse();
            if (s.loadUint(32) !== JettonOp.internalTransfer) continue;
            s.loadUintBig(64); s.loadCoins(); s.loadMaybeAddress(); s.loadMaybeAddress(); s.loadCoins();
            return s.loadBit() ? s.loadRef() : s.asCell();
        }
        return null;
    }

    async function balances() {
        return {
            gateTon: (await blockchain.getContract(gate.address)).balance,
            gateUsdt: await usdtBalance(blockchain, wallet(gate.address)),
            aliceUsdt: await usdtBalance(blockchain, wallet(alice.address)),
            treasuryUsdt: await usdtBalance(blockchain, wallet(treasury.address)),
        };
    }

    /** The gate's TON balance moves by at most its gas/rent share, never by a fee it pays for others. */
    function expectGateTonKept(before: bigint, after: bigint) {
        expect(after).toBeGreaterThanOrEqual(before - toNano('0.001'));
    }

    it('runs the real USDT code, listed in param 45', () => {
        expect(USDT_MINTER_CODE.hash().toString('hex')).toBe(USDT_MINTER_HASH);
        expect(USDT_WALLET_CODE.hash().toString('hex')).toBe(USDT_WALLET_HASH);
    });

    it('learns its own wallet from the minter (TEP-89)', async () => {
        expect((await gate.getWallet())!.equals(wallet(gate.address))).toBe(true);
    });

    for (const inline of [false, true]) {
        it(`can take a deposit with a 2-of-3 proof (${inline ? 'inline' : 'ref'} forward_payload), reference carried to the treasury`, async () => {
            const before = await balances();
            const r = await deposit(alice, USDT(100), depositPayload(proof(), invoice), { inline });
            const after = await balances();
            expect(after.treasuryUsdt - before.treasuryUsdt).toBe(USDT(100));
            expect(after.aliceUsdt).toBe(before.aliceUsdt - USDT(100));
            expect(after.gateUsdt).toBe(0n);
            expect(payloadTo(r, treasury.address)!.equals(invoice)).toBe(true);
            expectGateTonKept(before.gateTon, after.gateTon);
        });
    }

    const refusals: [string, () => Cell, number][] = [
        ['risk above the policy', () => depositPayload(proof({ risk: 51 }), invoice), Errors.riskTooHigh],
        ['a forbidden category', () => depositPayload(proof({ categories: Category.mixer }), invoice), Errors.forbiddenCategory],
        ['an expired proof', () => depositPayload(proof({ validUntil: T0 - 1, issuedAt: T0 - 600 }), invoice), Errors.expired],
        ['a proof for another verifier', () => depositPayload(proof({ verifier: treasury.address })), Errors.wrongVerifier],
        ['a proof for someone else', () => depositPayload(proof({ subject: mallory.address })), Errors.wrongSubject],
        ['a proof for another network', () => depositPayload(proof({ network: network === -239 ? -3 : -239 })), Errors.wrongNetwork],
        ['one signature of two', () => depositPayload(proof({}, [1])), Errors.tooFewSignatures],
        ['no proof at all', () => invoice, Errors.unknownTag],
        ['an empty forward_payload', () => beginCell().endCell(), Errors.missingAttestation],
        ['a truncated proof (one ref)', () => beginCell().storeUint(0x5c1324ad, 32).storeRef(proof().attestation).endCell(), 9],
    ];
    for (const [what, payload, code] of refusals) {
        it(`refuses ${what}: jettons back to the depositor with ${code}`, async () => {
            const before = await balances();
            const r = await deposit(alice, USDT(100), payload());
            const after = await balances();
            expect(after.aliceUsdt).toBe(before.aliceUsdt);
            expect(after.treasuryUsdt).toBe(before.treasuryUsdt);
            expect(after.gateUsdt).toBe(0n);
            expect(parseRefundPayload(payloadTo(r, alice.address)!.beginParse()).error).toBe(code);
            expectGateTonKept(before.gateTon, after.gateTon);
        });
    }

    it('refuses a deposit below the minimum amount', async () => {
        const r = await deposit(alice, USDT(0.5), depositPayload(proof()));
        expect(parseRefundPayload(payloadTo(r, alice.address)!.beginParse()).error).toBe(Errors.belowMinimum);
        expect(await usdtBalance(blockchain, wallet(gate.address))).toBe(0n);
    });

    it('ignores a notification from the depositor directly, the minter or a wallet of another jetton', async () => {
        const fake = beginCell().storeUint(JettonOp.transferNotification, 32).storeUint(0, 64).storeCoins(USDT(1000))
            .storeAddress(mallory.address).storeBit(0).storeSlice(depositPayload(proof({ subject: mallory.address })).beginParse()).endCell();
        // a second jetton: the same code under another minter, so its wallets are other addresses
        const other = usdtMinter(mallory.address);
        await mallory.send({ to: other.address, value: toNano('2'), init: other.init, body: topUpMessage() });
        await mintTo(blockchain, mallory, other.address, mallory.address, USDT(1000));
        const before = await balances();
        const stateBefore = (await blockchain.getContract(gate.address)).accountState;
        for (const from of [mallory, admin]) {
            const r = await from.send({ to: gate.address, value: toNano('0.1'), body: fake });
            expect(r.transactions.find((t) => t.inMessage?.info.dest?.toString() === gate.address.toString())!.outMessagesCount).toBe(0);
        }
        // the other jetton's wallet notifies the gate: no USDT moves, nothing is sent
        const r = await mallory.send({
            to: usdtWalletAddress(mallory.address, other.address), value: toNano('0.2'),
            body: transferMessage({ amount: USDT(10), destination: gate.address, response: mallory.address, forwardTon: FORWARD_TON, forwardPayload: depositPayload(proof({ subject: mallory.address })) }),
        });
        expect(r.transactions).toHaveTransaction({ to: gate.address, outMessagesCount: 0 });
        const after = await balances();
        expect(after.treasuryUsdt).toBe(before.treasuryUsdt);
        expect(after.gateUsdt).toBe(0n);
        const stateAfter = (await blockchain.getContract(gate.address)).accountState;
        expect(stateAfter?.type === 'active' && stateBefore?.type === 'active' && stateAfter.state.data!.equals(stateBefore.state.data!)).toBe(true);
    });

    it('quarantines a deposit whose TON cannot pay the return; the depositor can claim it, others cannot', async () => {
        const before = await balances();
        const r = await deposit(alice, USDT(100), depositPayload(proof({ risk: 90 })), { forwardTon: TINY });
        expect(r.transactions).toHaveTransaction({ to: gate.address, success: true });
        const q = await gate.getQuarantine();
        expect(q.nextId).toBe(1);
        const entry = (await gate.getQuarantineEntry(0))!;
        expect(entry.depositor!.equals(alice.address)).toBe(true);
        expect(entry.amount).toBe(USDT(100));
        expect(entry.reason).toBe(Errors.riskTooHigh);
        expect(entry.at).toBe(T0);
        expect(await usdtBalance(blockchain, wallet(gate.address))).toBe(USDT(100));
        // the quarantine is logged as an external message
        const gateTx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === gate.address.toString())!;
        expect([...gateTx.outMessages.values()].some((m) => m.info.type === 'external-out')).toBe(true);

        // mallory cannot claim it, nor the admin through claim; too little TON is refused
        const byMallory = await mallory.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.claimMessage(0) });
        expect(byMallory.transactions).toHaveTransaction({ to: gate.address, success: false, exitCode: Errors.notDepositor });
        const poor = await alice.send({ to: gate.address, value: toNano('0.01'), body: JettonDepositGate.claimMessage(0) });
        expect(poor.transactions).toHaveTransaction({ to: gate.address, success: false, exitCode: Errors.insufficientValue });
        const missing = await alice.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.claimMessage(5) });
        expect(missing.transactions).toHaveTransaction({ to: gate.address, success: false, exitCode: Errors.noSuchEntry });

        const claim = await alice.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.claimMessage(0) });
        expect(parseRefundPayload(payloadTo(claim, alice.address)!.beginParse()).error).toBe(Errors.riskTooHigh);
        const after = await balances();
        expect(after.aliceUsdt).toBe(before.aliceUsdt);
        expect(after.gateUsdt).toBe(0n);
        expect(await gate.getQuarantineEntry(0)).toBeNull();
        // a second claim finds nothing
        const again = await alice.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.claimMessage(0) });
        expect(again.transactions).toHaveTransaction({ to: gate.address, success: false, exitCode: Errors.noSuchEntry });
    });

    it('lets the admin release a quarantine entry to the depositor or the treasury; others cannot', async () => {
        await deposit(alice, USDT(100), depositPayload(proof()), { forwardTon: TINY }); // valid, but too little TON
        await deposit(alice, USDT(50), depositPayload(proof({ risk: 90 })), { forwardTon: TINY });
        expect((await gate.getQuarantineEntry(0))!.reason).toBe(Errors.insufficientValue);
        const byMallory = await mallory.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.releaseMessage(0, true) });
        expect(byMallory.transactions).toHaveTransaction({ to: gate.address, success: false, exitCode: Errors.notAdmin });
        const before = await balances();
        await admin.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.releaseMessage(0, true) });
        await admin.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.releaseMessage(1, false) });
        const after = await balances();
        expect(after.treasuryUsdt - before.treasuryUsdt).toBe(USDT(100));
        expect(after.aliceUsdt - before.aliceUsdt).toBe(USDT(50));
        expect(after.gateUsdt).toBe(0n);
        expect((await gate.getQuarantine()).entries.size).toBe(0);
    });

    it('quarantines jettons from an unpayable sender (a mint from addr_none); only the treasury can get them', async () => {
        await admin.send({ to: minter, value: toNano('0.3'), body: mintMessage(gate.address, USDT(7), FORWARD_TON) });
        const entry = (await gate.getQuarantineEntry(0))!;
        expect(entry.depositor).toBeNull();
        expect(entry.reason).toBe(Errors.badDepositor);
        const toDepositor = await admin.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.releaseMessage(0, false) });
        expect(toDepositor.transactions).toHaveTransaction({ to: gate.address, success: false, exitCode: Errors.badDepositor });
        const before = await usdtBalance(blockchain, wallet(treasury.address));
        await admin.send({ to: gate.address, value: toNano('0.1'), body: JettonDepositGate.releaseMessage(0, true) });
        expect(await usdtBalance(blockchain, wallet(treasury.address))).toBe(before + USDT(7));
        expect(await usdtBalance(blockchain, wallet(gate.address))).toBe(0n);
    });

    it('cannot see a deposit with forward_ton_amount 0 (no notification, TEP-74) or 1 nanoton (no gas)', async () => {
        // Documented limit (SPEC.md §12.4): such jettons sit in the gate's wallet unrecorded.
        const r = await deposit(alice, USDT(10), depositPayload(proof()), { forwardTon: 0n });
        expect(r.transactions).not.toHaveTransaction({ to: gate.address });
        const r1 = await deposit(alice, USDT(10), depositPayload(proof()), { forwardTon: 1n });
        expect(r1.transactions).toHaveTransaction({ to: gate.address, aborted: true });
        expect(await usdtBalance(blockchain, wallet(gate.address))).toBe(USDT(20));
        expect((await gate.getQuarantine()).nextId).toBe(0);
    });

    it('is still alive after five years of storage rent', async () => {
        blockchain.now = T0 + 5 * 365 * 86400;
        const fresh = proof({ issuedAt: blockchain.now, validUntil: blockchain.now + 600 });
        const before = await usdtBalance(blockchain, wallet(treasury.address));
        await deposit(alice, USDT(10), depositPayload(fresh));
        expect(await usdtBalance(blockchain, wallet(treasury.address))).toBe(before + USDT(10));
    });

    it('measures fees against a plain USDT transfer, and the least TON a refundable deposit needs', async () => {
        const plain = await alice.send({
            to: wallet(alice.address), value: toNano('0.1'),
            body: transferMessage({ amount: USDT(100), destination: treasury.address, response: alice.address, forwardTon: 0n }),
        });
        const plainFees = traceFees(plain);
        await blockchain.loadFrom(snapshot);
        const gated = await deposit(alice, USDT(100), depositPayload(proof(), invoice));
        const gatedFees = traceFees(gated);
        // least forward_ton_amount that still refunds automatically (binary search, nanoton)
        let lo = 1n, hi = toNano('0.1');
        while (hi - lo > 100000n) {
            const mid = (lo + hi) / 2n;
            await blockchain.loadFrom(snapshot);
            await deposit(alice, USDT(100), depositPayload(proof({ risk: 90 })), { forwardTon: mid });
            const refunded = (await usdtBalance(blockchain, wallet(gate.address))) === 0n;
            if (refunded) hi = mid; else lo = mid;
        }
        const report = {
            plainTransferFees: plainFees.toString(),
            gatedDepositFees: gatedFees.toString(),
            ratio: Number(gatedFees) / Number(plainFees),
            minForwardTonForAutomaticRefund: hi.toString(),
            command: 'cd contracts && npx jest tests/JettonDepositGate',
        };
        console.table(report);
        writeFileSync(join(__dirname, '..', 'gas-report-jetton.json'), JSON.stringify(report, null, 2) + '\n');
        // Two full jetton transfers (depositor -> gate, gate -> treasury) against one: see SPEC.md §12.6.
        expect(report.ratio).toBeLessThan(3);
    });
});
