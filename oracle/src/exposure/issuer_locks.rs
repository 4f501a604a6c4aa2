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
//! [`SOURCE`]. For each owner the latest status in the input wins; an unlock (status 0) is the
//! issuer's retraction: it removes the owner's [`SOURCE`] label written by an earlier ingest
//! (only that source's: another list's label of the owner stays).

use std::collections::BTreeMap;

use tollgate_sdk::{Address, Categories};

use super::toncenter::{parse_address, parse_hash, parse_opcode, PageError, Transaction};
use crate::ingest::{Parsed, Refusal, Retraction, Row};

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

/// Labels from minter transaction pages, `(file name, its transactions)`, taken together: the
/// latest status per owner across all of them wins (pages may come in any order); a lock is a
/// row, an unlock a retraction.
pub fn labels(pages: &[(String, Vec<Transaction>)], minter: &Address) -> Parsed {
    // Owner → (file, 1-based record number, the change).
    let mut latest: BTreeMap<Address, (&str, usize, StatusChange)> = BTreeMap::new();
    let mut parsed = Parsed::default();
    for (file, transactions) in pages {
        for (i, tx) in transactions.iter().enumerate() {
            match status_change(tx, minter) {
                Ok(Some(change)) => {
                    let newer = latest
                        .get(&change.owner)
                        .is_none_or(|(_, _, old)| old.lt < change.lt);
                    if newer {
                        latest.insert(change.owner, (file, i + 1, change));
                    }
                }
                Ok(None) => {}
                Err(err) => parsed.refused.push(Refusal {
                    file: file.clone(),
                    line: i + 1,
                    reason: err.to_string(),
                }),
            }
        }
    }
    for (file, record, change) in latest.into_values() {
        if change.status == 0 {
            parsed.retracted.push(Retraction {
                file: file.into(),
                line: record,
                address: change.owner,
                source: SOURCE.into(),
            });
            continue;
        }
        parsed.rows.push(Row {
            file: file.into(),
            line: record,
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
    use crate::exposure::generate::pages::{call_to_body, issuer_status, StatusChange as Sent};

    fn sent(owner: &Address, status: u8, lt: u64, success: bool) -> Sent {
        Sent {
            owner: *owner,
            status,
            lt,
            success,
        }
    }

    fn page(minter: &Address, changes: &[Sent]) -> Vec<Transaction> {
        issuer_status(minter, &Address::new(0, [0xad; 32]), changes)
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }

    #[test]
    fn successful_locks_become_labels_unlocks_retractions_and_failed_ones_nothing() {
        let minter: Address = crate::exposure::generate::USDT_MASTER.parse().unwrap();
        let (a, b, c) = (
            Address::new(0, [1; 32]),
            Address::new(0, [2; 32]),
            Address::new(0, [3; 32]),
        );
        let mut txs = page(
            &minter,
            &[
                sent(&a, 3, 1, true),
                // Sent by someone else than the admin: the minter refused it.
                sent(&b, 1, 2, false),
                // Locked, then unlocked: the latest status wins, an unlock retracts.
                sent(&c, 2, 3, true),
                sent(&c, 0, 4, true),
                sent(&b, 1, 5, true),
                sent(&b, 1, 6, true),
            ],
        );
        let mut set_body = |i: usize, body: String| {
            let msg = txs[i].in_msg.as_mut().unwrap();
            msg.message_content.as_mut().unwrap().body = Some(body);
        };
        // call_to with another message inside (the minter's admin moving jettons) is no lock.
        set_body(4, call_to_body(&b, 0x595f07bc, 1, 5));
        // A malformed body is refused with its record number.
        set_body(5, "te6cckEBAQEAAgAAAEysuc0=".into());
        let parsed = labels(&[("minter.json".into(), txs.clone())], &minter);
        assert_eq!(parsed.rows.len(), 1, "{:?}", parsed.rows);
        assert_eq!(parsed.rows[0].address, a);
        assert_eq!(parsed.rows[0].line, 1);
        assert_eq!(parsed.rows[0].categories, Categories::STOLEN_FUNDS);
        assert!(parsed.rows[0].name.contains("status 3"));
        assert_eq!(parsed.retracted.len(), 1);
        assert_eq!(
            (parsed.retracted[0].address, parsed.retracted[0].line),
            (c, 4)
        );
        assert_eq!(parsed.retracted[0].source, SOURCE);
        assert_eq!(parsed.refused.len(), 1, "{:?}", parsed.refused);
        assert_eq!(parsed.refused[0].line, 6);
        // Another account's transactions are not the minter's.
        let other = labels(&[("x".into(), txs)], &a);
        assert!(other.rows.is_empty() && other.retracted.is_empty());
    }

    #[test]
    fn the_latest_status_wins_across_files_in_any_order() {
        let minter: Address = crate::exposure::generate::USDT_MASTER.parse().unwrap();
        let owner = Address::new(0, [7; 32]);
        let lock = page(&minter, &[sent(&owner, 1, 10, true)]);
        let unlock = page(&minter, &[sent(&owner, 0, 20, true)]);
        for pages in [
            vec![
                ("lock".to_string(), lock.clone()),
                ("unlock".into(), unlock.clone()),
            ],
            vec![
                ("unlock".to_string(), unlock.clone()),
                ("lock".into(), lock.clone()),
            ],
        ] {
            let parsed = labels(&pages, &minter);
            assert!(parsed.rows.is_empty(), "{:?}", parsed.rows);
            assert_eq!(parsed.retracted.len(), 1);
            assert_eq!(parsed.retracted[0].file, "unlock");
        }
        let relock = page(&minter, &[sent(&owner, 2, 30, true)]);
        let parsed = labels(
            &[("relock".into(), relock), ("unlock".into(), unlock)],
            &minter,
        );
        assert_eq!(parsed.rows.len(), 1);
        assert!(parsed.retracted.is_empty());
    }
}
