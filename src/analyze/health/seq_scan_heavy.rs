//! `seq-scan-heavy`: a table read mostly by sequential scans (more sequential
//! than index scans), many of them (`seq_scan_min_scans`), reading many rows
//! in all (`seq_scan_min_rows_read`) and many per scan
//! (`seq_scan_min_rows_per_scan`: a small table is best read whole).
//!
//! The finding names the statements that read the table, heaviest first,
//! leaving out those an existing index already serves, and the index the
//! advisor proposes for them, if any.

use super::HealthOptions;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::IndexAdvice;
use crate::analyze::rule::RuleId;
use crate::analyze::workload::Workload;
use crate::snapshot::{Snapshot, Statement};

pub const RULE: RuleId = RuleId::SeqScanHeavy;

/// Statements listed per finding.
const MAX_STATEMENTS: usize = 5;

pub fn check(
    snapshot: &Snapshot,
    workload: &Workload,
    advice: &IndexAdvice,
    options: &HealthOptions,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for table in &snapshot.tables {
        let Some(stats) = &table.stats else { continue };
        let idx_scan = stats.idx_scan.unwrap_or(0);
        let per_scan = stats.seq_tup_read as f64 / stats.seq_scan.max(1) as f64;
        if stats.seq_scan < options.seq_scan_min_scans
            || stats.seq_tup_read < options.seq_scan_min_rows_read
            || per_scan < options.seq_scan_min_rows_per_scan
            || stats.seq_scan <= idx_scan
        {
            continue;
        }
        let name = format!(
            "{}.{}",
            crate::ident::quote(&table.schema),
            crate::ident::quote(&table.name)
        );
        let proposals: Vec<_> = advice
            .proposals
            .iter()
            .filter(|p| p.table == name)
            .collect();
        let served: Vec<i64> = advice
            .served_by_existing
            .iter()
            .filter(|s| s.table == name)
            .flat_map(|s| s.queryids.iter().copied())
            .collect();
        let mut statements: Vec<&Statement> = workload
            .analyzed
            .iter()
            .filter(|a| !a.given)
            .filter(|a| {
                a.shape
                    .accesses
                    .iter()
                    .any(|x| x.table.schema == table.schema && x.table.name == table.name)
            })
            .map(|a| a.statement)
            .filter(|s| {
                !served.contains(&s.queryid)
                    || proposals.iter().any(|p| p.queryids.contains(&s.queryid))
            })
            .collect();
        statements.sort_by(|a, b| {
            b.total_exec_time
                .partial_cmp(&a.total_exec_time)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.queryid.cmp(&b.queryid))
        });
        statements.truncate(MAX_STATEMENTS);
        let share = stats.seq_scan as f64 / (stats.seq_scan + idx_scan) as f64;
        let listed: Vec<serde_json::Value> = statements
            .iter()
            .map(|s| {
                serde_json::json!({
                    "queryid": s.queryid,
                    "query": s.query,
                    "calls": s.calls,
                    "total_exec_time_ms": s.total_exec_time,
                    "proposed_index": proposals
                        .iter()
                        .find(|p| p.queryids.contains(&s.queryid))
                        .map(|p| p.name.clone()),
                })
            })
            .collect();
        let fix = if proposals.is_empty() {
            "Index the filters of the statements listed (or accept it for whole-table reports)."
                .to_string()
        } else {
            let ddl: Vec<&str> = proposals.iter().map(|p| p.ddl.as_str()).collect();
            format!("The proposed index(es): {}", ddl.join("; "))
        };
        findings.push(Finding {
            rule: RULE,
            severity: Severity::Medium,
            object: name.clone(),
            queryid: None,
            title: format!(
                "{name}: {:.0}% of scans are sequential, {} rows read",
                share * 100.0,
                stats.seq_tup_read
            ),
            detail: format!(
                "{} sequential scans read {} rows ({per_scan:.0} per scan) against {idx_scan} index \
                 scans. {}",
                stats.seq_scan,
                stats.seq_tup_read,
                if statements.is_empty() {
                    "No analyzed statement reads it: look for statements pg_stat_statements did not keep.".to_string()
                } else {
                    format!(
                        "Statements reading it, heaviest first: {}",
                        statements
                            .iter()
                            .map(|s| format!("{} ({} calls)", s.queryid, s.calls))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            fix: Some(fix),
            evidence: serde_json::json!({
                "table": name,
                "seq_scan": stats.seq_scan,
                "seq_tup_read": stats.seq_tup_read,
                "idx_scan": idx_scan,
                "rows_per_seq_scan": per_scan,
                "live_rows": stats.n_live_tup,
                "statements": listed,
                "proposed_indexes": proposals.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            }),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    #[test]
    fn tables_read_mostly_whole_are_reported_with_their_statements() {
        // (label, seq_scan, seq_tup_read, idx_scan, expected)
        let cases = [
            ("dominated", 400, 20_000_000, 10, true),
            ("index scans dominate", 400, 20_000_000, 5_000, false),
            ("few scans", 10, 20_000_000, 0, false),
            ("few rows in all", 400, 100_000, 0, false),
            ("small table read whole", 100_000, 5_000_000, 0, false),
        ];
        for (label, seq_scan, seq_tup_read, idx_scan, expected) in cases {
            let mut snap = fixture::snapshot();
            let mut t = fixture::table("messages", 50_000.0, &["id", "user_id"]);
            let stats = t.stats.as_mut().unwrap();
            stats.seq_scan = seq_scan;
            stats.seq_tup_read = seq_tup_read;
            stats.idx_scan = Some(idx_scan);
            snap.tables = vec![t, fixture::table("other", 10.0, &["id"])];
            snap.statements.entries = vec![
                fixture::statement(1, 200, 5.0, "SELECT * FROM messages WHERE user_id = $1"),
                fixture::statement(2, 900, 1.0, "SELECT * FROM other WHERE id = $1"),
            ];
            let workload = Workload::from_snapshot(&snap);
            let findings = check(
                &snap,
                &workload,
                &IndexAdvice::default(),
                &HealthOptions::default(),
            );
            assert_eq!(findings.len(), usize::from(expected), "{label}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.messages");
                let listed = f.evidence["statements"].as_array().unwrap();
                assert_eq!(listed.len(), 1, "{f:?}");
                assert_eq!(listed[0]["queryid"], 1);
            }
        }
    }
}
