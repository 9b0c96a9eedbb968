//! `offset-pagination`: `LIMIT ... OFFSET $n` on a hot statement. The server
//! produces and throws away every skipped row, so page n costs n pages: the
//! deeper an export or an infinite scroll goes, the slower each page, and
//! rows inserted or deleted between requests shift the pages.
//!
//! The fix is keyset pagination: remember the sort key (plus the primary key
//! as a tie-breaker) of the last row served and start after it. For a
//! single-table statement the finding carries that very statement rewritten
//! (`WHERE ... AND (keys) > ($last) ORDER BY keys LIMIT`); for others, the
//! recipe.

use super::{statement_finding, Context, FindingText, HotStatement};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::queries::{
    tokenize, AccessOrigin, AccessRole, IndexKey, SortDirection, StatementKind, TableAccess,
    TokenKind,
};
use crate::analyze::rule::RuleId;
use crate::ident::quote;

pub const RULE: RuleId = RuleId::OffsetPagination;

pub fn check(context: &Context, hot: &HotStatement) -> Vec<Finding> {
    let shape = &hot.analyzed.shape;
    if shape.kind != StatementKind::Select {
        return Vec::new();
    }
    let Some(access) = shape.accesses.iter().find(|a| {
        a.flags.offset && a.origin == AccessOrigin::Statement && a.role == AccessRole::Read
    }) else {
        return Vec::new();
    };
    let primary_key = primary_key_columns(context, access);
    let keys = keyset_keys(access, &primary_key);
    let rewrite = match (&keys, shape.accesses.len()) {
        (Some(keys), 1) => keyset_rewrite(
            &hot.analyzed.statement.query,
            keys,
            access.sort.len(),
            access.alias.as_deref(),
        ),
        _ => None,
    };
    let fix = match &rewrite {
        Some(sql) => {
            format!("Keyset pagination: {sql} (pass the last row's keys of the previous page)")
        }
        None => "Keyset pagination: ORDER BY a unique key (sort keys plus the primary key), and \
                 instead of OFFSET filter WHERE (sort keys) > (the last row's keys) with the same \
                 LIMIT."
            .to_string(),
    };
    let key_names: Vec<String> = keys
        .as_ref()
        .map(|k| k.iter().map(|(c, _)| c.clone()).collect())
        .unwrap_or_default();
    vec![statement_finding(
        RULE,
        Severity::Medium,
        access.table.to_string(),
        hot,
        FindingText {
            title: format!("OFFSET pagination on {}", access.table),
            detail: "Every page reads and discards all rows before it: page n costs n pages, so a \
                     deep page or a full export grows quadratically, and concurrent writes shift rows \
                     between pages."
                .to_string(),
            fix: Some(fix),
            details: serde_json::json!({
                "table": access.table.to_string(),
                "keyset_keys": key_names,
                "keyset_rewrite": rewrite,
            }),
        },
    )]
}

/// The table's primary key columns, when it has one on plain columns.
fn primary_key_columns(context: &Context, access: &TableAccess) -> Vec<String> {
    context
        .snapshot
        .indexes_of(&access.table)
        .find(|i| i.is_primary)
        .and_then(|i| i.keys.iter().map(|k| k.column.clone()).collect())
        .unwrap_or_default()
}

/// The keys the keyset walks: the ORDER BY keys (plain columns), then the
/// primary key columns not among them, in the direction of the last sort key.
/// None when a sort key is an expression or nothing makes the order unique.
fn keyset_keys(
    access: &TableAccess,
    primary_key: &[String],
) -> Option<Vec<(String, SortDirection)>> {
    if access.flags.order_by && access.sort.is_empty() {
        // ORDER BY over several tables: no single-table rewrite.
        return None;
    }
    let mut keys = Vec::new();
    for sort in &access.sort {
        match &sort.key {
            IndexKey::Column(c) => keys.push((c.clone(), sort.direction)),
            IndexKey::Expression { .. } => return None,
        }
    }
    let direction = keys.last().map_or(SortDirection::Asc, |(_, d)| *d);
    for column in primary_key {
        if !keys.iter().any(|(c, _)| c == column) {
            keys.push((column.clone(), direction));
        }
    }
    (!keys.is_empty()).then_some(keys)
}

/// Top-level clause keywords that end a WHERE condition or an ORDER BY list.
const CLAUSES: &[&str] = &[
    "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "OFFSET", "FETCH", "FOR",
];

