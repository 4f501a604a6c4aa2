//! TON Foundation's ton-labels dataset (ton-studio/ton-labels): `assets/<category>/<label>.json`,
//! each `{"metadata": {label, category, subcategory, …}, "addresses": [{address, comment, tags,
//! …}]}`. The label's `metadata.category` is its category (one file in `assets/other/` says
//! `tradingbot`: the metadata wins over the directory).
//!
//! # Category mapping
//!
//! | ton-labels category | ours | service | why |
//! |---|---|---|---|
//! | `scammer` | `scam` (`drainer` for subcategory `drainer`) | no | reported scam wallets: address poisoning, fake promos, "verification" scams |
//! | `CEX` | `exchange` | yes | exchanges' hot and deposit wallets: custodial, they pool customers' funds |
//! | `wallet` | none | yes | wallet providers' service addresses (fees, custodial wallets), not their users' wallets |
//! | `DEX`, `lending`, `liquid-staking`, `defi`, `tradingbot` | `defi` | yes | protocols and bots whose contracts pool many users' funds |
//! | `bridge` | `bridge` | yes | cross-chain bridges |
//! | `validator`, `infrastructure` | `infrastructure` | yes | staking pools, elector and other network contracts |
//! | `gaming` | none | yes | **games** with on-chain payments (click-to-earn and the like), *not* gambling: no risk category; a game's treasury pools its players' payments |
//! | `merchant`, `ads` | none | yes | payment addresses of shops and ad networks: many payers' funds |
//! | `fund`, `person` | none | no | a fund's or a person's own wallets: known, legitimate, not pooled |
//! | `scripted-activity` | none | no | aggregators of sybils and botnets: not a named risk, but tracing goes *through* them |
//! | `other` | none | no | no fitting category |
//!
//! An address tagged `scammer` gets `scam` whatever its label's category. A label whose category
//! is not in the table is refused whole, so that a new category upstream is mapped deliberately.
//!
//! # Services
//!
//! Indirect exposure stops at services (DESIGN.md, exposure): value that reaches an exchange is
//! mixed with every other customer's, so tracing past it would taint everyone. [`is_service`]
//! tells the exposure engine which labels are services: those whose categories are in
//! [`SERVICE_CATEGORIES`] (from any source), and ton-labels labels of the service categories
//! above that carry no category of ours (games, merchants, ads, wallet providers).

use std::path::Path;

use serde::Deserialize;
use tollgate_sdk::{Address, Categories};

use super::{Parsed, Refusal, Row, MAX_NAME_CHARS};
use crate::error::{Error, Result};
use crate::store::Label;

/// The source prefix of these labels: `ton-labels/<category>/<label>`.
pub const SOURCE: &str = "ton-labels";

/// Categories that are services whatever the source: exposure tracing stops at them.
pub const SERVICE_CATEGORIES: Categories = Categories(
    Categories::EXCHANGE.0
        | Categories::HIGH_RISK_EXCHANGE.0
        | Categories::BRIDGE.0
        | Categories::DEFI.0
        | Categories::INFRASTRUCTURE.0,
);

/// How one ton-labels category maps: our categories, and whether its addresses are services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// SPEC.md §3 categories given to the label.
    pub categories: Categories,
    /// Whether exposure tracing stops at it.
    pub service: bool,
}

/// The mapping of a ton-labels category (as written in `metadata.category`, case-insensitive),
/// or `None` for one not in the table of the module documentation.
pub fn mapping_of(category: &str) -> Option<Mapping> {
    let (categories, service) = match category.to_ascii_lowercase().as_str() {
        "scammer" => (Categories::SCAM, false),
        "cex" => (Categories::EXCHANGE, true),
        "wallet" => (Categories::NONE, true),
        "dex" | "lending" | "liquid-staking" | "defi" | "tradingbot" => (Categories::DEFI, true),
        "bridge" => (Categories::BRIDGE, true),
        "validator" | "infrastructure" => (Categories::INFRASTRUCTURE, true),
        "gaming" | "merchant" | "ads" => (Categories::NONE, true),
        "fund" | "person" | "scripted-activity" | "other" => (Categories::NONE, false),
        _ => return None,
    };
    Some(Mapping {
        categories,
        service,
    })
}

