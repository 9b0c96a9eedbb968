//! Hand-built snapshots for integration tests that need no server: one empty
//! snapshot and builders for its tables and columns, the rest left at `Default`.
//! (Unit tests inside the crate have their own, `analyze::health::fixture`.)

use pgadvise::snapshot::*;

/// An empty PostgreSQL 15.10 snapshot of database `app`, read as `app`.
/// Tests fill in the tables, indexes and statements.
pub fn snapshot() -> Snapshot {
    Snapshot {
        format_version: FORMAT_VERSION,
        pgadvise_version: "test".into(),
        source: Source {
            database: "app".into(),
            user: "app".into(),
            ..Source::default()
        },
        server: Server {
            version: "15.10".into(),
            version_num: 150010,
        },
        search_path: vec!["public".into()],
        statements: StatementStats {
            extension_version: "1.10".into(),
            ..StatementStats::default()
        },
        ..Snapshot::default()
    }
}

/// A table of `kind` in `schema` with `rows` rows (50 a page), no columns, no
/// size and no pg_stat_user_tables row.
pub fn table(schema: &str, name: &str, kind: TableKind, rows: f64) -> Table {
    Table {
        schema: schema.into(),
        name: name.into(),
        kind,
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

/// A pg_stat_statements entry run by `app`: `calls` calls of `mean_ms` each.
pub fn statement(queryid: i64, calls: i64, mean_ms: f64, query: &str) -> Statement {
    Statement {
        user: "app".into(),
        calls,
        mean_exec_time: mean_ms,
        total_exec_time: calls as f64 * mean_ms,
        ..Statement::given(queryid, query.into())
    }
}
