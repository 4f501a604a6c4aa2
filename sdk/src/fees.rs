//! What a ComplianceGate charges on top of the amount it forwards, so a wallet can attach enough
//! (SPEC.md §10.3): `value >= amount + forward_fee + compute_fee(gas) + rent_shortfall`.
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
