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
///
/// A cell without references (an attestation is one) is written here directly: tonlib-core's
/// general writer (graph walk, index map, bit writer) was 3 % of the node's CPU for a batch of
/// attestations, against the few copies a one-cell bag needs. Both writers give the same
/// bytes; the tests check that over random cells, and the golden vectors against @ton/core.
pub fn to_bytes(cell: &ArcCell) -> Result<Vec<u8>> {
    if cell.references().is_empty() && !cell.is_exotic() {
        return Ok(leaf_to_bytes(cell.data(), cell.bit_len()));
    }
    Ok(BagOfCells::new(&[Arc::clone(cell)]).serialize(true)?)
}

/// The BoC of one ordinary cell without references: `b5ee9c72`, flags `0x41` (CRC32C, 1-byte
/// cell indexes), 1-byte offsets, one cell, one root, none absent, the cell's size, root 0,
/// the descriptors (`d1` = 0 refs, level 0; `d2` = ⌊bits/8⌋ + ⌈bits/8⌉), the data with its
/// completion tag when the last byte is partial, and the CRC32C (LE) of all of it.
fn leaf_to_bytes(data: &[u8], bit_len: usize) -> Vec<u8> {
    let data_len = bit_len.div_ceil(8);
    // At most 1023 bits: 128 data bytes, so the cell's size (2 + 128) fits the 1-byte offset.
    let cell_size = 2 + data_len;
    let mut out = Vec::with_capacity(11 + cell_size + 4);
    out.extend_from_slice(&[0xb5, 0xee, 0x9c, 0x72, 0x41, 0x01, 0x01, 0x01, 0x00]);
    out.push(cell_size as u8);
    out.push(0x00);
    out.push(0x00);
    out.push((bit_len / 8 + data_len) as u8);
    out.extend_from_slice(&data[..data_len]);
    let partial = bit_len % 8;
    if partial != 0 {
        let last = out.len() - 1;
        // Clear what follows the data's last bit, then set the completion tag there.
        out[last] = (out[last] & (0xff_u8 << (8 - partial))) | (0x80 >> partial);
    }
    let crc = CRC32C.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Serialises one root cell as base64 (standard alphabet, padded), as TON Connect takes payloads.
pub fn to_base64(cell: &ArcCell) -> Result<String> {
    Ok(STANDARD.encode(to_bytes(cell)?))
}

/// Serialises one root cell as lower-case hex.
pub fn to_hex(cell: &ArcCell) -> Result<String> {
    Ok(hex::encode(to_bytes(cell)?))
}

/// Most cells a BoC given to this crate may hold. Tollgate's messages are a handful of cells
/// (an attestation is one, a bundle at most 16); the cap bounds memory, time and the depth of
/// the chains later dropped recursively.
pub const MAX_CELLS: usize = 256;

/// Parses a BoC that must hold exactly one root cell of ordinary cells.
///
/// This is a strict parser of its own rather than tonlib-core's `BagOfCells::parse`: in
/// tonlib-core 0.26 that one panics on reference or root indexes past the last cell,
/// preallocates from counts read off the input before checking them, and does not check the
/// CRC32C. Here every count and index is checked against the input before it is used, the CRC
/// is verified when present, trailing bytes are refused and exotic cells are refused (Tollgate
/// never uses them); only checked parts reach tonlib-core's `Cell::new`.
pub fn from_bytes(bytes: &[u8]) -> Result<ArcCell> {
    let raw = RawBoc::parse(bytes)?;
    if raw.roots.len() != 1 {
        return Err(Error::BocRoots(raw.roots.len()));
    }
    // Children always come after their parents, so build from the last cell backwards.
    let mut built: Vec<Option<ArcCell>> = vec![None; raw.cells.len()];
    for (index, cell) in raw.cells.into_iter().enumerate().rev() {
        let refs = cell
            .refs
            .iter()
            .map(|&r| {
                built[r]
                    .clone()
                    .ok_or_else(|| invalid("reference to a cell not yet built"))
            })
            .collect::<Result<Vec<_>>>()?;
        let cell = Cell::new(cell.data, cell.bit_len, refs, false)
            .map_err(|err| Error::InvalidBoc(err.to_string()))?;
        built[index] = Some(cell.to_arc());
    }
    built[raw.roots[0]]
        .take()
        .ok_or_else(|| invalid("root missing"))
}

/// Parses a base64 (standard or url-safe alphabet) BoC with one root cell.
pub fn from_base64(text: &str) -> Result<ArcCell> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .map_err(|err| Error::InvalidEncoding {
            encoding: "base64",
            reason: err.to_string(),
        })?;
    from_bytes(&bytes)
}

/// Parses a hex BoC with one root cell.
pub fn from_hex(text: &str) -> Result<ArcCell> {
    let bytes = hex::decode(text.trim()).map_err(|err| Error::InvalidEncoding {
        encoding: "hex",
        reason: err.to_string(),
    })?;
    from_bytes(&bytes)
}

/// Refuses an exotic cell where an ordinary one is required.
pub(crate) fn ordinary(cell: &Cell) -> Result<()> {
    if cell.is_exotic() {
        return Err(Error::ExoticCell);
    }
    Ok(())
}

