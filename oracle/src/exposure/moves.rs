//! Which records move value, from whom to whom, as TON's rules say.
//!
//! # TON (from `/api/v3/transactions`)
//!
//! Every internal message is the `in_msg` of exactly one transaction (its receiver's), so value
//! is counted from inbound messages only; `out_msgs` are never counted (that would count each
//! message twice when both sides' transactions are ingested).
//!
//! - An inbound internal message's `value` is credited to the receiving account **even when the
//!   transaction aborts**: a fresh, uninitialised wallet receiving a non-bounceable message
//!   aborts with `compute_ph.reason = "no_state"` and keeps the value — most new wallets are
//!   funded so.
//! - It is not credited when the transaction has a bounce phase (`description.bounce`): the
//!   value went back to the sender.
//! - A message that is itself a bounce (`bounced: true`) is value returning to its own sender,
//!   not a transfer, and is not counted.
//! - Messages of the jetton protocol (TEP-74 `transfer`, `internal_transfer`,
//!   `transfer_notification`, `excesses`, `burn`, `burn_notification`) carry gas for jetton
//!   wallets; their TON is not counted. The jetton value they move comes from
//!   `/api/v3/jetton/transfers`, between owners.
//! - External messages (no `source`) and zero values move nothing.
//!
//! # Jettons (from `/api/v3/jetton/transfers`)
//!
//! A transfer counts from the sending wallet's owner (`source`) to the receiving wallet's
//! owner (`destination`), in the jetton of `jetton_master`; `transaction_aborted: true` moved
//! nothing. TON and each jetton master are kept apart.

use tollgate_sdk::exposure::Asset;
use tollgate_sdk::Address;

use super::toncenter::{
    parse_address, parse_hash, parse_opcode, JettonTransfer, PageError, Transaction,
};

/// TEP-74 op codes whose messages carry jetton-wallet gas, not a TON payment.
pub mod jetton_op {
    /// `transfer` (owner → its jetton wallet).
    pub const TRANSFER: u32 = 0x0f8a7ea5;
    /// `internal_transfer` (jetton wallet → jetton wallet, or minter → wallet on mint).
    pub const INTERNAL_TRANSFER: u32 = 0x178d4519;
    /// `transfer_notification` (jetton wallet → its owner).
    pub const TRANSFER_NOTIFICATION: u32 = 0x7362d09c;
    /// `excesses` (the change of the gas).
    pub const EXCESSES: u32 = 0xd53276db;
    /// `burn` (owner → its jetton wallet).
    pub const BURN: u32 = 0x595f07bc;
    /// `burn_notification` (jetton wallet → minter).
    pub const BURN_NOTIFICATION: u32 = 0x7bdd97de;
    /// All of them.
    pub const ALL: [u32; 6] = [
        TRANSFER,
        INTERNAL_TRANSFER,
        TRANSFER_NOTIFICATION,
        EXCESSES,
        BURN,
        BURN_NOTIFICATION,
    ];
}

/// Value moving from one owner to another in one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The sender (for jettons, the sending wallet's owner).
    pub from: Address,
    /// The receiver (for jettons, the receiving wallet's owner).
    pub to: Address,
    /// TON or a jetton master.
    pub asset: Asset,
    /// In the asset's smallest unit.
    pub amount: u128,
    /// Logical time of the transaction that moved it.
    pub lt: u64,
    /// Unix time of that transaction.
    pub utime: u32,
    /// Hash of that transaction (for TON the receiver's, for jettons the sending wallet's).
    pub tx_hash: [u8; 32],
}

/// Why a record moved nothing (counted in ingest summaries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// No inbound internal message (tick-tock, external).
    NoInternalMessage,
    /// The inbound value went back in a bounce phase.
    Bounced,
    /// The inbound message is itself a bounce.
    BounceReturn,
    /// Jetton-protocol gas.
    JettonGas,
    /// Zero value, or a message to oneself.
    Nothing,
    /// An aborted jetton transfer.
    Aborted,
}

fn lt64(field: &'static str, lt: u128) -> Result<u64, PageError> {
    u64::try_from(lt).map_err(|_| PageError::Number {
        field,
        value: lt.to_string(),
    })
}

/// The TON value a transaction's inbound message moved, or why it moved none.
pub fn from_transaction(tx: &Transaction) -> Result<Result<Transfer, Skip>, PageError> {
    let Some(msg) = &tx.in_msg else {
        return Ok(Err(Skip::NoInternalMessage));
    };
    let Some(source) = msg.source.as_deref() else {
        return Ok(Err(Skip::NoInternalMessage));
    };
    if msg.bounced == Some(true) {
        return Ok(Err(Skip::BounceReturn));
    }
    if tx.description.bounce.is_some() {
        return Ok(Err(Skip::Bounced));
    }
    if let Some(op) = msg.opcode.as_deref() {
        if jetton_op::ALL.contains(&parse_opcode(op)?) {
            return Ok(Err(Skip::JettonGas));
        }
    }
    let from = parse_address("in_msg.source", source)?;
    let to = parse_address("account", &tx.account)?;
    let amount = msg.value.unwrap_or(0);
    if amount == 0 || from == to {
        return Ok(Err(Skip::Nothing));
    }
    Ok(Ok(Transfer {
        from,
        to,
        asset: Asset::Ton,
        amount,
        lt: lt64("lt", tx.lt)?,
        utime: tx.now.min(u32::MAX as u64) as u32,
        tx_hash: parse_hash("hash", &tx.hash)?,
    }))
}

/// The jetton value a transfer moved between owners, or why it moved none.
pub fn from_jetton_transfer(t: &JettonTransfer) -> Result<Result<Transfer, Skip>, PageError> {
    if t.transaction_aborted {
        return Ok(Err(Skip::Aborted));
    }
    let from = parse_address("source", &t.source)?;
    let to = parse_address("destination", &t.destination)?;
    if t.amount == 0 || from == to {
        return Ok(Err(Skip::Nothing));
    }
    Ok(Ok(Transfer {
        from,
        to,
        asset: Asset::Jetton {
            master: parse_address("jetton_master", &t.jetton_master)?,
        },
        amount: t.amount,
        lt: lt64("transaction_lt", t.transaction_lt)?,
        utime: t.transaction_now.min(u32::MAX as u64) as u32,
        tx_hash: parse_hash("transaction_hash", &t.transaction_hash)?,
    }))
}
