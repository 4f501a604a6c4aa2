// Wrapper of contracts/compliance_gate.fc (SPEC.md §10): storage, message builders and parsers,
// senders and get-methods. Attestations, bundles and signer sets come from ./Attestation.

import {
    Address,
    beginCell,
    Builder,
    Cell,
    Contract,
    contractAddress,
    ContractProvider,
    Sender,
    SendMode,
    Slice,
} from '@ton/core';
import { checkSignerSet, SignerSet, signerSetToCell, storeSignerSet } from './Attestation';
import { Op, Tag } from './Constants';

/** Which parties a transfer must carry an attestation for (GatePolicy.screen, a bit set). */
export const Screen = {
    none: 0,
    destination: 1,
    sender: 2,
    both: 3,
} as const;

// gate_policy$_ screen:uint2 max_risk:uint8 forbidden:uint32 max_skew:uint32 = GatePolicy;
export type GatePolicy = { screen: number; maxRisk: number; forbidden: number; maxSkew: number };

export function storeGatePolicy(p: GatePolicy) {
    return (b: Builder) => {
        b.storeUint(p.screen, 2).storeUint(p.maxRisk, 8).storeUint(p.forbidden, 32).storeUint(p.maxSkew, 32);
    };
}

export function loadGatePolicy(s: Slice): GatePolicy {
    return { screen: s.loadUint(2), maxRisk: s.loadUint(8), forbidden: s.loadUint(32), maxSkew: s.loadUint(32) };
}

// gate_storage$_ signers:SignerSet previous:(Maybe ^SignerSet) grace_until:uint32
//   policy:GatePolicy admins:^GateAdmins = GateStorage;
// gate_admins$_ admin:MsgAddressInt pending_admin:MsgAddress = GateAdmins;
export type ComplianceGateConfig = {
    signers: SignerSet;
    previous?: SignerSet;
    graceUntil?: number;
    policy: GatePolicy;
    admin: Address;
    pendingAdmin?: Address | null;
};

/** The gate's initial storage. Refuses what `gate_set_signers` would refuse (SPEC.md §4, §10.6):
 *  a gate has no constructor to check its first signer set, so its deployer must. */
export function complianceGateConfigToCell(c: ComplianceGateConfig): Cell {
    checkSignerSet(c.signers);
    if (c.previous) checkSignerSet(c.previous);
    if (c.policy.maxRisk > 100) throw new Error(`policy: max_risk ${c.policy.maxRisk} is above 100`);
    return beginCell()
        .store(storeSignerSet(c.signers))
        .storeMaybeRef(c.previous ? signerSetToCell(c.previous) : null)
        .storeUint(c.graceUntil ?? 0, 32)
        .store(storeGatePolicy(c.policy))
        .storeRef(beginCell().storeAddress(c.admin).storeAddress(c.pendingAdmin ?? null).endCell())
        .endCell();
}

// attestation_proof#5c1324ad attestation:^Attestation signatures:^SignatureEntry = AttestationProof;
export type AttestationProof = { attestation: Cell; signatures: Cell; tag?: number };

export function attestationProofToCell(p: AttestationProof): Cell {
    return beginCell().storeUint(p.tag ?? Tag.attestationProof, 32).storeRef(p.attestation).storeRef(p.signatures).endCell();
}

// gate_transfer#159f1aa7 query_id:uint64 destination:MsgAddressInt amount:Coins
//   response_destination:MsgAddress forward_payload:(Maybe ^Cell)
//   destination_proof:(Maybe ^AttestationProof) sender_proof:(Maybe ^AttestationProof) = InternalMsgBody;
export type GateTransfer = {
    queryId?: bigint;
    destination: Address;
    /** Delivered exactly when responseDestination is set; a minimum otherwise (all the rest goes). */
    amount?: bigint;
    responseDestination?: Address | null;
    forwardPayload?: Cell | null;
    destinationProof?: AttestationProof | null;
    senderProof?: AttestationProof | null;
};

// gate_forward#46cd6c39 query_id:uint64 sender:MsgAddressInt forward_payload:(Maybe ^Cell) = InternalMsgBody;
export type GateForward = { queryId: bigint; sender: Address; forwardPayload: Cell | null };
// gate_refund#484b9547 query_id:uint64 error:uint32 = InternalMsgBody;
export type GateRefund = { queryId: bigint; error: number };

export class ComplianceGate implements Contract {
    constructor(
        readonly address: Address,
        readonly init?: { code: Cell; data: Cell },
    ) {}

    static createFromAddress(address: Address) {
        return new ComplianceGate(address);
    }

    static createFromConfig(config: ComplianceGateConfig, code: Cell, workchain = 0) {
        const init = { code, data: complianceGateConfigToCell(config) };
        return new ComplianceGate(contractAddress(workchain, init), init);
    }

    static transferMessage(t: GateTransfer): Cell {
        const proof = (p?: AttestationProof | null) => (p ? attestationProofToCell(p) : null);
        return beginCell()
            .storeUint(Op.gateTransfer, 32)
            .storeUint(t.queryId ?? 0n, 64)
            .storeAddress(t.destination)
            .storeCoins(t.amount ?? 0n)
            .storeAddress(t.responseDestination ?? null)
            .storeMaybeRef(t.forwardPayload ?? null)
            .storeMaybeRef(proof(t.destinationProof))
            .storeMaybeRef(proof(t.senderProof))
            .endCell();
    }

