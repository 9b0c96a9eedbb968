//! GIN and GiST proposals: one index per key a search operator is applied
//! to (see [`super::operator_class`]), over every hot statement that uses it,
//! with the operator class the union of their operators needs. hypopg cannot
//! build these, so each proposal says why it is unverified and gives the
//! evidence pgadvise has instead.

use super::candidate::{KeyTarget, PartialPredicate};
use super::method::AccessMethod;
use super::operator_class::{
    choose_class, class_serves, estimate_bytes, key_with_class, search_uses, SearchKind,
};
use super::render::{self, Storage};
use super::serve::normalize_sql;
use super::{IndexAdvice, IndexProposal, ServedByExisting, TableFilter, WriteCost};
use crate::analyze::workload::AnalyzedStatement;
use crate::format::{bytes, millis};
use crate::snapshot::{Index, QualifiedName, Snapshot, Statement, Table};
use std::collections::BTreeMap;

/// What is grouped into one proposal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    table: QualifiedName,
    key: String,
    kind: SearchKind,
    method: AccessMethod,
}

struct Group<'a> {
    target: KeyTarget,
    key_type: String,
    operators: Vec<String>,
    ordering: Vec<String>,
    statements: Vec<&'a Statement>,
}

/// Adds the search-index proposals (or the existing indexes that serve
/// them) of `hot` to `advice`; `taken` holds every name in use.
pub(super) fn propose(
    snapshot: &Snapshot,
    hot: &[&AnalyzedStatement],
    tables: &TableFilter,
    taken: &mut Vec<String>,
    advice: &mut IndexAdvice,
) {
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
    for analyzed in hot {
        for access in &analyzed.shape.accesses {
            if !tables.admits(&access.table) {
                continue;
            }
            let Some(table) = snapshot.table(&access.table.schema, &access.table.name) else {
                continue;
            };
            for use_ in search_uses(access, table) {
                let key_text = match &use_.key {
                    KeyTarget::Column(c) => c.clone(),
                    KeyTarget::Expression(e) => normalize_sql(e),
                };
                let group = groups
                    .entry(GroupKey {
                        table: access.table.clone(),
                        key: key_text,
                        kind: use_.kind,
                        method: use_.method,
                    })
                    .or_insert_with(|| Group {
                        target: use_.key.clone(),
                        key_type: use_.key_type.clone(),
                        operators: Vec::new(),
                        ordering: Vec::new(),
                        statements: Vec::new(),
                    });
                let list = if use_.ordering {
                    &mut group.ordering
                } else {
                    &mut group.operators
                };
                if !list.contains(&use_.operator) {
                    list.push(use_.operator.clone());
                    list.sort();
                }
                if !group
                    .statements
                    .iter()
                    .any(|s| s.queryid == analyzed.statement.queryid)
                {
                    group.statements.push(analyzed.statement);
                }
            }
        }
    }
    fold_trigram_filters_into_gist(&mut groups);
    for (key, group) in groups {
        let Some(table) = snapshot.table(&key.table.schema, &key.table.name) else {
            continue;
        };
        let mut queryids: Vec<i64> = group.statements.iter().map(|s| s.queryid).collect();
        queryids.sort_unstable();
        queryids.dedup();
        if let Some(existing) = snapshot
            .indexes_of(&key.table)
            .find(|i| existing_serves(snapshot, i, &key, &group))
        {
            advice.served_by_existing.push(ServedByExisting {
                table: key.table.to_string(),
                columns: vec![key_label(&group.target)],
                existing_index: existing.name.clone(),
                queryids,
            });
            continue;
        }
        let Some(chosen) = choose_class(
            snapshot,
            key.method,
            key.kind,
            &group.key_type,
            &group.operators,
            &group.ordering,
        ) else {
            continue;
        };
        let keys = vec![key_with_class(&group.target, &chosen.class)];
        let name = render::index_name_using(key.method, &key.table, &keys, &[], &|n| {
            taken.iter().any(|t| t == n)
        });
        taken.push(name.clone());
        let storage = Storage::of(key.method);
        let estimated = estimate_bytes(table, &group.target, key.kind, &chosen.class.name);
        let workload_time_ms: f64 = group
            .statements
            .iter()
            .map(|s| s.calls as f64 * s.mean_exec_time)
            .sum();
        let write_cost = table.stats.as_ref().map(|s| WriteCost {
            inserts: s.n_tup_ins,
            updates: s.n_tup_upd,
            deletes: s.n_tup_del,
            hot_update_ratio: (s.n_tup_upd > 0)
                .then(|| s.n_tup_hot_upd as f64 / s.n_tup_upd as f64),
        });
        let mut queries: Vec<String> = group.statements.iter().map(|s| s.query.clone()).collect();
        queries.dedup();
        let reason = reason(&key, &group, &chosen.class.name, chosen.class.is_default);
        let verification = verification(
            table,
            key.method,
            &group.statements,
            estimated,
            &group.target,
            write_cost.as_ref(),
        );
        let predicates: &[PartialPredicate] = &[];
        advice.proposals.push(IndexProposal {
            table: key.table.to_string(),
            columns: keys.iter().map(render::key_label).collect(),
            include: Vec::new(),
            predicate: None,
            method: key.method,
            ddl: render::create_index_sql_using(storage, &name, &key.table, &keys, &[], predicates),
            hypothetical_sql: render::hypothetical_index_sql_using(
                storage,
                &key.table,
                &keys,
                &[],
                predicates,
            ),
            hypothetical_full_sql: None,
            name,
            verified: false,
            verification: Some(verification),
            requires: chosen.missing_extension.into_iter().collect(),
            cost_before: None,
            cost_after: None,
            estimated_size_bytes: estimated,
            full_index_size_bytes: estimated,
            predicate_fraction: None,
            queryids,
            queries,
            workload_time_ms,
            estimated_time_saved_ms: None,
            marginal_cost_saving: None,
            served_with: Vec::new(),
            reason,
            write_cost,
            key_count: keys.len(),
            key_specs: keys.clone(),
            key_roles: Vec::new(),
            partial: Vec::new(),
            table_name: key.table.clone(),
            definition_tail: render::definition_tail_using(storage, &keys, &[], predicates),
            pages_per_range: None,
            plans: Vec::new(),
            estimated_selectivity: Vec::new(),
        });
    }
}

