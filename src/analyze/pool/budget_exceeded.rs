//! `pool-budget-exceeded`: the declared pools together can open more
//! connections than the server allows, so a busy moment ends in
//! "too many clients".

use super::model::DeclaredPool;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;

pub const RULE: RuleId = RuleId::PoolBudgetExceeded;

/// `budget_arithmetic` says how the budget was reached.
pub fn check(declared: &[DeclaredPool], budget: u32, budget_arithmetic: &str) -> Option<Finding> {
    let declared_total: u32 = declared.iter().map(DeclaredPool::total).sum();
    if declared_total <= budget {
        return None;
    }
    let parts: Vec<String> = declared
        .iter()
        .map(|d| format!("{} {}×{} = {}", d.name, d.instances, d.size, d.total()))
        .collect();
    Some(Finding {
        rule: RULE,
        object: "server".into(),
        queryid: None,
        fix: Some("Shrink the pools until instances × size sums below the budget (see each application's recommended size), or put PgBouncer in transaction mode in front of the server.".into()),
        severity: Severity::High,
        title: format!(
            "Declared pools can open {declared_total} connections; the server allows {budget}"
        ),
        detail: format!(
            "{} — total {declared_total} > budget {budget} ({budget_arithmetic}). \
             When every pool fills, new connections fail with \"too many clients\".",
            parts.join(", ")
        ),
        evidence: serde_json::json!({
            "applications": declared.iter().map(|d| serde_json::json!({
                "name": d.name, "instances": d.instances, "size": d.size, "total": d.total()
            })).collect::<Vec<_>>(),
            "total": declared_total,
            "budget": budget,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_only_above_the_budget() {
        let pools = |shapes: &[(u32, u32)]| -> Vec<DeclaredPool> {
            shapes
                .iter()
                .enumerate()
                .map(|(n, &(instances, size))| DeclaredPool {
                    name: format!("app{n}"),
                    instances,
                    size,
                })
                .collect()
        };
        // (declared pools, budget) → fires
        let cases = [
            (pools(&[]), 0, false),
            (pools(&[(4, 20)]), 80, false),
            (pools(&[(4, 20), (1, 1)]), 80, true),
            (pools(&[(1, 1)]), 0, true),
        ];
        for (declared, budget, fires) in cases {
            let finding = check(&declared, budget, "arithmetic");
            assert_eq!(finding.is_some(), fires, "{declared:?} against {budget}");
        }
        let finding = check(&pools(&[(4, 20), (2, 10)]), 97, "97 by hand");
        let detail = finding.map(|f| f.detail).unwrap_or_default();
        assert!(
            detail.starts_with(
                "app0 4×20 = 80, app1 2×10 = 20 — total 100 > budget 97 (97 by hand)."
            ),
            "{detail}"
        );
    }
}
