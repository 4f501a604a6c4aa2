// The Tact trait AttestationVerifier, through the example contract TactGate: the golden vectors
// give the same results as the FunC library, and the same transfers get the same outcome and the
// same refund codes as the FunC ComplianceGate.

import { Blockchain, createShardAccount, internal, SandboxContract } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import '@ton/test-utils';
import { Attestation, attestationToCell, signatureBundleToCell, signWith } from '../wrappers/Attestation';
import { AttestationProof, ComplianceGate, Screen } from '../wrappers/ComplianceGate';
import { Category, Errors, Network, Tag } from '../wrappers/Constants';
import { compileTactGate, TactGate, tactGateConfigToCell } from '../wrappers/TactGate';
import { configGlobalId, otherAddress, setConfigGlobalId } from './checker-fixture';
import {
    attestationFor,
    balanceOf,
    BlockchainSnapshot,
    bundleOf,
    EPOCH,
    FORBIDDEN,
    forwards,
    GRACE_UNTIL,
    gateWorld,
    GateWorld,
    MAX_RISK,
    MAX_SKEW,
    PREVIOUS_EPOCH,
    proofOf,
    refunds,
    T0,
    txTo,
} from './gate-fixture';
import { parseTag, VectorFields } from './vector-fields';

jest.setTimeout(180_000);

const VECTORS_PATH = join(__dirname, '..', '..', 'tests', 'vectors', 'attestations.json');
type Vector = { name: string; fields: VectorFields; boc: string; public_keys: string[]; signatures: { index: number; signature: string }[]; bundle: string };
const vectors: Vector[] = existsSync(VECTORS_PATH) ? JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) : [];

let tactCode: Cell;

beforeAll(() => {
    tactCode = compileTactGate();
});

describe('TactGate golden vectors', () => {
    it('finds the golden vectors file', () => {
        expect(vectors.length).toBeGreaterThan(0);
    });

    describe.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
        const known = parseTag(v.fields.tag) === Tag.attestation;
        const now = Math.max(v.fields.valid_until, 1); // the sandbox cannot run at time 0
        const accepted = !known ? Errors.unknownTag : now === v.fields.valid_until ? 0 : Errors.expired;
        const verifier = Address.parseRaw(v.fields.verifier);
        const subject = Address.parseRaw(v.fields.subject);

        it(accepted === 0 ? 'is accepted by the trait at its verifier address' : `is refused by the trait with ${accepted}`, async () => {
            const blockchain = await Blockchain.create();
            if (configGlobalId(blockchain) !== v.fields.network) setConfigGlobalId(blockchain, v.fields.network);
            blockchain.now = now;
            const data = tactGateConfigToCell({
                signers: { epoch: v.fields.epoch, threshold: v.signatures.length, publicKeys: v.public_keys.map((k) => Buffer.from(k, 'hex')) },
                maxRisk: 255,
                forbidden: 0,
                maxSkew: 0,
                screen: Screen.destination,
            });
            await blockchain.setShardAccount(verifier, createShardAccount({ address: verifier, code: tactCode, data, balance: toNano('10') }));
            const gate = blockchain.openContract(TactGate.createFromAddress(verifier));
            const run = () => gate.getVerify(Cell.fromBase64(v.boc), Cell.fromBase64(v.bundle), subject);
            if (accepted === 0) {
                expect(await run()).toEqual({ nonce: BigInt(v.fields.nonce), validUntil: v.fields.valid_until });
            } else {
                await expect(run()).rejects.toThrow(new RegExp(`exit_code: ${accepted}|exit code ${accepted}|${accepted}`));
            }
        });
    });
});

