//! What the extractor knows about the database: relations, their columns, and
//! the search_path used to resolve unqualified names the way PostgreSQL does.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

pub use crate::ident::quote as quote_identifier;
/// A schema-qualified relation name, as stored in the system catalogs
/// (already case-folded: `"Order"` is `Order`, `Users` is `users`).
pub use crate::snapshot::QualifiedName;

/// Folds an identifier as PostgreSQL does: quoted names are kept verbatim,
/// unquoted names have ASCII letters lower-cased (PostgreSQL leaves non-ASCII
/// letters alone in multi-byte encodings such as UTF-8).
pub fn fold_identifier(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

/// The folded parts of an object name, or `None` for names built from
/// function calls (a syntax other dialects have; PostgreSQL never does).
pub(crate) fn fold_object_name(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(fold_identifier(ident)),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// How a stored table behaves for indexing purposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TableKind {
    Table,
    /// A partitioned parent: indexes are created here and cascade to partitions.
    Partitioned,
    /// A partition: accesses are reported on the parent, which is where an index belongs.
    PartitionOf(QualifiedName),
    MaterializedView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnDef {
    pub name: String,
    /// The type as `format_type` prints it (e.g. `timestamp with time zone`), when known;
    /// used to notice parameters cast to a different type.
    pub data_type: Option<String>,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            data_type: None,
        }
    }

    pub fn typed(name: impl Into<String>, data_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            data_type: Some(data_type.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDef {
    pub name: QualifiedName,
    pub kind: TableKind,
    /// Columns in attribute order. Empty means "not known", not "no columns".
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    pub fn new(name: QualifiedName, kind: TableKind, columns: Vec<ColumnDef>) -> Self {
        Self {
            name,
            kind,
            columns,
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewDef {
    pub name: QualifiedName,
    /// Output column names in order; they rename the definition's select list.
    pub columns: Vec<String>,
    /// The defining query, as `pg_get_viewdef` prints it.
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Relation {
    Table(TableDef),
    View(ViewDef),
}

/// The database as the extractor sees it. Built by a later stage from a
/// snapshot; tests build it by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    search_path: Vec<String>,
    relations: BTreeMap<QualifiedName, Relation>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::new()
    }
}

/// Schemas whose relations are system catalogs: never worth an index proposal.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema"];

/// What a relation name in a query refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved<'a> {
    Table(&'a TableDef),
    View(&'a ViewDef),
    SystemCatalog,
    Unknown,
}

impl Catalog {
    /// An empty catalog with PostgreSQL's default search_path (`public`).
    pub fn new() -> Self {
        Self {
            search_path: vec!["public".to_string()],
            relations: BTreeMap::new(),
        }
    }

    /// Replaces the search_path. Entries are schema names as stored (already
    /// folded); `"$user"` entries are dropped since the extractor does not know
    /// which role ran the query.
    pub fn with_search_path<I, S>(mut self, schemas: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.search_path = schemas
            .into_iter()
            .map(Into::into)
            .filter(|s| s != "$user")
            .collect();
        self
    }

    pub fn with_table(mut self, table: TableDef) -> Self {
        self.relations
            .insert(table.name.clone(), Relation::Table(table));
        self
    }

    pub fn with_view(mut self, view: ViewDef) -> Self {
        self.relations
            .insert(view.name.clone(), Relation::View(view));
        self
    }

    pub fn search_path(&self) -> &[String] {
        &self.search_path
    }

    pub fn relation(&self, name: &QualifiedName) -> Option<&Relation> {
        self.relations.get(name)
    }

    pub fn table(&self, name: &QualifiedName) -> Option<&TableDef> {
        match self.relations.get(name) {
            Some(Relation::Table(table)) => Some(table),
            _ => None,
        }
    }

    /// Resolves folded name parts (`[name]`, `[schema, name]` or
    /// `[database, schema, name]`). Unqualified names look in `pg_catalog`
    /// first, as PostgreSQL does when it is not on the search_path, then along
    /// the search_path.
    pub(crate) fn resolve(&self, parts: &[String]) -> Resolved<'_> {
        let (schema, name) = match parts {
            [name] => (None, name),
            [schema, name] | [_, schema, name] => (Some(schema), name),
            _ => return Resolved::Unknown,
        };
        let lookup = |schema: &str| {
            let found = self
                .relations
                .get(&QualifiedName::new(schema, name.as_str()))?;
            Some(if SYSTEM_SCHEMAS.contains(&schema) {
                Resolved::SystemCatalog
            } else {
                match found {
                    Relation::Table(table) => Resolved::Table(table),
                    Relation::View(view) => Resolved::View(view),
                }
            })
        };
        match schema {
            Some(schema) => {
                lookup(schema).unwrap_or(if SYSTEM_SCHEMAS.contains(&schema.as_str()) {
                    Resolved::SystemCatalog
                } else {
                    Resolved::Unknown
                })
            }
            None => {
                if !self.search_path.iter().any(|s| s == "pg_catalog") {
                    if let Some(found) = lookup("pg_catalog") {
                        return found;
                    }
                }
                if let Some(found) = self.search_path.iter().find_map(|s| lookup(s)) {
                    return found;
                }
                // System catalogs are rarely listed in the catalog input; their
                // reserved `pg_` prefix is the tell.
                if name.starts_with("pg_") {
                    Resolved::SystemCatalog
                } else {
                    Resolved::Unknown
                }
            }
        }
    }

    /// The table an index for this table belongs on: the topmost partitioned
    /// parent of a partition (partitions can nest).
    pub(crate) fn index_owner<'a>(&'a self, table: &'a TableDef) -> &'a TableDef {
        let mut owner = table;
        // Bounded so a malformed catalog with a parent cycle cannot loop forever.
        for _ in 0..32 {
            match &owner.kind {
                TableKind::PartitionOf(parent) => match self.table(parent) {
                    Some(next) => owner = next,
                    None => break,
                },
                _ => break,
            }
        }
        owner
    }
}