fn invalid(reason: &str) -> Error {
    Error::InvalidBoc(reason.to_string())
}

const CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// One cell as serialised: data with the completion tag removed, and indexes of its refs.
struct RawCell {
    data: Vec<u8>,
    bit_len: usize,
    refs: Vec<usize>,
}

/// A parsed `serialized_boc#b5ee9c72` whose counts and indexes have all been checked.
struct RawBoc {
    cells: Vec<RawCell>,
    roots: Vec<usize>,
}

/// A cursor that fails instead of reading past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| invalid("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian unsigned integer of `n` bytes (n <= 8).
    fn uint(&mut self, n: usize) -> Result<usize> {
        let value = self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        usize::try_from(value).map_err(|_| invalid("size does not fit this machine"))
    }
}

impl RawBoc {
    /// ```tlb
    /// serialized_boc#b5ee9c72 has_idx:(## 1) has_crc32c:(## 1) has_cache_bits:(## 1)
    ///   flags:(## 2) { flags = 0 } size:(## 3) { size <= 4 } off_bytes:(## 8) { off_bytes <= 8 }
    ///   cells:(##(size * 8)) roots:(##(size * 8)) { roots >= 1 } absent:(##(size * 8))
    ///   { roots + absent <= cells } tot_cells_size:(##(off_bytes * 8))
    ///   root_list:(roots * ##(size * 8)) index:has_idx?(cells * ##(off_bytes * 8))
    ///   cell_data:(tot_cells_size * [ uint8 ]) crc32c:has_crc32c?uint32 = BagOfCells;
    /// ```
    fn parse(bytes: &[u8]) -> Result<RawBoc> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)
            .map_err(|_| invalid("too short for a bag of cells"))?
            != [0xb5, 0xee, 0x9c, 0x72]
        {
            return Err(invalid("not a bag of cells (bad magic)"));
        }
        let flags = r.byte()?;
        let (has_idx, has_crc) = (flags & 0x80 != 0, flags & 0x40 != 0);
        if flags & 0x18 != 0 {
            return Err(invalid("reserved flags set"));
        }
        let size = usize::from(flags & 0x07);
        let off_bytes = usize::from(r.byte()?);
        if !(1..=4).contains(&size) || !(1..=8).contains(&off_bytes) {
            return Err(invalid("bad size or offset width"));
        }
        if has_crc {
            let (body, stored) = bytes.split_at(
                bytes
                    .len()
                    .checked_sub(4)
                    .ok_or_else(|| invalid("truncated"))?,
            );
            if CRC32C.checksum(body).to_le_bytes() != stored {
                return Err(invalid("CRC32C mismatch"));
            }
        }
        let cells = r.uint(size)?;
        let roots = r.uint(size)?;
        let absent = r.uint(size)?;
        if cells == 0 || cells > MAX_CELLS {
            return Err(invalid("cell count out of range"));
        }
        if roots == 0 || roots > cells || absent != 0 {
            return Err(invalid("bad root or absent count"));
        }
        let total = r.uint(off_bytes)?;
        let root_list = (0..roots)
            .map(|_| r.uint(size))
            .collect::<Result<Vec<_>>>()?;
        if root_list.iter().any(|&root| root >= cells) {
            return Err(invalid("root index out of range"));
        }
        if has_idx {
            r.take(
                cells
                    .checked_mul(off_bytes)
                    .ok_or_else(|| invalid("index too large"))?,
            )?;
        }
        let data_start = r.at;
        let mut raw = Vec::with_capacity(cells);
        for index in 0..cells {
            raw.push(read_cell(&mut r, size, index, cells)?);
        }
        if r.at - data_start != total {
            return Err(invalid("cell data size does not match tot_cells_size"));
        }
        if has_crc {
            r.take(4)?;
        }
        if r.at != bytes.len() {
            return Err(invalid("trailing bytes after the bag of cells"));
        }
        Ok(RawBoc {
            cells: raw,
            roots: root_list,
        })
    }
}

