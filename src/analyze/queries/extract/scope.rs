//! Name resolution: the range entries of each query level, what columns each
//! exports and where they come from, and how a column reference finds its
//! entry, innermost scope first.

use sqlparser::ast::{Ident, TableAlias};

use super::expressions::ExprInfo;
use super::Extractor;
use crate::analyze::queries::catalog::fold_identifier;
use crate::analyze::queries::shape::IndexKey;

/// Where a column of a range entry comes from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ColumnOrigin {
    /// A base-table column, or an expression over columns of one scan.
    Key { access: usize, key: IndexKey },
    /// Computed, aggregated, or behind a fence: no index can serve it.
    Opaque,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ExportedColumn {
    pub(super) name: String,
    pub(super) origin: ColumnOrigin,
}

/// What a query (subquery, view, CTE) offers to the level that reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct DerivedOutput {
    pub(super) columns: Vec<ExportedColumn>,
    /// `SELECT *` over a table whose columns the catalog does not list: any
    /// unknown name may belong to this scan.
    pub(super) passthrough: Option<usize>,
    /// Scans PostgreSQL would pull up into the reading level.
    pub(super) accesses: Vec<usize>,
    /// Outer predicates may be pushed down to the base tables.
    pub(super) inlinable: bool,
}

#[derive(Debug, Clone)]
pub(super) enum EntrySource {
    Base {
        access: usize,
        /// Empty when the catalog lists none.
        columns: Vec<String>,
    },
    Derived(DerivedOutput),
    /// A set-returning function or VALUES list: columns exist, but no scan.
    Function {
        columns: Vec<String>,
    },
}

/// One FROM item as seen by name resolution.
#[derive(Debug, Clone)]
pub(super) struct RangeEntry {
    /// Alias, or the relation name as written (folded).
    pub(super) name: String,
    /// The schema as written, for `schema.table.column` references.
    pub(super) schema: Option<String>,
    pub(super) source: EntrySource,
}

