//! Labels from the chain itself: owners whose USDT wallet the issuer locked.
//!
//! USDT on TON (ton-blockchain/stablecoin-contract) lets the minter's admin lock a wallet: the
//! admin sends the minter `call_to` with a `set_status` for the wallet of an owner. The minter
//! accepts it only from its admin (any other sender's transaction fails), so a **successful**
//! minter transaction whose inbound message is such a `call_to` is the lock itself, visible in
//! the minter's `/api/v3/transactions`:
//!
//! ```text
//! call_to#235caf52 query_id:uint64 to_address:MsgAddressInt ton_amount:Coins master_msg:^Cell
//! set_status#eed236d3 query_id:uint64 status:uint4      -- 0 unlocked, 1 out, 2 in, 3 both
//! ```
//!
//! A non-zero status becomes a label of the owner (`to_address`) with category `stolen_funds`
//! (the issuer freezes on law-enforcement requests about stolen or scammed funds) and source
//! [`SOURCE`]. For each owner the latest status in the input wins; an unlock (status 0) yields
//! no label, but a label written earlier stays (labels are not removed by ingestion).

use std::collections::BTreeMap;

use tollgate_sdk::{Address, Categories};

use super::toncenter::{parse_address, parse_hash, parse_opcode, PageError, Transaction};
use crate::ingest::{Parsed, Refusal, Row};

/// `call_to` op code of the stablecoin minter.
pub const CALL_TO: u32 = 0x235caf52;
/// `set_status` op code (inside `call_to`'s `master_msg`).
pub const SET_STATUS: u32 = 0xeed236d3;
/// The label source.
pub const SOURCE: &str = "chain/usdt-issuer-lock";

/// One lock (or unlock) seen in the minter's transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// The wallet owner.
    pub owner: Address,
    /// 0 unlocked, 1 outgoing locked, 2 incoming locked, 3 both.
    pub status: u8,
    /// Who sent it (the admin).
    pub admin: Address,
    /// The minter transaction (hex).
    pub tx_hash: String,
    /// Its logical time.
    pub lt: u128,
    /// Its unix time.
    pub utime: u64,
}

/// The status change a minter transaction made, if it is a successful `call_to` with
/// `set_status` on `minter`.
pub fn status_change(
    tx: &Transaction,
    minter: &Address,
) -> Result<Option<StatusChange>, PageError> {
    if parse_address("account", &tx.account)? != *minter || tx.description.aborted {
        return Ok(None);
    }
    if tx
        .description
        .compute_ph
        .as_ref()
        .is_some_and(|c| c.skipped || c.success == Some(false))
    {
        return Ok(None);
    }
    let Some(msg) = &tx.in_msg else {
        return Ok(None);
    };
    let (Some(source), Some(op)) = (msg.source.as_deref(), msg.opcode.as_deref()) else {
        return Ok(None);
    };
    if parse_opcode(op)? != CALL_TO {
        return Ok(None);
    }
    let body = msg
        .message_content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .ok_or_else(|| PageError::Json("call_to without a body".into()))?;
    let bad = |what: &str| PageError::Json(format!("call_to body: {what}"));
    let cell = tollgate_sdk::boc::from_base64(body).map_err(|e| bad(&e.to_string()))?;
    let mut parser = cell.parser();
    let parsed = (|| {
        let op = parser.load_u32(32)?;
        let _query_id = parser.load_u64(64)?;
        let to = parser.load_address()?;
        let _ton_amount = parser.load_coins()?;
        let inner = parser.next_reference()?;
        let mut inner = inner.parser();
        let inner_op = inner.load_u32(32)?;
        let _query_id = inner.load_u64(64)?;
        let status = inner.load_u8(4)?;
        Ok::<_, tonlib_core::cell::TonCellError>((op, to, inner_op, status))
    })()
    .map_err(|e| bad(&e.to_string()))?;
    let (op, to, inner_op, status) = parsed;
    if op != CALL_TO || inner_op != SET_STATUS {
        return Ok(None); // call_to carrying something else (e.g. a burn)
    }
    let owner = Address::new(
        i8::try_from(to.workchain).map_err(|_| bad("workchain"))?,
        to.hash_part.into(),
    );
    Ok(Some(StatusChange {
        owner,
        status,
        admin: parse_address("in_msg.source", source)?,
        tx_hash: hex::encode(parse_hash("hash", &tx.hash)?),
        lt: tx.lt,
        utime: tx.now,
    }))
}

