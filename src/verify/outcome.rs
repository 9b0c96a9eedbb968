//! What `pgadvise verify` found: each index's catalog state and each
//! statement's plan (`verify::deployed`), with what `--analyze` measured
//! (`verify::measure`). Both fill these in; `emit` renders them.

use crate::snapshot::QualifiedName;
use serde::Serialize;

/// An index's catalog state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexState {
    Missing,
    /// `indisvalid` false: a failed or unfinished concurrent build, or a
    /// partitioned index with a partition's index missing.
    Invalid,
    /// Valid but `indisready` false (cannot happen once valid; kept for clarity).
    NotReady,
    Ready,
}

/// The outcome for one index.
#[derive(Debug, Clone, Serialize)]
pub struct IndexCheck {
    pub migration: String,
    pub index: QualifiedName,
    pub state: IndexState,
    /// Partition indexes that are missing or invalid.
    pub bad_partitions: Vec<(QualifiedName, IndexState)>,
    /// What to do when the index is not ready.
    pub fix: Option<String>,
    pub queries: Vec<QueryCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryCheck {
    pub queryid: i64,
    pub query: String,
    pub outcome: QueryOutcome,
    /// The node reading through the index now, e.g. `Index Scan`.
    pub node: Option<String>,
    pub cost: Option<f64>,
    pub expected_node: Option<String>,
    pub estimated_cost_after: Option<f64>,
    pub cost_before: Option<f64>,
    /// The plan's node headings, when the index is not used (or the error).
    pub detail: Option<String>,
    /// `--analyze`: what EXPLAIN ANALYZE measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryOutcome {
    Pass,
    Fail,
    /// Not checked: verification found the planner does not use the index for it.
    Skip,
}

impl IndexState {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexState::Missing => "missing",
            IndexState::Invalid => "INVALID",
            IndexState::NotReady => "not ready",
            IndexState::Ready => "ready",
        }
    }
}

impl IndexCheck {
    pub fn passed(&self) -> bool {
        self.state == IndexState::Ready
            && self.bad_partitions.is_empty()
            && self.queries.iter().all(|q| q.outcome != QueryOutcome::Fail)
    }
}

/// What one EXPLAIN ANALYZE measured, or why the statement was not run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// `$1 = '42'`, ... as passed.
    pub parameters: Vec<String>,
    pub execution_time_ms: Option<f64>,
    pub mean_before_ms: Option<f64>,
    pub shared_hit_blocks: Option<i64>,
    pub shared_read_blocks: Option<i64>,
    pub skipped: Option<String>,
}
