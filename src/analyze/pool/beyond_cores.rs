//! `pool-beyond-cores`: more sessions active at once than the server's cores
//! serve well (cores × 2 + 1); the rest queue for CPU inside the server.
//! Only when the cores are known.

use super::samples;
use super::sizing::cores_cap;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::PoolWindow;

pub const RULE: RuleId = RuleId::PoolBeyondCores;

pub fn check(window: &PoolWindow, cores: u32) -> Option<Finding> {
    let active_peak = samples::active(window).into_iter().max().unwrap_or(0);
    if active_peak <= cores_cap(cores) {
        return None;
    }
    Some(Finding {
        rule: RULE,
        object: "server".into(),
        queryid: None,
        fix: Some(format!(
            "Cap active connections near {}: smaller pools, or PgBouncer in transaction mode.",
            cores_cap(cores)
        )),
        severity: Severity::Medium,
        title: format!(
            "{active_peak} sessions active at once on {cores} cores (more than {} gains nothing)",
            cores_cap(cores)
        ),
        detail: "Past cores × 2 + 1 active connections, queries queue for CPU inside the server. \
                 Use smaller pools, or PgBouncer in transaction mode in front of the server."
            .into(),
        evidence: serde_json::json!({ "active_peak": active_peak, "cores": cores, "cap": cores_cap(cores) }),
    })
}
