//! A TON-shaped synthetic transfer graph with planted ground truth, for tests and benchmarks.
//!
//! Shape: wallets whose degrees follow a power law (preferential attachment: a new transfer
//! picks an endpoint in proportion to its degree so far), exchanges with a labelled hot wallet
//! and one unlabelled deposit address per customer (customer → deposit → sweep to the hot
//! wallet; the hot wallet pays withdrawals to customers), and most of the value in one jetton
//! (USDT-like, 6 decimals) beside TON. Planted: drainers (labelled `drainer`) that collect
//! from victims and pass the funds through 1–4 fresh wallets to an exchange deposit address.
//! Noise that must move nothing when rendered as toncenter pages: bounced TON messages and
//! aborted jetton transfers from the drainers to bystanders.
//!
//! [`pages`] renders the graph in toncenter v3's formats, so tests and benchmarks go through
//! the same parsing and value-moving rules as recorded pages.

use std::collections::HashMap;

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tollgate_sdk::exposure::Asset;
use tollgate_sdk::{Address, Categories};

use super::moves::{jetton_op, Transfer};

/// Sizes of a generated graph.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Ordinary wallets.
    pub wallets: usize,
    /// Background transfers between wallets (besides the exchange and planted flows).
    pub transfers: usize,
    /// Exchanges (one labelled hot wallet each).
    pub exchanges: usize,
    /// Planted drainers.
    pub drainers: usize,
    /// Share of background transfers in the jetton (the rest in TON).
    pub jetton_share: f64,
    /// Seed.
    pub seed: u64,
}

impl Shape {
    /// A small graph for tests (≈ 1.3k addresses, ≈ 5k transfers).
    pub fn small(seed: u64) -> Shape {
        Shape {
            wallets: 1_000,
            transfers: 4_000,
            exchanges: 3,
            drainers: 8,
            jetton_share: 0.6,
            seed,
        }
    }
}

/// One planted drainer flow.
#[derive(Clone, Debug)]
pub struct Planted {
    /// The labelled drainer.
    pub drainer: Address,
    /// Its victims (each sent it funds).
    pub victims: Vec<Address>,
    /// The fresh wallets the funds pass, in order (1–4).
    pub chain: Vec<Address>,
    /// The exchange deposit address the chain ends in.
    pub deposit: Address,
    /// The asset the chain moved.
    pub asset: Asset,
    /// Bystanders that got only a bounced message or an aborted jetton transfer from it.
    pub bystanders: Vec<Address>,
}

/// A generated graph and what was hidden in it.
pub struct Generated {
    /// Every value-moving transfer, in logical-time order.
    pub transfers: Vec<Transfer>,
    /// Records that must move nothing (bounced, aborted), as extra page entries.
    pub noise: Vec<Noise>,
    /// Labels: hot wallets (`exchange`) and drainers (`drainer`).
    pub labels: HashMap<Address, Categories>,
    /// Ordinary wallets.
    pub wallets: Vec<Address>,
    /// Exchange hot wallets.
    pub hot_wallets: Vec<Address>,
    /// Customers who withdrew from a hot wallet.
    pub withdrawers: Vec<Address>,
    /// The planted flows.
    pub planted: Vec<Planted>,
    /// The jetton master.
    pub jetton: Address,
}

/// A record that moves nothing.
#[derive(Clone, Debug)]
pub enum Noise {
    /// A TON message whose receiving transaction bounced it back (bounce phase), and the
    /// bounce itself arriving at the sender.
    Bounced(Transfer),
    /// A jetton transfer with `transaction_aborted: true`.
    Aborted(Transfer),
}

/// The jetton master of generated graphs (the USDT master's address).
pub const USDT_MASTER: &str = "0:B113A994B5024A16719F69139328EB759596C38A25F59028B146FECDC3621DFE";

fn address(rng: &mut StdRng) -> Address {
    Address::new(0, rng.gen())
}

struct Builder {
    rng: StdRng,
    lt: u64,
    out: Vec<Transfer>,
    jetton: Address,
}

