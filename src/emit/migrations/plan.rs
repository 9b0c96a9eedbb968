//! The verification plan written next to each migration: `<stem>.verify.json`
//! for `pgadvise verify` (the format is [`crate::verification_plan`]), and
//! `<stem>.verify.sql` for a person with psql. This module builds a plan from
//! an index proposal and renders both files. Both check that the index exists, is valid and ready, and that each
//! statement it is for plans through it (generic plans: the statements keep
//! their `$n` parameters, as pg_stat_statements records them).

use super::index::PartitionIndex;
use super::{sql_comments, Migration, OutputFile};
use crate::analyze::indexes::IndexProposal;
use crate::analyze::queries::normalize_statement;
use crate::format::sql_literal;
use crate::snapshot::{QualifiedName, Snapshot};
use crate::verification_plan::{PlannedQuery, VerificationPlan, VERIFY_PLAN_FORMAT_VERSION};
use crate::verify::statement::preparable;

// Built and rendered here, beside the migration it belongs to; the format
// itself knows nothing of migrations or proposals.
impl VerificationPlan {
    pub fn new(
        migration: &Migration,
        proposal: &IndexProposal,
        snapshot: &Snapshot,
        partitions: &[PartitionIndex],
    ) -> VerificationPlan {
        let index = QualifiedName::new(&proposal.table_name.schema, &proposal.name);
        let queries = proposal
            .queryids
            .iter()
            .zip(&proposal.queries)
            .map(|(id, query)| {
                let stats = snapshot
                    .statements
                    .entries
                    .iter()
                    .find(|s| s.queryid == *id);
                let plan = proposal.plans.iter().find(|p| p.queryid == *id);
                let expected_node = match plan {
                    Some(p) => p.node.as_ref().map(|node| node_text(node, &proposal.name)),
                    // Unverified: any scan through the index.
                    None => Some(format!("Index Scan using {}", proposal.name)),
                };
                PlannedQuery {
                    queryid: *id,
                    query: query.clone(),
                    calls: stats.map(|s| s.calls),
                    mean_exec_time_ms: stats.map(|s| s.mean_exec_time),
                    expected_node,
                    cost_before: plan.map(|p| p.cost_before),
                    cost_after: plan.map(|p| p.cost_after),
                }
            })
            .collect();
        VerificationPlan {
            format_version: VERIFY_PLAN_FORMAT_VERSION,
            pgadvise_migration: migration.id.clone(),
            migration: String::new(),
            index,
            table: proposal.table_name.clone(),
            definition: proposal.ddl.clone(),
            partition_indexes: partitions.iter().map(|p| p.index.clone()).collect(),
            queries,
        }
    }

    /// The `.verify.sql` text: runs in psql, executes nothing (EXPLAIN only).
    pub fn to_sql(&self) -> String {
        let mut out = sql_comments(&[
            format!("pgadvise-migration: {}", self.pgadvise_migration),
            format!(
                "Verification plan for {}: run after deploying it (psql -f this file). \
                 EXPLAIN only plans the statements, it does not execute them.",
                self.migration
            ),
            "`pgadvise verify <folder> CONNECTION` checks the same and exits non-zero on a failure.".to_string(),
            String::new(),
            "1. The index exists, is valid and ready (a failed CONCURRENTLY build leaves valid = f):".to_string(),
        ]);
        let literal = |q: &QualifiedName| sql_literal(&q.to_string());
        out.push_str(&format!(
            "SELECT indexrelid::regclass AS index, indisvalid AS valid, indisready AS ready\n\
             FROM pg_index WHERE indexrelid = to_regclass({});\n",
            literal(&self.index)
        ));
        if !self.partition_indexes.is_empty() {
            out.push_str("-- and each partition's index:\n");
            let list: Vec<String> = self
                .partition_indexes
                .iter()
                .map(|p| format!("to_regclass({})", literal(p)))
                .collect();
            out.push_str(&format!(
                "SELECT indexrelid::regclass AS index, indisvalid AS valid, indisready AS ready\n\
                 FROM pg_index WHERE indexrelid IN ({});\n",
                list.join(", ")
            ));
        }
        out.push_str(&sql_comments(&[
            String::new(),
            "2. Each statement's generic plan (parameters unknown, as pg_stat_statements records them;".to_string(),
            "   on PostgreSQL 16+ EXPLAIN (GENERIC_PLAN) <statement> shows the same):".to_string(),
        ]));
        // NULL arguments would let the executor prune every partition of a
        // statement filtering on the partition key, hiding its scans.
        out.push_str("SET plan_cache_mode = force_generic_plan;\n");
        out.push_str("SET enable_partition_pruning = off;\n");
        for (n, q) in self.queries.iter().enumerate() {
            let name = format!("pgadvise_verify_{}", n + 1);
            let Ok(text) = preparable(&normalize_statement(&q.query)) else {
                out.push_str(&sql_comments(&[format!(
                    "queryid {}: not one statement PREPARE takes; not checked.",
                    q.queryid
                )]));
                continue;
            };
            let params = text.parameter_count;
            let mut notes = vec![format!(
                "queryid {}{}{}",
                q.queryid,
                q.calls.map(|c| format!(", {c} calls")).unwrap_or_default(),
                q.mean_exec_time_ms
                    .map(|m| format!(", mean {m:.3} ms before the index"))
                    .unwrap_or_default()
            )];
            notes.push(match &q.expected_node {
                Some(node) => format!(
                    "expected: {node}{}",
                    match (q.cost_before, q.cost_after) {
                        (Some(b), Some(a)) =>
                            format!("; estimated cost {b:.2} before, {a:.2} after"),
                        _ => String::new(),
                    }
                ),
                None => "not expected to use the index (verification found the planner prefers another plan)".to_string(),
            });
            out.push('\n');
            out.push_str(&sql_comments(&notes));
            out.push_str(&format!("PREPARE {name} AS\n{};\n", text.sql.trim()));
            let args = if params == 0 {
                String::new()
            } else {
                format!("({})", vec!["NULL"; params].join(", "))
            };
            out.push_str(&format!(
                "EXPLAIN EXECUTE {name}{args};\nDEALLOCATE {name};\n"
            ));
        }
        out.push_str("RESET plan_cache_mode;\n");
        out.push_str("RESET enable_partition_pruning;\n");
        out
    }

    /// Both files, named after the migration's stem.
    pub fn files(&self) -> Vec<OutputFile> {
        let mut plan = self.clone();
        plan.migration = "{stem}".to_string();
        vec![
            OutputFile {
                name: "{stem}.verify.json".to_string(),
                contents: plan.to_json(),
            },
            OutputFile {
                name: "{stem}.verify.sql".to_string(),
                contents: plan.to_sql(),
            },
        ]
    }
}

/// `Index Scan using x`, `Bitmap Index Scan on x`.
fn node_text(node: &str, index: &str) -> String {
    if node.starts_with("Bitmap") {
        format!("{node} on {index}")
    } else {
        format!("{node} using {index}")
    }
}
