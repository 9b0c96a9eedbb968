//! What verification reports besides the chosen set ([`super::select`]):
//! proposals not chosen and why, candidates a limit left out, statements that
//! could not be planned, and each served statement's plans before and after.

use crate::analyze::indexes::IndexProposal;
use serde::Serialize;

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

/// A candidate the selection would have added but for a limit, or an
/// unverified proposal `--budget` had no room for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftOut {
    /// Its definition: hypopg's form for a candidate (several joined by `; `
    /// for a set that only pays together), the proposal's DDL for an
    /// unverified proposal.
    pub ddl: String,
    /// hypopg's size for a candidate; pgadvise's own estimate when
    /// `cost_saving` is `None`.
    pub size_bytes: i64,
    /// Σ calls × generic-plan cost it would have saved when it was left out;
    /// `None` when no plan with it was made (GIN and GiST, which hypopg cannot
    /// simulate, or no what-if session at all).
    pub cost_saving: Option<f64>,
    pub reason: String,
    /// An unverified proposal's index name (a candidate has none yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl LeftOut {
    /// A candidate the selection measured: its saving is known.
    pub fn measured(ddl: String, size_bytes: i64, cost_saving: f64, reason: String) -> Self {
        LeftOut {
            ddl,
            size_bytes,
            cost_saving: Some(cost_saving),
            reason,
            name: None,
        }
    }

    /// What leaving it out costs, in words (text, HTML and PR body).
    pub fn saving_text(&self) -> String {
        match self.cost_saving {
            Some(saving) => format!("would save {saving:.0} of the workload's cost"),
            None => "estimated size, saving not measured".to_string(),
        }
    }

    /// An unverified proposal over `budget` (bytes), charged its estimated
    /// size: `after_verified_set` when a what-if session chose the rest.
    pub fn over_budget(proposal: &IndexProposal, budget: i64, after_verified_set: bool) -> Self {
        let why = if after_verified_set {
            format!(
                "hypopg cannot simulate {} indexes, so it was charged pgadvise's size estimate \
                 after the verified set, with no cost saving measured",
                proposal.method.label()
            )
        } else {
            "not verified (no what-if session: no hypopg, an offline snapshot, --no-verify, or \
             verification stopped), so it was charged pgadvise's size estimate, most workload \
             time first"
                .to_string()
        };
        LeftOut {
            ddl: proposal.ddl.clone(),
            size_bytes: proposal.estimated_size_bytes,
            cost_saving: None,
            reason: format!(
                "the budget ({}) is spent: {why}",
                crate::format::bytes(budget)
            ),
            name: Some(proposal.name.clone()),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unverified_proposal_left_out_says_how_it_was_charged() {
        let proposal = IndexProposal {
            name: "articles_labels_gin".into(),
            ddl: "CREATE INDEX CONCURRENTLY IF NOT EXISTS articles_labels_gin ON t USING gin (labels)"
                .into(),
            method: crate::analyze::indexes::AccessMethod::Gin,
            estimated_size_bytes: 3 << 20,
            ..IndexProposal::default()
        };
        let cases = [
            (
                true,
                "the budget (2.0 MB) is spent: hypopg cannot simulate GIN indexes",
            ),
            (
                false,
                "the budget (2.0 MB) is spent: not verified (no what-if session",
            ),
        ];
        for (after_verified_set, reason) in cases {
            let left = LeftOut::over_budget(&proposal, 2 << 20, after_verified_set);
            assert!(left.reason.starts_with(reason), "{}", left.reason);
            assert_eq!(left.name.as_deref(), Some("articles_labels_gin"));
            assert_eq!(left.ddl, proposal.ddl);
            assert_eq!(left.size_bytes, 3 << 20);
            assert_eq!(left.cost_saving, None);
            assert_eq!(left.saving_text(), "estimated size, saving not measured");
        }
        let measured = LeftOut::measured("x".into(), 1, 1234.4, "limit".into());
        assert_eq!(
            measured.saving_text(),
            "would save 1234 of the workload's cost"
        );
        let json = serde_json::to_value(&measured).expect("JSON");
        assert!(json.get("name").is_none(), "{json}");
    }

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
