//! `count-star-large-table`: a hot `SELECT count(*)` over a whole large table
//! (no WHERE on it). PostgreSQL has no stored row count: MVCC makes every
//! exact count read the table (or a whole index), so it grows with the table.
//!
//! Stays silent when the count is filtered (an index on the filter serves
//! it: that is the index advisor's business) or the table is small.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::queries::AccessOrigin;
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::CountStarLargeTable;

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    for access in &hot.analyzed.shape.accesses {
        if !access.flags.count_star
            || access.origin != AccessOrigin::Statement
            || !access.filters.is_empty()
            || !access.or_groups.is_empty()
            || !access.joins.is_empty()
        {
            continue;
        }
        let Some(table) = context.table(access) else {
            continue;
        };
        let rows = crate::analyze::health::estimated_rows(table);
        if rows < context.options.large_table_rows {
            continue;
        }
        findings.push(statement_finding(
            RULE,
            Severity::Low,
            access.table.to_string(),
            hot,
            FindingText {
                title: format!("exact count(*) of all {rows:.0} rows of {}", access.table),
                detail:
                    "PostgreSQL keeps no row count: every exact count reads the whole table or \
                         one of its indexes, and takes longer as the table grows."
                        .to_string(),
                fix: Some(format!(
                    "Where an estimate will do: SELECT reltuples::bigint FROM pg_class WHERE oid = \
                     '{}'::regclass; where it must be exact, keep a counter row updated by the \
                     writes (or cache the count).",
                    access.table
                )),
                details: serde_json::json!({
                    "table": access.table.to_string(),
                    "rows": rows,
                    "size_bytes": table.size_bytes,
                }),
            },
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::antipatterns::testing::run;
    use crate::analyze::health::fixture;

    #[test]
    fn whole_table_counts_of_large_tables_are_reported() {
        let cases = [
            ("SELECT count(*) FROM big", true),
            ("SELECT count(*) AS n FROM big", true),
            // Silent.
            ("SELECT count(*) FROM big WHERE day = $1", false),
            ("SELECT count(*) FROM small", false),
            ("SELECT * FROM big LIMIT $1", false),
        ];
        for (query, expected) in cases {
            let findings = run(
                check,
                vec![
                    fixture::table("big", 1_000_000.0, &["id", "day"]),
                    fixture::table("small", 500.0, &["id"]),
                ],
                vec![],
                query,
            );
            assert_eq!(findings.len(), usize::from(expected), "{query}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.big");
            }
        }
    }
}
