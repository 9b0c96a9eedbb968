//! `leading-wildcard-like`: `LIKE '%...'` (a pattern starting with a
//! wildcard) or `ILIKE` on a hot statement. A btree can only use a LIKE's
//! literal prefix, and ILIKE has none, so every call scans the table. A
//! trigram GIN index (pg_trgm) serves both.
//!
//! pg_stat_statements replaces pattern literals with `$n`, so `LIKE $1`
//! cannot be judged from the text and stays silent; ILIKE is reported
//! whatever its pattern. Also silent when a trigram index on the column exists.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::candidate::KeyTarget;
use crate::analyze::indexes::serve::normalize_sql;
use crate::analyze::queries::{IndexKey, PredicateOp, TableAccess};
use crate::analyze::rule::RuleId;
use crate::ident::quote;

pub const RULE: RuleId = RuleId::LeadingWildcardLike;

/// Whether a valid trigram index (GIN or GiST) leads with this key.
fn has_trigram_index(context: &Context, access: &TableAccess, key: &IndexKey) -> bool {
    context.snapshot.indexes_of(&access.table).any(|i| {
        i.is_valid
            && i.keys.iter().any(|k| {
                let same = match (key, &k.column, &k.expression) {
                    (IndexKey::Column(c), Some(col), _) => c == col,
                    (IndexKey::Expression { sql, .. }, None, Some(e)) => {
                        normalize_sql(sql) == normalize_sql(e)
                    }
                    _ => false,
                };
                same && k.opclass.as_deref().is_some_and(|o| o.contains("trgm"))
            })
    })
}

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    for access in &hot.analyzed.shape.accesses {
        let predicates = access.filters.iter().chain(
            access
                .or_groups
                .iter()
                .flat_map(|g| g.branches.iter().flat_map(|b| &b.predicates)),
        );
        for p in predicates {
            let operator = match &p.op {
                PredicateOp::LeadingWildcardLike => "LIKE '%...'",
                PredicateOp::ILike { .. } => "ILIKE",
                _ => continue,
            };
            if has_trigram_index(context, access, &p.key) {
                continue;
            }
            let (label, key_sql, name_part) = match &p.key {
                IndexKey::Column(c) => (c.clone(), quote(c), c.clone()),
                IndexKey::Expression { sql, columns } => {
                    (sql.clone(), format!("({sql})"), columns.join("_"))
                }
            };
            let extension = if context.snapshot.extension("pg_trgm").is_some() {
                String::new()
            } else {
                "CREATE EXTENSION IF NOT EXISTS pg_trgm; ".to_string()
            };
            // The advisor's own trigram proposal for this key, when it made
            // one: the fix names that index, so applying both never builds two.
            let proposed = context.proposals.iter().find(|proposal| {
                proposal.table_name == access.table
                    && proposal.key_specs.first().is_some_and(|k| {
                        k.opclass.as_deref().is_some_and(|o| o.contains("trgm"))
                            && match (&k.key, &p.key) {
                                (KeyTarget::Column(a), IndexKey::Column(b)) => a == b,
                                (KeyTarget::Expression(a), IndexKey::Expression { sql, .. }) => {
                                    normalize_sql(a) == normalize_sql(sql)
                                }
                                _ => false,
                            }
                    })
            });
            let ddl = match proposed {
                Some(proposal) => format!("{extension}{};", proposal.ddl),
                None => format!(
                    "{extension}CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING gin ({key_sql} gin_trgm_ops);",
                    quote(&format!("{}_{name_part}_trgm_idx", access.table.name)),
                    access.table
                ),
            };
            findings.push(statement_finding(
                RULE,
                Severity::Medium,
                access.table.to_string(),
                hot,
                FindingText {
                    title: format!("{operator} on {}.{label}: no btree can help", access.table),
                    detail:
                        "A btree serves only a LIKE's literal prefix; a pattern starting with a \
                             wildcard, or any ILIKE, reads the whole table on every call."
                            .to_string(),
                    fix: Some(ddl.clone()),
                    details: serde_json::json!({
                        "table": access.table.to_string(),
                        "key": label,
                        "operator": operator,
                        "ddl": ddl,
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
    use crate::analyze::antipatterns::testing::run;
    use crate::analyze::health::fixture;

    #[test]
    fn wildcard_and_case_insensitive_patterns_are_reported() {
        let trigram = {
            let mut i = fixture::index("users", "users_email_trgm", &["email"]);
            i.method = "gin".into();
            i.keys[0].opclass = Some("gin_trgm_ops".into());
            i
        };
        let cases = [
            ("SELECT * FROM users WHERE name LIKE '%smith'", vec![], true),
            ("SELECT * FROM users WHERE name ILIKE $1", vec![], true),
            (
                "SELECT id FROM users WHERE name = $1 OR name ILIKE $2",
                vec![],
                true,
            ),
            // Silent.
            ("SELECT * FROM users WHERE name LIKE 'smi%'", vec![], false),
            ("SELECT * FROM users WHERE name LIKE $1", vec![], false),
            (
                "SELECT * FROM users WHERE email ILIKE $1",
                vec![trigram.clone()],
                false,
            ),
        ];
        for (query, indexes, expected) in cases {
            let findings = run(
                check,
                vec![fixture::table(
                    "users",
                    100_000.0,
                    &["id", "name:text", "email:text"],
                )],
                indexes,
                query,
            );
            assert_eq!(findings.len(), usize::from(expected), "{query}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.users");
                assert_eq!(
                    f.fix.as_deref(),
                    Some("CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_trgm_idx ON public.users USING gin (name gin_trgm_ops);")
                );
            }
        }
    }

    #[test]
    fn the_fix_is_the_advisors_own_trigram_proposal_when_there_is_one() {
        let findings = crate::analyze::antipatterns::testing::run_advised(
            check,
            vec![fixture::table(
                "users",
                100_000.0,
                &["id", "name:text", "email:text"],
            )],
            vec![],
            "SELECT id FROM users WHERE name ILIKE $1",
            true,
        );
        let fix = findings
            .first()
            .and_then(|f| f.fix.clone())
            .expect("a finding with a fix");
        // The proposal's DDL (its name and all), not a second index of its own.
        assert!(
            fix.contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_gin_idx ON public.users USING gin (name gin_trgm_ops)"),
            "{fix}"
        );
        assert!(!fix.contains("users_name_trgm_idx"), "{fix}");
    }
}
