//! FROM: joins, tables, views, subqueries, functions and CTE references
//! become range entries, and every base table read becomes a scan.

use sqlparser::ast::{
    JoinConstraint, JoinOperator, ObjectName, Statement, TableAlias, TableFactor, TableWithJoins,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::predicates::Fact;
use super::scope::{entry_column, origin_key, rename_columns, EntrySource, RangeEntry};
use super::statements::first_words;
use super::{Abort, Extractor, Walk};
use crate::analyze::queries::catalog::{fold_identifier, fold_object_name, Resolved, TableDef};
use crate::analyze::queries::shape::{AccessFlags, AccessOrigin, AccessRole, TableAccess};

impl<'c> Extractor<'c> {
    pub(super) fn current_entries(&self) -> &[RangeEntry] {
        self.scopes.last().map_or(&[], |s| s.entries.as_slice())
    }

    fn push_entry(&mut self, entry: RangeEntry) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.entries.push(entry);
        }
    }

    pub(super) fn table_with_joins(
        &mut self,
        table: &TableWithJoins,
        role: AccessRole,
    ) -> Walk<()> {
        self.table_factor(&table.relation, role)?;
        for join in &table.joins {
            let left_accesses: Vec<usize> = self
                .current_entries()
                .iter()
                .flat_map(RangeEntry::accesses)
                .collect();
            let before = self.current_entries().len();
            self.table_factor(&join.relation, AccessRole::Read)?;
            let right_accesses: Vec<usize> = self.current_entries()[before..]
                .iter()
                .flat_map(RangeEntry::accesses)
                .collect();
            let (constraint, filterable) = match &join.join_operator {
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => {
                    (c, Some(right_accesses.clone()))
                }
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => {
                    (c, Some(left_accesses.clone()))
                }
                JoinOperator::FullOuter(c) => (c, Some(Vec::new())),
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::CrossJoin(c)
                | JoinOperator::Semi(c)
                | JoinOperator::LeftSemi(c)
                | JoinOperator::RightSemi(c)
                | JoinOperator::Anti(c)
                | JoinOperator::LeftAnti(c)
                | JoinOperator::RightAnti(c)
                | JoinOperator::StraightJoin(c) => (c, None),
                JoinOperator::AsOf { constraint, .. } => (constraint, None),
                // No join condition to read: SQL Server's APPLY and
                // ClickHouse's ARRAY JOIN (the PostgreSQL dialect parses neither).
                JoinOperator::CrossApply
                | JoinOperator::OuterApply
                | JoinOperator::ArrayJoin
                | JoinOperator::LeftArrayJoin
                | JoinOperator::InnerArrayJoin => continue,
            };
            match constraint {
                JoinConstraint::On(expr) => self.filter_conjuncts(expr, filterable.as_deref())?,
                JoinConstraint::Using(columns) => self.join_using(columns, before),
                JoinConstraint::Natural | JoinConstraint::None => {}
            }
        }
        Ok(())
    }

    /// `JOIN b USING (x)`: `x` of the new entry equals `x` of the entry to its left that has it.
    fn join_using(&mut self, columns: &[ObjectName], right_start: usize) {
        for column in columns {
            let Some(name) = fold_object_name(column).and_then(|p| p.last().cloned()) else {
                continue;
            };
            let entries = self.current_entries();
            let right = entries[right_start..]
                .iter()
                .find_map(|e| entry_column(e, &name).and_then(origin_key));
            let left = entries[..right_start]
                .iter()
                .rev()
                .find_map(|e| entry_column(e, &name).and_then(origin_key));
            if let (Some(left), Some(right)) = (left, right) {
                self.apply(Fact::Join {
                    left,
                    right,
                    semi_join: false,
                });
            }
        }
    }

    fn table_factor(&mut self, factor: &TableFactor, role: AccessRole) -> Walk<()> {
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if let Some(args) = args {
                    // `FROM f(...)` in the table position: a function, not a relation.
                    for arg in &args.args {
                        self.function_arg(arg)?;
                    }
                    self.push_function_entry(
                        function_entry_name(alias.as_ref(), Some(name)),
                        alias.as_ref(),
                    );
                    return Ok(());
                }
                let Some(parts) = fold_object_name(name) else {
                    return Err(Abort::Unsupported(format!("relation name {name}")));
                };
                self.relation_by_parts(&parts, &name.to_string(), alias.as_ref(), role)
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                self.origins.push(self.current_origin());
                let result = self.query(subquery);
                self.origins.pop();
                let mut output = result?;
                rename_columns(&mut output, alias.as_ref());
                self.push_entry(RangeEntry {
                    name: alias
                        .as_ref()
                        .map(|a| fold_identifier(&a.name))
                        .unwrap_or_default(),
                    schema: None,
                    source: EntrySource::Derived(output),
                });
                Ok(())
            }
            TableFactor::Function {
                name, args, alias, ..
            } => {
                for arg in args {
                    self.function_arg(arg)?;
                }
                self.push_function_entry(
                    function_entry_name(alias.as_ref(), Some(name)),
                    alias.as_ref(),
                );
                Ok(())
            }
            TableFactor::TableFunction { expr, alias } => {
                self.scan(expr)?;
                self.push_function_entry(function_entry_name(alias.as_ref(), None), alias.as_ref());
                Ok(())
            }
            TableFactor::UNNEST {
                alias, array_exprs, ..
            } => {
                for expr in array_exprs {
                    self.scan(expr)?;
                }
                let entry_name = alias
                    .as_ref()
                    .map(|a| fold_identifier(&a.name))
                    .unwrap_or_else(|| "unnest".to_string());
                self.push_function_entry(entry_name, alias.as_ref());
                Ok(())
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.enter()?;
                let result = self.table_with_joins(table_with_joins, role);
                self.leave();
                result
            }
            TableFactor::JsonTable {
                json_expr, alias, ..
            } => {
                self.scan(json_expr)?;
                self.push_function_entry(function_entry_name(alias.as_ref(), None), alias.as_ref());
                Ok(())
            }
            other => Err(Abort::Unsupported(format!(
                "FROM item {}",
                first_words(&other.to_string())
            ))),
        }
    }

    fn push_function_entry(&mut self, name: String, alias: Option<&TableAlias>) {
        let columns = alias
            .map(|a| a.columns.iter().map(|c| fold_identifier(&c.name)).collect())
            .unwrap_or_default();
        self.push_entry(RangeEntry {
            name,
            schema: None,
            source: EntrySource::Function { columns },
        });
    }

    pub(super) fn current_origin(&self) -> AccessOrigin {
        self.origins
            .last()
            .cloned()
            .unwrap_or(AccessOrigin::Statement)
    }

    /// Resolves a relation named in FROM (or UPDATE/DELETE targets): a CTE,
    /// a table, or a view (expanded through its definition).
    pub(super) fn relation_by_parts(
        &mut self,
        parts: &[String],
        written: &str,
        alias: Option<&TableAlias>,
        role: AccessRole,
    ) -> Walk<()> {
        let entry_name = alias
            .map(|a| fold_identifier(&a.name))
            .or_else(|| parts.last().cloned())
            .unwrap_or_default();
        let schema = if alias.is_none() && parts.len() >= 2 {
            parts.get(parts.len() - 2).cloned()
        } else {
            None
        };
        if let [name] = parts {
            if let Some(binding) = self.ctes.iter().rev().find(|b| &b.name == name).cloned() {
                if let Some(count) = self.cte_references.get_mut(binding.definition) {
                    *count += 1;
                }
                let mut output = binding.output;
                output.inlinable &= !binding.fenced;
                rename_columns(&mut output, alias);
                self.push_entry(RangeEntry {
                    name: entry_name,
                    schema: None,
                    source: EntrySource::Derived(output),
                });
                return Ok(());
            }
        }
        match self.catalog.resolve(parts) {
            Resolved::Table(table) => {
                let alias_name = alias.map(|a| fold_identifier(&a.name));
                let access = self.new_access(table, alias_name, role);
                let mut columns: Vec<String> =
                    table.columns.iter().map(|c| c.name.clone()).collect();
                if let Some(alias) = alias {
                    for (column, renamed) in columns.iter_mut().zip(&alias.columns) {
                        *column = fold_identifier(&renamed.name);
                    }
                }
                self.push_entry(RangeEntry {
                    name: entry_name,
                    schema,
                    source: EntrySource::Base { access, columns },
                });
            }
            Resolved::View(view) => {
                if self.views.contains(&view.name) {
                    return Err(Abort::Unsupported(format!(
                        "view {} defined through itself",
                        view.name
                    )));
                }
                // The definition comes from the snapshot like the statements do.
                crate::analyze::queries::within_parse_limits(&view.definition).map_err(|e| {
                    Abort::Unsupported(format!("definition of view {}: {e}", view.name))
                })?;
                let statements = Parser::parse_sql(&PostgreSqlDialect {}, &view.definition)
                    .map_err(|e| {
                        Abort::Unsupported(format!("definition of view {}: {e}", view.name))
                    })?;
                let Some(Statement::Query(definition)) = statements.first() else {
                    return Err(Abort::Unsupported(format!(
                        "definition of view {}",
                        view.name
                    )));
                };
                self.views.push(view.name.clone());
                let result = self.query(definition);
                self.views.pop();
                let mut output = result?;
                for (column, name) in output.columns.iter_mut().zip(&view.columns) {
                    column.name = name.clone();
                }
                rename_columns(&mut output, alias);
                self.push_entry(RangeEntry {
                    name: entry_name,
                    schema,
                    source: EntrySource::Derived(output),
                });
            }
            Resolved::SystemCatalog => {
                self.catalog_relations += 1;
                self.push_function_entry(entry_name, alias);
            }
            Resolved::Unknown => {
                self.unresolved.push(written.to_string());
                self.push_function_entry(entry_name, alias);
            }
        }
        Ok(())
    }

    pub(super) fn note_unresolved(&mut self, name: &ObjectName) {
        self.unresolved.push(name.to_string());
    }

    pub(super) fn new_access(
        &mut self,
        table: &'c TableDef,
        alias: Option<String>,
        role: AccessRole,
    ) -> usize {
        let owner = self.catalog.index_owner(table);
        let referenced_as = if owner.name != table.name {
            Some(table.name.clone())
        } else {
            self.views.first().cloned()
        };
        self.accesses.push(TableAccess {
            table: owner.name.clone(),
            referenced_as,
            via_views: self.views.clone(),
            alias,
            role,
            origin: self.current_origin(),
            filters: Vec::new(),
            or_groups: Vec::new(),
            joins: Vec::new(),
            sort: Vec::new(),
            order_by_distance: None,
            group_by: Vec::new(),
            distinct_on: Vec::new(),
            columns_read: Vec::new(),
            flags: AccessFlags::default(),
            row_lock: None,
            on_conflict: None,
            notes: Vec::new(),
        });
        self.access_tables.push(table);
        self.accesses.len() - 1
    }
}

/// The name a function in FROM is referred to by: its alias, else the
/// function's own (unqualified) name, else none.
fn function_entry_name(alias: Option<&TableAlias>, function: Option<&ObjectName>) -> String {
    alias
        .map(|a| fold_identifier(&a.name))
        .or_else(|| {
            function
                .and_then(fold_object_name)
                .and_then(|p| p.last().cloned())
        })
        .unwrap_or_default()
}
