// The compliant jetton's custom_payload as the Rust sdk builds it (tests/vectors/compliant-jetton.json,
// written by sdk/tests/compliant_vectors.rs), read with @ton/core field by field and rebuilt from
// its fields, and its signatures checked with @ton/crypto: the root key's over the certificate
// cell's hash, each signer's over the attestation's hash.

import { Address, beginCell, Cell, Slice } from '@ton/core';
import { signVerify } from '@ton/crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import * as zlib from 'zlib';
import { attestationToCell, loadStdAddress, parseAttestation, parseSignatureBundle, signatureBundleToCell, storeSignerSet } from '../wrappers/Attestation';
import { attestationFromFields, normalizedFields, VectorFields } from './vector-fields';
import { JettonOp } from './usdt-fixture';

// The two lines of the fixed format (helpers' format11, contracts/schema.tlb once merged), without
// their tags: the tags below must be their crc32 (the certificate keeps 32 bits, the auth 31).
const CERTIFICATE_LINE =
    'signer_certificate network:int32 minter:MsgAddressInt valid_until:uint32 max_risk:uint8 forbidden:uint32 max_skew:uint32 signers:SignerSet = SignerCertificate';
const AUTH_LINE =
    'compliance_auth root_signature:bits512 certificate:^SignerCertificate attestation:^Attestation signatures:^SignatureEntry = ComplianceAuth';
const SIGNER_CERTIFICATE_TAG = 0xe0adde86;
const COMPLIANCE_AUTH_TAG = 0x16b70dce;

type Vector = {
    name: string;
    root_public_key: string;
    root_signature: string;
    certificate: {
        network: number;
        minter: string;
        valid_until: number;
        max_risk: number;
        forbidden: number;
        max_skew: number;
        epoch: number;
        threshold: number;
        keys: string[];
    };
    certificate_boc: string;
    certificate_hash: string;
    attestation: VectorFields;
    attestation_hash: string;
    signatures: { index: number; signature: string }[];
    auth: string;
    auth_hash: string;
    now: number;
    transfer: {
        jetton_wallet: string;
        query_id: string;
        amount: string;
        destination: string;
        response_destination: string;
        forward_ton_amount: string;
        forward_payload: string | null;
        body: string;
        hash: string;
        attach: string;
    };
    ton_connect: { validUntil: number; network: string; from: string; messages: { address: string; amount: string; payload: string }[] };
};

const vectors: Vector[] = JSON.parse(readFileSync(join(__dirname, '..', '..', 'tests', 'vectors', 'compliant-jetton.json'), 'utf8'));

type Certificate = Vector['certificate'];

function certificateToCell(c: Certificate): Cell {
    return beginCell()
        .storeUint(SIGNER_CERTIFICATE_TAG, 32)
        .storeInt(c.network, 32)
        .storeAddress(Address.parseRaw(c.minter))
        .storeUint(c.valid_until, 32)
        .storeUint(c.max_risk, 8)
        .storeUint(c.forbidden, 32)
        .storeUint(c.max_skew, 32)
        .store(storeSignerSet({ epoch: c.epoch, threshold: c.threshold, publicKeys: c.keys.map((k) => Buffer.from(k, 'hex')) }))
        .endCell();
}

function parseCertificate(cell: Cell): Certificate {
    const s = cell.beginParse();
    expect(s.loadUint(32)).toBe(SIGNER_CERTIFICATE_TAG);
    const network = s.loadInt(32);
    const minter = loadStdAddress(s).toRawString();
    const valid_until = s.loadUint(32);
    const max_risk = s.loadUint(8);
    const forbidden = s.loadUint(32);
    const max_skew = s.loadUint(32);
    const epoch = s.loadUint(32);
    const threshold = s.loadUint(8);
    const count = s.loadUint(8);
    const keys: string[] = [];
    let k: Slice = s.loadRef().beginParse();
    s.endParse();
    for (;;) {
        while (k.remainingBits >= 256) keys.push(k.loadBuffer(32).toString('hex'));
        expect(k.remainingBits).toBe(0);
        if (k.remainingRefs === 0) break;
        k = k.loadRef().beginParse();
    }
    expect(keys.length).toBe(count);
    return { network, minter, valid_until, max_risk, forbidden, max_skew, epoch, threshold, keys };
}

