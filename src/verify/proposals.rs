//! Verifies heuristic index proposals with hypothetical indexes: keep an index
//! only where the planner uses it and it cuts its statements' cost enough, then
//! try the winning set together (one index may make another unnecessary).

use super::{PlanSummary, VerifyError, WhatIf};
use crate::analyze::indexes::{ExpectedPlan, IndexAdvice, IndexProposal};
use crate::snapshot::Statement;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A proposal verification dropped, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedProposal {
    pub name: String,
    pub ddl: String,
    pub reason: String,
}

/// What verification found besides the kept proposals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    pub rejected: Vec<RejectedProposal>,
    /// Statements that could not be planned, with the reason (queryid, reason).
    pub unplannable: Vec<(i64, String)>,
    /// The workload's cost, sum of calls x generic-plan cost over the statements
    /// the proposals serve, without and with the kept set.
    pub workload_cost_before: f64,
    pub workload_cost_after: f64,
    /// hypopg's size of the kept set, in bytes.
    pub total_size_bytes: i64,
    /// Each statement a kept index serves: its generic plan without and with the kept set.
    pub plans: Vec<StatementPlans>,
    /// Candidates that paid but did not fit (budget, indexes per table), most saving first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
    /// Distinct candidate indexes weighed.
    pub candidates_considered: usize,
    /// Generic plans made (EXPLAINs).
    pub plans_made: usize,
    /// Times hypopg ran out of oids and the session was rebuilt.
    pub hypopg_resets: usize,
    /// Wall time of each stage of the selection, in order (milliseconds).
    pub timings_ms: Vec<(String, f64)>,
}

/// A candidate the selection would have added but for a limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftOut {
    /// Its definition (hypopg's form; several joined by `; ` for a set that only pays together).
    pub ddl: String,
    pub size_bytes: i64,
    /// Σ calls × generic-plan cost it would have saved when it was left out.
    pub cost_saving: f64,
    pub reason: String,
}

/// A statement's generic plan before and after the kept indexes, as EXPLAIN prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementPlans {
    pub queryid: i64,
    pub cost_before: f64,
    pub cost_after: f64,
    pub plan_before: String,
    pub plan_after: String,
}

/// One statement's generic-plan cost without and with the index set.
#[derive(Debug, Clone)]
struct CostPair {
    before: f64,
    after: f64,
    uses_index: bool,
    /// The plan node that reads through the index (`Index Scan`, ...).
    node: Option<String>,
}

