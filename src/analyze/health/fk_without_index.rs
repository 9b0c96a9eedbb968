//! `fk-without-index`: a foreign key whose referencing columns lead no index
//! on a child table of at least `fk_child_min_rows` rows. Every delete of a
//! parent row, and every update of its key, makes PostgreSQL look for child
//! rows: without an index that is a sequential scan of the child, under a
//! lock, once per parent row.
//!
//! An index counts when its leading keys are exactly the foreign key's columns
//! (in any order), it is valid and not partial (the check's query has no
//! predicate), and it is a btree (or a one-column hash). An index the advisor
//! proposes counts too: then the finding would only repeat the proposal.

use super::HealthOptions;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::IndexAdvice;
use crate::analyze::rule::RuleId;
use crate::ident::quote;
use crate::snapshot::{ForeignKey, Index, Snapshot};

pub const RULE: RuleId = RuleId::FkWithoutIndex;

/// Whether the first `columns.len()` keys of `keys` are exactly `columns`.
fn leads(keys: &[Option<&str>], columns: &[String]) -> bool {
    keys.len() >= columns.len()
        && keys[..columns.len()]
            .iter()
            .all(|k| k.is_some_and(|k| columns.iter().any(|c| c == k)))
        && columns
            .iter()
            .all(|c| keys[..columns.len()].contains(&Some(c.as_str())))
}

fn index_serves(index: &Index, fk: &ForeignKey) -> bool {
    let method_ok = index.method == "btree" || (index.method == "hash" && fk.columns.len() == 1);
    let keys: Vec<Option<&str>> = index.keys.iter().map(|k| k.column.as_deref()).collect();
    index.table == fk.table
        && index.is_valid
        && index.is_ready
        && index.predicate.is_none()
        && method_ok
        && leads(&keys, &fk.columns)
}

fn proposal_serves(advice: &IndexAdvice, fk: &ForeignKey) -> Option<String> {
    advice
        .proposals
        .iter()
        .find(|p| {
            let keys: Vec<Option<&str>> = p
                .columns
                .iter()
                .map(|c| Some(c.strip_suffix(" DESC").unwrap_or(c)))
                .collect();
            p.table == fk.table.to_string() && p.predicate.is_none() && leads(&keys, &fk.columns)
        })
        .map(|p| p.name.clone())
}

/// `child_a_b_idx`, cut to PostgreSQL's 63 bytes, not clashing with an existing name.
fn index_name_for(snapshot: &Snapshot, fk: &ForeignKey) -> String {
    let base = format!("{}_{}_idx", fk.table.name, fk.columns.join("_"));
    let cut = |s: &str, max: usize| {
        let mut end = s.len().min(max);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    };
    let taken = |n: &str| {
        snapshot
            .indexes
            .iter()
            .any(|i| i.name == n && i.schema == fk.table.schema)
    };
    let mut name = cut(&base, 63);
    let mut n = 1;
    while taken(&name) {
        let suffix = format!("{n}");
        name = format!("{}{suffix}", cut(&base, 63 - suffix.len()));
        n += 1;
    }
    name
}

