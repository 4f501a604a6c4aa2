// Shared set-up of the ComplianceGate specs: one sandbox with a gate per policy, signer keys,
// attestation and proof builders, and balance/fee helpers over a trace.

import { Blockchain, BlockchainSnapshot, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, toNano, Transaction } from '@ton/core';
import { KeyPair } from '@ton/crypto';
import { compile } from '@ton/blueprint';
import { Attestation, attestationToCell, signatureBundleToCell, signWith } from '../wrappers/Attestation';
import { AttestationProof, ComplianceGate, ComplianceGateConfig, GatePolicy, Screen } from '../wrappers/ComplianceGate';
import { Category, Op } from '../wrappers/Constants';
import { configGlobalId, freshKeys } from './checker-fixture';

export const T0 = 1_800_000_000;
export const EPOCH = 7;
export const PREVIOUS_EPOCH = 6;
export const GRACE_UNTIL = T0 + 3600;
export const MAX_RISK = 50;
export const FORBIDDEN = Category.sanctions | Category.drainer | Category.mixer;
export const MAX_SKEW = 60;
export const GATE_BALANCE = toNano('0.2'); // above gate::min_storage, so a transfer pays no rent shortfall

export function policy(screen: number, over: Partial<GatePolicy> = {}): GatePolicy {
    return { screen, maxRisk: MAX_RISK, forbidden: FORBIDDEN, maxSkew: MAX_SKEW, ...over };
}

export type GateWorld = {
    blockchain: Blockchain;
    code: Cell;
    network: number;
    admin: SandboxContract<TreasuryContract>;
    alice: SandboxContract<TreasuryContract>; // sender
    bob: SandboxContract<TreasuryContract>; // destination
    keys: KeyPair[]; // current set, 5 keys, threshold 2
    previousKeys: KeyPair[]; // previous set, 3 keys, threshold 2
    /** gates by screen (none, destination, sender, both); threshold 2 */
    gates: Record<number, SandboxContract<ComplianceGate>>;
    config: (screen: number, threshold?: number) => ComplianceGateConfig;
};

export async function gateWorld(): Promise<GateWorld> {
    const code = await compile('ComplianceGate');
    const blockchain = await Blockchain.create();
    blockchain.now = T0;
    const network = configGlobalId(blockchain);
    const admin = await blockchain.treasury('admin');
    const alice = await blockchain.treasury('alice');
    const bob = await blockchain.treasury('bob');
    const keys = await freshKeys(5);
    const previousKeys = await freshKeys(3);
    const config = (screen: number, threshold = 2): ComplianceGateConfig => ({
        signers: { epoch: EPOCH, threshold, publicKeys: keys.map((k) => k.publicKey) },
        previous: { epoch: PREVIOUS_EPOCH, threshold: 2, publicKeys: previousKeys.map((k) => k.publicKey) },
        graceUntil: GRACE_UNTIL,
        policy: policy(screen),
        admin: admin.address,
    });
    const gates: Record<number, SandboxContract<ComplianceGate>> = {};
    for (const screen of [Screen.none, Screen.destination, Screen.sender, Screen.both]) {
        gates[screen] = blockchain.openContract(ComplianceGate.createFromConfig(config(screen), code));
        const r = await gates[screen].sendDeploy(admin.getSender(), GATE_BALANCE);
        expect(r.transactions).toHaveTransaction({ to: gates[screen].address, deploy: true, success: true });
    }
    return { blockchain, code, network, admin, alice, bob, keys, previousKeys, gates, config };
}

/** A valid attestation of `subject` for `gate` at T0, with `over` applied. */
export function attestationFor(w: GateWorld, gate: Address, subject: Address, over: Partial<Attestation> = {}): Attestation {
    return {
        network: w.network,
        verifier: gate,
        subject,
        risk: 10,
        categories: Category.exchange,
        issuedAt: T0,
        validUntil: T0 + 600,
        epoch: EPOCH,
        nonce: 42n,
        ...over,
    };
}

/** Signs with `keys` at `indexes`, chained in the order given. */
export function bundleOf(cell: Cell, indexes: number[], keys: KeyPair[]): Cell {
    const signed = signWith(cell, indexes.map((index) => ({ index, secretKey: keys[index].secretKey })));
    return signatureBundleToCell(indexes.map((i) => signed.find((e) => e.signer === i)!));
}

export function proofOf(a: Attestation, indexes: number[], keys: KeyPair[]): AttestationProof {
    const attestation = attestationToCell(a);
    return { attestation, signatures: bundleOf(attestation, indexes, keys) };
}

export function computeGas(tx: Transaction): number {
    if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') return 0;
    return Number(tx.description.computePhase.gasUsed);
}

/** Sum of totalFees of every transaction of the trace. */
export function traceFees(r: SendMessageResult): bigint {
    return r.transactions.reduce((sum, tx) => sum + tx.totalFees.coins, 0n);
}

export function txTo(r: SendMessageResult, to: Address, from?: Address): Transaction {
    const tx = r.transactions.find(
        (t) =>
            t.inMessage?.info.type === 'internal' &&
            t.inMessage.info.dest.equals(to) &&
            (!from || (t.inMessage.info.src as Address).equals(from)),
    );
    if (!tx) throw new Error(`no transaction to ${to}`);
    return tx;
}

/** The value of internal messages the gate sent, by op. */
export function gateOutgoing(r: SendMessageResult, gate: Address) {
    const out: { op: number; to: Address; value: bigint; body: Cell; bounce: boolean }[] = [];
    for (const tx of r.transactions) {
        if (!tx.inMessage || tx.inMessage.info.type !== 'internal' || !tx.inMessage.info.dest.equals(gate)) continue;
        for (const m of tx.outMessages.values()) {
            if (m.info.type !== 'internal') continue;
            const s = m.body.beginParse();
            out.push({ op: s.remainingBits >= 32 ? s.loadUint(32) : -1, to: m.info.dest, value: m.info.value.coins, body: m.body, bounce: m.info.bounce });
        }
    }
    return out;
}

export function forwards(r: SendMessageResult, gate: Address) {
    return gateOutgoing(r, gate).filter((m) => m.op === Op.gateForward);
}

export function refunds(r: SendMessageResult, gate: Address) {
    return gateOutgoing(r, gate).filter((m) => m.op === Op.gateRefund).map((m) => ({ ...m, ...ComplianceGate.parseRefund(m.body) }));
}

export async function balanceOf(w: GateWorld, a: Address): Promise<bigint> {
    return (await w.blockchain.getContract(a)).balance;
}

export type { BlockchainSnapshot };
