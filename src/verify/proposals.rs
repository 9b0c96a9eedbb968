//! What verification reports besides the chosen set ([`super::select`]):
//! proposals not chosen and why, candidates a limit left out, statements that
//! could not be planned, and each served statement's plans before and after.

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
