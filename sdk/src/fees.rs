//! What a ComplianceGate charges on top of the amount it forwards, so a wallet can attach enough
//! (SPEC.md §10.3): `value >= amount + forward_fee + compute_fee(gas) + rent_shortfall`; what a
//! JettonDepositGate needs as `forward_ton_amount` (SPEC.md §12.3, [`deposit_forward_ton`]); and
//! what a USDT wallet needs attached to a transfer ([`jetton_transfer_value`]).
//!
//! This module is the sdk's one copy of the gate's fee constants. They come from two places:
//! - the gate: `contracts/contracts/imports/gate/gas.fc` (`gas::transfer_tail`) and the gas the
//!   sandbox measured for whole transfers (SPEC.md §10.7, `contracts/gas-report-gate.json`);
//! - the network: TON's config parameters 21 (basechain gas price) and 24/25 (message forwarding
//!   prices), at their mainnet and testnet values of 2026.
//!
//! When the gate's gas changes, change the constants here; `tests/e2e/ton-connect.e2e.spec.ts`
//! sends a transfer with exactly [`gate_fee`] attached through the compiled gate and fails when
//! the estimate falls short. An estimate that is too high costs nothing: without a response
//! address the destination receives the whole value less fees, with one the rest comes back as
//! `gate_excess`.

use tonlib_core::cell::Cell;

// JettonDepositGate (SPEC.md §12.3). The gate refuses to send the jettons on (or back) unless
// the notification's value, which is exactly the depositor's `forward_ton_amount`, pays
// `jgate::wallet_transfer_value + compute_fee(gas_consumed() + gas::jgate_tail) + forward_fee`.
// tests/e2e/jetton-deposit.e2e.spec.ts sends a deposit with exactly [`deposit_forward_ton`]
// through the compiled gate and the real USDT wallets, and fails when it falls short.

/// `jgate::wallet_transfer_value` of `imports/jetton_gate/codes.fc`: what the gate's transfer
/// must carry for its USDT wallet (0.03 TON).
pub const JGATE_WALLET_TRANSFER_VALUE: u64 = 30_000_000;
/// `gas::jgate_tail` of `imports/jetton_gate/codes.fc`: gas the gate adds at its value check.
pub const JGATE_TAIL_GAS: u64 = 3_000;
/// The gate's gas for its dearest path with a one-signature proof: a refusal for a bad
/// signature (fast path, full re-check, refund), 14,846 measured in the sandbox (0.41.0,
/// FunC 0.4.6); a successful deposit costs 11,708, a refusal for risk 12,080.
pub const JGATE_WORST_GAS: u64 = 14_846;
/// Gas each further signature adds on that path (measured: 16,626 at k = 2, 18,406 at k = 3).
pub const JGATE_GAS_PER_EXTRA_SIGNER: u64 = 1_780;
/// Headroom over the measured gas for code-layout shifts.
pub const JGATE_GAS_MARGIN: u64 = 1_000;
/// Bits of the gate's `transfer` body besides its payload, as the gate counts them
/// (`jg::pays_transfer?`): op, query_id, amount, two addresses, the flags and zero coins.
pub const JGATE_TRANSFER_BITS: u64 = 32 + 64 + 124 + 267 + 267 + 1 + 4 + 1;
/// Bits of `jgate_refund query_id error`, the payload of jettons sent back.
pub const JGATE_REFUND_BITS: u64 = 32 + 64 + 32;

// The sender's own jetton wallet, as USDT on TON deploys it (stablecoin-contract `gas.fc`,
// `check_amount_is_enough_to_transfer`): the transfer's value must exceed
// `forward_ton_amount + n × fwd_fee + init_state_fwd + compute(send) + compute(receive) + 5
// years of storage`, n = 2 with a forward amount, 1 without. The wallet sends the excess back to
// `response_destination`, so what is attached above that is returned, not spent.

/// `SEND_TRANSFER_GAS_CONSUMPTION` of stablecoin-contract's gas.fc (the gas it assumes when the
/// network does not price the wallet as a precompiled contract; mainnet's param 45 prices it at
/// 1,000, so this bound holds on both).
pub const USDT_SEND_TRANSFER_GAS: u64 = 9_255;
/// `RECEIVE_TRANSFER_GAS_CONSUMPTION` of the same file.
pub const USDT_RECEIVE_TRANSFER_GAS: u64 = 10_355;
/// `forward_init_state_overhead()`: `get_simple_forward_fee` (no lump) of the wallet's state
/// init, 931 bits and 3 cells, at basechain prices.
pub const USDT_INIT_STATE_FORWARD: u64 = (931 * 26_214_400 + 3 * 2_621_440_000) >> 16;
/// `calculate_jetton_wallet_min_storage_fee()`: five years of storage of 1,033 bits and 3 cells
/// at basechain storage prices (config param 18: 1 and 500 nanoton / 2^16 per bit and cell
/// per second), rounded up.
pub const USDT_MIN_STORAGE_FEE: u64 =
    ((1_033 + 3 * 500) * 5 * 365 * 24 * 3_600u64).div_ceil(1 << 16);

