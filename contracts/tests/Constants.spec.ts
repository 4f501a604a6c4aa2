// One table, four copies: SPEC.md §6 is the source of truth; schema.tlb derives the tags and op codes
// (crc32); the FunC sources, wrappers/Constants.ts and sdk/src/codes.rs must agree with both.

import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { crc32 } from 'zlib';
import { Errors, Op, Tag } from '../wrappers/Constants';

const ROOT = join(__dirname, '..', '..');
const SPEC_PATH = join(ROOT, 'SPEC.md');
const SCHEMA_PATH = join(ROOT, 'contracts', 'schema.tlb');
const FUNC_DIR = join(ROOT, 'contracts', 'contracts');
const RUST_PATH = join(ROOT, 'sdk', 'src', 'codes.rs');

/** `kind::name` → value, e.g. `error::expired` → 261. */
type Table = Map<string, number>;

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

/** Tags that keep only the low 31 bits of their crc32, like op codes: their SPEC.md row says "31 bits". */
function spec31BitTags(): Set<string> {
    const tags = new Set<string>();
    for (const line of readFileSync(SPEC_PATH, 'utf8').split('\n')) {
        const m = line.match(/^\|\s*`(tag::\w+)`\s*\|.*31 bits/);
        if (m) tags.add(m[1]);
    }
    return tags;
}

function specTable(): Table {
    const table: Table = new Map();
    for (const line of readFileSync(SPEC_PATH, 'utf8').split('\n')) {
        const code = line.match(/^\|\s*(\d+)\s*\|\s*`(error::\w+)`\s*\|/);
        if (code) table.set(code[2], Number(code[1]));
        const tagOrOp = line.match(/^\|\s*`((?:tag|op)::\w+)`\s*\|\s*`(0x[0-9a-fA-F]+)`\s*\|/);
        if (tagOrOp) table.set(tagOrOp[1], Number(tagOrOp[2]));
    }
    return table;
}

/** Tags and op codes recomputed from schema.tlb, and the tags written in it. */
function schemaTable(): { derived: Table; written: Table } {
    const derived: Table = new Map();
    const written: Table = new Map();
    const low31 = spec31BitTags();
    for (const raw of readFileSync(SCHEMA_PATH, 'utf8').split('\n')) {
        const line = raw.trim();
        const m = line.match(/^(\w+)#([0-9a-f]{8})\s(.*\S)\s*;$/);
        if (!m) continue;
        const [, name, tag, rest] = m;
        const text = `${name} ${rest}`;
        const isOp = rest.endsWith('= InternalMsgBody');
        const key = `${isOp ? 'op' : 'tag'}::${name}`;
        const crc = crc32(text) >>> 0;
        derived.set(key, isOp || low31.has(key) ? crc & 0x7fffffff : crc);
        written.set(key, parseInt(tag, 16));
    }
    return { derived, written };
}

function funcFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
        const path = join(dir, f);
        if (statSync(path).isDirectory()) return funcFiles(path);
        return f.endsWith('.fc') && f !== 'stdlib.fc' ? [path] : [];
    });
}

function funcTable(): Table {
    const table: Table = new Map();
    for (const file of funcFiles(FUNC_DIR)) {
        for (const m of readFileSync(file, 'utf8').matchAll(/const\s+int\s+((?:error|op|tag)::\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*;/g)) {
            if (table.has(m[1])) throw new Error(`${m[1]} defined twice in FunC`);
            table.set(m[1], Number(m[2]));
        }
    }
    return table;
}

function typescriptTable(): Table {
    const table: Table = new Map();
    for (const [k, v] of Object.entries(Errors)) table.set(`error::${snake(k)}`, v);
    for (const [k, v] of Object.entries(Op)) table.set(`op::${snake(k)}`, v);
    for (const [k, v] of Object.entries(Tag)) table.set(`tag::${snake(k)}`, v);
    return table;
}

/** `pub mod error { pub const MALFORMED_ATTESTATION: u32 = 256; … }` → `error::malformed_attestation`. */
function rustTable(): Table {
    const table: Table = new Map();
    const source = readFileSync(RUST_PATH, 'utf8');
    for (const mod of source.matchAll(/pub\s+mod\s+(error|op|tag)\s*\{([\s\S]*?)\n\}/g)) {
        for (const c of mod[2].matchAll(/pub\s+const\s+([A-Z0-9_]+)\s*:\s*\w+\s*=\s*(0x[0-9a-fA-F_]+|[0-9_]+)\s*;/g)) {
            table.set(`${mod[1]}::${c[1].toLowerCase()}`, Number(c[2].replace(/_/g, '')));
        }
    }
    return table;
}

/** Constants of other standards the sdk also names (not Tollgate's, so not in SPEC.md §6). */
const EXTERNAL: Table = new Map([
    ['op::jetton_transfer', 0x0f8a7ea5], // TEP-74
]);

const sorted = (t: Table) => Object.fromEntries([...t.entries()].sort(([a], [b]) => a.localeCompare(b)));

describe('Constants', () => {
    const spec = specTable();

    it('reads the tables of SPEC.md §6', () => {
        expect(spec.get('tag::attestation')).toBe(0x1bb33317);
        expect(spec.get('error::malformed_attestation')).toBe(256);
        // exit codes are >= 256 (below are TVM's), one name each
        const codes = [...spec.entries()].filter(([k]) => k.startsWith('error::')).map(([, v]) => v);
        expect(codes.filter((c) => c < 256)).toEqual([]);
        expect(new Set(codes).size).toBe(codes.length);
        // the library's codes are 256..270 in SPEC.md §5's order
        expect(codes.filter((c) => c <= 270).sort((a, b) => a - b)).toEqual([...Array(15).keys()].map((i) => 256 + i));
    });

    it('derives every tag and op code of SPEC.md from schema.tlb by crc32', () => {
        const { derived, written } = schemaTable();
        expect(sorted(written)).toEqual(sorted(derived));
        const specTagsOps = new Map([...spec].filter(([k]) => !k.startsWith('error::')));
        expect(sorted(derived)).toEqual(sorted(specTagsOps));
    });

    it('has the FunC constants of SPEC.md', () => {
        expect(sorted(funcTable())).toEqual(sorted(spec));
    });

    it('has the TypeScript constants of SPEC.md', () => {
        expect(sorted(typescriptTable())).toEqual(sorted(spec));
    });

    it('has the Rust constants of SPEC.md (sdk/src/codes.rs)', () => {
        if (!existsSync(RUST_PATH)) throw new Error(`${RUST_PATH} is missing: the sdk must define the codes of SPEC.md §6`);
        const rust = rustTable();
        // Every Rust constant is in SPEC.md with the same value, or is another standard's…
        for (const [name, value] of rust) {
            expect({ name, value }).toEqual({ name, value: spec.get(name) ?? EXTERNAL.get(name) });
        }
        // …and the Rust table has every tag, every library exit code and the verifier's op; the
        // checker-only entries (op::parse_only, error::unknown_op) are optional there.
        // So are the AdminProxy test contract's codes (a stand-in for a multisig, never deployed).
        const checkerOnly = new Set([
            'op::parse_only',
            'error::unknown_op',
            'op::proxy_send',
            'error::not_proxy_owner',
            'error::unknown_proxy_op',
        ]);
        const required = [...spec.keys()].filter((k) => !checkerOnly.has(k));
        expect(required.filter((k) => !rust.has(k))).toEqual([]);
    });
});
