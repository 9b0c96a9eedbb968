//! Indexes between the snapshots: those created (matched by definition, not
//! name) with the statements they can serve before and after, those dropped,
//! and those that stopped being used.

use super::counters::{table_window, TableWindow};
use super::model::{IndexEffect, IndexRef, ServedStatement, StoppedIndex};
use super::statements::{percent_change, StatementWindow};
use crate::analyze::indexes::candidate::KeyTarget;
use crate::analyze::indexes::serve::normalize_sql;
use crate::analyze::indexes::space::leading_keys;
use crate::analyze::workload::Workload;
use crate::snapshot::{Index, QualifiedName, Snapshot};
use std::collections::{HashMap, HashSet};

/// What makes two indexes the same index whatever their names: the table and
/// `pg_get_indexdef` without `CREATE [UNIQUE] INDEX <name> ON`, white space
/// and case folded (`public.orders USING btree (customer_id)`).
pub fn definition_key(index: &Index) -> (QualifiedName, String) {
    let name = crate::ident::quote(&index.name);
    let def = index.definition.as_str();
    let body = [
        format!("CREATE INDEX {name} ON "),
        format!("CREATE UNIQUE INDEX {name} ON "),
    ]
    .iter()
    .find_map(|prefix| def.strip_prefix(prefix.as_str()))
    .map(|rest| format!("{}{rest}", if index.is_unique { "unique " } else { "" }))
    .unwrap_or_else(|| def.to_string());
    let folded = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (index.table.clone(), folded)
}

pub fn index_ref(index: &Index) -> IndexRef {
    IndexRef {
        index: QualifiedName::new(&index.schema, &index.name).to_string(),
        table: index.table.to_string(),
        definition: index.definition.clone(),
    }
}

/// The key an index leads with, as the query shapes name keys.
fn first_key(index: &Index) -> Option<KeyTarget> {
    let key = index.keys.first()?;
    match (&key.column, &key.expression) {
        (Some(c), _) => Some(KeyTarget::Column(c.clone())),
        (None, Some(e)) => Some(KeyTarget::Expression(normalize_sql(e))),
        (None, None) => None,
    }
}

fn same_key(a: &KeyTarget, b: &KeyTarget) -> bool {
    match (a, b) {
        (KeyTarget::Column(x), KeyTarget::Column(y)) => x == y,
        (KeyTarget::Expression(x), KeyTarget::Expression(y)) => {
            normalize_sql(x) == normalize_sql(y)
        }
        _ => false,
    }
}

