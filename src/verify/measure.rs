//! `pgadvise verify --analyze`: runs each SELECT an index is for with
//! `EXPLAIN (ANALYZE, BUFFERS)` and representative parameter values from
//! pg_stats, and compares its actual time with pg_stat_statements' mean from
//! before the index.
//!
//! Unlike the rest of `verify`, this executes statements: only plain SELECTs,
//! inside a `READ ONLY` transaction that is rolled back. Data-modifying
//! statements and row-locking SELECTs are skipped with the reason.

use super::outcome::{IndexCheck, Measurement, QueryOutcome};
use super::{VerifyError, WhatIf};
use crate::analyze::queries::{normalize_statement, tokenize, TokenKind};
use crate::collect::SQL_TAG;
use crate::format::sql_literal;
use crate::snapshot::QualifiedName;
use crate::verification_plan::VerificationPlan;
use serde_json::Value;
use tokio_postgres::SimpleQueryMessage;

/// Where a parameter sits in the statement, for choosing its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParameterUse {
    /// Compared with this column (`col = $n`, `col < $n`, `col IN ($n)`).
    Column(String),
    /// `col = ANY($n)`: an array of the column's type.
    ColumnArray(String),
    Limit,
    Offset,
    Unknown,
}

/// How each `$n` (index n-1) is used, from the tokens around it.
pub(crate) fn parameter_uses(sql: &str) -> Vec<ParameterUse> {
    let tokens: Vec<_> = tokenize(sql)
        .into_iter()
        .filter(|t| {
            !matches!(
                t.kind,
                TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
            )
        })
        .collect();
    let text = |i: usize| &sql[tokens[i].start..tokens[i].end];
    let word =
        |i: usize, w: &str| tokens[i].kind == TokenKind::Word && text(i).eq_ignore_ascii_case(w);
    let column_at = |i: usize| match tokens[i].kind {
        TokenKind::Word => Some(text(i).to_ascii_lowercase()),
        TokenKind::QuotedIdentifier => Some(text(i).trim_matches('"').replace("\"\"", "\"")),
        _ => None,
    };
    let mut uses: Vec<ParameterUse> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.kind != TokenKind::Parameter {
            continue;
        }
        let Ok(n) = text(i)[1..].parse::<usize>() else {
            continue;
        };
        let comparison = ["=", "<", "<=", ">", ">=", "<>", "!="];
        let use_ = if i >= 1 && word(i - 1, "limit") {
            ParameterUse::Limit
        } else if i >= 1 && word(i - 1, "offset") {
            ParameterUse::Offset
        } else if i >= 2 && comparison.contains(&text(i - 1)) {
            column_at(i - 2).map_or(ParameterUse::Unknown, ParameterUse::Column)
        } else if i >= 4 && text(i - 1) == "(" && word(i - 2, "any") && text(i - 3) == "=" {
            column_at(i - 4).map_or(ParameterUse::Unknown, ParameterUse::ColumnArray)
        } else if i >= 3 && text(i - 1) == "(" && word(i - 2, "in") {
            column_at(i - 3).map_or(ParameterUse::Unknown, ParameterUse::Column)
        } else if i >= 2 && text(i - 1) == "," {
            // Later items of an IN list: the same column as the first.
            let mut j = i - 1;
            while j > 0 && text(j) != "(" {
                j -= 1;
            }
            if j >= 2 && word(j - 1, "in") {
                column_at(j - 2).map_or(ParameterUse::Unknown, ParameterUse::Column)
            } else {
                ParameterUse::Unknown
            }
        } else {
            ParameterUse::Unknown
        };
        if uses.len() < n {
            uses.resize(n, ParameterUse::Unknown);
        }
        if uses[n - 1] == ParameterUse::Unknown {
            uses[n - 1] = use_;
        }
    }
    uses
}

/// Why a statement must not be executed, if so.
pub(crate) fn refusal(sql: &str) -> Option<String> {
    let tokens: Vec<_> = tokenize(sql)
        .into_iter()
        .filter(|t| t.kind == TokenKind::Word)
        .map(|t| sql[t.start..t.end].to_ascii_uppercase())
        .collect();
    let first = tokens.first().map(String::as_str).unwrap_or("");
    if first != "SELECT" {
        return Some(format!(
            "not a SELECT ({first}): EXPLAIN ANALYZE would execute it and change data"
        ));
    }
    if tokens
        .windows(2)
        .any(|w| w[0] == "FOR" && matches!(w[1].as_str(), "UPDATE" | "SHARE" | "NO" | "KEY"))
    {
        return Some(
            "a row-locking SELECT (FOR UPDATE/SHARE) cannot run in a read-only transaction"
                .to_string(),
        );
    }
    None
}

/// A representative value of `table.column`: its most common value, else the
/// middle histogram bound.
async fn representative(
    whatif: &WhatIf,
    table: &QualifiedName,
    column: &str,
) -> Result<Option<String>, VerifyError> {
    let rows = whatif
        .client()
        .query(
            &format!(
                "SELECT {SQL_TAG} coalesce((most_common_vals::text::text[])[1], \
                 (histogram_bounds::text::text[])[greatest(1, array_length(histogram_bounds::text::text[], 1) / 2)]) \
                 FROM pg_catalog.pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3"
            ),
            &[&table.schema, &table.name, &column],
        )
        .await
        .map_err(|e| VerifyError::query(format!("reading pg_stats for {table}.{column}"), &e))?;
    Ok(rows.first().and_then(|r| r.get::<_, Option<String>>(0)))
}