/// Verifies `advice.proposals` in place: kept proposals get `verified`, costs,
/// hypopg's size and the time saved, and are re-ranked by it; the others move
/// to the report's `rejected`. `min_savings` is the share of cost (0.5 = 50%)
/// an index must cut from at least one of its statements.
pub async fn verify_proposals(
    whatif: &WhatIf,
    advice: &mut IndexAdvice,
    statements: &[&Statement],
    min_savings: f64,
) -> Result<VerifyReport, VerifyError> {
    let mut report = VerifyReport::default();
    let by_id: HashMap<i64, &Statement> = statements.iter().map(|s| (s.queryid, *s)).collect();
    let mut involved: Vec<i64> = advice
        .proposals
        .iter()
        .flat_map(|p| p.queryids.iter().copied())
        .filter(|id| by_id.contains_key(id))
        .collect();
    involved.sort_unstable();
    involved.dedup();

    whatif.reset().await?;
    let baseline = plan_ids(whatif, &involved, &by_id).await;
    for (id, result) in &baseline {
        if let Err(reason) = result {
            report.unplannable.push((*id, reason.clone()));
        }
    }
    let baseline_cost = |id: &i64| {
        baseline
            .get(id)
            .and_then(|r| r.as_ref().ok())
            .map(|p| p.total_cost)
    };

    // Each proposal alone.
    let mut kept: Vec<IndexProposal> = Vec::new();
    // No statement of these planned (e.g. the role may not SELECT the table):
    // nothing speaks against them, so they stay, unverified.
    let mut unverified: Vec<IndexProposal> = Vec::new();
    for mut proposal in std::mem::take(&mut advice.proposals) {
        if !proposal
            .queryids
            .iter()
            .any(|id| baseline_cost(id).is_some())
        {
            unverified.push(proposal);
            continue;
        }
        let hypothetical = whatif
            .create_hypothetical(&proposal.hypothetical_sql)
            .await?;
        let ids: Vec<i64> = proposal
            .queryids
            .iter()
            .copied()
            .filter(|id| baseline_cost(id).is_some())
            .collect();
        let plans = plan_ids(whatif, &ids, &by_id).await;
        whatif.drop_hypothetical(hypothetical.oid).await?;
        let costs = pair_costs(&ids, &plans, &baseline_cost, &hypothetical.name);
        let best = costs
            .values()
            .filter(|c| c.uses_index && c.before > 0.0)
            .map(|c| 1.0 - c.after / c.before)
            .fold(f64::NEG_INFINITY, f64::max);
        let verdict = if !costs.values().any(|c| c.uses_index) {
            Err("the planner does not use it for any of its statements".to_string())
        } else if best < min_savings {
            Err(format!(
                "it cuts its statements' cost by at most {:.0}% (less than {:.0}%)",
                best.max(0.0) * 100.0,
                min_savings * 100.0
            ))
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => {
                proposal.estimated_size_bytes = hypothetical.size_bytes;
                if proposal.predicate.is_some() {
                    if let Some(full) = full_index_size(whatif, &proposal).await? {
                        proposal.full_index_size_bytes = full;
                    }
                }
                kept.push(proposal);
            }
            Err(reason) => report.rejected.push(RejectedProposal {
                name: proposal.name.clone(),
                ddl: proposal.ddl.clone(),
                reason,
            }),
        }
    }

    // The winning set together: costs with every kept index present, and any
    // index no statement uses any more (another serves it better) dropped.
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in kept.iter().enumerate() {
        let h = whatif.create_hypothetical(&p.hypothetical_sql).await?;
        names.insert(h.name, i);
    }
    let all_ids: Vec<i64> = involved
        .iter()
        .copied()
        .filter(|id| baseline_cost(id).is_some())
        .collect();
    let together = plan_ids(whatif, &all_ids, &by_id).await;
    whatif.reset().await?;

    // Plans name hypothetical indexes as hypopg does; the report shows the proposed names.
    let display_names: Vec<(String, String)> = names
        .iter()
        .map(|(h, i)| (h.clone(), format!("{} (hypothetical)", kept[*i].name)))
        .collect();
    let mut final_set = Vec::new();
    for (i, mut proposal) in kept.into_iter().enumerate() {
        let Some(name) = names
            .iter()
            .find(|(_, n)| **n == i)
            .map(|(name, _)| name.clone())
        else {
            continue;
        };
        let ids: Vec<i64> = proposal
            .queryids
            .iter()
            .copied()
            .filter(|id| baseline_cost(id).is_some())
            .collect();
        let costs = pair_costs(&ids, &together, &baseline_cost, &name);
        if !costs.values().any(|c| c.uses_index) {
            report.rejected.push(RejectedProposal {
                name: proposal.name.clone(),
                ddl: proposal.ddl.clone(),
                reason: "with the other proposed indexes present the planner prefers those".into(),
            });
            continue;
        }
        proposal.verified = true;
        proposal.plans = costs
            .iter()
            .map(|(id, c)| ExpectedPlan {
                queryid: *id,
                query: by_id.get(id).map(|s| s.query.clone()).unwrap_or_default(),
                cost_before: c.before,
                cost_after: c.after,
                node: c.node.clone(),
            })
            .collect();
        proposal.cost_before = Some(costs.values().map(|c| c.before).sum());
        proposal.cost_after = Some(costs.values().map(|c| c.after).sum());
        proposal.estimated_time_saved_ms = Some(
            costs
                .iter()
                .filter(|(_, c)| c.uses_index && c.before > 0.0)
                .filter_map(|(id, c)| {
                    let s = by_id.get(id)?;
                    Some(s.calls as f64 * s.mean_exec_time * (1.0 - c.after / c.before).max(0.0))
                })
                .sum(),
        );
        final_set.push(proposal);
    }
    for id in &all_ids {
        let (Some(before), Some(statement)) = (baseline_cost(id), by_id.get(id)) else {
            continue;
        };
        let after = together
            .get(id)
            .and_then(|r| r.as_ref().ok())
            .map_or(before, |p| p.total_cost);
        let calls = statement.calls.max(1) as f64;
        report.workload_cost_before += calls * before;
        report.workload_cost_after += calls * after;
    }
    report.total_size_bytes = final_set.iter().map(|p| p.estimated_size_bytes).sum();
    let served: std::collections::BTreeSet<i64> = final_set
        .iter()
        .flat_map(|p| p.queryids.iter().copied())
        .collect();
    for id in served {
        let before = baseline.get(&id).and_then(|r| r.as_ref().ok());
        let after = together.get(&id).and_then(|r| r.as_ref().ok());
        if let (Some(before), Some(after)) = (before, after) {
            report.plans.push(StatementPlans {
                queryid: id,
                cost_before: before.total_cost,
                cost_after: after.total_cost,
                plan_before: before.text.clone(),
                plan_after: display_names
                    .iter()
                    .fold(after.text.clone(), |text, (h, name)| text.replace(h, name)),
            });
        }
    }
    final_set.sort_by(|a, b| {
        b.estimated_time_saved_ms
            .partial_cmp(&a.estimated_time_saved_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.name.cmp(&b.name))
    });
    final_set.extend(unverified);
    advice.proposals = final_set;
    Ok(report)
}

