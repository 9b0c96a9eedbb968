//! `pool-saturated`: an application's pool is fully busy in most samples,
//! or the server's CPU limits it; the finding carries the limit's advice.

use super::model::{ApplicationVerdict, Limit};
use super::MOST_SAMPLES;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::PoolSaturated;

pub fn check(app: &ApplicationVerdict) -> Option<Finding> {
    let saturated = app.pool_full_share > MOST_SAMPLES || app.limit == Limit::ServerCpu;
    if !saturated {
        return None;
    }
    Some(Finding {
        rule: RULE,
        object: format!("application:{}", app.name),
        queryid: None,
        fix: app.advice.first().cloned(),
        severity: Severity::Medium,
        title: format!(
            "{}: pool fully busy in {:.0}% of samples; limit: {}",
            app.name,
            app.pool_full_share * 100.0,
            app.limit.label()
        ),
        detail: format!(
            "Time: {}. Recommended {} (not above today's pool). {}",
            app.time.summary(),
            app.recommended_size,
            app.arithmetic
        ),
        evidence: serde_json::json!({
            "application": app.name,
            "limit": app.limit,
            "pool_size": app.pool_size,
            "pool_full_share": app.pool_full_share,
            "time": app.time,
            "recommended_size": app.recommended_size,
        }),
    })
}
