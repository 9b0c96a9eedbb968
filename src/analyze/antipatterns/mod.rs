//! Query anti-patterns: shapes of hot statements that no index can fully
//! save, or that defeat the index there is. One rule per file; each reads the
//! parsed shape of one statement and reports it with the statement's
//! identity and weight (queryid, normalized text, calls, total time).
//!
//! Only hot statements are judged: a rare statement's pattern costs little.
//! A statement is hot when it ran at least `min_calls` times and took at
//! least `min_time_share` of the workload's total execution time; statements
//! given on the command line (`--query`) are always judged.

pub mod count_star_large_table;
pub mod function_on_column;
pub mod implicit_cast;
pub mod leading_wildcard_like;
pub mod limit_without_order_by;
pub mod not_in_subquery;
pub mod offset_pagination;
pub mod select_star_wide_table;
pub mod text_search_config_hidden;

use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::{IndexProposal, TableFilter};
use crate::analyze::queries::TableAccess;
use crate::analyze::rule::RuleId;
use crate::analyze::workload::{AnalyzedStatement, Workload};
use crate::snapshot::{Snapshot, Table};

/// When a statement is hot enough to judge, and what "large" and "wide" mean.
#[derive(Debug, Clone)]
pub struct AntipatternOptions {
    pub min_calls: i64,
    /// Share (0..1) of the total execution time of all statements.
    pub min_time_share: f64,
    /// `count-star-large-table`: rows from which an exact count is slow.
    pub large_table_rows: f64,
    /// `select-star-wide-table`: columns from which a table is wide...
    pub wide_table_columns: usize,
    /// ...or average row width in bytes (pg_stats) from which it is.
    pub wide_row_bytes: i64,
    /// Only findings about these tables (`--include-table`, `--exclude-table`).
    pub tables: TableFilter,
}

impl Default for AntipatternOptions {
    fn default() -> Self {
        AntipatternOptions {
            min_calls: 10,
            min_time_share: 0.01,
            large_table_rows: 100_000.0,
            wide_table_columns: 20,
            wide_row_bytes: 2048,
            tables: TableFilter::default(),
        }
    }
}

/// A statement hot enough to judge, with its share of the workload's time.
pub struct HotStatement<'a> {
    pub analyzed: &'a AnalyzedStatement<'a>,
    pub time_share: f64,
}

/// What every rule may read.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub options: &'a AntipatternOptions,
    /// The index advisor's proposals (after verification): a rule whose fix is
    /// an index points at the proposed one rather than inventing another.
    pub proposals: &'a [IndexProposal],
}

impl Context<'_> {
    pub fn table(&self, access: &TableAccess) -> Option<&Table> {
        self.snapshot
            .table(&access.table.schema, &access.table.name)
    }
}

/// The statements hot enough to judge, heaviest first.
pub fn hot_statements<'a>(
    snapshot: &Snapshot,
    workload: &'a Workload<'a>,
    options: &AntipatternOptions,
) -> Vec<HotStatement<'a>> {
    let total: f64 = snapshot
        .statements
        .entries
        .iter()
        .filter(|s| !crate::collect::is_own_statement(&s.query))
        .map(|s| s.total_exec_time)
        .sum();
    let mut hot: Vec<HotStatement> = workload
        .analyzed
        .iter()
        .filter_map(|a| {
            let share = if total > 0.0 {
                a.statement.total_exec_time / total
            } else {
                0.0
            };
            let judged = a.given
                || (a.statement.calls >= options.min_calls && share >= options.min_time_share);
            judged.then_some(HotStatement {
                analyzed: a,
                time_share: share,
            })
        })
        .collect();
    hot.sort_by(|a, b| {
        b.analyzed
            .statement
            .total_exec_time
            .partial_cmp(&a.analyzed.statement.total_exec_time)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(
                a.analyzed
                    .statement
                    .queryid
                    .cmp(&b.analyzed.statement.queryid),
            )
    });
    hot
}

/// Every anti-pattern rule over every hot statement.
pub fn check(
    snapshot: &Snapshot,
    workload: &Workload,
    proposals: &[IndexProposal],
    options: &AntipatternOptions,
) -> Vec<Finding> {
    let context = Context {
        snapshot,
        options,
        proposals,
    };
    let rules: [fn(&Context, &HotStatement) -> Vec<Finding>; 9] = [
        offset_pagination::check,
        limit_without_order_by::check,
        leading_wildcard_like::check,
        function_on_column::check,
        not_in_subquery::check,
        implicit_cast::check,
        select_star_wide_table::check,
        count_star_large_table::check,
        text_search_config_hidden::check,
    ];
    let mut findings: Vec<Finding> = Vec::new();
    for hot in hot_statements(snapshot, workload, options) {
        for rule in rules {
            for finding in rule(&context, &hot) {
                // Query findings are about a table (`schema.table`).
                let admitted = snapshot.tables.iter().any(|t| {
                    let name = crate::snapshot::QualifiedName::new(&t.schema, &t.name);
                    name.to_string() == finding.object && options.tables.admits(&name)
                });
                // One finding per rule, statement and object.
                if admitted
                    && !findings
                        .iter()
                        .any(|f| f.fingerprint() == finding.fingerprint())
                {
                    findings.push(finding);
                }
            }
        }
    }
    findings
}

