//! The AST walk: resolves every relation and column reference to a base-table
//! scan and files each predicate, sort and flag under that scan.
//!
//! Name resolution follows PostgreSQL: a query level is a scope of range
//! entries (tables, subqueries, CTE references, functions); unqualified columns
//! are looked up innermost scope first, using the catalog's column lists.
//! Subqueries, views and CTEs export columns that remember which base column
//! (or expression over one) they carry, so a predicate written against a view
//! column lands on the base table, unless the derived query cannot be inlined
//! (LIMIT, aggregation, a MATERIALIZED CTE): then it is an optimization fence.

mod expressions;
mod from;
mod predicates;
mod query;
mod scope;
mod statements;

use super::catalog::{Catalog, QualifiedName, TableDef};
use super::shape::{AccessOrigin, TableAccess};

use scope::{CteBinding, Scope};
pub(crate) use statements::statement_name;

/// Deepest nesting of queries and expressions the walk follows. The parser
/// caps its own recursion at 50, but left-leaning operator chains
/// (`a + b + c ...`) are built without recursion and can be far deeper.
pub(crate) const MAX_DEPTH: usize = 100;

/// Why the walk stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Abort {
    TooDeep,
    Unsupported(String),
}

type Walk<T> = Result<T, Abort>;

/// The mutable state of one extraction.
pub(crate) struct Extractor<'c> {
    catalog: &'c Catalog,
    pub(crate) accesses: Vec<TableAccess>,
    /// The catalog entry of each access's table, for column lists and types.
    access_tables: Vec<&'c TableDef>,
    pub(crate) unresolved: Vec<String>,
    pub(crate) catalog_relations: usize,
    depth: usize,
    scopes: Vec<Scope>,
    ctes: Vec<CteBinding>,
    /// References per CTE definition, counted in this pass.
    pub(crate) cte_references: Vec<usize>,
    /// References per CTE definition from a previous pass: decides inlining.
    known_cte_references: Option<Vec<usize>>,
    origins: Vec<AccessOrigin>,
    views: Vec<QualifiedName>,
}

impl<'c> Extractor<'c> {
    pub(crate) fn new(catalog: &'c Catalog, known_cte_references: Option<Vec<usize>>) -> Self {
        Extractor {
            catalog,
            accesses: Vec::new(),
            access_tables: Vec::new(),
            unresolved: Vec::new(),
            catalog_relations: 0,
            depth: 0,
            scopes: Vec::new(),
            ctes: Vec::new(),
            cte_references: Vec::new(),
            known_cte_references,
            origins: vec![AccessOrigin::Statement],
            views: Vec::new(),
        }
    }

    fn enter(&mut self) -> Walk<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Abort::TooDeep)
        } else {
            Ok(())
        }
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}
