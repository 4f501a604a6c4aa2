// Wrapper of contracts/attestation_checker.fc: the Tollgate verifier library behind two ops.

import {
    Address,
    beginCell,
    Cell,
    Contract,
    contractAddress,
    ContractProvider,
    Sender,
    SendMode,
    TupleBuilder,
} from '@ton/core';
import { SignerSet, storeSignerSet, signerSetToCell } from './Attestation';
import { Op } from './Constants';

// checker_storage$_ signers:SignerSet previous:(Maybe ^SignerSet) grace_until:uint32
//   max_risk:uint8 forbidden:uint32 max_skew:uint32 = CheckerStorage;
export type AttestationCheckerConfig = {
    signers: SignerSet;
    previous?: SignerSet;
    graceUntil?: number;
    maxRisk: number;
    forbidden: number;
    maxSkew: number;
};

export function attestationCheckerConfigToCell(config: AttestationCheckerConfig): Cell {
    return beginCell()
        .store(storeSignerSet(config.signers))
        .storeMaybeRef(config.previous ? signerSetToCell(config.previous) : null)
        .storeUint(config.graceUntil ?? 0, 32)
        .storeUint(config.maxRisk, 8)
        .storeUint(config.forbidden, 32)
        .storeUint(config.maxSkew, 32)
        .endCell();
}

// check_attestation#15301033 query_id:uint64 subject:MsgAddressInt attestation:^Attestation
//   signatures:^SignatureEntry = InternalMsgBody;
// parse_only#6c9bcaf3 (same fields) = InternalMsgBody;
export type CheckAttestation = {
    queryId?: bigint;
    subject: Address;
    attestation: Cell;
    signatures: Cell;
};

export class AttestationChecker implements Contract {
    constructor(
        readonly address: Address,
        readonly init?: { code: Cell; data: Cell },
    ) {}

    static createFromAddress(address: Address) {
        return new AttestationChecker(address);
    }

    static createFromConfig(config: AttestationCheckerConfig, code: Cell, workchain = 0) {
        const init = { code, data: attestationCheckerConfigToCell(config) };
        return new AttestationChecker(contractAddress(workchain, init), init);
    }

    static checkAttestationMessage(msg: CheckAttestation, op: number = Op.checkAttestation): Cell {
        return beginCell()
            .storeUint(op, 32)
            .storeUint(msg.queryId ?? 0n, 64)
            .storeAddress(msg.subject)
            .storeRef(msg.attestation)
            .storeRef(msg.signatures)
            .endCell();
    }

    /** The gas baseline: the same body under op::parse_only, parsed but not verified. */
    static parseOnlyMessage(msg: CheckAttestation): Cell {
        return AttestationChecker.checkAttestationMessage(msg, Op.parseOnly);
    }

    static parseCheckAttestation(body: Cell): CheckAttestation & { op: number } {
        const s = body.beginParse();
        const op = s.loadUint(32);
        const parsed = {
            op,
            queryId: s.loadUintBig(64),
            subject: s.loadAddress(),
            attestation: s.loadRef(),
            signatures: s.loadRef(),
        };
        s.endParse();
        return parsed;
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Cell.EMPTY });
    }

    async sendCheckAttestation(provider: ContractProvider, via: Sender, value: bigint, msg: CheckAttestation) {
        await provider.internal(via, {
            value,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            body: AttestationChecker.checkAttestationMessage(msg),
        });
    }

    async sendParseOnly(provider: ContractProvider, via: Sender, value: bigint, msg: CheckAttestation) {
        await provider.internal(via, {
            value,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            body: AttestationChecker.parseOnlyMessage(msg),
        });
    }

    /** Runs the library in a get-method: (nonce, validUntil), or throws with the exit code. */
    async getVerifyAttestation(provider: ContractProvider, attestation: Cell, signatures: Cell, subject: Address) {
        const args = new TupleBuilder();
        args.writeCell(attestation);
        args.writeCell(signatures);
        args.writeSlice(beginCell().storeAddress(subject).endCell());
        const { stack } = await provider.get('verify_attestation', args.build());
        return { nonce: stack.readBigNumber(), validUntil: stack.readNumber() };
    }

    async getSignerSet(provider: ContractProvider) {
        const { stack } = await provider.get('get_signer_set', []);
        return { epoch: stack.readNumber(), threshold: stack.readNumber(), count: stack.readNumber() };
    }

    async getPolicy(provider: ContractProvider) {
        const { stack } = await provider.get('get_policy', []);
        return {
            maxRisk: stack.readNumber(),
            forbidden: stack.readNumber(),
            maxSkew: stack.readNumber(),
            graceUntil: stack.readNumber(),
        };
    }
}
