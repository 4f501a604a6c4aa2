import { Blockchain, BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { KeyPair } from '@ton/crypto';
import { compile } from '@ton/blueprint';
import '@ton/test-utils';
import {
    Attestation,
    attestationToCell,
    SignatureEntry,
    signatureBundleToCell,
    signWith,
    storeAttestation,
} from '../wrappers/Attestation';
import { AttestationChecker, AttestationCheckerConfig } from '../wrappers/AttestationChecker';
import { Category, Errors, Network } from '../wrappers/Constants';
import { configGlobalId, freshKeys, otherAddress } from './checker-fixture';

const T0 = 1_800_000_000; // every test runs at or after this time (the sandbox refuses going back)
const EPOCH = 7;
const PREVIOUS_EPOCH = 6;
const GRACE_UNTIL = T0 + 3600;
const MAX_RISK = 50;
const FORBIDDEN = Category.sanctions | Category.drainer | Category.mixer;
const MAX_SKEW = 60;

describe('AttestationChecker', () => {
    let code: Cell;
    let blockchain: Blockchain;
    let snapshot: BlockchainSnapshot;
    let deployer: SandboxContract<TreasuryContract>;
    let subject: Address;
    let keys: KeyPair[]; // current set, 5 keys
    let previousKeys: KeyPair[]; // previous set, 3 keys
    /** checkers[t]: the same signer set with threshold t (1, 2, 3); checkers[2] is the main one */
    let checkers: Record<number, SandboxContract<AttestationChecker>>;
    let checker: SandboxContract<AttestationChecker>;
    let network: number;

    function config(threshold: number): AttestationCheckerConfig {
        return {
            signers: { epoch: EPOCH, threshold, publicKeys: keys.map((k) => k.publicKey) },
            previous: { epoch: PREVIOUS_EPOCH, threshold: 2, publicKeys: previousKeys.map((k) => k.publicKey) },
            graceUntil: GRACE_UNTIL,
            maxRisk: MAX_RISK,
            forbidden: FORBIDDEN,
            maxSkew: MAX_SKEW,
        };
    }

    beforeAll(async () => {
        code = await compile('AttestationChecker');
        blockchain = await Blockchain.create();
        blockchain.now = T0;
        network = configGlobalId(blockchain);
        deployer = await blockchain.treasury('deployer');
        subject = (await blockchain.treasury('subject')).address;
        keys = await freshKeys(5);
        previousKeys = await freshKeys(3);
        checkers = {};
        for (const t of [1, 2, 3]) {
            checkers[t] = blockchain.openContract(AttestationChecker.createFromConfig(config(t), code));
            const deploy = await checkers[t].sendDeploy(deployer.getSender(), toNano('1'));
            expect(deploy.transactions).toHaveTransaction({ to: checkers[t].address, deploy: true, success: true });
        }
        checker = checkers[2];
        snapshot = blockchain.snapshot();
    });

    afterEach(async () => {
        await blockchain.loadFrom(snapshot);
    });

    /** A valid attestation for `checker`, with `over` applied. */
    function attestation(over: Partial<Attestation> = {}): Attestation {
        return {
            network,
            verifier: checker.address,
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

    /** Signs `cell` with the current keys at `indexes` (in the order given). */
    function bundle(cell: Cell, indexes: number[], signerKeys: KeyPair[] = keys): Cell {
        return signatureBundleToCell(entries(cell, indexes, signerKeys));
    }

    function entries(cell: Cell, indexes: number[], signerKeys: KeyPair[] = keys): SignatureEntry[] {
        const signed = signWith(cell, indexes.map((index) => ({ index, secretKey: signerKeys[index].secretKey })));
        return indexes.map((i) => signed.find((e) => e.signer === i)!);
    }

    async function send(
        att: Cell,
        signatures: Cell,
        opts: { to?: SandboxContract<AttestationChecker>; subject?: Address; now?: number } = {},
    ) {
        const to = opts.to ?? checker;
        blockchain.now = opts.now ?? T0 + 10;
        const result = await to.sendCheckAttestation(deployer.getSender(), toNano('0.1'), {
            subject: opts.subject ?? subject,
            attestation: att,
            signatures,
        });
        return { result, to };
    }

    async function expectAccepted(att: Cell, signatures: Cell, opts: Parameters<typeof send>[2] = {}) {
        const { result, to } = await send(att, signatures, opts);
        expect(result.transactions).toHaveTransaction({ from: deployer.address, to: to.address, success: true, exitCode: 0 });
    }

    async function expectRefused(code: number, att: Cell, signatures: Cell, opts: Parameters<typeof send>[2] = {}) {
        const { result, to } = await send(att, signatures, opts);
        expect(result.transactions).toHaveTransaction({ from: deployer.address, to: to.address, success: false, exitCode: code });
    }

    /** A valid cell and a threshold bundle for it. */
    function signed(over: Partial<Attestation> = {}, indexes = [0, 1]) {
        const cell = attestationToCell(attestation(over));
        return { cell, sigs: bundle(cell, indexes) };
    }

    it('deploys with its signer set and policy', async () => {
        expect(await checker.getSignerSet()).toEqual({ epoch: EPOCH, threshold: 2, count: 5 });
        expect(await checker.getPolicy()).toEqual({
            maxRisk: MAX_RISK,
            forbidden: FORBIDDEN,
            maxSkew: MAX_SKEW,
            graceUntil: GRACE_UNTIL,
        });
        expect(network).toBe(Network.mainnet);
    });

    it('returns the nonce and valid_until of an accepted attestation', async () => {
        const { cell, sigs } = signed({ nonce: 0xfedcba9876543210n, validUntil: T0 + 777 });
        blockchain.now = T0 + 10;
        expect(await checker.getVerifyAttestation(cell, sigs, subject)).toEqual({
            nonce: 0xfedcba9876543210n,
            validUntil: T0 + 777,
        });
    });

    // 256 malformed_attestation
    it('accepts an attestation of exactly 798 bits and no refs', async () => {
        const { cell, sigs } = signed();
        expect(cell.bits.length).toBe(798);
        await expectAccepted(cell, sigs);
    });

    it('refuses an attestation with an extra bit (256)', async () => {
        const cell = beginCell().store(storeAttestation(attestation())).storeBit(0).endCell();
        await expectRefused(Errors.malformedAttestation, cell, bundle(cell, [0, 1]));
    });

    it('refuses an attestation with a missing bit (256)', async () => {
        const full = attestationToCell(attestation()).beginParse();
        const cell = beginCell().storeBits(full.loadBits(797)).endCell();
        await expectRefused(Errors.malformedAttestation, cell, bundle(cell, [0, 1]));
    });

    it('refuses an attestation with a ref (256)', async () => {
        const cell = beginCell().store(storeAttestation(attestation())).storeRef(Cell.EMPTY).endCell();
        await expectRefused(Errors.malformedAttestation, cell, bundle(cell, [0, 1]));
    });

    // 257 unknown_tag
    it('accepts the attestation tag 0x1bb33317', async () => {
        const { cell, sigs } = signed({ tag: 0x1bb33317 });
        await expectAccepted(cell, sigs);
    });

    it('refuses another tag (257)', async () => {
        const { cell, sigs } = signed({ tag: 0x1bb33318 });
        await expectRefused(Errors.unknownTag, cell, sigs);
    });

    // 258 wrong_network
    it('accepts an attestation for this network', async () => {
        const { cell, sigs } = signed({ network: Network.mainnet });
        await expectAccepted(cell, sigs);
    });

    it('refuses an attestation for testnet (258)', async () => {
        const { cell, sigs } = signed({ network: Network.testnet });
        await expectRefused(Errors.wrongNetwork, cell, sigs);
    });

    // 259 wrong_verifier
    it('accepts an attestation for this checker', async () => {
        const { cell, sigs } = signed({ verifier: checkers[1].address }, [0]);
        await expectAccepted(cell, sigs, { to: checkers[1] });
    });

    it('refuses an attestation for another checker (259)', async () => {
        const { cell, sigs } = signed({ verifier: checkers[3].address }, [0, 1, 2]);
        await expectRefused(Errors.wrongVerifier, cell, sigs, { to: checkers[1] });
    });

    // 260 wrong_subject
    it('accepts an attestation about the screened address', async () => {
        const { cell, sigs } = signed();
        await expectAccepted(cell, sigs, { subject });
    });

    it('refuses an attestation about another address (260)', async () => {
        const { cell, sigs } = signed();
        await expectRefused(Errors.wrongSubject, cell, sigs, { subject: otherAddress(subject) });
    });

    // 261 expired
    it('accepts an attestation at valid_until - 1 and at valid_until', async () => {
        const { cell, sigs } = signed({ validUntil: T0 + 100 });
        await expectAccepted(cell, sigs, { now: T0 + 99 });
        await expectAccepted(cell, sigs, { now: T0 + 100 });
    });

    it('refuses an attestation at valid_until + 1 (261)', async () => {
        const { cell, sigs } = signed({ validUntil: T0 + 100 });
        await expectRefused(Errors.expired, cell, sigs, { now: T0 + 101 });
    });

    // 262 not_yet_valid
    it('accepts an attestation issued at now + max_skew', async () => {
        const { cell, sigs } = signed({ issuedAt: T0 + 10 + MAX_SKEW });
        await expectAccepted(cell, sigs, { now: T0 + 10 });
    });

    it('refuses an attestation issued at now + max_skew + 1 (262)', async () => {
        const { cell, sigs } = signed({ issuedAt: T0 + 10 + MAX_SKEW + 1 });
        await expectRefused(Errors.notYetValid, cell, sigs, { now: T0 + 10 });
    });

    // 263 risk_too_high
    it('accepts risk == max_risk', async () => {
        const { cell, sigs } = signed({ risk: MAX_RISK });
        await expectAccepted(cell, sigs);
    });

    it('refuses risk == max_risk + 1 (263)', async () => {
        const { cell, sigs } = signed({ risk: MAX_RISK + 1 });
        await expectRefused(Errors.riskTooHigh, cell, sigs);
    });

    // 273 risk_out_of_range: the strict decoder's bound, before the policy's
    it('refuses risk 101 as out of range, not merely too high (273)', async () => {
        const { cell, sigs } = signed({ risk: 101 });
        await expectRefused(Errors.riskOutOfRange, cell, sigs);
    });

    // 272 invalid_validity
    it('accepts a lifetime of exactly 86,400 s and of 0 s', async () => {
        for (const [issuedAt, validUntil] of [[T0, T0 + 86_400], [T0 + 10, T0 + 10]]) {
            const { cell, sigs } = signed({ issuedAt, validUntil });
            await expectAccepted(cell, sigs);
        }
    });

    it('refuses a lifetime of 86,401 s, and valid_until before issued_at (272)', async () => {
        for (const [issuedAt, validUntil] of [[T0, T0 + 86_401], [T0 + 11, T0 + 10], [T0 + 10, 0xffffffff]]) {
            const { cell, sigs } = signed({ issuedAt, validUntil });
            await expectRefused(Errors.invalidValidity, cell, sigs);
        }
    });

    // 264 forbidden_category
    it('accepts categories disjoint from the forbidden set', async () => {
        const { cell, sigs } = signed({ categories: Category.exchange | Category.scam | Category.gambling });
        await expectAccepted(cell, sigs);
    });

    it('refuses categories intersecting the forbidden set (264)', async () => {
        const { cell, sigs } = signed({ categories: Category.exchange | Category.mixer });
        await expectRefused(Errors.forbiddenCategory, cell, sigs);
    });

    // 265 unknown_epoch
    it('accepts the previous epoch until grace_until', async () => {
        const cell = attestationToCell(attestation({ epoch: PREVIOUS_EPOCH, validUntil: GRACE_UNTIL + 600 }));
        await expectAccepted(cell, bundle(cell, [0, 2], previousKeys), { now: GRACE_UNTIL });
    });

    it('refuses the previous epoch after grace_until (265)', async () => {
        const cell = attestationToCell(attestation({ epoch: PREVIOUS_EPOCH, validUntil: GRACE_UNTIL + 600 }));
        await expectRefused(Errors.unknownEpoch, cell, bundle(cell, [0, 2], previousKeys), { now: GRACE_UNTIL + 1 });
    });

    it('refuses an epoch that is neither current nor previous (265)', async () => {
        const { cell, sigs } = signed({ epoch: EPOCH + 1 });
        await expectRefused(Errors.unknownEpoch, cell, sigs);
    });

    it('refuses the previous epoch signed with current keys (268)', async () => {
        const cell = attestationToCell(attestation({ epoch: PREVIOUS_EPOCH }));
        await expectRefused(Errors.badSignature, cell, bundle(cell, [0, 1]));
    });

    // 266 unknown_signer
    it('accepts the last signer index (count - 1)', async () => {
        const { cell, sigs } = signed({}, [3, 4]);
        await expectAccepted(cell, sigs);
    });

    it('refuses a signer index >= count (266)', async () => {
        const cell = attestationToCell(attestation());
        const sigs = signatureBundleToCell([...entries(cell, [0]), { signer: 5, signature: Buffer.alloc(64) }]);
        await expectRefused(Errors.unknownSigner, cell, sigs);
    });

    // 267 signer_order
    it('accepts strictly increasing signer indexes across key cells', async () => {
        const { cell, sigs } = signed({}, [1, 2, 3, 4]);
        await expectAccepted(cell, sigs);
    });

    it('refuses a duplicate signer index (267)', async () => {
        const cell = attestationToCell(attestation());
        await expectRefused(Errors.signerOrder, cell, signatureBundleToCell([...entries(cell, [1]), ...entries(cell, [1])]));
    });

    it('refuses out-of-order signer indexes (267)', async () => {
        const cell = attestationToCell(attestation());
        await expectRefused(Errors.signerOrder, cell, bundle(cell, [3, 1]));
    });

    // 268 bad_signature
    it('accepts signatures by the indexed keys', async () => {
        const { cell, sigs } = signed({}, [0, 4]);
        await expectAccepted(cell, sigs);
    });

    it('refuses a forged signature (268)', async () => {
        const cell = attestationToCell(attestation());
        const forged = entries(cell, [0, 1]);
        forged[1] = { signer: 1, signature: signWith(cell, [{ index: 1, secretKey: keys[2].secretKey }])[0].signature };
        await expectRefused(Errors.badSignature, cell, signatureBundleToCell(forged));
    });

    it('refuses a signature over another attestation (268)', async () => {
        const cell = attestationToCell(attestation());
        const other = attestationToCell(attestation({ nonce: 43n }));
        await expectRefused(Errors.badSignature, cell, bundle(other, [0, 1]));
    });

    // 269 too_few_signatures: k of 5 accepted at threshold k, k - 1 refused
    for (const k of [1, 2, 3]) {
        it(`accepts ${k} of 5 signatures at threshold ${k}`, async () => {
            const cell = attestationToCell(attestation({ verifier: checkers[k].address }));
            await expectAccepted(cell, bundle(cell, [0, 2, 4].slice(0, k)), { to: checkers[k] });
        });
    }

    for (const k of [2, 3]) {
        it(`refuses ${k - 1} of 5 signatures at threshold ${k} (269)`, async () => {
            const cell = attestationToCell(attestation({ verifier: checkers[k].address }));
            await expectRefused(Errors.tooFewSignatures, cell, bundle(cell, [0, 2, 4].slice(0, k - 1)), { to: checkers[k] });
        });
    }

    it('accepts more signatures than the threshold', async () => {
        const { cell, sigs } = signed({}, [0, 1, 2, 3, 4]);
        await expectAccepted(cell, sigs);
    });

    // 270 malformed_signatures
    it('accepts signature entries of 521 bits with a ref exactly when flagged', async () => {
        const { cell, sigs } = signed({}, [0, 1]);
        expect(sigs.bits.length).toBe(521);
        expect(sigs.refs.length).toBe(1);
        await expectAccepted(cell, sigs);
    });

    it('refuses a signature entry with a missing bit (270)', async () => {
        const cell = attestationToCell(attestation());
        const [first, second] = entries(cell, [0, 1]);
        const last = beginCell().storeUint(second.signer, 8).storeBuffer(second.signature).endCell(); // no Maybe bit
        const sigs = beginCell().storeUint(first.signer, 8).storeBuffer(first.signature).storeMaybeRef(last).endCell();
        await expectRefused(Errors.malformedSignatures, cell, sigs);
    });

    it('refuses a signature entry with a ref its Maybe bit does not announce (270)', async () => {
        const cell = attestationToCell(attestation());
        const [first, second] = entries(cell, [0, 1]);
        const sigs = beginCell()
            .storeUint(first.signer, 8)
            .storeBuffer(first.signature)
            .storeBit(0)
            .storeRef(signatureBundleToCell([second]))
            .endCell();
        await expectRefused(Errors.malformedSignatures, cell, sigs);
    });

    it('refuses a signature entry with two refs (270)', async () => {
        const cell = attestationToCell(attestation());
        const [first, second] = entries(cell, [0, 1]);
        const sigs = beginCell()
            .storeUint(first.signer, 8)
            .storeBuffer(first.signature)
            .storeMaybeRef(signatureBundleToCell([second]))
            .storeRef(Cell.EMPTY)
            .endCell();
        await expectRefused(Errors.malformedSignatures, cell, sigs);
    });

    // 271 unknown_op
    it('accepts the parse_only op without verifying', async () => {
        const cell = attestationToCell(attestation({ network: Network.testnet }));
        blockchain.now = T0 + 10;
        const result = await checker.sendParseOnly(deployer.getSender(), toNano('0.1'), {
            subject,
            attestation: cell,
            signatures: bundle(cell, [0]),
        });
        expect(result.transactions).toHaveTransaction({ to: checker.address, success: true });
    });

    it('refuses an unknown op (271)', async () => {
        const result = await deployer.send({
            to: checker.address,
            value: toNano('0.1'),
            body: beginCell().storeUint(0xdeadbeef, 32).storeUint(0, 64).endCell(),
        });
        expect(result.transactions).toHaveTransaction({ to: checker.address, success: false, exitCode: Errors.unknownOp });
    });
});
