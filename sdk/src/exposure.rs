//! Exposure findings as an oracle node reports them: how much of an address's value came from
//! (or went to) risky counterparties, and the transfer paths that show it.
//!
//! These are wire types: the node puts them in judgements and evidence case files, and anyone
//! holding a case file can follow every path on an explorer (addresses, transaction hashes, times
//! and amounts). Amounts are decimal strings of the asset's smallest unit (nanotons, or the
//! jetton's base unit), as toncenter writes them, so no reader loses precision.

use serde::{Deserialize, Serialize};

use crate::{Address, Categories};

/// Which way value moved relative to the judged address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Source of funds: value the address received.
    Incoming,
    /// Destination of funds: value the address sent.
    Outgoing,
}

/// The asset a transfer moved. TON and each jetton are accounted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Asset {
    /// Toncoin, in nanotons.
    Ton,
    /// A jetton, named by its master (minter) contract; amounts in its base unit.
    Jetton {
        /// The jetton master's address.
        master: Address,
    },
}

/// One transfer on a path: value moving from one owner to another in one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The sender (for jettons, the owner of the sending jetton wallet).
    pub from: Address,
    /// The receiver (for jettons, the owner of the receiving jetton wallet).
    pub to: Address,
    /// Hash of the transaction that moved the value, 64 lower-case hex digits (explorers' form).
    pub tx_hash: String,
    /// Logical time of that transaction.
    pub lt: u64,
    /// Unix time of that transaction.
    pub utime: u64,
    /// What moved.
    pub asset: Asset,
    /// How much moved, a decimal string in the asset's smallest unit.
    pub amount: String,
}

/// A chain of transfers between the judged address and a labelled counterparty, nearest hop first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposurePath {
    /// The hops; `hops[0]` touches the judged address, the last touches the counterparty.
    pub hops: Vec<Hop>,
    /// The share of the judged address's value in this direction and asset that this path
    /// carries, in parts per million.
    pub share_ppm: u32,
}

/// Exposure of one address to one risk category, in one direction and one asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureFinding {
    /// Source of funds or destination of funds.
    pub direction: Direction,
    /// The asset the share is measured in.
    pub asset: Asset,
    /// Categories of the counterparties reached.
    pub categories: Categories,
    /// The counterparties' labelled addresses this finding reached.
    pub counterparties: Vec<Address>,
    /// The fewest hops to a counterparty (1 = direct exposure).
    pub min_hops: u8,
    /// Share of the address's value in this direction and asset attributed to these categories,
    /// after the per-hop decay, in parts per million.
    pub share_ppm: u32,
    /// Value attributed, a decimal string in the asset's smallest unit.
    pub value: String,
    /// Severity (0–100) this finding contributes to the score.
    pub severity: u8,
    /// The exposure policy that produced it (e.g. `exposure-v1`).
    pub policy: String,
    /// The paths that carry the value, strongest first (bounded by the node's policy).
    pub paths: Vec<ExposurePath>,
}

/// What the exposure trace of one direction and asset could not follow: value that reached
/// unlabelled addresses whose own transfers the node did not read, because each piece was below
/// its pruning threshold or because its per-query work budget ran out (SPEC.md §15.2).
///
/// The share is weighted by the hop decay as findings are, so it bounds how much every finding
/// of this direction and asset together could still grow had the node traced without limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untraced {
    /// Source of funds or destination of funds.
    pub direction: Direction,
    /// The asset traced.
    pub asset: Asset,
    /// The untraced share, after the per-hop decay, in parts per million.
    pub share_ppm: u32,
    /// Whether the node's work budget (not only pruning) stopped the trace.
    #[serde(default, skip_serializing_if = "is_false")]
    pub budget_cut: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_round_trip_through_json() {
        let a: Address = "0:1111111111111111111111111111111111111111111111111111111111111111"
            .parse()
            .unwrap();
        let b: Address = "0:2222222222222222222222222222222222222222222222222222222222222222"
            .parse()
            .unwrap();
        let finding = ExposureFinding {
            direction: Direction::Incoming,
            asset: Asset::Jetton { master: b },
            categories: Categories::DRAINER,
            counterparties: vec![b],
            min_hops: 2,
            share_ppm: 250_000,
            value: "340282366920938463463374607431768211455".into(),
            severity: 40,
            policy: "exposure-v1".into(),
            paths: vec![ExposurePath {
                hops: vec![Hop {
                    from: b,
                    to: a,
                    tx_hash: "ab".repeat(32),
                    lt: 47_000_000_000_001,
                    utime: 1_764_633_600,
                    asset: Asset::Ton,
                    amount: "1000000000".into(),
                }],
                share_ppm: 250_000,
            }],
        };
        let json = serde_json::to_string(&finding).unwrap();
        assert!(json.contains(r#""direction":"incoming""#), "{json}");
        assert!(json.contains(r#""asset":"ton""#), "{json}");
        let back: ExposureFinding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, finding);
    }

    #[test]
    fn untraced_shares_round_trip_and_omit_an_uncut_budget() {
        let cut = Untraced {
            direction: Direction::Outgoing,
            asset: Asset::Ton,
            share_ppm: 12_345,
            budget_cut: true,
        };
        let json = serde_json::to_string(&cut).unwrap();
        assert_eq!(
            json,
            r#"{"direction":"outgoing","asset":"ton","share_ppm":12345,"budget_cut":true}"#
        );
        assert_eq!(serde_json::from_str::<Untraced>(&json).unwrap(), cut);
        let uncut = Untraced {
            budget_cut: false,
            ..cut
        };
        let json = serde_json::to_string(&uncut).unwrap();
        assert!(!json.contains("budget_cut"), "{json}");
        assert_eq!(serde_json::from_str::<Untraced>(&json).unwrap(), uncut);
    }
}
