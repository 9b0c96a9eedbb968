//! An index proposal as a [`Migration`]: `CREATE INDEX CONCURRENTLY IF NOT
//! EXISTS`, or for a partitioned table the parent's index `ON ONLY`, each
//! partition's built concurrently and attached; the header says what it is for
//! and how to recover from a failed build.

use super::{IndexDefinition, Migration, PredicateKind, PredicateTest, SessionSetting, Step};
use crate::analyze::indexes::candidate::{KeyTarget, PartialPredicate};
use crate::analyze::indexes::render::{fit, key_sql, slug};
use crate::analyze::indexes::{AccessMethod, IndexProposal};
use crate::format::{bytes, millis, one_line, sql_literal};
use crate::snapshot::{QualifiedName, Snapshot, TableKind};
use std::time::Duration;

/// How the migration's session is bounded.
#[derive(Debug, Clone)]
pub struct MigrationOptions {
    /// How long each statement may wait for a lock before it gives up (the
    /// build itself then fails and leaves an INVALID index: see the header).
    pub lock_timeout: Duration,
}

impl Default for MigrationOptions {
    fn default() -> Self {
        MigrationOptions {
            lock_timeout: Duration::from_secs(5),
        }
    }
}

/// The session settings of a migration that builds or drops an index
/// concurrently: a bounded wait for its lock, and explicitly no statement
/// timeout, so a role's statement_timeout cannot cut a long build short.
pub fn build_settings(options: &MigrationOptions) -> Vec<SessionSetting> {
    vec![
        SessionSetting {
            name: "lock_timeout".to_string(),
            value: duration_setting(options.lock_timeout),
        },
        SessionSetting {
            name: "statement_timeout".to_string(),
            value: "0".to_string(),
        },
    ]
}

/// `'5s'`, `'1500ms'`: a setting value PostgreSQL reads in its own units.
pub fn duration_setting(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("'{}s'", ms / 1000)
    } else {
        format!("'{ms}ms'")
    }
}

/// The index of one partition (or sub-partitioned table) of a partitioned
/// table's index, and the partitions under it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionIndex {
    pub table: QualifiedName,
    pub index: QualifiedName,
    pub parent_index: QualifiedName,
    pub partitioned: bool,
}