impl Builder {
    fn next_lt(&mut self) -> u64 {
        self.lt += self.rng.gen_range(1_000..3_000);
        self.lt
    }
    fn push(&mut self, from: Address, to: Address, asset: Asset, amount: u128) -> Transfer {
        let lt = self.next_lt();
        let t = Transfer {
            from,
            to,
            asset,
            amount,
            lt,
            utime: 1_764_000_000 + (lt / 1_000_000) as u32,
            tx_hash: self.rng.gen(),
        };
        self.out.push(t);
        t
    }
    fn amount(&mut self, asset: Asset) -> u128 {
        // Log-uniform amounts: most transfers small, a few large (as on chain).
        let exp: f64 = self.rng.gen_range(0.0..4.0);
        let units = 10f64.powf(exp);
        match asset {
            Asset::Ton => (units * 1e8) as u128,           // 0.1 … 1,000 TON
            Asset::Jetton { .. } => (units * 1e6) as u128, // 1 … 10,000 USDT
        }
    }
    fn asset(&mut self, jetton_share: f64) -> Asset {
        if self.rng.gen_bool(jetton_share) {
            Asset::Jetton {
                master: self.jetton,
            }
        } else {
            Asset::Ton
        }
    }
}

/// Generates a graph of `shape`.
pub fn generate(shape: &Shape) -> Generated {
    let jetton: Address = USDT_MASTER.parse().expect("valid");
    let mut b = Builder {
        rng: StdRng::seed_from_u64(shape.seed),
        lt: 47_000_000_000_000,
        out: Vec::with_capacity(shape.transfers * 2),
        jetton,
    };
    let wallets: Vec<Address> = (0..shape.wallets).map(|_| address(&mut b.rng)).collect();
    let hot_wallets: Vec<Address> = (0..shape.exchanges.max(1))
        .map(|_| address(&mut b.rng))
        .collect();
    let mut labels = HashMap::new();
    for h in &hot_wallets {
        labels.insert(*h, Categories::EXCHANGE);
    }
    // Endpoints so far, one entry per transfer end: picking from it is picking by degree.
    let mut ends: Vec<usize> = Vec::with_capacity(shape.transfers * 2);
    let mut deposits: HashMap<(usize, usize), Address> = HashMap::new();
    let mut withdrawers = Vec::new();
    let per_drainer = shape.transfers / (shape.drainers + 1).max(1);
    let mut planted = Vec::new();
    for i in 0..shape.transfers {
        let pick = |b: &mut Builder, ends: &Vec<usize>| {
            if !ends.is_empty() && b.rng.gen_bool(0.7) {
                ends[b.rng.gen_range(0..ends.len())]
            } else {
                b.rng.gen_range(0..wallets.len())
            }
        };
        let roll: f64 = b.rng.gen();
        let asset = b.asset(shape.jetton_share);
        let amount = b.amount(asset);
        if roll < 0.15 {
            // Deposit to an exchange (customer → own deposit address → sweep).
            let user = pick(&mut b, &ends);
            let ex = b.rng.gen_range(0..hot_wallets.len());
            let deposit = *deposits
                .entry((user, ex))
                .or_insert_with(|| address(&mut b.rng));
            b.push(wallets[user], deposit, asset, amount);
            b.push(deposit, hot_wallets[ex], asset, amount);
            ends.push(user);
        } else if roll < 0.25 {
            // Withdrawal from a hot wallet.
            let user = pick(&mut b, &ends);
            let ex = b.rng.gen_range(0..hot_wallets.len());
            b.push(hot_wallets[ex], wallets[user], asset, amount);
            withdrawers.push(wallets[user]);
            ends.push(user);
        } else {
            let from = pick(&mut b, &ends);
            let mut to = pick(&mut b, &ends);
            if to == from {
                to = (to + 1) % wallets.len();
            }
            b.push(wallets[from], wallets[to], asset, amount);
            ends.push(from);
            ends.push(to);
        }
        if shape.drainers > 0
            && i % per_drainer.max(1) == per_drainer / 2
            && planted.len() < shape.drainers
        {
            planted.push(plant(&mut b, &wallets, &hot_wallets, planted.len()));
        }
    }
    while planted.len() < shape.drainers {
        planted.push(plant(&mut b, &wallets, &hot_wallets, planted.len()));
    }
    let mut noise = Vec::new();
    for p in &mut planted {
        labels.insert(p.drainer, Categories::DRAINER);
        for _ in 0..2 {
            let who = address(&mut b.rng);
            p.bystanders.push(who);
            let lt = b.next_lt();
            let t = Transfer {
                from: p.drainer,
                to: who,
                asset: Asset::Ton,
                amount: 5_000_000_000,
                lt,
                utime: 1_764_000_000 + (lt / 1_000_000) as u32,
                tx_hash: b.rng.gen(),
            };
            noise.push(Noise::Bounced(t));
            let lt = b.next_lt();
            noise.push(Noise::Aborted(Transfer {
                asset: Asset::Jetton { master: jetton },
                amount: 7_000_000_000,
                lt,
                tx_hash: b.rng.gen(),
                ..t
            }));
        }
    }
    Generated {
        transfers: b.out,
        noise,
        labels,
        wallets,
        hot_wallets,
        withdrawers,
        planted,
        jetton,
    }
}

