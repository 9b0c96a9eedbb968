//! The scan report: the versioned JSON document `scan --format json` prints,
//! and the data every other rendering reads.

use crate::analyze::finding::Finding;
use crate::analyze::health::DropProposal;
use crate::analyze::indexes::IndexProposal;
use crate::snapshot::Snapshot;
use crate::verify::proposals::VerifyReport;
use serde::Serialize;

/// Version of the report's JSON shape (independent of the snapshot's).
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// The top level is fixed; later stages fill `indexes`, `findings` and `pool`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub format_version: u32,
    pub pgadvise_version: String,
    pub server: ServerSummary,
    /// Statements turned into query shapes.
    pub statements_analyzed: usize,
    /// Statements left out (utility statements, pgadvise's own, unparseable, catalog-only).
    pub statements_skipped: usize,
    /// Why they were left out: `{"reason": ..., "count": ...}`, most first.
    #[serde(default)]
    pub statements_skipped_by_reason: Vec<SkipCount>,
    /// Proposed indexes, the most time saved first.
    pub indexes: Vec<IndexProposal>,
    pub findings: Vec<Finding>,
    /// Safe index drops (and rebuilds of invalid indexes), for the migration writer.
    pub drops: Vec<DropProposal>,
    pub pool: Option<serde_json::Value>,
    /// What hypopg verification found: rejected proposals, statements it could
    /// not plan, workload cost before and after, plans per statement. `null`
    /// when proposals were not verified.
    pub verification: Option<VerifyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkipCount {
    pub reason: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerSummary {
    pub version: String,
    pub version_num: i32,
}

impl ScanReport {
    pub fn new(
        snapshot: &Snapshot,
        statements_analyzed: usize,
        statements_skipped: usize,
        indexes: Vec<IndexProposal>,
    ) -> Self {
        ScanReport {
            format_version: REPORT_FORMAT_VERSION,
            pgadvise_version: env!("CARGO_PKG_VERSION").to_string(),
            server: ServerSummary {
                version: snapshot.server.version.clone(),
                version_num: snapshot.server.version_num,
            },
            statements_analyzed,
            statements_skipped,
            statements_skipped_by_reason: Vec::new(),
            indexes,
            findings: Vec::new(),
            drops: Vec::new(),
            pool: None,
            verification: None,
        }
    }

    /// Records why statements were skipped, as `Workload::skip_reasons` counts them.
    pub fn with_skip_reasons(mut self, reasons: &[(&str, usize)]) -> Self {
        self.statements_skipped_by_reason = reasons
            .iter()
            .map(|(reason, count)| SkipCount {
                reason: reason.to_string(),
                count: *count,
            })
            .collect();
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
