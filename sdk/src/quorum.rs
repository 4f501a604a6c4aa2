//! The quorum protocol of SPEC.md §11 without an HTTP stack: the rounds, the proposal, the
//! checks of every answer and the failure report, over a [`Transport`] the caller provides.
//!
//! The Rust [`crate::client`] runs it over reqwest and tokio; the JavaScript package
//! (`sdk/wasm`) runs the same code over the browser's `fetch`. Keeping the rounds here means
//! both clients propose the same bounds, stop at the same k and report failures in the same
//! words.
//!
//! The quorum works because attestations are upper bounds (SPEC.md §1): the proposal takes the
//! highest risk any node reports and the union of their categories, so every honest node's own
//! judgement lies within it and it can co-sign. Two round trips: `GET /v1/risk/{subject}` to every
//! node, then `POST /v1/attestations/cosign` to every node that answered, stopping at k valid
//! signatures. Every signature is verified locally (strictly) against the configured key before
//! it counts; a node is never trusted for its own index or key.

use std::future::Future;
use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use futures_util::stream::{FuturesUnordered, StreamExt as _};

use crate::api::{
    BatchItem, BatchResponse, CosignBatchRequest, CosignRequest, ErrorBody, RiskSummary,
    ScreenRequest, ScreenResponse, SignedAttestation, MAX_BATCH,
};
use crate::error::{Error, NodeFailure, Result};
use crate::{
    Address, Attestation, AttestationProof, Categories, Network, SignatureBundle, SignatureEntry,
};

/// One oracle node as the signer set knows it.
#[derive(Clone, Debug)]
pub struct Node {
    /// Base URL, e.g. `https://oracle-1.example.org` (the `/v1/...` paths are appended).
    pub url: String,
    /// The node's index in the signer set.
    pub index: u8,
    /// The node's public key, from the verifier's signer set (not from the node).
    pub public_key: VerifyingKey,
}

/// What a quorum client needs: the signer set's nodes, its threshold and epoch, and how patient
/// to be.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The nodes; indexes must be distinct.
    pub nodes: Vec<Node>,
    /// Signatures required (k).
    pub threshold: usize,
    /// The signer set's epoch, written into proposals.
    pub epoch: u32,
    /// Validity of proposed attestations, in seconds.
    pub ttl_secs: u32,
    /// Deadline for one request to one node.
    pub timeout: Duration,
    /// Attempts per node and round for transient failures (connection errors, timeouts, 5xx).
    pub attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl ClientConfig {
    /// A configuration with defaults: 10-minute attestations, 2 s per request, 3 attempts
    /// 25 ms apart and doubling.
    pub fn new(nodes: Vec<Node>, threshold: usize, epoch: u32) -> Self {
        ClientConfig {
            nodes,
            threshold,
            epoch,
            ttl_secs: 600,
            timeout: Duration::from_secs(2),
            attempts: 3,
            backoff: Duration::from_millis(25),
        }
    }

    /// Refuses duplicate indexes and a threshold outside `1..=n`.
    pub fn validate(&self) -> Result<()> {
        let n = self.nodes.len();
        if self.threshold == 0 || self.threshold > n {
            return Err(Error::InvalidSignerSet(format!(
                "threshold {} of {n} nodes",
                self.threshold
            )));
        }
        let mut indexes: Vec<u8> = self.nodes.iter().map(|node| node.index).collect();
        indexes.sort_unstable();
        if indexes.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidSignerSet(
                "two nodes share a signer index".into(),
            ));
        }
        Ok(())
    }
}

/// One HTTP request of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `GET url`.
    Get {
        /// Absolute URL.
        url: String,
    },
    /// `POST url` with a JSON body (`content-type: application/json`).
    PostJson {
        /// Absolute URL.
        url: String,
        /// The body.
        body: String,
    },
}

/// An HTTP answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body as received.
    pub body: Vec<u8>,
}

/// Why a request got no answer. Both kinds are transient: the request is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// No answer within [`ClientConfig::timeout`].
    TimedOut,
    /// No connection (refused, DNS, TLS, CORS in a browser…), with the innermost cause.
    Unreachable(String),
}

