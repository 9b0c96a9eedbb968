//! `limit-without-order-by`: a hot SELECT that pages with LIMIT and OFFSET
//! but has no ORDER BY. Without an order the server returns rows in whatever
//! order the plan produces: a new plan, a synchronized sequential scan, or an
//! update moving a row changes which rows each page holds, so pages repeat
//! and skip rows.
//!
//! Stays silent for a LIMIT without OFFSET (a lookup of "any one row", or a
//! batch claim such as `FOR UPDATE SKIP LOCKED LIMIT n`, needs no order), for
//! subqueries (a batch delete's `ctid = ANY(ARRAY(SELECT ... LIMIT n))`), and
//! when there is an ORDER BY.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::queries::{AccessOrigin, AccessRole, StatementKind};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::LimitWithoutOrderBy;

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let shape = &hot.analyzed.shape;
    if shape.kind != StatementKind::Select {
        return Vec::new();
    }
    let Some(access) = shape.accesses.iter().find(|a| {
        a.origin == AccessOrigin::Statement
            && a.role == AccessRole::Read
            && a.flags.limit
            && a.flags.offset
            && !a.flags.order_by
    }) else {
        return Vec::new();
    };
    let primary_key: Vec<String> = context
        .snapshot
        .indexes_of(&access.table)
        .find(|i| i.is_primary)
        .map(|i| i.keys.iter().filter_map(|k| k.column.clone()).collect())
        .unwrap_or_default();
    let order = if primary_key.is_empty() {
        "a unique key".to_string()
    } else {
        format!("ORDER BY {}", primary_key.join(", "))
    };
    vec![statement_finding(
        RULE,
        Severity::Medium,
        access.table.to_string(),
        hot,
        FindingText {
            title: format!("LIMIT without ORDER BY on {}: pages are not stable", access.table),
            detail: "Without ORDER BY the row order is whatever the plan yields; between two page \
                     requests it can change, so rows repeat on one page and go missing from another."
                .to_string(),
            fix: Some(format!(
                "Add {order} (a unique order), and page by key rather than OFFSET (see offset-pagination)."
            )),
            details: serde_json::json!({
                "table": access.table.to_string(),
                "unique_order": primary_key,
            }),
        },
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::antipatterns::testing::run;
    use crate::analyze::health::fixture;

    #[test]
    fn unordered_pages_are_reported_and_other_limits_stay_silent() {
        let cases = [
            ("SELECT * FROM t WHERE day = $1 LIMIT $2 OFFSET $3", true),
            ("SELECT id FROM t LIMIT $1 OFFSET $2", true),
            // Silent.
            (
                "SELECT * FROM t WHERE day = $1 ORDER BY id LIMIT $2 OFFSET $3",
                false,
            ),
            ("SELECT * FROM t WHERE day = $1 LIMIT $2", false),
            (
                "SELECT id FROM t WHERE day IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED",
                false,
            ),
            (
                "DELETE FROM t WHERE ctid = ANY(ARRAY(SELECT ctid FROM t WHERE day = $1 LIMIT $2))",
                false,
            ),
        ];
        for (query, expected) in cases {
            let findings = run(
                check,
                vec![fixture::table("t", 100_000.0, &["id", "day"])],
                vec![fixture::primary_key("t", "t_pkey", &["id"])],
                query,
            );
            assert_eq!(findings.len(), usize::from(expected), "{query}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.t");
                assert!(f.fix.as_deref().unwrap().contains("ORDER BY id"));
            }
        }
    }
}