/// The migration for `proposal`. `taken` holds every index and table name in
/// use (the snapshot's, and names given out so far); partition index names are
/// added to it.
pub fn index_migration(
    proposal: &IndexProposal,
    snapshot: &Snapshot,
    options: &MigrationOptions,
    taken: &mut Vec<String>,
) -> (Migration, Vec<PartitionIndex>) {
    let table = &proposal.table_name;
    let index = QualifiedName::new(&table.schema, &proposal.name);
    let definition = |name: &str, on: &QualifiedName, only: bool| IndexDefinition {
        name: name.to_string(),
        table: on.clone(),
        only,
        concurrently: !only,
        method: proposal.method.to_string(),
        keys_sql: proposal.key_specs.iter().map(key_sql).collect(),
        keys: proposal
            .key_specs
            .iter()
            .map(|k| match &k.key {
                KeyTarget::Column(c) if !k.nulls_reversed => Some((c.clone(), k.descending)),
                _ => None,
            })
            .collect(),
        include: proposal.include.clone(),
        opclasses: proposal
            .key_specs
            .iter()
            .map(|k| k.opclass.clone())
            .collect(),
        pages_per_range: proposal.pages_per_range,
        predicate_sql: proposal.predicate.clone(),
        predicate: proposal
            .partial
            .iter()
            .map(|p| {
                let kind = match p {
                    PartialPredicate::IsNull(_) => PredicateKind::IsNull,
                    PartialPredicate::IsNotNull(_) => PredicateKind::IsNotNull,
                    PartialPredicate::IsTrue(_) => PredicateKind::IsTrue,
                    PartialPredicate::IsFalse(_) => PredicateKind::IsFalse,
                };
                PredicateTest {
                    column: p.column().to_string(),
                    kind,
                }
            })
            .collect(),
    };
    let is_partitioned = |t: &QualifiedName| {
        snapshot
            .table(&t.schema, &t.name)
            .is_some_and(|t| t.kind == TableKind::PartitionedTable)
    };

    let mut up = Vec::new();
    let mut partitions = Vec::new();
    if is_partitioned(table) {
        // Parent first (ON ONLY: invalid until every partition is attached),
        // then per partition a concurrent build and the attach, depth first.
        let mut stack = vec![(table.clone(), index.clone(), 0usize)];
        let mut depths = Vec::new();
        up.push(Step::CreateIndex(definition(&index.name, table, true)));
        while let Some((parent_table, parent_index, depth)) = stack.pop() {
            let mut children: Vec<&crate::snapshot::Table> = snapshot
                .tables
                .iter()
                .filter(|t| t.parent.as_ref() == Some(&parent_table))
                .collect();
            children.sort_by(|a, b| a.name.cmp(&b.name));
            for child in children {
                let child_table = QualifiedName::new(&child.schema, &child.name);
                let name = partition_index_name(&child.name, &proposal.name, &table.name, taken);
                taken.push(name.clone());
                let child_index = QualifiedName::new(&child.schema, &name);
                let nested = child.kind == TableKind::PartitionedTable;
                depths.push(depth + 1);
                partitions.push(PartitionIndex {
                    table: child_table.clone(),
                    index: child_index.clone(),
                    parent_index: parent_index.clone(),
                    partitioned: nested,
                });
                if nested {
                    stack.push((child_table, child_index, depth + 1));
                }
            }
        }
        for p in &partitions {
            up.push(Step::CreateIndex(definition(
                &p.index.name,
                &p.table,
                p.partitioned,
            )));
        }
        // Deepest first: a sub-partitioned table's index is complete (valid)
        // once its own partitions are attached, before it is attached itself.
        let mut ordered: Vec<(usize, &PartitionIndex)> =
            depths.into_iter().zip(&partitions).collect();
        ordered.sort_by_key(|p| std::cmp::Reverse(p.0));
        for (_, p) in ordered {
            up.push(Step::Sql(format!(
                "ALTER INDEX {} ATTACH PARTITION {}",
                p.parent_index, p.index
            )));
        }
    } else {
        up.push(Step::CreateIndex(definition(&index.name, table, false)));
    }
    let partitioned = !partitions.is_empty() || is_partitioned(table);
    let down = vec![Step::DropIndex {
        index: index.clone(),
        table: table.clone(),
        // PostgreSQL refuses DROP INDEX CONCURRENTLY on a partitioned index.
        concurrently: !partitioned,
    }];
    let migration = Migration {
        id: format!("add_index {index}"),
        name: format!("add_{}", proposal.name),
        header: header(
            proposal,
            snapshot,
            &index,
            partitioned,
            &partitions,
            options,
        ),
        up,
        down,
        settings: build_settings(options),
        statements_run_alone: true,
    };
    (migration, partitions)
}

/// `<partition>_<the parent index name without its table>`, within 63 bytes,
/// not in `taken`.
fn partition_index_name(
    partition: &str,
    parent_index: &str,
    parent_table: &str,
    taken: &[String],
) -> String {
    let table_slug = slug(parent_table);
    let rest = parent_index
        .strip_prefix(&format!("{table_slug}_"))
        .unwrap_or(parent_index);
    let base = format!("{}_{rest}", slug(partition));
    let seed = base.trim_end_matches("_idx").to_string();
    let name = fit(&base, &seed);
    if !taken.contains(&name) {
        return name;
    }
    (2..1000)
        .map(|n| fit(&format!("{base}{n}"), &format!("{seed}{n}")))
        .find(|n| !taken.contains(n))
        .unwrap_or(name)
}

