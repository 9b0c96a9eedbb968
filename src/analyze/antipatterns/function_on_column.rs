//! `function-on-column`: a hot statement filters on a function of a column
//! (`lower(email) = $1`, `date(created_at) = $1`) and no expression index
//! matches it. An index on the bare column cannot serve the function's
//! result, so the filter scans.
//!
//! The fix depends on the function: an expression index for an immutable one
//! (`lower`, `upper`, ...); for `date(ts)` or `ts::date` (not immutable on
//! timestamptz), a range on the bare column instead. A cast alone is left to
//! `implicit-cast`; a predicate an expression index matches stays silent.

use super::implicit_cast::column_cast;
use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::serve::normalize_sql;
use crate::analyze::queries::{IndexKey, PredicateClass};
use crate::analyze::rule::RuleId;
use crate::ident::quote;

pub const RULE: RuleId = RuleId::FunctionOnColumn;

/// For `date(col)` / `col::date`: the column.
fn date_of(sql: &str) -> Option<String> {
    let lower = sql.trim().to_ascii_lowercase();
    if let Some(inner) = lower
        .strip_prefix("date(")
        .and_then(|s| s.strip_suffix(')'))
    {
        return Some(inner.trim().trim_matches('"').to_string());
    }
    match column_cast(sql) {
        Some((column, ty)) if ty.eq_ignore_ascii_case("date") => Some(column),
        _ => None,
    }
}

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    for access in &hot.analyzed.shape.accesses {
        for p in &access.filters {
            let IndexKey::Expression { sql, columns } = &p.key else {
                continue;
            };
            if !matches!(p.class(), PredicateClass::Equality | PredicateClass::Range) {
                continue;
            }
            let date_column = date_of(sql);
            if date_column.is_none() && column_cast(sql).is_some() {
                continue; // a bare cast: implicit-cast's business
            }
            let matched = context.snapshot.indexes_of(&access.table).any(|i| {
                i.is_valid
                    && i.keys
                        .first()
                        .and_then(|k| k.expression.as_deref())
                        .map(normalize_sql)
                        == Some(normalize_sql(sql))
            });
            if matched {
                continue;
            }
            // An expression index the advisor proposes (and verified) for it.
            let proposed = context.proposals.iter().find(|proposal| {
                proposal.table == access.table.to_string()
                    && proposal.columns.iter().any(|c| {
                        normalize_sql(c.strip_suffix(" DESC").unwrap_or(c)) == normalize_sql(sql)
                    })
            });
            let fix = match (proposed, &date_column) {
                (Some(proposal), _) => format!("The proposed index serves it: {}", proposal.ddl),
                (None, Some(column)) => format!(
                    "Filter on the bare column so its index applies: {c} >= $1::date AND {c} < \
                     $1::date + 1 (mind the session time zone for timestamptz).",
                    c = quote(column)
                ),
                (None, None) => {
                    format!(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} (({sql})); (the function \
                     must be IMMUTABLE), or compare the bare column.",
                    quote(&format!("{}_{}_expr_idx", access.table.name, columns.join("_"))),
                    access.table
                )
                }
            };
            findings.push(statement_finding(
                RULE,
                Severity::Medium,
                access.table.to_string(),
                hot,
                FindingText {
                    title: format!("filter on {sql} of {}: no index matches it", access.table),
                    detail: format!(
                        "The WHERE clause applies {sql} to every row; an index on {} cannot serve \
                         the function's result, and no expression index on {sql} exists.",
                        columns.join(", ")
                    ),
                    fix: Some(fix),
                    details: serde_json::json!({
                        "table": access.table.to_string(),
                        "expression": sql,
                        "columns": columns,
                        "proposed_index": proposed.map(|p| p.name.clone()),
                    }),
                },
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::antipatterns::testing::{run, run_advised};
    use crate::analyze::health::fixture;

    #[test]
    fn functions_on_filtered_columns_are_reported_unless_indexed() {
        let lower_index = {
            let mut i = fixture::index("users", "users_lower_email", &["email"]);
            i.keys[0].column = None;
            i.keys[0].expression = Some("lower(email)".into());
            i
        };
        let cases = [
            (
                "SELECT * FROM users WHERE lower(email) = $1",
                vec![],
                true,
                "CREATE INDEX",
            ),
            (
                "SELECT * FROM users WHERE date(created_at) = $1",
                vec![],
                true,
                ">= $1::date",
            ),
            (
                "SELECT * FROM users WHERE created_at::date = $1",
                vec![],
                true,
                ">= $1::date",
            ),
            // Silent.
            (
                "SELECT * FROM users WHERE lower(email) = $1",
                vec![lower_index.clone()],
                false,
                "",
            ),
            ("SELECT * FROM users WHERE email = $1", vec![], false, ""),
            (
                "SELECT lower(email) FROM users WHERE id = $1",
                vec![],
                false,
                "",
            ),
            ("SELECT * FROM users WHERE id::text = $1", vec![], false, ""),
        ];
        for (query, indexes, expected, fix) in cases {
            let findings = run(
                check,
                vec![fixture::table(
                    "users",
                    100_000.0,
                    &["id", "email:text", "created_at:timestamp with time zone"],
                )],
                indexes,
                query,
            );
            assert_eq!(
                findings.len(),
                usize::from(expected),
                "{query}: {findings:?}"
            );
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert!(
                    f.fix.as_deref().unwrap().contains(fix),
                    "{query}: {:?}",
                    f.fix
                );
            }
        }
    }

    #[test]
    fn the_fix_is_the_advisors_expression_index_when_it_proposes_one() {
        let users = || {
            vec![fixture::table(
                "users",
                100_000.0,
                &["id", "email:text", "created_at:timestamp with time zone"],
            )]
        };
        let query = "SELECT * FROM users WHERE lower(email) = $1";
        let findings = run_advised(check, users(), vec![], query, true);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let fix = findings[0].fix.as_deref().unwrap();
        assert!(
            fix.starts_with(
                "The proposed index serves it: CREATE INDEX CONCURRENTLY IF NOT EXISTS"
            ),
            "{fix}"
        );
        assert!(fix.contains("lower(email)"), "{fix}");
        let name = findings[0].evidence["details"]["proposed_index"]
            .as_str()
            .unwrap();
        assert!(fix.contains(name), "{fix}");
        // Without the proposal (rejected by verification, say), a DDL of its own.
        let findings = run(check, users(), vec![], query);
        assert!(findings[0].evidence["details"]["proposed_index"].is_null());
        assert!(findings[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("(the function must be IMMUTABLE)"));
    }
}