/// Measures every checked SELECT of every plan, in place on `checks`.
pub async fn run(
    whatif: &WhatIf,
    plans: &[VerificationPlan],
    checks: &mut [IndexCheck],
) -> Result<(), VerifyError> {
    let mut n = 0;
    for (plan, check) in plans.iter().zip(checks.iter_mut()) {
        for (q, result) in plan.queries.iter().zip(check.queries.iter_mut()) {
            if result.outcome == QueryOutcome::Skip {
                continue;
            }
            n += 1;
            let measurement =
                measure(whatif, &plan.table, &q.query, q.mean_exec_time_ms, n).await?;
            result.measurement = Some(measurement);
        }
    }
    Ok(())
}

async fn measure(
    whatif: &WhatIf,
    table: &QualifiedName,
    query: &str,
    mean_before_ms: Option<f64>,
    n: usize,
) -> Result<Measurement, VerifyError> {
    let sql = normalize_statement(query);
    let mut m = Measurement {
        parameters: Vec::new(),
        execution_time_ms: None,
        mean_before_ms,
        shared_hit_blocks: None,
        shared_read_blocks: None,
        skipped: None,
    };
    if let Some(reason) = refusal(&sql) {
        m.skipped = Some(reason);
        return Ok(m);
    }
    let mut values = Vec::new();
    for (i, u) in parameter_uses(&sql).into_iter().enumerate() {
        let value = match &u {
            ParameterUse::Limit => Some("100".to_string()),
            ParameterUse::Offset => Some("0".to_string()),
            ParameterUse::Column(c) => representative(whatif, table, c)
                .await?
                .map(|v| sql_literal(&v)),
            ParameterUse::ColumnArray(c) => representative(whatif, table, c).await?.map(|v| {
                sql_literal(&format!(
                    "{{\"{}\"}}",
                    v.replace('\\', "\\\\").replace('"', "\\\"")
                ))
            }),
            ParameterUse::Unknown => None,
        };
        let Some(value) = value else {
            m.skipped = Some(format!(
                "no representative value for ${} (pg_stats has none for its column, or pgadvise cannot tell its column)",
                i + 1
            ));
            return Ok(m);
        };
        m.parameters.push(format!("${} = {value}", i + 1));
        values.push(value);
    }
    let name = format!("pgadvise_measure_{n}");
    let args = if values.is_empty() {
        String::new()
    } else {
        format!("({})", values.join(", "))
    };
    let client = whatif.client();
    // Read-only and rolled back; a custom plan, since the values are known.
    let script = format!(
        "BEGIN {SQL_TAG} READ ONLY; SET {SQL_TAG} LOCAL plan_cache_mode = force_custom_plan; \
         PREPARE {SQL_TAG} {name} AS {}",
        sql.trim().trim_end_matches(';')
    );
    let result = async {
        client.batch_execute(&script).await?;
        client
            .simple_query(&format!(
                "EXPLAIN {SQL_TAG} (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}{args}"
            ))
            .await
    }
    .await;
    let _ = client
        .batch_execute(&format!("ROLLBACK; DEALLOCATE {SQL_TAG} {name}"))
        .await;
    let _ = client.batch_execute("ROLLBACK").await;
    match result {
        Ok(messages) => {
            let json = messages.iter().find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            });
            let doc: Option<Value> = json.and_then(|j| serde_json::from_str(&j).ok());
            let top = doc.as_ref().and_then(|d| d.get(0));
            m.execution_time_ms = top
                .and_then(|t| t.get("Execution Time"))
                .and_then(Value::as_f64);
            let plan = top.and_then(|t| t.get("Plan"));
            m.shared_hit_blocks = plan
                .and_then(|p| p.get("Shared Hit Blocks"))
                .and_then(Value::as_i64);
            m.shared_read_blocks = plan
                .and_then(|p| p.get("Shared Read Blocks"))
                .and_then(Value::as_i64);
        }
        Err(e) => {
            m.skipped = Some(format!(
                "EXPLAIN ANALYZE failed: {}",
                crate::collect::db_message(&e)
            ))
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_map_to_columns_limits_and_offsets() {
        use ParameterUse::*;
        let cases: [(&str, Vec<ParameterUse>); 4] = [
            (
                "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2",
                vec![Column("conversation_id".into()), Limit],
            ),
            (
                "SELECT * FROM t WHERE \"Odd Col\" >= $2 AND id = ANY($1) LIMIT $3 OFFSET $4",
                vec![ColumnArray("id".into()), Column("Odd Col".into()), Limit, Offset],
            ),
            ("SELECT * FROM t WHERE a IN ($1, $2)", vec![Column("a".into()), Column("a".into())]),
            ("SELECT $1 FROM t WHERE lower(email) = $2", vec![Unknown, Unknown]),
        ];
        for (sql, expected) in cases {
            assert_eq!(parameter_uses(sql), expected, "{sql}");
        }
    }

    #[test]
    fn only_plain_selects_run() {
        assert!(refusal("SELECT 1 FROM t WHERE a = $1").is_none());
        assert!(refusal("UPDATE t SET a = 1")
            .unwrap()
            .contains("not a SELECT"));
        assert!(refusal("DELETE FROM t").is_some());
        assert!(refusal("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x").is_some());
        assert!(refusal("SELECT id FROM t LIMIT $1 FOR UPDATE SKIP LOCKED")
            .unwrap()
            .contains("row-locking"));
    }
}