pub fn check(snapshot: &Snapshot, advice: &IndexAdvice, options: &HealthOptions) -> Vec<Finding> {
    let mut findings = Vec::new();
    for fk in &snapshot.foreign_keys {
        let Some(child) = snapshot.table(&fk.table.schema, &fk.table.name) else {
            continue;
        };
        let rows = crate::analyze::health::estimated_rows(child);
        if rows < options.fk_child_min_rows || fk.columns.is_empty() {
            continue;
        }
        if snapshot.indexes_of(&fk.table).any(|i| index_serves(i, fk)) {
            continue;
        }
        if proposal_serves(advice, fk).is_some() {
            continue;
        }
        let parent = snapshot.table(&fk.referenced_table.schema, &fk.referenced_table.name);
        let parent_writes = parent
            .and_then(|p| p.stats.as_ref())
            .map(|s| (s.n_tup_del, s.n_tup_upd));
        let columns: Vec<String> = fk.columns.iter().map(|c| quote(c)).collect();
        let ddl = format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({});",
            quote(&index_name_for(snapshot, fk)),
            fk.table,
            columns.join(", ")
        );
        findings.push(Finding {
            rule: RULE,
            severity: Severity::Medium,
            object: fk.table.to_string(),
            queryid: None,
            title: format!(
                "foreign key {} on {} ({}) has no index",
                fk.name,
                fk.table,
                fk.columns.join(", ")
            ),
            detail: format!(
                "{} has about {rows:.0} rows and no index leading with ({}). Each delete from {} \
                 (and each update of its referenced key) scans {} for referencing rows{}.",
                fk.table,
                fk.columns.join(", "),
                fk.referenced_table,
                fk.table,
                match parent_writes {
                    Some((del, upd)) => format!(
                        "; {} has seen {del} deletes and {upd} updates since the statistics were reset",
                        fk.referenced_table
                    ),
                    None => String::new(),
                }
            ),
            fix: Some(ddl.clone()),
            evidence: serde_json::json!({
                "constraint": fk.name,
                "definition": fk.definition,
                "table": fk.table.to_string(),
                "columns": fk.columns,
                "referenced_table": fk.referenced_table.to_string(),
                "child_rows": rows,
                "child_size_bytes": child.total_size_bytes,
                "parent_deletes": parent_writes.map(|w| w.0),
                "parent_updates": parent_writes.map(|w| w.1),
                "ddl": ddl,
            }),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;
    use crate::analyze::indexes::IndexProposal;

    fn proposal(table: &str, columns: &[&str], predicate: Option<&str>) -> IndexProposal {
        IndexProposal {
            table: format!("public.{table}"),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            include: vec![],
            predicate: predicate.map(String::from),
            method: crate::analyze::indexes::AccessMethod::Btree,
            name: "proposed_idx".into(),
            ddl: String::new(),
            verified: false,
            verification: None,
            requires: Vec::new(),
            pages_per_range: None,
            cost_before: None,
            cost_after: None,
            estimated_size_bytes: 0,
            full_index_size_bytes: 0,
            predicate_fraction: None,
            queryids: vec![],
            queries: vec![],
            workload_time_ms: 0.0,
            estimated_time_saved_ms: None,
            marginal_cost_saving: None,
            served_with: Vec::new(),
            reason: String::new(),
            write_cost: None,
            hypothetical_sql: String::new(),
            hypothetical_full_sql: None,
            key_count: columns.len(),
            key_specs: vec![],
            key_roles: Vec::new(),
            partial: vec![],
            table_name: crate::snapshot::QualifiedName {
                schema: "public".into(),
                name: String::new(),
            },
            definition_tail: String::new(),
            plans: vec![],
            estimated_selectivity: Vec::new(),
        }
    }

    #[test]
    fn unindexed_foreign_keys_on_large_children_are_reported() {
        let partial = {
            let mut i = fixture::index("child", "child_p_idx", &["parent_id"]);
            i.predicate = Some("(x IS NULL)".into());
            i
        };
        let invalid = {
            let mut i = fixture::index("child", "child_i_idx", &["parent_id"]);
            i.is_valid = false;
            i
        };
        type Case<'a> = (&'a str, f64, Vec<Index>, Vec<IndexProposal>, bool);
        let cases: Vec<Case> = vec![
            ("no index", 50_000.0, vec![], vec![], true),
            (
                "index elsewhere",
                50_000.0,
                vec![fixture::index("child", "child_x", &["x", "parent_id"])],
                vec![],
                true,
            ),
            ("partial index", 50_000.0, vec![partial], vec![], true),
            ("invalid index", 50_000.0, vec![invalid], vec![], true),
            (
                "partial proposal",
                50_000.0,
                vec![],
                vec![proposal("child", &["parent_id"], Some("x IS NULL"))],
                true,
            ),
            // Silent.
            ("small child", 500.0, vec![], vec![], false),
            (
                "leading index",
                50_000.0,
                vec![fixture::index(
                    "child",
                    "child_pc",
                    &["parent_id", "created_at DESC"],
                )],
                vec![],
                false,
            ),
            (
                "proposed",
                50_000.0,
                vec![],
                vec![proposal("child", &["parent_id", "created_at DESC"], None)],
                false,
            ),
        ];
        for (label, rows, indexes, proposals, expected) in cases {
            let mut snap = fixture::snapshot();
            snap.tables = vec![
                fixture::table("parent", 1000.0, &["id"]),
                fixture::table("child", rows, &["id", "parent_id", "x", "created_at"]),
            ];
            snap.indexes = indexes;
            snap.foreign_keys = vec![fixture::foreign_key(
                "child",
                &["parent_id"],
                "parent",
                None,
            )];
            let advice = IndexAdvice {
                proposals,
                served_by_existing: vec![],
            };
            let findings = check(&snap, &advice, &HealthOptions::default());
            assert_eq!(findings.len(), usize::from(expected), "{label}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.child");
                assert_eq!(
                    f.fix.as_deref(),
                    Some("CREATE INDEX CONCURRENTLY IF NOT EXISTS child_parent_id_idx ON public.child (parent_id);")
                );
            }
        }
    }

    #[test]
    fn multi_column_keys_lead_in_any_order() {
        let cols = ["a".to_string(), "b".to_string()];
        assert!(leads(&[Some("b"), Some("a"), Some("c")], &cols));
        assert!(!leads(&[Some("a"), Some("c"), Some("b")], &cols));
        assert!(!leads(&[Some("a")], &cols));
        assert!(!leads(&[None, Some("a")], &cols[..1]));
    }
}
