//! Reading `EXPLAIN (FORMAT JSON)` output into a [`PlanSummary`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;

/// The planner's view of one statement, as a DBA would read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Estimated cost of the whole plan (the top node's total cost).
    pub total_cost: f64,
    /// Estimated cost before the first row comes out.
    pub startup_cost: f64,
    /// Estimated rows of the top node.
    pub plan_rows: f64,
    /// Names of the indexes any node scans, in plan order, without repeats.
    /// Hypothetical indexes appear under hypopg's names (`<oid>btree_...`).
    pub indexes_used: Vec<String>,
    /// One description per node in plan order, as EXPLAIN's text format heads
    /// them: `Seq Scan on messages`, `Index Scan using x on messages`, `Sort`.
    pub nodes: Vec<String>,
    /// Indented rendering, one line per node, with costs and conditions.
    pub text: String,
    /// Every node that reads a table's rows (`Seq Scan`, `Bitmap Heap Scan`,
    /// `Index Scan`, ...), in plan order, with the planner's row estimate.
    #[serde(default)]
    pub scans: Vec<RelationScan>,
}

/// A plan node reading one relation, and how many rows the planner expects
/// from it after its conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationScan {
    /// `Relation Name`: unqualified (EXPLAIN names the schema only with VERBOSE);
    /// for a partitioned table, each partition is a scan of its own.
    pub relation: String,
    pub alias: Option<String>,
    pub node_type: String,
    /// Rows the node returns, over all processes: a parallel scan's per-process
    /// estimate times the planner's parallel divisor.
    pub rows: f64,
    /// Whether the node applies a condition (`Filter`, `Index Cond`,
    /// `Recheck Cond`, `TID Cond`): a scan without one returns every row.
    pub filtered: bool,
    /// The conditions' text, as EXPLAIN prints them (joined by ` AND `).
    pub conditions: String,
}

impl PlanSummary {
    /// Whether any node is a sequential scan of `table` (unqualified name).
    pub fn seq_scans(&self, table: &str) -> bool {
        let wanted = format!("Seq Scan on {table}");
        self.nodes
            .iter()
            .any(|n| n == &wanted || n.starts_with(&format!("{wanted} ")))
    }
}

/// Parses the single JSON document EXPLAIN (FORMAT JSON) returns.
pub(crate) fn summarize(explain_json: &str) -> Result<PlanSummary, String> {
    let document: Value = serde_json::from_str(explain_json)
        .map_err(|e| format!("EXPLAIN output is not JSON: {e}"))?;
    let top = document
        .get(0)
        .and_then(|entry| entry.get("Plan"))
        .ok_or_else(|| "EXPLAIN output has no [0].Plan".to_string())?;
    let number = |key: &str| {
        top.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("EXPLAIN output: top plan node lacks \"{key}\""))
    };
    let mut summary = PlanSummary {
        total_cost: number("Total Cost")?,
        startup_cost: number("Startup Cost")?,
        plan_rows: number("Plan Rows")?,
        indexes_used: Vec::new(),
        nodes: Vec::new(),
        text: String::new(),
        scans: Vec::new(),
    };
    walk(top, 0, 1.0, &mut summary);
    Ok(summary)
}

/// `divisor`: the parallel divisor of the nearest Gather above (1 outside one).
fn walk(node: &Value, depth: usize, divisor: f64, summary: &mut PlanSummary) {
    let heading = describe(node);
    if let Some(scan) = relation_scan(node, divisor) {
        summary.scans.push(scan);
    }
    let divisor = match str_field(node, "Node Type") {
        Some("Gather" | "Gather Merge") => node
            .get("Workers Planned")
            .and_then(Value::as_f64)
            .map_or(1.0, parallel_divisor),
        _ => divisor,
    };
    if let Some(index) = str_field(node, "Index Name") {
        if !summary.indexes_used.iter().any(|i| i == index) {
            summary.indexes_used.push(index.to_string());
        }
    }
    render_line(node, depth, &heading, &mut summary.text);
    summary.nodes.push(heading);
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for child in children {
            walk(child, depth + 1, divisor, summary);
        }
    }
}

/// The conditions that make a scan return fewer rows than its relation holds.
const SCAN_CONDITIONS: [&str; 4] = ["Index Cond", "Recheck Cond", "Filter", "TID Cond"];

fn relation_scan(node: &Value, divisor: f64) -> Option<RelationScan> {
    let relation = str_field(node, "Relation Name")?;
    let node_type = str_field(node, "Node Type")?;
    // A ModifyTable node names its target but reads nothing itself.
    if node_type == "ModifyTable" {
        return None;
    }
    let rows = node.get("Plan Rows").and_then(Value::as_f64)?;
    let parallel = node.get("Parallel Aware").and_then(Value::as_bool) == Some(true);
    let conditions: Vec<&str> = SCAN_CONDITIONS
        .iter()
        .filter_map(|field| str_field(node, field))
        .collect();
    Some(RelationScan {
        relation: relation.to_string(),
        alias: str_field(node, "Alias").map(str::to_string),
        node_type: node_type.to_string(),
        rows: if parallel { rows * divisor } else { rows },
        filtered: !conditions.is_empty(),
        conditions: conditions.join(" AND "),
    })
}

