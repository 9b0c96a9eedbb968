//! The planner's estimated selectivity of a statement's filter on one table,
//! read from the baseline plans the what-if session already made: evidence
//! for the proposals hypopg cannot simulate (GIN, GiST). No plan is made here.

use super::plan::{PlanSummary, RelationScan};
use crate::analyze::indexes::candidate::KeyTarget;
use crate::analyze::indexes::evidence::{add_filter_estimates, FilterEstimate};
use crate::analyze::indexes::IndexProposal;
use crate::snapshot::{QualifiedName, Snapshot, Table, TableKind};

/// Adds, to every unverified proposal with a verification text, the
/// estimates of its statements' baseline plans (`plans`: queryid and plan).
/// A statement without a plan, or whose plan reads the table in a way that
/// cannot be told apart, adds nothing.
pub fn add_filter_evidence(
    proposals: &mut [IndexProposal],
    plans: &[(i64, PlanSummary)],
    snapshot: &Snapshot,
) {
    for proposal in proposals
        .iter_mut()
        .filter(|p| !p.verified && p.verification.is_some())
    {
        let Some(table) = snapshot.table(&proposal.table_name.schema, &proposal.table_name.name)
        else {
            continue;
        };
        let keys = key_columns(table, proposal);
        let estimates = proposal
            .queryids
            .iter()
            .filter_map(|id| {
                let (_, plan) = plans.iter().find(|(p, _)| p == id)?;
                filter_estimate(*id, &plan.scans, snapshot, table, &keys)
            })
            .collect();
        add_filter_estimates(proposal, estimates);
    }
}

/// The table's columns the proposal's keys read: a column key itself, the
/// columns an expression names.
fn key_columns(table: &Table, proposal: &IndexProposal) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for key in &proposal.key_specs {
        match &key.key {
            KeyTarget::Column(c) => columns.push(c.clone()),
            KeyTarget::Expression(e) => columns.extend(
                table
                    .columns
                    .iter()
                    .filter(|c| mentions(e, &c.name))
                    .map(|c| c.name.clone()),
            ),
        }
    }
    columns.dedup();
    columns
}

/// What the plan's filtered scan of `table` (all its partitions for a
/// partitioned one) returns, against the table's rows. `None` when the plan
/// does not filter the table while scanning it, reads it more than once with
/// no way to tell which scan the keys are for, or the table was never analyzed.
pub fn filter_estimate(
    queryid: i64,
    scans: &[RelationScan],
    snapshot: &Snapshot,
    table: &Table,
    key_columns: &[String],
) -> Option<FilterEstimate> {
    let relations = leaf_relations(snapshot, table);
    // EXPLAIN names relations without their schema.
    let of_table: Vec<&RelationScan> = scans
        .iter()
        .filter(|s| relations.iter().any(|r| r.name == s.relation))
        .filter(|s| s.filtered)
        .collect();
    let read_once = |chosen: &[&RelationScan]| {
        !chosen.is_empty()
            && chosen
                .iter()
                .enumerate()
                .all(|(i, s)| !chosen[..i].iter().any(|o| o.relation == s.relation))
    };
    let chosen: Vec<&RelationScan> = if read_once(&of_table) {
        of_table
    } else {
        // A self-join or a subquery reads it twice: the scan filtering on the keys.
        let on_keys: Vec<&RelationScan> = of_table
            .into_iter()
            .filter(|s| key_columns.iter().any(|c| mentions(&s.conditions, c)))
            .collect();
        if !read_once(&on_keys) {
            return None;
        }
        on_keys
    };
    if relations.iter().any(|r| r.reltuples < 0.0) {
        return None;
    }
    let table_rows: f64 = relations.iter().map(|r| r.reltuples).sum();
    let rows: f64 = chosen.iter().map(|s| s.rows).sum();
    FilterEstimate::new(queryid, rows, table_rows)
}

/// The relations a plan scans for `table`: itself, or for a partitioned
/// table its leaf partitions (at any depth).
fn leaf_relations<'a>(snapshot: &'a Snapshot, table: &'a Table) -> Vec<&'a Table> {
    if table.kind != TableKind::PartitionedTable {
        return vec![table];
    }
    let name = QualifiedName::new(&table.schema, &table.name);
    snapshot
        .tables
        .iter()
        .filter(|t| t.parent.as_ref() == Some(&name))
        .flat_map(|t| leaf_relations(snapshot, t))
        .collect()
}