/// Plans the statements with these ids (pipelined), by id.
async fn plan_ids(
    whatif: &WhatIf,
    ids: &[i64],
    by_id: &HashMap<i64, &Statement>,
) -> HashMap<i64, Result<PlanSummary, String>> {
    let texts: Vec<&str> = ids
        .iter()
        .filter_map(|id| by_id.get(id).map(|s| s.query.as_str()))
        .collect();
    let plans = whatif.plan_many(&texts).await;
    ids.iter()
        .copied()
        .zip(plans)
        .map(|(id, plan)| (id, plan.map_err(|e| e.to_string())))
        .collect()
}

fn pair_costs(
    ids: &[i64],
    plans: &HashMap<i64, Result<PlanSummary, String>>,
    baseline_cost: &dyn Fn(&i64) -> Option<f64>,
    index_name: &str,
) -> BTreeMap<i64, CostPair> {
    ids.iter()
        .filter_map(|id| {
            let before = baseline_cost(id)?;
            let plan = plans.get(id)?.as_ref().ok()?;
            Some((
                *id,
                CostPair {
                    before,
                    after: plan.total_cost,
                    uses_index: plan.indexes_used.iter().any(|n| n == index_name),
                    node: index_node(&plan.nodes, index_name),
                },
            ))
        })
        .collect()
}

/// The kind of the first node reading through `index_name`: `Index Scan`,
/// `Index Scan Backward`, `Index Only Scan`, `Bitmap Index Scan`.
pub fn index_node(nodes: &[String], index_name: &str) -> Option<String> {
    nodes.iter().find_map(|heading| {
        let (kind, tail) = match heading.split_once(" using ") {
            Some((kind, tail)) => (kind, tail),
            None => (
                "Bitmap Index Scan",
                heading.strip_prefix("Bitmap Index Scan on ")?,
            ),
        };
        let named = tail == index_name || tail.starts_with(&format!("{index_name} "));
        named.then(|| kind.to_string())
    })
}

/// hypopg's size of the same keys without the partial predicate.
async fn full_index_size(
    whatif: &WhatIf,
    proposal: &IndexProposal,
) -> Result<Option<i64>, VerifyError> {
    let Some(full_sql) = &proposal.hypothetical_full_sql else {
        return Ok(None);
    };
    let h = whatif.create_hypothetical(full_sql).await?;
    whatif.drop_hypothetical(h.oid).await?;
    Ok(Some(h.size_bytes))
}

#[cfg(test)]
mod tests {
    use super::index_node;

    #[test]
    fn finds_the_node_reading_through_an_index() {
        let nodes: Vec<String> = [
            "Limit",
            "Index Scan Backward using <1>btree_t_a on t",
            "Bitmap Index Scan on <2>btree_t_b",
            "Index Only Scan using t_c_idx on t x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let cases = [
            ("<1>btree_t_a", Some("Index Scan Backward")),
            ("<2>btree_t_b", Some("Bitmap Index Scan")),
            ("t_c_idx", Some("Index Only Scan")),
            ("t_c", None),
            ("t", None),
        ];
        for (name, expected) in cases {
            assert_eq!(index_node(&nodes, name).as_deref(), expected, "{name}");
        }
    }
}
