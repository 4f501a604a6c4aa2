// The golden vectors written by the Rust sdk (tests/vectors/attestations.json, SPEC.md §8) must be
// read, rebuilt and verified identically by @ton/core, @ton/crypto and the FunC library.

import { Blockchain, createShardAccount, internal } from '@ton/sandbox';
import { Address, Cell, toNano, Transaction } from '@ton/core';
import { signVerify } from '@ton/crypto';
import { compile } from '@ton/blueprint';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import '@ton/test-utils';
import {
    AttestationFormatError,
    attestationToCell,
    parseAttestation,
    parseSignatureBundle,
    signatureBundleToCell,
} from '../wrappers/Attestation';
import { AttestationChecker, attestationCheckerConfigToCell } from '../wrappers/AttestationChecker';
import { Errors, Tag } from '../wrappers/Constants';
import { configGlobalId, flipBit, setConfigGlobalId } from './checker-fixture';
import { attestationFromFields, normalizedFields, parseTag, VectorFields } from './vector-fields';

const VECTORS_PATH = join(__dirname, '..', '..', 'tests', 'vectors', 'attestations.json');

type Vector = {
    name: string;
    fields: VectorFields;
    boc: string;
    hash: string;
    public_keys: string[];
    signatures: { index: number; signature: string }[];
    bundle: string;
};

const vectors: Vector[] = existsSync(VECTORS_PATH) ? JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) : [];

function exitCode(tx: Transaction): number {
    if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') return -1;
    return tx.description.computePhase.exitCode;
}

describe('Golden vectors', () => {
    let code: Cell;

    beforeAll(async () => {
        code = await compile('AttestationChecker');
    });

    it('finds the golden vectors file', () => {
        if (!existsSync(VECTORS_PATH)) {
            throw new Error(
                `${VECTORS_PATH} is missing: the sdk writes it (TOLLGATE_REGENERATE=1 cargo test -p tollgate-sdk golden_vectors)`,
            );
        }
        expect(vectors.length).toBeGreaterThan(0);
    });

    describe.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
        const cell = Cell.fromBase64(v.boc);
        const known = parseTag(v.fields.tag) === Tag.attestation;
        // The sandbox cannot run at unix time 0 (the emulator takes 0 as "use the wall clock"), so a
        // vector valid only at time 0 runs at now = 1, where the checker must call it expired.
        const now = Math.max(v.fields.valid_until, 1);
        const runnable = now === v.fields.valid_until;
        const accepted = !known ? Errors.unknownTag : runnable ? 0 : Errors.expired;

        it('has the hash of its BoC', () => {
            expect(cell.hash().toString('hex')).toBe(v.hash.toLowerCase());
        });

        it('is built byte for byte from its fields by @ton/core', () => {
            const built = attestationToCell(attestationFromFields(v.fields));
            expect(built.hash().toString('hex')).toBe(v.hash.toLowerCase());
            expect(built.toBoc().toString('base64')).toBe(v.boc);
        });

        it('parses to its fields', () => {
            if (!known) {
                expect(() => parseAttestation(cell)).toThrow(AttestationFormatError);
                return;
            }
            expect(normalizedFields(parseAttestation(cell))).toEqual(normalizedFields(attestationFromFields(v.fields)));
        });

        it('has signatures that @ton/crypto verifies', () => {
            for (const { index, signature } of v.signatures) {
                const key = Buffer.from(v.public_keys[index], 'hex');
                expect(signVerify(cell.hash(), Buffer.from(signature, 'hex'), key)).toBe(true);
            }
        });

        it('has a bundle of its signatures, in order', () => {
            const bundle = Cell.fromBase64(v.bundle);
            const entries = parseSignatureBundle(bundle);
            expect(entries.map((e) => ({ index: e.signer, signature: e.signature.toString('hex') }))).toEqual(
                v.signatures.map((s) => ({ index: s.index, signature: s.signature.toLowerCase() })),
            );
            expect(signatureBundleToCell(entries).toBoc().toString('base64')).toBe(v.bundle);
        });

        describe('on-chain, a checker at its verifier address', () => {
            let blockchain: Blockchain;
            const verifier = Address.parseRaw(v.fields.verifier);
            const subject = Address.parseRaw(v.fields.subject);
            const sender = Address.parseRaw('0:' + '77'.repeat(32));

            beforeAll(async () => {
                blockchain = await Blockchain.create();
                if (configGlobalId(blockchain) !== v.fields.network) setConfigGlobalId(blockchain, v.fields.network);
                // Inside the window: valid_until is inclusive and issued_at <= valid_until.
                blockchain.now = now;
                const data = attestationCheckerConfigToCell({
                    signers: {
                        epoch: v.fields.epoch,
                        threshold: v.signatures.length,
                        publicKeys: v.public_keys.map((k) => Buffer.from(k, 'hex')),
                    },
                    maxRisk: 255,
                    forbidden: 0,
                    maxSkew: 0,
                });
                await blockchain.setShardAccount(
                    verifier,
                    createShardAccount({ address: verifier, code, data, balance: toNano('10') }),
                );
            });

            async function check(attestation: Cell, signatures: Cell) {
                const body = AttestationChecker.checkAttestationMessage({ subject, attestation, signatures });
                const result = await blockchain.sendMessage(
                    internal({ from: sender, to: verifier, value: toNano('1'), body }),
                );
                const tx = result.transactions.find((t) => t.inMessage?.info.dest?.toString() === verifier.toString());
                expect(tx).toBeDefined();
                return exitCode(tx!);
            }

            it(accepted === 0 ? 'accepts it' : `refuses it with ${accepted}`, async () => {
                expect(await check(cell, Cell.fromBase64(v.bundle))).toBe(accepted);
            });

            it('refuses it with a random bit flipped', async () => {
                const bit = Math.floor(Math.random() * cell.bits.length);
                const code = await check(flipBit(cell, bit), Cell.fromBase64(v.bundle));
                expect({ bit, code: code >= 256 }).toEqual({ bit, code: true });
            });

            it('refuses it with a bit of a signature flipped (268)', async () => {
                if (accepted !== 0) return;
                const entries = parseSignatureBundle(Cell.fromBase64(v.bundle));
                const i = Math.floor(Math.random() * entries.length);
                const signature = Buffer.from(entries[i].signature);
                signature[Math.floor(Math.random() * 64)] ^= 1 << Math.floor(Math.random() * 8);
                entries[i] = { ...entries[i], signature };
                expect(await check(cell, signatureBundleToCell(entries))).toBe(Errors.badSignature);
            });
        });
    });
});

