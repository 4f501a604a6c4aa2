// JettonDepositGate (SPEC.md §12): storage, messages and get-methods.
import { Address, beginCell, Builder, Cell, Contract, contractAddress, ContractProvider, Dictionary, Sender, SendMode, Slice } from '@ton/core';
import { checkSignerSet, SignerSet, signerSetToCell, storeSignerSet } from './Attestation';
import { Op, Tag } from './Constants';

export type JettonGatePolicy = { maxRisk: number; forbidden: number; maxSkew: number; minAmount: bigint };

export type JettonDepositGateConfig = {
    signers: SignerSet;
    previous?: SignerSet;
    graceUntil: number;
    policy: JettonGatePolicy;
    minter: Address;
    treasury: Address;
    admin: Address;
};

export type QuarantineEntry = { depositor: Address | null; amount: bigint; reason: number; at: number };

export function storeJettonGatePolicy(p: JettonGatePolicy) {
    return (b: Builder) => b.storeUint(p.maxRisk, 8).storeUint(p.forbidden, 32).storeUint(p.maxSkew, 32).storeCoins(p.minAmount);
}

export function jettonDepositGateConfigToCell(c: JettonDepositGateConfig): Cell {
    checkSignerSet(c.signers);
    const admins = beginCell().storeAddress(c.admin).storeAddress(null).endCell();
    return beginCell()
        .store(storeSignerSet(c.signers))
        .storeMaybeRef(c.previous ? signerSetToCell(c.previous) : null)
        .storeUint(c.graceUntil, 32)
        .store(storeJettonGatePolicy(c.policy))
        .storeAddress(null) // wallet: unknown until the minter answers
        .storeRef(beginCell().storeAddress(c.minter).storeAddress(c.treasury).storeRef(admins).endCell())
        .storeDict(null)
        .storeUint(0, 32)
        .endCell();
}

/** attestation_proof#5c1324ad ^Attestation ^SignatureEntry, then the reference (bits and refs). */
export function depositPayload(proof: { attestation: Cell; signatures: Cell } | null, reference?: Cell): Cell {
    const b = beginCell();
    if (proof) b.storeUint(Tag.attestationProof, 32).storeRef(proof.attestation).storeRef(proof.signatures);
    if (reference) b.storeSlice(reference.beginParse());
    return b.endCell();
}

export function parseRefundPayload(s: Slice): { queryId: bigint; error: number } {
    if (s.loadUint(32) !== Op.jgateRefund) throw new Error('not jgate_refund');
    return { queryId: s.loadUintBig(64), error: s.loadUint(32) };
}

function loadEntry(s: Slice): QuarantineEntry {
    return { depositor: s.loadMaybeAddress(), amount: s.loadCoins(), reason: s.loadUint(32), at: s.loadUint(32) };
}

export class JettonDepositGate implements Contract {
    constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

    static createFromConfig(config: JettonDepositGateConfig, code: Cell, workchain = 0) {
        const data = jettonDepositGateConfigToCell(config);
        const init = { code, data };
        return new JettonDepositGate(contractAddress(workchain, init), init);
    }

    static claimMessage(id: number, queryId = 0n): Cell {
        return beginCell().storeUint(Op.jgateClaim, 32).storeUint(queryId, 64).storeUint(id, 32).endCell();
    }

    static releaseMessage(id: number, toTreasury: boolean, queryId = 0n): Cell {
        return beginCell().storeUint(Op.jgateRelease, 32).storeUint(queryId, 64).storeUint(id, 32).storeBit(toTreasury).endCell();
    }

    /** jgate_record: the admin records jettons that reached the gate's wallet unseen (SPEC.md §12.4). */
    static recordMessage(depositor: Address, amount: bigint, queryId = 0n): Cell {
        return beginCell().storeUint(Op.jgateRecord, 32).storeUint(queryId, 64).storeAddress(depositor).storeCoins(amount).endCell();
    }

    static setPolicyMessage(p: JettonGatePolicy, queryId = 0n): Cell {
        return beginCell().storeUint(Op.jgateSetPolicy, 32).storeUint(queryId, 64).store(storeJettonGatePolicy(p)).endCell();
    }

    /** Deploy: the empty body makes the gate ask the minter for its wallet (TEP-89). */
    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() });
    }

    async send(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    async getWallet(provider: ContractProvider): Promise<Address | null> {
        return (await provider.get('get_wallet', [])).stack.readAddressOpt();
    }

    async getPolicy(provider: ContractProvider): Promise<JettonGatePolicy> {
        const s = (await provider.get('get_policy', [])).stack;
        return { maxRisk: s.readNumber(), forbidden: s.readNumber(), maxSkew: s.readNumber(), minAmount: s.readBigNumber() };
    }

    async getQuarantine(provider: ContractProvider): Promise<{ nextId: number; entries: Map<number, QuarantineEntry> }> {
        const s = (await provider.get('get_quarantine', [])).stack;
        const nextId = s.readNumber();
        const dict = s.readCellOpt();
        const entries = new Map<number, QuarantineEntry>();
        if (dict) {
            const d = Dictionary.loadDirect(Dictionary.Keys.Uint(32), { serialize: () => {}, parse: (src: Slice) => loadEntry(src) }, dict);
            for (const [k, v] of d) entries.set(k, v);
        }
        return { nextId, entries };
    }

    async getQuarantineEntry(provider: ContractProvider, id: number): Promise<QuarantineEntry | null> {
        const s = (await provider.get('get_quarantine_entry', [{ type: 'int', value: BigInt(id) }])).stack;
        if (!s.readBoolean()) return null;
        return { depositor: s.readAddressOpt(), amount: s.readBigNumber(), reason: s.readNumber(), at: s.readNumber() };
    }
}
