//! `connections-near-limit`: at the window's peak the server's client
//! backends (pgadvise's own session included) came within 20 % of the budget.

use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::PoolWindow;

pub const RULE: RuleId = RuleId::ConnectionsNearLimit;

/// `budget_arithmetic` says how the budget was reached.
pub fn check(window: &PoolWindow, budget: u32, budget_arithmetic: &str) -> Option<Finding> {
    // pgadvise's own session draws on the budget too.
    let peak_connections = window
        .samples
        .iter()
        .map(|s| s.client_backends + 1)
        .max()
        .unwrap_or(0);
    let severity = near_limit_severity(peak_connections, budget)?;
    Some(Finding {
        rule: RULE,
        object: "server".into(),
        queryid: None,
        fix: Some("Find which applications hold the connections (the applications table), shrink oversized pools, or pool through PgBouncer; raise max_connections only with the memory to back it.".into()),
        severity,
        title: format!("{peak_connections} of {budget} connections in use at the peak"),
        detail: format!(
            "Peak {peak_connections} client backends (all databases, pgadvise included) of a budget of {budget} ({budget_arithmetic})."
        ),
        evidence: serde_json::json!({ "peak": peak_connections, "budget": budget }),
    })
}

/// Medium at 80 % of the budget, high at 90 %.
fn near_limit_severity(peak: u32, budget: u32) -> Option<Severity> {
    let (peak, budget) = (u64::from(peak), u64::from(budget));
    if budget == 0 || peak * 10 >= budget * 9 {
        Some(Severity::High)
    } else if peak * 10 >= budget * 8 {
        Some(Severity::Medium)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_by_hand() {
        // 97 budget: 80 % is 77.6, 90 % is 87.3.
        let cases = [
            (77, 97, None),
            (78, 97, Some(Severity::Medium)),
            (87, 97, Some(Severity::Medium)),
            (88, 97, Some(Severity::High)),
            // No budget at all: any session is too many.
            (0, 0, Some(Severity::High)),
        ];
        for (peak, budget, expected) in cases {
            assert_eq!(
                near_limit_severity(peak, budget),
                expected,
                "peak {peak} of {budget}"
            );
        }
    }
}