fn plant(b: &mut Builder, wallets: &[Address], hot: &[Address], n: usize) -> Planted {
    let drainer = address(&mut b.rng);
    let asset = if n % 3 == 2 {
        Asset::Ton
    } else {
        Asset::Jetton { master: b.jetton }
    };
    let mut victims = Vec::new();
    let mut total = 0u128;
    for _ in 0..b.rng.gen_range(3..8) {
        let v = wallets[b.rng.gen_range(0..wallets.len())];
        let amount = b.amount(asset);
        total += amount;
        b.push(v, drainer, asset, amount);
        victims.push(v);
    }
    let hops = 1 + n % 4;
    let chain: Vec<Address> = (0..hops).map(|_| address(&mut b.rng)).collect();
    // Peel chain: each fresh wallet forwards most of what it got (keeping some for fees).
    let mut amount = total * 9 / 10;
    let mut from = drainer;
    for f in &chain {
        b.push(from, *f, asset, amount);
        from = *f;
        amount = amount * 95 / 100;
    }
    let deposit = address(&mut b.rng);
    b.push(from, deposit, asset, amount);
    b.push(deposit, hot[n % hot.len()], asset, amount);
    Planted {
        drainer,
        victims,
        chain,
        deposit,
        asset,
        bystanders: Vec::new(),
    }
}

/// Page rendering in toncenter v3's formats.
pub mod pages {
    use super::*;

    fn raw(a: &Address) -> String {
        format!("{}:{}", a.workchain, hex::encode_upper(a.hash))
    }
    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
    fn derived(seed: &[u8; 32], tag: u8) -> [u8; 32] {
        let mut h = *seed;
        h[0] ^= tag;
        h[31] = h[31].wrapping_add(tag);
        h
    }

    fn message(
        from: &Address,
        to: &Address,
        value: u128,
        lt: u64,
        op: Option<u32>,
        (bounce, bounced): (bool, bool),
        hash: &[u8; 32],
    ) -> Value {
        json!({
            "hash": b64(&derived(hash, 0x4d)),
            "source": raw(from),
            "destination": raw(to),
            "value": value.to_string(),
            "value_extra_currencies": {},
            "fwd_fee": "266669",
            "ihr_fee": "0",
            "created_lt": lt.saturating_sub(1).to_string(),
            "created_at": "1764000000",
            "opcode": op.map(|o| format!("0x{o:08x}")),
            "ihr_disabled": true,
            "bounce": bounce,
            "bounced": bounced,
            "import_fee": null,
            "message_content": { "hash": b64(&derived(hash, 0x63)), "body": "te6cckEBAQEAAgAAAEysuc0=", "decoded": null },
            "init_state": null
        })
    }

    fn transaction(
        account: &Address,
        t: &Transfer,
        in_msg: Value,
        aborted: bool,
        compute: Value,
        bounce: Option<Value>,
    ) -> Value {
        let mut description = json!({
            "type": "ord",
            "aborted": aborted,
            "destroyed": false,
            "credit_first": !in_msg["bounce"].as_bool().unwrap_or(false),
            "storage_ph": { "storage_fees_collected": "0", "status_change": "unchanged" },
            "credit_ph": { "credit": in_msg["value"].clone() },
            "compute_ph": compute,
        });
        if let Some(bounce) = bounce {
            description["bounce"] = bounce;
        }
        json!({
            "account": raw(account),
            "hash": b64(&t.tx_hash),
            "lt": t.lt.to_string(),
            "now": t.utime,
            "mc_block_seqno": 50_000_000 + (t.lt / 1_000_000),
            "trace_id": b64(&derived(&t.tx_hash, 0x74)),
            "prev_trans_hash": b64(&derived(&t.tx_hash, 0x70)),
            "prev_trans_lt": t.lt.saturating_sub(500).to_string(),
            "orig_status": if aborted { "uninit" } else { "active" },
            "end_status": if aborted { "uninit" } else { "active" },
            "total_fees": "2769331",
            "total_fees_extra_currencies": {},
            "description": description,
            "block_ref": { "workchain": 0, "shard": "8000000000000000", "seqno": 52_000_000 + (t.lt / 1_000_000) },
            "in_msg": in_msg,
            "out_msgs": [],
            "account_state_before": null,
            "account_state_after": null,
            "emulated": false
        })
    }

