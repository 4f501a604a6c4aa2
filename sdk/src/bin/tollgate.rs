//! `tollgate`: get, check and package Tollgate attestations from the command line.
//!
//! ```text
//! tollgate attest --node http://127.0.0.1:8080 --node http://127.0.0.1:8081 --threshold 2 \
//!     --subject EQ... --verifier EQ... > attested.json
//! tollgate attest --node ... --subject EQ... --subject UQ... --verifier EQ... > many.json
//!     # or --subjects FILE (one address a line): {"results": [proof | {subject, error}, ...]},
//!     # through the nodes' batch endpoints
//! tollgate verify --input attested.json --key 0:<hex> --key 1:<hex> --threshold 2
//! tollgate payload gate --destination-proof attested.json --destination EQ... --amount 1000000000 \
//!     --gate EQ... > transaction.json   # TON Connect sendTransaction request
//! tollgate verify-evidence case.json --key <hex>   # a node's evidence case file, offline
//! tollgate cert issue --root-key root.key --minter EQ... --valid-days 30 --max-risk 40 \
//!     --forbidden sanctions --signer <hex> --signer <hex> --threshold 2 --epoch 1 > cert.json
//! tollgate cert show cert.json   # decode, check the root signature, say if it expired
//! tollgate payload compliant --cert cert.json --node http://... --node http://... \
//!     --sender EQ... --destination EQ... --amount 1000000 --jetton-wallet EQ...
//!     # a compliant-jetton transfer with the sender's ComplianceAuth, TON Connect request
//! tollgate payload deposit --proof attested.json --gate EQ... --jetton-wallet EQ... \
//!     --amount 100000000 --comment "invoice 42" > deposit.json   # a USDT deposit, TON Connect
//! ```

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tollgate_sdk::api::OracleInfo;
use tollgate_sdk::client::{Client, ClientConfig, Node};
use tollgate_sdk::compliant::{CertificateFile, SignedCertificate, SignerCertificate};
use tollgate_sdk::messages::{GateTransfer, JettonTransfer};
use tollgate_sdk::ton_connect::{CompliantRequest, DepositRequest, GateRequest};
use tollgate_sdk::{
    boc, Address, Attestation, AttestationProof, Network, ProofJson, SignatureBundle, VerifyingKey,
};

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Get, check and package Tollgate risk attestations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ask oracle nodes for a quorum-signed attestation and print it as JSON.
    Attest(AttestArgs),
    /// Check an attestation and its signature bundle offline.
    Verify(VerifyArgs),
    /// Check an evidence case file (from `GET /v1/evidence/{address}` or `tollgate-oracle
    /// evidence`) offline against the node's public key; prints a summary of the case.
    VerifyEvidence(VerifyEvidenceArgs),
    /// Build a message body carrying attestations, as the base64 BoC TON Connect takes.
    #[command(subcommand)]
    Payload(PayloadCommand),
    /// Compliant-jetton signer certificates (SPEC.md §16): issue one with the root key, show one.
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Subcommand)]
enum CertCommand {
    /// Sign a signer certificate with the root key and print the certificate file (JSON).
    Issue(CertIssueArgs),
    /// Decode a certificate file, check its root signature and print its fields.
    Show(CertShowArgs),
}

#[derive(Args)]
struct CertIssueArgs {
    /// File holding the root key's 32-byte seed as 64 hex digits; mode 0600 or stricter (the key
    /// is never taken from the command line).
    #[arg(long)]
    root_key: std::path::PathBuf,
    /// The compliant jetton's minter (raw or user-friendly).
    #[arg(long)]
    minter: Address,
    /// `mainnet`, `testnet` or a global_id.
    #[arg(long, default_value = "mainnet", value_parser = parse_network)]
    network: Network,
    /// Last unix second the certificate is valid in.
    #[arg(
        long,
        conflicts_with = "valid_days",
        required_unless_present = "valid_days"
    )]
    valid_until: Option<u32>,
    /// Validity from now, in days (e.g. 30; overlap certificates for a grace period).
    #[arg(long)]
    valid_days: Option<u32>,
    /// Highest risk a sender may have (0–100).
    #[arg(long)]
    max_risk: u8,
    /// Forbidden categories, comma-separated names (e.g. `sanctions,mixer`).
    #[arg(long, value_delimiter = ',')]
    forbidden: Vec<String>,
    /// Clock skew allowed for an attestation's `issued_at`, seconds.
    #[arg(long, default_value_t = 300)]
    max_skew: u32,
    /// A signer's public key, 64 hex digits, in signer-index order; repeat for each.
    #[arg(long = "signer", required = true)]
    signers: Vec<String>,
    /// Signatures required (k).
    #[arg(long)]
    threshold: u8,
    /// The signer set's epoch (the nodes' `epoch`).
    #[arg(long)]
    epoch: u32,
}

