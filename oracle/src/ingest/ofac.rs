//! OFAC SDN "Digital Currency Address" lists as split per asset by
//! 0xB10C/ofac-sanctioned-digital-currency-addresses: `sanctioned_addresses_<ASSET>.json`, a JSON
//! array of address strings.
//!
//! Only TON addresses can be labelled (asset `TON`, file `sanctioned_addresses_TON.json`, should
//! OFAC list one). Every address of another chain is refused with the reason "not a TON address"
//! so the summary accounts for every entry of every file. All accepted rows get the category
//! `sanctions` and the source `ofac/<ASSET>`.

use std::path::Path;

use tollgate_sdk::{Address, Categories};

use super::{Parsed, Refusal, Row};
use crate::error::Result;

/// Assets whose addresses are TON addresses.
pub const TON_ASSETS: &[&str] = &["TON"];

/// The asset code of a file name, e.g. `ETH` for `sanctioned_addresses_ETH.json`.
pub fn asset_of(file: &str) -> Option<&str> {
    file.rsplit('/')
        .next()?
        .strip_prefix("sanctioned_addresses_")?
        .strip_suffix(".json")
        .filter(|a| !a.is_empty())
}

/// Parses one file's text; `file` is its name.
pub fn parse_file(file: &str, text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let refuse_file = |reason: String| Parsed::refused_file(file, reason);
    let Some(asset) = asset_of(file) else {
        return refuse_file("file name is not sanctioned_addresses_<ASSET>.json".into());
    };
    let addresses: Vec<String> = match serde_json::from_str(text) {
        Ok(list) => list,
        Err(err) => return refuse_file(format!("not a JSON array of strings: {err}")),
    };
    let is_ton = TON_ASSETS.contains(&asset);
    let mut search_from = 0usize;
    let mut lines = super::lines::Lines::new(text);
    for entry in addresses {
        let line = line_of(text, &mut lines, &entry, &mut search_from);
        let refuse = |reason: String| Refusal {
            file: file.into(),
            line,
            reason,
        };
        if !is_ton {
            parsed
                .refused
                .push(refuse(format!("not a TON address ({asset})")));
            continue;
        }
        match entry.trim().parse::<Address>() {
            Ok(address) => parsed.rows.push(Row {
                file: file.into(),
                line,
                address,
                categories: Categories::SANCTIONS,
                source: format!("ofac/{asset}"),
                name: "OFAC SDN list".into(),
            }),
            Err(err) => parsed
                .refused
                .push(refuse(format!("invalid TON address: {err}"))),
        }
    }
    parsed
}

/// The 1-based line of the next occurrence of `"entry"` at or after byte `from` (advanced past
/// it), or 0 if not found (e.g. escaped characters in the JSON text).
fn line_of(text: &str, lines: &mut super::lines::Lines, entry: &str, from: &mut usize) -> usize {
    let needle = format!("\"{entry}\"");
    match text.get(*from..).and_then(|rest| rest.find(&needle)) {
        Some(offset) => {
            let at = *from + offset;
            *from = at + needle.len();
            lines.line(at)
        }
        None => 0,
    }
}

/// Parses every `sanctioned_addresses_*.json` file of a directory (sorted by name).
pub fn parse_dir(dir: &Path) -> Result<Parsed> {
    super::parse_files(
        dir,
        "sanctioned_addresses_*.json",
        |name| asset_of(name).is_some(),
        parse_file,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_chains_are_refused_with_a_reason_and_line() {
        let parsed = parse_file(
            "sanctioned_addresses_ETH.json",
            "[\n  \"0xabc\",\n  \"0xdef\"\n]\n",
        );
        assert!(parsed.rows.is_empty());
        assert_eq!(parsed.refused.len(), 2);
        assert_eq!(parsed.refused[1].line, 3);
        assert_eq!(parsed.refused[1].reason, "not a TON address (ETH)");
    }

    #[test]
    fn a_ton_file_becomes_sanctions_labels() {
        let text = "[\n  \"EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs\",\n  \"garbage\"\n]";
        let parsed = parse_file("sanctioned_addresses_TON.json", text);
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].categories, Categories::SANCTIONS);
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(parsed.refused[0].line, 3);
    }
}
