//! `idle-in-transaction`: sessions that held a transaction open, idle, for at
//! least a second; one finding per application, high past a minute.

use super::{IDLE_IN_TRANSACTION_HIGH_SECONDS, IDLE_IN_TRANSACTION_MIN_SECONDS};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::{IdleInTransaction, PoolWindow};
use std::collections::BTreeMap;

pub const RULE: RuleId = RuleId::IdleInTransaction;

pub fn check(window: &PoolWindow) -> Vec<Finding> {
    let mut by_app: BTreeMap<&str, Vec<&IdleInTransaction>> = BTreeMap::new();
    for s in &window.idle_in_transaction {
        if s.state_seconds >= IDLE_IN_TRANSACTION_MIN_SECONDS {
            by_app
                .entry(s.application_name.as_str())
                .or_default()
                .push(s);
        }
    }
    by_app
        .into_iter()
        .map(|(app, sessions)| finding(app, &sessions))
        .collect()
}

fn finding(app: &str, sessions: &[&IdleInTransaction]) -> Finding {
    let oldest = sessions.iter().map(|s| s.xact_seconds).fold(0.0, f64::max);
    let lines: Vec<String> = sessions
        .iter()
        .map(|s| {
            format!(
                "pid {} idle {:.1} s, transaction {:.1} s old, last statement: {}",
                s.pid,
                s.state_seconds,
                s.xact_seconds,
                s.query.as_deref().unwrap_or("(none)")
            )
        })
        .collect();
    Finding {
        rule: RULE,
        object: format!("application:{app}"),
        queryid: None,
        fix: Some("Commit or roll back promptly in the application; set idle_in_transaction_session_timeout (e.g. 60s) for its role as a backstop.".into()),
        severity: if oldest > IDLE_IN_TRANSACTION_HIGH_SECONDS {
            Severity::High
        } else {
            Severity::Medium
        },
        title: format!(
            "{app}: {} session(s) idle in transaction (oldest transaction {oldest:.1} s)",
            sessions.len()
        ),
        detail: format!(
            "An open transaction holds its connection, its locks and back vacuum's horizon. {}",
            lines.join("; ")
        ),
        evidence: serde_json::json!({
            "application": app,
            "sessions": sessions.iter().map(|s| serde_json::json!({
                "pid": s.pid, "user": s.user, "idle_seconds": s.state_seconds,
                "transaction_seconds": s.xact_seconds, "query": s.query, "query_id": s.query_id,
            })).collect::<Vec<_>>(),
        }),
    }
}