fn header(
    p: &IndexProposal,
    snapshot: &Snapshot,
    index: &QualifiedName,
    partitioned: bool,
    partitions: &[PartitionIndex],
    options: &MigrationOptions,
) -> Vec<String> {
    let mut lines = vec![format!(
        "Adds index {index} on {} ({}){}.",
        p.table,
        p.key_specs
            .iter()
            .map(key_sql)
            .collect::<Vec<_>>()
            .join(", "),
        p.predicate
            .as_ref()
            .map(|w| format!(" WHERE {w}"))
            .unwrap_or_default()
    )];
    lines.push(format!("Why: {}.", p.reason));
    let statements: Vec<_> = p
        .queryids
        .iter()
        .filter_map(|id| {
            snapshot
                .statements
                .entries
                .iter()
                .find(|s| s.queryid == *id)
        })
        .collect();
    let calls: i64 = statements.iter().map(|s| s.calls).sum();
    lines.push(format!(
        "For {} statement{} ({} calls, {} in total, pg_stat_statements):",
        p.queries.len(),
        if p.queries.len() == 1 { "" } else { "s" },
        calls,
        millis(p.workload_time_ms)
    ));
    for (id, query) in p.queryids.iter().zip(&p.queries) {
        lines.push(format!("  queryid {id}: {}", one_line(query, 160)));
    }
    match (p.cost_before, p.cost_after) {
        (Some(before), Some(after)) if p.verified => lines.push(format!(
            "Estimated cost (generic plans, hypopg): {before:.1} before, {after:.1} after{}.",
            p.estimated_time_saved_ms
                .map(|ms| format!("; about {} of statement time saved", millis(ms)))
                .unwrap_or_default()
        )),
        _ => match &p.verification {
            Some(why) => lines.push(format!("Not verified before deployment: {why}.")),
            None => lines.push(
                "Not verified with hypopg (--no-verify or no hypopg): cost unknown.".to_string(),
            ),
        },
    }
    for extension in &p.requires {
        lines.push(format!(
            "Requires the {extension} extension, which this database does not have: a DBA must \
             run CREATE EXTENSION {extension}; before this migration (pgadvise never creates \
             extensions), or the build fails with \"operator class does not exist\"."
        ));
    }
    let mut size = format!("Estimated size: {}", bytes(p.estimated_size_bytes));
    if p.predicate.is_some() && p.full_index_size_bytes > 0 {
        size.push_str(&format!(
            " (the same index without its WHERE: {})",
            bytes(p.full_index_size_bytes)
        ));
    }
    lines.push(format!("{size}."));
    if let (Some(w), AccessMethod::Brin) = (&p.write_cost, p.method) {
        lines.push(format!(
            "Write cost: small; an INSERT ({} so far) or non-HOT UPDATE ({} so far) widens its range's summary \
             only when that range is already summarised. Ranges filled since the last VACUUM are not: a scan reads \
             them whole until autovacuum (or SELECT brin_summarize_new_values({})) summarises them.",
            w.inserts,
            w.updates,
            sql_literal(&index.to_string()),
        ));
    } else if let Some(w) = &p.write_cost {
        lines.push(format!(
            "Write cost: every INSERT ({} so far) and every non-HOT UPDATE ({} so far{}) of {} also writes this index.",
            w.inserts,
            w.updates,
            w.hot_update_ratio
                .map(|r| format!(", {:.0}% HOT", r * 100.0))
                .unwrap_or_default(),
            p.table
        ));
    }
    let literal = sql_literal(&index.to_string());
    if partitioned {
        lines.push(format!(
            "Partitioned table: the parent's index is created ON ONLY {} (INVALID until every partition's index is attached), \
             then each partition's index concurrently ({} of them) and attached. Only one concurrent build per table runs at a time.",
            p.table,
            partitions.len()
        ));
        lines.push(format!(
            "If a partition's build fails (lock_timeout, cancel, deadlock), it leaves that partition's index INVALID \
             and IF NOT EXISTS then skips it: find it with\n  \
             SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid AND indexrelid IN \
             (SELECT relid FROM pg_partition_tree({literal}));\n\
             drop it with DROP INDEX CONCURRENTLY IF EXISTS <that index>; and run the migration again."
        ));
        lines.push(format!(
            "Down: DROP INDEX IF EXISTS {index} (not CONCURRENTLY: PostgreSQL refuses it for a partitioned index; \
             it locks the table and its partitions briefly)."
        ));
    } else {
        lines.push(
            "Safe on a live table: CREATE INDEX CONCURRENTLY blocks neither reads nor writes and cannot run \
             in a transaction; only one concurrent build per table runs at a time."
                .to_string(),
        );
        lines.push(format!(
            "If the build fails (lock_timeout of {}, cancel, deadlock), PostgreSQL leaves an INVALID index, \
             and IF NOT EXISTS then skips it without error. Before retrying, check and drop it:\n  \
             SELECT indexrelid::regclass FROM pg_index WHERE indexrelid = to_regclass({literal}) AND NOT indisvalid;\n  \
             DROP INDEX CONCURRENTLY IF EXISTS {index};",
            duration_setting(options.lock_timeout).trim_matches('\'')
        ));
        lines.push(format!("Down: DROP INDEX CONCURRENTLY IF EXISTS {index}."));
    }
    lines.push(
        "Progress while it builds: SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total \
         FROM pg_stat_progress_create_index;"
            .to_string(),
    );
    lines.push(
        "After deploying: pgadvise verify <this folder> checks the index is valid and used (an INVALID one fails, with the fix); \
         the .verify.sql beside this file runs the same EXPLAINs in psql."
            .to_string(),
    );
    lines
}
