//! Statements: SELECT, INSERT (with ON CONFLICT), UPDATE and DELETE, each
//! read into the scans it makes; and the names of those the walk skips.

use sqlparser::ast::{
    self, FromTable, ObjectName, OnConflictAction, OnInsert, Query, SetExpr, Statement, TableObject,
};

use super::scope::Scope;
use super::{Abort, Extractor, Walk, MAX_DEPTH};
use crate::analyze::queries::catalog::{fold_identifier, fold_object_name, Resolved};
use crate::analyze::queries::shape::{
    AccessRole, ConflictAction, ConflictTarget, OnConflictShape, StatementKind,
};

impl<'c> Extractor<'c> {
    pub(crate) fn statement(&mut self, statement: &Statement) -> Walk<StatementKind> {
        match statement {
            Statement::Query(query) => {
                self.query(query)?;
                Ok(query_kind(query))
            }
            Statement::Insert(insert) => {
                self.insert(insert)?;
                Ok(StatementKind::Insert)
            }
            Statement::Update(update) => {
                self.update(update)?;
                Ok(StatementKind::Update)
            }
            Statement::Delete(delete) => {
                self.delete(delete)?;
                Ok(StatementKind::Delete)
            }
            other => Err(Abort::Unsupported(statement_name(other))),
        }
    }

    fn insert(&mut self, insert: &ast::Insert) -> Walk<()> {
        let target = match &insert.table {
            TableObject::TableName(name) => self.target_table(name, None, AccessRole::InsertTarget),
            _ => return Err(Abort::Unsupported("INSERT into a table function".into())),
        };
        if let Some(source) = &insert.source {
            self.query(source)?;
        }
        if let (Some(access), Some(OnInsert::OnConflict(conflict))) = (target, &insert.on) {
            let target = match &conflict.conflict_target {
                None => ConflictTarget::Any,
                Some(ast::ConflictTarget::Columns(columns)) => {
                    ConflictTarget::Columns(columns.iter().map(fold_identifier).collect())
                }
                Some(ast::ConflictTarget::OnConstraint(name)) => ConflictTarget::Constraint(
                    fold_object_name(name)
                        .and_then(|p| p.last().cloned())
                        .unwrap_or_default(),
                ),
            };
            let action = match conflict.action {
                OnConflictAction::DoNothing => ConflictAction::DoNothing,
                OnConflictAction::DoUpdate(_) => ConflictAction::DoUpdate,
            };
            self.accesses[access].on_conflict = Some(OnConflictShape { target, action });
        }
        Ok(())
    }

    /// Registers the target of INSERT as an access of its own scope-less kind.
    fn target_table(
        &mut self,
        name: &ObjectName,
        alias: Option<String>,
        role: AccessRole,
    ) -> Option<usize> {
        let parts = fold_object_name(name)?;
        match self.catalog.resolve(&parts) {
            Resolved::Table(table) => Some(self.new_access(table, alias, role)),
            Resolved::SystemCatalog => {
                self.catalog_relations += 1;
                None
            }
            Resolved::View(_) | Resolved::Unknown => {
                self.note_unresolved(name);
                None
            }
        }
    }

    fn update(&mut self, update: &ast::Update) -> Walk<()> {
        self.scopes.push(Scope::default());
        let result = self.update_in_scope(update);
        self.scopes.pop();
        result
    }

    fn update_in_scope(&mut self, update: &ast::Update) -> Walk<()> {
        self.table_with_joins(&update.table, AccessRole::UpdateTarget)?;
        if let Some(from) = &update.from {
            let (ast::UpdateTableFromKind::BeforeSet(tables)
            | ast::UpdateTableFromKind::AfterSet(tables)) = from;
            for table in tables {
                self.table_with_joins(table, AccessRole::Read)?;
            }
        }
        for assignment in &update.assignments {
            self.scan(&assignment.value)?;
        }
        if let Some(selection) = &update.selection {
            self.filter_conjuncts(selection, None)?;
        }
        for item in update.returning.iter().flatten() {
            self.select_item_reads(item)?;
        }
        Ok(())
    }

    fn delete(&mut self, delete: &ast::Delete) -> Walk<()> {
        self.scopes.push(Scope::default());
        let result = self.delete_in_scope(delete);
        self.scopes.pop();
        result
    }

    fn delete_in_scope(&mut self, delete: &ast::Delete) -> Walk<()> {
        let (FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables)) = &delete.from;
        for (i, table) in tables.iter().enumerate() {
            let role = if i == 0 {
                AccessRole::DeleteTarget
            } else {
                AccessRole::Read
            };
            self.table_with_joins(table, role)?;
        }
        for table in delete.using.iter().flatten() {
            self.table_with_joins(table, AccessRole::Read)?;
        }
        if let Some(selection) = &delete.selection {
            self.filter_conjuncts(selection, None)?;
        }
        for item in delete.returning.iter().flatten() {
            self.select_item_reads(item)?;
        }
        Ok(())
    }
}

fn query_kind(query: &Query) -> StatementKind {
    let mut body = query.body.as_ref();
    // Bounded: a parenthesized body nests at most as deep as the parser allows.
    for _ in 0..MAX_DEPTH {
        match body {
            SetExpr::Insert(_) => return StatementKind::Insert,
            SetExpr::Update(_) => return StatementKind::Update,
            SetExpr::Delete(_) => return StatementKind::Delete,
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            // MERGE is refused by the walk before its kind is read.
            SetExpr::Select(_)
            | SetExpr::SetOperation { .. }
            | SetExpr::Values(_)
            | SetExpr::Table(_)
            | SetExpr::Merge(_) => return StatementKind::Select,
        }
    }
    StatementKind::Select
}

/// A short name for a statement sqlparser parsed but the extractor does not analyze.
pub(crate) fn statement_name(statement: &Statement) -> String {
    first_words(&statement.to_string())
}

pub(super) fn first_words(sql: &str) -> String {
    sql.split_whitespace()
        .take(2)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic()))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}
