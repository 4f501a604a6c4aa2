//! Tags, op codes and exit codes: the tables of SPEC.md §6 as Rust constants.
//!
//! Tags and op codes are crc32 of their TL-B lines in `contracts/schema.tlb` (op codes keep the
//! low 31 bits). The `schema_drift` tests recompute them from the schema file, and the contracts'
//! `Constants.spec.ts` compares this file with SPEC.md, the FunC sources and the TypeScript
//! wrappers, so the four tables cannot drift apart silently.

/// Cell tags (32-bit constructor prefixes).
pub mod tag {
    /// `attestation#1bb33317`: crc32 of the attestation's TL-B line. Also its version.
    pub const ATTESTATION: u32 = 0x1bb3_3317;
    /// `attestation_proof#5c1324ad`: an attestation and its signatures in one cell (low 31
    /// bits of the crc32, as it stands where op codes stand in a jetton `forward_payload`).
    pub const ATTESTATION_PROOF: u32 = 0x5c13_24ad;
    /// `signer_certificate#e0adde86`: the compliant jetton's root-signed signer certificate
    /// (all 32 bits of the crc32: signed data, like the attestation).
    pub const SIGNER_CERTIFICATE: u32 = 0xe0ad_de86;
    /// `compliance_auth#16b70dce`: the compliant jetton transfer's `custom_payload` (low 31 bits,
    /// as it stands where an op code stands).
    pub const COMPLIANCE_AUTH: u32 = 0x16b7_0dce;
    /// `jgate_quarantined#908d1d73`: JettonDepositGate external log, an entry went into quarantine.
    pub const JGATE_QUARANTINED: u32 = 0x908d_1d73;
    /// `jgate_released#59104387`: JettonDepositGate external log, an entry left quarantine.
    pub const JGATE_RELEASED: u32 = 0x5910_4387;
}

/// Op codes of internal messages (crc32 & 0x7fffffff of the TL-B line).
pub mod op {
    /// `check_attestation query_id:uint64 subject:MsgAddressInt attestation:^Attestation
    /// signatures:^SignatureEntry = InternalMsgBody`: asks the checker contract to verify.
    pub const CHECK_ATTESTATION: u32 = 0x1530_1033;
    /// `parse_only`: the checker's baseline — parses a `check_attestation` body, verifies
    /// nothing (the gas comparison's reference).
    pub const PARSE_ONLY: u32 = 0x6c9b_caf3;
    /// TEP-74 `transfer query_id:uint64 amount:(VarUInteger 16) destination:MsgAddress
    /// response_destination:MsgAddress custom_payload:(Maybe ^Cell) forward_ton_amount:(VarUInteger 16)
    /// forward_payload:(Either Cell ^Cell) = InternalMsgBody` (the standard's published value).
    pub const JETTON_TRANSFER: u32 = 0x0f8a_7ea5;

    /// `gate_transfer`: send TON through a ComplianceGate with the screened parties' proofs.
    pub const GATE_TRANSFER: u32 = 0x159f_1aa7;
    /// `gate_forward`: what the gate sends the destination (bounceable).
    pub const GATE_FORWARD: u32 = 0x46cd_6c39;
    /// `gate_refund`: the gate returns the value, with the exit code that refused it.
    pub const GATE_REFUND: u32 = 0x484b_9547;
    /// `gate_excess`: the gate returns what was left over to `response_destination`.
    pub const GATE_EXCESS: u32 = 0x262e_0fe5;
    /// `gate_set_signers`: admin installs a new signer set; the current one gets a grace period.
    pub const GATE_SET_SIGNERS: u32 = 0x534c_b90d;
    /// `gate_set_policy`: admin changes the screening policy.
    pub const GATE_SET_POLICY: u32 = 0x7adb_6046;
    /// `gate_propose_admin`: admin proposes a successor (first step of two).
    pub const GATE_PROPOSE_ADMIN: u32 = 0x4287_f9f3;
    /// `gate_claim_admin`: the proposed admin takes over (second step).
    pub const GATE_CLAIM_ADMIN: u32 = 0x0300_8208;
    /// `gate_withdraw_surplus`: the admin takes the balance above the gate's storage reserve.
    pub const GATE_WITHDRAW_SURPLUS: u32 = 0x3ba7_e2a5;
    /// `jgate_refund query_id:uint64 error:uint32`: JettonDepositGate, the forward_payload of
    /// jettons sent back to the depositor, with the reason.
    pub const JGATE_REFUND: u32 = 0x2b75_33ed;
    /// `jgate_claim query_id:uint64 id:uint32`: the depositor takes a quarantine entry back.
    pub const JGATE_CLAIM: u32 = 0x6c3e_3b41;
    /// `jgate_release query_id:uint64 id:uint32 to_treasury:Bool`: the admin releases an entry.
    pub const JGATE_RELEASE: u32 = 0x7a00_40d3;
    /// `jgate_set_policy query_id:uint64 policy:JettonGatePolicy`: the admin replaces the policy.
    pub const JGATE_SET_POLICY: u32 = 0x4f2a_c848;
    /// `jgate_record query_id:uint64 depositor:MsgAddressInt amount:Coins`: the admin records
    /// jettons that reached the gate's wallet unseen as a quarantine entry of their depositor.
    pub const JGATE_RECORD: u32 = 0x4970_ae90;

