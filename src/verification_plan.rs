//! The verification plan file format (`<stem>.verify.json`): what a migration's
//! index is, and which statements should plan through it. `scan --out` writes
//! one beside each index migration (`emit::migrations::plan` builds and
//! renders it); `pgadvise verify` reads them back (`verify::deployed`).

use crate::snapshot::QualifiedName;
use serde::{Deserialize, Serialize};

/// Version of the `.verify.json` shape.
pub const VERIFY_PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationPlan {
    pub format_version: u32,
    /// The migration's identity (the same marker its files carry).
    pub pgadvise_migration: String,
    /// The migration's file stem (`<version>_<name>`).
    pub migration: String,
    pub index: QualifiedName,
    pub table: QualifiedName,
    pub definition: String,
    /// For a partitioned table: each partition's index (plans read those).
    #[serde(default)]
    pub partition_indexes: Vec<QualifiedName>,
    pub queries: Vec<PlannedQuery>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedQuery {
    pub queryid: i64,
    /// As pg_stat_statements records it, with `$n` parameters.
    pub query: String,
    pub calls: Option<i64>,
    /// pg_stat_statements' mean execution time before the index, in ms.
    pub mean_exec_time_ms: Option<f64>,
    /// The node expected to read through the index, e.g.
    /// `Index Scan using messages_x_idx`; `None` when verification found the
    /// planner does not use it for this statement (not checked).
    pub expected_node: Option<String>,
    pub cost_before: Option<f64>,
    pub cost_after: Option<f64>,
}

impl VerificationPlan {
    /// Every index name a plan may show for this index.
    pub fn index_names(&self) -> Vec<&str> {
        std::iter::once(self.index.name.as_str())
            .chain(self.partition_indexes.iter().map(|p| p.name.as_str()))
            .collect()
    }

    pub fn to_json(&self) -> String {
        format!(
            "{}\n",
            serde_json::to_string_pretty(self).unwrap_or_default()
        )
    }
}
