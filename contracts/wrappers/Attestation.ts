// The attestation (SPEC.md §1), its signature bundle (§2) and signer sets (§4), built and parsed with
// @ton/core. The layouts follow contracts/schema.tlb line for line.

import { Address, beginCell, Builder, Cell, Slice } from '@ton/core';
import { sign } from '@ton/crypto';
import { Tag } from './Constants';

// attestation#1bb33317 network:int32 verifier:MsgAddressInt subject:MsgAddressInt risk:uint8
//   categories:uint32 issued_at:uint32 valid_until:uint32 epoch:uint32 nonce:uint64 = Attestation;
export type Attestation = {
    /** Defaults to Tag.attestation; other values only make test cells a verifier must refuse. */
    tag?: number;
    network: number;
    verifier: Address;
    subject: Address;
    risk: number;
    categories: number;
    issuedAt: number;
    validUntil: number;
    epoch: number;
    nonce: bigint;
};

/** 32 + 32 + 267 + 267 + 8 + 32 + 32 + 32 + 32 + 64 */
export const ATTESTATION_BITS = 798;
/** signer:uint8 signature:bits512 next:(Maybe ^SignatureEntry) */
export const SIGNATURE_ENTRY_BITS = 521;
export const MAX_RISK = 100;
export const KEYS_PER_CELL = 3;

export class AttestationFormatError extends Error {}

/** Stores the attestation's fields. @ton/core writes an Address as the full 267-bit addr_std, even
 *  the all-zero address, which is what SPEC.md §1 requires. */
export function storeAttestation(a: Attestation) {
    return (b: Builder) => {
        b.storeUint(a.tag ?? Tag.attestation, 32)
            .storeInt(a.network, 32)
            .storeAddress(a.verifier)
            .storeAddress(a.subject)
            .storeUint(a.risk, 8)
            .storeUint(a.categories, 32)
            .storeUint(a.issuedAt, 32)
            .storeUint(a.validUntil, 32)
            .storeUint(a.epoch, 32)
            .storeUint(a.nonce, 64);
    };
}

export function attestationToCell(a: Attestation): Cell {
    return beginCell().store(storeAttestation(a)).endCell();
}

/** Reads addr_std without anycast (267 bits); refuses addr_none, addr_extern, addr_var, anycast. */
export function loadStdAddress(s: Slice): Address {
    if (s.remainingBits < 267) throw new AttestationFormatError('address: fewer than 267 bits');
    if (s.loadUint(2) !== 0b10) throw new AttestationFormatError('address: not addr_std');
    if (s.loadBit()) throw new AttestationFormatError('address: anycast');
    const workchain = s.loadInt(8);
    return new Address(workchain, s.loadBuffer(32));
}

/** Strict decoding (SPEC.md §1): exactly 798 bits, no refs, the known tag, addr_std addresses,
 *  risk <= 100 and valid_until >= issued_at. */
export function parseAttestation(cell: Cell): Attestation {
    if (cell.isExotic) throw new AttestationFormatError('exotic cell');
    if (cell.bits.length !== ATTESTATION_BITS || cell.refs.length !== 0) {
        throw new AttestationFormatError(`malformed: ${cell.bits.length} bits, ${cell.refs.length} refs`);
    }
    const s = cell.beginParse();
    const tag = s.loadUint(32);
    if (tag !== Tag.attestation) throw new AttestationFormatError(`unknown tag 0x${tag.toString(16)}`);
    const a: Attestation = {
        network: s.loadInt(32),
        verifier: loadStdAddress(s),
        subject: loadStdAddress(s),
        risk: s.loadUint(8),
        categories: s.loadUint(32),
        issuedAt: s.loadUint(32),
        validUntil: s.loadUint(32),
        epoch: s.loadUint(32),
        nonce: s.loadUintBig(64),
    };
    s.endParse();
    if (a.risk > MAX_RISK) throw new AttestationFormatError(`risk ${a.risk} above ${MAX_RISK}`);
    if (a.validUntil < a.issuedAt) throw new AttestationFormatError('valid_until before issued_at');
    return a;
}

/** ed25519 signature over the attestation's representation hash (SPEC.md §2). */
export function signAttestation(attestation: Cell, secretKey: Buffer): Buffer {
    return sign(attestation.hash(), secretKey);
}

// signature_entry$_ signer:uint8 signature:bits512 next:(Maybe ^SignatureEntry) = SignatureEntry;
export type SignatureEntry = { signer: number; signature: Buffer };

/** The bundle is its first entry; `next` chains the rest, in the given order (a verifier wants
 *  strictly increasing signers; tests may pass any order). */