/// `gas::transfer_tail` of gas.fc: gas the gate adds to `gas_consumed()` at its fee check to
/// bound the rest of the transaction.
pub const GATE_TRANSFER_TAIL_GAS: u64 = 5_000;
/// Gas of a whole transfer through a gate that screens nobody (SPEC.md §10.7, "0 (ungated)":
/// 5,892).
pub const GATE_BASE_GAS: u64 = 5_892;
/// Gas one screened party adds with one signature (SPEC.md §10.7: 9,143 − 5,892 = 3,251).
pub const GATE_GAS_PER_PARTY: u64 = 3_251;
/// Gas each further signature of a party adds (SPEC.md §10.7: +633 per further signer).
pub const GATE_GAS_PER_EXTRA_SIGNER: u64 = 633;
/// Headroom over the measured gas for code-layout shifts in the library (≈ 10% of a one-party
/// transfer).
pub const GATE_GAS_MARGIN: u64 = 1_000;

/// Config param 21, basechain `gas_price`: 26,214,400 / 2^16 = 400 nanoton per gas unit.
pub const BASECHAIN_GAS_PRICE: u64 = 400;

/// Message forwarding prices of one workchain (config params 24 and 25), in the config's units:
/// `lump` in nanoton, `bit` and `cell` in nanoton / 2^16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardPrices {
    /// Price of any message.
    pub lump: u64,
    /// Price per bit, ×2^16.
    pub bit: u64,
    /// Price per cell, ×2^16.
    pub cell: u64,
}

/// Config param 25: basechain message prices.
pub const BASECHAIN_FORWARD: ForwardPrices = ForwardPrices {
    lump: 400_000,
    bit: 26_214_400,
    cell: 2_621_440_000,
};
/// Config param 24: masterchain message prices (a destination on workchain -1).
pub const MASTERCHAIN_FORWARD: ForwardPrices = ForwardPrices {
    lump: 10_000_000,
    bit: 655_360_000,
    cell: 65_536_000_000,
};

/// Bits of `gate_forward`'s body that the gate counts besides the payload: op, query_id, the
/// `Maybe` bit and the sender's 267-bit address (messages.fc `forward_fee`).
pub const GATE_FORWARD_BITS: u64 = 32 + 64 + 1 + 267;

impl ForwardPrices {
    /// `GETFORWARDFEE`: `lump + ceil((bit * bits + cell * cells) / 2^16)`.
    pub fn fee(&self, bits: u64, cells: u64) -> u64 {
        let variable = self.bit * bits + self.cell * cells;
        self.lump + variable.div_ceil(1 << 16)
    }
}

/// Gas the gate's fee check asks the value to pay for: a whole transfer screening `parties`
/// (0–2) with `signatures` per proof, plus the tail the check adds, plus the margin.
pub fn gate_gas(parties: u64, signatures: u64) -> u64 {
    let per_party = GATE_GAS_PER_PARTY + signatures.saturating_sub(1) * GATE_GAS_PER_EXTRA_SIGNER;
    GATE_BASE_GAS + parties * per_party + GATE_TRANSFER_TAIL_GAS + GATE_GAS_MARGIN
}

/// Nanotons to attach on top of the amount: the gate's gas at the basechain price and the
/// forward's fee at the destination workchain's prices (the payload's cells and bits counted).
///
/// It leaves out `rent_shortfall`, which is zero for a gate holding its reserve
/// (`gate::min_storage`, 0.1 TON) and unknowable without reading the chain.
pub fn gate_fee(
    destination_workchain: i8,
    parties: u64,
    signatures: u64,
    forward_payload: Option<&Cell>,
) -> u64 {
    let (payload_bits, payload_cells) = forward_payload.map_or((0, 0), data_size);
    let prices = if destination_workchain == -1 {
        MASTERCHAIN_FORWARD
    } else {
        BASECHAIN_FORWARD
    };
    let forward = prices.fee(GATE_FORWARD_BITS + payload_bits, 1 + payload_cells);
    gate_gas(parties, signatures) * BASECHAIN_GAS_PRICE + forward
}
/// Headroom over the wallet's own terms: its check is strict (`>`) and its fee functions round
/// differently from [`ForwardPrices::fee`]; without it, a 2-of-3 deposit with a comment came out
/// 252 nanoton short of the least value the real USDT wallet accepts (56,867,065, sandbox).
pub const USDT_VALUE_MARGIN: u64 = 100_000;