/// Whether a label marks a service, where exposure tracing stops (see the module documentation).
pub fn is_service(label: &Label) -> bool {
    if label.categories.intersects(SERVICE_CATEGORIES) {
        return true;
    }
    label
        .source
        .strip_prefix(SOURCE)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split('/').next())
        .and_then(mapping_of)
        .is_some_and(|mapping| mapping.service)
}

/// Whether an address with these labels is a service.
pub fn address_is_service(labels: &[Label]) -> bool {
    labels.iter().any(is_service)
}

#[derive(Deserialize)]
struct LabelFile {
    metadata: Metadata,
    addresses: Vec<Entry>,
}

#[derive(Deserialize)]
struct Metadata {
    label: String,
    category: String,
    #[serde(default)]
    subcategory: String,
}

#[derive(Deserialize)]
struct Entry {
    address: Option<String>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Parses one label file's text; `file` names it (e.g. `assets/cex/binance.json`).
pub fn parse_file(file: &str, text: &str) -> Parsed {
    let refuse_file = |reason: String| Parsed::refused_file(file, reason);
    let parsed_file: LabelFile = match serde_json::from_str(text) {
        Ok(parsed) => parsed,
        Err(err) => return refuse_file(format!("not a ton-labels label file: {err}")),
    };
    let meta = &parsed_file.metadata;
    let Some(mapping) = mapping_of(&meta.category) else {
        return refuse_file(format!(
            "unknown ton-labels category `{}`: no category mapping",
            meta.category.chars().take(40).collect::<String>()
        ));
    };
    let label = meta.label.trim();
    if label.is_empty() || label.contains('/') {
        return refuse_file("metadata.label is empty or contains `/`".into());
    }
    let mut categories = mapping.categories;
    if meta.category.eq_ignore_ascii_case("scammer") && meta.subcategory == "drainer" {
        categories = Categories::DRAINER;
    }
    let source = format!("{SOURCE}/{}/{label}", meta.category.to_ascii_lowercase());
    let mut parsed = Parsed::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut search_from = 0;
    for entry in &parsed_file.addresses {
        let Some(text_address) = entry.address.as_deref() else {
            // The line of an entry without an address is not known.
            parsed.refused.push(Refusal {
                file: file.into(),
                line: 0,
                reason: "entry has no `address` string".into(),
            });
            continue;
        };
        // The entry's line: where its address first appears after the previous entry's.
        let line = lines[search_from.min(lines.len())..]
            .iter()
            .position(|l| l.contains(text_address))
            .map(|i| {
                search_from += i + 1;
                search_from
            })
            .unwrap_or(0);
        let address: Address = match text_address.trim().parse() {
            Ok(address) => address,
            Err(err) => {
                parsed.refused.push(Refusal {
                    file: file.into(),
                    line,
                    reason: format!("invalid address: {err}"),
                });
                continue;
            }
        };
        let mut row_categories = categories;
        if entry.tags.iter().any(|tag| tag == "scammer")
            && !row_categories.contains(Categories::DRAINER)
        {
            row_categories |= Categories::SCAM;
        }
        parsed.rows.push(Row {
            file: file.into(),
            line,
            address,
            categories: row_categories,
            source: source.clone(),
            name: name_of(label, &entry.comment),
        });
    }
    parsed
}

/// `label — comment`, cut to [`MAX_NAME_CHARS`] characters (comments are free text and may be
/// long; the label alone always fits).
fn name_of(label: &str, comment: &str) -> String {
    let comment = comment.trim();
    let full = if comment.is_empty() || comment == label {
        label.to_string()
    } else {
        format!("{label} — {comment}")
    };
    if full.chars().count() <= MAX_NAME_CHARS {
        return full;
    }
    let mut cut: String = full.chars().take(MAX_NAME_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Parses a ton-labels checkout: `dir` is the repository root (holding `assets/`) or its
/// `assets/` directory. Files in name order, category directories in name order.
pub fn parse_dir(dir: &Path) -> Result<Parsed> {
    let assets = if dir.join("assets").is_dir() {
        dir.join("assets")
    } else {
        dir.to_path_buf()
    };
    let cannot = |path: &Path, err: std::io::Error| {
        Error::Ingest(format!("cannot read {}: {err}", path.display()))
    };
    let mut categories: Vec<_> = std::fs::read_dir(&assets)
        .map_err(|err| cannot(&assets, err))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .collect();
    categories.sort();
    let mut parsed = Parsed::default();
    let mut files = 0;
    for category in categories {
        let mut names: Vec<_> = std::fs::read_dir(&category)
            .map_err(|err| cannot(&category, err))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            let path = category.join(&name);
            let text = std::fs::read_to_string(&path).map_err(|err| cannot(&path, err))?;
            let relative = format!(
                "assets/{}/{name}",
                category.file_name().unwrap_or_default().to_string_lossy()
            );
            parsed.extend(parse_file(&relative, &text));
            files += 1;
        }
    }
    if files == 0 {
        return Err(Error::Ingest(format!(
            "no assets/<category>/*.json files in {}",
            dir.display()
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
    "metadata": {"label": "evil", "category": "scammer", "subcategory": "drainer", "website": "", "description": "", "organization": "evil"},
    "addresses": [
        {"address": "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs", "source": "", "comment": "collector", "tags": ["scammer"], "submittedBy": "x", "submissionTimestamp": ""},
        {"address": "EQnope", "source": "", "comment": "", "tags": [], "submittedBy": "x", "submissionTimestamp": ""},
        {"source": "", "comment": "", "tags": [], "submittedBy": "x", "submissionTimestamp": ""}
    ]
}"#;

    #[test]
    fn rows_carry_category_source_and_line_and_bad_entries_are_refused() {
        let parsed = parse_file("assets/scammer/evil.json", FILE);
        assert_eq!(parsed.rows.len(), 1);
        let row = &parsed.rows[0];
        assert_eq!(row.categories, Categories::DRAINER, "subcategory drainer");
        assert_eq!(row.source, "ton-labels/scammer/evil");
        assert_eq!(row.name, "evil — collector");
        assert_eq!(row.line, 4);
        assert_eq!(
            parsed
                .refused
                .iter()
                .map(|r| (r.line, r.reason.split(':').next().unwrap()))
                .collect::<Vec<_>>(),
            vec![(5, "invalid address"), (0, "entry has no `address` string")]
        );
    }

    #[test]
    fn unknown_categories_and_malformed_files_are_refused_whole() {
        let unknown = FILE.replace("\"scammer\", \"subcategory", "\"casino\", \"subcategory");
        let parsed = parse_file("assets/casino/evil.json", &unknown);
        assert!(parsed.rows.is_empty());
        assert!(parsed.refused[0]
            .reason
            .contains("unknown ton-labels category"));
        let parsed = parse_file("assets/x/y.json", "[1, 2]");
        assert_eq!((parsed.rows.len(), parsed.refused[0].line), (0, 0));
    }

    #[test]
    fn gaming_is_a_service_without_a_risk_and_scammers_are_not_services() {
        let gaming = mapping_of("gaming").unwrap();
        assert_eq!(
            gaming.categories,
            Categories::NONE,
            "games are not gambling"
        );
        assert!(gaming.service);
        assert!(!mapping_of("scammer").unwrap().service);
        let label = |categories, source: &str| Label {
            address: Address::new(0, [1; 32]),
            categories,
            source: source.into(),
            name: String::new(),
            first_seen: 0,
        };
        assert!(is_service(&label(
            Categories::NONE,
            "ton-labels/gaming/notgame"
        )));
        assert!(is_service(&label(
            Categories::EXCHANGE,
            "ton-assets/custodians"
        )));
        assert!(!is_service(&label(
            Categories::SCAM,
            "ton-labels/scammer/x"
        )));
        assert!(!is_service(&label(Categories::NONE, "ton-labels/person/x")));
        assert!(!is_service(&label(Categories::NONE, "csv/gaming")));
    }

    #[test]
    fn long_comments_are_cut_to_the_name_limit() {
        let name = name_of("l", &"c".repeat(1000));
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with('…'));
    }
}
