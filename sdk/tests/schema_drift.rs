//! The Rust code tables against `contracts/schema.tlb`: every tag and op code is the crc32 of
//! its TL-B line (op codes: the low 31 bits), and every tagged line has a Rust constant.

use tollgate_sdk::codes::{op, tag};

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// (constructor name, tag written in the schema, crc32 of the line without tag and semicolon).
fn tagged_lines() -> Vec<(String, u32, u32)> {
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contracts/schema.tlb"
    ))
    .unwrap();
    schema
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//") && line.ends_with(';'))
        .filter_map(|line| {
            let (head, rest) = line.split_once(' ')?;
            let (name, tag) = head.split_once('#')?;
            let written = u32::from_str_radix(tag, 16).ok()?;
            let canonical = format!("{name} {}", rest.trim_end_matches(';').trim());
            Some((
                name.to_string(),
                written,
                CRC32.checksum(canonical.as_bytes()),
            ))
        })
        .collect()
}

fn rust_table() -> Vec<(&'static str, u32, bool)> {
    // (name, value, is an op code)
    vec![
        ("attestation", tag::ATTESTATION, false),
        ("attestation_proof", tag::ATTESTATION_PROOF, true),
        ("check_attestation", op::CHECK_ATTESTATION, true),
        ("parse_only", op::PARSE_ONLY, true),
        ("gate_transfer", op::GATE_TRANSFER, true),
        ("gate_forward", op::GATE_FORWARD, true),
        ("gate_refund", op::GATE_REFUND, true),
        ("gate_excess", op::GATE_EXCESS, true),
        ("gate_set_signers", op::GATE_SET_SIGNERS, true),
        ("gate_set_policy", op::GATE_SET_POLICY, true),
        ("gate_propose_admin", op::GATE_PROPOSE_ADMIN, true),
        ("gate_claim_admin", op::GATE_CLAIM_ADMIN, true),
        ("gate_withdraw_surplus", op::GATE_WITHDRAW_SURPLUS, true),
        ("jgate_refund", op::JGATE_REFUND, true),
        ("jgate_claim", op::JGATE_CLAIM, true),
        ("jgate_release", op::JGATE_RELEASE, true),
        ("jgate_set_policy", op::JGATE_SET_POLICY, true),
        ("jgate_record", op::JGATE_RECORD, true),
        ("jgate_quarantined", tag::JGATE_QUARANTINED, false),
        ("jgate_released", tag::JGATE_RELEASED, false),
        ("signer_certificate", tag::SIGNER_CERTIFICATE, false),
        ("compliance_auth", tag::COMPLIANCE_AUTH, true),
        ("cj_mint", op::CJ_MINT, true),
        ("cj_propose_admin", op::CJ_PROPOSE_ADMIN, true),
        ("cj_claim_admin", op::CJ_CLAIM_ADMIN, true),
        ("cj_change_content", op::CJ_CHANGE_CONTENT, true),
    ]
}

/// Schema lines of test-only contracts, which the sdk never builds.
fn test_only(name: &str) -> bool {
    name == "proxy_send"
}

#[test]
fn schema_tags_are_the_crc32_of_their_lines() {
    let lines = tagged_lines();
    assert!(!lines.is_empty());
    for (name, written, crc) in &lines {
        let is_op = rust_table()
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(.., op)| *op)
            .unwrap_or(true);
        let expected = if is_op { crc & 0x7fff_ffff } else { *crc };
        assert_eq!(
            *written, expected,
            "{name}: schema.tlb says {written:#010x}, its line hashes to {expected:#010x}"
        );
    }
}

#[test]
fn every_schema_tag_has_a_rust_constant_and_back() {
    let lines = tagged_lines();
    let table = rust_table();
    for (name, written, _) in lines.iter().filter(|(name, ..)| !test_only(name)) {
        let rust = table.iter().find(|(n, ..)| n == name);
        assert_eq!(
            rust.map(|(_, v, _)| *v),
            Some(*written),
            "{name} is missing from or differs in sdk::codes"
        );
    }
    for (name, value, _) in &table {
        assert!(
            lines.iter().any(|(n, w, _)| n == name && w == value),
            "{name} is not in schema.tlb"
        );
    }
}
