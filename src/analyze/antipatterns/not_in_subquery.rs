//! `not-in-subquery`: `col NOT IN (SELECT ...)` on a hot statement. If the
//! subquery can return a NULL, NOT IN returns no row at all (a classic bug);
//! and the planner cannot turn it into an anti-join, so it runs a hashed
//! subplan (or, when that does not fit in work_mem, re-scans the subquery per
//! row). `NOT EXISTS` has the expected semantics and becomes an anti-join.
//!
//! Stays silent for `NOT IN (list)` and for `IN (SELECT ...)`.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::queries::{IndexKey, PredicateOp};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::NotInSubquery;

pub fn check(_context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    for access in &hot.analyzed.shape.accesses {
        let predicates = access.filters.iter().chain(
            access
                .or_groups
                .iter()
                .flat_map(|g| g.branches.iter().flat_map(|b| &b.predicates)),
        );
        for p in predicates.filter(|p| p.op == PredicateOp::NotInSubquery) {
            let key = match &p.key {
                IndexKey::Column(c) => c.clone(),
                IndexKey::Expression { sql, .. } => sql.clone(),
            };
            findings.push(statement_finding(
                RULE,
                Severity::Medium,
                access.table.to_string(),
                hot,
                FindingText {
                    title: format!("NOT IN (subquery) on {}.{key}", access.table),
                    detail: "NOT IN returns no rows at all once the subquery yields a NULL, and the \
                             planner cannot make it an anti-join: it hashes the subquery (or re-runs it \
                             per row when it does not fit in work_mem)."
                        .to_string(),
                    fix: Some(format!(
                        "Rewrite as NOT EXISTS (SELECT 1 FROM ... WHERE <subquery column> = {key})."
                    )),
                    details: serde_json::json!({ "table": access.table.to_string(), "key": key }),
                },
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::antipatterns::testing::run;
    use crate::analyze::health::fixture;

    #[test]
    fn not_in_subqueries_are_reported_and_lists_stay_silent() {
        let cases = [
            ("SELECT * FROM a WHERE b_id NOT IN (SELECT id FROM b)", true),
            (
                "SELECT * FROM a WHERE x = $1 AND b_id NOT IN (SELECT id FROM b WHERE y = $2)",
                true,
            ),
            // Silent.
            ("SELECT * FROM a WHERE b_id NOT IN ($1, $2)", false),
            ("SELECT * FROM a WHERE b_id IN (SELECT id FROM b)", false),
            (
                "SELECT * FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = a.b_id)",
                false,
            ),
        ];
        for (query, expected) in cases {
            let findings = run(
                check,
                vec![
                    fixture::table("a", 100_000.0, &["id", "b_id", "x"]),
                    fixture::table("b", 1000.0, &["id", "y"]),
                ],
                vec![],
                query,
            );
            assert_eq!(findings.len(), usize::from(expected), "{query}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.a");
            }
        }
    }
}
