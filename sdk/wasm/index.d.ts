// Types of tollgate-sdk for JavaScript (index.js, node.js). Field names of attestations and
// proofs are the wire JSON's (snake_case), as the oracle nodes, the CLI and tests/vectors write
// them; options of this package's own functions are camelCase.

/** Amounts in nanotons (or jetton units): bigint, a safe integer, or a decimal string. */
export type Amount = bigint | number | string;

/** An attestation's fields (SPEC.md §1). Addresses raw (`0:hex`) or user-friendly on input, raw on output. */
export interface AttestationFields {
    /** global_id: -239 mainnet, -3 testnet. */
    network: number;
    verifier: string;
    subject: string;
    /** Upper bound on the risk score, 0–100. */
    risk: number;
    /** Upper bound on the categories, a bitmask (SPEC.md §3). */
    categories: number;
    issued_at: number;
    valid_until: number;
    epoch: number;
    /** uint64 as a decimal string (JSON numbers lose precision above 2^53). */
    nonce: string;
}

/** One signature of a bundle. */
export interface SignatureJson {
    index: number;
    /** 64 bytes, hex. */
    signature: string;
}

/** A proof as `tollgate attest` prints it; `boc` and `bundle` are authoritative. */
export interface Proof {
    attestation: AttestationFields;
    /** The attestation cell, base64 BoC. */
    boc: string;
    /** Its representation hash, hex. */
    hash: string;
    /** The signature bundle, base64 BoC. */
    bundle: string;
    signatures: SignatureJson[];
}

/** A verifier's signer set: public keys (hex) by signer index, and k. */
export interface SignerSet {
    publicKeys: string[];
    threshold: number;
}

export interface ParsedAddress {
    raw: string;
    workchain: number;
    hash: string;
    bounceable: boolean;
    testnet: boolean;
}

/** A body and its representation hash (hex). */
export interface Payload {
    /** base64 BoC. */
    payload: string;
    hash: string;
}

/** A `gate_transfer` besides its proofs. */
export interface GateTransfer {
    queryId?: Amount;
    destination: string;
    /** What the destination receives. */
    amount: Amount;
    responseDestination?: string | null;
    /** A cell passed to the destination, base64 BoC. */
    forwardPayload?: string | null;
}

/** TON Connect's `SendTransactionRequest`, as `tonConnectUI.sendTransaction` takes it. */
export interface SendTransactionRequest {
    validUntil: number;
    network: '-239' | '-3';
    from?: string;
    /** Raw messages (absent when `items` is used). */
    messages?: { address: string; amount: string; payload?: string }[];
    /** TON Connect's structured items (absent when `messages` is used). */
    items?: JettonItem[];
}

/** TON Connect's structured jetton item: the wallet builds the transfer. */
export interface JettonItem {
    type: 'jetton';
    master: string;
    destination: string;
    amount: string;
    attachAmount?: string;
    responseDestination?: string;
    customPayload?: string;
    forwardAmount?: string;
    forwardPayload?: string;
    queryId?: string;
}

export interface Deposit {
    /** Jettons in elementary units. */
    amount: Amount;
    queryId?: Amount;
    /** The deposit's reference as a text comment (at most 119 bytes beside the proof)… */
    comment?: string;
    /** …or as a base64 BoC of one cell (at most 991 bits and 2 refs). */
    reference?: string;
    /** The depositor's own jetton wallet: a raw message to it… */
    jettonWallet?: string;
    /** …or the jetton's master: a structured jetton item. */
    master?: string;
}

export interface JettonTransfer {
    queryId?: Amount;
    amount: Amount;
    destination: string;
    responseDestination: string;
    /** Nanotons attached to the notification (default 0.01 TON). */
    forwardTonAmount?: Amount;
}

/** One oracle node of the signer set. */
export interface NodeConfig {
    url: string;
    index: number;
    /** From the verifier's signer set, hex — not from the node. */
    publicKey: string;
}

/** The quorum client's configuration (defaults as the Rust ClientConfig::new). */
export interface ClientConfig {
    nodes: NodeConfig[];
    threshold: number;
    epoch: number;
    /** Validity of proposals (default 600 s). */
    ttlSecs?: number;
    /** Per request (default 2000 ms). */
    timeoutMs?: number;
    /** Per node and round, for transient failures (default 3). */
    attempts?: number;
    /** First retry delay, doubled after (default 25 ms). */
    backoffMs?: number;
}

/** Events of the quorum rounds, as they happen. */
export type Progress =
    | { event: 'judged'; index: number; url: string; score: number; level: string; categories: number }
    | { event: 'judged'; index: number; url: string; error: string }
    | { event: 'proposed'; attestation: AttestationFields; hash: string }
    | { event: 'cosigned'; index: number; url: string }
    | { event: 'cosigned'; index: number; url: string; error: string };

