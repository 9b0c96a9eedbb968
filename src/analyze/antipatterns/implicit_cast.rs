//! `implicit-cast`: a column compared with a value of a type from another
//! btree operator family, so PostgreSQL converts the column instead of the
//! value and the column's index no longer applies: `int_col = $1::numeric`,
//! `char_col = $1::text`, or a cast written on the column (`id::text = $1`).
//!
//! Types of one family compare across without losing the index (integer with
//! bigint, varchar with text, date with timestamp), so those stay silent, as
//! does a cast on the column that an expression index matches.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::serve::normalize_sql;
use crate::analyze::queries::{AccessNote, IndexKey, PredicateClass, TableAccess};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::ImplicitCast;

/// The btree operator family a type's comparisons belong to.
pub fn family(data_type: &str) -> String {
    let lower = data_type.trim().to_ascii_lowercase();
    let base = lower.split('(').next().unwrap_or("").trim().to_string();
    match base.as_str() {
        "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" => "integer",
        "real" | "double precision" | "float4" | "float8" | "double" | "float" => "float",
        "numeric" | "decimal" => "numeric",
        "text" | "varchar" | "character varying" | "name" => "text",
        "character" | "char" | "bpchar" => "bpchar",
        "date"
        | "timestamp"
        | "timestamptz"
        | "timestamp with time zone"
        | "timestamp without time zone" => "datetime",
        other => return other.to_string(),
    }
    .to_string()
}

/// `col::type` or `CAST(col AS type)` as sqlparser prints it: (column, type).
pub fn column_cast(sql: &str) -> Option<(String, String)> {
    let sql = sql.trim();
    let ident = |s: &str| {
        let s = s.trim().trim_matches('"');
        (!s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')).then(|| s.to_string())
    };
    if let Some((column, ty)) = sql.split_once("::") {
        return Some((ident(column)?, ty.trim().to_string()));
    }
    let upper = sql.to_ascii_uppercase();
    if upper.starts_with("CAST(") && sql.ends_with(')') {
        let inner = &sql[5..sql.len() - 1];
        let at = inner.to_ascii_uppercase().find(" AS ")?;
        return Some((ident(&inner[..at])?, inner[at + 4..].trim().to_string()));
    }
    None
}

fn column_type(context: &Context, access: &TableAccess, column: &str) -> Option<String> {
    context
        .table(access)?
        .columns
        .iter()
        .find(|c| c.name == column)
        .map(|c| c.data_type.clone())
}

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    for access in &hot.analyzed.shape.accesses {
        // (column, column type, other type, how it was written)
        let mut casts: Vec<(String, String, String, String)> = Vec::new();
        for note in &access.notes {
            let AccessNote::ParameterCastMismatch {
                column,
                column_type,
                cast_type,
            } = note;
            if family(column_type) != family(cast_type) {
                casts.push((
                    column.clone(),
                    column_type.clone(),
                    cast_type.clone(),
                    format!("{column} compared with a parameter cast to {cast_type}"),
                ));
            }
        }
        for p in &access.filters {
            let IndexKey::Expression { sql, .. } = &p.key else {
                continue;
            };
            if !matches!(p.class(), PredicateClass::Equality | PredicateClass::Range) {
                continue;
            }
            let Some((column, ty)) = column_cast(sql) else {
                continue;
            };
            let Some(col_type) = column_type(context, access, &column) else {
                continue;
            };
            let indexed = context.snapshot.indexes_of(&access.table).any(|i| {
                i.is_valid
                    && i.keys
                        .first()
                        .and_then(|k| k.expression.as_deref())
                        .map(normalize_sql)
                        == Some(normalize_sql(sql))
            });
            if family(&col_type) != family(&ty) && !indexed {
                casts.push((column, col_type, ty, format!("{sql} in the WHERE clause")));
            }
        }
        for (column, column_type, other, how) in casts {
            findings.push(statement_finding(
                RULE,
                Severity::Medium,
                access.table.to_string(),
                hot,
                FindingText {
                    title: format!(
                        "{}.{column} ({column_type}) compared as {other}: its index cannot be used",
                        access.table
                    ),
                    detail: format!(
                        "{how}: the comparison happens in {other}, so PostgreSQL converts every row's \
                         {column} and an index on {column} does not apply."
                    ),
                    fix: Some(format!(
                        "Compare {column} with a value of its own type ($n::{column_type}, or the \
                         driver's matching parameter type), not a cast of the column."
                    )),
                    details: serde_json::json!({
                        "table": access.table.to_string(),
                        "column": column,
                        "column_type": column_type,
                        "compared_as": other,
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
    fn casts_across_operator_families_are_reported() {
        let expression_index = {
            let mut i = fixture::index("t", "t_id_text", &["id"]);
            i.keys[0].column = None;
            i.keys[0].expression = Some("(id)::text".into());
            i
        };
        let cases = [
            ("SELECT * FROM t WHERE id = $1::numeric", vec![], true),
            ("SELECT * FROM t WHERE code = $1::text", vec![], true),
            ("SELECT * FROM t WHERE id::text = $1", vec![], true),
            ("SELECT * FROM t WHERE CAST(id AS TEXT) = $1", vec![], true),
            // Silent.
            ("SELECT * FROM t WHERE id = $1::int", vec![], false),
            ("SELECT * FROM t WHERE name = $1::text", vec![], false),
            (
                "SELECT * FROM t WHERE created_at >= $1::timestamp",
                vec![],
                false,
            ),
            ("SELECT * FROM t WHERE id = $1", vec![], false),
            (
                "SELECT * FROM t WHERE id::text = $1",
                vec![expression_index.clone()],
                false,
            ),
        ];
        for (query, indexes, expected) in cases {
            let findings = run(
                check,
                vec![fixture::table(
                    "t",
                    100_000.0,
                    &[
                        "id",
                        "code:character(8)",
                        "name:character varying(40)",
                        "created_at:timestamp with time zone",
                    ],
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
                assert_eq!(f.object, "public.t");
            }
        }
    }

    #[test]
    fn casts_on_columns_are_recognised() {
        assert_eq!(column_cast("id::TEXT"), Some(("id".into(), "TEXT".into())));
        assert_eq!(
            column_cast("CAST(id AS TEXT)"),
            Some(("id".into(), "TEXT".into()))
        );
        assert_eq!(column_cast("lower(email)"), None);
        assert_eq!(column_cast("(a + b)::text"), None);
    }
}
