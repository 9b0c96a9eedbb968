//! The snapshot: everything pgadvise read from one database, as plain data.
//!
//! It is the pivot of the pipeline. `collect` fills it from a live server,
//! `pgadvise snapshot` writes it as JSON, and `--snapshot FILE` reads it back so
//! analysis can run offline (CI without production credentials, reproducible bug
//! reports, deterministic tests). The JSON round trip is lossless: floats use
//! serde_json's exact round-trip parsing, and nothing is derived at read time.
//!
//! Compatibility: `format_version` changes whenever a field is removed or its
//! meaning changes. Adding an optional field keeps the version; readers ignore
//! fields they do not know.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the snapshot's JSON shape.
pub const FORMAT_VERSION: u32 = 1;

/// Everything read from one database at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format_version: u32,
    /// Version of the pgadvise that wrote the snapshot.
    pub pgadvise_version: String,
    /// Server clock when collection started (ISO 8601, UTC).
    pub collected_at: String,
    pub source: Source,
    pub server: Server,
    /// Settings that matter to the advisor, by name (see `collect::settings`).
    pub settings: BTreeMap<String, Setting>,
    /// Extensions created in this database.
    pub extensions: Vec<Extension>,
    /// Extensions the server could create here, of those pgadvise uses.
    pub available_extensions: Vec<AvailableExtension>,
    /// Schemas searched for unqualified names, in order (`current_schemas(false)`).
    pub search_path: Vec<String>,
    pub statements: StatementStats,
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    pub views: Vec<View>,
    pub activity: ActivitySample,
    pub database: DatabaseStats,
    /// pg_stat_activity sampled over a window, when a pool verdict was asked for.
    /// Absent from snapshots written before it existed, hence the default.
    #[serde(default)]
    pub pool_window: Option<PoolWindow>,
    /// The GIN and GiST operator classes of this database (pg_opclass, pg_amop):
    /// which operators an index of each can serve. Absent from older snapshots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_classes: Vec<OperatorClass>,
    /// The database's default collation (`pg_database.datcollate`): whether a
    /// plain btree serves a prefix `LIKE`. Absent from older snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_collation: Option<String>,
    /// Things the reader should know about the completeness of this snapshot.
    pub warnings: Vec<String>,
}

/// One operator class of an index access method, as the catalog defines it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorClass {
    /// `pg_am.amname`: `gin`, `gist`.
    pub method: String,
    pub name: String,
    /// The schema it lives in (an extension's, for `gin_trgm_ops`).
    pub schema: String,
    /// `format_type(opcintype)`: `jsonb`, `anyarray`, `text`, `tsvector`.
    pub input_type: String,
    /// The default class for its input type (used when none is named).
    pub is_default: bool,
    /// Search operators (`pg_amop` purpose `s`) of its family for its input type.
    pub operators: Vec<String>,
    /// Ordering operators (purpose `o`, e.g. `<->`).
    #[serde(default)]
    pub ordering_operators: Vec<String>,
    /// The extension that created it, if any (`pg_trgm`).
    #[serde(default)]
    pub extension: Option<String>,
}

/// Where the snapshot was taken. Never holds a password.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// `user@host:port/database`.
    pub target: String,
    pub database: String,
    pub user: String,
    /// Whether the server is a hot standby (`pg_is_in_recovery()`).
    pub in_recovery: bool,
    /// `pg_database.oid` of the database: a database dropped and created again
    /// under the same name gets another. Absent from older snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_oid: Option<u32>,
    /// `pg_control_system().system_identifier`, as text (a 64-bit number):
    /// the cluster's identity, shared by its standbys. Absent from older
    /// snapshots and where the role may not execute `pg_control_system()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    /// `server_version_num`, e.g. 150018.
    pub version_num: i32,
}

impl Server {
    /// Major version: 15 for 150018.
    pub fn major(&self) -> i32 {
        self.version_num / 10000
    }
}

/// One row of pg_settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// The raw value as pg_settings shows it (in `unit`s when a unit is set).
    pub setting: String,
    pub unit: Option<String>,
    /// Where the value came from (default, configuration file, ...).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    pub version: String,
    pub schema: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailableExtension {
    pub name: String,
    pub default_version: Option<String>,
    pub installed_version: Option<String>,
}

/// What pg_stat_statements knew about the connected database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementStats {
    /// Installed extension version; it decides which columns exist.
    pub extension_version: String,
    /// `pg_stat_statements.max`.
    pub max_entries: Option<i64>,
    /// Entries evicted since the last reset (1.9+). Evictions mean the picture is partial.
    pub dealloc: Option<i64>,
    /// When the statistics were last reset (1.9+).
    pub stats_reset: Option<String>,
    /// Entries whose text the role may not read (`<insufficient privilege>`).
    pub hidden_count: i64,
    /// Entries of the connected database, top-level only where the server tells.
    pub entries: Vec<Statement>,
}