#[derive(Args)]
struct CertShowArgs {
    /// The certificate file written by `tollgate cert issue`; `-` for stdin.
    file: String,
    /// Require this root public key (64 hex digits) instead of trusting the one the file names.
    #[arg(long)]
    root: Option<String>,
    /// Check expiry at this unix time (default: now).
    #[arg(long)]
    now: Option<u32>,
}

#[derive(Subcommand)]
enum PayloadCommand {
    /// A ComplianceGate `gate_transfer`.
    Gate(GateArgs),
    /// A TEP-74 jetton `transfer` with the proof in `custom_payload` or `forward_payload`.
    Jetton(JettonArgs),
    /// A jetton deposit to a JettonDepositGate, as a TON Connect `sendTransaction` request: the
    /// proof and the reference in `forward_payload`, the forward amount and TON computed.
    Deposit(DepositArgs),
    /// A compliant-jetton transfer (SPEC.md §16): a quorum attestation of the sender for the
    /// certificate's minter, wrapped with the certificate into the `custom_payload`.
    Compliant(CompliantArgs),
}

#[derive(Args)]
struct CompliantArgs {
    /// The certificate file written by `tollgate cert issue`.
    #[arg(long)]
    cert: String,
    /// Base URL of an oracle node of the certificate's signer set; repeat. Each node's index
    /// and key are read from its `/v1/oracle` and must be the certificate's key at that index.
    #[arg(long = "node", required_unless_present = "proof")]
    nodes: Vec<String>,
    /// Use this proof (JSON printed by `tollgate attest`) instead of asking nodes.
    #[arg(long, conflicts_with = "nodes")]
    proof: Option<String>,
    /// The sending wallet's owner: the attestation's subject.
    #[arg(long)]
    sender: Address,
    /// The new owner of the jettons.
    #[arg(long)]
    destination: Address,
    /// Jettons in elementary units.
    #[arg(long)]
    amount: u128,
    /// The sender's jetton wallet: the output is a TON Connect request to it. Without it, the
    /// transfer body alone.
    #[arg(long)]
    jetton_wallet: Option<Address>,
    /// TON forwarded to the destination with the notification, nanotons.
    #[arg(long, default_value_t = 0)]
    forward_ton_amount: u64,
    /// A text comment as forward_payload.
    #[arg(long)]
    comment: Option<String>,
    #[arg(long, default_value_t = 0)]
    query_id: u64,
    /// Validity of the attestation asked for, seconds.
    #[arg(long, default_value_t = 600)]
    ttl: u32,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

#[derive(Args)]
struct DepositArgs {
    /// JSON printed by `tollgate attest` for the depositor, with the gate as verifier.
    #[arg(long)]
    proof: String,
    /// The JettonDepositGate.
    #[arg(long)]
    gate: Address,
    /// The depositor's own jetton wallet: the request is a raw message to it.
    #[arg(long, required_unless_present = "master", conflicts_with = "master")]
    jetton_wallet: Option<Address>,
    /// The jetton's master: the request is TON Connect's structured jetton item instead.
    #[arg(long)]
    master: Option<Address>,
    /// Jettons in elementary units (USDT: 6 decimals).
    #[arg(long)]
    amount: u128,
    /// The deposit's reference as a text comment (sent on to the treasury).
    #[arg(long, conflicts_with = "reference")]
    comment: Option<String>,
    /// The deposit's reference as a base64 BoC of one cell (at most 991 bits and 2 refs).
    #[arg(long)]
    reference: Option<String>,
    /// Refuse a proof about anyone else than this depositor.
    #[arg(long)]
    depositor: Option<Address>,
    /// Query id.
    #[arg(long, default_value_t = 0)]
    query_id: u64,
}

#[derive(Args)]
struct GateArgs {
    /// JSON printed by `tollgate attest` for the destination (when the gate screens it).
    #[arg(long, required_unless_present = "sender_proof")]
    destination_proof: Option<String>,
    /// JSON printed by `tollgate attest` for the sender (when the gate screens it).
    #[arg(long)]
    sender_proof: Option<String>,
    /// Who receives the TON.
    #[arg(long)]
    destination: Address,
    /// Nanotons the destination receives.
    #[arg(long)]
    amount: u128,
    /// Who gets the excess back (the destination gets everything less fees without it).
    #[arg(long)]
    response: Option<Address>,
    /// Query id echoed in the gate's answers.
    #[arg(long, default_value_t = 0)]
    query_id: u64,
    /// The ComplianceGate: print the whole TON Connect `sendTransaction` request (gate address,
    /// amount plus the gate's fees, `validUntil`, network, payload) instead of the payload alone.
    #[arg(long)]
    gate: Option<Address>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Placement {
    /// In `custom_payload`, for a jetton whose wallets check attestations.
    Custom,
    /// As `forward_payload`, for a deposit gate in front of an existing jetton.
    Forward,
}

#[derive(Args)]
struct JettonArgs {
    /// JSON printed by `tollgate attest`.
    #[arg(long)]
    proof: String,
    /// Where the proof goes.
    #[arg(long, value_enum)]
    placement: Placement,
    /// The new owner of the jettons.
    #[arg(long)]
    destination: Address,
    /// Jettons in the smallest units.
    #[arg(long)]
    amount: u128,
    /// Who gets the excess TON back.
    #[arg(long)]
    response: Address,
    /// Nanotons attached to the transfer notification.
    #[arg(long, default_value_t = 10_000_000)]
    forward_ton_amount: u128,
    /// Query id.
    #[arg(long, default_value_t = 0)]
    query_id: u64,
}

#[derive(Args)]
struct AttestArgs {
    /// Base URL of an oracle node; repeat for each node of the signer set.
    #[arg(long = "node", required = true)]
    nodes: Vec<String>,
    /// Public key of a node as `INDEX:HEX`, in `--node` order. Without them the keys and indexes
    /// are read from each node's `/v1/oracle` (trust on first use; a warning says so).
    #[arg(long = "key")]
    keys: Vec<String>,
    /// Signatures required (k). Defaults to all nodes.
    #[arg(long)]
    threshold: Option<usize>,
    /// Signer-set epoch. Defaults to the epoch the nodes report.
    #[arg(long)]
    epoch: Option<u32>,
    /// The address to screen (raw or user-friendly); repeat for several. With more than one
    /// (or `--subjects`) the nodes' batch endpoints are used.
    #[arg(long = "subject")]
    subjects: Vec<Address>,
    /// A file of addresses to screen, one a line (blank lines and `#` comments skipped).
    #[arg(long = "subjects")]
    subjects_file: Option<std::path::PathBuf>,
    /// The contract that will check the attestation (raw or user-friendly).
    #[arg(long)]
    verifier: Address,
    /// `mainnet`, `testnet` or a global_id.
    #[arg(long, default_value = "mainnet", value_parser = parse_network)]
    network: Network,
    /// Validity in seconds.
    #[arg(long, default_value_t = 600)]
    ttl: u32,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

#[derive(Args)]
struct VerifyArgs {
    /// JSON printed by `tollgate attest` (reads `boc` and `bundle` from it); `-` for stdin.
    #[arg(long, conflicts_with_all = ["boc", "bundle"])]
    input: Option<String>,
    /// The attestation as a base64 BoC.
    #[arg(long, requires = "bundle")]
    boc: Option<String>,
    /// The signature bundle as a base64 BoC.
    #[arg(long)]
    bundle: Option<String>,
    /// A signer's public key as `INDEX:HEX`; repeat for the signer set.
    #[arg(long = "key", required = true)]
    keys: Vec<String>,
    /// Signatures required (k).
    #[arg(long, default_value_t = 1)]
    threshold: usize,
    /// Check validity at this unix time (default: now).
    #[arg(long)]
    now: Option<u32>,
    /// Require this verifier.
    #[arg(long)]
    verifier: Option<Address>,
    /// Require this subject.
    #[arg(long)]
    subject: Option<Address>,
    /// Require this network.
    #[arg(long, value_parser = parse_network)]
    network: Option<Network>,
}

#[derive(Args)]
struct VerifyEvidenceArgs {
    /// The case file; `-` for stdin.
    file: String,
    /// The node's ed25519 public key, 64 hex digits (as `GET /v1/oracle` reports it; get it
    /// from the operator, not from the file).
    #[arg(long)]
    key: String,
}

fn parse_network(text: &str) -> Result<Network, String> {
    Network::from_name(text).ok_or_else(|| format!("unknown network {text:?}"))
}

fn parse_key(text: &str) -> Result<(u8, VerifyingKey), String> {
    let (index, key) = text.split_once(':').ok_or("expected INDEX:HEX")?;
    let index: u8 = index
        .parse()
        .map_err(|_| format!("bad signer index {index:?}"))?;
    let bytes: [u8; 32] = hex::decode(key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("public key must be 64 hex digits")?;
    let key =
        VerifyingKey::from_bytes(&bytes).map_err(|err| format!("invalid public key: {err}"))?;
    Ok((index, key))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Attest(args) => attest(args).await,
        Command::Verify(args) => verify(args),
        Command::Payload(command) => payload(command).await,
        Command::VerifyEvidence(args) => verify_evidence(args),
        Command::Cert(CertCommand::Issue(args)) => cert_issue(args),
        Command::Cert(CertCommand::Show(args)) => cert_show(args),
    };
    match result {
        Ok(output) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&output).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("tollgate: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn attest(args: AttestArgs) -> Result<serde_json::Value, String> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let (nodes, reported_epoch) = if args.keys.is_empty() {
        discover(&args.nodes, timeout).await?
    } else {
        if args.keys.len() != args.nodes.len() {
            return Err("give one --key per --node, in the same order".into());
        }
        let nodes = args
            .nodes
            .iter()
            .zip(&args.keys)
            .map(|(url, key)| {
                let (index, public_key) = parse_key(key)?;
                Ok(Node {
                    url: url.clone(),
                    index,
                    public_key,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        (nodes, None)
    };
    let epoch = args
        .epoch
        .or(reported_epoch)
        .ok_or("give --epoch (the nodes were not asked)")?;
    let threshold = args.threshold.unwrap_or(nodes.len());
    let mut config = ClientConfig::new(nodes, threshold, epoch);
    config.ttl_secs = args.ttl;
    config.timeout = timeout;
    let client = Client::new(config).map_err(|err| err.to_string())?;
    let mut subjects = args.subjects;
    if let Some(path) = &args.subjects_file {
        subjects.extend(read_subjects(path)?);
    }
    match subjects.as_slice() {
        [] => Err("give --subject ADDRESS (repeatable) or --subjects FILE".into()),
        [subject] if args.subjects_file.is_none() => {
            let attested = client
                .attest(*subject, args.verifier, args.network)
                .await
                .map_err(sdk_error)?;
            serde_json::to_value(ProofJson::new(&attested).map_err(sdk_error)?)
                .map_err(|err| err.to_string())
        }
        many => {
            let results = client
                .attest_many(many, args.verifier, args.network)
                .await
                .map_err(sdk_error)?;
            let mut failed = 0;
            let mut out = Vec::with_capacity(results.len());
            for (subject, result) in many.iter().zip(results) {
                out.push(match result.map_err(sdk_error) {
                    Ok(proof) => serde_json::to_value(ProofJson::new(&proof).map_err(sdk_error)?)
                        .map_err(|err| err.to_string())?,
                    Err(message) => {
                        failed += 1;
                        json!({ "subject": subject.to_raw(), "error": message })
                    }
                });
            }
            let output = json!({ "results": out });
            if failed > 0 {
                // The proofs that did form are still printed; the exit status says not all did.
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::to_string_pretty(&output).unwrap_or_default()
                );
                return Err(format!(
                    "{failed} of {} subjects got no quorum (see their `error`)",
                    many.len()
                ));
            }
            Ok(output)
        }
    }
}

/// Addresses from a file, one a line.
fn read_subjects(path: &std::path::Path) -> Result<Vec<Address>, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| (n, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| {
            line.parse()
                .map_err(|err| format!("{}:{}: {err}", path.display(), n + 1))
        })
        .collect()
}

/// A node's `GET /v1/oracle`: its signer index, key and epoch.
async fn oracle_info(http: &reqwest::Client, url: &str) -> reqwest::Result<OracleInfo> {
    http.get(format!("{}/v1/oracle", url.trim_end_matches('/')))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

/// Reads each node's index, key and epoch from `GET /v1/oracle`.
async fn discover(urls: &[String], timeout: Duration) -> Result<(Vec<Node>, Option<u32>), String> {
    eprintln!(
        "tollgate: warning: no --key given; trusting the keys the nodes report about themselves"
    );
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|err| err.to_string())?;
    let mut nodes = Vec::new();
    let mut epoch = None;
    for url in urls {
        let info = oracle_info(&http, url)
            .await
            .map_err(|err| format!("{url}: {err}"))?;
        let (index, public_key) = parse_key(&format!("{}:{}", info.signer_index, info.public_key))?;
        if epoch.is_some_and(|e| e != info.epoch) {
            return Err(format!(
                "{url} reports epoch {}, another node {}",
                info.epoch,
                epoch.unwrap_or_default()
            ));
        }
        epoch = Some(info.epoch);
        nodes.push(Node {
            url: url.clone(),
            index,
            public_key,
        });
    }
    Ok((nodes, epoch))
}

fn verify(args: VerifyArgs) -> Result<serde_json::Value, String> {
    let proof = match (&args.input, &args.boc, &args.bundle) {
        (Some(path), ..) => read_proof(path)?,
        (None, Some(boc), Some(bundle)) => AttestationProof {
            attestation: Attestation::from_boc_base64(boc)
                .map_err(|err| format!("attestation: {err}"))?,
            bundle: SignatureBundle::from_boc_base64(bundle)
                .map_err(|err| format!("bundle: {err}"))?,
        },
        _ => return Err("give --input, or --boc and --bundle".into()),
    };
    let AttestationProof {
        attestation,
        bundle,
    } = proof;
    let keys = args
        .keys
        .iter()
        .map(|text| parse_key(text))
        .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
    let hash = attestation.hash().map_err(|err| err.to_string())?;
    bundle
        .verify_with(&hash, |index| keys.get(&index), args.threshold)
        .map_err(|err| err.to_string())?;
    let now = args.now.unwrap_or_else(unix_now);
    if attestation.valid_until < now {
        return Err(format!(
            "expired at {} (now {now})",
            attestation.valid_until
        ));
    }
    if let Some(verifier) = args.verifier.filter(|v| *v != attestation.verifier) {
        return Err(format!(
            "made for verifier {}, not {verifier}",
            attestation.verifier
        ));
    }
    if let Some(subject) = args.subject.filter(|s| *s != attestation.subject) {
        return Err(format!(
            "about subject {}, not {subject}",
            attestation.subject
        ));
    }
    if let Some(network) = args.network.filter(|n| *n != attestation.network) {
        return Err(format!(
            "for network {}, not {network}",
            attestation.network
        ));
    }
    Ok(json!({ "valid": true, "signatures": bundle.len(), "attestation": attestation }))
}

/// Reads the `boc` and `bundle` of JSON printed by `tollgate attest` (`-` for stdin).
fn verify_evidence(args: VerifyEvidenceArgs) -> Result<serde_json::Value, String> {
    let bytes: [u8; 32] = hex::decode(args.key.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("--key must be 64 hex digits")?;
    let key =
        VerifyingKey::from_bytes(&bytes).map_err(|err| format!("invalid public key: {err}"))?;
    let text = if args.file == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|err| err.to_string())?
    } else {
        std::fs::read_to_string(&args.file).map_err(|err| format!("{}: {err}", args.file))?
    };
    let case = tollgate_sdk::evidence::verify(&text, &key)
        .map_err(|err| format!("{}: {err} ({})", args.file, err.code()))?;
    Ok(json!({
        "valid": true,
        "subject": case.subject,
        "generated_at": case.generated_at,
        "node": case.node,
        "judgement": case.judgement,
        "labels": case.labels.len(),
        "exposure_findings": case.exposure.len(),
        "history": case.history.len(),
        "audit_entries_read": case.audit.entries,
    }))
}

fn read_proof(path: &str) -> Result<AttestationProof, String> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|err| err.to_string())?
    } else {
        std::fs::read_to_string(path).map_err(|err| format!("{path}: {err}"))?
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| format!("{path}: {err}"))?;
    let field = |name: &str| {
        value[name]
            .as_str()
            .ok_or(format!("{path}: no `{name}` string"))
    };
    Ok(AttestationProof {
        attestation: Attestation::from_boc_base64(field("boc")?)
            .map_err(|err| format!("{path}: attestation: {err}"))?,
        bundle: SignatureBundle::from_boc_base64(field("bundle")?)
            .map_err(|err| format!("{path}: bundle: {err}"))?,
    })
}

/// An sdk error as the CLI prints it: its stable code first, so scripts can tell kinds apart.
fn sdk_error(err: tollgate_sdk::Error) -> String {
    format!("{}: {err}", err.code())
}

fn unix_now() -> u32 {
    u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
    .unwrap_or(u32::MAX)
}

/// `tollgate payload deposit`: the TON Connect request of a deposit.
fn deposit(args: DepositArgs) -> Result<serde_json::Value, String> {
    let proof = read_proof(&args.proof)?;
    if let Some(depositor) = args.depositor.filter(|d| *d != proof.attestation.subject) {
        return Err(sdk_error(tollgate_sdk::Error::ProofMismatch {
            party: "depositor",
            field: "subject",
            expected: depositor.to_string(),
            found: proof.attestation.subject.to_string(),
        }));
    }
    let reference = match (&args.comment, &args.reference) {
        (Some(text), _) => Some(tollgate_sdk::messages::comment(text).map_err(sdk_error)?),
        (None, Some(text)) => Some(boc::from_base64(text).map_err(sdk_error)?.as_ref().clone()),
        (None, None) => None,
    };
    let request = DepositRequest {
        gate: args.gate,
        amount: args.amount,
        query_id: args.query_id,
        reference: reference.as_ref(),
        proof: &proof,
        now: unix_now(),
    };
    let request = match (args.master, args.jetton_wallet) {
        (Some(master), _) => request.to_items_request(master),
        (None, Some(wallet)) => request.to_request(wallet),
        (None, None) => return Err("give --jetton-wallet or --master".into()),
    }
    .map_err(sdk_error)?;
    serde_json::to_value(request).map_err(|err| err.to_string())
}

async fn payload(command: PayloadCommand) -> Result<serde_json::Value, String> {
    let cell = match command {
        PayloadCommand::Deposit(args) => return deposit(args),
        PayloadCommand::Compliant(args) => return compliant(args).await,
        PayloadCommand::Gate(args) => {
            let destination_proof = args
                .destination_proof
                .as_deref()
                .map(read_proof)
                .transpose()?;
            let sender_proof = args.sender_proof.as_deref().map(read_proof).transpose()?;
            let transfer = GateTransfer {
                query_id: args.query_id,
                destination: args.destination,
                amount: args.amount,
                response_destination: args.response,
                forward_payload: None,
            };
            // The destination's proof must be about the destination, with or without --gate: the
            // gate would refund the transfer (wrong_subject) after the user paid for it.
            if let Some(subject) = destination_proof
                .as_ref()
                .map(|p| p.attestation.subject)
                .filter(|s| *s != args.destination)
            {
                return Err(sdk_error(tollgate_sdk::Error::ProofMismatch {
                    party: "destination",
                    field: "subject",
                    expected: args.destination.to_string(),
                    found: subject.to_string(),
                }));
            }
            if let Some(gate) = args.gate {
                let request = GateRequest {
                    gate,
                    transfer: &transfer,
                    destination_proof: destination_proof.as_ref(),
                    sender_proof: sender_proof.as_ref(),
                    now: unix_now(),
                }
                .to_request()
                .map_err(sdk_error)?;
                return serde_json::to_value(request).map_err(|err| err.to_string());
            }
            transfer.to_cell(destination_proof.as_ref(), sender_proof.as_ref())
        }
        PayloadCommand::Jetton(args) => {
            let proof = read_proof(&args.proof)?;
            let transfer = JettonTransfer {
                query_id: args.query_id,
                amount: args.amount,
                destination: args.destination,
                response_destination: args.response,
                forward_ton_amount: args.forward_ton_amount,
            };
            match args.placement {
                Placement::Custom => transfer.with_proof_in_custom_payload(&proof, None),
                Placement::Forward => transfer.with_proof_in_forward_payload(&proof),
            }
        }
    }
    .map_err(sdk_error)?
    .to_arc();
    Ok(json!({
        "payload": boc::to_base64(&cell).map_err(sdk_error)?,
        "hash": hex::encode(cell.cell_hash().as_slice()),
    }))
}

/// Reads a root key file: 64 hex digits (a 32-byte ed25519 seed), mode 0600 or stricter.
fn read_root_key(path: &std::path::Path) -> Result<tollgate_sdk::SigningKey, String> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|err| format!("{shown}: {err}"))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "key_file_mode: {shown} has mode {mode:o}; the root key must be 0600 or stricter"
            ));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|err| format!("{shown}: {err}"))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(format!(
            "invalid_encoding: {shown} must hold 64 hex digits (a 32-byte seed)"
        ))?;
    Ok(tollgate_sdk::SigningKey::from_bytes(&seed))
}

fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(format!("invalid_public_key: {text:?} is not 64 hex digits"))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("invalid_public_key: {text} is not an ed25519 point"))
}

/// `tollgate cert issue`.
fn cert_issue(args: CertIssueArgs) -> Result<serde_json::Value, String> {
    let root = read_root_key(&args.root_key)?;
    let valid_until = match (args.valid_until, args.valid_days) {
        (Some(at), _) => at,
        (None, Some(days)) => unix_now().saturating_add(days.saturating_mul(86_400)),
        (None, None) => return Err("give --valid-until or --valid-days".into()),
    };
    if valid_until < unix_now() {
        return Err(sdk_error(tollgate_sdk::Error::CertificateExpired {
            valid_until,
            now: unix_now(),
        }));
    }
    if args.max_risk > tollgate_sdk::attestation::MAX_RISK {
        return Err(sdk_error(tollgate_sdk::Error::RiskOutOfRange(
            args.max_risk,
        )));
    }
    let mut forbidden = tollgate_sdk::Categories::NONE;
    for name in args.forbidden.iter().filter(|n| !n.is_empty()) {
        let category = tollgate_sdk::Categories::from_name(name)
            .ok_or(format!("unknown_category: {name:?}"))?;
        forbidden = forbidden.union(category);
    }
    let keys = args
        .signers
        .iter()
        .map(|k| parse_public_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let signers =
        tollgate_sdk::SignerSet::new(args.epoch, args.threshold, keys).map_err(sdk_error)?;
    let certificate = SignerCertificate {
        network: args.network,
        minter: args.minter,
        valid_until,
        max_risk: args.max_risk,
        forbidden,
        max_skew: args.max_skew,
        signers,
    };
    let signed = SignedCertificate::issue(certificate, &root).map_err(sdk_error)?;
    serde_json::to_value(signed.to_file().map_err(sdk_error)?).map_err(|err| err.to_string())
}

fn read_certificate(path: &str) -> Result<SignedCertificate, String> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|err| err.to_string())?
    } else {
        std::fs::read_to_string(path).map_err(|err| format!("{path}: {err}"))?
    };
    let file: CertificateFile = serde_json::from_str(&text)
        .map_err(|err| format!("malformed_certificate_file: {path}: {err}"))?;
    SignedCertificate::from_file(&file).map_err(|err| format!("{path}: {}", sdk_error(err)))
}