export function signatureBundleToCell(entries: SignatureEntry[]): Cell {
    if (entries.length === 0) throw new Error('a bundle holds at least one signature');
    let next: Cell | null = null;
    for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i];
        if (e.signature.length !== 64) throw new Error('signature must be 64 bytes');
        next = beginCell().storeUint(e.signer, 8).storeBuffer(e.signature).storeMaybeRef(next).endCell();
    }
    return next!;
}

/** Strict: every entry 521 bits, and a ref exactly when its Maybe bit is set. */
export function parseSignatureBundle(cell: Cell): SignatureEntry[] {
    const entries: SignatureEntry[] = [];
    let next: Cell | null = cell;
    while (next) {
        if (next.bits.length !== SIGNATURE_ENTRY_BITS || next.refs.length > 1) {
            throw new AttestationFormatError('malformed signature entry');
        }
        const s = next.beginParse();
        const signer = s.loadUint(8);
        const signature = s.loadBuffer(64);
        next = s.loadMaybeRef();
        s.endParse();
        entries.push({ signer, signature });
    }
    return entries;
}

/** Signs with each key at its signer index; returns the entries by increasing index. */
export function signWith(attestation: Cell, signers: { index: number; secretKey: Buffer }[]): SignatureEntry[] {
    return [...signers]
        .sort((x, y) => x.index - y.index)
        .map(({ index, secretKey }) => ({ signer: index, signature: signAttestation(attestation, secretKey) }));
}

// signer_set$_ epoch:uint32 threshold:uint8 count:uint8 keys:^SignerKeys = SignerSet;
export type SignerSet = { epoch: number; threshold: number; publicKeys: Buffer[] };

/** Keys in index order, three to a cell; a full cell refs the next when more keys follow (§4). */
export function signerKeysToCell(publicKeys: Buffer[]): Cell {
    if (publicKeys.length < 1 || publicKeys.length > 16) throw new Error('1 to 16 keys');
    let next: Cell | null = null;
    const last = Math.floor((publicKeys.length - 1) / KEYS_PER_CELL);
    for (let c = last; c >= 0; c--) {
        const b = beginCell();
        for (const key of publicKeys.slice(c * KEYS_PER_CELL, (c + 1) * KEYS_PER_CELL)) {
            if (key.length !== 32) throw new Error('public key must be 32 bytes');
            b.storeBuffer(key);
        }
        if (next) b.storeRef(next);
        next = b.endCell();
    }
    return next!;
}

export function storeSignerSet(set: SignerSet) {
    return (b: Builder) => {
        b.storeUint(set.epoch, 32)
            .storeUint(set.threshold, 8)
            .storeUint(set.publicKeys.length, 8)
            .storeRef(signerKeysToCell(set.publicKeys));
    };
}

/** Encodings of the small-order ed25519 points and their non-canonical twins, sign bit masked
 *  (libsodium's blocklist; the contracts refuse the same keys, SPEC.md §4). */
export const SMALL_ORDER_KEYS: readonly string[] = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

/** Whether `key` (32 bytes) encodes a small-order point, whatever its sign bit. */
export function isSmallOrderKey(key: Buffer): boolean {
    const masked = Buffer.from(key);
    masked[31] &= 0x7f;
    return SMALL_ORDER_KEYS.includes(masked.toString('hex'));
}

/** Throws unless `set` is one a gate accepts (SPEC.md §4): 1 ≤ threshold ≤ count ≤ 16, 32-byte
 *  keys, no key twice (its holder would count as two signers), no small-order key. */
export function checkSignerSet(set: SignerSet): void {
    const n = set.publicKeys.length;
    if (n < 1 || n > 16) throw new Error(`signer set: ${n} keys (expected 1 to 16)`);
    if (!Number.isInteger(set.threshold) || set.threshold < 1 || set.threshold > n) throw new Error(`signer set: threshold ${set.threshold} of ${n} keys`);
    if (!Number.isInteger(set.epoch) || set.epoch < 0 || set.epoch > 0xffffffff) throw new Error(`signer set: epoch ${set.epoch} is not a uint32`);
    set.publicKeys.forEach((key, i) => {
        if (key.length !== 32) throw new Error(`signer set: key ${i} is not 32 bytes`);
        if (isSmallOrderKey(key)) throw new Error(`signer set: key ${i} has small order`);
        const j = set.publicKeys.findIndex((k) => k.equals(key));
        if (j !== i) throw new Error(`signer set: key ${i} is key ${j} again`);
    });
}

export function signerSetToCell(set: SignerSet): Cell {
    return beginCell().store(storeSignerSet(set)).endCell();
}
