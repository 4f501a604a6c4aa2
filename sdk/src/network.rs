//! Networks, named by the `global_id` the TVM reports (`GLOBALID`, config param 19).

use std::fmt;

/// The `global_id` of a TON network. Attestations carry it so that one made for testnet never
/// passes on mainnet. Any int32 decodes; only the named ones are known to this sdk.
///
/// In JSON it is written as the number and read from the number or from the names `mainnet` and
/// `testnet`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Network(pub i32);

impl Network {
    /// TON mainnet (`global_id = -239`).
    pub const MAINNET: Network = Network(-239);
    /// TON testnet (`global_id = -3`).
    pub const TESTNET: Network = Network(-3);

    /// The network's `global_id`.
    pub const fn global_id(self) -> i32 {
        self.0
    }

    /// `mainnet` or `testnet` for the known networks.
    pub const fn name(self) -> Option<&'static str> {
        match self {
            Network::MAINNET => Some("mainnet"),
            Network::TESTNET => Some("testnet"),
            _ => None,
        }
    }

    /// Looks a network up by name (`mainnet`, `testnet`) or by its `global_id` in decimal.
    pub fn from_name(name: &str) -> Option<Network> {
        match name {
            "mainnet" => Some(Network::MAINNET),
            "testnet" => Some(Network::TESTNET),
            other => other.parse().ok().map(Network),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({}: {self})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Id(i32),
            Name(std::borrow::Cow<'a, str>),
        }
        match Either::deserialize(deserializer)? {
            Either::Id(id) => Ok(Network(id)),
            Either::Name(name) => Network::from_name(&name).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown network {name:?} (expected mainnet, testnet or a global_id)"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_names_and_ids_and_writes_ids() {
        for (text, network) in [
            ("\"mainnet\"", Network::MAINNET),
            ("\"testnet\"", Network::TESTNET),
            ("-239", Network::MAINNET),
            ("7", Network(7)),
        ] {
            assert_eq!(
                serde_json::from_str::<Network>(text).unwrap(),
                network,
                "{text}"
            );
        }
        assert_eq!(serde_json::to_string(&Network::TESTNET).unwrap(), "-3");
        let err = serde_json::from_str::<Network>("\"moonnet\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown network"), "{err}");
    }
}