/// `sql` (one single-table SELECT) with OFFSET replaced by a keyset condition
/// on `keys`, new parameters numbered after the statement's own. The first
/// `written_sort` keys are the statement's own ORDER BY; the rest are added to it.
pub fn keyset_rewrite(
    sql: &str,
    keys: &[(String, SortDirection)],
    written_sort: usize,
    alias: Option<&str>,
) -> Option<String> {
    // (upper-case word, start, end) of top-level words; the highest $n.
    let mut words: Vec<(String, usize, usize)> = Vec::new();
    let mut depth = 0i32;
    let mut max_parameter = 0u32;
    // (number, start) of each parameter.
    let mut parameters_at: Vec<(u32, usize)> = Vec::new();
    for token in tokenize(sql) {
        let text = &sql[token.start..token.end];
        match token.kind {
            TokenKind::Symbol => {
                depth += text.matches('(').count() as i32 - text.matches(')').count() as i32;
            }
            TokenKind::Word if depth == 0 => {
                words.push((text.to_ascii_uppercase(), token.start, token.end));
            }
            TokenKind::Parameter => {
                let n = text.trim_start_matches('$').parse().unwrap_or(0);
                max_parameter = max_parameter.max(n);
                parameters_at.push((n, token.start));
            }
            _ => {}
        }
    }
    let has = |w: &str| words.iter().any(|(x, _, _)| x == w);
    if ["UNION", "INTERSECT", "EXCEPT", "GROUP", "FETCH", "WINDOW"]
        .iter()
        .any(|w| has(w))
        || sql.contains(';')
    {
        return None;
    }
    let position = |w: &str| words.iter().position(|(x, _, _)| x == w);
    let from = position("FROM")?;
    let offset = position("OFFSET")?;
    // The next top-level clause after word index `i`, as a byte offset.
    let clause_after = |i: usize| {
        words[i + 1..]
            .iter()
            .find(|(w, _, _)| CLAUSES.contains(&w.as_str()))
            .map_or(sql.trim_end().len(), |(_, start, _)| *start)
    };
    let qualify = |c: &str| match alias {
        Some(a) => format!("{}.{}", quote(a), quote(c)),
        None => quote(c),
    };
    let columns: Vec<String> = keys.iter().map(|(c, _)| qualify(c)).collect();
    // OFFSET's own parameter becomes the first key's (a parameter left
    // unused would have no type, and PREPARE would refuse the statement).
    let offset_parameter = parameters_at
        .iter()
        .find(|(_, at)| *at > words[offset].2 && *at < clause_after(offset))
        .map(|(n, _)| *n);
    let mut numbers: Vec<u32> = offset_parameter.into_iter().collect();
    numbers.extend(
        (1..)
            .map(|n| max_parameter + n)
            .take(keys.len() - numbers.len()),
    );
    let parameters: Vec<String> = numbers.iter().map(|n| format!("${n}")).collect();
    let uniform = keys.iter().all(|(_, d)| *d == keys[0].1);
    let condition = if keys.len() == 1 || uniform {
        let op = if keys[0].1 == SortDirection::Desc {
            "<"
        } else {
            ">"
        };
        if keys.len() == 1 {
            format!("{} {op} {}", columns[0], parameters[0])
        } else {
            format!("({}) {op} ({})", columns.join(", "), parameters.join(", "))
        }
    } else {
        // Mixed directions: a row comparison cannot express it; spell it out.
        let branches: Vec<String> = (0..keys.len())
            .map(|i| {
                let mut parts: Vec<String> = (0..i)
                    .map(|j| format!("{} = {}", columns[j], parameters[j]))
                    .collect();
                let op = if keys[i].1 == SortDirection::Desc {
                    "<"
                } else {
                    ">"
                };
                parts.push(format!("{} {op} {}", columns[i], parameters[i]));
                parts.join(" AND ")
            })
            .collect();
        format!("({})", branches.join(" OR "))
    };

    // Edits as (start, end, replacement), applied back to front.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    // OFFSET $n [ROW|ROWS]: removed with the white space before it.
    let offset_start = sql[..words[offset].1].trim_end().len();
    let offset_end = sql[..clause_after(offset)].trim_end().len();
    edits.push((offset_start, offset_end, String::new()));
    match position("WHERE") {
        Some(w) => {
            let start = words[w].2;
            let end = sql[..clause_after(w)].trim_end().len();
            let existing = sql[start..end].trim();
            let has_or = words
                .iter()
                .any(|(x, s, _)| x == "OR" && *s > start && *s < end);
            let combined = if has_or {
                format!(" ({existing}) AND {condition}")
            } else {
                format!(" {existing} AND {condition}")
            };
            edits.push((start, end, combined));
        }
        None => {
            let at = sql[..clause_after(from)].trim_end().len();
            edits.push((at, at, format!(" WHERE {condition}")));
        }
    }
    let order_list: Vec<String> = keys
        .iter()
        .zip(&columns)
        .map(|((_, d), c)| match d {
            SortDirection::Asc => c.clone(),
            SortDirection::Desc => format!("{c} DESC"),
        })
        .collect();
    match position("ORDER") {
        Some(o) => {
            // Keep the written ORDER BY and append the tie-breakers it lacks.
            let end = sql[..clause_after(o)].trim_end().len();
            let extra = &order_list[written_sort.min(order_list.len())..];
            if !extra.is_empty() {
                edits.push((end, end, format!(", {}", extra.join(", "))));
            }
        }
        None => {
            let at = match position("LIMIT") {
                Some(l) => sql[..words[l].1].trim_end().len(),
                None => offset_start,
            };
            edits.push((at, at, format!(" ORDER BY {}", order_list.join(", "))));
        }
    }
    edits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut out = sql.trim_end().to_string();
    for (start, end, replacement) in edits {
        if start > end || end > out.len() {
            return None;
        }
        out.replace_range(start..end, &replacement);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::antipatterns::testing::run;
    use crate::analyze::health::fixture;

    fn tables() -> Vec<crate::snapshot::Table> {
        vec![
            fixture::table(
                "events",
                100_000.0,
                &["id", "day", "created_at", "path:text"],
            ),
            fixture::table("users", 1000.0, &["id", "name:text"]),
        ]
    }

    fn rewrite_of(query: &str) -> Option<String> {
        let findings = run(
            check,
            tables(),
            vec![fixture::primary_key("events", "events_pkey", &["id"])],
            query,
        );
        assert_eq!(findings.len(), 1, "{query}");
        assert_eq!(findings[0].rule, RULE);
        assert_eq!(findings[0].object, "public.events");
        assert_eq!(findings[0].queryid, Some(7));
        findings[0].evidence["details"]["keyset_rewrite"]
            .as_str()
            .map(String::from)
    }

    #[test]
    fn offset_pages_get_the_keyset_rewrite_of_that_query() {
        let cases = [
            (
                "SELECT * FROM events WHERE day = $1 LIMIT $2 OFFSET $3",
                "SELECT * FROM events WHERE day = $1 AND id > $3 ORDER BY id LIMIT $2",
            ),
            (
                "SELECT * FROM events ORDER BY created_at DESC LIMIT $1 OFFSET $2",
                "SELECT * FROM events WHERE (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $1",
            ),
            (
                "SELECT id FROM events WHERE day = $1 OR day = $2 ORDER BY id LIMIT $3 OFFSET $4",
                "SELECT id FROM events WHERE (day = $1 OR day = $2) AND id > $4 ORDER BY id LIMIT $3",
            ),
            (
                "SELECT e.id FROM events e WHERE e.day = $1 ORDER BY e.created_at, e.id DESC LIMIT $2 OFFSET $3",
                "SELECT e.id FROM events e WHERE e.day = $1 AND (e.created_at > $3 OR e.created_at = $3 AND e.id < $4) ORDER BY e.created_at, e.id DESC LIMIT $2",
            ),
            (
                "SELECT * FROM events WHERE day = $1 LIMIT $2 OFFSET $3 FOR UPDATE",
                "SELECT * FROM events WHERE day = $1 AND id > $3 ORDER BY id LIMIT $2 FOR UPDATE",
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(rewrite_of(query).as_deref(), Some(expected), "{query}");
        }
    }

    #[test]
    fn joins_get_the_recipe_not_a_rewrite() {
        let query = "SELECT e.* FROM events e JOIN users u ON u.id = e.id ORDER BY u.name LIMIT $1 OFFSET $2";
        assert_eq!(rewrite_of(query), None);
    }

    #[test]
    fn silent_without_offset_or_outside_a_select() {
        for query in [
            "SELECT * FROM events WHERE day = $1 ORDER BY id LIMIT $2",
            "SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2",
            "DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events WHERE day = $1 LIMIT $2))",
            "SELECT * FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT $1 OFFSET $2)",
        ] {
            let findings = run(
                check,
                tables(),
                vec![fixture::primary_key("events", "events_pkey", &["id"])],
                query,
            );
            assert!(findings.is_empty(), "{query}: {findings:?}");
        }
    }
}
