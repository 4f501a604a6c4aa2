// Deploying a ComplianceGate for a set of running oracle nodes: the signer set read from each
// node's GET /v1/oracle, the gate's state read back through its get-methods. Kept thin on
// purpose: the storage comes from wrappers/ComplianceGate.ts's config builder, so a change of
// the gate's layout changes this script through the wrapper alone.

import { Address, Cell, Sender, toNano } from '@ton/core';
import { ComplianceGate, ComplianceGateConfig, GatePolicy } from '../wrappers/ComplianceGate';
import { SignerSet } from '../wrappers/Attestation';

/** What a node says about itself (`GET /v1/oracle`, SPEC.md §11). */
export type OracleInfo = { public_key: string; signer_index: number; epoch: number; networks: number[]; max_ttl_secs: number };

export class DeployError extends Error {
    constructor(readonly code: 'unreachable' | 'bad_answer' | 'epoch_mismatch' | 'index_gap' | 'network' | 'threshold', message: string) {
        super(message);
        this.name = 'DeployError';
    }
}

export const GLOBAL_ID = { mainnet: -239, testnet: -3 } as const;

/**
 * The signer set of the nodes at `urls`: keys by signer index (which must be 0..n-1, each
 * once), one epoch, every node signing for `network`, and `threshold` of them (default: a
 * majority). This trusts the nodes about their own keys: compare the printed keys with the
 * operators' before sending real value.
 */
export async function signerSetFromNodes(urls: string[], network: keyof typeof GLOBAL_ID, threshold?: number,
    fetchFn: typeof fetch = fetch): Promise<SignerSet> {
    const infos: OracleInfo[] = [];
    for (const url of urls) {
        let response: Response;
        try {
            response = await fetchFn(`${url.replace(/\/$/, '')}/v1/oracle`);
        } catch (err) {
            throw new DeployError('unreachable', `${url}: ${(err as Error).message}`);
        }
        if (!response.ok) throw new DeployError('bad_answer', `${url}: HTTP ${response.status}`);
        const info = (await response.json()) as OracleInfo;
        if (!/^[0-9a-f]{64}$/.test(info.public_key ?? '') || !Number.isInteger(info.signer_index)) {
            throw new DeployError('bad_answer', `${url}: not a /v1/oracle answer`);
        }
        if (!info.networks.includes(GLOBAL_ID[network])) {
            throw new DeployError('network', `${url} does not sign for ${network}`);
        }
        infos.push(info);
    }
    infos.sort((a, b) => a.signer_index - b.signer_index);
    infos.forEach((info, position) => {
        if (info.signer_index !== position) {
            throw new DeployError('index_gap', `signer indexes must be 0..${infos.length - 1}, each once; found ${infos.map((i) => i.signer_index)}`);
        }
        if (info.epoch !== infos[0].epoch) throw new DeployError('epoch_mismatch', `nodes report epochs ${infos.map((i) => i.epoch)}`);
    });
    const k = threshold ?? Math.floor(infos.length / 2) + 1;
    if (!(k >= 1 && k <= infos.length)) throw new DeployError('threshold', `threshold ${k} of ${infos.length} nodes`);
    return { epoch: infos[0].epoch, threshold: k, publicKeys: infos.map((i) => Buffer.from(i.public_key, 'hex')) };
}

/** An opened gate: Blueprint's provider.open(...) on a real chain, openContract in the sandbox. */
export type GateHandle = {
    address: Address;
    sendDeploy(via: Sender, value: bigint): Promise<unknown>;
    getSignerSet(): Promise<{ epoch: number; threshold: number; count: number }>;
    getPolicy(): Promise<GatePolicy>;
    getAdmin(): Promise<{ admin: Address }>;
};

/** What the gate reports about itself through its get-methods. */
export async function gateState(gate: GateHandle) {
    const signers = await gate.getSignerSet();
    return { signers: { epoch: signers.epoch, threshold: signers.threshold, count: signers.count }, policy: await gate.getPolicy(), admin: (await gate.getAdmin()).admin };
}

export type DeployOptions<G extends GateHandle> = {
    code: Cell;
    signers: SignerSet;
    policy: GatePolicy;
    admin: Address;
    open: (gate: ComplianceGate) => G;
    sender: Sender;
    /** Deploy value; the gate keeps gate::min_storage (0.1 TON) of it for rent. */
    value?: bigint;
};

/** Sends the deploy message; returns the opened gate (the caller waits for it on a real chain). */
export async function deployGate<G extends GateHandle>(o: DeployOptions<G>): Promise<G> {
    const config: ComplianceGateConfig = { signers: o.signers, policy: o.policy, admin: o.admin };
    const gate = o.open(ComplianceGate.createFromConfig(config, o.code));
    await gate.sendDeploy(o.sender, o.value ?? toNano('0.2'));
    return gate;
}
