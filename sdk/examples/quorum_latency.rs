//! Latency of `Client::attest` to a verified k-of-n bundle against running oracle nodes.
//!
//! ```text
//! cargo run --release -p tollgate-sdk --example quorum_latency -- \
//!     --calls 10000 --threshold 2 URL#INDEX:PUBKEY URL#INDEX:PUBKEY URL#INDEX:PUBKEY
//! ```
//!
//! Calls run one after another (the latency one dApp request sees), each for a fresh subject so
//! no node can answer from a cache. Prints p50, p90, p99 and max in milliseconds.

use std::time::{Duration, Instant};

use tollgate_sdk::client::{Client, ClientConfig, Node};
use tollgate_sdk::{Address, Network, VerifyingKey};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut calls, mut threshold, mut nodes) = (10_000usize, 2usize, Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--calls" => calls = args.next().and_then(|v| v.parse().ok()).expect("--calls N"),
            "--threshold" => {
                threshold = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--threshold K")
            }
            node => {
                let (url, key) = node.split_once('#').expect("URL#INDEX:PUBKEY");
                let (index, key) = key.split_once(':').expect("URL#INDEX:PUBKEY");
                let bytes: [u8; 32] = hex::decode(key)
                    .expect("hex key")
                    .try_into()
                    .expect("32-byte key");
                nodes.push(Node {
                    url: url.to_string(),
                    index: index.parse().expect("signer index"),
                    public_key: VerifyingKey::from_bytes(&bytes).expect("valid key"),
                });
            }
        }
    }
    let client = Client::new(ClientConfig::new(nodes, threshold, 1)).expect("client");
    let verifier = Address::new(0, [0xaa; 32]);
    let mut latencies = Vec::with_capacity(calls);
    for i in 0..calls {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let start = Instant::now();
        let proof = client
            .attest(Address::new(0, hash), verifier, Network::MAINNET)
            .await
            .expect("quorum");
        latencies.push(start.elapsed());
        assert_eq!(proof.bundle.len(), threshold);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "calls {calls}, k={threshold}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(latencies[latencies.len() - 1])
    );
}
