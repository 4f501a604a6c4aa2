//! The node's own label layout, for lists that come in no published format:
//!
//! ```text
//! address,category,source,name
//! EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs,exchange,my-team,Tether USD treasury
//! 0:83df…,scam,chain-analysis-2026-10,"Fake airdrop, collector"
//! ```
//!
//! - `address`: raw `wc:hex` or user-friendly;
//! - `category`: a SPEC.md §3 name (`sanctions`, `scam`, `exchange`, …), or `none` for a known
//!   entity without a category;
//! - `source`: who says so (free text without commas; no NUL);
//! - `name`: the rest of the line (may contain commas; surrounding double quotes are removed).
//!
//! An optional header line starting with `address,`, blank lines and lines starting with `#`
//! are skipped.

use std::path::Path;

use tollgate_sdk::{Address, Categories};

use super::{Parsed, Refusal, Row};
use crate::error::{Error, Result};

/// Parses CSV text; `file` names it in refusals.
pub fn parse(file: &str, text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || trimmed.starts_with('#')
            || (line == 1 && trimmed.starts_with("address,"))
        {
            continue;
        }
        let refuse = |reason: String| Refusal {
            file: file.into(),
            line,
            reason,
        };
        let mut fields = trimmed.splitn(4, ',');
        let (Some(address), Some(category), Some(source)) =
            (fields.next(), fields.next(), fields.next())
        else {
            parsed
                .refused
                .push(refuse("expected address,category,source,name".into()));
            continue;
        };
        let name = fields.next().unwrap_or("").trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        let address: Address = match address.trim().parse() {
            Ok(address) => address,
            Err(err) => {
                parsed.refused.push(refuse(err.to_string()));
                continue;
            }
        };
        let category = category.trim();
        let categories = match category {
            "none" | "" => Categories::NONE,
            other => match Categories::from_name(other) {
                Some(categories) => categories,
                None => {
                    parsed.refused.push(refuse(format!(
                        "unknown category `{}`",
                        other.chars().take(40).collect::<String>()
                    )));
                    continue;
                }
            },
        };
        let source = source.trim();
        if source.is_empty() || source.contains('\0') {
            parsed
                .refused
                .push(refuse("source must be non-empty text".into()));
            continue;
        }
        parsed.rows.push(Row {
            file: file.into(),
            line,
            address,
            categories,
            source: source.into(),
            name: name.into(),
        });
    }
    parsed
}

/// Parses a CSV file.
pub fn parse_file(path: &Path) -> Result<Parsed> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::Ingest(format!("cannot read {}: {err}", path.display())))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input.csv");
    Ok(parse(name, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_layout_and_refuses_with_line_numbers() {
        let text = "address,category,source,name\n\
            EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs,exchange,team,\"Tether, USD\"\n\
            # comment\n\
            \n\
            0:zz,scam,team,x\n\
            EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs,rugpull,team,x\n\
            EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs,scam\n";
        let parsed = parse("in.csv", text);
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].name, "Tether, USD");
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(
            parsed.refused.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        assert!(parsed.refused[1].reason.contains("unknown category"));
    }
}