/// Where one statement orders a key by trigram distance (a GiST index) and
/// others only filter it (a GIN index), the GiST index serves the filters
/// too: one index on the key, not two.
fn fold_trigram_filters_into_gist(groups: &mut BTreeMap<GroupKey, Group>) {
    let gist_keys: Vec<GroupKey> = groups
        .keys()
        .filter(|k| k.kind == SearchKind::Trigram && k.method == AccessMethod::Gist)
        .cloned()
        .collect();
    for gist in gist_keys {
        let gin = GroupKey {
            method: AccessMethod::Gin,
            ..gist.clone()
        };
        let Some(filters) = groups.remove(&gin) else {
            continue;
        };
        if let Some(group) = groups.get_mut(&gist) {
            for operator in filters.operators {
                if !group.operators.contains(&operator) {
                    group.operators.push(operator);
                }
            }
            group.operators.sort();
            for statement in filters.statements {
                if !group
                    .statements
                    .iter()
                    .any(|s| s.queryid == statement.queryid)
                {
                    group.statements.push(statement);
                }
            }
        }
    }
}

fn key_label(target: &KeyTarget) -> String {
    match target {
        KeyTarget::Column(c) | KeyTarget::Expression(c) => c.clone(),
    }
}

/// Expression text as pg_get_indexdef and a statement compare: the casts
/// pg_get_indexdef adds to a configuration literal do not count.
fn comparable(sql: &str) -> String {
    normalize_sql(sql).replace("::regconfig", "")
}

