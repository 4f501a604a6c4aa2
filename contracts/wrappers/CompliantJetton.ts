// The compliant jetton (SPEC.md §16): the minter and wallet wrappers, and builders of the
// ComplianceAuth a transfer carries in custom_payload. Layouts follow contracts/schema.tlb.

import { Address, beginCell, Builder, Cell, Contract, contractAddress, ContractProvider, Sender, SendMode, TupleBuilder } from '@ton/core';
import { sign } from '@ton/crypto';
import { SignerSet, storeSignerSet } from './Attestation';
import { Op, Tag } from './Constants';

/** TEP-74 / TEP-89 op codes (other standards' numbers; not derived from schema.tlb). */
export const Tep74 = {
    transfer: 0x0f8a7ea5,
    internalTransfer: 0x178d4519,
    transferNotification: 0x7362d09c,
    excesses: 0xd53276db,
    burn: 0x595f07bc,
    burnNotification: 0x7bdd97de,
    provideWalletAddress: 0x2c76b973,
    takeWalletAddress: 0xd1735400,
} as const;

// signer_certificate#e0adde86 network:int32 minter:MsgAddressInt valid_until:uint32 max_risk:uint8
//   forbidden:uint32 max_skew:uint32 signers:SignerSet = SignerCertificate;
export type SignerCertificate = {
    /** Defaults to Tag.signerCertificate; other values only make cells a wallet must refuse. */
    tag?: number;
    network: number;
    minter: Address;
    validUntil: number;
    maxRisk: number;
    forbidden: number;
    maxSkew: number;
    signers: SignerSet;
};

export function certificateToCell(c: SignerCertificate): Cell {
    return beginCell()
        .storeUint(c.tag ?? Tag.signerCertificate, 32)
        .storeInt(c.network, 32)
        .storeAddress(c.minter)
        .storeUint(c.validUntil, 32)
        .storeUint(c.maxRisk, 8)
        .storeUint(c.forbidden, 32)
        .storeUint(c.maxSkew, 32)
        .store(storeSignerSet(c.signers))
        .endCell();
}

/** The root key's ed25519 signature over the certificate cell's representation hash. */
export function signCertificate(certificate: Cell, rootSecretKey: Buffer): Buffer {
    return sign(certificate.hash(), rootSecretKey);
}

// compliance_auth#16b70dce root_signature:bits512 certificate:^SignerCertificate
//   attestation:^Attestation signatures:^SignatureEntry = ComplianceAuth;
export function complianceAuthToCell(o: { rootSignature: Buffer; certificate: Cell; attestation: Cell; signatures: Cell }): Cell {
    return beginCell()
        .storeUint(Tag.complianceAuth, 32)
        .storeBuffer(o.rootSignature)
        .storeRef(o.certificate)
        .storeRef(o.attestation)
        .storeRef(o.signatures)
        .endCell();
}

// cj_wallet_storage$_ balance:Coins owner:MsgAddressInt minter:MsgAddressInt root_key:bits256
export function walletData(owner: Address, minter: Address, rootKey: Buffer, balance = 0n): Cell {
    return beginCell().storeCoins(balance).storeAddress(owner).storeAddress(minter).storeBuffer(rootKey).endCell();
}

export function walletAddress(owner: Address, minter: Address, rootKey: Buffer, walletCode: Cell): Address {
    return contractAddress(0, { code: walletCode, data: walletData(owner, minter, rootKey) });
}

/** TEP-74 transfer; the custom_payload is the ComplianceAuth (or anything, for refusal tests). */
export function transferBody(o: {
    queryId?: bigint;
    amount: bigint;
    destination: Address;
    response: Address | null;
    customPayload: Cell | null;
    forwardTon: bigint;
    forwardPayload?: Cell;
}): Cell {
    const b = beginCell()
        .storeUint(Tep74.transfer, 32).storeUint(o.queryId ?? 0n, 64).storeCoins(o.amount)
        .storeAddress(o.destination).storeAddress(o.response).storeMaybeRef(o.customPayload).storeCoins(o.forwardTon);
    return o.forwardPayload ? b.storeBit(1).storeRef(o.forwardPayload).endCell() : b.storeBit(0).endCell();
}