    fn ok_compute() -> Value {
        json!({ "skipped": false, "success": true, "msg_state_used": false, "account_activated": false,
                "gas_fees": "1000000", "gas_used": "2500", "gas_limit": "1000000", "mode": 0,
                "exit_code": 0, "vm_steps": 40, "vm_init_state_hash": "", "vm_final_state_hash": "" })
    }

    /// The TON transfers and bounced noise as `/api/v3/transactions` records, plus the gas
    /// messages of each jetton transfer (owner → jetton wallet `transfer`), which move no TON.
    /// A first transfer into a never-seen address is rendered as the `no_state` abort a fresh
    /// wallet's funding is.
    pub fn transactions(g: &Generated) -> Vec<Value> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for t in &g.transfers {
            match t.asset {
                Asset::Ton => {
                    let fresh = seen.insert(t.to);
                    let msg = message(
                        &t.from,
                        &t.to,
                        t.amount,
                        t.lt,
                        None,
                        (false, false),
                        &t.tx_hash,
                    );
                    let compute = if fresh {
                        json!({ "skipped": true, "reason": "no_state" })
                    } else {
                        ok_compute()
                    };
                    out.push(transaction(&t.to, t, msg, fresh, compute, None));
                }
                Asset::Jetton { .. } => {
                    // The owner's `transfer` to its jetton wallet: gas, not a TON payment.
                    let wallet = Address::new(0, derived(&t.from.hash, 0x6a));
                    let gas = Transfer {
                        tx_hash: derived(&t.tx_hash, 0x67),
                        ..*t
                    };
                    let msg = message(
                        &t.from,
                        &wallet,
                        50_000_000,
                        t.lt,
                        Some(jetton_op::TRANSFER),
                        (true, false),
                        &gas.tx_hash,
                    );
                    out.push(transaction(&wallet, &gas, msg, false, ok_compute(), None));
                }
            }
            seen.insert(t.from);
        }
        for n in &g.noise {
            if let Noise::Bounced(t) = n {
                // The receiver's transaction fails and bounces the value back...
                let msg = message(
                    &t.from,
                    &t.to,
                    t.amount,
                    t.lt,
                    Some(0x12345678),
                    (true, false),
                    &t.tx_hash,
                );
                let compute = json!({ "skipped": false, "success": false, "exit_code": 65535, "gas_used": "300" });
                out.push(transaction(&t.to, t, msg, true, compute, Some(json!({ "type": "ok", "msg_size": { "cells": "1", "bits": "0" }, "req_fwd_fees": "0", "msg_fees": "0", "fwd_fees": "0" }))));
                // ... and the bounce arrives at the sender.
                let back = Transfer {
                    tx_hash: derived(&t.tx_hash, 0x62),
                    lt: t.lt + 1,
                    from: t.to,
                    to: t.from,
                    ..*t
                };
                let msg = message(
                    &t.to,
                    &t.from,
                    t.amount - 400_000,
                    back.lt,
                    Some(0xffffffff),
                    (false, true),
                    &back.tx_hash,
                );
                out.push(transaction(&t.from, &back, msg, false, ok_compute(), None));
            }
        }
        out.sort_by_key(|v| {
            v["lt"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        });
        out
    }

