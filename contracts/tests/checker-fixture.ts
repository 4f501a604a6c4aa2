// Shared set-up of the checker specs: signer keys, attestation defaults and the sandbox network id.

import { Blockchain } from '@ton/sandbox';
import { Address, beginCell, Cell, Dictionary } from '@ton/core';
import { getSecureRandomBytes, KeyPair, keyPairFromSeed } from '@ton/crypto';

/** Fresh ed25519 keys, by signer index. */
export async function freshKeys(n: number): Promise<KeyPair[]> {
    const keys: KeyPair[] = [];
    for (let i = 0; i < n; i++) keys.push(keyPairFromSeed(await getSecureRandomBytes(32)));
    return keys;
}

/** The sandbox config's global_id (param 19), which TVM's GLOBALID returns. */
export function configGlobalId(blockchain: Blockchain): number {
    const params = Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), blockchain.config);
    return params.get(19)!.beginParse().loadInt(32);
}

/** Replaces config param 19 so GLOBALID returns `globalId` (e.g. -3 to run testnet vectors). */
export function setConfigGlobalId(blockchain: Blockchain, globalId: number) {
    const params = Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), blockchain.config);
    params.set(19, beginCell().storeInt(globalId, 32).endCell());
    blockchain.setConfig(beginCell().storeDictDirect(params).endCell());
}

/** A valid-looking address that is not `a`. */
export function otherAddress(a: Address): Address {
    const hash = Buffer.from(a.hash);
    hash[31] ^= 1;
    return new Address(a.workChain, hash);
}

/** A copy of `cell` (no refs, any bits) with bit `i` flipped. */
export function flipBit(cell: Cell, i: number): Cell {
    const s = cell.beginParse();
    const bits: boolean[] = [];
    while (s.remainingBits > 0) bits.push(s.loadBit());
    bits[i] = !bits[i];
    const b = beginCell();
    for (const bit of bits) b.storeBit(bit);
    for (const ref of cell.refs) b.storeRef(ref);
    return b.endCell();
}