export function burnBody(o: { queryId?: bigint; amount: bigint; response: Address | null }): Cell {
    return beginCell().storeUint(Tep74.burn, 32).storeUint(o.queryId ?? 0n, 64).storeCoins(o.amount)
        .storeAddress(o.response).storeMaybeRef(null).endCell();
}

export type CompliantMinterConfig = { admin: Address; rootKey: Buffer; walletCode: Cell; content?: Cell };

// cj_minter_storage$_ total_supply:Coins admin:MsgAddress pending_admin:MsgAddress root_key:bits256
//   wallet_code:^Cell content:^Cell = CompliantMinterStorage;
export function minterData(c: CompliantMinterConfig): Cell {
    return beginCell().storeCoins(0).storeAddress(c.admin).storeAddress(null).storeBuffer(c.rootKey)
        .storeRef(c.walletCode).storeRef(c.content ?? beginCell().endCell()).endCell();
}

export class CompliantJettonMinter implements Contract {
    constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

    static createFromConfig(config: CompliantMinterConfig, code: Cell) {
        const init = { code, data: minterData(config) };
        return new CompliantJettonMinter(contractAddress(0, init), init);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() });
    }

    async sendBody(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    static mintBody(o: { to: Address; amount: bigint; forwardTon?: bigint; response?: Address | null; forwardPayload?: Cell | null; queryId?: bigint }): Cell {
        return beginCell().storeUint(Op.cjMint, 32).storeUint(o.queryId ?? 0n, 64).storeAddress(o.to).storeCoins(o.amount)
            .storeCoins(o.forwardTon ?? 0n).storeAddress(o.response ?? null).storeMaybeRef(o.forwardPayload ?? null).endCell();
    }

    static proposeAdminBody(newAdmin: Address | null): Cell {
        return beginCell().storeUint(Op.cjProposeAdmin, 32).storeUint(0, 64).storeAddress(newAdmin).endCell();
    }

    static claimAdminBody(): Cell {
        return beginCell().storeUint(Op.cjClaimAdmin, 32).storeUint(0, 64).endCell();
    }

    static changeContentBody(content: Cell): Cell {
        return beginCell().storeUint(Op.cjChangeContent, 32).storeUint(0, 64).storeRef(content).endCell();
    }

    static provideWalletAddressBody(owner: Address | null, includeAddress: boolean, queryId = 0n): Cell {
        return beginCell().storeUint(Tep74.provideWalletAddress, 32).storeUint(queryId, 64).storeAddress(owner)
            .storeBit(includeAddress).endCell();
    }

    async getJettonData(provider: ContractProvider) {
        const r = (await provider.get('get_jetton_data', [])).stack;
        return { totalSupply: r.readBigNumber(), mintable: r.readBoolean(), admin: r.readAddressOpt(), content: r.readCell(), walletCode: r.readCell() };
    }

    async getWalletAddress(provider: ContractProvider, owner: Address): Promise<Address> {
        const args = new TupleBuilder();
        args.writeAddress(owner);
        return (await provider.get('get_wallet_address', args.build())).stack.readAddress();
    }

    async getAdmin(provider: ContractProvider) {
        const r = (await provider.get('get_admin', [])).stack;
        return { admin: r.readAddressOpt(), pending: r.readAddressOpt() };
    }

    async getRootKey(provider: ContractProvider): Promise<bigint> {
        return (await provider.get('get_root_key', [])).stack.readBigNumber();
    }

    async getMinStorage(provider: ContractProvider): Promise<bigint> {
        return (await provider.get('get_min_storage', [])).stack.readBigNumber();
    }
}

export class CompliantJettonWallet implements Contract {
    constructor(readonly address: Address) {}

    async sendBody(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    async getWalletData(provider: ContractProvider) {
        const r = (await provider.get('get_wallet_data', [])).stack;
        return { balance: r.readBigNumber(), owner: r.readAddress(), minter: r.readAddress(), walletCode: r.readCell() };
    }

    async getRootKey(provider: ContractProvider): Promise<bigint> {
        return (await provider.get('get_root_key', [])).stack.readBigNumber();
    }

    async getMinStorage(provider: ContractProvider): Promise<bigint> {
        return (await provider.get('get_min_storage', [])).stack.readBigNumber();
    }
}