/// Labels from minter transaction pages (the latest status per owner wins).
pub fn labels(file: &str, transactions: &[Transaction], minter: &Address) -> Parsed {
    let mut latest: BTreeMap<Address, StatusChange> = BTreeMap::new();
    let mut parsed = Parsed::default();
    for (i, tx) in transactions.iter().enumerate() {
        match status_change(tx, minter) {
            Ok(Some(change)) => {
                let newer = latest
                    .get(&change.owner)
                    .is_none_or(|old| old.lt < change.lt);
                if newer {
                    latest.insert(change.owner, change);
                }
            }
            Ok(None) => {}
            Err(err) => parsed.refused.push(Refusal {
                file: file.into(),
                line: i + 1,
                reason: err.to_string(),
            }),
        }
    }
    for change in latest.into_values().filter(|c| c.status != 0) {
        parsed.rows.push(Row {
            file: file.into(),
            line: 0,
            address: change.owner,
            categories: Categories::STOLEN_FUNDS,
            source: SOURCE.into(),
            name: format!(
                "USDT wallet locked by the issuer (status {}) in tx {}",
                change.status, change.tx_hash
            ),
        });
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonlib_core::cell::CellBuilder;
    use tonlib_core::TonAddress;

    fn call_to_body(owner: &Address, inner_op: u32, status: u8) -> String {
        let mut inner = CellBuilder::new();
        inner
            .store_u32(32, inner_op)
            .unwrap()
            .store_u64(64, 7)
            .unwrap()
            .store_u8(4, status)
            .unwrap();
        let inner = inner.build().unwrap();
        let mut outer = CellBuilder::new();
        outer
            .store_u32(32, CALL_TO)
            .unwrap()
            .store_u64(64, 7)
            .unwrap()
            .store_raw_address(&TonAddress::new(owner.workchain as i32, owner.hash.into()))
            .unwrap()
            .store_u8(4, 0) // ton_amount: Coins of zero bytes
            .unwrap()
            .store_child(inner)
            .unwrap();
        tollgate_sdk::boc::to_base64(&std::sync::Arc::new(outer.build().unwrap())).unwrap()
    }

    fn minter_tx(minter: &Address, body: &str, lt: u64, success: bool) -> Transaction {
        let json = serde_json::json!({
            "account": minter.to_raw().to_uppercase(),
            "hash": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [lt as u8; 32]),
            "lt": lt.to_string(), "now": 1_764_000_000u64 + lt,
            "description": { "type": "ord", "aborted": !success,
                "compute_ph": { "skipped": false, "success": success, "exit_code": if success { 0 } else { 73 } } },
            "in_msg": { "hash": "x", "source": "0:AD00000000000000000000000000000000000000000000000000000000000000",
                "destination": minter.to_raw(), "value": "100000000", "opcode": "0x235caf52",
                "bounce": true, "bounced": false, "message_content": { "body": body } },
            "out_msgs": []
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn successful_locks_become_labels_and_failed_or_undone_ones_do_not() {
        let minter: Address = crate::exposure::generate::USDT_MASTER.parse().unwrap();
        let (a, b, c) = (
            Address::new(0, [1; 32]),
            Address::new(0, [2; 32]),
            Address::new(0, [3; 32]),
        );
        let txs = vec![
            minter_tx(&minter, &call_to_body(&a, SET_STATUS, 3), 1, true),
            // Sent by someone else than the admin: the minter refused it.
            minter_tx(&minter, &call_to_body(&b, SET_STATUS, 1), 2, false),
            // Locked, then unlocked: the latest status wins.
            minter_tx(&minter, &call_to_body(&c, SET_STATUS, 2), 3, true),
            minter_tx(&minter, &call_to_body(&c, SET_STATUS, 0), 4, true),
            // call_to with another message inside.
            minter_tx(&minter, &call_to_body(&b, 0x595f07bc, 1), 5, true),
            // A malformed body is refused with its record number.
            minter_tx(&minter, "te6cckEBAQEAAgAAAEysuc0=", 6, true),
        ];
        let parsed = labels("minter.json", &txs, &minter);
        assert_eq!(parsed.rows.len(), 1, "{:?}", parsed.rows);
        assert_eq!(parsed.rows[0].address, a);
        assert_eq!(parsed.rows[0].categories, Categories::STOLEN_FUNDS);
        assert!(parsed.rows[0].name.contains("status 3"));
        assert_eq!(parsed.refused.len(), 1);
        assert_eq!(parsed.refused[0].line, 6);
        // Another account's transactions are not the minter's.
        assert!(labels("x", &txs, &a).rows.is_empty());
    }
}
