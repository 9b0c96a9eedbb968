//! Index and table health: what to drop, what to rebuild, what the existing
//! schema and statistics say is wasted or missing. One rule per file, each a
//! pure function of the snapshot (plus the workload and the index advice where
//! a rule links to statements or proposals).
//!
//! Drops are proposed only where they are safe: never for an index that backs
//! a constraint (primary key, unique, exclusion) or that a foreign key depends
//! on, never for a partitioned index or a partition's attached index (`DROP
//! INDEX CONCURRENTLY` refuses both), and for unused indexes only on request.

pub mod dead_tuples;
pub mod duplicate_index;
pub mod fk_without_index;
pub mod invalid_index;
pub mod redundant_index;
pub mod seq_scan_heavy;
pub mod unused_index;

#[cfg(test)]
pub(crate) mod fixture;

use crate::analyze::finding::Finding;
use crate::analyze::indexes::serve::normalize_sql;
use crate::analyze::indexes::{IndexAdvice, TableFilter};
use crate::analyze::rule::RuleId;
use crate::analyze::workload::Workload;
use crate::snapshot::{Index, QualifiedName, Snapshot};
use serde::Serialize;

/// Thresholds of the health rules. The defaults suit an OLTP database; each
/// is a floor below which a finding would be noise.
#[derive(Debug, Clone)]
pub struct HealthOptions {
    /// `unused-index`: only indexes at least this large (bytes).
    pub unused_min_size_bytes: i64,
    /// `fk-without-index`: only child tables with at least this many rows.
    pub fk_child_min_rows: f64,
    /// `seq-scan-heavy`: at least this many sequential scans...
    pub seq_scan_min_scans: i64,
    /// ...reading at least this many rows in all...
    pub seq_scan_min_rows_read: i64,
    /// ...and at least this many rows per scan on average (small tables are best read whole).
    pub seq_scan_min_rows_per_scan: f64,
    /// `dead-tuples`: share of dead rows among live + dead...
    pub dead_ratio: f64,
    /// ...and at least this many dead rows.
    pub dead_min_rows: i64,
    /// Propose drops for unused indexes too (`--drop-unused`).
    pub drop_unused: bool,
    /// Only these tables and their indexes (`--include-table`, `--exclude-table`).
    pub tables: TableFilter,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            unused_min_size_bytes: 1024 * 1024,
            fk_child_min_rows: 10_000.0,
            seq_scan_min_scans: 50,
            seq_scan_min_rows_read: 1_000_000,
            seq_scan_min_rows_per_scan: 1_000.0,
            dead_ratio: 0.2,
            dead_min_rows: 10_000,
            drop_unused: false,
            tables: TableFilter::default(),
        }
    }
}

/// A safe drop of an existing index, as data for the migration writer:
/// each statement runs alone, outside a transaction block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropProposal {
    /// The index, `schema.name`.
    pub index: String,
    /// `schema.table`.
    pub table: String,
    /// The rule that proposed it (`invalid-index`, `duplicate-index`, ...).
    pub rule: RuleId,
    pub reason: String,
    /// `DROP INDEX CONCURRENTLY IF EXISTS ...`.
    pub drop_sql: String,
    /// The index's own definition (`pg_get_indexdef`) built concurrently and
    /// idempotently: the down migration of a drop, or the second half of a rebuild.
    pub recreate_sql: String,
    /// True for an invalid index: drop, then build again (both are the up
    /// migration). False: the drop is the up migration, the recreate its down.
    pub rebuild: bool,
    pub size_bytes: i64,
}

impl DropProposal {
    /// Statements of the up migration, in order.
    pub fn up(&self) -> Vec<&str> {
        if self.rebuild {
            vec![&self.drop_sql, &self.recreate_sql]
        } else {
            vec![&self.drop_sql]
        }
    }

    /// Statements that undo the up migration (none for a rebuild).
    pub fn down(&self) -> Vec<&str> {
        if self.rebuild {
            Vec::new()
        } else {
            vec![&self.recreate_sql]
        }
    }
}

/// What the health rules found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HealthReport {
    pub findings: Vec<Finding>,
    pub drops: Vec<DropProposal>,
}

/// Runs every health rule. Each index gets at most one drop: the first rule
/// to claim it (invalid, duplicate, redundant, unused) wins, and later rules
/// leave it alone.
pub fn check(
    snapshot: &Snapshot,
    workload: &Workload,
    advice: &IndexAdvice,
    options: &HealthOptions,
) -> HealthReport {
    let restricted;
    let snapshot = if options.tables.include.is_empty() && options.tables.exclude.is_empty() {
        snapshot
    } else {
        restricted = restrict(snapshot, &options.tables);
        &restricted
    };
    let mut report = HealthReport::default();
    let (findings, drops) = invalid_index::check(snapshot);
    report.absorb(findings, drops);
    let (findings, drops) = duplicate_index::check(snapshot, &claimed(&report));
    report.absorb(findings, drops);
    let (findings, drops) = redundant_index::check(snapshot, &claimed(&report));
    report.absorb(findings, drops);
    let (findings, drops) = unused_index::check(snapshot, &claimed(&report), options);
    report.absorb(findings, drops);
    report
        .findings
        .extend(fk_without_index::check(snapshot, advice, options));
    report
        .findings
        .extend(seq_scan_heavy::check(snapshot, workload, advice, options));
    report
        .findings
        .extend(dead_tuples::check(snapshot, options));
    report
}