/// Indexes of NEW whose definition OLD does not have, each with the
/// statements of NEW that read its table filtering, joining or sorting on
/// its first key: OLD's mean against the window's.
pub fn new_indexes(
    old: &Snapshot,
    new: &Snapshot,
    windows: &[StatementWindow],
    tables_restarted: bool,
) -> Vec<IndexEffect> {
    let known: HashSet<_> = old.indexes.iter().map(definition_key).collect();
    let created: Vec<&Index> = new
        .indexes
        .iter()
        .filter(|i| !known.contains(&definition_key(i)))
        .collect();
    if created.is_empty() {
        return Vec::new();
    }
    let workload = Workload::from_snapshot(new);
    let by_statement: HashMap<(i64, &str, Option<bool>), &StatementWindow> = windows
        .iter()
        .map(|w| ((w.new.queryid, w.new.user.as_str(), w.new.toplevel), w))
        .collect();
    let mut effects: Vec<IndexEffect> = created
        .into_iter()
        .map(|index| {
            let lead = first_key(index);
            let mut statements: Vec<ServedStatement> = Vec::new();
            for analyzed in &workload.analyzed {
                let s = analyzed.statement;
                let serves = lead.as_ref().is_some_and(|lead| {
                    analyzed.shape.accesses.iter().any(|a| {
                        a.table == index.table && leading_keys(a).iter().any(|k| same_key(k, lead))
                    })
                });
                let Some(w) = by_statement.get(&(s.queryid, s.user.as_str(), s.toplevel)) else {
                    continue;
                };
                if !serves {
                    continue;
                }
                let before = w.old_mean_ms();
                let after = w.mean_ms();
                statements.push(ServedStatement {
                    queryid: s.queryid,
                    query: s.query.clone(),
                    calls_before: w.old.map(|o| o.calls),
                    mean_before_ms: before,
                    calls_after: w.calls,
                    mean_after_ms: after,
                    mean_change_pct: before.zip(after).and_then(|(b, a)| percent_change(b, a)),
                });
            }
            statements.sort_by(|a, b| {
                let weight =
                    |s: &ServedStatement| s.calls_after as f64 * s.mean_after_ms.unwrap_or(0.0);
                b.calls_before
                    .is_some()
                    .cmp(&a.calls_before.is_some())
                    .then(weight(b).total_cmp(&weight(a)))
                    .then(a.queryid.cmp(&b.queryid))
            });
            let time_saved_ms = statements
                .iter()
                .filter_map(|s| Some(s.calls_after as f64 * (s.mean_before_ms? - s.mean_after_ms?)))
                .sum();
            let table = table_window(old, new, &index.table, tables_restarted);
            let idx_scan = index.stats.as_ref().map(|s| s.idx_scan);
            IndexEffect {
                index: index_ref(index),
                valid: index.is_valid,
                size_bytes: index.size_bytes,
                idx_scan,
                used: idx_scan.map(|n| n > 0),
                statements,
                time_saved_ms,
                table_seq_scan: table.map(|t| t.seq_scan),
            }
        })
        .collect();
    effects.sort_by(|a, b| {
        b.time_saved_ms
            .total_cmp(&a.time_saved_ms)
            .then(a.index.index.cmp(&b.index.index))
    });
    effects
}

/// Indexes of OLD whose definition NEW does not have.
pub fn dropped_indexes(old: &Snapshot, new: &Snapshot) -> Vec<IndexRef> {
    let kept: HashSet<_> = new.indexes.iter().map(definition_key).collect();
    old.indexes
        .iter()
        .filter(|i| !kept.contains(&definition_key(i)))
        .map(index_ref)
        .collect()
}

/// Indexes that stopped being used. Precisely: an index in both snapshots
/// (by definition), valid in NEW, scanned at least once by OLD
/// (`idx_scan > 0` in OLD), whose idx_scan did not grow in the window, while
/// its table was read in the window (sequential scans or other indexes'
/// scans grew). Counters that started over count from zero.
pub fn stopped_indexes(
    old: &Snapshot,
    new: &Snapshot,
    tables_restarted: bool,
    top: usize,
) -> (Vec<StoppedIndex>, usize) {
    let before: HashMap<_, &Index> = old.indexes.iter().map(|i| (definition_key(i), i)).collect();
    let mut restarted = 0;
    let mut stopped = Vec::new();
    for index in new.indexes.iter().filter(|i| i.is_valid) {
        let Some(previous) = before.get(&definition_key(index)) else {
            continue;
        };
        let (Some(now), Some(then)) = (&index.stats, &previous.stats) else {
            continue;
        };
        // Built again (REINDEX CONCURRENTLY, drop and create): a new relation, new counters.
        let started_over =
            tables_restarted || index.oid != previous.oid || now.idx_scan < then.idx_scan;
        restarted += usize::from(started_over);
        let window_scans = if started_over {
            now.idx_scan
        } else {
            now.idx_scan - then.idx_scan
        };
        if then.idx_scan == 0 || window_scans > 0 {
            continue;
        }
        let Some(TableWindow {
            seq_scan, idx_scan, ..
        }) = table_window(old, new, &index.table, tables_restarted)
        else {
            continue;
        };
        if seq_scan + idx_scan == 0 {
            continue;
        }
        stopped.push(StoppedIndex {
            index: index_ref(index),
            size_bytes: index.size_bytes,
            old_idx_scan: then.idx_scan,
            table_seq_scan: seq_scan,
            table_idx_scan: idx_scan,
        });
    }
    stopped.sort_by(|a, b| {
        b.size_bytes
            .cmp(&a.size_bytes)
            .then(a.index.index.cmp(&b.index.index))
    });
    stopped.truncate(top);
    (stopped, restarted)
}
