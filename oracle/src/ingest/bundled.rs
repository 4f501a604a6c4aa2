//! The default data set compiled into the binary: the real lists of `oracle/data/` (copied from
//! the project's shared data; see `oracle/data/README.md` for their origin and commit).
//!
//! - ton-assets (`TON_ASSETS`) and OFAC (`OFAC`) file by file;
//! - ton-labels (`TON_LABELS`) as a directory, through `include_dir`.
//!
//! Embedding them means `tollgate-oracle serve` works from any directory without a data path.

use include_dir::{include_dir, Dir};

use super::{ofac, ton_assets, ton_labels, Parsed};

/// `(file name, text)` of every bundled ton-assets list.
pub const TON_ASSETS: &[(&str, &str)] = &[
    (
        "bridges.yaml",
        include_str!("../../data/ton-assets/bridges.yaml"),
    ),
    (
        "celebrities.yaml",
        include_str!("../../data/ton-assets/celebrities.yaml"),
    ),
    (
        "custodians.yaml",
        include_str!("../../data/ton-assets/custodians.yaml"),
    ),
    (
        "dapps.yaml",
        include_str!("../../data/ton-assets/dapps.yaml"),
    ),
    ("defi.yaml", include_str!("../../data/ton-assets/defi.yaml")),
    (
        "givers.yaml",
        include_str!("../../data/ton-assets/givers.yaml"),
    ),
    (
        "infrastructure.yaml",
        include_str!("../../data/ton-assets/infrastructure.yaml"),
    ),
    (
        "notcoin.yaml",
        include_str!("../../data/ton-assets/notcoin.yaml"),
    ),
    (
        "scammers.yaml",
        include_str!("../../data/ton-assets/scammers.yaml"),
    ),
    ("ston.yaml", include_str!("../../data/ton-assets/ston.yaml")),
    (
        "validators.yaml",
        include_str!("../../data/ton-assets/validators.yaml"),
    ),
];

/// `(file name, text)` of every bundled OFAC list.
pub const OFAC: &[(&str, &str)] = &[
    (
        "sanctioned_addresses_ARB.json",
        include_str!("../../data/ofac/sanctioned_addresses_ARB.json"),
    ),
    (
        "sanctioned_addresses_BCH.json",
        include_str!("../../data/ofac/sanctioned_addresses_BCH.json"),
    ),
    (
        "sanctioned_addresses_BSC.json",
        include_str!("../../data/ofac/sanctioned_addresses_BSC.json"),
    ),
    (
        "sanctioned_addresses_BSV.json",
        include_str!("../../data/ofac/sanctioned_addresses_BSV.json"),
    ),
    (
        "sanctioned_addresses_BTG.json",
        include_str!("../../data/ofac/sanctioned_addresses_BTG.json"),
    ),
    (
        "sanctioned_addresses_DASH.json",
        include_str!("../../data/ofac/sanctioned_addresses_DASH.json"),
    ),
    (
        "sanctioned_addresses_ETC.json",
        include_str!("../../data/ofac/sanctioned_addresses_ETC.json"),
    ),
    (
        "sanctioned_addresses_ETH.json",
        include_str!("../../data/ofac/sanctioned_addresses_ETH.json"),
    ),
    (
        "sanctioned_addresses_LTC.json",
        include_str!("../../data/ofac/sanctioned_addresses_LTC.json"),
    ),
    (
        "sanctioned_addresses_TRX.json",
        include_str!("../../data/ofac/sanctioned_addresses_TRX.json"),
    ),
    (
        "sanctioned_addresses_USDC.json",
        include_str!("../../data/ofac/sanctioned_addresses_USDC.json"),
    ),
    (
        "sanctioned_addresses_USDT.json",
        include_str!("../../data/ofac/sanctioned_addresses_USDT.json"),
    ),
    (
        "sanctioned_addresses_XBT.json",
        include_str!("../../data/ofac/sanctioned_addresses_XBT.json"),
    ),
    (
        "sanctioned_addresses_XMR.json",
        include_str!("../../data/ofac/sanctioned_addresses_XMR.json"),
    ),
    (
        "sanctioned_addresses_XRP.json",
        include_str!("../../data/ofac/sanctioned_addresses_XRP.json"),
    ),
    (
        "sanctioned_addresses_XVG.json",
        include_str!("../../data/ofac/sanctioned_addresses_XVG.json"),
    ),
    (
        "sanctioned_addresses_ZEC.json",
        include_str!("../../data/ofac/sanctioned_addresses_ZEC.json"),
    ),
];

/// TON Foundation's ton-labels `assets/` directory (ton-studio/ton-labels, MIT; see
/// `oracle/data/README.md`): about 1,300 label files, embedded whole.
pub static TON_LABELS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/data/ton-labels/assets");

/// `(assets/<category>/<label>.json, text)` of every bundled ton-labels file, in path order.
pub fn ton_labels_files() -> Vec<(String, &'static str)> {
    let mut files: Vec<(String, &'static str)> = TON_LABELS
        .dirs()
        .flat_map(|dir| dir.files())
        .filter(|file| file.path().extension().is_some_and(|ext| ext == "json"))
        .filter_map(|file| {
            Some((
                format!("assets/{}", file.path().to_str()?),
                file.contents_utf8()?,
            ))
        })
        .collect();
    files.sort();
    files
}

/// The bundled ton-labels dataset, parsed.
pub fn parse_ton_labels() -> Parsed {
    let mut parsed = Parsed::default();
    for (file, text) in ton_labels_files() {
        parsed.extend(ton_labels::parse_file(&file, text));
    }
    parsed
}

/// The bundled ton-assets and OFAC lists, parsed (the first default data set; ton-labels came
/// later and is loaded under its own marker, so nodes started before it get it too).
pub fn parse() -> Parsed {
    let mut parsed = Parsed::default();
    for (file, text) in TON_ASSETS {
        parsed.extend(ton_assets::parse_file(file, text));
    }
    for (file, text) in OFAC {
        parsed.extend(ofac::parse_file(file, text));
    }
    parsed
}