/// What a rule says about a statement.
pub(crate) struct FindingText {
    pub title: String,
    pub detail: String,
    pub fix: Option<String>,
    /// The rule's own facts, under `evidence.details`.
    pub details: serde_json::Value,
}

/// A finding about one statement: its identity and weight go into the
/// evidence, with the rule's own facts under `details`.
pub(crate) fn statement_finding(
    rule: RuleId,
    severity: Severity,
    object: String,
    hot: &HotStatement,
    text: FindingText,
) -> Finding {
    let FindingText {
        title,
        detail,
        fix,
        details,
    } = text;
    let s = hot.analyzed.statement;
    Finding {
        rule,
        severity,
        object,
        queryid: Some(s.queryid),
        title,
        detail: format!(
            "{detail} Statement {}: {} calls, {:.1} ms in total ({:.1}% of the workload).",
            s.queryid,
            s.calls,
            s.total_exec_time,
            hot.time_share * 100.0
        ),
        fix,
        evidence: serde_json::json!({
            "queryid": s.queryid,
            "query": s.query,
            "calls": s.calls,
            "total_exec_time_ms": s.total_exec_time,
            "mean_exec_time_ms": s.mean_exec_time,
            "time_share": hot.time_share,
            "given": hot.analyzed.given,
            "details": details,
        }),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs one rule over hand-written statements on hand-built tables.
    use super::*;
    use crate::analyze::health::fixture;
    use crate::snapshot::Index;

    /// The findings of `rule` for `query` (hot: 1000 calls, all the workload's time).
    pub fn run(
        rule: fn(&Context, &HotStatement) -> Vec<Finding>,
        tables: Vec<Table>,
        indexes: Vec<Index>,
        query: &str,
    ) -> Vec<Finding> {
        run_advised(rule, tables, indexes, query, false)
    }

    /// As [`run`]; with `advised`, the index advisor's heuristic proposals for
    /// the statement are in the context, as in a scan.
    pub fn run_advised(
        rule: fn(&Context, &HotStatement) -> Vec<Finding>,
        tables: Vec<Table>,
        indexes: Vec<Index>,
        query: &str,
        advised: bool,
    ) -> Vec<Finding> {
        let mut snap = fixture::snapshot();
        snap.tables = tables;
        snap.indexes = indexes;
        snap.statements.entries = vec![fixture::statement(7, 1000, 2.0, query)];
        let workload = Workload::from_snapshot(&snap);
        assert_eq!(
            workload.analyzed.len(),
            1,
            "{query} did not parse: {:?}",
            workload.skipped.first().map(|s| &s.reason)
        );
        let options = AntipatternOptions::default();
        let proposals = if advised {
            crate::analyze::indexes::propose(
                &snap,
                &workload,
                &crate::analyze::indexes::HotStatements::default(),
                &TableFilter::default(),
            )
            .proposals
        } else {
            Vec::new()
        };
        let context = Context {
            snapshot: &snap,
            options: &options,
            proposals: &proposals,
        };
        hot_statements(&snap, &workload, &options)
            .iter()
            .flat_map(|h| rule(&context, h))
            .collect()
    }

    #[test]
    fn cold_statements_are_not_judged() {
        let mut snap = fixture::snapshot();
        snap.tables = vec![fixture::table("t", 10.0, &["id"])];
        snap.statements.entries = vec![
            fixture::statement(1, 1000, 10.0, "SELECT * FROM t WHERE id = $1"),
            fixture::statement(2, 5, 10.0, "SELECT * FROM t WHERE id > $1"),
            fixture::statement(3, 1000, 0.001, "SELECT id FROM t"),
        ];
        let workload = Workload::from_snapshot(&snap);
        let hot = hot_statements(&snap, &workload, &AntipatternOptions::default());
        let ids: Vec<i64> = hot.iter().map(|h| h.analyzed.statement.queryid).collect();
        // 2: too few calls; 3: a negligible share of the time.
        assert_eq!(ids, vec![1]);
    }
}