/// Gas the deposit gate's value check asks to be paid for a proof with `signatures` signatures:
/// its dearest path (so a refusal is paid too), the tail it adds, and the margin.
pub fn deposit_gate_gas(signatures: u64) -> u64 {
    JGATE_WORST_GAS
        + signatures.saturating_sub(1) * JGATE_GAS_PER_EXTRA_SIGNER
        + JGATE_TAIL_GAS
        + JGATE_GAS_MARGIN
}

/// The `forward_ton_amount` a deposit must carry so that the JettonDepositGate can send the
/// jettons on to the treasury with `reference`, or back with `jgate_refund`, whichever happens:
/// the gate's wallet transfer value, its gas at the basechain price and the forward fee of the
/// larger of the two transfers. With less, the deposit waits in quarantine (SPEC.md §12.4).
pub fn deposit_forward_ton(signatures: u64, reference: Option<&Cell>) -> u64 {
    let (reference_bits, reference_cells) = reference.map_or((0, 0), data_size);
    let payload_bits = reference_bits.max(JGATE_REFUND_BITS);
    let payload_cells = reference_cells.max(1);
    JGATE_WALLET_TRANSFER_VALUE
        + deposit_gate_gas(signatures) * BASECHAIN_GAS_PRICE
        + BASECHAIN_FORWARD.fee(JGATE_TRANSFER_BITS + payload_bits, 1 + payload_cells)
}

/// The TON to attach to a jetton `transfer` (the body as built, `forward_ton_amount` inside it)
/// sent to the sender's own USDT-style wallet: the forward amount plus what the wallet's check
/// asks for. The message's forward fee is counted over the whole body tree, which bounds the
/// fee of the message whatever the wallet app inlines.
pub fn jetton_transfer_value(body: &Cell, forward_ton_amount: u64) -> u64 {
    let (bits, cells) = data_size(body);
    let message_fee = BASECHAIN_FORWARD.fee(bits, cells);
    let forwards = if forward_ton_amount > 0 { 2 } else { 1 };
    forward_ton_amount
        + forwards * message_fee
        + USDT_INIT_STATE_FORWARD
        + (USDT_SEND_TRANSFER_GAS + USDT_RECEIVE_TRANSFER_GAS) * BASECHAIN_GAS_PRICE
        + USDT_MIN_STORAGE_FEE
        + USDT_VALUE_MARGIN
}

// The compliant jetton wallet (SPEC.md §16.5, `contracts/jetton/compliant/compliant_wallet.fc`):
// a transfer's value must exceed `forward_ton_amount + n × fwd_fee + forward_fee(wallet state)
// + compute_fee(gas_consumed() + gas::cj_transfer_tail + gas::cj_receive) + cj::min_storage()`,
// n = 2 with a forward amount, 1 without; the receiver keeps its reserve and sends the rest to
// `response_destination`. `contracts/tests/CompliantVectors.wallet.spec.ts` sends every vector's
// transfer with exactly [`compliant_transfer_value`] through the compiled wallets and bisects
// for the least value they accept, so a constant that falls short fails there.

/// Gas the sending compliant wallet has consumed at its value check, bounded by its whole
/// transaction with a one-signature attestation: 13,086 measured (sandbox 0.41.0, FunC 0.4.6,
/// `contracts/gas-report-compliant-jetton.json`), with headroom for code-layout shifts.
pub const COMPLIANT_SENDER_GAS: u64 = 14_000;
/// Gas each further attestation signature adds to the sending wallet (measured: 13,719 at
/// 2-of-3 against 13,086 at 1-of-1, +633), with headroom.
pub const COMPLIANT_GAS_PER_EXTRA_SIGNER: u64 = 700;
/// `gas::cj_transfer_tail` of `jetton/compliant/common.fc`, added at the wallet's value check.
pub const COMPLIANT_TRANSFER_TAIL_GAS: u64 = 4_000;
/// `gas::cj_receive` of the same file: the receiving wallet's gas, charged to the sender.
pub const COMPLIANT_RECEIVE_GAS: u64 = 10_000;
/// `cj::wallet_bits` and `cj::wallet_cells`: the bound on a wallet's state the check prices
/// (`contracts/tests/CompliantVectors.wallet.spec.ts` compares these four constants with
/// common.fc's).
pub const COMPLIANT_WALLET_BITS: u64 = 14_000;
/// See [`COMPLIANT_WALLET_BITS`].
pub const COMPLIANT_WALLET_CELLS: u64 = 30;
/// `cj::min_storage()`: five years of storage of [`COMPLIANT_WALLET_BITS`] bits and
/// [`COMPLIANT_WALLET_CELLS`] cells at basechain storage prices (config param 18), rounded up.
pub const COMPLIANT_MIN_STORAGE_FEE: u64 =
    ((COMPLIANT_WALLET_BITS + COMPLIANT_WALLET_CELLS * 500) * 5 * 365 * 24 * 3_600u64)
        .div_ceil(1 << 16);