/// What happened to one node in a round, reported while the rounds run (a page shows each
/// node's judgement as it arrives).
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// A node's answer to `GET /v1/risk/{subject}`, or why there was none.
    Judged {
        /// The node.
        node: &'a Node,
        /// Its judgement, or why it failed.
        result: std::result::Result<&'a RiskSummary, &'a str>,
    },
    /// The attestation proposed to every node that judged.
    Proposed {
        /// The proposal.
        attestation: &'a Attestation,
        /// Its representation hash, which each node signs.
        hash: &'a [u8; 32],
    },
    /// A node's co-signature (verified), or why there was none.
    Cosigned {
        /// The node.
        node: &'a Node,
        /// `Ok` when its signature verified and counts.
        result: std::result::Result<(), &'a str>,
    },
}

/// How the protocol reaches the nodes, sleeps between retries, reads the clock and draws nonces.
///
/// The futures are associated types so that an implementation's `Send`-ness carries over to
/// [`attest`]'s future: reqwest's are `Send` (a tokio task can run the client), the browser's are
/// not and need not be.
pub trait Transport {
    /// The future of one request.
    type Send: Future<Output = std::result::Result<Response, TransportError>>;
    /// The future of one delay.
    type Sleep: Future<Output = ()>;

    /// Sends one request, giving up after the configured timeout.
    fn send(&self, request: Request) -> Self::Send;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
    /// The current unix time in seconds (proposals are issued at it).
    fn now(&self) -> u32;
    /// A fresh random nonce for a proposal.
    fn nonce(&self) -> u64;
    /// Called as each node answers; the default ignores it.
    fn observe(&self, _progress: Progress<'_>) {}
}

/// Gets an attestation of `subject` for `verifier` on `network` signed by at least k nodes of
/// `config`, over `transport`.
///
/// Fails with [`Error::QuorumNotReached`], naming every node that failed and why, when fewer
/// than k nodes sign.
pub async fn attest<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    subject: Address,
    verifier: Address,
    network: Network,
) -> Result<AttestationProof> {
    config.validate()?;
    let mut failures = Vec::new();

    // Round 1: every node's judgement, concurrently.
    let mut round: FuturesUnordered<_> = config
        .nodes
        .iter()
        .map(|node| async move { (node, judge(config, transport, node, subject).await) })
        .collect();
    let mut judgements = Vec::new();
    while let Some((node, result)) = round.next().await {
        transport.observe(Progress::Judged {
            node,
            result: result.as_ref().map_err(String::as_str),
        });
        match result {
            Ok(summary) => judgements.push((node, summary)),
            Err(reason) => failures.push(failure(node, reason)),
        }
    }
    drop(round);
    if judgements.len() < config.threshold {
        return Err(quorum_error(config, 0, failures));
    }

    // The proposal: within every judgement that came back.
    let summaries: Vec<&RiskSummary> = judgements.iter().map(|(_, s)| s).collect();
    let now = transport.now();
    let proposal = propose(
        &summaries,
        ProposalParams {
            subject,
            verifier,
            network,
            epoch: config.epoch,
            issued_at: now,
            valid_until: now.saturating_add(config.ttl_secs),
            nonce: transport.nonce(),
        },
    );
    let encoded = proposal.encode()?;
    let hash = encoded.hash;
    transport.observe(Progress::Proposed {
        attestation: &proposal,
        hash: &hash,
    });
    let body = serde_json::to_string(&CosignRequest {
        boc: encoded.to_boc_base64()?,
    })
    .map_err(|err| Error::Internal(err.to_string()))?;

    // Round 2: co-signatures, stopping at k. Dropping the round cancels the requests still out.
    let mut round: FuturesUnordered<_> = judgements
        .iter()
        .map(|(node, _)| {
            let body = body.clone();
            async move { (*node, cosign(config, transport, node, body, &hash).await) }
        })
        .collect();
    let mut entries = Vec::new();
    while let Some((node, result)) = round.next().await {
        transport.observe(Progress::Cosigned {
            node,
            result: result.as_ref().map(|_| ()).map_err(String::as_str),
        });
        match result {
            Ok(signature) => entries.push(SignatureEntry {
                signer: node.index,
                signature,
            }),
            Err(reason) => failures.push(failure(node, reason)),
        }
        if entries.len() == config.threshold {
            return Ok(AttestationProof {
                attestation: proposal,
                bundle: SignatureBundle::new(entries)?,
            });
        }
    }
    Err(quorum_error(config, entries.len(), failures))
}

