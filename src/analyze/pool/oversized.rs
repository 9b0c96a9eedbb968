//! `pool-oversized`: an application's pool (declared, or its idle peak) is
//! much larger than the recommendation; idle connections cost server memory
//! and budget.

use super::model::ApplicationVerdict;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::PoolOversized;

pub fn check(app: &ApplicationVerdict) -> Option<Finding> {
    let declared = app.declared.as_ref().map_or(0, |d| d.total);
    let idle_peak = app.observed.idle.peak;
    if !is_oversized(declared.max(idle_peak), app.recommended_size) {
        return None;
    }
    Some(Finding {
        rule: RULE,
        object: format!("application:{}", app.name),
        queryid: None,
        fix: Some(format!("Set the pool of {} to {} (its ready-to-paste settings are in the pool verdict).", app.name, app.recommended_size)),
        severity: Severity::Low,
        title: format!(
            "{}: pool of {} where {} would do",
            app.name,
            declared.max(idle_peak),
            app.recommended_size
        ),
        detail: format!(
            "Declared {declared}, idle peak {idle_peak}, recommended {}: idle connections cost server memory and budget. {}",
            app.recommended_size, app.arithmetic
        ),
        evidence: serde_json::json!({
            "application": app.name, "declared_total": declared,
            "idle_peak": idle_peak, "recommended_size": app.recommended_size,
        }),
    })
}

/// Much larger than needed: at least twice the recommendation and 3 connections more.
fn is_oversized(size: u32, recommended: u32) -> bool {
    size >= recommended.saturating_mul(2) && size >= recommended.saturating_add(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_by_hand() {
        // (pool size, recommended) → oversized
        let cases = [
            (80, 5, true),
            (10, 5, true),
            (4, 2, false), // tiny pools are not worth a finding
            (9, 5, false),
            (5, 5, false),
        ];
        for (size, recommended, expected) in cases {
            assert_eq!(
                is_oversized(size, recommended),
                expected,
                "{size} for {recommended}"
            );
        }
    }
}
