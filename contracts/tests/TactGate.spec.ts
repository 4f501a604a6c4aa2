// The Tact trait AttestationVerifier, through the example contract TactGate: the golden vectors
// give the same results as the FunC library, and the same transfers get the same outcome and the
// same refund codes as the FunC ComplianceGate.

import { Blockchain, createShardAccount, internal, SandboxContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import '@ton/test-utils';
import { Attestation, attestationToCell, signatureBundleToCell, signerSetToCell, signWith, SMALL_ORDER_KEYS } from '../wrappers/Attestation';
import { AttestationProof, ComplianceGate, GateTransfer, Screen } from '../wrappers/ComplianceGate';
import { Category, Errors, Network, Op, Tag } from '../wrappers/Constants';
import { compileTactGate, TactGate, tactGateConfigToCell } from '../wrappers/TactGate';
import { configGlobalId, freshKeys, otherAddress, setConfigGlobalId } from './checker-fixture';
import {
    attestationFor,
    balanceOf,
    BlockchainSnapshot,
    bundleOf,
    EPOCH,
    FORBIDDEN,
    forwards,
    GATE_BALANCE,
    gateOutgoing,
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

jest.setTimeout(300_000);

const VALUE = toNano('1');

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

describe('TactGate gate_transfer, against the FunC ComplianceGate (one shared table)', () => {
    let w: GateWorld;
    // by screen: the FunC gate and the Tact gate with the same signer sets and policy
    const pairs: Record<number, { func: SandboxContract<ComplianceGate>; tact: SandboxContract<TactGate> }> = {};
    let snapshot: BlockchainSnapshot;

    beforeAll(async () => {
        w = await gateWorld();
        for (const screen of [Screen.none, Screen.destination, Screen.both]) {
            const tact = w.blockchain.openContract(
                TactGate.createFromConfig(
                    {
                        signers: { epoch: EPOCH, threshold: 2, publicKeys: w.keys.map((k) => k.publicKey) },
                        previous: { epoch: PREVIOUS_EPOCH, threshold: 2, publicKeys: w.previousKeys.map((k) => k.publicKey) },
                        graceUntil: GRACE_UNTIL,
                        maxRisk: MAX_RISK,
                        forbidden: FORBIDDEN,
                        maxSkew: MAX_SKEW,
                        screen,
                    },
                    tactCode,
                ),
            );
            await tact.sendDeploy(w.admin.getSender(), GATE_BALANCE);
            pairs[screen] = { func: w.gates[screen], tact };
        }
        snapshot = w.blockchain.snapshot();
    });

    afterEach(async () => {
        await w.blockchain.loadFrom(snapshot);
    });

    /** What a case sends: a body built for the gate at `gate` (proofs name their verifier). */
    type Case = {
        screen?: number;
        body: (gate: Address) => Cell;
        value?: bigint;
        now?: number;
    };

    /** The outcome, as a sender and a payee see it: what was forwarded (exactly, when a response
     *  address makes the amount exact), the refund code, whom the gate paid, and whether the gate's
     *  balance changed by more than its rent. */
    async function outcome(gate: Address, c: Case) {
        w.blockchain.now = c.now ?? T0 + 10;
        const before = await balanceOf(w, gate);
        const r = await w.alice.send({ to: gate, value: c.value ?? VALUE, body: c.body(gate) });
        const gateTx = txTo(r, gate, w.alice.address);
        const d = gateTx.description;
        const rent = d.type === 'generic' ? d.storagePhase?.storageFeesCollected ?? 0n : 0n;
        const out = gateOutgoing(r, gate);
        const fwd = forwards(r, gate);
        const ref = refunds(r, gate);
        const bounceRefund = ref.find((x) => x.error === Errors.forwardBounced);
        return {
            aborted: d.type === 'generic' && d.aborted, // the message bounced instead of a refund
            forwarded: fwd.map((f) => ({ to: f.to.toRawString(), bounce: f.bounce, sender: ComplianceGate.parseForward(f.body).sender.toRawString() })),
            forwardValue: fwd.map((f) => f.value),
            refund: ref.map((x) => [x.error, x.queryId]),
            paid: out.map((m) => m.to.toRawString()).sort(),
            excess: out.filter((m) => m.op === Op.gateExcess).length,
            gateKept: (await balanceOf(w, gate)) - before + rent, // 0, or a dropped excess / a bounce's value
            bounceRefunded: !!bounceRefund,
        };
    }

    /** Runs `c` through both gates of its screen and checks they agree. */
    async function agree(c: Case, exact: boolean) {
        const { func, tact } = pairs[c.screen ?? Screen.destination];
        const a = await outcome(func.address, c);
        await w.blockchain.loadFrom(snapshot);
        const b = await outcome(tact.address, c);
        await w.blockchain.loadFrom(snapshot);
        const norm = (o: typeof a) => ({ ...o, forwardValue: exact ? o.forwardValue : o.forwardValue.map(() => 'all less fees'), gateKept: o.gateKept === 0n ? 0n : 'dust' });
        expect(norm(b)).toEqual(norm(a));
        for (const o of [a, b]) {
            expect(o.gateKept).toBeGreaterThanOrEqual(0n); // never pays from its own balance
            expect(o.gateKept).toBeLessThan(toNano('0.001')); // keeps at most an unsendable excess
        }
        return a;
    }

    const transfer = (t: Omit<Partial<GateTransfer>, 'destinationProof' | 'senderProof'> & { destinationProof?: (gate: Address) => AttestationProof | null; senderProof?: (gate: Address) => AttestationProof | null }) => (gate: Address) =>
        ComplianceGate.transferMessage({
            destination: w.bob.address,
            ...t,
            destinationProof: t.destinationProof ? t.destinationProof(gate) : null,
            senderProof: t.senderProof ? t.senderProof(gate) : null,
        } as GateTransfer);
    const dp = (over: Partial<Attestation> = {}, indexes = [0, 1], subject?: Address) => (gate: Address) => proofOf(attestationFor(w, gate, subject ?? w.bob.address, over), indexes, w.keys);
    const sp = (over: Partial<Attestation> = {}) => (gate: Address) => proofOf(attestationFor(w, gate, w.alice.address, over), [0, 1], w.keys);
    const raw = (build: (b: ReturnType<typeof beginCell>) => void) => () => {
        const b = beginCell();
        build(b);
        return b.endCell();
    };

    // [name, case, expected refund code (0: forwarded), exact amount?]
    const table: [string, () => Case, number, boolean?][] = [
        ['a valid attestation', () => ({ body: transfer({ destinationProof: dp() }) }), 0],
        ['ungated, no attestation', () => ({ screen: Screen.none, body: transfer({}) }), 0],
        ['no attestation', () => ({ body: transfer({}) }), Errors.missingAttestation],
        ['a proof of another tag', () => ({ body: transfer({ destinationProof: (g) => ({ ...dp()(g), tag: 0x5c1324ac }) }) }), Errors.unknownTag],
        ['an unknown attestation tag', () => ({ body: transfer({ destinationProof: dp({ tag: 0x1bb33318 }) }) }), Errors.unknownTag],
        ['the other network', () => ({ body: transfer({ destinationProof: dp({ network: w.network === Network.mainnet ? Network.testnet : Network.mainnet }) }) }), Errors.wrongNetwork],
        ['another verifier', () => ({ body: transfer({ destinationProof: (g) => proofOf(attestationFor(w, otherAddress(g), w.bob.address), [0, 1], w.keys) }) }), Errors.wrongVerifier],
        ['another subject', () => ({ body: transfer({ destinationProof: dp({}, [0, 1], w.alice.address) }) }), Errors.wrongSubject],
        ['valid_until before issued_at', () => ({ body: transfer({ destinationProof: dp({ issuedAt: T0 + 11, validUntil: T0 + 10 }) }) }), Errors.invalidValidity],
        ['a lifetime above a day', () => ({ body: transfer({ destinationProof: dp({ issuedAt: T0, validUntil: T0 + 86_401 }) }) }), Errors.invalidValidity],
        ['expired', () => ({ body: transfer({ destinationProof: dp({ validUntil: T0 + 9 }) }) }), Errors.expired],
        ['from the future', () => ({ body: transfer({ destinationProof: dp({ issuedAt: T0 + 11 + MAX_SKEW, validUntil: T0 + 1000 }) }) }), Errors.notYetValid],
        ['a risk above 100', () => ({ body: transfer({ destinationProof: dp({ risk: 101 }) }) }), Errors.riskOutOfRange],
        ['too high a risk', () => ({ body: transfer({ destinationProof: dp({ risk: MAX_RISK + 1 }) }) }), Errors.riskTooHigh],
        ['a forbidden category', () => ({ body: transfer({ destinationProof: dp({ categories: Category.sanctions }) }) }), Errors.forbiddenCategory],
        ['an unknown epoch', () => ({ body: transfer({ destinationProof: dp({ epoch: EPOCH + 1 }) }) }), Errors.unknownEpoch],
        ['an unknown signer', () => ({ body: transfer({ destinationProof: (g) => {
            const cell = attestationToCell(attestationFor(w, g, w.bob.address));
            return { attestation: cell, signatures: signatureBundleToCell([...signWith(cell, [{ index: 0, secretKey: w.keys[0].secretKey }]), { signer: 9, signature: Buffer.alloc(64) }]) };
        } }) }), Errors.unknownSigner],
        ['a duplicate signer', () => ({ body: transfer({ destinationProof: dp({}, [1, 1]) }) }), Errors.signerOrder],
        ['a bad signature', () => ({ body: transfer({ destinationProof: (g) => {
            const cell = attestationToCell(attestationFor(w, g, w.bob.address));
            return { attestation: cell, signatures: bundleOf(attestationToCell(attestationFor(w, g, w.bob.address, { nonce: 1n })), [0, 1], w.keys) };
        } }) }), Errors.badSignature],
        ['k − 1 signatures', () => ({ body: transfer({ destinationProof: dp({}, [4]) }) }), Errors.tooFewSignatures],
        ['the previous set within grace', () => ({ body: transfer({ destinationProof: (g) => proofOf(attestationFor(w, g, w.bob.address, { epoch: PREVIOUS_EPOCH }), [1, 2], w.previousKeys) }) }), 0],
        ['the previous set after grace', () => ({ now: GRACE_UNTIL + 1, body: transfer({ destinationProof: (g) => proofOf(attestationFor(w, g, w.bob.address, { epoch: PREVIOUS_EPOCH, validUntil: GRACE_UNTIL + 100 }), [1, 2], w.previousKeys) }) }), Errors.unknownEpoch],
        ['both screened, both good', () => ({ screen: Screen.both, body: transfer({ destinationProof: dp(), senderProof: sp() }) }), 0],
        ['both screened, sender missing', () => ({ screen: Screen.both, body: transfer({ destinationProof: dp() }) }), Errors.missingAttestation],
        ['both screened, sender risky', () => ({ screen: Screen.both, body: transfer({ destinationProof: dp(), senderProof: sp({ risk: 90 }) }) }), Errors.riskTooHigh],
        ['an exact amount, excess to the sender', () => ({ body: transfer({ amount: toNano('0.3'), responseDestination: w.alice.address, destinationProof: dp() }) }), 0, true],
        ['an exact amount, excess to the destination', () => ({ body: transfer({ amount: toNano('0.3'), responseDestination: w.bob.address, destinationProof: dp() }) }), 0, true],
        ['an unscreened response address', () => ({ body: transfer({ amount: 1n, responseDestination: otherAddress(w.bob.address), destinationProof: dp() }) }), Errors.unscreenedResponse],
        ['the gate itself as response address', () => ({ body: (g) => transfer({ amount: 1n, responseDestination: g, destinationProof: dp() })(g) }), Errors.unscreenedResponse],
        ['a destination on workchain 5', () => ({ screen: Screen.none, body: transfer({ destination: new Address(5, w.bob.address.hash) }) }), Errors.badDestination],
        ['the whole value as amount', () => ({ body: transfer({ amount: VALUE, responseDestination: w.alice.address, destinationProof: dp() }) }), Errors.insufficientValue],
        ['a minimum amount above the value', () => ({ body: transfer({ amount: VALUE - 1n, destinationProof: dp() }) }), Errors.insufficientValue],
        ['a body too short for query_id', () => ({ body: raw((b) => b.storeUint(Op.gateTransfer, 32).storeUint(1, 40)) }), 9],
        ['a body with a trailing bit', () => ({ screen: Screen.none, body: (g) => beginCell().storeSlice(transfer({})(g).beginParse()).storeBit(1).endCell() }), 9],
        ['a truncated body', () => ({ screen: Screen.none, body: raw((b) => b.storeUint(Op.gateTransfer, 32).storeUint(7, 64).storeAddress(w.bob.address).storeUint(1, 3)) }), 9],
        ['a forward payload', () => ({ body: transfer({ destinationProof: dp(), forwardPayload: beginCell().storeUint(0xdeadbeef, 32).storeRef(beginCell().storeUint(1, 8)).endCell() }) }), 0],
    ];

    it.each(table.map(([name, make, code, exact]) => [name, code, make, exact ?? false] as const))('%s: both gates give the same outcome (%i)', async (_name, code, make, exact) => {
        const o = await agree(make(), exact);
        if (code === 0) {
            expect(o.forwarded).toHaveLength(1);
            expect(o.refund).toEqual([]);
        } else {
            expect(o.forwarded).toEqual([]);
            expect(o.refund.map(([e]) => e)).toEqual([code]);
        }
        expect(o.aborted).toBe(false);
    });

    it('bounces an unknown op (512) and a body too short for its query_id (9), both gates alike', async () => {
        for (const [body, code] of [
            [beginCell().storeUint(0x12345678, 32).storeUint(1, 64).endCell(), 512],
            [beginCell().storeUint(0, 32).storeUint(1, 64).endCell(), 512],
            [beginCell().storeUint(0x12345678, 32).endCell(), 9],
        ] as const) {
            for (const g of [pairs[Screen.destination].func.address, pairs[Screen.destination].tact.address]) {
                w.blockchain.now = T0 + 10;
                const r = await w.alice.send({ to: g, value: VALUE, body });
                expect(r.transactions).toHaveTransaction({ from: w.alice.address, to: g, success: false, exitCode: code });
                expect(r.transactions).toHaveTransaction({ from: g, to: w.alice.address, inMessageBounced: true });
                await w.blockchain.loadFrom(snapshot);
            }
        }
    });

    it('refunds a bounced forward with 520, both gates alike', async () => {
        const nobody = otherAddress(w.bob.address); // no account: the forward bounces
        const o = await agree({ body: transfer({ destination: nobody, destinationProof: dp({}, [0, 1], nobody), queryId: 12n }) }, false);
        expect(o.refund).toEqual([[Errors.forwardBounced, 12n]]);
        expect(o.bounceRefunded).toBe(true);
    });

    it('delivers the largest amount the fee check accepts, never out of its own balance (Tact tail constant)', async () => {
        // The Tact gate's TACT_GATE_TRANSFER_TAIL must bound its gas after the check, as
        // gas::transfer_tail does for the FunC gate: at the largest accepted amount the messages go
        // out and the gate keeps its balance.
        const { tact } = pairs[Screen.destination];
        let lo = 0n;
        let hi = VALUE;
        const body = (amount: bigint) => transfer({ amount, responseDestination: w.alice.address, destinationProof: dp() })(tact.address);
        while (hi - lo > 1n) {
            const mid = (lo + hi) / 2n;
            w.blockchain.now = T0 + 10;
            const r = await w.alice.send({ to: tact.address, value: VALUE, body: body(mid) });
            if (forwards(r, tact.address).length) lo = mid;
            else hi = mid;
            await w.blockchain.loadFrom(snapshot);
        }
        const before = await balanceOf(w, tact.address);
        w.blockchain.now = T0 + 10;
        const r = await w.alice.send({ to: tact.address, value: VALUE, body: body(lo) });
        const d = txTo(r, tact.address, w.alice.address).description;
        if (d.type !== 'generic') throw new Error('not generic');
        expect(d.actionPhase?.success).toBe(true);
        expect(forwards(r, tact.address)[0].value).toBe(lo);
        const kept = (await balanceOf(w, tact.address)) - before + (d.storagePhase?.storageFeesCollected ?? 0n);
        expect(kept).toBeGreaterThanOrEqual(0n);
        expect(kept).toBeLessThan(toNano('0.002'));
    });

    it('gives the same outcome on 60 random transfers', async () => {
        // A seeded mix of amounts, response addresses, screened parties, proof defects and times.
        let seed = 20261201;
        const rand = (n: number) => {
            seed = (seed * 1103515245 + 12345) % 2 ** 31;
            return seed % n;
        };
        const defects: Partial<Attestation>[] = [{}, {}, {}, { risk: 51 }, { risk: 101 }, { validUntil: T0 + 9 }, { categories: Category.mixer }, { epoch: EPOCH + 1 }, { issuedAt: T0 + 90_000, validUntil: T0 + 90_001 }, { nonce: 5n }];
        for (let i = 0; i < 60; i++) {
            const screen = [Screen.none, Screen.destination, Screen.both][rand(3)];
            const response = [null, w.alice.address, w.bob.address, otherAddress(w.alice.address)][rand(4)];
            const amount = [0n, 1n, BigInt(rand(1e9)), VALUE - toNano('0.01'), VALUE][rand(5)];
            const d = defects[rand(defects.length)];
            const s = defects[rand(defects.length)];
            const indexes = [[0, 1], [1, 3], [2], [0, 4]][rand(4)];
            const c: Case = {
                screen,
                now: T0 + rand(600),
                body: transfer({
                    amount,
                    responseDestination: response,
                    destinationProof: rand(8) ? dp(d, indexes) : undefined,
                    senderProof: rand(8) ? sp(s) : undefined,
                    queryId: BigInt(i),
                }),
            };
            await agree(c, response !== null);
        }
    });
});

describe('TactGate signer-set check (the trait)', () => {
    it('refuses a duplicate key and every small-order key, and returns the epoch of a good set (518)', async () => {
        const blockchain = await Blockchain.create();
        const keys = (await freshKeys(4)).map((k) => k.publicKey);
        const gate = blockchain.openContract(
            TactGate.createFromConfig({ signers: { epoch: 3, threshold: 2, publicKeys: keys }, maxRisk: 50, forbidden: 0, maxSkew: 0, screen: Screen.none }, tactCode),
        );
        const deployer = await blockchain.treasury('deployer');
        await gate.sendDeploy(deployer.getSender(), toNano('1'));
        expect(await gate.getCheckSignerSet(signerSetToCell({ epoch: 9, threshold: 2, publicKeys: keys }))).toBe(9);
        const refused = async (publicKeys: Buffer[]) =>
            expect(gate.getCheckSignerSet(signerSetToCell({ epoch: 9, threshold: 1, publicKeys }))).rejects.toThrow(/518/);
        await refused([keys[0], keys[1], keys[2], keys[1]]);
        for (const hex of SMALL_ORDER_KEYS) await refused([keys[0], Buffer.from(hex, 'hex')]);
        expect(() => tactGateConfigToCell({ signers: { epoch: 1, threshold: 1, publicKeys: [keys[0], keys[0]] }, maxRisk: 1, forbidden: 0, maxSkew: 0, screen: 0 })).toThrow('again');
    });
});
