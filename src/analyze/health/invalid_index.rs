//! `invalid-index`: an index that is not valid or not ready, as a failed
//! `CREATE INDEX CONCURRENTLY` (or `REINDEX CONCURRENTLY`) leaves it. The
//! planner never reads it, yet a ready one is still updated on every write,
//! and `CREATE INDEX CONCURRENTLY IF NOT EXISTS` "succeeds" on it without
//! building anything. The fix is a pair: drop it concurrently, build it again.
//!
//! A partitioned index is invalid until every partition has its index
//! attached; that is not a failed build, and `DROP INDEX CONCURRENTLY` refuses
//! it, so it gets a finding with the attach fix and no drop.

use super::{drop_proposal, index_evidence, index_name, DropProposal};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::Snapshot;

pub const RULE: RuleId = RuleId::InvalidIndex;

pub fn check(snapshot: &Snapshot) -> (Vec<Finding>, Vec<DropProposal>) {
    let mut findings = Vec::new();
    let mut drops = Vec::new();
    for index in snapshot
        .indexes
        .iter()
        .filter(|i| !i.is_valid || !i.is_ready)
    {
        let name = index_name(index);
        let state = if index.is_ready {
            "INVALID (still updated on every write, never read)"
        } else {
            "INVALID and not ready (a build that stopped half-way)"
        };
        if index.is_partitioned {
            findings.push(Finding {
                rule: RULE,
                severity: Severity::Medium,
                object: name.clone(),
                queryid: None,
                title: format!(
                    "{name} on {} is an incomplete partitioned index",
                    index.table
                ),
                detail: format!(
                    "{name} is {state}: some partitions have no attached index yet. The planner \
                     uses the partitions' own indexes where they exist."
                ),
                fix: Some(format!(
                    "CREATE INDEX CONCURRENTLY on each partition that lacks one, then \
                     ALTER INDEX {name} ATTACH PARTITION <partition index> for each"
                )),
                evidence: index_evidence(index),
            });
            continue;
        }
        if index.constraint.is_some() || index.parent_index.is_some() {
            // Not a failed concurrent build of a plain index: no safe drop to propose.
            findings.push(Finding {
                rule: RULE,
                severity: Severity::High,
                object: name.clone(),
                queryid: None,
                title: format!("{name} on {} is {state}", index.table),
                detail: format!(
                    "{name} backs a constraint or is attached to a partitioned index, so it cannot \
                     simply be dropped."
                ),
                fix: Some(format!("REINDEX INDEX CONCURRENTLY {name};")),
                evidence: index_evidence(index),
            });
            continue;
        }
        let drop = drop_proposal(
            index,
            RULE,
            format!("{name} is {state}; build it again"),
            true,
        );
        findings.push(Finding {
            rule: RULE,
            severity: Severity::High,
            object: name.clone(),
            queryid: None,
            title: format!("{name} on {} is {state}", index.table),
            detail: format!(
                "A failed CREATE INDEX CONCURRENTLY leaves the index behind: the planner never uses \
                 it{}, and CREATE INDEX CONCURRENTLY IF NOT EXISTS would skip it. It takes {} bytes.",
                if index.is_ready {
                    ", but every insert and update still maintains it"
                } else {
                    ""
                },
                index.size_bytes
            ),
            fix: Some(format!(
                "{}\n{} (each alone, outside a transaction)",
                drop.drop_sql, drop.recreate_sql
            )),
            evidence: index_evidence(index),
        });
        drops.push(drop);
    }
    (findings, drops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;
    use crate::snapshot::QualifiedName;

    #[test]
    fn invalid_indexes_get_a_drop_and_rebuild_and_valid_ones_stay_silent() {
        // (name, valid, ready, partitioned, attached): expect finding, expect drop
        let cases = [
            ("valid", true, true, false, false, false, false),
            ("failed_build", false, true, false, false, true, true),
            ("not_ready", false, false, false, false, true, true),
            ("partitioned", false, true, true, false, true, false),
            ("attached", false, true, false, true, true, false),
        ];
        for (name, valid, ready, partitioned, attached, finding, drop) in cases {
            let mut snap = fixture::snapshot();
            let mut index = fixture::index("t", name, &["a"]);
            index.is_valid = valid;
            index.is_ready = ready;
            index.is_partitioned = partitioned;
            if attached {
                index.parent_index = Some(QualifiedName::new("public", "parent_idx"));
            }
            snap.indexes.push(index);
            let (findings, drops) = check(&snap);
            assert_eq!(findings.len(), usize::from(finding), "{name}");
            assert_eq!(drops.len(), usize::from(drop), "{name}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, format!("public.{name}"));
            }
            if let Some(d) = drops.first() {
                assert!(d.rebuild);
                assert_eq!(
                    d.up(),
                    vec![
                        format!("DROP INDEX CONCURRENTLY IF EXISTS public.{name};").as_str(),
                        format!(
                            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON public.t USING btree (a);"
                        )
                        .as_str()
                    ]
                );
            }
        }
    }
}