/// What the planner divides a parallel scan's rows by (costsize.c,
/// `get_parallel_divisor`, with `parallel_leader_participation` on, the default).
fn parallel_divisor(workers: f64) -> f64 {
    let leader = 1.0 - 0.3 * workers;
    if leader > 0.0 {
        workers + leader
    } else {
        workers
    }
}

fn str_field<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str)
}

/// The node heading as EXPLAIN's text format prints it (explain.c).
fn describe(node: &Value) -> String {
    let node_type = str_field(node, "Node Type").unwrap_or("?");
    let mut heading = match node_type {
        "ModifyTable" => str_field(node, "Operation")
            .unwrap_or(node_type)
            .to_string(),
        "Aggregate" => match str_field(node, "Strategy") {
            Some("Sorted") => "GroupAggregate".to_string(),
            Some("Hashed") => "HashAggregate".to_string(),
            Some("Mixed") => "MixedAggregate".to_string(),
            _ => "Aggregate".to_string(),
        },
        "Nested Loop" | "Hash Join" | "Merge Join" => {
            match str_field(node, "Join Type").filter(|j| *j != "Inner") {
                Some(join) if node_type == "Nested Loop" => format!("Nested Loop {join} Join"),
                Some(join) => format!("{} {join} Join", node_type.trim_end_matches(" Join")),
                None => node_type.to_string(),
            }
        }
        _ => node_type.to_string(),
    };
    if str_field(node, "Scan Direction") == Some("Backward") {
        heading.push_str(" Backward");
    }
    match node_type {
        "Index Scan" | "Index Only Scan" => {
            if let Some(index) = str_field(node, "Index Name") {
                let _ = write!(heading, " using {index}");
            }
        }
        "Bitmap Index Scan" => {
            if let Some(index) = str_field(node, "Index Name") {
                let _ = write!(heading, " on {index}");
            }
        }
        _ => {}
    }
    let target = str_field(node, "Relation Name")
        .or_else(|| str_field(node, "CTE Name"))
        .or_else(|| str_field(node, "Function Name"));
    match (target, str_field(node, "Alias")) {
        (Some(name), Some(alias)) if alias != name => {
            let _ = write!(heading, " on {name} {alias}");
        }
        (Some(name), _) => {
            let _ = write!(heading, " on {name}");
        }
        (None, Some(alias)) if node_type == "Subquery Scan" => {
            let _ = write!(heading, " on {alias}");
        }
        _ => {}
    }
    heading
}

/// Conditions worth a DBA's eye, in EXPLAIN's order.
const DETAIL_FIELDS: [&str; 8] = [
    "Index Cond",
    "Recheck Cond",
    "Hash Cond",
    "Merge Cond",
    "Join Filter",
    "Filter",
    "Sort Key",
    "Group Key",
];

