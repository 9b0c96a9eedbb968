//! `unused-index`: an index with zero scans since the statistics were reset,
//! at least `unused_min_size_bytes` large. It still costs every insert and
//! non-HOT update, WAL, memory and vacuum time.
//!
//! Zero scans is evidence only for the window the counters cover, and only
//! for this server: a replica keeps its own counters, and reports or
//! month-end jobs may use an index rarely. So the finding says when the
//! counters were reset, the drop is proposed only with `--drop-unused`, and
//! it stays silent for primary keys, unique indexes (they enforce something
//! even unscanned), indexes backing a constraint or a foreign key, and
//! invalid ones (`invalid-index` covers those).

use super::{
    drop_proposal, droppable, index_evidence, index_name, usable, DropProposal, HealthOptions,
};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::Snapshot;

pub const RULE: RuleId = RuleId::UnusedIndex;

pub fn check(
    snapshot: &Snapshot,
    claimed: &[String],
    options: &HealthOptions,
) -> (Vec<Finding>, Vec<DropProposal>) {
    let since = match &snapshot.database.stats_reset {
        Some(at) => format!("since the statistics were reset at {at}"),
        None => "since the statistics began (never reset)".to_string(),
    };
    let mut findings = Vec::new();
    let mut drops = Vec::new();
    for index in &snapshot.indexes {
        let Some(stats) = &index.stats else { continue };
        let name = index_name(index);
        if stats.idx_scan != 0
            || !usable(index)
            || index.is_unique
            || index.size_bytes < options.unused_min_size_bytes
            || !droppable(snapshot, index)
            || claimed.contains(&name)
        {
            continue;
        }
        let writes = snapshot
            .table(&index.table.schema, &index.table.name)
            .and_then(|t| t.stats.as_ref())
            .map(|s| (s.n_tup_ins, s.n_tup_upd - s.n_tup_hot_upd, s.n_tup_del));
        let mut evidence = index_evidence(index);
        evidence["stats_reset"] = serde_json::json!(snapshot.database.stats_reset);
        evidence["on_standby"] = serde_json::json!(snapshot.source.in_recovery);
        if let Some((ins, upd, del)) = writes {
            evidence["table_writes"] =
                serde_json::json!({ "inserts": ins, "non_hot_updates": upd, "deletes": del });
        }
        let drop = drop_proposal(
            index,
            RULE,
            format!("{name} has not been scanned {since}"),
            false,
        );
        findings.push(Finding {
            rule: RULE,
            severity: Severity::Low,
            object: name.clone(),
            queryid: None,
            title: format!("{name} on {} has never been scanned", index.table),
            detail: format!(
                "0 index scans {since}, on this server only: replicas keep their own counters, so \
                 check them (and rare jobs such as month-end reports) before dropping. It takes {} \
                 bytes{}.",
                index.size_bytes,
                match writes {
                    Some((ins, upd, _)) =>
                        format!(" and was maintained on {ins} inserts and {upd} non-HOT updates"),
                    None => String::new(),
                }
            ),
            fix: Some(if options.drop_unused {
                drop.drop_sql.clone()
            } else {
                format!(
                    "{} (migrations are written for unused indexes only with --drop-unused)",
                    drop.drop_sql
                )
            }),
            evidence,
        });
        if options.drop_unused {
            drops.push(drop);
        }
    }
    (findings, drops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;
    use crate::snapshot::Index;

    #[test]
    fn unscanned_large_plain_indexes_are_reported_and_the_rest_stay_silent() {
        let unused = {
            let mut i = fixture::index("t", "t_a", &["a"]);
            i.stats.as_mut().unwrap().idx_scan = 0;
            i
        };
        let with = |f: &dyn Fn(&mut Index)| {
            let mut i = unused.clone();
            f(&mut i);
            i
        };
        let cases: Vec<(&str, Index, bool)> = vec![
            ("unused", unused.clone(), true),
            (
                "scanned",
                with(&|i| i.stats.as_mut().unwrap().idx_scan = 3),
                false,
            ),
            ("small", with(&|i| i.size_bytes = 16 * 1024), false),
            ("unique", with(&|i| i.is_unique = true), false),
            (
                "primary key",
                {
                    let mut i = fixture::primary_key("t", "t_pkey", &["id"]);
                    i.stats.as_mut().unwrap().idx_scan = 0;
                    i
                },
                false,
            ),
            ("invalid", with(&|i| i.is_valid = false), false),
            ("no statistics", with(&|i| i.stats = None), false),
        ];
        for (label, index, expected) in cases {
            let mut snap = fixture::snapshot();
            snap.indexes = vec![index];
            let (findings, drops) = check(&snap, &[], &HealthOptions::default());
            assert_eq!(findings.len(), usize::from(expected), "{label}");
            assert!(drops.is_empty(), "{label}: no drop without --drop-unused");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert!(f.detail.contains("2026-01-01T00:00:00Z"), "{}", f.detail);
                assert!(f.detail.contains("replicas"), "{}", f.detail);
            }
            let options = HealthOptions {
                drop_unused: true,
                ..HealthOptions::default()
            };
            let (_, drops) = check(&snap, &[], &options);
            assert_eq!(
                drops.len(),
                usize::from(expected),
                "{label} with --drop-unused"
            );
        }
    }

    #[test]
    fn an_index_already_reported_by_another_rule_is_left_alone() {
        let mut snap = fixture::snapshot();
        let mut index = fixture::index("t", "t_a", &["a"]);
        index.stats.as_mut().unwrap().idx_scan = 0;
        snap.indexes = vec![index];
        let (findings, _) = check(&snap, &["public.t_a".into()], &HealthOptions::default());
        assert!(findings.is_empty());
    }
}