/// Gets attestations of many `subjects` for `verifier` on `network`, each signed by at least k
/// nodes, with the batch endpoints: per [`MAX_BATCH`] subjects, one `POST /v1/screen` and one
/// `POST /v1/attestations/cosign/batch` to each node (instead of two requests per subject and
/// node), each node recording the whole batch in one audit commit.
///
/// One result per subject, in order: its proof, or [`Error::QuorumNotReached`] naming every node
/// that failed for it and why. The outer error is for a bad configuration only.
pub async fn attest_many<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    subjects: &[Address],
    verifier: Address,
    network: Network,
) -> Result<Vec<Result<AttestationProof>>> {
    config.validate()?;
    let mut results = Vec::with_capacity(subjects.len());
    for chunk in subjects.chunks(MAX_BATCH) {
        results.extend(attest_chunk(config, transport, chunk, verifier, network).await?);
    }
    Ok(results)
}

/// [`attest_many`] for at most [`MAX_BATCH`] subjects.
async fn attest_chunk<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    subjects: &[Address],
    verifier: Address,
    network: Network,
) -> Result<Vec<Result<AttestationProof>>> {
    // Failures of a node as a whole (both rounds) count against every subject.
    let mut node_failures = Vec::new();
    let mut item_failures: Vec<Vec<NodeFailure>> = vec![Vec::new(); subjects.len()];

    // Round 1: every node screens the whole chunk.
    let body = to_json(&ScreenRequest {
        addresses: subjects.iter().map(Address::to_raw).collect(),
    })?;
    let mut round: FuturesUnordered<_> = config
        .nodes
        .iter()
        .map(|node| {
            let body = body.clone();
            async move { (node, screen(config, transport, node, body, subjects).await) }
        })
        .collect();
    let mut judgements = Vec::new();
    while let Some((node, result)) = round.next().await {
        match result {
            Ok(summaries) => judgements.push((node, summaries)),
            Err(reason) => node_failures.push(failure(node, reason)),
        }
    }
    drop(round);
    if judgements.len() < config.threshold {
        return Ok(subjects
            .iter()
            .map(|_| Err(quorum_error(config, 0, node_failures.clone())))
            .collect());
    }

    // One proposal per subject, within every judgement that came back.
    let now = transport.now();
    let mut proposals = Vec::with_capacity(subjects.len());
    let mut hashes = Vec::with_capacity(subjects.len());
    let mut bocs = Vec::with_capacity(subjects.len());
    for (i, subject) in subjects.iter().enumerate() {
        let summaries: Vec<&RiskSummary> = judgements.iter().map(|(_, s)| &s[i]).collect();
        let proposal = propose(
            &summaries,
            ProposalParams {
                subject: *subject,
                verifier,
                network,
                epoch: config.epoch,
                issued_at: now,
                valid_until: now.saturating_add(config.ttl_secs),
                nonce: transport.nonce(),
            },
        );
        let encoded = proposal.encode()?;
        hashes.push(encoded.hash);
        bocs.push(encoded.to_boc_base64()?);
        proposals.push(proposal);
    }
    let body = to_json(&CosignBatchRequest { bocs })?;

    // Round 2: every node that judged co-signs the chunk; stop once every subject has k.
    let hashes = &hashes;
    let mut round: FuturesUnordered<_> = judgements
        .iter()
        .map(|(node, _)| {
            let body = body.clone();
            async move {
                (
                    *node,
                    cosign_batch(config, transport, node, body, hashes).await,
                )
            }
        })
        .collect();
    let mut entries: Vec<Vec<SignatureEntry>> = vec![Vec::new(); subjects.len()];
    while let Some((node, result)) = round.next().await {
        match result {
            Ok(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Ok(signature) if entries[i].len() < config.threshold => {
                            entries[i].push(SignatureEntry {
                                signer: node.index,
                                signature,
                            })
                        }
                        Ok(_) => {}
                        Err(reason) => item_failures[i].push(failure(node, reason)),
                    }
                }
            }
            Err(reason) => node_failures.push(failure(node, reason)),
        }
        if entries.iter().all(|e| e.len() >= config.threshold) {
            break;
        }
    }
    drop(round);
    proposals
        .into_iter()
        .zip(entries)
        .zip(item_failures)
        .map(|((attestation, entries), mut failures)| {
            if entries.len() >= config.threshold {
                Ok(Ok(AttestationProof {
                    attestation,
                    bundle: SignatureBundle::new(entries)?,
                }))
            } else {
                failures.extend(node_failures.iter().cloned());
                Ok(Err(quorum_error(config, entries.len(), failures)))
            }
        })
        .collect()
}