impl RangeEntry {
    pub(super) fn accesses(&self) -> Vec<usize> {
        match &self.source {
            EntrySource::Base { access, .. } => vec![*access],
            EntrySource::Derived(output) if output.inlinable => output.accesses.clone(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Scope {
    pub(super) entries: Vec<RangeEntry>,
}

/// A CTE name visible at this point of the walk.
#[derive(Debug, Clone)]
pub(super) struct CteBinding {
    pub(super) name: String,
    pub(super) definition: usize,
    pub(super) output: DerivedOutput,
    pub(super) fenced: bool,
}

/// System columns every table has, though catalogs rarely list them.
const SYSTEM_COLUMNS: &[&str] = &["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"];

impl<'c> Extractor<'c> {
    /// Finds the range entry a qualifier names, innermost scope first.
    pub(super) fn find_entry(&self, qualifier: &[String]) -> Option<(usize, &RangeEntry)> {
        let (schema, name) = match qualifier {
            [name] => (None, name),
            [schema, name] | [_, schema, name] => (Some(schema), name),
            _ => return None,
        };
        self.scopes
            .iter()
            .enumerate()
            .rev()
            .find_map(|(depth, scope)| {
                scope
                    .entries
                    .iter()
                    .rev()
                    .find(|e| {
                        &e.name == name
                            && schema.is_none_or(|s| e.schema.as_ref().is_none_or(|es| es == s))
                    })
                    .map(|e| (depth, e))
            })
    }

    pub(super) fn resolve_column(&self, idents: &[Ident]) -> ColumnOrigin {
        let parts: Vec<String> = idents.iter().map(fold_identifier).collect();
        match parts.as_slice() {
            [column] => self.resolve_unqualified(column),
            [qualifier @ .., column] if qualifier.len() <= 3 => self
                .find_entry(qualifier)
                .and_then(|(_, entry)| entry_column(entry, column))
                .unwrap_or(ColumnOrigin::Opaque),
            _ => ColumnOrigin::Opaque,
        }
    }

    fn resolve_unqualified(&self, column: &str) -> ColumnOrigin {
        for scope in self.scopes.iter().rev() {
            let mut definite = Vec::new();
            let mut unknown = 0;
            for entry in &scope.entries {
                match entry_membership(entry, column) {
                    Membership::Yes => definite.push(entry),
                    Membership::Maybe => unknown += 1,
                    Membership::No => {}
                }
            }
            match definite.as_slice() {
                [entry] => return entry_column(entry, column).unwrap_or(ColumnOrigin::Opaque),
                [] if unknown == 1 && scope.entries.len() == 1 => {
                    return scope
                        .entries
                        .first()
                        .and_then(|e| entry_column(e, column))
                        .unwrap_or(ColumnOrigin::Opaque);
                }
                [] if unknown == 0 => continue,
                _ => return ColumnOrigin::Opaque,
            }
        }
        ColumnOrigin::Opaque
    }
}

pub(super) fn origin_of(info: &ExprInfo) -> ColumnOrigin {
    match &info.key {
        Some((access, key)) => ColumnOrigin::Key {
            access: *access,
            key: key.clone(),
        },
        None => ColumnOrigin::Opaque,
    }
}

pub(super) fn origin_key(origin: ColumnOrigin) -> Option<(usize, IndexKey)> {
    match origin {
        ColumnOrigin::Key { access, key } => Some((access, key)),
        ColumnOrigin::Opaque => None,
    }
}

enum Membership {
    Yes,
    Maybe,
    No,
}

fn entry_membership(entry: &RangeEntry, column: &str) -> Membership {
    match &entry.source {
        EntrySource::Base { columns, .. } => {
            if columns.iter().any(|c| c == column) || SYSTEM_COLUMNS.contains(&column) {
                Membership::Yes
            } else if columns.is_empty() {
                Membership::Maybe
            } else {
                Membership::No
            }
        }
        EntrySource::Derived(output) => {
            if output.columns.iter().any(|c| c.name == column) {
                Membership::Yes
            } else if output.passthrough.is_some() {
                Membership::Maybe
            } else {
                Membership::No
            }
        }
        EntrySource::Function { columns } => {
            if columns.iter().any(|c| c == column) {
                Membership::Yes
            } else if columns.is_empty() {
                Membership::Maybe
            } else {
                Membership::No
            }
        }
    }
}

/// The origin of `column` in a range entry, if the entry can have it.
pub(super) fn entry_column(entry: &RangeEntry, column: &str) -> Option<ColumnOrigin> {
    match &entry.source {
        EntrySource::Base { access, columns } => {
            let known = columns.iter().any(|c| c == column) || SYSTEM_COLUMNS.contains(&column);
            (known || columns.is_empty()).then(|| ColumnOrigin::Key {
                access: *access,
                key: IndexKey::Column(column.to_string()),
            })
        }
        EntrySource::Derived(output) => {
            let found = output.columns.iter().find(|c| c.name == column);
            match (found, output.passthrough) {
                (Some(exported), _) if output.inlinable => Some(exported.origin.clone()),
                (Some(_), _) => Some(ColumnOrigin::Opaque),
                (None, Some(access)) if output.inlinable => Some(ColumnOrigin::Key {
                    access,
                    key: IndexKey::Column(column.to_string()),
                }),
                (None, Some(_)) => Some(ColumnOrigin::Opaque),
                (None, None) => None,
            }
        }
        EntrySource::Function { .. } => Some(ColumnOrigin::Opaque),
    }
}

/// Adds the columns `*` expands to for one entry.
pub(super) fn append_entry_columns(output: &mut DerivedOutput, entry: &RangeEntry) {
    match &entry.source {
        EntrySource::Base { access, columns } => {
            if columns.is_empty() {
                output.passthrough = Some(*access);
            }
            output
                .columns
                .extend(columns.iter().map(|c| ExportedColumn {
                    name: c.clone(),
                    origin: ColumnOrigin::Key {
                        access: *access,
                        key: IndexKey::Column(c.clone()),
                    },
                }));
        }
        EntrySource::Derived(inner) => {
            let fenced = !inner.inlinable;
            output
                .columns
                .extend(inner.columns.iter().map(|c| ExportedColumn {
                    name: c.name.clone(),
                    origin: if fenced {
                        ColumnOrigin::Opaque
                    } else {
                        c.origin.clone()
                    },
                }));
            if !fenced && inner.passthrough.is_some() {
                output.passthrough = inner.passthrough;
            }
        }
        EntrySource::Function { columns } => {
            output
                .columns
                .extend(columns.iter().map(|c| ExportedColumn {
                    name: c.clone(),
                    origin: ColumnOrigin::Opaque,
                }));
        }
    }
}

/// Applies `AS alias(a, b, ...)` column renames, positionally.
pub(super) fn rename_columns(output: &mut DerivedOutput, alias: Option<&TableAlias>) {
    if let Some(alias) = alias {
        for (column, renamed) in output.columns.iter_mut().zip(&alias.columns) {
            column.name = fold_identifier(&renamed.name);
        }
    }
}