/// One pg_stat_statements entry. Times are milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub queryid: i64,
    /// Role that ran it (name).
    pub user: String,
    /// Normalized text (constants replaced by `$n`).
    pub query: String,
    /// `toplevel` (1.9+); `None` where the server does not tell.
    pub toplevel: Option<bool>,
    pub calls: i64,
    pub total_exec_time: f64,
    pub mean_exec_time: f64,
    pub min_exec_time: f64,
    pub max_exec_time: f64,
    pub stddev_exec_time: f64,
    /// Planning counters exist from 1.8 but stay zero unless `pg_stat_statements.track_planning`.
    pub plans: Option<i64>,
    pub total_plan_time: Option<f64>,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    /// Time reading shared blocks (`blk_read_time`, `shared_blk_read_time` from 1.11).
    pub shared_blk_read_time: f64,
    pub wal_records: Option<i64>,
    pub wal_bytes: Option<f64>,
}

impl Statement {
    /// A statement given by the user rather than read from pg_stat_statements:
    /// no statistics, one nominal call.
    pub fn given(queryid: i64, query: String) -> Statement {
        Statement {
            queryid,
            user: String::new(),
            query,
            toplevel: None,
            calls: 1,
            total_exec_time: 0.0,
            mean_exec_time: 0.0,
            min_exec_time: 0.0,
            max_exec_time: 0.0,
            stddev_exec_time: 0.0,
            plans: None,
            total_plan_time: None,
            rows: 0,
            shared_blks_hit: 0,
            shared_blks_read: 0,
            shared_blks_dirtied: 0,
            shared_blks_written: 0,
            temp_blks_read: 0,
            temp_blks_written: 0,
            shared_blk_read_time: 0.0,
            wal_records: None,
            wal_bytes: None,
        }
    }
}

/// Tables, partitioned tables and materialized views outside the system schemas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub kind: TableKind,
    /// For a partition: its parent, as `schema.name` parts.
    pub parent: Option<QualifiedName>,
    /// For a partitioned table: `pg_get_partkeydef`, e.g. `RANGE (created_at)`.
    pub partition_key: Option<String>,
    /// For a partition: its bound, e.g. `FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')`.
    pub partition_bound: Option<String>,
    /// Planner's row estimate (`reltuples`; -1 means never analyzed on PG 14+).
    pub reltuples: f64,
    pub relpages: i64,
    /// Pages the visibility map marks all-visible (`relallvisible`): what an
    /// index-only scan may skip the heap for. `None` in older snapshots.
    #[serde(default)]
    pub relallvisible: Option<i64>,
    pub size_bytes: i64,
    pub total_size_bytes: i64,
    /// Storage parameters set on the table (`pg_class.reloptions`), as
    /// `name=value`: per-table autovacuum settings override the server's.
    #[serde(default)]
    pub options: Vec<String>,
    pub columns: Vec<Column>,
    /// pg_stat_user_tables; `None` where the server keeps none (partitioned parents).
    pub stats: Option<TableStats>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    #[default]
    Table,
    PartitionedTable,
    MaterializedView,
    ForeignTable,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

/// Counters from pg_stat_user_tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableStats {
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: Option<i64>,
    pub idx_tup_fetch: Option<i64>,
    pub n_tup_ins: i64,
    pub n_tup_upd: i64,
    pub n_tup_del: i64,
    pub n_tup_hot_upd: i64,
    pub n_live_tup: i64,
    pub n_dead_tup: i64,
    pub n_mod_since_analyze: i64,
    pub n_ins_since_vacuum: Option<i64>,
    pub last_vacuum: Option<String>,
    pub last_autovacuum: Option<String>,
    pub last_analyze: Option<String>,
    pub last_autoanalyze: Option<String>,
    pub vacuum_count: i64,
    pub autovacuum_count: i64,
    pub analyze_count: i64,
    pub autoanalyze_count: i64,
    /// PG 16+.
    pub last_seq_scan: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub attnum: i16,
    pub name: String,
    /// `format_type(atttypid, atttypmod)`, e.g. `timestamp with time zone`.
    pub data_type: String,
    pub not_null: bool,
    /// Collation when it is not the type's default.
    pub collation: Option<String>,
    /// From pg_stats, when ANALYZE has run and the role may read it.
    pub stats: Option<ColumnStats>,
}

/// pg_stats for one column (the non-inherited row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    pub null_frac: f64,
    pub avg_width: i32,
    /// Positive: distinct values; negative: minus the fraction of rows that are distinct.
    pub n_distinct: f64,
    /// Text form of each most common value (`NULL` elements kept as `None`).
    pub most_common_vals: Vec<Option<String>>,
    pub most_common_freqs: Vec<f64>,
    pub histogram_bounds: Vec<Option<String>>,
    pub correlation: Option<f64>,
    /// Most common elements of an array or tsvector column, and their
    /// frequencies. Absent from older snapshots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub most_common_elems: Vec<Option<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub most_common_elem_freqs: Vec<f64>,
}