fn to_json<V: serde::Serialize>(value: &V) -> Result<String> {
    serde_json::to_string(value).map_err(|err| Error::Internal(err.to_string()))
}

/// One node's judgements of a chunk, checked to be about the subjects asked, in order.
async fn screen<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    node: &Node,
    body: String,
    subjects: &[Address],
) -> std::result::Result<Vec<RiskSummary>, String> {
    let url = format!("{}/v1/screen", base(node));
    let answer: ScreenResponse = with_retries(config, transport, || Request::PostJson {
        url: url.clone(),
        body: body.clone(),
    })
    .await?;
    if answer.results.len() != subjects.len() {
        return Err(format!(
            "screened {} addresses instead of {}",
            answer.results.len(),
            subjects.len()
        ));
    }
    answer
        .results
        .into_iter()
        .zip(subjects)
        .map(|(summary, subject)| check_judgement(summary, *subject))
        .collect()
}

/// One node's co-signatures of a chunk: per proposal, a verified signature or why not.
async fn cosign_batch<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    node: &Node,
    body: String,
    hashes: &[[u8; 32]],
) -> std::result::Result<Vec<std::result::Result<Signature, String>>, String> {
    let url = format!("{}/v1/attestations/cosign/batch", base(node));
    let answer: BatchResponse = with_retries(config, transport, || Request::PostJson {
        url: url.clone(),
        body: body.clone(),
    })
    .await?;
    if answer.results.len() != hashes.len() {
        return Err(format!(
            "answered {} proposals instead of {}",
            answer.results.len(),
            hashes.len()
        ));
    }
    Ok(answer
        .results
        .into_iter()
        .zip(hashes)
        .map(|(item, hash)| read_batch_item(item, hash, &node.public_key))
        .collect())
}

/// One item of a batch answer, in the words of [`read_answer`].
pub fn read_batch_item(
    item: BatchItem,
    hash: &[u8; 32],
    key: &VerifyingKey,
) -> std::result::Result<Signature, String> {
    match (item.status, item.signed, item.error) {
        (200, Some(signed), _) => check_cosignature(&signed, hash, key),
        (status, _, Some(error)) => Err(match error.bound {
            Some(bound) => format!(
                "refused: {status} ({}, {bound}): {}",
                error.code, error.message
            ),
            None => format!("refused: {status} ({}): {}", error.code, error.message),
        }),
        (status, _, None) => Err(format!("refused: {status}")),
    }
}

/// The fields of a proposal that do not come from the nodes' judgements.
#[derive(Clone, Copy, Debug)]
pub struct ProposalParams {
    /// The address judged.
    pub subject: Address,
    /// The contract that will check it.
    pub verifier: Address,
    /// The network it is for.
    pub network: Network,
    /// The signer set's epoch.
    pub epoch: u32,
    /// Unix time of the proposal.
    pub issued_at: u32,
    /// Last second it is valid in.
    pub valid_until: u32,
    /// Random nonce.
    pub nonce: u64,
}