/// `tollgate cert show`.
fn cert_show(args: CertShowArgs) -> Result<serde_json::Value, String> {
    let signed = read_certificate(&args.file)?;
    if let Some(root) = &args.root {
        let root = parse_public_key(root)?;
        if root != signed.root {
            return Err(sdk_error(tollgate_sdk::Error::CertificateSignature));
        }
    }
    let c = &signed.certificate;
    let now = args.now.unwrap_or_else(unix_now);
    Ok(json!({
        "network": c.network.global_id(),
        "minter": c.minter.to_raw(),
        "valid_until": c.valid_until,
        "expired": c.valid_until < now,
        "max_risk": c.max_risk,
        "forbidden": c.forbidden.names(),
        "max_skew": c.max_skew,
        "epoch": c.signers.epoch,
        "threshold": c.signers.threshold,
        "signers": c.signers.keys.iter().map(|k| hex::encode(k.as_bytes())).collect::<Vec<_>>(),
        "hash": hex::encode(c.hash().map_err(sdk_error)?),
        "root_public_key": hex::encode(signed.root.as_bytes()),
    }))
}

/// `tollgate payload compliant`.
async fn compliant(args: CompliantArgs) -> Result<serde_json::Value, String> {
    let signed = read_certificate(&args.cert)?;
    let c = &signed.certificate;
    let now = unix_now();
    c.check_current(now).map_err(sdk_error)?;
    let proof = match &args.proof {
        Some(path) => read_proof(path)?,
        None => {
            let timeout = Duration::from_millis(args.timeout_ms);
            let nodes = certified_nodes(&args.nodes, &c.signers, timeout).await?;
            let mut config =
                ClientConfig::new(nodes, usize::from(c.signers.threshold), c.signers.epoch);
            config.ttl_secs = args.ttl;
            config.timeout = timeout;
            let client = Client::new(config).map_err(sdk_error)?;
            client
                .attest(args.sender, c.minter, c.network)
                .await
                .map_err(sdk_error)?
        }
    };
    let auth = signed
        .authorize(proof, &args.sender, now)
        .map_err(sdk_error)?;
    let forward = args
        .comment
        .as_deref()
        .map(tollgate_sdk::messages::comment)
        .transpose()
        .map_err(sdk_error)?
        .map(|c| c.to_arc());
    let request = CompliantRequest {
        jetton_wallet: args.jetton_wallet.unwrap_or(Address::ZERO),
        destination: args.destination,
        amount: args.amount,
        query_id: args.query_id,
        forward_ton_amount: args.forward_ton_amount,
        forward_payload: forward.as_ref(),
        auth: &auth,
        now,
    };
    if args.jetton_wallet.is_some() {
        let request = request.to_request().map_err(sdk_error)?;
        return serde_json::to_value(request).map_err(|err| err.to_string());
    }
    let (body, attach) = request.body().map_err(sdk_error)?;
    let body = body.to_arc();
    Ok(json!({
        "payload": boc::to_base64(&body).map_err(sdk_error)?,
        "hash": hex::encode(body.cell_hash().as_slice()),
        "custom_payload": auth.to_boc_base64().map_err(sdk_error)?,
        "attach": attach.to_string(),
    }))
}

/// The nodes at `urls`, each with the index it reports and the certificate's key at that index
/// (a node reporting another key is refused: the certificate, signed by the root, is the trust).
async fn certified_nodes(
    urls: &[String],
    set: &tollgate_sdk::SignerSet,
    timeout: Duration,
) -> Result<Vec<Node>, String> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|err| err.to_string())?;
    let mut nodes = Vec::new();
    for url in urls {
        let info = oracle_info(&http, url)
            .await
            .map_err(|err| format!("unreachable: {url}: {err}"))?;
        let (index, key) = parse_key(&format!("{}:{}", info.signer_index, info.public_key))?;
        if set.keys.get(usize::from(index)) != Some(&key) {
            return Err(format!(
                "uncertified_node: {url} signs as index {index} with a key the certificate does not hold there"
            ));
        }
        nodes.push(Node {
            url: url.clone(),
            index,
            public_key: key,
        });
    }
    Ok(nodes)
}
