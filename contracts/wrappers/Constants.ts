// The tables of SPEC.md §3 and §6 as TypeScript constants. Constants.spec.ts checks them against
// SPEC.md, contracts/schema.tlb (crc32), the FunC sources and sdk/src/codes.rs.

/** Cell tags: crc32 of the TL-B line (schema.tlb). */
export const Tag = {
    attestation: 0x1bb33317,
    /** 31 bits, like an op code: it stands where ops stand in a jetton forward_payload. */
    attestationProof: 0x5c1324ad,
    // JettonDepositGate external log events (SPEC.md §12)
    jgateQuarantined: 0x908d1d73,
    jgateReleased: 0x59104387,
    // Compliant jetton (SPEC.md §16): the root-signed certificate (32 bits, signed data) and the
    // custom_payload of a transfer (31 bits, like an op code)
    signerCertificate: 0xe0adde86,
    complianceAuth: 0x16b70dce,
} as const;

/** Op codes: crc32 & 0x7fffffff of the TL-B line (schema.tlb). */
export const Op = {
    checkAttestation: 0x15301033,
    parseOnly: 0x6c9bcaf3,
    // ComplianceGate (SPEC.md §10)
    gateTransfer: 0x159f1aa7,
    gateForward: 0x46cd6c39,
    gateRefund: 0x484b9547,
    gateExcess: 0x262e0fe5,
    gateSetSigners: 0x534cb90d,
    gateSetPolicy: 0x7adb6046,
    gateProposeAdmin: 0x4287f9f3,
    gateClaimAdmin: 0x03008208,
    gateWithdrawSurplus: 0x3ba7e2a5,
    // JettonDepositGate (SPEC.md §12)
    jgateRefund: 0x2b7533ed,
    jgateClaim: 0x6c3e3b41,
    jgateRelease: 0x7a0040d3,
    jgateSetPolicy: 0x4f2ac848,
    jgateRecord: 0x4970ae90,
    // Compliant jetton minter (SPEC.md §16)
    cjMint: 0x5cc3eb93,
    cjProposeAdmin: 0x7420ea45,
    cjClaimAdmin: 0x2f766d01,
    cjChangeContent: 0x026f794c,
    // AdminProxy test contract
    proxySend: 0x4b03b3d5,
} as const;

/** Exit codes (SPEC.md §6): the verifier library's 256–270 and 272–273, the checker's 271. */
export const Errors = {
    malformedAttestation: 256,
    unknownTag: 257,
    wrongNetwork: 258,
    wrongVerifier: 259,
    wrongSubject: 260,
    expired: 261,
    notYetValid: 262,
    riskTooHigh: 263,
    forbiddenCategory: 264,
    unknownEpoch: 265,
    unknownSigner: 266,
    signerOrder: 267,
    badSignature: 268,
    tooFewSignatures: 269,
    malformedSignatures: 270,
    unknownOp: 271,
    invalidValidity: 272,
    riskOutOfRange: 273,
    // ComplianceGate, from 512 (SPEC.md §10)
    unknownGateOp: 512,
    notAdmin: 513,
    notPendingAdmin: 514,
    missingAttestation: 515,
    insufficientValue: 516,
    staleEpoch: 517,
    malformedSignerSet: 518,
    malformedPolicy: 519,
    forwardBounced: 520,
    unscreenedResponse: 521,
    badDestination: 522,
    noSurplus: 523,
    // JettonDepositGate, from 1024 (SPEC.md §12)
    belowMinimum: 1024,
    transferBounced: 1025,
    noSuchEntry: 1026,
    notDepositor: 1027,
    badDepositor: 1028,
    unrecordedDeposit: 1029,
    // Compliant jetton, from 1280 (SPEC.md §16)
    cjMissingAuth: 1280,
    cjMalformedAuth: 1281,
    cjMalformedCertificate: 1282,
    cjBadRootSignature: 1283,
    cjCertificateNetwork: 1284,
    cjCertificateMinter: 1285,
    cjCertificateExpired: 1286,
    cjNotOwner: 1287,
    cjInsufficientBalance: 1288,
    cjInsufficientValue: 1289,
    cjNotWallet: 1290,
    cjNotAdmin: 1291,
    cjNotPendingAdmin: 1292,
    cjUnknownOp: 1293,
    cjBadWorkchain: 1294,
    // AdminProxy test contract, from 768
    notProxyOwner: 768,
    unknownProxyOp: 769,
} as const;

/** Category bits (SPEC.md §3): `categories & Category.x` */
export const Category = {
    sanctions: 1 << 0,
    terroristFinancing: 1 << 1,
    drainer: 1 << 2,
    scam: 1 << 3,
    phishing: 1 << 4,
    mixer: 1 << 5,
    darknetMarket: 1 << 6,
    ransomware: 1 << 7,
    stolenFunds: 1 << 8,
    impersonation: 1 << 9,
    gambling: 1 << 10,
    highRiskExchange: 1 << 11,
    exchange: 1 << 16,
    bridge: 1 << 17,
    defi: 1 << 18,
    infrastructure: 1 << 19,
} as const;

/** `global_id` of the networks (config param 19). */
export const Network = {
    mainnet: -239,
    testnet: -3,
} as const;
