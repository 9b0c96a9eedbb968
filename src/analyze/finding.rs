//! Findings: something a DBA should know, with its evidence and its fix.

use serde::{Deserialize, Serialize};

/// How much a finding matters; `pgadvise audit --fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// One finding. `rule` is a stable id (e.g. `pool-budget-exceeded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    /// The numbers and objects the finding rests on.
    pub evidence: serde_json::Value,
}
