// 10,000 random attestations from the Rust sdk: @ton/core must build each from its fields to the
// same hash and parse each BoC back to the same fields. The file comes from TOLLGATE_RANDOM_VECTORS,
// or else from `cargo run -q -p tollgate-sdk --example random_attestations -- 10000 42`.

import { Cell } from '@ton/core';
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { attestationToCell, parseAttestation } from '../wrappers/Attestation';
import { attestationFromFields, normalizedFields, VectorFields } from './vector-fields';

const ROOT = join(__dirname, '..', '..');
const COUNT = 10_000;
const SEED = 42;

type RandomVector = { fields: VectorFields; boc: string; hash: string };

function loadRandomVectors(): RandomVector[] {
    const path = process.env.TOLLGATE_RANDOM_VECTORS;
    if (path) return JSON.parse(readFileSync(path, 'utf8'));
    const args = ['run', '-q', '-p', 'tollgate-sdk', '--example', 'random_attestations', '--', `${COUNT}`, `${SEED}`];
    let stdout: string;
    try {
        stdout = execFileSync('cargo', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e: any) {
        throw new Error(
            `set TOLLGATE_RANDOM_VECTORS or make \`cargo ${args.join(' ')}\` work (in ${ROOT}): ${e.stderr ?? e.message}`,
        );
    }
    return JSON.parse(stdout);
}

describe('Differential: Rust random attestations', () => {
    let vectors: RandomVector[];

    beforeAll(() => {
        vectors = loadRandomVectors();
    }, 20 * 60 * 1000); // a cold `cargo run` builds the sdk first

    it(`has ${COUNT} attestations`, () => {
        expect(vectors.length).toBe(process.env.TOLLGATE_RANDOM_VECTORS ? vectors.length : COUNT);
        expect(vectors.length).toBeGreaterThan(0);
    });

    it('builds each from its fields to the same hash and BoC', () => {
        const mismatches: string[] = [];
        vectors.forEach((v, i) => {
            const built = attestationToCell(attestationFromFields(v.fields));
            if (built.hash().toString('hex') !== v.hash.toLowerCase()) mismatches.push(`#${i} ${JSON.stringify(v.fields)}`);
        });
        expect(mismatches.slice(0, 5)).toEqual([]);
    });

    it('parses each BoC to the same fields and hash', () => {
        const mismatches: string[] = [];
        vectors.forEach((v, i) => {
            const cell = Cell.fromBase64(v.boc);
            const want = normalizedFields(attestationFromFields(v.fields));
            let got: unknown;
            try {
                got = normalizedFields(parseAttestation(cell));
            } catch (e: any) {
                got = e.message;
            }
            if (cell.hash().toString('hex') !== v.hash.toLowerCase() || JSON.stringify(got) !== JSON.stringify(want)) {
                mismatches.push(`#${i}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
            }
        });
        expect(mismatches.slice(0, 5)).toEqual([]);
    });
});