/// A valid index of the same method on the same key (or a GiST trigram
/// index for trigram filters), whose class has every operator the
/// statements use.
fn existing_serves(snapshot: &Snapshot, index: &Index, key: &GroupKey, group: &Group) -> bool {
    let Some(method) = AccessMethod::from_name(&index.method) else {
        return false;
    };
    // A GiST trigram index serves trigram filters too (slower than a GIN,
    // but a second index on the key would cost more than it saves).
    let usable =
        method == key.method || (key.kind == SearchKind::Trigram && method == AccessMethod::Gist);
    if !index.is_valid || !index.is_ready || !usable {
        return false;
    }
    // A partial index serves only statements that imply its predicate:
    // nothing here knows that.
    if index.predicate.is_some() {
        return false;
    }
    index.keys.iter().any(|k| {
        let same_key = match (&group.target, &k.column, &k.expression) {
            (KeyTarget::Column(c), Some(column), _) => c == column,
            (KeyTarget::Expression(e), None, Some(expression)) => {
                comparable(e) == comparable(expression)
            }
            _ => false,
        };
        let mut operators = group.operators.clone();
        operators.extend(group.ordering.iter().cloned());
        same_key
            && class_serves(
                snapshot,
                method,
                key.kind,
                &group.key_type,
                k.opclass.as_deref(),
                &operators,
            )
    })
}

fn reason(key: &GroupKey, group: &Group, class: &str, is_default: bool) -> String {
    let statements = group.statements.len();
    let why_class = match (key.kind, class) {
        (SearchKind::Jsonb, "jsonb_path_ops") => {
            " (only @>, @?, @@ are used: jsonb_path_ops is smaller and faster than jsonb_ops)"
        }
        (SearchKind::Jsonb, _) => " (key-existence operators need jsonb_ops)",
        (SearchKind::Trigram, "gist_trgm_ops") => {
            " (only a GiST index returns rows nearest first by <->, so ORDER BY ... LIMIT stops \
             after them; it serves the trigram filters on the key as well)"
        }
        _ => "",
    };
    let mut operators = group.operators.clone();
    operators.extend(group.ordering.iter().map(|o| format!("ORDER BY {o}")));
    format!(
        "{} statement{}: {} ({}) on {}; a btree cannot serve it, a {} index with {}{} can{}",
        statements,
        if statements == 1 { "" } else { "s" },
        key.kind.label(),
        operators.join(", "),
        key_label(&group.target),
        key.method.label(),
        class,
        if is_default {
            " (the type's default class)"
        } else {
            ""
        },
        why_class,
    )
}

/// Why hypopg could not check it, and what speaks for it instead.
fn verification(
    table: &Table,
    method: AccessMethod,
    statements: &[&Statement],
    estimated_bytes: i64,
    target: &KeyTarget,
    writes: Option<&WriteCost>,
) -> String {
    let calls: i64 = statements.iter().map(|s| s.calls).sum();
    let total_ms: f64 = statements
        .iter()
        .map(|s| s.calls as f64 * s.mean_exec_time)
        .sum();
    let mean_ms = if calls > 0 {
        total_ms / calls as f64
    } else {
        0.0
    };
    // Statements given with --query or --queries-file carry no time.
    let timing = if total_ms > 0.0 {
        format!(
            "the statements took {} over {calls} call(s) (mean {})",
            millis(total_ms),
            millis(mean_ms)
        )
    } else {
        "no execution time is recorded for the statements (given with --query or \
         --queries-file, or too fast to measure)"
            .to_string()
    };
    let mut parts = vec![format!(
        "hypopg cannot simulate {} indexes, so no plan was made with it; evidence instead: \
         {timing}; {} holds {:.0} rows in {}; the index is estimated at {}",
        method.label(),
        QualifiedName::new(&table.schema, &table.name),
        table.reltuples.max(0.0),
        bytes(table.size_bytes),
        bytes(estimated_bytes),
    )];
    if let KeyTarget::Column(c) = target {
        if let Some(freq) = most_common_element_share(table, c) {
            // An element in most rows (a tag every row has) is no evidence
            // that lookups read few rows: say what it means instead.
            let meaning = if freq <= COMMON_ELEMENT_SHARE {
                "so a lookup for a typical element reads few of them"
            } else {
                "a lookup for that element reads much of the table; the index pays for rarer ones"
            };
            parts.push(format!(
                "the most common element of {c} is in {:.1}% of rows (pg_stats \
                 most_common_elems), {meaning}",
                freq * 100.0
            ));
        }
    }
    if method == AccessMethod::Gin {
        parts.push(match writes {
            Some(w) => format!(
                "every insert and every update of the row adds index entries: with fastupdate \
                 (the default) they wait in the pending list until a vacuum or \
                 gin_pending_list_limit merges them, and searches read that list meanwhile; the \
                 table had {} inserts, {} updates and {} deletes since its statistics were reset",
                w.inserts, w.updates, w.deletes
            ),
            None => "every insert and every update of the row adds index entries (pending list \
                     with fastupdate, merged by vacuum)"
                .to_string(),
        });
    }
    parts.push(AFTER_DEPLOYMENT.to_string());
    parts.join("; ")
}

