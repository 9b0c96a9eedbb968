//! The workload: every pg_stat_statements entry of the snapshot turned into a
//! query shape, or counted as skipped with its reason.

use super::queries::{
    analyze_statement, Catalog, ColumnDef, QualifiedName, QueryShape, SkipReason, TableDef,
    TableKind, ViewDef,
};
use crate::snapshot::{self, Snapshot, Statement};

/// Which statements count as hot.
#[derive(Debug, Clone)]
pub struct HotStatements {
    /// At most this many, heaviest total time first.
    pub top: usize,
    pub min_calls: i64,
    pub min_total_time_ms: f64,
    pub min_mean_time_ms: f64,
}

impl Default for HotStatements {
    fn default() -> Self {
        HotStatements {
            top: 100,
            min_calls: 2,
            min_total_time_ms: 0.0,
            min_mean_time_ms: 0.0,
        }
    }
}

/// The threshold of [`HotStatements`] a statement falls below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotThreshold {
    MinCalls,
    MinTotalTime,
    MinMeanTime,
}

impl HotStatements {
    pub(crate) fn admits(&self, s: &Statement) -> bool {
        self.missed(s).is_none()
    }

    /// The first threshold `s` falls below (calls, then total, then mean
    /// time), or `None` when it is hot enough. A NaN time misses too.
    pub fn missed(&self, s: &Statement) -> Option<HotThreshold> {
        let below = |value: f64, min: f64| value.partial_cmp(&min).is_none_or(|o| o.is_lt());
        if s.calls < self.min_calls {
            Some(HotThreshold::MinCalls)
        } else if below(s.total_exec_time, self.min_total_time_ms) {
            Some(HotThreshold::MinTotalTime)
        } else if below(s.mean_exec_time, self.min_mean_time_ms) {
            Some(HotThreshold::MinMeanTime)
        } else {
            None
        }
    }
}

/// Skip reasons for analyzed statements the index advisor leaves out as not
/// hot enough (`--min-calls`, `--min-total-time`, `--min-mean-time`).
pub const BELOW_MIN_CALLS: &str = "below --min-calls";
pub const BELOW_MIN_TOTAL_TIME: &str = "below --min-total-time";
pub const BELOW_MIN_MEAN_TIME: &str = "below --min-mean-time";

/// How many analyzed statements each threshold of [`HotStatements`] leaves
/// out, each counted under the first one it fails (calls, total, mean time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BelowThresholds {
    pub min_calls: usize,
    pub min_total_time: usize,
    pub min_mean_time: usize,
}

impl BelowThresholds {
    pub fn total(&self) -> usize {
        self.min_calls + self.min_total_time + self.min_mean_time
    }

    /// As skip reasons: `(label, count)`, the non-zero ones.
    pub fn reasons(&self) -> Vec<(&'static str, usize)> {
        [
            (BELOW_MIN_CALLS, self.min_calls),
            (BELOW_MIN_TOTAL_TIME, self.min_total_time),
            (BELOW_MIN_MEAN_TIME, self.min_mean_time),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Stack of the thread that parses and walks the statements. Only the pages
/// a deep tree touches are ever allocated; 256 MiB holds the deepest tree
/// [`MAX_TOKENS`](super::queries::MAX_TOKENS) tokens can build.
pub const ANALYSIS_STACK_BYTES: usize = 256 << 20;

/// A statement the advisor will reason about.
#[derive(Debug, Clone)]
pub struct AnalyzedStatement<'a> {
    pub statement: &'a Statement,
    pub shape: QueryShape,
    /// Given on the command line (`--query`), not observed in pg_stat_statements.
    pub given: bool,
}

/// A statement left out, and why.
#[derive(Debug, Clone)]
pub struct SkippedStatement<'a> {
    pub statement: &'a Statement,
    pub reason: SkipReason,
}

#[derive(Debug, Clone)]
pub struct Workload<'a> {
    pub analyzed: Vec<AnalyzedStatement<'a>>,
    pub skipped: Vec<SkippedStatement<'a>>,
}