/// An index with everything needed to compare it with a proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub table: QualifiedName,
    /// `pg_get_indexdef`: the exact definition.
    pub definition: String,
    /// Access method: btree, hash, gin, gist, brin, ...
    pub method: String,
    /// Key columns and expressions, in order.
    pub keys: Vec<IndexKey>,
    /// INCLUDE columns (PG 11+ covering indexes).
    pub include: Vec<String>,
    /// Partial index predicate (`pg_get_expr(indpred)`).
    pub predicate: Option<String>,
    pub is_unique: bool,
    pub is_primary: bool,
    pub is_exclusion: bool,
    /// False after a failed `CREATE INDEX CONCURRENTLY`: the planner never uses it.
    pub is_valid: bool,
    pub is_ready: bool,
    /// Partitioned (parent) index.
    pub is_partitioned: bool,
    /// For a partition's index: the parent index it is attached to.
    pub parent_index: Option<QualifiedName>,
    /// The constraint this index backs (primary key, unique, exclusion), if any.
    pub constraint: Option<IndexConstraint>,
    pub size_bytes: i64,
    /// pg_stat_user_indexes; `None` for partitioned parents.
    pub stats: Option<IndexStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexKey {
    /// The column name when the key is a plain column.
    pub column: Option<String>,
    /// The expression text when the key is an expression (`lower(email)`).
    pub expression: Option<String>,
    pub descending: bool,
    pub nulls_first: bool,
    /// Operator class when it is not the column type's default.
    pub opclass: Option<String>,
    /// Collation when it is not the column's.
    pub collation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexConstraint {
    pub name: String,
    /// `primary_key`, `unique` or `exclusion`.
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexStats {
    pub idx_scan: i64,
    pub idx_tup_read: i64,
    pub idx_tup_fetch: i64,
    /// PG 16+.
    pub last_idx_scan: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub table: QualifiedName,
    pub columns: Vec<String>,
    pub referenced_table: QualifiedName,
    pub referenced_columns: Vec<String>,
    /// `pg_get_constraintdef`.
    pub definition: String,
    pub validated: bool,
    /// The unique index on the referenced table the constraint depends on
    /// (`conindid`): dropping it would fail, so it is never proposed for a drop.
    /// Absent from snapshots written before it existed.
    #[serde(default)]
    pub referenced_index: Option<QualifiedName>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    /// Output column names, in order.
    pub columns: Vec<String>,
    /// `pg_get_viewdef`: the SELECT that defines it.
    pub definition: String,
}

/// One sample of pg_stat_activity (client backends only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivitySample {
    /// Server clock at the sample (ISO 8601, UTC).
    pub sampled_at: String,
    pub sessions: Vec<Session>,
}

/// One client backend. The query text is never kept raw: literals can hold secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub pid: i32,
    /// Database name; `None` for sessions not bound to a database.
    pub database: Option<String>,
    pub user: Option<String>,
    pub application_name: String,
    pub client_addr: Option<String>,
    /// active, idle, idle in transaction, idle in transaction (aborted), fastpath function call, disabled.
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    pub backend_seconds: Option<f64>,
    pub xact_seconds: Option<f64>,
    pub query_seconds: Option<f64>,
    /// Seconds since the state last changed (how long idle / idle in transaction).
    pub state_seconds: Option<f64>,
    /// PG 14+ with compute_query_id: joins the session to pg_stat_statements.
    pub query_id: Option<i64>,
    /// The last statement with its literals masked.
    pub query: Option<String>,
}

/// pg_stat_database for the connected database. PG 14+ session counters are optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseStats {
    pub numbackends: i32,
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub blks_read: i64,
    pub blks_hit: i64,
    pub tup_returned: i64,
    pub tup_fetched: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    pub temp_files: i64,
    pub temp_bytes: i64,
    pub deadlocks: i64,
    pub stats_reset: Option<String>,
    pub session_time: Option<f64>,
    pub active_time: Option<f64>,
    pub idle_in_transaction_time: Option<f64>,
    pub sessions: Option<i64>,
    pub sessions_abandoned: Option<i64>,
    pub sessions_fatal: Option<i64>,
    pub sessions_killed: Option<i64>,
}

