//! The rules pgadvise reports, in one registry. Every output (text, JSON,
//! SARIF, GitHub annotations, HTML, baselines, `[ignore] rules`) reads the id
//! and description from here, so a rule cannot be described under a name no
//! rule emits.

use super::severity::Severity;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One rule. It serializes to its id (`fk-without-index`), the string the
/// JSON report has always carried (docs/json-output.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    MissingIndex,
    InvalidIndex,
    DuplicateIndex,
    RedundantIndex,
    UnusedIndex,
    FkWithoutIndex,
    SeqScanHeavy,
    DeadTuples,
    OffsetPagination,
    LimitWithoutOrderBy,
    LeadingWildcardLike,
    FunctionOnColumn,
    NotInSubquery,
    ImplicitCast,
    SelectStarWideTable,
    CountStarLargeTable,
    TextSearchConfigHidden,
    PoolBudgetExceeded,
    ConnectionsNearLimit,
    PoolBeyondCores,
    PoolOversized,
    PoolSaturated,
    IdleInTransaction,
}

/// What the registry knows about a rule.
pub struct RuleInfo {
    pub id: &'static str,
    /// The severity a finding usually has; some rules raise or lower it by the evidence.
    pub default_severity: Severity,
    /// What the rule checks, in one sentence.
    pub description: &'static str,
    /// The README heading that documents the rule, for SARIF `helpUri`.
    pub anchor: &'static str,
    /// The usual fix, for rules that have one fix whatever the evidence.
    pub fix: Option<&'static str>,
}

const FINDINGS: &str = "findings-index-health-and-query-anti-patterns";
const POOL: &str = "pool-sizing";

impl RuleId {
    /// Every rule, in the order the README lists them.
    pub const ALL: [RuleId; 23] = [
        RuleId::MissingIndex,
        RuleId::InvalidIndex,
        RuleId::DuplicateIndex,
        RuleId::RedundantIndex,
        RuleId::UnusedIndex,
        RuleId::FkWithoutIndex,
        RuleId::SeqScanHeavy,
        RuleId::DeadTuples,
        RuleId::OffsetPagination,
        RuleId::LimitWithoutOrderBy,
        RuleId::LeadingWildcardLike,
        RuleId::FunctionOnColumn,
        RuleId::NotInSubquery,
        RuleId::ImplicitCast,
        RuleId::SelectStarWideTable,
        RuleId::CountStarLargeTable,
        RuleId::TextSearchConfigHidden,
        RuleId::PoolBudgetExceeded,
        RuleId::ConnectionsNearLimit,
        RuleId::PoolBeyondCores,
        RuleId::PoolOversized,
        RuleId::PoolSaturated,
        RuleId::IdleInTransaction,
    ];

