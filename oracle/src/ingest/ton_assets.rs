//! tonkeeper/ton-assets `accounts/*.yaml`: a YAML list of `{address, name, require_memo?, image?}`
//! per file, where the file is the category.
//!
//! | file | category | why |
//! |---|---|---|
//! | `scammers` | `scam` | reported scam addresses |
//! | `custodians` | `exchange` | exchanges and custodial wallets (an entity type, low risk) |
//! | `bridges` | `bridge` | cross-chain bridges |
//! | `defi`, `ston` | `defi` | DeFi protocols; STON.fi is a DEX |
//! | `givers`, `validators`, `infrastructure` | `infrastructure` | network infrastructure |
//! | `celebrities` | none | the real accounts of public figures: legitimate. They are impersonation *targets*; impersonators would be labelled `impersonation`, not these |
//! | `dapps`, `notcoin` | none | known applications and a project's own accounts: no SPEC category fits, no risk |
//!
//! A label without a category still names the address in evidence. A file with another name is
//! refused whole, so that a new list upstream is mapped deliberately rather than guessed.

use std::path::Path;

use tollgate_sdk::{Address, Categories};

use super::{line_numbers, Parsed, Refusal, Row};
use crate::error::Result;

/// The source prefix of these labels.
pub const SOURCE: &str = "ton-assets";

/// The categories of a ton-assets file (by stem), or `None` for an unknown list.
pub fn category_of(stem: &str) -> Option<Categories> {
    Some(match stem {
        "scammers" => Categories::SCAM,
        "custodians" => Categories::EXCHANGE,
        "bridges" => Categories::BRIDGE,
        "defi" | "ston" => Categories::DEFI,
        "givers" | "validators" | "infrastructure" => Categories::INFRASTRUCTURE,
        "celebrities" | "dapps" | "notcoin" => Categories::NONE,
        _ => return None,
    })
}

/// Parses one file's text; `file` is its name (e.g. `scammers.yaml`).
pub fn parse_file(file: &str, text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml");
    let refuse_file = |reason: String| Parsed::refused_file(file, reason);
    let Some(categories) = category_of(stem) else {
        return refuse_file(format!(
            "unknown ton-assets list `{stem}`: no category mapping"
        ));
    };
    let items: Vec<serde_yaml::Value> =
        match serde_yaml::from_str::<Option<Vec<serde_yaml::Value>>>(text) {
            Ok(items) => items.unwrap_or_default(),
            Err(err) => return refuse_file(format!("not a YAML list: {err}")),
        };
    // Each top-level item starts with "- " in column 0; if the file is laid out otherwise the
    // line numbers are unknown (0) rather than wrong.
    let lines = line_numbers(text, |line| line.starts_with('-'));
    let lines = if lines.len() == items.len() {
        lines
    } else {
        vec![0; items.len()]
    };
    let source = format!("{SOURCE}/{stem}");
    for (item, line) in items.iter().zip(lines) {
        let refuse = |reason: String| Refusal {
            file: file.into(),
            line,
            reason,
        };
        let Some(address) = item.get("address").and_then(|v| v.as_str()) else {
            parsed
                .refused
                .push(refuse("entry has no `address` string".into()));
            continue;
        };
        let address: Address = match address.trim().parse() {
            Ok(address) => address,
            Err(tollgate_sdk::Error::InvalidAddress { reason, .. }) => {
                parsed
                    .refused
                    .push(refuse(format!("invalid address: {reason}")));
                continue;
            }
            Err(err) => {
                parsed
                    .refused
                    .push(refuse(format!("invalid address: {err}")));
                continue;
            }
        };
        let name = item
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .trim()
            .to_string();
        parsed.rows.push(Row {
            file: file.into(),
            line,
            address,
            categories,
            source: source.clone(),
            name,
        });
    }
    parsed
}

/// Parses every `*.yaml` file of a directory (sorted by name).
pub fn parse_dir(dir: &Path) -> Result<Parsed> {
    super::parse_files(
        dir,
        "*.yaml",
        |name| name.ends_with(".yaml") || name.ends_with(".yml"),
        parse_file,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_line_numbers_and_bad_entries_are_refused() {
        let text = "- address: \"EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs\"\n  name: \"Tether USD\"\n- address: \"EQnope\"\n  name: x\n- name: no address\n- address: \"0:b113a994b5024a16719f69139328eb759596c38a25f59028b146fecdc3621dfe\"\n";
        let parsed = parse_file("custodians.yaml", text);
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].line, 1);
        assert_eq!(
            parsed.rows[0].address, parsed.rows[1].address,
            "raw and friendly forms agree"
        );
        assert_eq!(parsed.rows[1].line, 6);
        assert_eq!(parsed.rows[0].categories, Categories::EXCHANGE);
        assert_eq!(
            parsed.refused.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![3, 5]
        );
    }

    #[test]
    fn unknown_lists_are_refused_whole() {
        let parsed = parse_file("mystery.yaml", "- address: x\n");
        assert!(parsed.rows.is_empty());
        assert_eq!(parsed.refused[0].line, 0);
    }
}