/// The attestation within every judgement: the highest risk and the union of the categories.
pub fn propose(judgements: &[&RiskSummary], params: ProposalParams) -> Attestation {
    Attestation {
        network: params.network,
        verifier: params.verifier,
        subject: params.subject,
        risk: judgements.iter().map(|s| s.score).max().unwrap_or(0),
        categories: judgements
            .iter()
            .fold(Categories::NONE, |acc, s| acc | s.categories_mask),
        issued_at: params.issued_at,
        valid_until: params.valid_until,
        epoch: params.epoch,
        nonce: params.nonce,
    }
}

fn failure(node: &Node, reason: String) -> NodeFailure {
    NodeFailure {
        url: node.url.clone(),
        index: node.index,
        reason,
    }
}

fn quorum_error(config: &ClientConfig, signed: usize, mut failures: Vec<NodeFailure>) -> Error {
    failures.sort_by_key(|failure| failure.index);
    Error::QuorumNotReached {
        signed,
        threshold: config.threshold,
        failures,
    }
}

fn base(node: &Node) -> &str {
    node.url.trim_end_matches('/')
}

async fn judge<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    node: &Node,
    subject: Address,
) -> std::result::Result<RiskSummary, String> {
    let url = format!("{}/v1/risk/{}", base(node), subject);
    let summary: RiskSummary =
        with_retries(config, transport, || Request::Get { url: url.clone() }).await?;
    check_judgement(summary, subject)
}

/// A judgement counts only for the subject that was asked about.
pub fn check_judgement(
    summary: RiskSummary,
    subject: Address,
) -> std::result::Result<RiskSummary, String> {
    if summary.address != subject {
        return Err(format!(
            "answered for {} instead of {subject}",
            summary.address
        ));
    }
    Ok(summary)
}

async fn cosign<T: Transport>(
    config: &ClientConfig,
    transport: &T,
    node: &Node,
    body: String,
    hash: &[u8; 32],
) -> std::result::Result<Signature, String> {
    let url = format!("{}/v1/attestations/cosign", base(node));
    let signed: SignedAttestation = with_retries(config, transport, || Request::PostJson {
        url: url.clone(),
        body: body.clone(),
    })
    .await?;
    check_cosignature(&signed, hash, &node.public_key)
}

/// A co-signature counts only over the proposed hash and under the configured key (strictly).
pub fn check_cosignature(
    signed: &SignedAttestation,
    hash: &[u8; 32],
    key: &VerifyingKey,
) -> std::result::Result<Signature, String> {
    if signed.hash != hex::encode(hash) {
        return Err("signed a different attestation than proposed".into());
    }
    let bytes: [u8; 64] = hex::decode(&signed.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("signature is not 64 bytes of hex")?;
    let signature = Signature::from_bytes(&bytes);
    key.verify_strict(hash, &signature)
        .map_err(|_| "signature does not verify under the configured key".to_string())?;
    Ok(signature)
}

/// How one answer counts: a value, a final refusal, or a transient failure worth a retry.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<T> {
    /// A 2xx answer that parsed.
    Value(T),
    /// Not worth retrying: a 4xx (the node refused on purpose, reported with its error code) or
    /// a 2xx body that does not parse.
    Final(String),
    /// Worth retrying: a 5xx, a timeout or no connection.
    Transient(String),
}

