//! Hand-built snapshots for the unit tests: one empty snapshot and builders for
//! its tables, columns, indexes and statements, the rest left at `Default`.

use crate::snapshot::*;

/// An empty PostgreSQL 15 snapshot of database `test`, statistics reset the
/// day before collection. Tests fill in the tables, indexes and statements.
pub fn snapshot() -> Snapshot {
    Snapshot {
        format_version: FORMAT_VERSION,
        pgadvise_version: "test".into(),
        collected_at: "2026-01-02T00:00:00Z".into(),
        source: Source {
            database: "test".into(),
            user: "test".into(),
            ..Source::default()
        },
        server: Server {
            version: "15".into(),
            version_num: 150000,
        },
        search_path: vec!["public".into()],
        statements: StatementStats {
            extension_version: "1.10".into(),
            ..StatementStats::default()
        },
        database: DatabaseStats {
            stats_reset: Some("2026-01-01T00:00:00Z".into()),
            ..DatabaseStats::default()
        },
        ..Snapshot::default()
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
        size_bytes: (rows * 100.0) as i64,
        total_size_bytes: (rows * 150.0) as i64,
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let (col, ty) = spec.split_once(':').unwrap_or((spec, "bigint"));
                Column {
                    not_null: true,
                    ..column(i, col, ty)
                }
            })
            .collect(),
        stats: Some(table_stats(rows as i64)),
        ..bare_table("public", name, rows)
    }
}

/// A table in `schema` with `rows` rows (50 a page), no columns, no size and no
/// pg_stat_user_tables row: the base the other table builders fill in.
pub fn bare_table(schema: &str, name: &str, rows: f64) -> Table {
    Table {
        schema: schema.into(),
        name: name.into(),
        reltuples: rows,
        relpages: (rows / 50.0) as i64,
        ..Table::default()
    }
}

/// The column at position `index` (attnum `index + 1`), nullable, no statistics.
pub fn column(index: usize, name: &str, data_type: &str) -> Column {
    Column {
        attnum: index as i16 + 1,
        name: name.into(),
        data_type: data_type.into(),
        ..Column::default()
    }
}

/// pg_stats for a column with the given most common values and frequencies.
pub fn column_stats(
    null_frac: f64,
    n_distinct: f64,
    avg_width: i32,
    most_common: &[(&str, f64)],
) -> ColumnStats {
    ColumnStats {
        null_frac,
        avg_width,
        n_distinct,
        most_common_vals: most_common
            .iter()
            .map(|(v, _)| Some(v.to_string()))
            .collect(),
        most_common_freqs: most_common.iter().map(|(_, f)| *f).collect(),
        ..ColumnStats::default()
    }
}

pub fn table_stats(live: i64) -> TableStats {
    TableStats {
        idx_scan: Some(0),
        idx_tup_fetch: Some(0),
        n_tup_ins: live,
        n_live_tup: live,
        ..TableStats::default()
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
                descending,
                nulls_first: descending,
                ..IndexKey::default()
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
            ..IndexStats::default()
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