fn read_cell(r: &mut Reader<'_>, size: usize, index: usize, cells: usize) -> Result<RawCell> {
    let d1 = r.byte()?;
    let d2 = r.byte()?;
    let ref_count = usize::from(d1 & 0x07);
    if ref_count > 4 {
        return Err(invalid("more than four refs"));
    }
    if d1 & 0x08 != 0 {
        return Err(Error::ExoticCell);
    }
    if d1 & 0xf0 != 0 {
        return Err(invalid(
            "levels and stored hashes are not supported in ordinary cells",
        ));
    }
    let full_bytes = d2 % 2 == 0;
    let len = usize::from(d2).div_ceil(2);
    if len > 128 {
        return Err(invalid("cell data longer than 1023 bits"));
    }
    let mut data = r.take(len)?.to_vec();
    let mut bit_len = len * 8;
    if !full_bytes {
        // The last byte ends with a completion tag: a 1 bit followed by zeros.
        let last = data
            .last_mut()
            .ok_or_else(|| invalid("empty cell marked incomplete"))?;
        if *last == 0 {
            return Err(invalid("missing completion tag"));
        }
        let padding = last.trailing_zeros() as usize + 1;
        *last &= !(1u8 << (padding - 1));
        bit_len -= padding;
    }
    if bit_len > 1023 {
        return Err(invalid("cell data longer than 1023 bits"));
    }
    let refs = (0..ref_count)
        .map(|_| r.uint(size))
        .collect::<Result<Vec<_>>>()?;
    // Refs must point forward (a DAG in topological order) and inside the bag.
    if refs.iter().any(|&child| child <= index || child >= cells) {
        return Err(invalid("reference index out of order or out of range"));
    }
    Ok(RawCell {
        data,
        bit_len,
        refs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonlib_core::cell::CellBuilder;

    /// The one-cell writer and tonlib-core's general one give the same bytes for every length
    /// a cell can have (0..=1023 bits, full and partial last bytes), all ones and mixed bits.
    #[test]
    fn the_leaf_writer_is_tonlib_cores() {
        for bits in 0usize..=1023 {
            for ones in [true, false] {
                let mut builder = CellBuilder::new();
                let mut state = bits as u64;
                for _ in 0..bits {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    builder.store_bit(ones || state >> 63 == 1).unwrap();
                }
                let cell = builder.build().unwrap().to_arc();
                let general = BagOfCells::new(&[Arc::clone(&cell)])
                    .serialize(true)
                    .unwrap();
                assert_eq!(to_bytes(&cell).unwrap(), general, "{bits} bits");
                assert_eq!(from_bytes(&general).unwrap().cell_hash(), cell.cell_hash());
            }
        }
    }

    fn two_cells() -> ArcCell {
        let mut leaf = CellBuilder::new();
        leaf.store_u8(5, 0b10110).unwrap();
        let leaf = leaf.build().unwrap().to_arc();
        let mut root = CellBuilder::new();
        root.store_u32(32, 0xdead_beef)
            .unwrap()
            .store_reference(&leaf)
            .unwrap();
        root.build().unwrap().to_arc()
    }

    #[test]
    fn parses_what_tonlib_core_writes_with_and_without_crc() {
        let cell = two_cells();
        for crc in [true, false] {
            let bytes = BagOfCells::new(std::slice::from_ref(&cell))
                .serialize(crc)
                .unwrap();
            assert_eq!(from_bytes(&bytes).unwrap().cell_hash(), cell.cell_hash());
        }
    }

    #[test]
    fn refuses_a_crc_mismatch_and_trailing_bytes() {
        let mut bytes = to_bytes(&two_cells()).unwrap();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(from_bytes(&trailing), Err(Error::InvalidBoc(_))));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(from_bytes(&bytes), Err(invalid("CRC32C mismatch")));
    }

    /// Hand-written BoC without CRC: header, then the given cell bytes.
    fn boc(cells: u8, roots: &[u8], cell_data: &[u8]) -> Vec<u8> {
        let mut out = vec![
            0xb5,
            0xee,
            0x9c,
            0x72,
            0x01,
            0x01,
            cells,
            roots.len() as u8,
            0,
            cell_data.len() as u8,
        ];
        out.extend_from_slice(roots);
        out.extend_from_slice(cell_data);
        out
    }

    #[test]
    fn refuses_reference_and_root_indexes_out_of_range() {
        // One cell with one ref to index 5: tonlib-core 0.26 panics here.
        assert_eq!(
            from_bytes(&boc(1, &[0], &[0x01, 0x00, 0x05])),
            Err(invalid("reference index out of order or out of range"))
        );
        // A ref pointing backwards (a cycle).
        assert_eq!(
            from_bytes(&boc(2, &[0], &[0x01, 0x00, 0x01, 0x01, 0x00, 0x00])),
            Err(invalid("reference index out of order or out of range"))
        );
        assert_eq!(
            from_bytes(&boc(1, &[3], &[0x00, 0x00])),
            Err(invalid("root index out of range"))
        );
    }

    #[test]
    fn refuses_oversized_counts_before_allocating() {
        let mut bytes = vec![
            0xb5, 0xee, 0x9c, 0x72, 0x04, 0x01, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 2,
        ];
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(from_bytes(&bytes), Err(invalid("cell count out of range")));
    }

    #[test]
    fn refuses_exotic_cells_and_two_roots() {
        assert_eq!(
            from_bytes(&boc(1, &[0], &[0x08, 0x00])),
            Err(Error::ExoticCell)
        );
        assert_eq!(
            from_bytes(&boc(2, &[0, 1], &[0x00, 0x00, 0x00, 0x00])),
            Err(Error::BocRoots(2))
        );
    }

    #[test]
    fn reads_the_completion_tag() {
        // d2 = 1: one byte, not full; 0b1010_0000 holds the bits "101" then the tag.
        let cell = from_bytes(&boc(1, &[0], &[0x00, 0x01, 0b1011_0000])).unwrap();
        assert_eq!(cell.bit_len(), 3);
        assert_eq!(
            from_bytes(&boc(1, &[0], &[0x00, 0x01, 0x00])),
            Err(invalid("missing completion tag"))
        );
    }
}
