// The `fields` object of the Rust-written vectors (SPEC.md §8): snake_case names, addresses as raw
// `wc:hex`, nonce as a decimal string (u64 does not fit a JSON number).

import { Address } from '@ton/core';
import { Attestation } from '../wrappers/Attestation';
import { Tag } from '../wrappers/Constants';

export type VectorFields = {
    tag?: number | string;
    network: number;
    verifier: string;
    subject: string;
    risk: number;
    categories: number;
    issued_at: number;
    valid_until: number;
    epoch: number;
    nonce: string;
};

export function parseTag(tag: number | string | undefined): number {
    if (tag === undefined) return Tag.attestation;
    return typeof tag === 'number' ? tag : Number(BigInt(tag.startsWith('0x') ? tag : '0x' + tag));
}

export function attestationFromFields(f: VectorFields): Attestation {
    return {
        tag: parseTag(f.tag),
        network: f.network,
        verifier: Address.parseRaw(f.verifier),
        subject: Address.parseRaw(f.subject),
        risk: f.risk,
        categories: f.categories,
        issuedAt: f.issued_at,
        validUntil: f.valid_until,
        epoch: f.epoch,
        nonce: BigInt(f.nonce),
    };
}

/** The fields in a comparable form: numbers, lower-case raw addresses, nonce as a string. */
export function normalizedFields(a: Attestation) {
    return {
        tag: a.tag ?? Tag.attestation,
        network: a.network,
        verifier: a.verifier.toRawString().toLowerCase(),
        subject: a.subject.toRawString().toLowerCase(),
        risk: a.risk,
        categories: a.categories,
        issued_at: a.issuedAt,
        valid_until: a.validUntil,
        epoch: a.epoch,
        nonce: a.nonce.toString(),
    };
}