    /// Compliant jetton minter: the admin mints to an owner's wallet (SPEC.md §16).
    pub const CJ_MINT: u32 = 0x5cc3_eb93;
    /// Compliant jetton minter: the admin names a pending admin (`addr_none` cancels).
    pub const CJ_PROPOSE_ADMIN: u32 = 0x7420_ea45;
    /// Compliant jetton minter: the pending admin becomes the admin.
    pub const CJ_CLAIM_ADMIN: u32 = 0x2f76_6d01;
    /// Compliant jetton minter: the admin replaces the metadata content cell.
    pub const CJ_CHANGE_CONTENT: u32 = 0x026f_794c;
}

/// Exit codes thrown by the FunC verifier library (all >= 256).
pub mod error {
    /// The attestation cell is not 798 bits with no refs.
    pub const MALFORMED_ATTESTATION: u32 = 256;
    /// The attestation's tag is not [`super::tag::ATTESTATION`].
    pub const UNKNOWN_TAG: u32 = 257;
    /// `network` is not the chain's `GLOBALID`.
    pub const WRONG_NETWORK: u32 = 258;
    /// `verifier` is not the contract checking it.
    pub const WRONG_VERIFIER: u32 = 259;
    /// `subject` is not the address being screened.
    pub const WRONG_SUBJECT: u32 = 260;
    /// `valid_until < now`.
    pub const EXPIRED: u32 = 261;
    /// `issued_at > now + max_skew`.
    pub const NOT_YET_VALID: u32 = 262;
    /// `risk` is above the policy's maximum.
    pub const RISK_TOO_HIGH: u32 = 263;
    /// `categories` intersects the policy's forbidden set.
    pub const FORBIDDEN_CATEGORY: u32 = 264;
    /// The epoch is neither the current signer set's nor the previous one's within its grace.
    pub const UNKNOWN_EPOCH: u32 = 265;
    /// A signer index is not below the signer set's count.
    pub const UNKNOWN_SIGNER: u32 = 266;
    /// Signer indexes do not strictly increase.
    pub const SIGNER_ORDER: u32 = 267;
    /// A signature does not verify.
    pub const BAD_SIGNATURE: u32 = 268;
    /// Fewer signatures than the signer set's threshold.
    pub const TOO_FEW_SIGNATURES: u32 = 269;
    /// A signature entry is not 521 bits with at most one ref.
    pub const MALFORMED_SIGNATURES: u32 = 270;
    /// `valid_until < issued_at`, or a lifetime above [`crate::attestation::MAX_LIFETIME_SECS`].
    pub const INVALID_VALIDITY: u32 = 272;
    /// `risk` above [`crate::attestation::MAX_RISK`].
    pub const RISK_OUT_OF_RANGE: u32 = 273;