/// The share of rows up to which the most common element still makes a
/// lookup selective.
const COMMON_ELEMENT_SHARE: f64 = 0.05;

/// The verification text's last part ([`super::evidence`] adds before it).
pub(super) const AFTER_DEPLOYMENT: &str =
    "after deployment, `pgadvise verify` with the migration's \
     verification plan checks that the planner reads through it";

/// The highest frequency among the column's most common elements (pg_stats
/// stores three extra numbers after them: min, max and null frequency).
fn most_common_element_share(table: &Table, column: &str) -> Option<f64> {
    let stats = table
        .columns
        .iter()
        .find(|c| c.name == column)?
        .stats
        .as_ref()?;
    let n = stats.most_common_elems.len();
    stats
        .most_common_elem_freqs
        .iter()
        .take(n)
        .copied()
        .fold(None, |max: Option<f64>, f| {
            Some(max.map_or(f, |m| m.max(f)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Column, ColumnStats};

    #[test]
    fn the_most_common_element_speaks_for_the_index_only_when_it_is_rare() {
        let table = |freqs: &[f64]| Table {
            schema: "public".into(),
            name: "articles".into(),
            reltuples: 1000.0,
            columns: vec![Column {
                name: "labels".into(),
                stats: Some(ColumnStats {
                    most_common_elems: freqs.iter().map(|_| Some("x".into())).collect(),
                    // pg_stats appends min, max and null frequency.
                    most_common_elem_freqs: freqs.iter().copied().chain([0.0, 1.0, 0.0]).collect(),
                    ..ColumnStats::default()
                }),
                ..Column::default()
            }],
            ..Table::default()
        };
        let cases: [(&[f64], Option<&str>); 4] = [
            (&[0.01, 0.02], Some("is in 2.0% of rows (pg_stats most_common_elems), so a lookup for a typical element reads few of them")),
            (&[0.05], Some("is in 5.0% of rows (pg_stats most_common_elems), so a lookup")),
            (&[1.0, 0.02], Some("is in 100.0% of rows (pg_stats most_common_elems), a lookup for that element reads much of the table")),
            (&[], None),
        ];
        for (freqs, expected) in cases {
            let text = verification(
                &table(freqs),
                AccessMethod::Gin,
                &[],
                8192,
                &KeyTarget::Column("labels".into()),
                None,
            );
            match expected {
                Some(part) => assert!(text.contains(part), "{freqs:?}: {text}"),
                None => assert!(!text.contains("most_common_elems"), "{text}"),
            }
            assert!(text.ends_with(AFTER_DEPLOYMENT), "{text}");
        }
    }
}
