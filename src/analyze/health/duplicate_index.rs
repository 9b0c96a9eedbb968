//! `duplicate-index`: two or more valid indexes on the same table with the
//! same method, keys (columns or expressions, direction, NULLS order,
//! operator classes, collations), INCLUDE columns and predicate. Every copy
//! after the first costs writes, memory and vacuum time for nothing.
//!
//! The one kept is the one that backs a constraint (or a foreign key depends
//! on), then a unique one (a unique index enforces what a plain copy cannot),
//! then the oldest (lowest oid). A copy that itself backs a constraint is
//! never reported: dropping it means dropping a constraint, a schema decision.

use super::{
    backs_constraint, drop_proposal, droppable, index_evidence, index_name, usable, DropProposal,
    Signature,
};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::{Index, Snapshot};

pub const RULE: RuleId = RuleId::DuplicateIndex;

pub fn check(snapshot: &Snapshot, claimed: &[String]) -> (Vec<Finding>, Vec<DropProposal>) {
    let candidates: Vec<&Index> = snapshot
        .indexes
        .iter()
        .filter(|i| usable(i) && !claimed.contains(&index_name(i)))
        .collect();
    let mut groups: Vec<(Signature, Vec<&Index>)> = Vec::new();
    for index in candidates {
        let signature = Signature::of(index);
        match groups.iter_mut().find(|(s, _)| *s == signature) {
            Some((_, members)) => members.push(index),
            None => groups.push((signature, vec![index])),
        }
    }
    let mut findings = Vec::new();
    let mut drops = Vec::new();
    for (_, mut members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        members.sort_by_key(|i| {
            (
                !backs_constraint(snapshot, i),
                !i.is_unique,
                i.oid,
                i.name.clone(),
            )
        });
        let kept = members[0];
        for copy in &members[1..] {
            if !droppable(snapshot, copy) {
                continue;
            }
            let name = index_name(copy);
            let kept_name = index_name(kept);
            let reason = format!("{name} duplicates {kept_name}");
            let drop = drop_proposal(copy, RULE, reason.clone(), false);
            let mut evidence = index_evidence(copy);
            evidence["duplicate_of"] = serde_json::json!({
                "index": kept_name,
                "definition": kept.definition,
                "size_bytes": kept.size_bytes,
                "idx_scan": kept.stats.as_ref().map(|s| s.idx_scan),
                "constraint": kept.constraint.as_ref().map(|c| c.name.clone()),
            });
            findings.push(Finding {
                rule: RULE,
                severity: Severity::Medium,
                object: name.clone(),
                queryid: None,
                title: format!("{name} duplicates {kept_name} on {}", copy.table),
                detail: format!(
                    "Same keys, INCLUDE columns and predicate as {kept_name}{}: the planner can use \
                     either, and every write maintains both. Dropping {name} frees {} bytes.",
                    if backs_constraint(snapshot, kept) {
                        ", which backs a constraint and stays"
                    } else if kept.is_unique && !copy.is_unique {
                        ", which is unique and stays"
                    } else {
                        ", the older of the two, which stays"
                    },
                    copy.size_bytes
                ),
                fix: Some(drop.drop_sql.clone()),
                evidence,
            });
            drops.push(drop);
        }
    }
    (findings, drops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    fn names(drops: &[DropProposal]) -> Vec<String> {
        drops.iter().map(|d| d.index.clone()).collect()
    }

    #[test]
    fn drops_the_copy_and_keeps_the_constraint_or_the_older() {
        let older = {
            let mut i = fixture::index("t", "t_a_old", &["a"]);
            i.oid = 10;
            i
        };
        let newer = {
            let mut i = fixture::index("t", "t_a_new", &["a"]);
            i.oid = 20;
            i
        };
        let pkey = {
            let mut i = fixture::primary_key("t", "t_pkey", &["a"]);
            i.oid = 30;
            i
        };
        let partial = {
            let mut i = fixture::index("t", "t_a_partial", &["a"]);
            i.predicate = Some("(b IS NULL)".into());
            i
        };
        let desc = fixture::index("t", "t_a_desc", &["a DESC"]);
        let other_table = fixture::index("u", "u_a", &["a"]);
        let with_opclass = {
            let mut i = fixture::index("t", "t_a_pattern", &["a"]);
            i.keys[0].opclass = Some("text_pattern_ops".into());
            i
        };
        let gin = {
            let mut i = fixture::index("t", "t_a_gin", &["a"]);
            i.method = "gin".into();
            i
        };
        let gin_path_ops = {
            let mut i = fixture::index("t", "t_a_gin_path", &["a"]);
            i.method = "gin".into();
            i.keys[0].opclass = Some("jsonb_path_ops".into());
            i.oid = 40;
            i
        };
        let gin_copy = {
            let mut i = gin.clone();
            i.name = "t_a_gin_copy".into();
            i.oid = 2000;
            i
        };
        let invalid = {
            let mut i = fixture::index("t", "t_a_invalid", &["a"]);
            i.is_valid = false;
            i
        };
        type Case<'a> = (&'a str, Vec<&'a Index>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            ("older kept", vec![&newer, &older], vec!["public.t_a_new"]),
            (
                "constraint kept over older",
                vec![&older, &pkey],
                vec!["public.t_a_old"],
            ),
            (
                "three copies",
                vec![&older, &newer, &pkey],
                vec!["public.t_a_old", "public.t_a_new"],
            ),
            // Silent: not the same index.
            ("predicate differs", vec![&older, &partial], vec![]),
            ("direction differs", vec![&older, &desc], vec![]),
            ("other table", vec![&older, &other_table], vec![]),
            ("opclass differs", vec![&older, &with_opclass], vec![]),
            // A GIN and a btree on one column serve different operators.
            ("method differs", vec![&older, &gin], vec![]),
            ("GIN classes differ", vec![&gin, &gin_path_ops], vec![]),
            (
                "GIN copies",
                vec![&gin, &gin_copy],
                vec!["public.t_a_gin_copy"],
            ),
            ("invalid is not a copy", vec![&older, &invalid], vec![]),
            ("alone", vec![&older], vec![]),
        ];
        for (label, indexes, expected) in cases {
            let mut snap = fixture::snapshot();
            snap.indexes = indexes.into_iter().cloned().collect();
            let (findings, drops) = check(&snap, &[]);
            assert_eq!(names(&drops), expected, "{label}");
            assert_eq!(findings.len(), expected.len(), "{label}");
            for f in &findings {
                assert_eq!(f.rule, RULE);
                assert_ne!(f.object, "public.t_pkey", "{label}");
            }
        }
    }

    #[test]
    fn two_constraints_on_the_same_keys_stay_silent() {
        let mut snap = fixture::snapshot();
        let pkey = fixture::primary_key("t", "t_pkey", &["a"]);
        let mut unique = fixture::primary_key("t", "t_a_key", &["a"]);
        unique.is_primary = false;
        unique.constraint.as_mut().unwrap().kind = "unique".into();
        snap.indexes = vec![pkey, unique];
        let (findings, drops) = check(&snap, &[]);
        assert!(findings.is_empty() && drops.is_empty(), "{findings:?}");
    }

    #[test]
    fn an_index_a_foreign_key_depends_on_is_kept() {
        let mut snap = fixture::snapshot();
        let mut referenced = fixture::index("t", "t_code_uniq", &["code"]);
        referenced.is_unique = true;
        referenced.oid = 50;
        let mut copy = fixture::index("t", "t_code_uniq2", &["code"]);
        copy.is_unique = true;
        copy.oid = 10;
        snap.indexes = vec![copy, referenced];
        snap.foreign_keys.push(fixture::foreign_key(
            "c",
            &["code"],
            "t",
            Some("t_code_uniq"),
        ));
        let (_, drops) = check(&snap, &[]);
        assert_eq!(names(&drops), vec!["public.t_code_uniq2"]);
    }
}