/// The TON to attach to a compliant jetton transfer (the body as built, `forward_ton_amount`
/// inside it, `signatures` in its attestation): the wallet's own terms above, with the
/// message's forward fee counted over the whole body tree and [`USDT_VALUE_MARGIN`] of
/// headroom. Most of it is the receiver's five-year reserve; what the transfer does not spend
/// comes back to `response_destination` as `excesses`.
pub fn compliant_transfer_value(body: &Cell, forward_ton_amount: u64, signatures: u64) -> u64 {
    let (bits, cells) = data_size(body);
    let message_fee = BASECHAIN_FORWARD.fee(bits, cells);
    let forwards = if forward_ton_amount > 0 { 2 } else { 1 };
    let gas = COMPLIANT_SENDER_GAS
        + signatures.saturating_sub(1) * COMPLIANT_GAS_PER_EXTRA_SIGNER
        + COMPLIANT_TRANSFER_TAIL_GAS
        + COMPLIANT_RECEIVE_GAS;
    forward_ton_amount
        + forwards * message_fee
        + BASECHAIN_FORWARD.fee(COMPLIANT_WALLET_BITS, COMPLIANT_WALLET_CELLS)
        + gas * BASECHAIN_GAS_PRICE
        + COMPLIANT_MIN_STORAGE_FEE
        + USDT_VALUE_MARGIN
}

/// Bits and cells of a tree, counting shared cells each time they occur (`CDATASIZE` counts
/// them once, so this never underestimates).
fn data_size(cell: &Cell) -> (u64, u64) {
    cell.references()
        .iter()
        .map(|child| data_size(child))
        .fold((cell.bit_len() as u64, 1), |(b, c), (cb, cc)| {
            (b + cb, c + cc)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deposit_estimate_covers_every_measured_gate_path() {
        // (k, measured gas of the gate's transaction) for every path measured in the sandbox:
        // success, refusal for risk, refusal for a bad signature (the dearest).
        for (k, measured) in [
            (1, 11_708),
            (1, 12_080),
            (1, 14_846),
            (2, 12_341),
            (2, 16_626),
            (3, 12_974),
            (3, 18_406),
        ] {
            assert!(deposit_gate_gas(k) >= measured + JGATE_TAIL_GAS, "k = {k}");
        }
        // k = 2, no reference: 0.03 TON + 20,626 gas + the refund transfer's forward fee.
        assert_eq!(
            deposit_forward_ton(2, None),
            30_000_000 + 20_626 * 400 + 400_000 + (888 * 26_214_400 + 2 * 2_621_440_000) / 65_536
        );
        // The measured least forward amount a refund needs (SPEC.md §12.6) is below it.
        assert!(deposit_forward_ton(2, None) > 35_644_531);
    }

    #[test]
    fn the_usdt_wallet_terms_are_its_gas_fc() {
        assert_eq!(USDT_INIT_STATE_FORWARD, 372_400 + 120_000);
        assert_eq!(USDT_MIN_STORAGE_FEE, 6_094_413);
        let body = tonlib_core::cell::CellBuilder::new().build().unwrap();
        let one = BASECHAIN_FORWARD.fee(0, 1);
        assert_eq!(
            jetton_transfer_value(&body, 0),
            one + 492_400 + 19_610 * 400 + 6_094_413 + 100_000
        );
        assert_eq!(
            jetton_transfer_value(&body, 5),
            5 + 2 * one + 492_400 + 19_610 * 400 + 6_094_413 + 100_000
        );
    }

    #[test]
    fn forward_fee_is_getforwardfee() {
        // 364 bits, one cell: 400,000 + ceil((26,214,400 * 364 + 2,621,440,000) / 65,536).
        assert_eq!(
            BASECHAIN_FORWARD.fee(GATE_FORWARD_BITS, 1),
            400_000 + 145_600 + 40_000
        );
    }

    #[test]
    fn the_estimate_covers_every_measured_transfer() {
        // (parties, k, measured gas of the whole transfer) from SPEC.md §10.7.
        for (parties, k, measured) in [
            (1, 1, 9_143),
            (1, 2, 9_776),
            (1, 3, 10_409),
            (2, 1, 12_222),
            (2, 2, 13_488),
            (2, 3, 14_754),
        ] {
            assert!(
                gate_gas(parties, k) >= measured + GATE_TRANSFER_TAIL_GAS,
                "{parties} parties, k = {k}"
            );
        }
        assert_eq!(
            gate_fee(0, 1, 1, None),
            (9_143 + 5_000 + 1_000) * 400 + 585_600
        );
        assert!(gate_fee(-1, 1, 1, None) > gate_fee(0, 1, 1, None));
    }
}