    /// ComplianceGate: unknown op.
    pub const UNKNOWN_GATE_OP: u32 = 512;
    /// ComplianceGate: an admin op from someone other than the admin.
    pub const NOT_ADMIN: u32 = 513;
    /// ComplianceGate: `gate_claim_admin` from someone other than the proposed admin.
    pub const NOT_PENDING_ADMIN: u32 = 514;
    /// ComplianceGate: the policy screens a party the transfer carries no proof for.
    pub const MISSING_ATTESTATION: u32 = 515;
    /// ComplianceGate: the value does not cover the amount, fees and the gate's rent.
    pub const INSUFFICIENT_VALUE: u32 = 516;
    /// ComplianceGate: a new signer set's epoch is not the current one + 1 (mod 2^32).
    pub const STALE_EPOCH: u32 = 517;
    /// ComplianceGate: a signer set cell does not have the SignerSet layout.
    pub const MALFORMED_SIGNER_SET: u32 = 518;
    /// ComplianceGate: a policy does not have the GatePolicy layout.
    pub const MALFORMED_POLICY: u32 = 519;
    /// ComplianceGate: the destination bounced the forward; the value went back to the sender.
    pub const FORWARD_BOUNCED: u32 = 520;
    /// ComplianceGate: `response_destination` is neither `addr_none`, the sender nor the
    /// destination (the gate pays no address its policy has not screened).
    pub const UNSCREENED_RESPONSE: u32 = 521;
    /// ComplianceGate: the destination is not an `addr_std` on the basechain or masterchain.
    pub const BAD_DESTINATION: u32 = 522;
    /// ComplianceGate: `gate_withdraw_surplus` with nothing above the storage reserve.
    pub const NO_SURPLUS: u32 = 523;
    /// JettonDepositGate: the deposit is below the policy's `min_amount`.
    pub const BELOW_MINIMUM: u32 = 1024;
    /// JettonDepositGate, quarantine reason: its jetton wallet bounced the gate's transfer.
    pub const TRANSFER_BOUNCED: u32 = 1025;
    /// JettonDepositGate: claim or release of an id not in quarantine.
    pub const NO_SUCH_ENTRY: u32 = 1026;
    /// JettonDepositGate: a claim from someone other than the entry's depositor.
    pub const NOT_DEPOSITOR: u32 = 1027;
    /// JettonDepositGate: the depositor is not a payable `addr_std` (quarantine reason; such an
    /// entry can only be released to the treasury).
    pub const BAD_DEPOSITOR: u32 = 1028;
    /// JettonDepositGate, quarantine reason: jettons the gate never saw a notification for
    /// (forward amount 0 or too small to run), recorded by the admin with `jgate_record`.
    pub const UNRECORDED_DEPOSIT: u32 = 1029;

    /// Compliant jetton (SPEC.md §16): a transfer without `custom_payload`.
    pub const CJ_MISSING_AUTH: u32 = 1280;
    /// Compliant jetton: `custom_payload` is not a `compliance_auth` (tag, 544 bits, 3 refs).
    pub const CJ_MALFORMED_AUTH: u32 = 1281;
    /// Compliant jetton: a root-signed cell that is not a `signer_certificate`.
    pub const CJ_MALFORMED_CERTIFICATE: u32 = 1282;
    /// Compliant jetton: the root key did not sign the certificate.
    pub const CJ_BAD_ROOT_SIGNATURE: u32 = 1283;
    /// Compliant jetton: the certificate's network is not the chain's global id.
    pub const CJ_CERTIFICATE_NETWORK: u32 = 1284;
    /// Compliant jetton: the certificate names another minter.
    pub const CJ_CERTIFICATE_MINTER: u32 = 1285;
    /// Compliant jetton: the certificate's `valid_until` has passed.
    pub const CJ_CERTIFICATE_EXPIRED: u32 = 1286;
    /// Compliant jetton: transfer or burn from someone other than the wallet's owner.
    pub const CJ_NOT_OWNER: u32 = 1287;
    /// Compliant jetton: the amount is above the wallet's balance.
    pub const CJ_INSUFFICIENT_BALANCE: u32 = 1288;
    /// Compliant jetton: the attached TON does not pay the fees, forward amount and reserve.
    pub const CJ_INSUFFICIENT_VALUE: u32 = 1289;
    /// Compliant jetton: internal_transfer or burn_notification not from a wallet of this jetton.
    pub const CJ_NOT_WALLET: u32 = 1290;
    /// Compliant jetton minter: an admin op from someone other than the admin.
    pub const CJ_NOT_ADMIN: u32 = 1291;
    /// Compliant jetton minter: `cj_claim_admin` from someone other than the pending admin.
    pub const CJ_NOT_PENDING_ADMIN: u32 = 1292;
    /// Compliant jetton: an op the contract does not take.
    pub const CJ_UNKNOWN_OP: u32 = 1293;
    /// Compliant jetton: a destination or mint target that is not a basechain `addr_std`.
    pub const CJ_BAD_WORKCHAIN: u32 = 1294;
}
