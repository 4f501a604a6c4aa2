// The real USDT minter and wallet (tests/fixtures/usdt, stablecoin-contract 56fd5b98) in the
import '@ton/test-utils';
// sandbox, and our own builders of its messages (layouts read in its contracts/jetton.tlb).
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, contractAddress, toNano } from '@ton/core';
import { readFileSync } from 'fs';
import { join } from 'path';

const load = (name: string) =>
    Cell.fromBoc(Buffer.from(JSON.parse(readFileSync(join(__dirname, 'fixtures', 'usdt', name), 'utf8')).hex, 'hex'))[0];
export const USDT_MINTER_CODE = load('JettonMinter.compiled.json');
export const USDT_WALLET_CODE = load('JettonWallet.compiled.json');
export const USDT_MINTER_HASH = '18d5b6e780ff0bb451254c2c760d09d6e485638cd1407abb97078752c3c1c9ee';
export const USDT_WALLET_HASH = '8f452d7a4dfd74066b682365177259ed05734435be76b5fd4bd5d8af2b7c3d68';

export const JettonOp = {
    transfer: 0x0f8a7ea5,
    internalTransfer: 0x178d4519,
    transferNotification: 0x7362d09c,
    mint: 0x642b7d07,
} as const;

/** A USDT minter whose admin is `admin` (minter storage: supply, admin, next admin, wallet code, metadata). */
export function usdtMinter(admin: Address) {
    const data = beginCell().storeCoins(0).storeAddress(admin).storeAddress(null).storeRef(USDT_WALLET_CODE).storeRef(beginCell().endCell()).endCell();
    const init = { code: USDT_MINTER_CODE, data };
    return { address: contractAddress(0, init), init };
}

/** The USDT wallet of `owner` (wallet storage: status, balance, owner, minter; code as the minter deploys it). */
export function usdtWalletAddress(owner: Address, minter: Address): Address {
    const data = beginCell().storeUint(0, 4).storeCoins(0).storeAddress(owner).storeAddress(minter).endCell();
    return contractAddress(0, { code: USDT_WALLET_CODE, data });
}

export async function usdtBalance(blockchain: Blockchain, wallet: Address): Promise<bigint> {
    const c = await blockchain.getContract(wallet);
    if (c.accountState?.type !== 'active') return 0n;
    const s = c.accountState.state.data!.beginParse();
    s.loadUint(4);
    return s.loadCoins();
}

/** A mint: its internal_transfer comes `from` addr_none; with forwardTon the new wallet notifies `to`. */
export function mintMessage(to: Address, amount: bigint, forwardTon = 0n): Cell {
    const internal = beginCell()
        .storeUint(JettonOp.internalTransfer, 32).storeUint(0, 64).storeCoins(amount)
        .storeAddress(null).storeAddress(null).storeCoins(forwardTon).storeBit(0)
        .endCell();
    return beginCell().storeUint(JettonOp.mint, 32).storeUint(0, 64).storeAddress(to).storeCoins(toNano('0.1')).storeRef(internal).endCell();
}

/** TEP-74 transfer; forwardPayload as a ref (Either bit 1) or inline (bit 0). */
export function transferMessage(o: {
    amount: bigint;
    destination: Address;
    response: Address | null;
    forwardTon: bigint;
    forwardPayload?: Cell;
    inline?: boolean;
    queryId?: bigint;
}): Cell {
    const b = beginCell()
        .storeUint(JettonOp.transfer, 32).storeUint(o.queryId ?? 0n, 64).storeCoins(o.amount)
        .storeAddress(o.destination).storeAddress(o.response).storeBit(0).storeCoins(o.forwardTon);
    if (!o.forwardPayload) return b.storeBit(0).endCell();
    if (o.inline) return b.storeBit(0).storeSlice(o.forwardPayload.beginParse()).endCell();
    return b.storeBit(1).storeRef(o.forwardPayload).endCell();
}

export async function mintTo(blockchain: Blockchain, admin: SandboxContract<TreasuryContract>, minter: Address, to: Address, amount: bigint) {
    const r = await admin.send({ to: minter, value: toNano('0.2'), body: mintMessage(to, amount) });
    expect(r.transactions).toHaveTransaction({ to: usdtWalletAddress(to, minter), success: true });
}

/** top_up#d372158c query_id:uint64: the minter throws on an empty body, so deploy with this. */
export function topUpMessage(): Cell {
    return beginCell().storeUint(0xd372158c, 32).storeUint(0, 64).endCell();
}
