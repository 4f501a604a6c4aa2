//! The node's own label layout, for lists that come in no published format:
//!
//! ```text
//! address,category,source,name
//! EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs,exchange,my-team,Tether USD treasury
//! 0:83df…,scam,chain-analysis-2026-10,"Fake airdrop, collector"
//! ```
//!
//! Read with the `csv` crate, so it is CSV as spreadsheets write it: quoted fields (with `""`
//! for a quote and line breaks inside quotes), CRLF or LF line ends, a UTF-8 byte-order mark.
//!
//! - `address`: raw `wc:hex` or user-friendly;
//! - `category`: a SPEC.md §3 name (`sanctions`, `scam`, `exchange`, …), or `none` (or empty)
//!   for a known entity without a category;
//! - `source`: who says so (non-empty; no NUL);
//! - `name`: the fourth field, quoted when it holds a comma; for lists written by hand before
//!   the node read real CSV, unquoted fields after the fourth are joined back with commas.
//!
//! An optional header record starting with `address`, blank lines and lines starting with `#`
//! are skipped. Fields are trimmed.

use std::path::Path;

use tollgate_sdk::{Address, Categories};

use super::{Parsed, Refusal, Row};
use crate::error::{Error, Result};

/// Parses CSV text; `file` names it in refusals.
pub fn parse(file: &str, text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut lines = super::lines::Lines::new(text);
    let mut first = true;
    for result in reader.records() {
        let is_first = std::mem::replace(&mut first, false);
        let record = match result {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, |p| lines.record_line(p.byte()));
                parsed.refused.push(Refusal {
                    file: file.into(),
                    line,
                    reason: format!("not CSV: {}", err.kind_text()),
                });
                continue;
            }
        };
        // Lines by byte offset: the reader's own line count skips blank lines and line breaks
        // inside quotes, so refusals would point at the wrong line.
        let line = record.position().map_or(0, |p| lines.record_line(p.byte()));
        // Comments by hand: the reader's own comment support stops counting lines.
        if record.iter().all(str::is_empty)
            || record.get(0).is_some_and(|field| field.starts_with('#'))
            || (is_first && record.get(0) == Some("address"))
        {
            continue;
        }
        let refuse = |reason: String| Refusal {
            file: file.into(),
            line,
            reason,
        };
        let (Some(address), Some(category), Some(source)) =
            (record.get(0), record.get(1), record.get(2))
        else {
            parsed
                .refused
                .push(refuse("expected address,category,source,name".into()));
            continue;
        };
        let name = record.iter().skip(3).collect::<Vec<_>>().join(",");
        let address: Address = match address.parse() {
            Ok(address) => address,
            Err(err) => {
                parsed.refused.push(refuse(err.to_string()));
                continue;
            }
        };
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
            name,
        });
    }
    parsed
}

/// A short description of a CSV error (without the crate's position prefix).
trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for ::csv::Error {
    fn kind_text(&self) -> String {
        match self.kind() {
            ::csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".into(),
            _ => self.to_string(),
        }
    }
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

    #[test]
    fn reads_quotes_bom_and_crlf_as_csv() {
        let text = "\u{feff}address,category,source,name\r\n\
            EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs,scam,\"team, west\",\"say \"\"hi\"\"\"\r\n\
            0:1111111111111111111111111111111111111111111111111111111111111111,none,team,\"two\nlines\"\r\n\
            0:2222222222222222222222222222222222222222222222222222222222222222,mixer,team,a,b\r\n";
        let parsed = parse("in.csv", text);
        assert!(parsed.refused.is_empty(), "{:?}", parsed.refused);
        let rows = &parsed.rows;
        assert_eq!(rows.len(), 3, "the BOM'd header is skipped");
        assert_eq!(
            (rows[0].source.as_str(), rows[0].name.as_str()),
            ("team, west", "say \"hi\"")
        );
        assert_eq!(rows[1].name, "two\nlines");
        assert_eq!(rows[2].name, "a,b", "unquoted commas in the name are kept");
        assert_eq!(rows[2].line, 5, "lines count the one inside quotes");
    }
}
