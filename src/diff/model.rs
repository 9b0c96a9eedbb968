//! What `pgadvise diff` found between two snapshots: the versioned JSON
//! document `--format json` prints (docs/json-output.md), and what the text
//! and Markdown renderings read.

use serde::Serialize;

/// Version of the diff document's JSON shape (independent of the snapshot's
/// and the scan report's).
pub const DIFF_FORMAT_VERSION: u32 = 1;

/// Default `--threshold`: a mean time grown by more than this share is a regression.
pub const DEFAULT_THRESHOLD_PCT: f64 = 20.0;

/// Default `--min-calls`: calls in the window below which a mean means little.
pub const DEFAULT_MIN_CALLS: i64 = 50;

/// Default `--top`: entries per list.
pub const DEFAULT_TOP: usize = 20;

/// A statement new in NEW is listed when its window time is at least this
/// share of the window's execution time.
pub const NEW_STATEMENT_MIN_SHARE: f64 = 0.01;

/// Sequential scans reading fewer rows than this on average are what the
/// planner should do (a small table): not listed.
pub const SEQ_SCAN_MIN_ROWS_PER_SCAN: f64 = 1000.0;

/// How the comparison is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffOptions {
    /// Percent.
    pub threshold_pct: f64,
    pub min_calls: i64,
    /// At most this many entries per list.
    pub top: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            threshold_pct: DEFAULT_THRESHOLD_PCT,
            min_calls: DEFAULT_MIN_CALLS,
            top: DEFAULT_TOP,
        }
    }
}

/// Everything `pgadvise diff` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotDiff {
    pub format_version: u32,
    pub pgadvise_version: String,
    pub old: SnapshotSide,
    pub new: SnapshotSide,
    /// Seconds between the two collections; `None` when a timestamp does not parse.
    pub window_seconds: Option<f64>,
    /// Regressions: mean time grown by more than this many percent.
    pub threshold_pct: f64,
    /// Regressions: at least this many calls in the window.
    pub min_calls: i64,
    /// Counters that started over between the snapshots; `None` when none did.
    pub reset: Option<StatisticsReset>,
    /// What the reader should know about the comparison (a primary against a
    /// standby, evictions from pg_stat_statements).
    pub notes: Vec<String>,
    pub window: WindowTotals,
    /// Statements whose mean time grew beyond the threshold, the most time lost first.
    pub regressions: Vec<StatementChange>,
    /// Statements in NEW but not in OLD, the most window time first.
    pub new_statements: Vec<StatementChange>,
    /// Indexes in NEW whose definition OLD does not have.
    pub new_indexes: Vec<IndexEffect>,
    /// Indexes in OLD whose definition NEW does not have.
    pub dropped_indexes: Vec<IndexRef>,
    /// Indexes used before OLD and not once in the window, while their table was read.
    pub stopped_indexes: Vec<StoppedIndex>,
    /// Tables whose share of sequential scans grew.
    pub seq_scan_growth: Vec<SeqScanGrowth>,
}

/// One snapshot of the pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotSide {
    pub collected_at: String,
    pub database: String,
    /// `user@host:port/database`, never a password.
    pub target: String,
    pub server_version: String,
    /// pg_stat_statements_info.stats_reset, when the server tells.
    pub statements_reset_at: Option<String>,
}

/// Counters that went down or whose reset time moved: for them the window is
/// NEW's counters alone, and no delta is ever negative.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatisticsReset {
    /// pg_stat_statements_info.stats_reset moved to this time: every
    /// statement's counters started over.
    pub statements_reset_at: Option<String>,
    /// pg_stat_database.stats_reset moved to this time (`pg_stat_reset()`):
    /// every table's and index's counters started over.
    pub tables_reset_at: Option<String>,
    /// Statements whose counters started over (a reset of the whole server,
    /// this database, a role or one statement, or an entry evicted and
    /// tracked again).
    pub statements_restarted: usize,
    /// Tables whose counters started over.
    pub tables_restarted: usize,
    /// Indexes whose counters started over.
    pub indexes_restarted: usize,
}