/// Classifies one attempt's outcome, with the words the failure report uses.
pub fn read_answer<T: serde::de::DeserializeOwned>(
    outcome: std::result::Result<Response, TransportError>,
) -> Answer<T> {
    let response = match outcome {
        Ok(response) => response,
        Err(TransportError::TimedOut) => return Answer::Transient("timed out".into()),
        Err(TransportError::Unreachable(cause)) => {
            return Answer::Transient(format!("unreachable: {cause}"))
        }
    };
    let status = response.status;
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<T>(&response.body) {
            Ok(value) => Answer::Value(value),
            Err(err) => Answer::Final(format!("invalid response: {err}")),
        };
    }
    let detail = match serde_json::from_slice::<ErrorBody>(&response.body) {
        Ok(ErrorBody { error }) => match error.bound {
            Some(bound) => format!("{status} ({}, {bound}): {}", error.code, error.message),
            None => format!("{status} ({}): {}", error.code, error.message),
        },
        Err(_) => format!("{status}"),
    };
    if (400..500).contains(&status) {
        Answer::Final(format!("refused: {detail}"))
    } else {
        Answer::Transient(format!("server error: {detail}"))
    }
}

/// Sends a request, retrying transient failures with exponential backoff.
async fn with_retries<T: Transport, V: serde::de::DeserializeOwned>(
    config: &ClientConfig,
    transport: &T,
    request: impl Fn() -> Request,
) -> std::result::Result<V, String> {
    let mut delay = config.backoff;
    let mut last = String::new();
    for attempt in 0..config.attempts.max(1) {
        if attempt > 0 {
            transport.sleep(delay).await;
            delay *= 2;
        }
        match read_answer(transport.send(request()).await) {
            Answer::Value(value) => return Ok(value),
            Answer::Final(reason) => return Err(reason),
            Answer::Transient(reason) => last = reason,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::future::{ready, Ready};

    use ed25519_dalek::SigningKey;

    /// Nodes in memory: each signs with its own key and scores from a table, so the rounds, the
    /// bounds and the failure report are tested without sockets (the oracle's tests/quorum.rs
    /// runs them against real nodes).
    struct Nodes {
        keys: Vec<SigningKey>,
        scores: Vec<Result<(u8, u32), u16>>,
        sent: RefCell<HashMap<String, usize>>,
    }

    impl Transport for Nodes {
        type Send = Ready<std::result::Result<Response, TransportError>>;
        type Sleep = Ready<()>;

        fn send(&self, request: Request) -> Self::Send {
            let url = match &request {
                Request::Get { url } | Request::PostJson { url, .. } => url.clone(),
            };
            *self.sent.borrow_mut().entry(url.clone()).or_default() += 1;
            let index: usize = url["http://n".len()..]
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let (score, mask) = match self.scores[index] {
                Ok(judgement) => judgement,
                Err(status) => {
                    return ready(Ok(Response {
                        status,
                        body: br#"{"error":{"code":"unavailable","message":"not ready"}}"#.to_vec(),
                    }))
                }
            };
            let body = match request {
                Request::Get { url } => {
                    let subject = url.rsplit('/').next().unwrap();
                    serde_json::json!({ "address": subject, "score": score, "level": "low", "categories_mask": mask })
                        .to_string()
                }
                Request::PostJson { body, .. } => {
                    let boc = serde_json::from_str::<CosignRequest>(&body).unwrap().boc;
                    let attestation = Attestation::from_boc_base64(&boc).unwrap();
                    if attestation.risk < score {
                        return ready(Ok(Response {
                            status: 409,
                            body: br#"{"error":{"code":"bound_violated","message":"risk too low","bound":"risk"}}"#.to_vec(),
                        }));
                    }
                    let signature = attestation.sign(&self.keys[index]).unwrap();
                    serde_json::json!({
                        "attestation": attestation, "boc": boc,
                        "hash": hex::encode(attestation.hash().unwrap()),
                        "signature": hex::encode(signature.to_bytes()),
                        "signer_index": index, "public_key": "",
                    })
                    .to_string()
                }
            };
            ready(Ok(Response {
                status: 200,
                body: body.into_bytes(),
            }))
        }
        fn sleep(&self, _: Duration) -> Self::Sleep {
            ready(())
        }
        fn now(&self) -> u32 {
            1_000
        }
        fn nonce(&self) -> u64 {
            7
        }
    }

    fn setup(scores: Vec<Result<(u8, u32), u16>>) -> (ClientConfig, Nodes) {
        let keys: Vec<SigningKey> = (0..scores.len() as u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, key)| Node {
                url: format!("http://n{i}/"),
                index: i as u8,
                public_key: key.verifying_key(),
            })
            .collect();
        let config = ClientConfig::new(nodes, 2, 1);
        let transport = Nodes {
            keys,
            scores,
            sent: RefCell::default(),
        };
        (config, transport)
    }

    fn run(config: &ClientConfig, transport: &Nodes) -> Result<AttestationProof> {
        let subject = Address::new(0, [5; 32]);
        let verifier = Address::new(0, [6; 32]);
        let future = attest(config, transport, subject, verifier, Network::MAINNET);
        // Every future of `Nodes` is ready, so one poll finishes the rounds.
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        match std::pin::pin!(future).poll(&mut context) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("pending"),
        }
    }

    #[test]
    fn proposes_the_highest_risk_and_the_union_and_stops_at_k() {
        let (config, transport) = setup(vec![Ok((10, 1)), Ok((30, 4)), Ok((20, 2))]);
        let proof = run(&config, &transport).unwrap();
        assert_eq!(proof.attestation.risk, 30);
        assert_eq!(proof.attestation.categories, Categories(7));
        assert_eq!(proof.attestation.valid_until, 1_600);
        assert_eq!(proof.bundle.len(), 2);
        let keys: Vec<_> = config.nodes.iter().map(|n| n.public_key).collect();
        proof.verify(&keys, 2).unwrap();
    }

    #[test]
    fn reports_every_failed_node_with_its_reason_and_retries_only_transient_ones() {
        let (config, transport) = setup(vec![Err(503), Err(400), Ok((0, 0))]);
        let err = run(&config, &transport).unwrap_err();
        let Error::QuorumNotReached {
            signed,
            threshold,
            failures,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((signed, threshold), (0, 2));
        let reasons: Vec<_> = failures
            .iter()
            .map(|f| (f.index, f.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (0, "server error: 503 (unavailable): not ready"),
                (1, "refused: 400 (unavailable): not ready")
            ]
        );
        let sent = transport.sent.borrow();
        let subject = Address::new(0, [5; 32]);
        assert_eq!(sent[&format!("http://n0/v1/risk/{subject}")], 3);
        assert_eq!(sent[&format!("http://n1/v1/risk/{subject}")], 1);
    }

    #[test]
    fn refuses_a_bad_configuration() {
        let (mut config, transport) = setup(vec![Ok((0, 0))]);
        assert!(matches!(
            run(&config, &transport),
            Err(Error::InvalidSignerSet(_))
        ));
        config.threshold = 1;
        config.nodes.push(config.nodes[0].clone());
        assert!(matches!(
            run(&config, &transport),
            Err(Error::InvalidSignerSet(_))
        ));
    }

    #[test]
    fn a_cosignature_over_another_hash_or_under_another_key_does_not_count() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let hash = [9u8; 32];
        let signed = |hash: &[u8; 32], signature: &Signature| SignedAttestation {
            attestation: Attestation {
                network: Network::MAINNET,
                verifier: Address::ZERO,
                subject: Address::ZERO,
                risk: 0,
                categories: Categories::NONE,
                issued_at: 0,
                valid_until: 0,
                epoch: 1,
                nonce: 0,
            },
            boc: String::new(),
            hash: hex::encode(hash),
            signature: hex::encode(signature.to_bytes()),
            signer_index: 0,
            public_key: String::new(),
        };
        use ed25519_dalek::Signer as _;
        let good = key.sign(&hash);
        assert!(check_cosignature(&signed(&hash, &good), &hash, &key.verifying_key()).is_ok());
        assert_eq!(
            check_cosignature(&signed(&[8; 32], &good), &hash, &key.verifying_key()),
            Err("signed a different attestation than proposed".into())
        );
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key();
        assert_eq!(
            check_cosignature(&signed(&hash, &good), &hash, &other),
            Err("signature does not verify under the configured key".into())
        );
    }
}
