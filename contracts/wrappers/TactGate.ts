// Wrapper of contracts/tact/tact_gate.tact, the Tact example using the AttestationVerifier trait.
// It takes the ComplianceGate's gate_transfer (ComplianceGate.transferMessage) and answers with the
// same gate_forward / gate_refund. `compileTactGate()` builds it with the Tact CLI into build/tact/.

import { Address, beginCell, Cell, Contract, contractAddress, ContractProvider, Sender, SendMode, TupleBuilder } from '@ton/core';
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { checkSignerSet, SignerSet, signerSetToCell } from './Attestation';
import { ComplianceGate, GateTransfer } from './ComplianceGate';

const ROOT = join(__dirname, '..');

/** Compiles contracts/tact/tact_gate.tact (tact.config.json) and returns its code. */
export function compileTactGate(): Cell {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tact'), ['--config', join(ROOT, 'tact.config.json'), '--quiet'], { cwd: ROOT, stdio: 'pipe' });
    return Cell.fromBoc(readFileSync(join(ROOT, 'build', 'tact', 'TactGate_TactGate.code.boc')))[0];
}

// Contract parameters, stored in order:
//   signers:^SignerSet previous:(Maybe ^SignerSet) grace_until:uint32 max_risk:uint8
//   forbidden:uint32 max_skew:uint32 screen:uint2
export type TactGateConfig = {
    signers: SignerSet;
    previous?: SignerSet;
    graceUntil?: number;
    maxRisk: number;
    forbidden: number;
    maxSkew: number;
    screen: number;
};

/** The contract parameters. The signer sets are checked (checkSignerSet): TactGate has no
 *  rotation, so its deployer is the only one who can refuse a bad set. `maxRisk` may exceed 100
 *  here (the golden-vector tests deploy with 255); the trait refuses risk above 100 anyway. */
export function tactGateConfigToCell(c: TactGateConfig): Cell {
    checkSignerSet(c.signers);
    if (c.previous) checkSignerSet(c.previous);
    return beginCell()
        .storeRef(signerSetToCell(c.signers))
        .storeMaybeRef(c.previous ? signerSetToCell(c.previous) : null)
        .storeUint(c.graceUntil ?? 0, 32)
        .storeUint(c.maxRisk, 8)
        .storeUint(c.forbidden, 32)
        .storeUint(c.maxSkew, 32)
        .storeUint(c.screen, 2)
        .endCell();
}

export class TactGate implements Contract {
    constructor(
        readonly address: Address,
        readonly init?: { code: Cell; data: Cell },
    ) {}

    static createFromAddress(address: Address) {
        return new TactGate(address);
    }

    static createFromConfig(config: TactGateConfig, code: Cell, workchain = 0) {
        const init = { code, data: tactGateConfigToCell(config) };
        return new TactGate(contractAddress(workchain, init), init);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Cell.EMPTY });
    }

    async sendTransfer(provider: ContractProvider, via: Sender, value: bigint, t: GateTransfer) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: ComplianceGate.transferMessage(t) });
    }

    /** The trait's checkSignerSet in a get-method: the set's epoch, or throws with 518. */
    async getCheckSignerSet(provider: ContractProvider, set: Cell) {
        const args = new TupleBuilder();
        args.writeCell(set);
        const { stack } = await provider.get('check_signer_set', args.build());
        return stack.readNumber();
    }

    /** The trait's verifyAttestation in a get-method: (nonce, validUntil), or throws with the code. */
    async getVerify(provider: ContractProvider, attestation: Cell, signatures: Cell, subject: Address) {
        const args = new TupleBuilder();
        args.writeCell(attestation);
        args.writeCell(signatures);
        args.writeAddress(subject);
        const { stack } = await provider.get('verify', args.build());
        // a struct comes back as its fields, in order
        return { nonce: stack.readBigNumber(), validUntil: stack.readNumber() };
    }
}
