//! The workload: every pg_stat_statements entry of the snapshot turned into a
//! query shape, or counted as skipped with its reason.

use super::queries::{
    analyze_statement, Catalog, ColumnDef, QualifiedName, QueryShape, SkipReason, TableDef,
    TableKind, ViewDef,
};
use crate::snapshot::{self, Snapshot, Statement};

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
    pub fn with_given(snapshot: &'a Snapshot, given: &'a [Statement]) -> Workload<'a> {
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
