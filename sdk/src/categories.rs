//! The category bitmask of SPEC.md §3.

use std::fmt;

/// A set of risk and entity categories, one bit each (SPEC.md §3).
///
/// In an attestation it is an upper bound: the subject has no category outside this set.
/// Unnamed bits are reserved; they are carried and compared like any other bit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Categories(pub u32);

macro_rules! categories {
    ($($(#[$doc:meta])* $name:ident = $bit:literal, $text:literal;)*) => {
        impl Categories {
            $($(#[$doc])* pub const $name: Categories = Categories(1 << $bit);)*

            /// Every named category with its SPEC.md name, in bit order.
            pub const NAMED: &'static [(&'static str, Categories)] = &[$(($text, Categories::$name)),*];
        }
    };
}

categories! {
    /// Bit 0: listed by a sanctions authority (OFAC SDN and peers).
    SANCTIONS = 0, "sanctions";
    /// Bit 1: designated terrorist financing.
    TERRORIST_FINANCING = 1, "terrorist_financing";
    /// Bit 2: wallet-drainer kit operator or collector.
    DRAINER = 2, "drainer";
    /// Bit 3: scam, fraud or Ponzi operator.
    SCAM = 3, "scam";
    /// Bit 4: phishing or fake-site collector.
    PHISHING = 4, "phishing";
    /// Bit 5: mixer or tumbler.
    MIXER = 5, "mixer";
    /// Bit 6: darknet market.
    DARKNET_MARKET = 6, "darknet_market";
    /// Bit 7: ransomware operator.
    RANSOMWARE = 7, "ransomware";
    /// Bit 8: holds proceeds of a known theft or hack.
    STOLEN_FUNDS = 8, "stolen_funds";
    /// Bit 9: impersonates a public figure or project.
    IMPERSONATION = 9, "impersonation";
    /// Bit 10: unlicensed gambling.
    GAMBLING = 10, "gambling";
    /// Bit 11: exchange without KYC or in a high-risk jurisdiction.
    HIGH_RISK_EXCHANGE = 11, "high_risk_exchange";
    /// Bit 16: custodial exchange or wallet (an entity type, not a risk).
    EXCHANGE = 16, "exchange";
    /// Bit 17: cross-chain bridge.
    BRIDGE = 17, "bridge";
    /// Bit 18: DeFi protocol or DEX.
    DEFI = 18, "defi";
    /// Bit 19: validators, givers and other network infrastructure.
    INFRASTRUCTURE = 19, "infrastructure";
}

impl Categories {
    /// The empty set.
    pub const NONE: Categories = Categories(0);

    /// The category with this SPEC.md name, if any.
    pub fn from_name(name: &str) -> Option<Categories> {
        Categories::NAMED
            .iter()
            .find(|(text, _)| *text == name)
            .map(|(_, c)| *c)
    }

    /// Names of the named categories in this set, in bit order (reserved bits are not listed).
    pub fn names(self) -> Vec<&'static str> {
        Categories::NAMED
            .iter()
            .filter(|(_, c)| self.contains(*c))
            .map(|(text, _)| *text)
            .collect()
    }

    /// Whether every category of `other` is in this set.
    pub const fn contains(self, other: Categories) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the two sets share a category.
    pub const fn intersects(self, other: Categories) -> bool {
        self.0 & other.0 != 0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn union(self, other: Categories) -> Categories {
        Categories(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Categories {
    type Output = Categories;
    fn bitor(self, rhs: Categories) -> Categories {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for Categories {
    fn bitor_assign(&mut self, rhs: Categories) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Categories({:#x}: {:?})", self.0, self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut seen = 0u32;
        for (name, category) in Categories::NAMED {
            assert_eq!(category.0.count_ones(), 1, "{name}");
            assert_eq!(seen & category.0, 0, "{name} reuses a bit");
            seen |= category.0;
            assert_eq!(Categories::from_name(name), Some(*category));
        }
        assert_eq!(Categories::from_name("nope"), None);
    }

    #[test]
    fn set_operations() {
        let set = Categories::SCAM | Categories::MIXER;
        assert!(set.contains(Categories::SCAM));
        assert!(!set.contains(Categories::SANCTIONS));
        assert!(set.intersects(Categories::MIXER | Categories::DRAINER));
        assert!(!set.intersects(Categories::EXCHANGE));
        assert_eq!(set.names(), ["scam", "mixer"]);
        assert_eq!(
            Categories(1 << 31).names(),
            Vec::<&str>::new(),
            "reserved bits are unnamed"
        );
    }
}