describe('TactGate gate_transfer, against the FunC ComplianceGate', () => {
    let w: GateWorld;
    let tact: SandboxContract<TactGate>;
    let func: SandboxContract<ComplianceGate>;
    let snapshot: BlockchainSnapshot;

    beforeAll(async () => {
        w = await gateWorld();
        func = w.gates[Screen.destination];
        tact = w.blockchain.openContract(
            TactGate.createFromConfig(
                {
                    signers: { epoch: EPOCH, threshold: 2, publicKeys: w.keys.map((k) => k.publicKey) },
                    previous: { epoch: PREVIOUS_EPOCH, threshold: 2, publicKeys: w.previousKeys.map((k) => k.publicKey) },
                    graceUntil: GRACE_UNTIL,
                    maxRisk: MAX_RISK,
                    forbidden: FORBIDDEN,
                    maxSkew: MAX_SKEW,
                    screen: Screen.destination,
                },
                tactCode,
            ),
        );
        await tact.sendDeploy(w.admin.getSender(), toNano('0.2'));
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    /** Sends the same transfer, with a proof made for each gate by `make`, through both gates;
     *  returns each outcome: 0 when forwarded, else the refund code. Balances are checked. */
    async function both(make: (gate: Address) => AttestationProof | null, now = T0 + 10) {
        const outcome: number[] = [];
        for (const g of [func, tact] as { address: Address }[]) {
            w.blockchain.now = now;
            const gateBefore = await balanceOf(w, g.address);
            const bobBefore = await balanceOf(w, w.bob.address);
            const r = await (g as any).sendTransfer(w.alice.getSender(), toNano('1'), { destination: w.bob.address, destinationProof: make(g.address) });
            const fwd = forwards(r, g.address);
            const ref = refunds(r, g.address);
            expect(fwd.length + ref.length).toBe(1);
            expect(await balanceOf(w, g.address)).toBeGreaterThanOrEqual(gateBefore - 10_000n); // rent only
            if (fwd.length) {
                expect(fwd[0].value).toBeLessThan(toNano('1'));
                expect(await balanceOf(w, w.bob.address)).toBeGreaterThan(bobBefore);
                outcome.push(0);
            } else {
                expect(ref[0].to.equals(w.alice.address)).toBe(true);
                expect(await balanceOf(w, w.bob.address)).toBe(bobBefore);
                outcome.push(ref[0].error);
            }
        }
        return outcome;
    }

    const p = (over: Partial<Attestation> = {}, indexes = [0, 1]) => (gate: Address) => proofOf(attestationFor(w, gate, w.bob.address, over), indexes, w.keys);

    const cases: [string, number, () => (gate: Address) => AttestationProof | null, number?][] = [
        ['a valid attestation', 0, () => p()],
        ['no attestation', Errors.missingAttestation, () => () => null],
        ['an unknown tag', Errors.unknownTag, () => p({ tag: 0x1bb33318 })],
        ['the other network', Errors.wrongNetwork, () => p({ network: w.network === Network.mainnet ? Network.testnet : Network.mainnet })],
        ['another verifier', Errors.wrongVerifier, () => (gate: Address) => proofOf(attestationFor(w, otherAddress(gate), w.bob.address), [0, 1], w.keys)],
        ['another subject', Errors.wrongSubject, () => (gate: Address) => proofOf(attestationFor(w, gate, w.alice.address), [0, 1], w.keys)],
        ['an expired attestation', Errors.expired, () => p({ validUntil: T0 + 9 })],
        ['an attestation from the future', Errors.notYetValid, () => p({ issuedAt: T0 + 11 + MAX_SKEW, validUntil: T0 + 1000 })],
        ['too high a risk', Errors.riskTooHigh, () => p({ risk: MAX_RISK + 1 })],
        ['a forbidden category', Errors.forbiddenCategory, () => p({ categories: Category.sanctions })],
        ['an unknown epoch', Errors.unknownEpoch, () => p({ epoch: EPOCH + 1 })],
        ['an unknown signer', Errors.unknownSigner, () => (gate: Address) => {
            const cell = attestationToCell(attestationFor(w, gate, w.bob.address));
            return { attestation: cell, signatures: signatureBundleToCell([...signWith(cell, [{ index: 0, secretKey: w.keys[0].secretKey }]), { signer: 9, signature: Buffer.alloc(64) }]) };
        }],
        ['a duplicate signer', Errors.signerOrder, () => p({}, [1, 1])],
        ['a bad signature', Errors.badSignature, () => (gate: Address) => {
            const cell = attestationToCell(attestationFor(w, gate, w.bob.address));
            return { attestation: cell, signatures: bundleOf(attestationToCell(attestationFor(w, gate, w.bob.address, { nonce: 1n })), [0, 1], w.keys) };
        }],
        ['k − 1 signatures', Errors.tooFewSignatures, () => p({}, [4])],
        ['the previous set within grace', 0, () => (gate: Address) => proofOf(attestationFor(w, gate, w.bob.address, { epoch: PREVIOUS_EPOCH }), [1, 2], w.previousKeys)],
    ];

    it.each(cases.map(([name, code, make]) => [name, code, make] as const))('%s: both gates agree (%i)', async (_name, code, make) => {
        expect(await both(make())).toEqual([code, code]);
    });

    it('cannot accept the previous set after its grace deadline, like the FunC gate (265)', async () => {
        const make = (gate: Address) => proofOf(attestationFor(w, gate, w.bob.address, { epoch: PREVIOUS_EPOCH, validUntil: GRACE_UNTIL + 100 }), [1, 2], w.previousKeys);
        expect(await both(make, GRACE_UNTIL + 1)).toEqual([Errors.unknownEpoch, Errors.unknownEpoch]);
    });

    void txTo;
});