    /// The jetton transfers and aborted noise as `/api/v3/jetton/transfers` records.
    pub fn jetton_transfers(g: &Generated) -> Vec<Value> {
        let record = |t: &Transfer, aborted: bool| {
            let Asset::Jetton { master } = t.asset else {
                return None;
            };
            Some(json!({
                "query_id": "0",
                "source": raw(&t.from),
                "destination": raw(&t.to),
                "amount": t.amount.to_string(),
                "source_wallet": raw(&Address::new(0, derived(&t.from.hash, 0x6a))),
                "jetton_master": raw(&master),
                "transaction_hash": b64(&t.tx_hash),
                "transaction_lt": t.lt.to_string(),
                "transaction_now": t.utime,
                "transaction_aborted": aborted,
                "response_destination": raw(&t.from),
                "custom_payload": null,
                "forward_ton_amount": "1",
                "forward_payload": null,
                "trace_id": b64(&derived(&t.tx_hash, 0x74))
            }))
        };
        let mut out: Vec<Value> = g
            .transfers
            .iter()
            .filter_map(|t| record(t, false))
            .collect();
        out.extend(g.noise.iter().filter_map(|n| match n {
            Noise::Aborted(t) => record(t, true),
            Noise::Bounced(_) => None,
        }));
        out.sort_by_key(|v| {
            v["transaction_lt"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        });
        out
    }

    /// One `set_status` the USDT minter's admin sends (see `exposure::issuer_locks`).
    #[derive(Clone, Copy, Debug)]
    pub struct StatusChange {
        /// The owner whose jetton wallet it locks or unlocks.
        pub owner: Address,
        /// 0 unlocked, 1 outgoing locked, 2 incoming locked, 3 both.
        pub status: u8,
        /// Logical time of the minter's transaction.
        pub lt: u64,
        /// False for a transaction the minter refused (a sender other than its admin): compute
        /// phase exit 73, aborted.
        pub success: bool,
    }

    /// The minter's `/api/v3/transactions` records in which `admin` sends it `call_to` with
    /// `set_status` for each change: the page `ingest issuer-locks` reads.
    pub fn issuer_status(
        minter: &Address,
        admin: &Address,
        changes: &[StatusChange],
    ) -> Vec<Value> {
        changes
            .iter()
            .map(|c| {
                let mut tx_hash = [0x1c; 32];
                tx_hash[..8].copy_from_slice(&c.lt.to_be_bytes());
                tx_hash[8..16].copy_from_slice(&c.owner.hash[..8]);
                let t = Transfer {
                    from: *admin,
                    to: *minter,
                    asset: Asset::Ton,
                    amount: 100_000_000,
                    lt: c.lt,
                    utime: 1_764_000_000 + (c.lt % 1_000_000) as u32,
                    tx_hash,
                };
                let mut msg = message(admin, minter, t.amount, t.lt, Some(super::super::issuer_locks::CALL_TO), (true, false), &tx_hash);
                msg["message_content"]["body"] =
                    call_to_body(&c.owner, super::super::issuer_locks::SET_STATUS, c.status, c.lt)
                        .into();
                let compute = if c.success {
                    ok_compute()
                } else {
                    json!({ "skipped": false, "success": false, "exit_code": 73, "gas_used": "500" })
                };
                transaction(minter, &t, msg, !c.success, compute, None)
            })
            .collect()
    }

    /// The base64 BoC of `call_to#235caf52 query_id to_address:owner ton_amount:0
    /// master_msg:^(inner_op query_id status:uint4)`; with `inner_op` = `set_status#eed236d3`
    /// the minter locks or unlocks the owner's wallet.
    pub fn call_to_body(owner: &Address, inner_op: u32, status: u8, query_id: u64) -> String {
        use super::super::issuer_locks::CALL_TO;
        use tonlib_core::cell::CellBuilder;
        let build = || -> Result<String, tonlib_core::cell::TonCellError> {
            let mut inner = CellBuilder::new();
            inner
                .store_u32(32, inner_op)?
                .store_u64(64, query_id)?
                .store_u8(4, status)?;
            let inner = inner.build()?;
            let mut outer = CellBuilder::new();
            outer
                .store_u32(32, CALL_TO)?
                .store_u64(64, query_id)?
                .store_raw_address(&tonlib_core::TonAddress::new(
                    i32::from(owner.workchain),
                    owner.hash.into(),
                ))?
                .store_u8(4, 0)? // ton_amount: Coins of zero bytes
                .store_child(inner)?;
            tollgate_sdk::boc::to_base64(&std::sync::Arc::new(outer.build()?))
                .map_err(|e| tonlib_core::cell::TonCellError::InternalError(e.to_string()))
        };
        build().expect("a call_to body fits one cell")
    }

    /// Records in pages of `limit`, each a whole page object as the server sends it.
    pub fn paged(records: &[Value], key: &str, limit: usize) -> Vec<String> {
        records
            .chunks(limit.max(1))
            .map(|chunk| {
                let items: Vec<String> = chunk.iter().map(Value::to_string).collect();
                format!(r#"{{"{key}":[{}],"address_book":{{}}}}"#, items.join(","))
            })
            .collect()
    }
}
