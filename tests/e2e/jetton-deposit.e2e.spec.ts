// End to end: three real oracle nodes → `tollgate attest` → `tollgate payload deposit` → the
// TON Connect request sent as a wallet sends it → the real USDT wallets → the compiled
// JettonDepositGate in the sandbox → the treasury (SPEC.md §12).
//
// It proves that the amounts the sdk computes (sdk/src/fees.rs: the forward amount for the gate,
// the TON for the USDT wallet) are enough: a clean deposit reaches the treasury and a refused one
// comes back automatically; were either short, the deposit would wait in quarantine (or the USDT
// wallet would refuse the transfer) and this spec fails. The sandbox's default config lists the
// USDT wallet code in param 45, as mainnet's does.

import { writeFileSync } from 'fs';
import { join } from 'path';
import { Blockchain, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { compile } from '@ton/blueprint';
import { Category, Errors } from '../../contracts/wrappers/Constants';
import { JettonDepositGate, parseRefundPayload } from '../../contracts/wrappers/JettonDepositGate';
import { JettonOp, mintTo, topUpMessage, usdtBalance, usdtMinter, usdtWalletAddress } from '../../contracts/tests/usdt-fixture';
import { cli, cliOk, EPOCH, Nodes, startNodes } from './oracle-nodes';

const USDT = (n: number) => BigInt(Math.round(n * 1e6));

describe('USDT deposit end to end: 3 oracle nodes, the CLI, the real USDT wallets and the JettonDepositGate', () => {
    let started: Nodes;
    let blockchain: Blockchain;
    let admin: SandboxContract<TreasuryContract>;
    let alice: SandboxContract<TreasuryContract>; // clean depositor
    let mallory: SandboxContract<TreasuryContract>; // on node 2's scam list
    let treasury: SandboxContract<TreasuryContract>;
    let gate: SandboxContract<JettonDepositGate>;
    let minter: Address;
    const wallet = (owner: Address) => usdtWalletAddress(owner, minter);

    beforeAll(async () => {
        blockchain = await Blockchain.create();
        // The nodes stamp attestations with the wall clock; the sandbox must agree.
        blockchain.now = Math.floor(Date.now() / 1000);
        admin = await blockchain.treasury('admin');
        alice = await blockchain.treasury('alice');
        mallory = await blockchain.treasury('mallory');
        treasury = await blockchain.treasury('treasury');
        started = await startNodes({ prefix: 'jetton', scamOnNode2: [mallory.address.toRawString()] });
        const m = usdtMinter(admin.address);
        minter = m.address;
        await admin.send({ to: minter, value: toNano('2'), init: m.init, body: topUpMessage() });
        gate = blockchain.openContract(JettonDepositGate.createFromConfig({
            signers: { epoch: EPOCH, threshold: 2, publicKeys: started.nodes.map((n) => Buffer.from(n.publicKey, 'hex')) },
            graceUntil: 0,
            policy: { maxRisk: 50, forbidden: Category.sanctions | Category.scam | Category.drainer, maxSkew: 120, minAmount: USDT(1) },
            minter,
            treasury: treasury.address,
            admin: admin.address,
        }, await compile('JettonDepositGate')));
        await gate.sendDeploy(admin.getSender(), toNano('0.2'));
        await mintTo(blockchain, admin, minter, alice.address, USDT(1000));
        await mintTo(blockchain, admin, minter, mallory.address, USDT(1000));
    }, 300_000);

    afterAll(() => started?.stop());

    /** `tollgate attest` for `depositor` with the gate as verifier, saved for the next command. */
    function attest(depositor: Address): string {
        const out = cliOk(['attest', ...started.pinned(), '--threshold', '2', '--epoch', String(EPOCH),
            '--subject', depositor.toRawString(), '--verifier', gate.address.toString()]);
        const path = join(started.work, `${depositor.toRawString().slice(2, 12)}.json`);
        writeFileSync(path, out);
        return path;
    }

    function depositRequest(proof: string, depositor: Address, amount: bigint, extra: string[] = []) {
        return JSON.parse(cliOk(['payload', 'deposit', '--proof', proof, '--gate', gate.address.toString(),
            '--jetton-wallet', wallet(depositor).toString(), '--amount', String(amount), '--comment', 'invoice 42',
            '--query-id', '7', ...extra]));
    }

    /** Sends each raw message as the depositor's wallet app would: its address, amount and payload. */
    async function send(from: SandboxContract<TreasuryContract>, request: any) {
        blockchain.now = Math.floor(Date.now() / 1000);
        expect(Address.parse(request.from).equals(from.address)).toBe(true);
        const [m] = request.messages;
        return from.send({ to: Address.parse(m.address), value: BigInt(m.amount), body: Cell.fromBase64(m.payload) });
    }

    /** The forward_payload of the internal_transfer that reached `owner`'s wallet from the gate's. */
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

    async function usdt(owner: Address) {
        return usdtBalance(blockchain, wallet(owner));
    }

    it('moves a clean depositor\'s USDT to the treasury with the invoice comment, paid by the computed amounts', async () => {
        const request = depositRequest(attest(alice.address), alice.address, USDT(100));
        expect(request.network).toBe('-239');
        expect(Address.parseFriendly(request.messages[0].address).address.equals(wallet(alice.address))).toBe(true);
        const [aliceBefore, treasuryBefore, gateTon] = [await usdt(alice.address), await usdt(treasury.address), (await blockchain.getContract(gate.address)).balance];
        const r = await send(alice, request);
        expect(await usdt(treasury.address)).toBe(treasuryBefore + USDT(100));
        expect(await usdt(alice.address)).toBe(aliceBefore - USDT(100));
        expect(await usdt(gate.address)).toBe(0n);
        expect(payloadTo(r, treasury.address)!.equals(beginCell().storeUint(0, 32).storeStringTail('invoice 42').endCell())).toBe(true);
        expect((await gate.getQuarantine()).nextId).toBe(0);
        expect((await blockchain.getContract(gate.address)).balance).toBeGreaterThanOrEqual(gateTon - toNano('0.001'));
    });

    it('returns a depositor one node labels as a scammer their USDT automatically, with the reason (no quarantine)', async () => {
        const proof = attest(mallory.address);
        const before = await usdt(mallory.address);
        const r = await send(mallory, depositRequest(proof, mallory.address, USDT(100)));
        expect(await usdt(mallory.address)).toBe(before);
        expect(await usdt(gate.address)).toBe(0n);
        expect([Errors.riskTooHigh, Errors.forbiddenCategory]).toContain(parseRefundPayload(payloadTo(r, mallory.address)!.beginParse()).error);
        expect((await gate.getQuarantine()).nextId).toBe(0);
    });

    it('also works as TON Connect\'s structured jetton item, built into a transfer as a wallet would', async () => {
        const proof = attest(alice.address);
        const request = JSON.parse(cliOk(['payload', 'deposit', '--proof', proof, '--gate', gate.address.toString(),
            '--master', minter.toString(), '--amount', String(USDT(5))]));
        expect(request.messages).toBeUndefined();
        const [item] = request.items;
        expect(item.type).toBe('jetton');
        expect(Address.parse(item.master).equals(minter)).toBe(true);
        // the wallet app: the sender's jetton wallet of `master`, a TEP-74 transfer from the item's fields
        const body = beginCell().storeUint(JettonOp.transfer, 32).storeUint(BigInt(item.queryId), 64).storeCoins(BigInt(item.amount))
            .storeAddress(Address.parse(item.destination)).storeAddress(Address.parse(item.responseDestination)).storeBit(0)
            .storeCoins(BigInt(item.forwardAmount)).storeBit(1).storeRef(Cell.fromBase64(item.forwardPayload)).endCell();
        const before = await usdt(treasury.address);
        blockchain.now = Math.floor(Date.now() / 1000);
        await alice.send({ to: wallet(alice.address), value: BigInt(item.attachAmount), body });
        expect(await usdt(treasury.address)).toBe(before + USDT(5));
    });

    it('is refused by the CLI for a proof about another depositor (proof_mismatch) or a reference too long (reference_too_large)', () => {
        const proof = attest(alice.address);
        const other = cli(['payload', 'deposit', '--proof', proof, '--gate', gate.address.toString(), '--jetton-wallet',
            wallet(alice.address).toString(), '--amount', '1', '--depositor', mallory.address.toString()]);
        expect(other.ok).toBe(false);
        if (!other.ok) expect(other.stderr).toMatch(/^tollgate: proof_mismatch: the depositor proof's subject is/);
        const long = cli(['payload', 'deposit', '--proof', proof, '--gate', gate.address.toString(), '--jetton-wallet',
            wallet(alice.address).toString(), '--amount', '1', '--comment', 'x'.repeat(120)]);
        expect(long.ok).toBe(false);
        if (!long.ok) expect(long.stderr).toMatch(/^tollgate: reference_too_large:/);
        const forOtherGate = cli(['payload', 'deposit', '--proof', proof, '--gate', treasury.address.toString(), '--jetton-wallet',
            wallet(alice.address).toString(), '--amount', '1']);
        expect(forOtherGate.ok).toBe(false);
        if (!forOtherGate.ok) expect(forOtherGate.stderr).toMatch(/^tollgate: proof_mismatch: the depositor proof's verifier/);
    });
});
