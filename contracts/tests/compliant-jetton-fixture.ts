// A compliant jetton world for the CompliantJetton*.spec.ts files: a minter with a test root key,
// a 2-of-3 signer set certified by it, alice holding 1,000 tokens, bob and mallory without, and
// builders of the ComplianceAuth a transfer carries (SPEC.md §16).
import '@ton/test-utils';
import { Blockchain, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import { KeyPair } from '@ton/crypto';
import { compile } from '@ton/blueprint';
import { Attestation, attestationToCell, SignerSet } from '../wrappers/Attestation';
import { Category } from '../wrappers/Constants';
import {
    certificateToCell, complianceAuthToCell, CompliantJettonMinter, CompliantJettonWallet, SignerCertificate,
    signCertificate, transferBody, walletAddress,
} from '../wrappers/CompliantJetton';
import { configGlobalId, freshKeys } from './checker-fixture';
import { bundleOf } from './gate-fixture';

export const T0 = 1_800_000_000;
export const EPOCH = 7;
export const MAX_RISK = 50;
export const FORBIDDEN = Category.sanctions | Category.drainer | Category.mixer;
export const MAX_SKEW = 60;
export const CERT_LIFETIME = 30 * 24 * 3600;
export const TOKENS = (n: number) => BigInt(n) * 1_000_000_000n;
/** What a sender attaches to a transfer in these tests (fees are paid by it). */
export const TRANSFER_VALUE = toNano('0.1');

export type CjWorld = {
    blockchain: Blockchain;
    admin: SandboxContract<TreasuryContract>;
    alice: SandboxContract<TreasuryContract>;
    bob: SandboxContract<TreasuryContract>;
    mallory: SandboxContract<TreasuryContract>;
    minter: SandboxContract<CompliantJettonMinter>;
    walletCode: Cell;
    root: KeyPair;
    keys: KeyPair[];
    signers: SignerSet;
    network: number;
};

let codes: { minter: Cell; wallet: Cell } | undefined;
export async function cjCodes() {
    codes ??= { minter: await compile('CompliantJettonMinter'), wallet: await compile('CompliantJettonWallet') };
    return codes;
}

export async function cjWorld(o: { threshold?: number; count?: number } = {}): Promise<CjWorld> {
    const { minter: minterCode, wallet: walletCode } = await cjCodes();
    const blockchain = await Blockchain.create();
    blockchain.now = T0;
    const network = configGlobalId(blockchain);
    const admin = await blockchain.treasury('admin');
    const alice = await blockchain.treasury('alice');
    const bob = await blockchain.treasury('bob');
    const mallory = await blockchain.treasury('mallory');
    const [root] = await freshKeys(1);
    const keys = await freshKeys(o.count ?? 3);
    const signers = { epoch: EPOCH, threshold: o.threshold ?? 2, publicKeys: keys.map((k) => k.publicKey) };
    const minter = blockchain.openContract(CompliantJettonMinter.createFromConfig({ admin: admin.address, rootKey: root.publicKey, walletCode }, minterCode));
    await minter.sendDeploy(admin.getSender(), toNano('0.1'));
    const w: CjWorld = { blockchain, admin, alice, bob, mallory, minter, walletCode, root, keys, signers, network };
    await minter.sendBody(admin.getSender(), toNano('0.2'), CompliantJettonMinter.mintBody({ to: alice.address, amount: TOKENS(1000) }));
    return w;
}

export function walletOf(w: CjWorld, owner: Address): SandboxContract<CompliantJettonWallet> {
    return w.blockchain.openContract(new CompliantJettonWallet(walletAddress(owner, w.minter.address, w.root.publicKey, w.walletCode)));
}

export async function jettonBalance(w: CjWorld, owner: Address): Promise<bigint> {
    const c = await w.blockchain.getContract(walletOf(w, owner).address);
    if (c.accountState?.type !== 'active') return 0n;
    return (await walletOf(w, owner).getWalletData()).balance;
}

export function certificateFor(w: CjWorld, over: Partial<SignerCertificate> = {}): SignerCertificate {
    return {
        network: w.network, minter: w.minter.address, validUntil: T0 + CERT_LIFETIME,
        maxRisk: MAX_RISK, forbidden: FORBIDDEN, maxSkew: MAX_SKEW, signers: w.signers, ...over,
    };
}

export function attestationOf(w: CjWorld, subject: Address, over: Partial<Attestation> = {}): Attestation {
    const now = w.blockchain.now ?? T0;
    return {
        network: w.network, verifier: w.minter.address, subject, risk: 10, categories: Category.exchange,
        issuedAt: now, validUntil: now + 3600, epoch: w.signers.epoch, nonce: 42n, ...over,
    };
}

/** A ComplianceAuth for `subject`: the certificate signed by `rootKey` (default: the world's root),
 *  the attestation signed by the signer keys at `indexes`. */
export function authFor(w: CjWorld, subject: Address, o: {
    attestation?: Partial<Attestation>;
    certificate?: Partial<SignerCertificate> | Cell;
    indexes?: number[];
    keys?: KeyPair[];
    rootSecretKey?: Buffer;
} = {}): Cell {
    const certificate = o.certificate instanceof Cell ? o.certificate : certificateToCell(certificateFor(w, o.certificate));
    const attestation = attestationToCell(attestationOf(w, subject, o.attestation));
    return complianceAuthToCell({
        rootSignature: signCertificate(certificate, o.rootSecretKey ?? w.root.secretKey),
        certificate,
        attestation,
        signatures: bundleOf(attestation, o.indexes ?? [0, 2], o.keys ?? w.keys),
    });
}

/** alice (or `from`) sends `amount` to `to` with `auth` in custom_payload. */
export async function transfer(w: CjWorld, o: {
    from?: SandboxContract<TreasuryContract>;
    to?: Address;
    amount?: bigint;
    auth?: Cell | null;
    forwardTon?: bigint;
    forwardPayload?: Cell;
    response?: Address | null;
    value?: bigint;
    queryId?: bigint;
}): Promise<SendMessageResult> {
    const from = o.from ?? w.alice;
    const body = transferBody({
        queryId: o.queryId ?? 7n, amount: o.amount ?? TOKENS(10), destination: o.to ?? w.bob.address,
        response: o.response === undefined ? from.address : o.response,
        customPayload: o.auth === undefined ? authFor(w, from.address) : o.auth,
        forwardTon: o.forwardTon ?? 0n, forwardPayload: o.forwardPayload,
    });
    return from.send({ to: walletOf(w, from.address).address, value: o.value ?? TRANSFER_VALUE, body });
}
