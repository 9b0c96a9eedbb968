//! `select-star-wide-table`: a hot `SELECT *` on a wide table (at least
//! `wide_table_columns` columns, or rows averaging `wide_row_bytes` by
//! pg_stats). Every column is read, detoasted and sent on every call, and no
//! index-only scan is possible; most callers use a few columns.
//!
//! Stays silent for narrow tables and for explicit column lists.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::SelectStarWideTable;

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    for access in &hot.analyzed.shape.accesses {
        if !access.flags.select_star {
            continue;
        }
        let Some(table) = context.table(access) else {
            continue;
        };
        let columns = table.columns.len();
        let width: i64 = table
            .columns
            .iter()
            .filter_map(|c| c.stats.as_ref())
            .map(|s| i64::from(s.avg_width))
            .sum();
        if columns < context.options.wide_table_columns && width < context.options.wide_row_bytes {
            continue;
        }
        findings.push(statement_finding(
            RULE,
            Severity::Low,
            access.table.to_string(),
            hot,
            FindingText {
                title: format!(
                    "SELECT * on wide table {} ({columns} columns, ~{width} bytes a row)",
                    access.table
                ),
                detail: "Every call reads, detoasts and sends every column, and rules out an \
                         index-only scan."
                    .to_string(),
                fix: Some("List only the columns the caller uses.".to_string()),
                details: serde_json::json!({
                    "table": access.table.to_string(),
                    "columns": columns,
                    "avg_row_bytes": width,
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
    use crate::snapshot::ColumnStats;

    #[test]
    fn select_star_on_wide_tables_is_reported() {
        let many: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut heavy = fixture::table("docs", 1000.0, &["id", "body:text"]);
        heavy.columns[1].stats = Some(ColumnStats {
            null_frac: 0.0,
            avg_width: 6000,
            n_distinct: -1.0,
            most_common_vals: vec![],
            most_common_freqs: vec![],
            histogram_bounds: vec![],
            correlation: None,
            ..ColumnStats::default()
        });
        let cases = [
            ("SELECT * FROM wide WHERE c0 = $1", true),
            ("SELECT * FROM docs WHERE id = $1", true),
            // Silent.
            ("SELECT c0, c1 FROM wide WHERE c0 = $1", false),
            ("SELECT * FROM narrow WHERE id = $1", false),
        ];
        for (query, expected) in cases {
            let findings = run(
                check,
                vec![
                    fixture::table("wide", 1000.0, &many),
                    heavy.clone(),
                    fixture::table("narrow", 1000.0, &["id", "name:text"]),
                ],
                vec![],
                query,
            );
            assert_eq!(findings.len(), usize::from(expected), "{query}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
            }
        }
    }
}