/// Whether `text` names `identifier` as a whole word (plain or quoted).
fn mentions(text: &str, identifier: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(identifier).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + identifier.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    fn scan(relation: &str, rows: f64, conditions: &str) -> RelationScan {
        RelationScan {
            relation: relation.to_string(),
            alias: None,
            node_type: "Seq Scan".to_string(),
            rows,
            filtered: !conditions.is_empty(),
            conditions: conditions.to_string(),
        }
    }

    fn table(name: &str, rows: f64, kind: TableKind, parent: Option<&str>) -> Table {
        Table {
            schema: "public".to_string(),
            name: name.to_string(),
            kind,
            parent: parent.map(|p| QualifiedName::new("public", p)),
            reltuples: rows,
            ..Table::default()
        }
    }

    #[test]
    fn the_filtered_scan_of_the_table_or_its_partitions() {
        let mut snapshot = fixture::snapshot();
        snapshot.tables = vec![
            table("articles", 100_000.0, TableKind::Table, None),
            table("tags", 50.0, TableKind::Table, None),
            table("events", 0.0, TableKind::PartitionedTable, None),
            table("events_2025", 30_000.0, TableKind::Table, Some("events")),
            table(
                "events_2026",
                0.0,
                TableKind::PartitionedTable,
                Some("events"),
            ),
            table(
                "events_2026_h1",
                10_000.0,
                TableKind::Table,
                Some("events_2026"),
            ),
            table("fresh", -1.0, TableKind::Table, None),
        ];
        let keys = vec!["labels".to_string()];
        let cases: [(&str, Vec<RelationScan>, Option<f64>); 9] = [
            (
                "articles",
                vec![scan("articles", 500.0, "(labels @> $1)")],
                Some(0.005),
            ),
            // The filter is applied in a join, not the scan: unknown.
            ("articles", vec![scan("articles", 100_000.0, "")], None),
            (
                "articles",
                vec![
                    scan("tags", 5.0, "(name = $2)"),
                    scan("articles", 1_000.0, "(labels && $1)"),
                ],
                Some(0.01),
            ),
            // A self-join: the scan whose conditions name the key.
            (
                "articles",
                vec![
                    scan("articles", 2_000.0, "(a2.id > $2)"),
                    scan("articles", 100.0, "(a1.labels @> $1)"),
                ],
                Some(0.001),
            ),
            // Both scans filter on the key: cannot tell them apart.
            (
                "articles",
                vec![
                    scan("articles", 2_000.0, "(labels && $2)"),
                    scan("articles", 100.0, "(labels @> $1)"),
                ],
                None,
            ),
            // `labels_count` is not `labels`.
            (
                "articles",
                vec![
                    scan("articles", 2_000.0, "(labels_count > $2)"),
                    scan("articles", 100.0, "(labels_count < $1)"),
                ],
                None,
            ),
            // Every leaf partition, against the leaves' rows (40,000).
            (
                "events",
                vec![
                    scan("events_2025", 300.0, "(labels @> $1)"),
                    scan("events_2026_h1", 100.0, "(labels @> $1)"),
                ],
                Some(0.01),
            ),
            ("fresh", vec![scan("fresh", 10.0, "(labels @> $1)")], None),
            ("articles", vec![], None),
        ];
        for (name, scans, fraction) in cases {
            let t = snapshot.table("public", name).expect("table");
            let estimate = filter_estimate(9, &scans, &snapshot, t, &keys);
            assert_eq!(
                estimate.as_ref().map(|e| e.fraction),
                fraction,
                "{name}: {scans:?}"
            );
        }
    }

    #[test]
    fn words_are_whole_identifiers() {
        let cases = [
            ("(labels @> $1)", "labels", true),
            ("(a.labels @> $1)", "labels", true),
            ("(\"labels\" @> $1)", "labels", true),
            ("(labels_count > 1)", "labels", false),
            ("(all_labels > 1)", "labels", false),
            ("to_tsvector('simple'::regconfig, content)", "content", true),
            ("", "labels", false),
        ];
        for (text, word, expected) in cases {
            assert_eq!(mentions(text, word), expected, "{text} / {word}");
        }
    }
}