impl<'a> Workload<'a> {
    pub fn from_snapshot(snapshot: &'a Snapshot) -> Workload<'a> {
        Self::with_given(snapshot, &[])
    }

    /// The snapshot's statements plus `given` ones (queries that have not run
    /// in production yet, e.g. from a pull request).
    ///
    /// The statements are parsed and walked on a thread of its own with an
    /// [`ANALYSIS_STACK_BYTES`] stack: a parsed tree is dropped (and printed,
    /// cloned) recursively, and the limits checked before parsing are
    /// counted on tokens, so the stack must hold more than they let through.
    pub fn with_given(snapshot: &'a Snapshot, given: &'a [Statement]) -> Workload<'a> {
        let analyze = || Self::analyze_all(snapshot, given);
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("pgadvise-analyze".into())
                .stack_size(ANALYSIS_STACK_BYTES)
                .spawn_scoped(scope, analyze);
            match worker {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No room for the stack (a tight address-space limit): the
                // limits checked before parsing still hold on this thread.
                Err(_) => analyze(),
            }
        })
    }

    fn analyze_all(snapshot: &'a Snapshot, given: &'a [Statement]) -> Workload<'a> {
        let catalog = catalog_of(snapshot);
        let mut analyzed = Vec::new();
        let mut skipped = Vec::new();
        let observed = snapshot.statements.entries.iter().map(|s| (s, false));
        for (statement, given) in observed.chain(given.iter().map(|s| (s, true))) {
            match analyze_statement(&statement.query, &catalog) {
                Ok(shape) => analyzed.push(AnalyzedStatement {
                    statement,
                    shape,
                    given,
                }),
                Err(reason) => skipped.push(SkippedStatement { statement, reason }),
            }
        }
        Workload { analyzed, skipped }
    }

    pub fn analyzed(&self) -> usize {
        self.analyzed.len()
    }

    pub fn skipped(&self) -> usize {
        self.skipped.len()
    }

    /// How many statements were skipped for each kind of reason, most first.
    pub fn skip_reasons(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for s in &self.skipped {
            let label = s.reason.label();
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        counts
    }

    /// The analyzed statements `hot` leaves out of the index advice, by
    /// threshold ([`HotStatements::missed`]). Statements given on the command
    /// line always count.
    pub fn below_thresholds(&self, hot: &HotStatements) -> BelowThresholds {
        let mut below = BelowThresholds::default();
        for a in self.analyzed.iter().filter(|a| !a.given) {
            match hot.missed(a.statement) {
                Some(HotThreshold::MinCalls) => below.min_calls += 1,
                Some(HotThreshold::MinTotalTime) => below.min_total_time += 1,
                Some(HotThreshold::MinMeanTime) => below.min_mean_time += 1,
                None => {}
            }
        }
        below
    }

    /// [`skip_reasons`](Self::skip_reasons) plus the statements `hot` leaves
    /// out, most first: every statement the index advisor did not consider.
    pub fn skip_reasons_with(&self, hot: &HotStatements) -> Vec<(&'static str, usize)> {
        let mut counts = self.skip_reasons();
        counts.extend(self.below_thresholds(hot).reasons());
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        counts
    }
}

/// The extractor's view of the database: tables with their columns, views with
/// their definitions, and the search_path unqualified names resolve through.
pub fn catalog_of(snapshot: &Snapshot) -> Catalog {
    let mut catalog = Catalog::new().with_search_path(snapshot.search_path.iter().cloned());
    for table in &snapshot.tables {
        let kind = match (&table.kind, &table.parent) {
            (_, Some(parent)) => {
                TableKind::PartitionOf(QualifiedName::new(&parent.schema, &parent.name))
            }
            (snapshot::TableKind::PartitionedTable, None) => TableKind::Partitioned,
            (snapshot::TableKind::MaterializedView, None) => TableKind::MaterializedView,
            _ => TableKind::Table,
        };
        let columns = table
            .columns
            .iter()
            .map(|c| ColumnDef::typed(&c.name, &c.data_type))
            .collect();
        catalog = catalog.with_table(TableDef::new(
            QualifiedName::new(&table.schema, &table.name),
            kind,
            columns,
        ));
    }
    for view in snapshot.views.iter().filter(|v| !v.materialized) {
        catalog = catalog.with_view(ViewDef {
            name: QualifiedName::new(&view.schema, &view.name),
            columns: view.columns.clone(),
            definition: view.definition.clone(),
        });
    }
    catalog
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    #[test]
    fn statements_below_the_thresholds_are_counted_by_the_first_they_fail() {
        let mut snap = fixture::snapshot();
        snap.tables = vec![fixture::table("t", 1000.0, &["a", "b"])];
        snap.statements.entries = vec![
            fixture::statement(1, 1, 50.0, "SELECT a FROM t WHERE b = $1"),
            fixture::statement(2, 1, 0.1, "SELECT b FROM t WHERE a = $1"),
            fixture::statement(3, 5, 0.1, "SELECT a FROM t WHERE a = $1"),
            fixture::statement(4, 100, 2.0, "SELECT a, b FROM t WHERE b > $1"),
            fixture::statement(5, 1, 1.0, "SET work_mem = $1"),
        ];
        let given = [Statement::given(-1, "SELECT b FROM t WHERE b = 3".into())];
        let workload = Workload::with_given(&snap, &given);
        let hot = HotStatements {
            min_total_time_ms: 1.0,
            min_mean_time_ms: 1.0,
            ..HotStatements::default()
        };
        let below = workload.below_thresholds(&hot);
        // 1 and 2 ran once; 3 ran often enough but took 0.5ms in all; the
        // given statement has no statistics and always counts.
        assert_eq!(
            below,
            BelowThresholds {
                min_calls: 2,
                min_total_time: 1,
                min_mean_time: 0,
            }
        );
        assert_eq!(
            workload.skip_reasons_with(&hot),
            vec![
                (BELOW_MIN_CALLS, 2),
                (BELOW_MIN_TOTAL_TIME, 1),
                ("utility statement", 1),
            ]
        );
        // --min-calls 1 and no time thresholds: every analyzed statement counts.
        let all = HotStatements {
            min_calls: 1,
            ..HotStatements::default()
        };
        assert_eq!(workload.below_thresholds(&all).total(), 0);
        assert_eq!(workload.skip_reasons_with(&all), workload.skip_reasons());
    }
}
