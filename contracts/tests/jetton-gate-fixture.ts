// A JettonDepositGate in front of the real USDT minter and wallets (tests/fixtures/usdt), for the
// JettonDepositGate.*.spec.ts files: one world with a depositor, an attacker, a treasury and a
// 2-of-3 signer set; builders of deposits and proofs; balances of every party.
import '@ton/test-utils';
import { Blockchain, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { KeyPair } from '@ton/crypto';
import { compile } from '@ton/blueprint';
import { Attestation, attestationToCell } from '../wrappers/Attestation';
import { Category } from '../wrappers/Constants';
import { JettonDepositGate, JettonGatePolicy } from '../wrappers/JettonDepositGate';
import { configGlobalId, freshKeys } from './checker-fixture';
import { bundleOf } from './gate-fixture';
import { JettonOp, mintTo, topUpMessage, transferMessage, usdtBalance, usdtMinter, usdtWalletAddress } from './usdt-fixture';

export const T0 = 1_800_000_000;
export const EPOCH = 7;
export const USDT = (n: number) => BigInt(Math.round(n * 1e6));
export const FORBIDDEN = Category.sanctions | Category.drainer | Category.mixer;
/** What a depositor attaches for the gate in these tests (the sdk computes ≈ 0.039 TON for 2-of-3). */
export const FORWARD_TON = toNano('0.05');
/** Enough for the gate's compute phase, too little for a return: the quarantine path. */
export const TINY = toNano('0.002');
export const POLICY: JettonGatePolicy = { maxRisk: 50, forbidden: FORBIDDEN, maxSkew: 60, minAmount: USDT(1) };
export const GATE_DEPLOY_VALUE = toNano('0.2');

export type JettonGateWorld = {
    blockchain: Blockchain;
    admin: SandboxContract<TreasuryContract>;
    alice: SandboxContract<TreasuryContract>;
    mallory: SandboxContract<TreasuryContract>;
    treasury: SandboxContract<TreasuryContract>;
    gate: SandboxContract<JettonDepositGate>;
    code: Cell;
    minter: Address;
    keys: KeyPair[];
    network: number;
};

/** Deploys the USDT minter and the gate (which learns its wallet), and mints 1,000 USDT to alice and mallory. */
export async function jettonGateWorld(o: { gateValue?: bigint } = {}): Promise<JettonGateWorld> {
    const code = await compile('JettonDepositGate');
    const blockchain = await Blockchain.create();
    blockchain.now = T0;
    const network = configGlobalId(blockchain);
    const admin = await blockchain.treasury('admin');
    const alice = await blockchain.treasury('alice');
    const mallory = await blockchain.treasury('mallory');
    const treasury = await blockchain.treasury('treasury');
    const keys = await freshKeys(3);
    const m = usdtMinter(admin.address);
    await admin.send({ to: m.address, value: toNano('2'), init: m.init, body: topUpMessage() });
    const gate = blockchain.openContract(JettonDepositGate.createFromConfig({
        signers: { epoch: EPOCH, threshold: 2, publicKeys: keys.map((k) => k.publicKey) },
        graceUntil: 0,
        policy: POLICY,
        minter: m.address,
        treasury: treasury.address,
        admin: admin.address,
    }, code));
    await gate.sendDeploy(admin.getSender(), o.gateValue ?? GATE_DEPLOY_VALUE);
    await mintTo(blockchain, admin, m.address, alice.address, USDT(1000));
    await mintTo(blockchain, admin, m.address, mallory.address, USDT(1000));
    return { blockchain, admin, alice, mallory, treasury, gate, code, minter: m.address, keys, network };
}

export function wallet(w: JettonGateWorld, owner: Address): Address {
    return usdtWalletAddress(owner, w.minter);
}

export function attestation(w: JettonGateWorld, over: Partial<Attestation> = {}): Attestation {
    return {
        network: w.network, verifier: w.gate.address, subject: w.alice.address, risk: 10, categories: Category.exchange,
        issuedAt: w.blockchain.now ?? T0, validUntil: (w.blockchain.now ?? T0) + 600, epoch: EPOCH, nonce: 1n, ...over,
    };
}

/** An attestation_proof's two cells, signed by `signers` (indexes into `keys`). */
export function proof(w: JettonGateWorld, over: Partial<Attestation> = {}, signers = [0, 2], keys = w.keys) {
    const cell = attestationToCell(attestation(w, over));
    return { attestation: cell, signatures: bundleOf(cell, signers, keys) };
}

export const invoice = beginCell().storeUint(0, 32).storeStringTail('invoice 42').endCell();

/** A TEP-74 transfer of `amount` from `from`'s USDT wallet to the gate, with `payload` as forward_payload. */
export function deposit(w: JettonGateWorld, from: SandboxContract<TreasuryContract>, amount: bigint, payload: Cell | undefined, forwardTon = FORWARD_TON) {
    return from.send({
        to: wallet(w, from.address),
        value: forwardTon + toNano('0.05'),
        body: transferMessage({ amount, destination: w.gate.address, response: from.address, forwardTon, forwardPayload: payload }),
    });
}

/** The forward_payload of the internal_transfer that reached `owner`'s USDT wallet from the gate's wallet. */
export function payloadTo(w: JettonGateWorld, r: SendMessageResult, owner: Address): Cell | null {
    for (const tx of r.transactions) {
        const m = tx.inMessage;
        if (m?.info.type !== 'internal' || !m.info.dest.equals(wallet(w, owner)) || !m.info.src.equals(wallet(w, w.gate.address))) continue;
        const s = m.body.beginParse();
        if (s.loadUint(32) !== JettonOp.internalTransfer) continue;
        s.loadUintBig(64); s.loadCoins(); s.loadMaybeAddress(); s.loadMaybeAddress(); s.loadCoins();
        return s.loadBit() ? s.loadRef() : s.asCell();
    }
    return null;
}

export async function usdt(w: JettonGateWorld, owner: Address): Promise<bigint> {
    return usdtBalance(w.blockchain, wallet(w, owner));
}

export async function tonOf(w: JettonGateWorld, a: Address): Promise<bigint> {
    return (await w.blockchain.getContract(a)).balance;
}