describe('Compliant jetton vectors from the Rust sdk', () => {
    it('tags are the crc32 of the format lines', () => {
        const crc32 = (zlib as unknown as { crc32(data: string): number }).crc32;
        expect(crc32(CERTIFICATE_LINE) >>> 0).toBe(SIGNER_CERTIFICATE_TAG);
        expect((crc32(AUTH_LINE) & 0x7fffffff) >>> 0).toBe(COMPLIANCE_AUTH_TAG);
    });

    it('covers 1-of-1, 2-of-3, 16 keys, testnet and a masterchain minter', () => {
        expect(vectors.map((v) => `${v.certificate.threshold}/${v.certificate.keys.length}`)).toEqual(['1/1', '2/3', '9/16', '2/3', '1/2']);
        expect(vectors.some((v) => v.certificate.network === -3)).toBe(true);
        expect(vectors.some((v) => Address.parseRaw(v.certificate.minter).workChain === -1)).toBe(true);
    });

    for (const v of vectors) {
        describe(v.name, () => {
            const auth = Cell.fromBase64(v.auth);
            const root = Buffer.from(v.root_public_key, 'hex');

            it('@ton/core reads the ComplianceAuth and rebuilds the certificate from its fields', () => {
                expect(auth.hash().toString('hex')).toBe(v.auth_hash);
                const s = auth.beginParse();
                expect(s.loadUint(32)).toBe(COMPLIANCE_AUTH_TAG);
                expect(s.loadBuffer(64).toString('hex')).toBe(v.root_signature);
                const certificate = s.loadRef();
                const attestation = s.loadRef();
                const signatures = s.loadRef();
                s.endParse();
                expect(certificate.bits.length).toBe(483);
                expect(certificate.hash().toString('hex')).toBe(v.certificate_hash);
                expect(certificate.equals(Cell.fromBase64(v.certificate_boc))).toBe(true);
                expect(parseCertificate(certificate)).toEqual(v.certificate);
                expect(certificateToCell(v.certificate).hash().toString('hex')).toBe(v.certificate_hash);
                // the attestation: rebuilt from its fields, bound to the minter and the certificate
                const fields = attestationFromFields(v.attestation);
                expect(attestationToCell(fields).equals(attestation)).toBe(true);
                expect(attestation.hash().toString('hex')).toBe(v.attestation_hash);
                const a = parseAttestation(attestation);
                expect(normalizedFields(a)).toEqual(normalizedFields(fields));
                expect(a.verifier.equals(Address.parseRaw(v.certificate.minter))).toBe(true);
                expect(a.network).toBe(v.certificate.network);
                expect(a.epoch).toBe(v.certificate.epoch);
                expect(parseSignatureBundle(signatures).map((e) => e.signer)).toEqual(v.signatures.map((e) => e.index));
                expect(signatureBundleToCell(parseSignatureBundle(signatures)).equals(signatures)).toBe(true);
            });

            it('@ton/crypto verifies the root signature and a threshold of attestation signatures', () => {
                const s = auth.beginParse();
                s.skip(32);
                const rootSignature = s.loadBuffer(64);
                const certificate = s.loadRef();
                const attestation = s.loadRef();
                const entries = parseSignatureBundle(s.loadRef());
                expect(signVerify(certificate.hash(), rootSignature, root)).toBe(true);
                // one flipped bit of the certificate and the root signature no longer holds
                const tampered = certificateToCell({ ...v.certificate, max_risk: v.certificate.max_risk + 1 });
                expect(signVerify(tampered.hash(), rootSignature, root)).toBe(false);
                expect(entries.length).toBeGreaterThanOrEqual(v.certificate.threshold);
                for (const e of entries) {
                    const key = Buffer.from(v.certificate.keys[e.signer], 'hex');
                    expect(signVerify(attestation.hash(), e.signature, key)).toBe(true);
                }
            });

            it('the transfer carries it in custom_payload and TON Connect sends it to the jetton wallet', () => {
                const body = Cell.fromBase64(v.transfer.body);
                expect(body.hash().toString('hex')).toBe(v.transfer.hash);
                const s = body.beginParse();
                expect(s.loadUint(32)).toBe(JettonOp.transfer);
                expect(s.loadUintBig(64)).toBe(BigInt(v.transfer.query_id));
                expect(s.loadCoins()).toBe(BigInt(v.transfer.amount));
                expect(s.loadAddress().equals(Address.parseRaw(v.transfer.destination))).toBe(true);
                expect(s.loadAddress().equals(Address.parseRaw(v.transfer.response_destination))).toBe(true);
                const custom = s.loadMaybeRef();
                expect(custom?.equals(auth)).toBe(true);
                expect(s.loadCoins()).toBe(BigInt(v.transfer.forward_ton_amount));
                if (v.transfer.forward_payload) {
                    expect(s.loadBit()).toBe(true);
                    expect(s.loadRef().equals(Cell.fromBase64(v.transfer.forward_payload))).toBe(true);
                } else {
                    expect(s.loadBit()).toBe(false);
                }
                s.endParse();
                // the sender is the attestation's subject
                expect(Address.parseRaw(v.attestation.subject).equals(Address.parseRaw(v.transfer.response_destination))).toBe(true);
                const r = v.ton_connect;
                expect(r.network).toBe(String(v.certificate.network));
                expect(Address.parseRaw(r.from).equals(Address.parseRaw(v.attestation.subject))).toBe(true);
                expect(r.validUntil).toBe(Math.min(v.attestation.valid_until, v.certificate.valid_until));
                expect(r.messages).toHaveLength(1);
                expect(Address.parse(r.messages[0].address).equals(Address.parseRaw(v.transfer.jetton_wallet))).toBe(true);
                expect(Address.parseFriendly(r.messages[0].address).isTestOnly).toBe(v.certificate.network === -3);
                expect(r.messages[0].amount).toBe(v.transfer.attach);
                expect(Cell.fromBase64(r.messages[0].payload).equals(body)).toBe(true);
            });
        });
    }
});