    static parseTransfer(body: Cell): GateTransfer {
        const s = body.beginParse();
        if (s.loadUint(32) !== Op.gateTransfer) throw new Error('not gate_transfer');
        const proof = (c: Cell | null) => {
            if (!c) return null;
            const p = c.beginParse();
            return { tag: p.loadUint(32), attestation: p.loadRef(), signatures: p.loadRef() };
        };
        const t = {
            queryId: s.loadUintBig(64),
            destination: s.loadAddress(),
            amount: s.loadCoins(),
            responseDestination: s.loadMaybeAddress(),
            forwardPayload: s.loadMaybeRef(),
            destinationProof: proof(s.loadMaybeRef()),
            senderProof: proof(s.loadMaybeRef()),
        };
        s.endParse();
        return t;
    }

    static parseForward(body: Cell): GateForward {
        const s = body.beginParse();
        if (s.loadUint(32) !== Op.gateForward) throw new Error('not gate_forward');
        const f = { queryId: s.loadUintBig(64), sender: s.loadAddress(), forwardPayload: s.loadMaybeRef() };
        s.endParse();
        return f;
    }

    static parseRefund(body: Cell): GateRefund {
        const s = body.beginParse();
        if (s.loadUint(32) !== Op.gateRefund) throw new Error('not gate_refund');
        const r = { queryId: s.loadUintBig(64), error: s.loadUint(32) };
        s.endParse();
        return r;
    }

    static parseExcess(body: Cell): { queryId: bigint } {
        const s = body.beginParse();
        if (s.loadUint(32) !== Op.gateExcess) throw new Error('not gate_excess');
        const e = { queryId: s.loadUintBig(64) };
        s.endParse();
        return e;
    }

    // gate_set_signers#534cb90d query_id:uint64 signers:^SignerSet grace_until:uint32 = InternalMsgBody;
    /** A SignerSet is checked first (checkSignerSet); a Cell goes as it is, for tests of the
     *  gate's own refusals. */
    static setSignersMessage(signers: SignerSet | Cell, graceUntil: number, queryId = 0n): Cell {
        if (!(signers instanceof Cell)) checkSignerSet(signers);
        const cell = signers instanceof Cell ? signers : signerSetToCell(signers);
        return beginCell()
            .storeUint(Op.gateSetSigners, 32)
            .storeUint(queryId, 64)
            .storeRef(cell)
            .storeUint(graceUntil, 32)
            .endCell();
    }

    // gate_set_policy#7adb6046 query_id:uint64 policy:GatePolicy = InternalMsgBody;
    static setPolicyMessage(policy: GatePolicy, queryId = 0n): Cell {
        return beginCell().storeUint(Op.gateSetPolicy, 32).storeUint(queryId, 64).store(storeGatePolicy(policy)).endCell();
    }

    // gate_propose_admin#4287f9f3 query_id:uint64 new_admin:MsgAddress = InternalMsgBody;
    static proposeAdminMessage(newAdmin: Address | null, queryId = 0n): Cell {
        return beginCell().storeUint(Op.gateProposeAdmin, 32).storeUint(queryId, 64).storeAddress(newAdmin).endCell();
    }

    // gate_claim_admin#03008208 query_id:uint64 = InternalMsgBody;
    static claimAdminMessage(queryId = 0n): Cell {
        return beginCell().storeUint(Op.gateClaimAdmin, 32).storeUint(queryId, 64).endCell();
    }

    // gate_withdraw_surplus#3ba7e2a5 query_id:uint64 = InternalMsgBody;
    static withdrawSurplusMessage(queryId = 0n): Cell {
        return beginCell().storeUint(Op.gateWithdrawSurplus, 32).storeUint(queryId, 64).endCell();
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Cell.EMPTY });
    }

    async sendTransfer(provider: ContractProvider, via: Sender, value: bigint, t: GateTransfer) {
        await provider.internal(via, {
            value,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            body: ComplianceGate.transferMessage(t),
        });
    }

    async sendSetSigners(provider: ContractProvider, via: Sender, value: bigint, signers: SignerSet | Cell, graceUntil: number) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: ComplianceGate.setSignersMessage(signers, graceUntil) });
    }

    async sendSetPolicy(provider: ContractProvider, via: Sender, value: bigint, policy: GatePolicy) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: ComplianceGate.setPolicyMessage(policy) });
    }

    async sendProposeAdmin(provider: ContractProvider, via: Sender, value: bigint, newAdmin: Address | null) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: ComplianceGate.proposeAdminMessage(newAdmin) });
    }

    async sendClaimAdmin(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: ComplianceGate.claimAdminMessage() });
    }

    async sendWithdrawSurplus(provider: ContractProvider, via: Sender, value: bigint, queryId = 0n) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: ComplianceGate.withdrawSurplusMessage(queryId) });
    }

    async getSignerSet(provider: ContractProvider) {
        const { stack } = await provider.get('get_signer_set', []);
        return {
            epoch: stack.readNumber(),
            threshold: stack.readNumber(),
            count: stack.readNumber(),
            keys: stack.readCell(),
            previous: stack.readCellOpt(),
            graceUntil: stack.readNumber(),
        };
    }

    async getPolicy(provider: ContractProvider): Promise<GatePolicy> {
        const { stack } = await provider.get('get_policy', []);
        return { screen: stack.readNumber(), maxRisk: stack.readNumber(), forbidden: stack.readNumber(), maxSkew: stack.readNumber() };
    }

    async getAdmin(provider: ContractProvider) {
        const { stack } = await provider.get('get_admin', []);
        return { admin: stack.readAddress(), pendingAdmin: stack.readAddressOpt() };
    }
}
