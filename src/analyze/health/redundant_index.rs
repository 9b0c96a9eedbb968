//! `redundant-index`: a btree index whose keys are a left prefix of another
//! valid btree index on the same table, with the same predicate (and whose
//! INCLUDE columns the longer one also carries). The longer index serves every
//! lookup and ordering the shorter one does, so the shorter one only costs.
//!
//! Stays silent when the shorter index is unique (it enforces something the
//! longer one does not), backs a constraint, uses another method (a hash or
//! GIN index is no prefix of a btree), or has another predicate.

use super::{
    drop_proposal, droppable, index_evidence, index_name, usable, DropProposal, Signature,
};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use crate::snapshot::{Index, Snapshot};

pub const RULE: RuleId = RuleId::RedundantIndex;

/// Whether `longer` serves everything `shorter` does.
fn covers(longer: &Signature, shorter: &Signature) -> bool {
    longer.table == shorter.table
        && longer.method == "btree"
        && shorter.method == "btree"
        && longer.predicate == shorter.predicate
        && shorter.keys.len() <= longer.keys.len()
        && longer.keys[..shorter.keys.len()] == shorter.keys[..]
        && shorter.include.iter().all(|c| {
            longer.include.contains(c) || longer.keys.iter().any(|k| k.target == *c)
        })
        // Equal keys and INCLUDE make a duplicate, not a prefix.
        && (shorter.keys.len() < longer.keys.len() || shorter.include.len() < longer.include.len())
}

pub fn check(snapshot: &Snapshot, claimed: &[String]) -> (Vec<Finding>, Vec<DropProposal>) {
    let live: Vec<&Index> = snapshot
        .indexes
        .iter()
        .filter(|i| usable(i) && !claimed.contains(&index_name(i)))
        .collect();
    let mut findings = Vec::new();
    let mut drops: Vec<DropProposal> = Vec::new();
    for shorter in &live {
        if shorter.is_unique || !droppable(snapshot, shorter) {
            continue;
        }
        let short_sig = Signature::of(shorter);
        let longer = live.iter().find(|l| {
            !std::ptr::eq(**l, *shorter)
                && !drops.iter().any(|d| d.index == index_name(l))
                && covers(&Signature::of(l), &short_sig)
        });
        let Some(longer) = longer else { continue };
        let name = index_name(shorter);
        let longer_name = index_name(longer);
        let reason = format!("{name} is a left prefix of {longer_name}");
        let drop = drop_proposal(shorter, RULE, reason, false);
        let mut evidence = index_evidence(shorter);
        evidence["covered_by"] = serde_json::json!({
            "index": longer_name,
            "definition": longer.definition,
            "size_bytes": longer.size_bytes,
            "idx_scan": longer.stats.as_ref().map(|s| s.idx_scan),
        });
        findings.push(Finding {
            rule: RULE,
            severity: Severity::Low,
            object: name.clone(),
            queryid: None,
            title: format!(
                "{name} is redundant with {longer_name} on {}",
                shorter.table
            ),
            detail: format!(
                "Its keys are the leading keys of {longer_name}, which serves the same lookups and \
                 orderings. {name} has {} scans and takes {} bytes; the planner will use \
                 {longer_name} once it is gone.",
                shorter.stats.as_ref().map_or(0, |s| s.idx_scan),
                shorter.size_bytes
            ),
            fix: Some(drop.drop_sql.clone()),
            evidence,
        });
        drops.push(drop);
    }
    (findings, drops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    #[test]
    fn left_prefixes_are_redundant_and_the_rest_stay_silent() {
        let ab = fixture::index("t", "t_a_b", &["a", "b"]);
        let a = {
            let mut i = fixture::index("t", "t_a", &["a"]);
            i.oid = 2;
            i
        };
        let b = {
            let mut i = fixture::index("t", "t_b", &["b"]);
            i.oid = 3;
            i
        };
        let unique_a = {
            let mut i = a.clone();
            i.is_unique = true;
            i
        };
        let hash_a = {
            let mut i = a.clone();
            i.method = "hash".into();
            i
        };
        let partial_a = {
            let mut i = a.clone();
            i.predicate = Some("(c IS NULL)".into());
            i
        };
        let desc_a = fixture::index("t", "t_a_desc", &["a DESC"]);
        let a_include_c = {
            let mut i = a.clone();
            i.name = "t_a_inc".into();
            i.oid = 4;
            i.include = vec!["c".into()];
            i
        };
        let ab_include_c = {
            let mut i = ab.clone();
            i.name = "t_a_b_inc".into();
            i.oid = 5;
            i.include = vec!["c".into()];
            i
        };
        let pkey_a = fixture::primary_key("t", "t_pkey", &["a"]);
        let invalid_ab = {
            let mut i = ab.clone();
            i.is_valid = false;
            i
        };
        type Case<'a> = (&'a str, Vec<&'a Index>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            ("prefix", vec![&a, &ab], vec!["public.t_a"]),
            (
                "same keys, fewer INCLUDE",
                vec![&a, &a_include_c],
                vec!["public.t_a"],
            ),
            (
                "INCLUDE carried by longer",
                vec![&a_include_c, &ab_include_c],
                vec!["public.t_a_inc"],
            ),
            // Silent.
            ("not a prefix", vec![&b, &ab], vec![]),
            ("unique", vec![&unique_a, &ab], vec![]),
            ("hash", vec![&hash_a, &ab], vec![]),
            ("predicate differs", vec![&partial_a, &ab], vec![]),
            ("direction differs", vec![&desc_a, &ab], vec![]),
            ("INCLUDE not carried", vec![&a_include_c, &ab], vec![]),
            ("backs a constraint", vec![&pkey_a, &ab], vec![]),
            ("longer is invalid", vec![&a, &invalid_ab], vec![]),
        ];
        for (label, indexes, expected) in cases {
            let mut snap = fixture::snapshot();
            snap.indexes = indexes.into_iter().cloned().collect();
            let (findings, drops) = check(&snap, &[]);
            let dropped: Vec<&str> = drops.iter().map(|d| d.index.as_str()).collect();
            assert_eq!(dropped, expected, "{label}");
            assert_eq!(findings.len(), expected.len(), "{label}");
            for f in &findings {
                assert_eq!(f.rule, RULE);
            }
        }
    }
}