/// The snapshot with only the tables the filter admits, and their indexes and foreign keys.
fn restrict(snapshot: &Snapshot, tables: &TableFilter) -> Snapshot {
    let mut restricted = snapshot.clone();
    restricted
        .tables
        .retain(|t| tables.admits(&QualifiedName::new(&t.schema, &t.name)));
    restricted.indexes.retain(|i| tables.admits(&i.table));
    restricted.foreign_keys.retain(|f| tables.admits(&f.table));
    restricted
}

impl HealthReport {
    fn absorb(&mut self, findings: Vec<Finding>, drops: Vec<DropProposal>) {
        self.findings.extend(findings);
        for drop in drops {
            if !self.drops.iter().any(|d| d.index == drop.index) {
                self.drops.push(drop);
            }
        }
    }
}

/// Indexes later rules leave alone: those a finding is already about, and
/// those kept in their place (a duplicate's kept copy, the longer index a
/// redundant one is a prefix of). The kept copy may show zero scans only
/// because the planner used its twin: it must not be reported unused.
fn claimed(report: &HealthReport) -> Vec<String> {
    let mut names: Vec<String> = report.findings.iter().map(|f| f.object.clone()).collect();
    for f in &report.findings {
        for kept in ["duplicate_of", "covered_by"] {
            if let Some(name) = f.evidence[kept]["index"].as_str() {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// `schema.name` of an index, quoted where PostgreSQL needs it.
pub fn index_name(index: &Index) -> String {
    QualifiedName::new(&index.schema, &index.name).to_string()
}

/// Whether dropping `index` would break or weaken a constraint: it backs a
/// primary key, unique or exclusion constraint, or a foreign key references it.
pub fn backs_constraint(snapshot: &Snapshot, index: &Index) -> bool {
    index.constraint.is_some()
        || index.is_primary
        || index.is_exclusion
        || snapshot.foreign_keys.iter().any(|fk| {
            fk.referenced_index
                .as_ref()
                .is_some_and(|r| r.schema == index.schema && r.name == index.name)
        })
}

/// Whether a drop of `index` can be proposed at all: not backing a constraint,
/// not partitioned or attached to a partitioned index.
pub fn droppable(snapshot: &Snapshot, index: &Index) -> bool {
    !backs_constraint(snapshot, index) && !index.is_partitioned && index.parent_index.is_none()
}

/// The drop of `index` and its recreate statement.
pub fn drop_proposal(index: &Index, rule: RuleId, reason: String, rebuild: bool) -> DropProposal {
    DropProposal {
        index: index_name(index),
        table: index.table.to_string(),
        rule,
        reason,
        drop_sql: format!("DROP INDEX CONCURRENTLY IF EXISTS {};", index_name(index)),
        recreate_sql: format!("{};", concurrent_definition(&index.definition)),
        rebuild,
        size_bytes: index.size_bytes,
    }
}

/// `CREATE [UNIQUE] INDEX name ON ...` (pg_get_indexdef) as
/// `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name ON ...`.
pub fn concurrent_definition(definition: &str) -> String {
    let definition = definition.trim().trim_end_matches(';');
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(prefix) {
            let rest = rest
                .strip_prefix("CONCURRENTLY ")
                .unwrap_or(rest)
                .strip_prefix("IF NOT EXISTS ")
                .unwrap_or(rest);
            return format!("{prefix}CONCURRENTLY IF NOT EXISTS {rest}");
        }
    }
    definition.to_string()
}

/// What makes two indexes the same index: one key of a [`Signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySignature {
    /// Column name, or the normalized expression text.
    target: String,
    descending: bool,
    nulls_first: bool,
    opclass: Option<String>,
    collation: Option<String>,
}

/// An index reduced to what decides which queries it serves and what it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub table: QualifiedName,
    pub method: String,
    pub keys: Vec<KeySignature>,
    /// INCLUDE columns, sorted: their order does not matter.
    pub include: Vec<String>,
    pub predicate: Option<String>,
}

impl Signature {
    pub fn of(index: &Index) -> Signature {
        let mut include = index.include.clone();
        include.sort();
        Signature {
            table: index.table.clone(),
            method: index.method.clone(),
            keys: index
                .keys
                .iter()
                .map(|k| KeySignature {
                    target: match (&k.column, &k.expression) {
                        (Some(c), _) => c.clone(),
                        (None, Some(e)) => format!("expr:{}", normalize_sql(e)),
                        (None, None) => String::new(),
                    },
                    descending: k.descending,
                    nulls_first: k.nulls_first,
                    opclass: k.opclass.clone(),
                    collation: k.collation.clone(),
                })
                .collect(),
            include,
            predicate: index.predicate.as_deref().map(normalize_sql),
        }
    }
}

/// Whether the index can serve queries: valid, ready, not a partitioned parent.
pub(crate) fn usable(index: &Index) -> bool {
    index.is_valid && index.is_ready
}

/// Rows of a table: the planner's estimate (`reltuples`, kept by ANALYZE and
/// VACUUM) where it has one, else the statistics' live rows.
pub fn estimated_rows(table: &crate::snapshot::Table) -> f64 {
    if table.reltuples >= 0.0 {
        table.reltuples
    } else {
        table.stats.as_ref().map_or(0.0, |s| s.n_live_tup as f64)
    }
}

/// Size, scans and definition of an index: the evidence every index rule shows.
pub(crate) fn index_evidence(index: &Index) -> serde_json::Value {
    serde_json::json!({
        "index": index_name(index),
        "table": index.table.to_string(),
        "definition": index.definition,
        "size_bytes": index.size_bytes,
        "idx_scan": index.stats.as_ref().map(|s| s.idx_scan),
        "is_unique": index.is_unique,
        "constraint": index.constraint.as_ref().map(|c| c.name.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_become_concurrent_and_idempotent() {
        let cases = [
            (
                "CREATE INDEX a_idx ON public.t USING btree (a)",
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON public.t USING btree (a)",
            ),
            (
                "CREATE UNIQUE INDEX \"A\" ON s.t USING btree (lower(email)) WHERE (x IS NULL)",
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"A\" ON s.t USING btree (lower(email)) WHERE (x IS NULL)",
            ),
            (
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON public.t (a);",
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON public.t (a)",
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(concurrent_definition(given), expected);
        }
    }

    #[test]
    fn a_drop_is_undone_by_its_recreate_and_a_rebuild_is_both() {
        let index = fixture::index("t", "t_a_idx", &["a"]);
        let drop = drop_proposal(&index, RuleId::DuplicateIndex, "x".into(), false);
        assert_eq!(
            drop.up(),
            vec!["DROP INDEX CONCURRENTLY IF EXISTS public.t_a_idx;"]
        );
        assert_eq!(
            drop.down(),
            vec!["CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON public.t USING btree (a);"]
        );
        let rebuild = drop_proposal(&index, RuleId::InvalidIndex, "x".into(), true);
        assert_eq!(rebuild.up().len(), 2);
        assert!(rebuild.down().is_empty());
    }

    #[test]
    fn the_kept_twin_of_a_dropped_duplicate_is_never_reported_unused() {
        let mut snap = fixture::snapshot();
        let mut kept = fixture::index("t", "t_a_old", &["a"]);
        kept.oid = 1;
        kept.stats.as_mut().unwrap().idx_scan = 0;
        let mut twin = fixture::index("t", "t_a_new", &["a"]);
        twin.oid = 2;
        snap.indexes = vec![kept, twin];
        let workload = Workload::from_snapshot(&snap);
        let options = HealthOptions {
            drop_unused: true,
            ..HealthOptions::default()
        };
        let report = check(&snap, &workload, &IndexAdvice::default(), &options);
        let rules: Vec<(&str, &str)> = report
            .findings
            .iter()
            .map(|f| (f.rule.as_str(), f.object.as_str()))
            .collect();
        assert_eq!(rules, vec![("duplicate-index", "public.t_a_new")]);
        assert_eq!(report.drops.len(), 1);
    }

    #[test]
    fn excluded_tables_get_no_findings() {
        let mut snap = fixture::snapshot();
        let mut copy = fixture::index("t", "t_a_copy", &["a"]);
        copy.oid = 2;
        snap.indexes = vec![fixture::index("t", "t_a", &["a"]), copy];
        let workload = Workload::from_snapshot(&snap);
        let advice = IndexAdvice::default();
        let all = check(&snap, &workload, &advice, &HealthOptions::default());
        assert_eq!(all.drops.len(), 1);
        let options = HealthOptions {
            tables: TableFilter {
                include: vec![],
                exclude: vec!["t".into()],
            },
            ..HealthOptions::default()
        };
        let none = check(&snap, &workload, &advice, &options);
        assert!(none.findings.is_empty() && none.drops.is_empty());
    }

    #[test]
    fn constraint_backing_and_partitioned_indexes_are_never_droppable() {
        let mut snap = fixture::snapshot();
        let plain = fixture::index("t", "t_a_idx", &["a"]);
        let pkey = fixture::primary_key("t", "t_pkey", &["id"]);
        let mut referenced = fixture::index("t", "t_code_key", &["code"]);
        referenced.is_unique = true;
        let mut partitioned = fixture::index("t", "t_p_idx", &["a"]);
        partitioned.is_partitioned = true;
        let mut attached = fixture::index("t", "t_child_idx", &["a"]);
        attached.parent_index = Some(QualifiedName::new("public", "t_p_idx"));
        snap.foreign_keys.push(fixture::foreign_key(
            "child",
            &["code"],
            "t",
            Some("t_code_key"),
        ));
        assert!(droppable(&snap, &plain));
        for index in [&pkey, &referenced, &partitioned, &attached] {
            assert!(!droppable(&snap, index), "{}", index.name);
        }
    }
}