/** The Rust sdk's error kinds (Error::code), plus `invalid_input` for a malformed argument. */
export type ErrorCode =
    | 'invalid_address' | 'unsupported_address' | 'invalid_encoding' | 'invalid_boc' | 'boc_roots'
    | 'exotic_cell' | 'unknown_tag' | 'malformed_attestation' | 'malformed_proof' | 'risk_out_of_range'
    | 'invalid_validity' | 'malformed_signature_entry' | 'bundle_size' | 'signer_order' | 'unknown_signer'
    | 'bad_signature' | 'too_few_signatures' | 'invalid_public_key' | 'invalid_signer_set'
    | 'quorum_not_reached' | 'in_batch' | 'proof_mismatch' | 'proof_expired' | 'missing_proof' | 'reference_too_large'
    | 'unsupported_network' | 'internal' | 'cell' | 'invalid_input'
    | 'malformed_evidence' | 'evidence_wrong_key' | 'evidence_signature'
    | 'malformed_compliance' | 'certificate_signature' | 'certificate_expired' | 'certificate_mismatch'
    | 'over_policy';

export class TollgateError extends Error {
    readonly code: ErrorCode;
    /** bad_signature, unknown_signer: the signer index. */
    readonly index?: number;
    /** proof_mismatch: which proof and field, and the values. */
    readonly party?: 'destination' | 'sender' | 'depositor';
    readonly field?: string;
    readonly expected?: string;
    readonly found?: string | number;
    /** in_batch: position of the first bad proof and why. */
    readonly position?: number;
    readonly cause?: TollgateError;
}

export interface NodeFailure {
    url: string;
    index: number;
    reason: string;
}

export class QuorumError extends TollgateError {
    readonly code: 'quorum_not_reached';
    readonly signed: number;
    readonly threshold: number;
    readonly failures: NodeFailure[];
}

export function initialize(moduleOrPath?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<unknown>;
export function initializeSync(module: BufferSource | WebAssembly.Module): void;

export function encodeAttestation(fields: AttestationFields): { boc: string; hash: string };
export function decodeAttestation(boc: string): AttestationFields;
export function attestationHash(fields: AttestationFields): string;
export function encodeBundle(signatures: SignatureJson[]): string;
export function decodeProof(boc: string, bundle: string): Proof;
export function proofCell(proof: Pick<Proof, 'boc' | 'bundle'>): string;
export function verifyProof(proof: Pick<Proof, 'boc' | 'bundle'>, signers: SignerSet): void;
export function verifyProofs(proofs: Pick<Proof, 'boc' | 'bundle'>[], signers: SignerSet): void;
export function parseAddress(text: string): ParsedAddress;
export function friendlyAddress(text: string, flags?: { bounceable?: boolean; testnet?: boolean }): string;
export function gateTransferPayload(
    transfer: GateTransfer,
    proofs?: { destinationProof?: Pick<Proof, 'boc' | 'bundle'>; senderProof?: Pick<Proof, 'boc' | 'bundle'> },
): Payload;
export function gateTransaction(request: {
    gate: string;
    transfer: GateTransfer;
    destinationProof?: Pick<Proof, 'boc' | 'bundle'>;
    senderProof?: Pick<Proof, 'boc' | 'bundle'>;
    /** Unix seconds expiry is checked at (default: now). */
    now?: number;
}): SendTransactionRequest;
export function depositTransaction(request: {
    gate: string;
    deposit: Deposit;
    proof: Pick<Proof, 'boc' | 'bundle'>;
    /** Unix seconds expiry is checked at (default: now). */
    now?: number;
}): SendTransactionRequest;
export function depositForwardTon(options?: { signatures?: number }): string;
export function gateFee(options?: { destinationWorkchain?: number; parties?: number; signatures?: number }): string;
export function jettonTransferPayload(
    transfer: JettonTransfer,
    proof: Pick<Proof, 'boc' | 'bundle'>,
    placement: 'custom' | 'forward',
): Payload;
export function attest(
    config: ClientConfig,
    request: { subject: string; verifier: string; network?: 'mainnet' | 'testnet' | number; onProgress?: (event: Progress) => void },
): Promise<Proof>;
/** One subject's outcome in `attestMany`: its proof, or why no quorum signed it. */
export type AttestManyResult =
    | { subject: string; proof: Proof; error?: undefined }
    | { subject: string; proof?: undefined; error: TollgateError | QuorumError };
export function attestMany(
    config: ClientConfig,
    request: { subjects: string[]; verifier: string; network?: 'mainnet' | 'testnet' | number },
): Promise<AttestManyResult[]>;
export function categoryNames(mask: number): string[];
