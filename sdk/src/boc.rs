//! Bags of cells in the three spellings clients use: bytes, base64 and hex.
//!
//! Serialisation matches @ton/core's default `toBoc()` (with CRC32C), so a BoC made here is
//! byte-identical to one made there for the same cell.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tonlib_core::cell::{ArcCell, BagOfCells, Cell};

use crate::error::{Error, Result};

/// Serialises one root cell as a BoC with CRC32C.
pub fn to_bytes(cell: &ArcCell) -> Result<Vec<u8>> {
    Ok(BagOfCells::new(&[Arc::clone(cell)]).serialize(true)?)
}

/// Serialises one root cell as base64 (standard alphabet, padded), as TON Connect takes payloads.
pub fn to_base64(cell: &ArcCell) -> Result<String> {
    Ok(STANDARD.encode(to_bytes(cell)?))
}

/// Serialises one root cell as lower-case hex.
pub fn to_hex(cell: &ArcCell) -> Result<String> {
    Ok(hex::encode(to_bytes(cell)?))
}

/// Parses a BoC that must hold exactly one root cell.
pub fn from_bytes(bytes: &[u8]) -> Result<ArcCell> {
    // tonlib-core's parser indexes its own tables with values taken from the input; it is fed
    // only bytes that passed the structural checks below, and a panic there would still be a
    // bug to fix in `sanity_check` (the fuzz target `decode_attestation` exercises this path).
    sanity_check(bytes)?;
    let boc = BagOfCells::parse(bytes).map_err(|err| Error::InvalidBoc(err.to_string()))?;
    let roots = boc.num_roots();
    if roots != 1 {
        return Err(Error::BocRoots(roots));
    }
    boc.single_root().map_err(|err| Error::InvalidBoc(err.to_string()))
}

/// Parses a base64 (standard or url-safe alphabet) BoC with one root cell.
pub fn from_base64(text: &str) -> Result<ArcCell> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .map_err(|err| Error::InvalidEncoding { encoding: "base64", reason: err.to_string() })?;
    from_bytes(&bytes)
}

/// Parses a hex BoC with one root cell.
pub fn from_hex(text: &str) -> Result<ArcCell> {
    let bytes = hex::decode(text.trim())
        .map_err(|err| Error::InvalidEncoding { encoding: "hex", reason: err.to_string() })?;
    from_bytes(&bytes)
}

/// Refuses an exotic cell where an ordinary one is required.
pub(crate) fn ordinary(cell: &Cell) -> Result<()> {
    if cell.is_exotic() {
        return Err(Error::ExoticCell);
    }
    Ok(())
}

/// Cheap structural checks done before handing bytes to tonlib-core's parser.
fn sanity_check(bytes: &[u8]) -> Result<()> {
    // Magic of serialized_boc#b5ee9c72, the only variant tonlib-core writes and @ton/core emits.
    const MAGIC: [u8; 4] = [0xb5, 0xee, 0x9c, 0x72];
    if bytes.len() < 6 || bytes[..4] != MAGIC {
        return Err(Error::InvalidBoc("not a bag of cells (bad magic or too short)".into()));
    }
    Ok(())
}