fn render_line(node: &Value, depth: usize, heading: &str, out: &mut String) {
    if depth > 0 {
        // EXPLAIN's own layout: children 6 columns right of their parent's arrow.
        let _ = write!(out, "{}->  ", " ".repeat(2 + 6 * (depth - 1)));
    }
    let cost = |key: &str| node.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let _ = write!(
        out,
        "{heading}  (cost={:.2}..{:.2} rows={:.0})",
        cost("Startup Cost"),
        cost("Total Cost"),
        cost("Plan Rows")
    );
    for field in DETAIL_FIELDS {
        match node.get(field) {
            Some(Value::String(text)) => {
                let _ = write!(out, "  {field}: {text}");
            }
            Some(Value::Array(items)) => {
                let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                let _ = write!(out, "  {field}: {}", items.join(", "));
            }
            _ => {}
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT_SORT_SEQ: &str = r#"[{"Plan": {"Node Type": "Limit", "Startup Cost": 1000.5, "Total Cost": 1000.62,
        "Plan Rows": 50, "Plans": [{"Node Type": "Sort", "Parent Relationship": "Outer",
        "Startup Cost": 1000.5, "Total Cost": 1001.0, "Plan Rows": 200,
        "Sort Key": ["created_at DESC"], "Plans": [{"Node Type": "Seq Scan",
        "Parent Relationship": "Outer", "Relation Name": "messages", "Alias": "m",
        "Startup Cost": 0.0, "Total Cost": 990.0, "Plan Rows": 200,
        "Filter": "((deleted_at IS NULL) AND (conversation_id = $1))"}]}]}}]"#;

    #[test]
    fn summary_names_nodes_like_explain_text() {
        let summary = summarize(LIMIT_SORT_SEQ).expect("summary");
        assert_eq!(summary.total_cost, 1000.62);
        assert_eq!(summary.startup_cost, 1000.5);
        assert_eq!(summary.plan_rows, 50.0);
        assert_eq!(summary.nodes, ["Limit", "Sort", "Seq Scan on messages m"]);
        assert!(summary.seq_scans("messages"));
        assert!(summary.indexes_used.is_empty());
        let lines: Vec<&str> = summary.text.lines().collect();
        assert_eq!(lines.len(), 3, "{}", summary.text);
        assert!(lines[0].starts_with("Limit  (cost=1000.50..1000.62 rows=50)"));
        assert!(lines[1].starts_with("  ->  Sort"), "{}", lines[1]);
        assert!(lines[1].contains("Sort Key: created_at DESC"));
        assert!(
            lines[2].starts_with("        ->  Seq Scan on messages m"),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("Filter: ((deleted_at IS NULL)"));
    }

    #[test]
    fn index_scans_joins_and_updates() {
        let json = r#"[{"Plan": {"Node Type": "ModifyTable", "Operation": "Update",
            "Relation Name": "messages", "Alias": "messages", "Startup Cost": 0.29,
            "Total Cost": 8.31, "Plan Rows": 0, "Plans": [{"Node Type": "Hash Join",
            "Join Type": "Left", "Startup Cost": 0.29, "Total Cost": 8.3, "Plan Rows": 1,
            "Plans": [{"Node Type": "Index Scan", "Scan Direction": "Backward",
            "Index Name": "<13>btree_messages_id", "Relation Name": "messages",
            "Alias": "messages", "Startup Cost": 0.29, "Total Cost": 8.3, "Plan Rows": 1},
            {"Node Type": "Bitmap Index Scan", "Index Name": "messages_pkey",
            "Startup Cost": 0, "Total Cost": 4.3, "Plan Rows": 1},
            {"Node Type": "Index Only Scan", "Scan Direction": "Forward",
            "Index Name": "messages_pkey", "Relation Name": "messages", "Alias": "m2",
            "Startup Cost": 0, "Total Cost": 4.3, "Plan Rows": 1}]}]}}]"#;
        let summary = summarize(json).expect("summary");
        assert_eq!(
            summary.nodes,
            [
                "Update on messages",
                "Hash Left Join",
                "Index Scan Backward using <13>btree_messages_id on messages",
                "Bitmap Index Scan on messages_pkey",
                "Index Only Scan using messages_pkey on messages m2",
            ]
        );
        assert_eq!(
            summary.indexes_used,
            ["<13>btree_messages_id", "messages_pkey"]
        );
        assert!(!summary.seq_scans("messages"));
    }

    #[test]
    fn scans_carry_each_relation_s_rows_over_all_workers() {
        // Two workers and the leader: the parallel divisor is 2 + (1 - 0.6) = 2.4.
        let json = r#"[{"Plan": {"Node Type": "Nested Loop", "Startup Cost": 0,
            "Total Cost": 9, "Plan Rows": 1, "Plans": [
            {"Node Type": "Gather", "Workers Planned": 2, "Startup Cost": 0, "Total Cost": 5,
             "Plan Rows": 480, "Plans": [{"Node Type": "Seq Scan", "Parallel Aware": true,
             "Relation Name": "articles", "Alias": "a", "Startup Cost": 0, "Total Cost": 4,
             "Plan Rows": 200, "Filter": "(labels @> $1)"}]},
            {"Node Type": "Bitmap Heap Scan", "Parallel Aware": false, "Relation Name": "tags",
             "Alias": "tags", "Startup Cost": 0, "Total Cost": 4, "Plan Rows": 7,
             "Recheck Cond": "(name = a.tag)", "Plans": [{"Node Type": "Bitmap Index Scan",
             "Index Name": "tags_name", "Startup Cost": 0, "Total Cost": 1, "Plan Rows": 7,
             "Index Cond": "(name = a.tag)"}]},
            {"Node Type": "Seq Scan", "Relation Name": "days", "Alias": "days",
             "Startup Cost": 0, "Total Cost": 1, "Plan Rows": 365}]}}]"#;
        let summary = summarize(json).expect("summary");
        let scans: Vec<(&str, f64, bool, &str)> = summary
            .scans
            .iter()
            .map(|s| {
                (
                    s.relation.as_str(),
                    (s.rows * 10.0).round() / 10.0,
                    s.filtered,
                    s.conditions.as_str(),
                )
            })
            .collect();
        assert_eq!(
            scans,
            [
                ("articles", 480.0, true, "(labels @> $1)"),
                ("tags", 7.0, true, "(name = a.tag)"),
                ("days", 365.0, false, ""),
            ]
        );
        assert_eq!(summary.scans[0].alias.as_deref(), Some("a"));
    }

    #[test]
    fn parallel_divisors_follow_the_planner() {
        for (workers, divisor) in [(1.0, 1.7), (2.0, 2.4), (3.0, 3.1), (4.0, 4.0), (6.0, 6.0)] {
            assert!(
                (parallel_divisor(workers) - divisor).abs() < 1e-9,
                "{workers}: {}",
                parallel_divisor(workers)
            );
        }
    }

    #[test]
    fn malformed_output_is_an_error_not_a_panic() {
        for bad in [
            "",
            "[]",
            "[{}]",
            "{\"Plan\": 1}",
            "[{\"Plan\": {\"Node Type\": \"Result\"}}]",
        ] {
            assert!(summarize(bad).is_err(), "{bad}");
        }
    }
}
