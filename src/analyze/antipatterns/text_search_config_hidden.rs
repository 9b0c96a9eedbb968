//! `text-search-config-hidden`: a hot statement searches
//! `to_tsvector($1, body)`: pg_stat_statements turned the text search
//! configuration (`'english'`) into a parameter. An index on
//! `to_tsvector('english', body)` serves only statements naming that same
//! configuration, so the advisor cannot propose or verify one from the
//! normalized text. The finding says so and how to get the index: give the
//! statement as the application writes it (`--query`), or build it with the
//! configuration the application passes.
//!
//! Silent when a valid GIN index on a `to_tsvector` of the column exists
//! (whatever its configuration: pgadvise cannot tell which one the
//! statement uses).

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::render::{fit, slug};
use crate::analyze::rule::RuleId;
use crate::ident::quote;

pub const RULE: RuleId = RuleId::TextSearchConfigHidden;

/// `to_tsvector($n, column)` in a statement's text: the parameter and the
/// column as written (the last part of a qualified name, unquoted).
fn hidden_config_searches(query: &str) -> Vec<(String, String)> {
    let lower = query.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("to_tsvector(") {
        let start = from + at + "to_tsvector(".len();
        from = start;
        let Some(close) = query[start..].find(')') else {
            break;
        };
        let args = &query[start..start + close];
        let Some((config, column)) = args.split_once(',') else {
            continue;
        };
        let config = config.trim();
        let is_parameter = config.len() > 1
            && config.starts_with('$')
            && config[1..].chars().all(|c| c.is_ascii_digit());
        if !is_parameter {
            continue;
        }
        let column = column.trim();
        let name = column.rsplit('.').next().unwrap_or(column);
        let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => name.to_lowercase(),
        };
        let plain = name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '"' || c == ' ');
        if !name.is_empty() && plain && !found.iter().any(|(_, c)| *c == name) {
            found.push((config.to_string(), name));
        }
    }
    found
}

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    let query = &hot.analyzed.statement.query;
    for (parameter, column) in hidden_config_searches(query) {
        // The statement's table with that column (the first, when several have it).
        let Some(access) = hot.analyzed.shape.accesses.iter().find(|a| {
            context
                .table(a)
                .is_some_and(|t| t.columns.iter().any(|c| c.name == column))
        }) else {
            continue;
        };
        let indexed = context.snapshot.indexes_of(&access.table).any(|i| {
            i.is_valid
                && i.method == "gin"
                && i.keys.iter().any(|k| {
                    k.expression.as_deref().is_some_and(|e| {
                        let e = e.to_ascii_lowercase();
                        e.contains("to_tsvector(") && e.contains(&column.to_ascii_lowercase())
                    })
                })
        });
        if indexed {
            continue;
        }
        let name = fit(
            &format!("{}_{}_tsv_idx", slug(&access.table.name), slug(&column)),
            &format!("{}.{column}", access.table),
        );
        findings.push(statement_finding(
            RULE,
            Severity::Medium,
            access.table.to_string(),
            hot,
            FindingText {
                title: format!(
                    "full-text search on to_tsvector({parameter}, {column}) of {}: the \
                     configuration is hidden",
                    access.table
                ),
                detail: format!(
                    "pg_stat_statements turned the text search configuration into {parameter}. \
                     An index on to_tsvector(configuration, {column}) serves only statements \
                     naming the same configuration, so none can be proposed or verified from \
                     this text, and no GIN index on a to_tsvector of {column} exists."
                ),
                fix: Some(format!(
                    "Give the statement as the application writes it, with its configuration \
                     (pgadvise scan --query \"...\"), to get the index proposed; or build it with \
                     that configuration: CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING \
                     gin ((to_tsvector('<configuration>', {})));",
                    quote(&name),
                    access.table,
                    quote(&column)
                )),
                details: serde_json::json!({
                    "table": access.table.to_string(),
                    "column": column,
                    "parameter": parameter,
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
    fn configurations_turned_into_parameters_are_found_in_the_text() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "SELECT id FROM posts WHERE to_tsvector($1, content) @@ to_tsquery($2, $3)",
                &[("$1", "content")],
            ),
            (
                "select id from posts p where TO_TSVECTOR($2, p.content) @@ plainto_tsquery($2, $1)",
                &[("$2", "content")],
            ),
            (
                "SELECT id FROM posts WHERE to_tsvector($1, \"Body Text\") @@ to_tsquery($1, $2)",
                &[("$1", "Body Text")],
            ),
            // The configuration is written out, or there is none: not hidden.
            (
                "SELECT id FROM posts WHERE to_tsvector('simple', content) @@ to_tsquery($1)",
                &[],
            ),
            ("SELECT id FROM posts WHERE to_tsvector(content) @@ to_tsquery($1)", &[]),
            // Not a column.
            ("SELECT to_tsvector($1, $2)", &[]),
            (
                "SELECT id FROM posts WHERE to_tsvector($1, coalesce(title, '')) @@ to_tsquery($2)",
                &[],
            ),
        ];
        for (query, expected) in cases {
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect();
            assert_eq!(hidden_config_searches(query), expected, "{query}");
        }
    }

    #[test]
    fn reported_unless_a_full_text_index_exists() {
        let posts = || {
            vec![fixture::table(
                "posts",
                100_000.0,
                &["id", "content:text", "title:text"],
            )]
        };
        let query = "SELECT id FROM posts WHERE to_tsvector($1, content) @@ to_tsquery($2, $3)";
        let findings = run(check, posts(), vec![], query);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, RULE);
        assert_eq!(findings[0].object, "public.posts");
        let fix = findings[0].fix.as_deref().unwrap_or_default();
        assert!(
            fix.contains("--query")
                && fix.contains(
                    "posts_content_tsv_idx ON public.posts USING gin \
                     ((to_tsvector('<configuration>', content)))"
                ),
            "{fix}"
        );

        let mut index = fixture::index("posts", "posts_fts", &["content"]);
        index.method = "gin".into();
        index.keys[0].column = None;
        index.keys[0].expression = Some("to_tsvector('english'::regconfig, content)".into());
        assert!(run(check, posts(), vec![index.clone()], query).is_empty());
        // A btree on the column does not serve a search.
        let btree = fixture::index("posts", "posts_content", &["content"]);
        assert_eq!(run(check, posts(), vec![btree], query).len(), 1);
        // A column of no table the statement reads: nothing to say.
        let other = "SELECT id FROM posts WHERE to_tsvector($1, body) @@ to_tsquery($2, $3)";
        assert!(run(check, posts(), vec![], other).is_empty());
    }
}