    pub fn info(self) -> RuleInfo {
        use Severity::*;
        let (id, default_severity, description, anchor, fix) = match self {
            RuleId::MissingIndex => (
                "missing-index",
                High,
                "A hot statement has no index that serves it",
                "index-proposals",
                Some("Build the proposed index with CREATE INDEX CONCURRENTLY"),
            ),
            RuleId::InvalidIndex => (
                "invalid-index",
                High,
                "An index is INVALID (a failed concurrent build)",
                FINDINGS,
                Some("Drop the index and build it again"),
            ),
            RuleId::DuplicateIndex => (
                "duplicate-index",
                Medium,
                "Two indexes have the same definition",
                FINDINGS,
                Some("Drop the copy with DROP INDEX CONCURRENTLY"),
            ),
            RuleId::RedundantIndex => (
                "redundant-index",
                Low,
                "An index is a left prefix of another index",
                FINDINGS,
                Some("Drop the shorter index with DROP INDEX CONCURRENTLY"),
            ),
            RuleId::UnusedIndex => (
                "unused-index",
                Low,
                "An index is never scanned but costs every write",
                FINDINGS,
                None,
            ),
            RuleId::FkWithoutIndex => (
                "fk-without-index",
                Medium,
                "A foreign key has no index on the referencing columns",
                FINDINGS,
                Some("Index the referencing columns"),
            ),
            RuleId::SeqScanHeavy => (
                "seq-scan-heavy",
                Medium,
                "A large table is read by sequential scans more than by index scans",
                FINDINGS,
                None,
            ),
            RuleId::DeadTuples => (
                "dead-tuples",
                Medium,
                "A table holds many dead rows that autovacuum has not removed",
                FINDINGS,
                None,
            ),
            RuleId::OffsetPagination => (
                "offset-pagination",
                Medium,
                "A statement pages with OFFSET",
                FINDINGS,
                Some("Page by key (keyset pagination) instead of OFFSET"),
            ),
            RuleId::LimitWithoutOrderBy => (
                "limit-without-order-by",
                Medium,
                "A statement pages with LIMIT and OFFSET without ORDER BY",
                FINDINGS,
                Some("Add an ORDER BY on a unique key"),
            ),
            RuleId::LeadingWildcardLike => (
                "leading-wildcard-like",
                Medium,
                "A LIKE or ILIKE pattern starts with a wildcard, so no btree index serves it",
                FINDINGS,
                Some("Build a pg_trgm GIN index on the column"),
            ),
            RuleId::FunctionOnColumn => (
                "function-on-column",
                Medium,
                "A WHERE clause wraps a column in a function, so the column's index is not used",
                FINDINGS,
                Some("Build an expression index, or compare the bare column"),
            ),
            RuleId::NotInSubquery => (
                "not-in-subquery",
                Medium,
                "A statement uses NOT IN (SELECT ...), which NULLs break and the planner cannot anti-join",
                FINDINGS,
                Some("Rewrite as NOT EXISTS"),
            ),
            RuleId::ImplicitCast => (
                "implicit-cast",
                Medium,
                "A column is compared as another type family, so its index is not used",
                FINDINGS,
                Some("Compare with a value of the column's own type"),
            ),
            RuleId::SelectStarWideTable => (
                "select-star-wide-table",
                Low,
                "A statement selects every column of a wide table",
                FINDINGS,
                Some("Select only the columns the application reads"),
            ),
            RuleId::CountStarLargeTable => (
                "count-star-large-table",
                Low,
                "A statement counts every row of a large table",
                FINDINGS,
                None,
            ),
            RuleId::TextSearchConfigHidden => (
                "text-search-config-hidden",
                Medium,
                "A full-text search's configuration is a parameter in pg_stat_statements, so no index can be proposed for it",
                FINDINGS,
                None,
            ),
            RuleId::PoolBudgetExceeded => (
                "pool-budget-exceeded",
                High,
                "Declared connection pools can open more connections than the server allows",
                POOL,
                None,
            ),
            RuleId::ConnectionsNearLimit => (
                "connections-near-limit",
                Medium,
                "Connections came close to the server's max_connections budget",
                POOL,
                None,
            ),
            RuleId::PoolBeyondCores => (
                "pool-beyond-cores",
                Medium,
                "More active sessions than the database server's cores can run",
                POOL,
                None,
            ),
            RuleId::PoolOversized => (
                "pool-oversized",
                Low,
                "A connection pool is much larger than its workload needs",
                POOL,
                None,
            ),
            RuleId::PoolSaturated => (
                "pool-saturated",
                Medium,
                "A connection pool is fully busy; a bigger one would not help",
                POOL,
                None,
            ),
            RuleId::IdleInTransaction => (
                "idle-in-transaction",
                Medium,
                "Sessions sat idle inside an open transaction",
                POOL,
                Some("Set idle_in_transaction_session_timeout and commit or roll back promptly"),
            ),
        };
        RuleInfo {
            id,
            default_severity,
            description,
            anchor,
            fix,
        }
    }

    /// The stable id, as in the JSON report.
    pub fn as_str(self) -> &'static str {
        self.info().id
    }

    pub fn description(self) -> &'static str {
        self.info().description
    }

    pub fn default_severity(self) -> Severity {
        self.info().default_severity
    }

    pub fn fix(self) -> Option<&'static str> {
        self.info().fix
    }

    /// The README section that documents the rule.
    pub fn help_uri(self, base: &str) -> String {
        format!("{base}#{}", self.info().anchor)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An id that names no rule; its message lists the valid ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule(pub String);

impl fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        write!(
            f,
            "unknown rule `{}`; the rules are {}",
            self.0,
            ids.join(", ")
        )
    }
}

impl std::error::Error for UnknownRule {}

impl FromStr for RuleId {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_its_id_and_parses_back() {
        for rule in RuleId::ALL {
            let json = serde_json::to_value(rule).unwrap();
            assert_eq!(json, rule.as_str(), "serde and the table disagree");
            assert_eq!(rule.as_str().parse::<RuleId>(), Ok(rule));
            let back: RuleId = serde_json::from_value(json).unwrap();
            assert_eq!(back, rule);
        }
    }

    #[test]
    fn all_lists_every_rule_once() {
        let mut ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RuleId::ALL.len());
    }

    #[test]
    fn unknown_rule_names_the_valid_ones() {
        let err = "unindexed-foreign-key".parse::<RuleId>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unindexed-foreign-key"), "{msg}");
        assert!(msg.contains("fk-without-index"), "{msg}");
    }

    /// The README's rule tables are the user's list of rules: each registry id
    /// has a row, and each row names a registry id.
    #[test]
    fn readme_rule_tables_match_the_registry() {
        let readme = include_str!("../../README.md");
        let mut in_readme: Vec<&str> = Vec::new();
        let mut in_table = false;
        for line in readme.lines() {
            if line.starts_with("| rule |") {
                in_table = true;
            } else if !line.starts_with('|') {
                in_table = false;
            } else if in_table {
                if let Some((id, _)) = line.strip_prefix("| `").and_then(|l| l.split_once("` |")) {
                    in_readme.push(id);
                }
            }
        }
        in_readme.sort_unstable();
        in_readme.dedup();
        let mut registry: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        registry.sort_unstable();
        assert_eq!(in_readme, registry);
    }
}