/// The whole window, pgadvise's own statements left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowTotals {
    /// Statements that ran in the window.
    pub statements: usize,
    pub calls: i64,
    pub total_exec_time_ms: f64,
}

/// One statement over the window, against OLD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementChange {
    pub queryid: i64,
    pub user: String,
    pub query: String,
    /// In the window (NEW minus OLD, or NEW alone when its counters started over).
    pub calls: i64,
    pub total_exec_time_ms: f64,
    pub mean_exec_time_ms: f64,
    pub rows: i64,
    pub shared_blks_read: i64,
    pub shared_blks_hit: i64,
    /// Calls and mean time in OLD (since its statistics were reset); `None`
    /// for a statement OLD does not have.
    pub old_calls: Option<i64>,
    pub old_mean_exec_time_ms: Option<f64>,
    /// Mean time change against OLD's mean, percent.
    pub mean_change_pct: Option<f64>,
    /// What the change cost over the window's calls: calls × (mean − OLD's mean), ms.
    pub extra_time_ms: Option<f64>,
    /// Share of the window's execution time.
    pub share_of_window: f64,
    /// Its counters started over between the snapshots.
    pub restarted: bool,
}

/// An index by name, with its table and definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexRef {
    /// `schema.name`, quoted where PostgreSQL needs it.
    pub index: String,
    pub table: String,
    /// `pg_get_indexdef`.
    pub definition: String,
}

/// The measured effect of an index created between the snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexEffect {
    #[serde(flatten)]
    pub index: IndexRef,
    pub valid: bool,
    pub size_bytes: i64,
    /// Its idx_scan in NEW: every scan since it was built falls in the window.
    /// `None` where the server keeps no counter (a partitioned parent).
    pub idx_scan: Option<i64>,
    /// The planner read through it in the window (idx_scan above zero).
    pub used: Option<bool>,
    /// Statements reading its table with a filter, join or sort on its first
    /// key, OLD's mean against the window's.
    pub statements: Vec<ServedStatement>,
    /// Σ over those statements known in OLD: window calls × (OLD's mean − window mean), ms.
    pub time_saved_ms: f64,
    /// Sequential scans of its table in the window.
    pub table_seq_scan: Option<i64>,
}

/// A statement an index can serve, before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServedStatement {
    pub queryid: i64,
    pub query: String,
    /// OLD's calls and mean (cumulative up to OLD); `None` for a statement new in NEW.
    pub calls_before: Option<i64>,
    pub mean_before_ms: Option<f64>,
    /// The window's calls and mean; mean `None` when it did not run in the window.
    pub calls_after: i64,
    pub mean_after_ms: Option<f64>,
    /// Percent, negative when faster.
    pub mean_change_pct: Option<f64>,
}

/// An index scanned before OLD and not once in the window, while its table
/// was read some other way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoppedIndex {
    #[serde(flatten)]
    pub index: IndexRef,
    pub size_bytes: i64,
    /// Its idx_scan in OLD.
    pub old_idx_scan: i64,
    /// Its table's sequential scans and other index scans in the window.
    pub table_seq_scan: i64,
    pub table_idx_scan: i64,
}

/// A table whose share of sequential scans grew.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeqScanGrowth {
    pub table: String,
    /// In the window.
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    pub rows_per_seq_scan: f64,
    /// Sequential scans among the table's scans: in OLD's counters (`None`
    /// when OLD saw no scan at all), and in the window.
    pub seq_share_before: Option<f64>,
    pub seq_share_window: f64,
    pub size_bytes: i64,
}

impl SnapshotDiff {
    /// The regressions whose mean grew by `pct` percent or more
    /// (`--fail-on-regression`).
    pub fn regressions_at_or_above(&self, pct: f64) -> impl Iterator<Item = &StatementChange> {
        self.regressions
            .iter()
            .filter(move |r| r.mean_change_pct.is_some_and(|c| c >= pct))
    }
}
