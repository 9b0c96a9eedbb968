//! The index access methods pgadvise proposes, and what each can be checked with.

use serde::Serialize;

/// An index access method (`pg_am.amname`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessMethod {
    #[default]
    Btree,
    Gin,
    Gist,
    Brin,
}

impl AccessMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMethod::Btree => "btree",
            AccessMethod::Gin => "gin",
            AccessMethod::Gist => "gist",
            AccessMethod::Brin => "brin",
        }
    }

    /// The method as the PostgreSQL documentation spells it in prose.
    pub fn label(self) -> &'static str {
        match self {
            AccessMethod::Btree => "btree",
            AccessMethod::Gin => "GIN",
            AccessMethod::Gist => "GiST",
            AccessMethod::Brin => "BRIN",
        }
    }

    /// The method `pg_am.amname` names, if pgadvise knows it.
    pub fn from_name(name: &str) -> Option<AccessMethod> {
        [
            AccessMethod::Btree,
            AccessMethod::Gin,
            AccessMethod::Gist,
            AccessMethod::Brin,
        ]
        .into_iter()
        .find(|m| m.as_str() == name)
    }

    /// Whether hypopg can build a hypothetical index of this method
    /// (it refuses GIN and GiST: `access method "gin" is not supported`).
    pub fn simulated_by_hypopg(self) -> bool {
        matches!(self, AccessMethod::Btree | AccessMethod::Brin)
    }
}

impl std::fmt::Display for AccessMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_hypopg_support() {
        for (name, simulated) in [
            ("btree", true),
            ("gin", false),
            ("gist", false),
            ("brin", true),
        ] {
            let method = AccessMethod::from_name(name).expect(name);
            assert_eq!(method.as_str(), name);
            assert_eq!(method.simulated_by_hypopg(), simulated, "{name}");
        }
        assert_eq!(AccessMethod::from_name("hash"), None);
    }
}
