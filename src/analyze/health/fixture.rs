//! Hand-built snapshots for the health and anti-pattern rules' unit tests.

use crate::snapshot::*;
use std::collections::BTreeMap;

pub fn snapshot() -> Snapshot {
    Snapshot {
        format_version: FORMAT_VERSION,
        pgadvise_version: "test".into(),
        collected_at: "2026-01-02T00:00:00Z".into(),
        source: Source {
            target: String::new(),
            database: "test".into(),
            user: "test".into(),
            in_recovery: false,
        },
        server: Server {
            version: "15".into(),
            version_num: 150000,
        },
        settings: BTreeMap::new(),
        extensions: vec![],
        available_extensions: vec![],
        search_path: vec!["public".into()],
        statements: StatementStats {
            extension_version: "1.10".into(),
            max_entries: None,
            dealloc: None,
            stats_reset: None,
            hidden_count: 0,
            entries: vec![],
        },
        tables: vec![],
        indexes: vec![],
        foreign_keys: vec![],
        views: vec![],
        activity: ActivitySample {
            sampled_at: String::new(),
            sessions: vec![],
        },
        database: DatabaseStats {
            numbackends: 0,
            xact_commit: 0,
            xact_rollback: 0,
            blks_read: 0,
            blks_hit: 0,
            tup_returned: 0,
            tup_fetched: 0,
            tup_inserted: 0,
            tup_updated: 0,
            tup_deleted: 0,
            temp_files: 0,
            temp_bytes: 0,
            deadlocks: 0,
            stats_reset: Some("2026-01-01T00:00:00Z".into()),
            session_time: None,
            active_time: None,
            idle_in_transaction_time: None,
            sessions: None,
            sessions_abandoned: None,
            sessions_fatal: None,
            sessions_killed: None,
        },
        pool_window: None,
        warnings: vec![],
    }
}

pub fn setting(snap: &mut Snapshot, name: &str, value: &str) {
    snap.settings.insert(
        name.into(),
        Setting {
            setting: value.into(),
            unit: None,
            source: "default".into(),
        },
    );
}

/// A table of `rows` rows whose columns are all `bigint` unless typed `name:type`.
pub fn table(name: &str, rows: f64, columns: &[&str]) -> Table {
    Table {
        oid: 0,
        schema: "public".into(),
        name: name.into(),
        kind: TableKind::Table,
        parent: None,
        partition_key: None,
        partition_bound: None,
        reltuples: rows,
        relpages: (rows / 50.0) as i64,
        relallvisible: None,
        size_bytes: (rows * 100.0) as i64,
        total_size_bytes: (rows * 150.0) as i64,
        options: Vec::new(),
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let (col, ty) = spec.split_once(':').unwrap_or((spec, "bigint"));
                Column {
                    attnum: i as i16 + 1,
                    name: col.into(),
                    data_type: ty.into(),
                    not_null: true,
                    collation: None,
                    stats: None,
                }
            })
            .collect(),
        stats: Some(table_stats(rows as i64)),
    }
}

pub fn table_stats(live: i64) -> TableStats {
    TableStats {
        seq_scan: 0,
        seq_tup_read: 0,
        idx_scan: Some(0),
        idx_tup_fetch: Some(0),
        n_tup_ins: live,
        n_tup_upd: 0,
        n_tup_del: 0,
        n_tup_hot_upd: 0,
        n_live_tup: live,
        n_dead_tup: 0,
        n_mod_since_analyze: 0,
        n_ins_since_vacuum: None,
        last_vacuum: None,
        last_autovacuum: None,
        last_analyze: None,
        last_autoanalyze: None,
        vacuum_count: 0,
        autovacuum_count: 0,
        analyze_count: 0,
        autoanalyze_count: 0,
        last_seq_scan: None,
    }
}

/// A valid btree index on plain columns (`col DESC` for a descending key),
/// 8 MB, scanned 100 times, with the definition pg_get_indexdef would print.
pub fn index(table: &str, name: &str, columns: &[&str]) -> Index {
    let keys: Vec<IndexKey> = columns
        .iter()
        .map(|c| {
            let (column, descending) = match c.strip_suffix(" DESC") {
                Some(c) => (c, true),
                None => (*c, false),
            };
            IndexKey {
                column: Some(column.into()),
                expression: None,
                descending,
                nulls_first: descending,
                opclass: None,
                collation: None,
            }
        })
        .collect();
    Index {
        oid: 1000,
        schema: "public".into(),
        name: name.into(),
        table: QualifiedName::new("public", table),
        definition: format!(
            "CREATE INDEX {name} ON public.{table} USING btree ({})",
            columns.join(", ")
        ),
        method: "btree".into(),
        keys,
        include: vec![],
        predicate: None,
        is_unique: false,
        is_primary: false,
        is_exclusion: false,
        is_valid: true,
        is_ready: true,
        is_partitioned: false,
        parent_index: None,
        constraint: None,
        size_bytes: 8 * 1024 * 1024,
        stats: Some(IndexStats {
            idx_scan: 100,
            idx_tup_read: 100,
            idx_tup_fetch: 100,
            last_idx_scan: None,
        }),
    }
}

pub fn primary_key(table: &str, name: &str, columns: &[&str]) -> Index {
    let mut index = index(table, name, columns);
    index.definition = index
        .definition
        .replace("CREATE INDEX", "CREATE UNIQUE INDEX");
    index.is_unique = true;
    index.is_primary = true;
    index.constraint = Some(IndexConstraint {
        name: name.into(),
        kind: "primary_key".into(),
    });
    index
}

pub fn foreign_key(
    table: &str,
    columns: &[&str],
    referenced: &str,
    referenced_index: Option<&str>,
) -> ForeignKey {
    ForeignKey {
        name: format!("{table}_{}_fkey", columns.join("_")),
        table: QualifiedName::new("public", table),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        referenced_table: QualifiedName::new("public", referenced),
        referenced_columns: vec!["id".into()],
        definition: format!(
            "FOREIGN KEY ({}) REFERENCES {referenced}(id)",
            columns.join(", ")
        ),
        validated: true,
        referenced_index: referenced_index.map(|n| QualifiedName::new("public", n)),
    }
}

pub fn statement(queryid: i64, calls: i64, mean_ms: f64, query: &str) -> Statement {
    let mut s = Statement::given(queryid, query.into());
    s.user = "app".into();
    s.calls = calls;
    s.mean_exec_time = mean_ms;
    s.total_exec_time = calls as f64 * mean_ms;
    s
}