/// Connections watched over a window (`--sample-window`): the pool verdict's input.
///
/// Bounded in memory: each sample keeps counts, not sessions, and idle-in-transaction
/// sessions are kept once per pid (their longest-idle observation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolWindow {
    /// Server clock at the first sample (ISO 8601, UTC).
    pub started_at: String,
    /// Seconds between the two pg_stat_database reads, by pgadvise's clock.
    pub seconds: f64,
    /// Time between samples, milliseconds.
    pub interval_ms: u64,
    /// Transactions pgadvise itself ran in the window (one per sample plus a
    /// clock read), to be taken out of the database's transaction count.
    pub own_transactions: u64,
    pub samples: Vec<ActivityCounts>,
    /// Sessions seen idle in transaction, one per pid.
    pub idle_in_transaction: Vec<IdleInTransaction>,
    /// pg_stat_database of the connected database when the window opened and closed.
    pub database_start: DatabaseStats,
    pub database_end: DatabaseStats,
    /// CPU cores of the server's machine, when pgadvise ran on it (a Unix socket
    /// or loopback address, and the server's data directory readable, its
    /// postmaster.pid naming the port connected to); absent otherwise: a remote
    /// server's cores are never guessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_cores: Option<u32>,
}

/// One sample of pg_stat_activity, aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityCounts {
    /// Client backends of the whole cluster (every database), pgadvise's own excluded:
    /// they all draw on max_connections.
    pub client_backends: u32,
    /// Client backends of the connected database, by application, role, state and wait.
    pub counts: Vec<StateCount>,
    /// Client backends of the other databases, by state and wait (application
    /// and role left empty): with `counts`, what the server's cores run.
    /// Absent from snapshots written before it existed.
    #[serde(default)]
    pub elsewhere: Vec<StateCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub application_name: String,
    /// pg_stat_activity.state; `unknown` where the role may not see it.
    pub state: String,
    pub sessions: u32,
    /// pg_stat_activity.usename. Absent from older snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// pg_stat_activity.wait_event_type (`IO`, `Lock`, `LWLock`, `Client`, ...);
    /// absent when the session waits on nothing (or in older snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_event_type: Option<String>,
    /// pg_stat_activity.wait_event (`ClientRead`, `transactionid`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_event: Option<String>,
}

/// A session seen idle in transaction (or aborted) during the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleInTransaction {
    pub pid: i32,
    pub application_name: String,
    pub user: Option<String>,
    /// Seconds idle in transaction at the observation.
    pub state_seconds: f64,
    /// Age of its transaction at the observation, seconds.
    pub xact_seconds: f64,
    /// The last statement, literals masked.
    pub query: Option<String>,
    pub query_id: Option<i64>,
}

impl Table {
    /// The share of the table's pages the visibility map marks all-visible;
    /// `None` when not known (an older snapshot) or the table has no pages.
    pub fn all_visible_fraction(&self) -> Option<f64> {
        let visible = self.relallvisible?;
        (self.relpages > 0).then(|| (visible as f64 / self.relpages as f64).min(1.0))
    }
}

impl Snapshot {
    /// The named setting's raw value.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.get(name).map(|s| s.setting.as_str())
    }

    /// The installed version of an extension in this database.
    pub fn extension(&self, name: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.name == name)
    }

    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// The tables that hold `table`'s rows: itself, or for a partitioned
    /// table its leaf partitions at any depth (none when it is not known).
    pub fn leaf_tables(&self, table: &QualifiedName) -> Vec<&Table> {
        let Some(t) = self.table(&table.schema, &table.name) else {
            return Vec::new();
        };
        if t.kind != TableKind::PartitionedTable {
            return vec![t];
        }
        self.tables
            .iter()
            .filter(|child| child.parent.as_ref() == Some(table))
            .flat_map(|child| self.leaf_tables(&QualifiedName::new(&child.schema, &child.name)))
            .collect()
    }

    pub fn indexes_of<'a>(&'a self, table: &'a QualifiedName) -> impl Iterator<Item = &'a Index> {
        self.indexes.iter().filter(move |i| &i.table == table)
    }

    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        let probe: VersionProbe = serde_json::from_str(text).map_err(SnapshotError::Json)?;
        match probe.format_version {
            Some(FORMAT_VERSION) => serde_json::from_str(text).map_err(SnapshotError::Json),
            Some(other) => Err(SnapshotError::UnsupportedVersion(other)),
            None => Err(SnapshotError::NotASnapshot),
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not valid snapshot JSON: {0}")]
    Json(serde_json::Error),
    #[error("this file has no \"format_version\": it is not a pgadvise snapshot")]
    NotASnapshot,
    #[error(
        "snapshot format version {0} is not supported by this pgadvise (it reads version {FORMAT_VERSION}); \
         take the snapshot again with this pgadvise"
    )]
    UnsupportedVersion(u32),
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for QualifiedName {
    /// `schema.name`, each part quoted only where PostgreSQL needs it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}",
            crate::ident::quote(&self.schema),
            crate::ident::quote(&self.name)
        )
    }
}
