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

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, BinaryOperator, Distinct, Expr, FromTable, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, GroupByExpr, Ident, JoinConstraint, JoinOperator, LimitClause, LockType,
    NonBlock, ObjectName, OnConflictAction, OnInsert, OrderByExpr, OrderByKind, OrderBySort, Query,
    Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Statement, TableAlias,
    TableFactor, TableObject, TableWithJoins, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::catalog::{
    fold_identifier, fold_object_name, quote_identifier, Catalog, QualifiedName, Resolved, TableDef,
};
use super::shape::{
    AccessFlags, AccessNote, AccessOrigin, AccessRole, ConflictAction, ConflictTarget, IndexKey,
    JoinCondition, LockStrength, LockWait, NullsOrder, OnConflictShape, Operand, OrBranch, OrGroup,
    Predicate, PredicateOp, RowLock, SortDirection, SortKey, StatementKind, TableAccess,
};

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

/// Where a column of a range entry comes from.
#[derive(Debug, Clone, PartialEq)]
enum ColumnOrigin {
    /// A base-table column, or an expression over columns of one scan.
    Key { access: usize, key: IndexKey },
    /// Computed, aggregated, or behind a fence: no index can serve it.
    Opaque,
}

#[derive(Debug, Clone, PartialEq)]
struct ExportedColumn {
    name: String,
    origin: ColumnOrigin,
}

/// What a query (subquery, view, CTE) offers to the level that reads it.
#[derive(Debug, Clone, PartialEq, Default)]
struct DerivedOutput {
    columns: Vec<ExportedColumn>,
    /// `SELECT *` over a table whose columns the catalog does not list: any
    /// unknown name may belong to this scan.
    passthrough: Option<usize>,
    /// Scans PostgreSQL would pull up into the reading level.
    accesses: Vec<usize>,
    /// Outer predicates may be pushed down to the base tables.
    inlinable: bool,
}

#[derive(Debug, Clone)]
enum EntrySource {
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
struct RangeEntry {
    /// Alias, or the relation name as written (folded).
    name: String,
    /// The schema as written, for `schema.table.column` references.
    schema: Option<String>,
    source: EntrySource,
}

impl RangeEntry {
    fn accesses(&self) -> Vec<usize> {
        match &self.source {
            EntrySource::Base { access, .. } => vec![*access],
            EntrySource::Derived(output) if output.inlinable => output.accesses.clone(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Scope {
    entries: Vec<RangeEntry>,
}

/// A CTE name visible at this point of the walk.
#[derive(Debug, Clone)]
struct CteBinding {
    name: String,
    definition: usize,
    output: DerivedOutput,
    fenced: bool,
}

/// What scanning an expression found out about it.
#[derive(Debug, Clone, Default)]
struct ExprInfo {
    /// Scans whose columns the expression references, in order of appearance.
    accesses: Vec<usize>,
    /// The index key this expression is, if it is a column or an expression
    /// over the columns of exactly one scan.
    key: Option<(usize, IndexKey)>,
    /// Base columns referenced (for an expression key).
    columns: Vec<String>,
    /// Every column reference resolved to a plain base column.
    plain_columns_only: bool,
    has_parameter: bool,
    has_subquery: bool,
    has_aggregate: bool,
    /// References a column that is computed, fenced or unresolvable.
    has_opaque: bool,
    count_star: bool,
}

impl ExprInfo {
    fn leaf() -> Self {
        ExprInfo {
            plain_columns_only: true,
            ..ExprInfo::default()
        }
    }

    fn absorb(&mut self, child: ExprInfo) {
        for access in child.accesses {
            if !self.accesses.contains(&access) {
                self.accesses.push(access);
            }
        }
        for column in child.columns {
            if !self.columns.contains(&column) {
                self.columns.push(column);
            }
        }
        self.plain_columns_only &= child.plain_columns_only;
        self.has_parameter |= child.has_parameter;
        self.has_subquery |= child.has_subquery;
        self.has_aggregate |= child.has_aggregate;
        self.has_opaque |= child.has_opaque;
        self.count_star |= child.count_star;
    }

    fn references(&self, access: usize) -> bool {
        self.accesses.contains(&access)
    }
}

/// A fact derived from one predicate.
#[derive(Debug, Clone)]
enum Fact {
    Filter(usize, Predicate),
    Join {
        left: (usize, IndexKey),
        right: (usize, IndexKey),
        semi_join: bool,
    },
    Note(usize, AccessNote),
}

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "bit_and",
    "bit_or",
    "stddev",
    "variance",
    "percentile_cont",
    "percentile_disc",
    "mode",
];

/// System columns every table has, though catalogs rarely list them.
const SYSTEM_COLUMNS: &[&str] = &["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"];

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

    // ----- statements -------------------------------------------------------

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

    // ----- queries ----------------------------------------------------------

    fn query(&mut self, query: &Query) -> Walk<DerivedOutput> {
        self.enter()?;
        let visible_ctes = self.ctes.len();
        let result = self.query_inner(query);
        self.ctes.truncate(visible_ctes);
        self.leave();
        result
    }

    fn query_inner(&mut self, query: &Query) -> Walk<DerivedOutput> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.cte(cte, with.recursive)?;
            }
        }
        let modifiers = QueryModifiers {
            order_by: query.order_by.as_ref().and_then(|o| match &o.kind {
                OrderByKind::Expressions(exprs) => Some(exprs.as_slice()),
                OrderByKind::All(_) => None,
            }),
            limit: query.fetch.is_some()
                || matches!(
                    &query.limit_clause,
                    Some(LimitClause::LimitOffset { limit: Some(_), .. })
                )
                || matches!(
                    &query.limit_clause,
                    Some(LimitClause::OffsetCommaLimit { .. })
                ),
            offset: matches!(
                &query.limit_clause,
                Some(LimitClause::LimitOffset {
                    offset: Some(_),
                    ..
                })
            ) || matches!(
                &query.limit_clause,
                Some(LimitClause::OffsetCommaLimit { .. })
            ),
            locks: &query.locks,
        };
        match query.body.as_ref() {
            SetExpr::Select(select) => self.select(select, &modifiers),
            other => {
                let mut output = self.set_expr(other)?;
                if let Some(order_by) = modifiers.order_by {
                    // Sorting a set operation's result: read the keys, but no single scan delivers the order.
                    for item in order_by {
                        if !matches!(item.expr, Expr::Value(_)) {
                            self.scan(&item.expr)?;
                        }
                    }
                }
                if modifiers.limit || modifiers.offset || modifiers.order_by.is_some() {
                    output.inlinable = false;
                }
                Ok(output)
            }
        }
    }

    fn cte(&mut self, cte: &ast::Cte, recursive: bool) -> Walk<()> {
        let name = fold_identifier(&cte.alias.name);
        let definition = self.cte_references.len();
        self.cte_references.push(0);
        let explicit = cte.materialized.as_ref();
        let references = self
            .known_cte_references
            .as_ref()
            .and_then(|counts| counts.get(definition).copied())
            .unwrap_or(1);
        let data_modifying = !matches!(
            cte.query.body.as_ref(),
            SetExpr::Select(_)
                | SetExpr::Query(_)
                | SetExpr::SetOperation { .. }
                | SetExpr::Values(_)
        );
        let fenced = match explicit {
            Some(ast::CteAsMaterialized::Materialized) => true,
            Some(ast::CteAsMaterialized::NotMaterialized) => recursive || data_modifying,
            None => recursive || data_modifying || references > 1,
        };
        if recursive {
            // The recursive term refers to the CTE itself: make the name resolve, opaquely.
            self.ctes.push(CteBinding {
                name: name.clone(),
                definition,
                output: DerivedOutput::default(),
                fenced: true,
            });
        }
        self.origins.push(AccessOrigin::Cte {
            name: name.clone(),
            fenced,
        });
        let result = self.query(&cte.query);
        self.origins.pop();
        let mut output = result?;
        rename_columns(&mut output, Some(&cte.alias));
        if recursive {
            self.ctes.pop();
        }
        self.ctes.push(CteBinding {
            name,
            definition,
            output,
            fenced,
        });
        Ok(())
    }

    fn set_expr(&mut self, body: &SetExpr) -> Walk<DerivedOutput> {
        self.enter()?;
        let result = self.set_expr_inner(body);
        self.leave();
        result
    }

    fn set_expr_inner(&mut self, body: &SetExpr) -> Walk<DerivedOutput> {
        let no_modifiers = QueryModifiers::default();
        match body {
            SetExpr::Select(select) => self.select(select, &no_modifiers),
            SetExpr::Query(query) => self.query(query),
            SetExpr::SetOperation { left, right, .. } => {
                let left = self.set_expr(left)?;
                let right = self.set_expr(right)?;
                let mut accesses = left.accesses;
                accesses.extend(right.accesses);
                Ok(DerivedOutput {
                    columns: left
                        .columns
                        .into_iter()
                        .map(|c| ExportedColumn {
                            name: c.name,
                            origin: ColumnOrigin::Opaque,
                        })
                        .collect(),
                    passthrough: None,
                    accesses,
                    inlinable: false,
                })
            }
            SetExpr::Values(values) => {
                let mut width = 0;
                for row in &values.rows {
                    width = width.max(row.len());
                    for expr in row.iter() {
                        self.scan(expr)?;
                    }
                }
                Ok(DerivedOutput {
                    columns: (1..=width)
                        .map(|i| ExportedColumn {
                            name: format!("column{i}"),
                            origin: ColumnOrigin::Opaque,
                        })
                        .collect(),
                    ..DerivedOutput::default()
                })
            }
            SetExpr::Insert(statement)
            | SetExpr::Update(statement)
            | SetExpr::Delete(statement) => {
                self.statement(statement)?;
                Ok(DerivedOutput::default())
            }
            SetExpr::Table(table) => {
                let parts: Vec<String> = table
                    .schema_name
                    .iter()
                    .chain(table.table_name.iter())
                    .map(|p| p.to_ascii_lowercase())
                    .collect();
                self.scopes.push(Scope::default());
                let result =
                    self.relation_by_parts(&parts, &parts.join("."), None, AccessRole::Read);
                let scope = self.scopes.pop().unwrap_or_default();
                result?;
                let mut output = DerivedOutput::default();
                for entry in &scope.entries {
                    for access in entry.accesses() {
                        self.accesses[access].flags.select_star = true;
                    }
                    append_entry_columns(&mut output, entry);
                }
                Ok(output)
            }
            SetExpr::Merge(_) => Err(Abort::Unsupported("MERGE".into())),
        }
    }

    fn select(&mut self, select: &Select, modifiers: &QueryModifiers<'_>) -> Walk<DerivedOutput> {
        self.scopes.push(Scope::default());
        let result = self.select_in_scope(select, modifiers);
        self.scopes.pop();
        result
    }

    fn select_in_scope(
        &mut self,
        select: &Select,
        modifiers: &QueryModifiers<'_>,
    ) -> Walk<DerivedOutput> {
        for table in &select.from {
            self.table_with_joins(table, AccessRole::Read)?;
        }
        let level_accesses: Vec<usize> = self
            .current_entries()
            .iter()
            .flat_map(RangeEntry::accesses)
            .collect();
        // Select list: reads, `*`, count(*), and what this level exports.
        let mut output = DerivedOutput::default();
        let mut projection: Vec<(Option<String>, &Expr, ExprInfo)> = Vec::new();
        let mut has_aggregate = false;
        let mut count_star = false;
        for item in &select.projection {
            match item {
                SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                    let info = self.scan(expr)?;
                    has_aggregate |= info.has_aggregate;
                    count_star |= info.count_star;
                    let alias = match item {
                        SelectItem::ExprWithAlias { alias, .. } => Some(fold_identifier(alias)),
                        _ => None,
                    };
                    let name = alias.clone().unwrap_or_else(|| output_name(expr));
                    output.columns.push(ExportedColumn {
                        name,
                        origin: origin_of(&info),
                    });
                    projection.push((alias, expr, info));
                }
                SelectItem::ExprWithAliases { expr, .. } => {
                    self.scan(expr)?;
                }
                SelectItem::Wildcard(_) => {
                    for access in &level_accesses {
                        self.accesses[*access].flags.select_star = true;
                    }
                    for entry in self.current_entries().to_vec() {
                        append_entry_columns(&mut output, &entry);
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => {
                    let name = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(name) => fold_object_name(name),
                        SelectItemQualifiedWildcardKind::Expr(_) => None,
                    };
                    let entry = name
                        .as_deref()
                        .and_then(|parts| self.find_entry(parts).map(|(_, entry)| entry.clone()));
                    if let Some(entry) = entry {
                        for access in entry.accesses() {
                            self.accesses[access].flags.select_star = true;
                        }
                        append_entry_columns(&mut output, &entry);
                    }
                }
            }
        }

        if let Some(selection) = &select.selection {
            self.filter_conjuncts(selection, None)?;
        }

        let grouped;
        if let GroupByExpr::Expressions(exprs, _) = &select.group_by {
            grouped = !exprs.is_empty();
            let keys = self.level_keys(exprs.iter(), &projection)?;
            if let Some((access, keys)) = keys {
                self.accesses[access].group_by = keys;
            }
        } else {
            grouped = true;
        }
        if let Some(having) = &select.having {
            has_aggregate |= self.scan(having)?.has_aggregate;
        }
        let mut distinct = false;
        match &select.distinct {
            Some(Distinct::Distinct) => distinct = true,
            Some(Distinct::On(exprs)) => {
                distinct = true;
                if let Some((access, keys)) = self.level_keys(exprs.iter(), &projection)? {
                    self.accesses[access].distinct_on = keys;
                }
            }
            Some(Distinct::All) | None => {}
        }

        if let Some(order_by) = modifiers.order_by {
            let sort = self.sort_keys(order_by, &projection)?;
            if let Some((access, keys)) = sort {
                self.accesses[access].sort = keys;
            }
        }

        for access in &level_accesses {
            let flags: &mut AccessFlags = &mut self.accesses[*access].flags;
            flags.limit |= modifiers.limit;
            flags.offset |= modifiers.offset;
            flags.order_by |= modifiers.order_by.is_some();
            flags.distinct |= distinct;
            flags.count_star |= count_star;
        }
        self.row_locks(modifiers.locks, &level_accesses);

        output.accesses = level_accesses;
        output.inlinable = !(grouped
            || has_aggregate
            || distinct
            || modifiers.limit
            || modifiers.offset
            || !modifiers.locks.is_empty());
        Ok(output)
    }

    fn row_locks(&mut self, locks: &[ast::LockClause], level_accesses: &[usize]) {
        for lock in locks {
            let row_lock = RowLock {
                strength: match lock.lock_type {
                    LockType::Update => LockStrength::Update,
                    LockType::Share => LockStrength::Share,
                },
                wait: match lock.nonblock {
                    None => LockWait::Wait,
                    Some(NonBlock::Nowait) => LockWait::Nowait,
                    Some(NonBlock::SkipLocked) => LockWait::SkipLocked,
                },
            };
            let targets: Vec<usize> = match &lock.of {
                None => level_accesses.to_vec(),
                Some(name) => fold_object_name(name)
                    .and_then(|parts| self.find_entry(&parts).map(|(_, entry)| entry.accesses()))
                    .unwrap_or_default(),
            };
            for access in targets {
                self.accesses[access].row_lock = Some(row_lock.clone());
            }
        }
    }

    /// Resolves ORDER BY / GROUP BY items that name a select-list entry by
    /// position (`ORDER BY 1`) or by output name (`ORDER BY total`).
    fn level_item_info<'e>(
        &mut self,
        expr: &'e Expr,
        projection: &[(Option<String>, &'e Expr, ExprInfo)],
    ) -> Walk<ExprInfo> {
        if let Expr::Value(value) = expr {
            if let Value::Number(n, _) = &value.value {
                let position = n.parse::<usize>().ok().and_then(|p| p.checked_sub(1));
                return Ok(position
                    .and_then(|p| projection.get(p))
                    .map(|(_, _, info)| info.clone())
                    .unwrap_or_default());
            }
        }
        if let Expr::Identifier(ident) = expr {
            let name = fold_identifier(ident);
            if let Some((_, _, info)) = projection
                .iter()
                .find(|(alias, _, _)| alias.as_deref() == Some(name.as_str()))
            {
                return Ok(info.clone());
            }
        }
        self.scan(expr)
    }

    /// The keys of a GROUP BY / DISTINCT ON list, when all belong to one scan.
    fn level_keys<'e>(
        &mut self,
        exprs: impl Iterator<Item = &'e Expr>,
        projection: &[(Option<String>, &'e Expr, ExprInfo)],
    ) -> Walk<Option<(usize, Vec<IndexKey>)>> {
        let mut owner = None;
        let mut keys = Vec::new();
        let mut all_keys = true;
        for expr in exprs {
            let info = self.level_item_info(expr, projection)?;
            match info.key {
                Some((access, key)) if owner.is_none_or(|o| o == access) => {
                    owner = Some(access);
                    keys.push(key);
                }
                _ => all_keys = false,
            }
        }
        Ok(owner
            .filter(|_| all_keys && !keys.is_empty())
            .map(|o| (o, keys)))
    }

    fn sort_keys<'e>(
        &mut self,
        order_by: &'e [OrderByExpr],
        projection: &[(Option<String>, &'e Expr, ExprInfo)],
    ) -> Walk<Option<(usize, Vec<SortKey>)>> {
        let mut owner = None;
        let mut keys = Vec::new();
        let mut all_keys = true;
        for item in order_by {
            let info = self.level_item_info(&item.expr, projection)?;
            let direction = match item.options.sort {
                Some(OrderBySort::Desc) => SortDirection::Desc,
                Some(OrderBySort::Asc) | None => SortDirection::Asc,
                Some(OrderBySort::Using(_)) => {
                    all_keys = false;
                    SortDirection::Asc
                }
            };
            let nulls = match (item.options.nulls_first, direction) {
                (Some(true), _) | (None, SortDirection::Desc) => NullsOrder::First,
                (Some(false), _) | (None, SortDirection::Asc) => NullsOrder::Last,
            };
            match info.key {
                Some((access, key)) if owner.is_none_or(|o| o == access) => {
                    owner = Some(access);
                    keys.push(SortKey {
                        key,
                        direction,
                        nulls,
                    });
                }
                _ => all_keys = false,
            }
        }
        Ok(owner
            .filter(|_| all_keys && !keys.is_empty())
            .map(|o| (o, keys)))
    }

    // ----- FROM -------------------------------------------------------------

    fn current_entries(&self) -> &[RangeEntry] {
        self.scopes.last().map_or(&[], |s| s.entries.as_slice())
    }

    fn push_entry(&mut self, entry: RangeEntry) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.entries.push(entry);
        }
    }

    fn table_with_joins(&mut self, table: &TableWithJoins, role: AccessRole) -> Walk<()> {
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
                _ => continue,
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
                    let entry_name = alias
                        .as_ref()
                        .map(|a| fold_identifier(&a.name))
                        .or_else(|| fold_object_name(name).and_then(|p| p.last().cloned()))
                        .unwrap_or_default();
                    self.push_function_entry(entry_name, alias.as_ref());
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
                let entry_name = alias
                    .as_ref()
                    .map(|a| fold_identifier(&a.name))
                    .or_else(|| fold_object_name(name).and_then(|p| p.last().cloned()))
                    .unwrap_or_default();
                self.push_function_entry(entry_name, alias.as_ref());
                Ok(())
            }
            TableFactor::TableFunction { expr, alias } => {
                self.scan(expr)?;
                let entry_name = alias
                    .as_ref()
                    .map(|a| fold_identifier(&a.name))
                    .unwrap_or_default();
                self.push_function_entry(entry_name, alias.as_ref());
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
                let entry_name = alias
                    .as_ref()
                    .map(|a| fold_identifier(&a.name))
                    .unwrap_or_default();
                self.push_function_entry(entry_name, alias.as_ref());
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

    fn current_origin(&self) -> AccessOrigin {
        self.origins
            .last()
            .cloned()
            .unwrap_or(AccessOrigin::Statement)
    }

    /// Resolves a relation named in FROM (or UPDATE/DELETE targets): a CTE,
    /// a table, or a view (expanded through its definition).
    fn relation_by_parts(
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
                super::within_parse_limits(&view.definition).map_err(|e| {
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

    fn note_unresolved(&mut self, name: &ObjectName) {
        self.unresolved.push(name.to_string());
    }

    fn new_access(
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

    // ----- column resolution -------------------------------------------------

    /// Finds the range entry a qualifier names, innermost scope first.
    fn find_entry(&self, qualifier: &[String]) -> Option<(usize, &RangeEntry)> {
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

    fn resolve_column(&self, idents: &[Ident]) -> ColumnOrigin {
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

    // ----- expressions -------------------------------------------------------

    fn function_arg(&mut self, arg: &FunctionArg) -> Walk<ExprInfo> {
        let (FunctionArg::Named { arg, .. }
        | FunctionArg::ExprNamed { arg, .. }
        | FunctionArg::Unnamed(arg)) = arg;
        match arg {
            FunctionArgExpr::Expr(expr) => self.scan(expr),
            _ => Ok(ExprInfo::leaf()),
        }
    }

    fn subquery(&mut self, query: &Query) -> Walk<DerivedOutput> {
        self.origins.push(match self.current_origin() {
            AccessOrigin::Statement => AccessOrigin::Subquery,
            other => other,
        });
        let result = self.query(query);
        self.origins.pop();
        result
    }

    /// Walks an expression: marks the columns it reads, analyzes the
    /// subqueries inside it, and describes it (see [`ExprInfo`]).
    fn scan(&mut self, expr: &Expr) -> Walk<ExprInfo> {
        // AND/OR chains can be thousands of terms long; walk them iteratively.
        if let Expr::BinaryOp {
            op: BinaryOperator::And | BinaryOperator::Or,
            ..
        } = expr
        {
            let mut info = ExprInfo::leaf();
            info.plain_columns_only = false;
            for term in flatten_boolean(expr) {
                let child = self.scan(term)?;
                info.absorb(child);
            }
            return Ok(info);
        }
        self.enter()?;
        let result = self.scan_inner(expr);
        self.leave();
        let mut info = result?;
        if info.key.is_none() && !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            info.key = self.expression_key(expr, &info);
        }
        Ok(info)
    }

    fn scan_inner(&mut self, expr: &Expr) -> Walk<ExprInfo> {
        let mut info = ExprInfo::leaf();
        match expr {
            Expr::Identifier(ident) => {
                return Ok(self.column_reference(std::slice::from_ref(ident)))
            }
            Expr::CompoundIdentifier(idents) => return Ok(self.column_reference(idents)),
            Expr::Value(value) => {
                info.has_parameter = matches!(value.value, Value::Placeholder(_));
                return Ok(info);
            }
            Expr::Subquery(query)
            | Expr::Exists {
                subquery: query, ..
            } => {
                self.subquery(query)?;
                info.has_subquery = true;
                return Ok(info);
            }
            Expr::InSubquery { expr, subquery, .. } => {
                info.absorb(self.scan(expr)?);
                self.subquery(subquery)?;
                info.has_subquery = true;
                return Ok(info);
            }
            Expr::Function(function) => return self.function(function),
            _ => {}
        }
        for child in expr_children(expr) {
            let child_info = self.scan(child)?;
            info.absorb(child_info);
        }
        Ok(info)
    }

    fn function(&mut self, function: &Function) -> Walk<ExprInfo> {
        let mut info = ExprInfo::leaf();
        let name = fold_object_name(&function.name)
            .and_then(|p| p.last().cloned())
            .unwrap_or_default();
        match &function.args {
            FunctionArguments::List(list) => {
                if name == "count"
                    && matches!(
                        list.args.as_slice(),
                        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
                    )
                {
                    info.count_star = true;
                }
                for arg in &list.args {
                    let child = self.function_arg(arg)?;
                    info.absorb(child);
                }
            }
            FunctionArguments::Subquery(query) => {
                self.subquery(query)?;
                info.has_subquery = true;
            }
            FunctionArguments::None => {}
        }
        if let Some(filter) = &function.filter {
            let child = self.scan(filter)?;
            info.absorb(child);
        }
        for item in &function.within_group {
            let child = self.scan(&item.expr)?;
            info.absorb(child);
        }
        if let Some(ast::WindowType::WindowSpec(spec)) = &function.over {
            for expr in spec
                .partition_by
                .iter()
                .chain(spec.order_by.iter().map(|o| &o.expr))
            {
                let child = self.scan(expr)?;
                info.absorb(child);
            }
        }
        if AGGREGATES.contains(&name.as_str())
            || function.over.is_some()
            || !function.within_group.is_empty()
        {
            info.has_aggregate = true;
        }
        Ok(info)
    }

    fn column_reference(&mut self, idents: &[Ident]) -> ExprInfo {
        let mut info = ExprInfo::leaf();
        match self.resolve_column(idents) {
            ColumnOrigin::Key { access, key } => {
                match &key {
                    IndexKey::Column(column) => {
                        info.columns.push(column.clone());
                        self.mark_read(access, column);
                    }
                    IndexKey::Expression { columns, .. } => {
                        info.plain_columns_only = false;
                        info.columns.extend(columns.iter().cloned());
                        for column in columns {
                            self.mark_read(access, column);
                        }
                    }
                }
                info.accesses.push(access);
                info.key = Some((access, key));
            }
            ColumnOrigin::Opaque => {
                info.plain_columns_only = false;
                info.has_opaque = true;
            }
        }
        info
    }

    fn mark_read(&mut self, access: usize, column: &str) {
        if let Some(access) = self.accesses.get_mut(access) {
            if !access.columns_read.iter().any(|c| c == column) {
                access.columns_read.push(column.to_string());
            }
        }
    }

    /// An expression over the plain columns of one scan, without parameters,
    /// subqueries or aggregates, is something an expression index can store.
    fn expression_key(&self, expr: &Expr, info: &ExprInfo) -> Option<(usize, IndexKey)> {
        let [access] = info.accesses.as_slice() else {
            return None;
        };
        if !info.plain_columns_only
            || info.has_parameter
            || info.has_subquery
            || info.has_aggregate
            || info.has_opaque
            || info.columns.is_empty()
        {
            return None;
        }
        let mut canonical = strip_nested(expr).clone();
        let _ = ast::visit_expressions_mut(&mut canonical, |e| {
            let replacement = match e {
                Expr::Identifier(ident) => self.plain_column_name(std::slice::from_ref(ident)),
                Expr::CompoundIdentifier(idents) => self.plain_column_name(idents),
                Expr::Function(function) => {
                    canonicalize_function_name(function);
                    None
                }
                _ => None,
            };
            if let Some(name) = replacement {
                *e = Expr::Identifier(canonical_ident(&name));
            }
            ControlFlow::<()>::Continue(())
        });
        let sql = canonical.to_string();
        if sql.len() > super::MAX_EXPRESSION_KEY_BYTES {
            return None;
        }
        Some((
            *access,
            IndexKey::Expression {
                sql,
                columns: info.columns.clone(),
            },
        ))
    }

    fn plain_column_name(&self, idents: &[Ident]) -> Option<String> {
        match self.resolve_column(idents) {
            ColumnOrigin::Key {
                key: IndexKey::Column(name),
                ..
            } => Some(name),
            _ => None,
        }
    }

    fn select_item_reads(&mut self, item: &SelectItem) -> Walk<()> {
        match item {
            SelectItem::UnnamedExpr(expr)
            | SelectItem::ExprWithAlias { expr, .. }
            | SelectItem::ExprWithAliases { expr, .. } => {
                self.scan(expr)?;
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {}
        }
        Ok(())
    }

    // ----- predicates --------------------------------------------------------

    /// Files the top-level conjuncts of a WHERE/ON condition. `filterable`
    /// limits which scans single-table predicates may restrict (an outer
    /// join's ON clause does not filter the preserved side).
    fn filter_conjuncts(&mut self, condition: &Expr, filterable: Option<&[usize]>) -> Walk<()> {
        for conjunct in flatten(condition, BinaryOperator::And) {
            if let Expr::BinaryOp {
                op: BinaryOperator::Or,
                ..
            } = conjunct
            {
                self.or_group(conjunct, filterable)?;
                continue;
            }
            for fact in self.classify(conjunct)? {
                match &fact {
                    Fact::Filter(access, _) | Fact::Note(access, _)
                        if filterable.is_some_and(|allowed| !allowed.contains(access)) => {}
                    _ => self.apply(fact),
                }
            }
        }
        Ok(())
    }

    fn or_group(&mut self, disjunction: &Expr, filterable: Option<&[usize]>) -> Walk<()> {
        let mut branches: Vec<Vec<(usize, Predicate)>> = Vec::new();
        for branch in flatten(disjunction, BinaryOperator::Or) {
            let mut predicates = Vec::new();
            for conjunct in flatten(branch, BinaryOperator::And) {
                if matches!(
                    conjunct,
                    Expr::BinaryOp {
                        op: BinaryOperator::Or,
                        ..
                    }
                ) {
                    // A nested OR inside a branch: read it, but it is not a plain conjunction.
                    self.scan(conjunct)?;
                    continue;
                }
                for fact in self.classify(conjunct)? {
                    match fact {
                        Fact::Filter(access, predicate) => predicates.push((access, predicate)),
                        Fact::Note(access, note) => self.apply(Fact::Note(access, note)),
                        Fact::Join { .. } => {}
                    }
                }
            }
            branches.push(predicates);
        }
        let mut involved: Vec<usize> = Vec::new();
        for (access, _) in branches.iter().flatten() {
            if !involved.contains(access)
                && filterable.is_none_or(|allowed| allowed.contains(access))
            {
                involved.push(*access);
            }
        }
        for access in involved {
            let group = OrGroup {
                branches: branches
                    .iter()
                    .map(|branch| OrBranch {
                        predicates: branch
                            .iter()
                            .filter(|(a, _)| *a == access)
                            .map(|(_, p)| p.clone())
                            .collect(),
                    })
                    .collect(),
            };
            self.accesses[access].or_groups.push(group);
        }
        Ok(())
    }

    fn apply(&mut self, fact: Fact) {
        match fact {
            Fact::Filter(access, predicate) => {
                if let Some(access) = self.accesses.get_mut(access) {
                    access.filters.push(predicate);
                }
            }
            Fact::Note(access, note) => {
                if let Some(access) = self.accesses.get_mut(access) {
                    if !access.notes.contains(&note) {
                        access.notes.push(note);
                    }
                }
            }
            Fact::Join {
                left,
                right,
                semi_join,
            } => {
                let left_table = self.accesses[left.0].table.clone();
                let right_table = self.accesses[right.0].table.clone();
                self.accesses[left.0].joins.push(JoinCondition {
                    key: left.1.clone(),
                    other_table: right_table,
                    other_key: right.1.clone(),
                    semi_join,
                });
                self.accesses[right.0].joins.push(JoinCondition {
                    key: right.1,
                    other_table: left_table,
                    other_key: left.1,
                    semi_join,
                });
            }
        }
    }

    /// Turns one conjunct into facts. Every part of the conjunct is scanned
    /// exactly once, whether or not it yields a fact.
    fn classify(&mut self, conjunct: &Expr) -> Walk<Vec<Fact>> {
        self.enter()?;
        let result = self.classify_inner(strip_nested(conjunct));
        self.leave();
        result
    }

    fn classify_inner(&mut self, conjunct: &Expr) -> Walk<Vec<Fact>> {
        let expr = conjunct;
        let mut facts = Vec::new();
        match expr {
            Expr::BinaryOp { left, op, right } => {
                let left_info = self.scan(left)?;
                let right_info = self.scan(right)?;
                let Some(comparison) = comparison_op(op) else {
                    if let Some((access, key)) = &left_info.key {
                        if !right_info.references(*access) {
                            let operand = operand_for(right, &right_info);
                            facts.push(Fact::Filter(
                                *access,
                                Predicate {
                                    key: key.clone(),
                                    op: PredicateOp::Operator(op.to_string()),
                                    operand,
                                },
                            ));
                        }
                    }
                    return Ok(facts);
                };
                self.comparison_facts(left, &left_info, comparison, right, &right_info, &mut facts);
            }
            Expr::IsNotDistinctFrom(left, right) | Expr::IsDistinctFrom(left, right) => {
                let left_info = self.scan(left)?;
                let right_info = self.scan(right)?;
                let comparison = if matches!(expr, Expr::IsNotDistinctFrom(..)) {
                    Comparison::NotDistinct
                } else {
                    Comparison::Distinct
                };
                self.comparison_facts(left, &left_info, comparison, right, &right_info, &mut facts);
            }
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op,
                right,
            } => {
                let is_any = matches!(expr, Expr::AnyOp { .. });
                let left_info = self.scan(left)?;
                let inner = strip_nested(right);
                let (right_info, subquery_output) = match array_subquery(inner) {
                    Some(query) => {
                        let output = self.subquery(query)?;
                        let mut info = ExprInfo::leaf();
                        info.has_subquery = true;
                        (info, Some(output))
                    }
                    None => (self.scan(right)?, None),
                };
                if let Some((access, key)) = &left_info.key {
                    if !right_info.references(*access) {
                        let op = match (is_any, compare_op) {
                            (true, BinaryOperator::Eq) => PredicateOp::EqualAny,
                            (false, BinaryOperator::NotEq) => PredicateOp::NotEqual,
                            (true, op) => PredicateOp::Operator(format!("{op} ANY")),
                            (false, op) => PredicateOp::Operator(format!("{op} ALL")),
                        };
                        let operand = if subquery_output.is_some() {
                            Operand::Subquery
                        } else {
                            operand_for(right, &right_info)
                        };
                        let is_equal_any = op == PredicateOp::EqualAny;
                        facts.push(Fact::Filter(
                            *access,
                            Predicate {
                                key: key.clone(),
                                op,
                                operand,
                            },
                        ));
                        if is_equal_any {
                            if let Some(output) = &subquery_output {
                                facts.extend(semi_join(*access, key, output));
                            }
                        }
                    }
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let info = self.scan(expr)?;
                let mut list_info = ExprInfo::leaf();
                for item in list {
                    let child = self.scan(item)?;
                    list_info.absorb(child);
                }
                if let Some((access, key)) = info.key {
                    if !list_info.references(access) {
                        let items = list.len();
                        let op = if *negated {
                            PredicateOp::NotInList { items }
                        } else {
                            PredicateOp::InList { items }
                        };
                        facts.push(Fact::Filter(
                            access,
                            Predicate {
                                key,
                                op,
                                operand: Operand::List { items },
                            },
                        ));
                    }
                }
            }
            Expr::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let info = self.scan(expr)?;
                let output = self.subquery(subquery)?;
                if let Some((access, key)) = info.key {
                    let op = if *negated {
                        PredicateOp::NotInSubquery
                    } else {
                        PredicateOp::InSubquery
                    };
                    if !*negated {
                        facts.extend(semi_join(access, &key, &output));
                    }
                    facts.insert(
                        0,
                        Fact::Filter(
                            access,
                            Predicate {
                                key,
                                op,
                                operand: Operand::Subquery,
                            },
                        ),
                    );
                }
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let info = self.scan(expr)?;
                let mut bounds = self.scan(low)?;
                bounds.absorb(self.scan(high)?);
                if let Some((access, key)) = info.key {
                    if !bounds.references(access) {
                        let op = if *negated {
                            PredicateOp::NotBetween
                        } else {
                            PredicateOp::Between
                        };
                        facts.push(Fact::Filter(
                            access,
                            Predicate {
                                key,
                                op,
                                operand: Operand::Expression(format!("{low} AND {high}")),
                            },
                        ));
                    }
                }
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                any,
                ..
            }
            | Expr::ILike {
                negated,
                expr,
                pattern,
                any,
                ..
            } => {
                let is_ilike = matches!(conjunct, Expr::ILike { .. });
                let info = self.scan(expr)?;
                let pattern_info = self.scan(pattern)?;
                if let Some((access, key)) = info.key {
                    if !pattern_info.references(access) && !*any {
                        let op = like_op(is_ilike, *negated, pattern);
                        facts.push(Fact::Filter(
                            access,
                            Predicate {
                                key,
                                op,
                                operand: operand_for(pattern, &pattern_info),
                            },
                        ));
                    }
                }
            }
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
                let info = self.scan(inner)?;
                if let Some((access, key)) = info.key {
                    let op = if matches!(expr, Expr::IsNull(_)) {
                        PredicateOp::IsNull
                    } else {
                        PredicateOp::IsNotNull
                    };
                    facts.push(Fact::Filter(
                        access,
                        Predicate {
                            key,
                            op,
                            operand: Operand::None,
                        },
                    ));
                }
            }
            Expr::IsTrue(inner)
            | Expr::IsFalse(inner)
            | Expr::IsNotTrue(inner)
            | Expr::IsNotFalse(inner) => {
                let info = self.scan(inner)?;
                if let Some((access, key)) = info.key {
                    let op = match expr {
                        Expr::IsTrue(_) => PredicateOp::IsTrue,
                        Expr::IsFalse(_) => PredicateOp::IsFalse,
                        _ => PredicateOp::Negated,
                    };
                    facts.push(Fact::Filter(
                        access,
                        Predicate {
                            key,
                            op,
                            operand: Operand::None,
                        },
                    ));
                }
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            } => {
                let inner = strip_nested(inner);
                if matches!(inner, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                    let info = self.scan(inner)?;
                    if let Some((access, key)) = info.key {
                        facts.push(Fact::Filter(
                            access,
                            Predicate {
                                key,
                                op: PredicateOp::IsFalse,
                                operand: Operand::None,
                            },
                        ));
                    }
                } else {
                    for fact in self.classify(inner)? {
                        match fact {
                            Fact::Filter(access, predicate) => facts.push(Fact::Filter(
                                access,
                                Predicate {
                                    op: negate(&predicate.op),
                                    ..predicate
                                },
                            )),
                            Fact::Note(..) | Fact::Join { .. } => {}
                        }
                    }
                }
            }
            Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Function(_)
            | Expr::Cast { .. } => {
                // A bare boolean: `WHERE active`, `WHERE is_visible(t)`.
                let info = self.scan(expr)?;
                if let Some((access, key)) = info.key {
                    facts.push(Fact::Filter(
                        access,
                        Predicate {
                            key,
                            op: PredicateOp::IsTrue,
                            operand: Operand::None,
                        },
                    ));
                }
            }
            other => {
                self.scan(other)?;
            }
        }
        Ok(facts)
    }

    /// Facts for `left <op> right` where either side may be the indexed key.
    fn comparison_facts(
        &self,
        left: &Expr,
        left_info: &ExprInfo,
        comparison: Comparison,
        right: &Expr,
        right_info: &ExprInfo,
        facts: &mut Vec<Fact>,
    ) {
        if let (Some((a, left_key)), Some((b, right_key))) = (&left_info.key, &right_info.key) {
            if a == b {
                return;
            }
            if matches!(comparison, Comparison::Equal | Comparison::NotDistinct) {
                facts.push(Fact::Join {
                    left: (*a, left_key.clone()),
                    right: (*b, right_key.clone()),
                    semi_join: false,
                });
                return;
            }
        }
        if let Some((access, key)) = &left_info.key {
            if !right_info.references(*access) {
                facts.extend(self.comparison_fact(*access, key, comparison, right, right_info));
            }
        }
        if let Some((access, key)) = &right_info.key {
            if !left_info.references(*access) {
                facts.extend(self.comparison_fact(
                    *access,
                    key,
                    comparison.flipped(),
                    left,
                    left_info,
                ));
            }
        }
    }

    fn comparison_fact(
        &self,
        access: usize,
        key: &IndexKey,
        comparison: Comparison,
        other: &Expr,
        other_info: &ExprInfo,
    ) -> Vec<Fact> {
        let other = strip_nested(other);
        let boolean = match other {
            Expr::Value(v) => match v.value {
                Value::Boolean(b) => Some(b),
                _ => None,
            },
            _ => None,
        };
        let op = match (comparison, boolean) {
            (Comparison::Equal | Comparison::NotDistinct, Some(true)) => PredicateOp::IsTrue,
            (Comparison::Equal | Comparison::NotDistinct, Some(false)) => PredicateOp::IsFalse,
            (Comparison::Equal, None) => PredicateOp::Equal,
            (Comparison::NotDistinct, None) => PredicateOp::IsNotDistinctFrom,
            (Comparison::NotEqual, _) => PredicateOp::NotEqual,
            (Comparison::Distinct, _) => PredicateOp::IsDistinctFrom,
            (Comparison::Less, _) => PredicateOp::Less,
            (Comparison::LessOrEqual, _) => PredicateOp::LessOrEqual,
            (Comparison::Greater, _) => PredicateOp::Greater,
            (Comparison::GreaterOrEqual, _) => PredicateOp::GreaterOrEqual,
        };
        let operand = if boolean.is_some() {
            Operand::None
        } else {
            operand_for(other, other_info)
        };
        let mut facts = Vec::new();
        if let (
            IndexKey::Column(column),
            Operand::Parameter {
                cast: Some(cast), ..
            },
        ) = (key, &operand)
        {
            let column_type = self
                .access_tables
                .get(access)
                .and_then(|t| t.column(column))
                .and_then(|c| c.data_type.clone());
            if let Some(column_type) = column_type {
                if canonical_type(&column_type) != canonical_type(cast) {
                    facts.push(Fact::Note(
                        access,
                        AccessNote::ParameterCastMismatch {
                            column: column.clone(),
                            column_type,
                            cast_type: cast.clone(),
                        },
                    ));
                }
            }
        }
        facts.insert(
            0,
            Fact::Filter(
                access,
                Predicate {
                    key: key.clone(),
                    op,
                    operand,
                },
            ),
        );
        facts
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotDistinct,
    NotEqual,
    Distinct,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    /// The same comparison with its operands swapped (`$1 < col` is `col > $1`).
    fn flipped(self) -> Self {
        match self {
            Comparison::Less => Comparison::Greater,
            Comparison::LessOrEqual => Comparison::GreaterOrEqual,
            Comparison::Greater => Comparison::Less,
            Comparison::GreaterOrEqual => Comparison::LessOrEqual,
            other => other,
        }
    }
}

fn comparison_op(op: &BinaryOperator) -> Option<Comparison> {
    Some(match op {
        BinaryOperator::Eq => Comparison::Equal,
        BinaryOperator::NotEq => Comparison::NotEqual,
        BinaryOperator::Lt => Comparison::Less,
        BinaryOperator::LtEq => Comparison::LessOrEqual,
        BinaryOperator::Gt => Comparison::Greater,
        BinaryOperator::GtEq => Comparison::GreaterOrEqual,
        _ => return None,
    })
}

/// ORDER BY, LIMIT and locking clauses of the query a SELECT is the body of.
#[derive(Default)]
struct QueryModifiers<'q> {
    order_by: Option<&'q [OrderByExpr]>,
    limit: bool,
    offset: bool,
    locks: &'q [ast::LockClause],
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
            _ => return StatementKind::Select,
        }
    }
    StatementKind::Select
}

/// A short name for a statement sqlparser parsed but the extractor does not analyze.
pub(crate) fn statement_name(statement: &Statement) -> String {
    first_words(&statement.to_string())
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace()
        .take(2)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic()))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

fn strip_nested(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

/// The operands of a chain of `op` (AND or OR), parentheses removed, in
/// source order. Iterative so very long chains cannot exhaust the stack.
fn flatten(expr: &Expr, op: BinaryOperator) -> Vec<&Expr> {
    let mut terms = Vec::new();
    let mut pending = vec![expr];
    while let Some(next) = pending.pop() {
        match strip_nested(next) {
            Expr::BinaryOp { left, op: o, right } if *o == op => {
                pending.push(right);
                pending.push(left);
            }
            other => terms.push(other),
        }
    }
    terms
}

/// Operands of nested AND/OR chains of any mix, for scanning.
fn flatten_boolean(expr: &Expr) -> Vec<&Expr> {
    let mut terms = Vec::new();
    let mut pending = vec![expr];
    while let Some(next) = pending.pop() {
        match strip_nested(next) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And | BinaryOperator::Or,
                right,
            } => {
                pending.push(right);
                pending.push(left);
            }
            other => terms.push(other),
        }
    }
    terms
}

/// Direct sub-expressions of an expression, for the generic walk. Variants
/// PostgreSQL cannot produce are leaves.
fn expr_children(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::CompoundFieldAccess { root, access_chain } => {
            let mut children = vec![root.as_ref()];
            for access in access_chain {
                match access {
                    ast::AccessExpr::Dot(e) => children.push(e),
                    ast::AccessExpr::Subscript(ast::Subscript::Index { index }) => {
                        children.push(index)
                    }
                    ast::AccessExpr::Subscript(ast::Subscript::Slice {
                        lower_bound,
                        upper_bound,
                        stride,
                    }) => children.extend(lower_bound.iter().chain(upper_bound).chain(stride)),
                }
            }
            children
        }
        Expr::JsonAccess { value, .. } => vec![value],
        Expr::IsFalse(e)
        | Expr::IsNotFalse(e)
        | Expr::IsTrue(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e)
        | Expr::Nested(e)
        | Expr::OuterJoin(e)
        | Expr::Prior(e) => vec![e],
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => vec![a, b],
        Expr::IsJson { expr, .. } | Expr::IsNormalized { expr, .. } => vec![expr],
        Expr::InList { expr, list, .. } => std::iter::once(expr.as_ref()).chain(list).collect(),
        Expr::InUnnest {
            expr, array_expr, ..
        } => vec![expr, array_expr],
        Expr::Between {
            expr, low, high, ..
        } => vec![expr, low, high],
        Expr::BinaryOp { left, right, .. }
        | Expr::AnyOp { left, right, .. }
        | Expr::AllOp { left, right, .. } => {
            vec![left, right]
        }
        Expr::Like {
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::SimilarTo {
            expr,
            pattern,
            escape_char,
            ..
        } => std::iter::once(expr.as_ref())
            .chain(std::iter::once(pattern.as_ref()))
            .chain(escape_char.as_deref())
            .collect(),
        Expr::RLike { expr, pattern, .. } => vec![expr, pattern],
        Expr::UnaryOp { expr, .. }
        | Expr::Cast { expr, .. }
        | Expr::Extract { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Floor { expr, .. }
        | Expr::Collate { expr, .. }
        | Expr::Named { expr, .. } => vec![expr],
        Expr::Convert { expr, styles, .. } => {
            std::iter::once(expr.as_ref()).chain(styles).collect()
        }
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => vec![timestamp, time_zone],
        Expr::Position { expr, r#in } => vec![expr, r#in],
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => std::iter::once(expr.as_ref())
            .chain(substring_from.as_deref())
            .chain(substring_for.as_deref())
            .collect(),
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => std::iter::once(expr.as_ref())
            .chain(trim_what.as_deref())
            .chain(trim_characters.iter().flatten())
            .collect(),
        Expr::Overlay {
            expr,
            overlay_what,
            overlay_from,
            overlay_for,
        } => vec![expr.as_ref(), overlay_what, overlay_from]
            .into_iter()
            .chain(overlay_for.as_deref())
            .collect(),
        Expr::Prefixed { value, .. } => vec![value],
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => operand
            .as_deref()
            .into_iter()
            .chain(conditions.iter().flat_map(|c| [&c.condition, &c.result]))
            .chain(else_result.as_deref())
            .collect(),
        Expr::GroupingSets(sets) | Expr::Cube(sets) | Expr::Rollup(sets) => {
            sets.iter().flatten().collect()
        }
        Expr::Tuple(items) => items.iter().collect(),
        Expr::Array(array) => array.elem.iter().collect(),
        Expr::Interval(interval) => vec![&interval.value],
        _ => Vec::new(),
    }
}

/// `ARRAY(SELECT ...)` or a bare `(SELECT ...)` as the right side of `= ANY`.
fn array_subquery(expr: &Expr) -> Option<&Query> {
    match expr {
        Expr::Subquery(query) => Some(query),
        Expr::Function(function) => {
            let is_array = fold_object_name(&function.name).is_some_and(|p| p == ["array"]);
            match &function.args {
                FunctionArguments::Subquery(query) if is_array => Some(query),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The semi-join edge of `key IN (SELECT col ...)`.
fn semi_join(access: usize, key: &IndexKey, output: &DerivedOutput) -> Option<Fact> {
    match output.columns.as_slice() {
        [ExportedColumn {
            origin:
                ColumnOrigin::Key {
                    access: inner,
                    key: inner_key,
                },
            ..
        }] if *inner != access => Some(Fact::Join {
            left: (access, key.clone()),
            right: (*inner, inner_key.clone()),
            semi_join: true,
        }),
        _ => None,
    }
}

fn origin_of(info: &ExprInfo) -> ColumnOrigin {
    match &info.key {
        Some((access, key)) => ColumnOrigin::Key {
            access: *access,
            key: key.clone(),
        },
        None => ColumnOrigin::Opaque,
    }
}

fn origin_key(origin: ColumnOrigin) -> Option<(usize, IndexKey)> {
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
fn entry_column(entry: &RangeEntry, column: &str) -> Option<ColumnOrigin> {
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
fn append_entry_columns(output: &mut DerivedOutput, entry: &RangeEntry) {
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
fn rename_columns(output: &mut DerivedOutput, alias: Option<&TableAlias>) {
    if let Some(alias) = alias {
        for (column, renamed) in output.columns.iter_mut().zip(&alias.columns) {
            column.name = fold_identifier(&renamed.name);
        }
    }
}

/// The name PostgreSQL gives an unaliased select-list item.
fn output_name(expr: &Expr) -> String {
    match strip_nested(expr) {
        Expr::Identifier(ident) => fold_identifier(ident),
        Expr::CompoundIdentifier(idents) => idents.last().map(fold_identifier).unwrap_or_default(),
        Expr::Function(function) => fold_object_name(&function.name)
            .and_then(|p| p.last().cloned())
            .unwrap_or_default(),
        Expr::Cast { expr, .. } => output_name(expr),
        _ => "?column?".to_string(),
    }
}

/// The operand as the scan sees it: a value fixed for the whole scan, or one
/// that changes with another relation's row.
fn operand_for(expr: &Expr, info: &ExprInfo) -> Operand {
    if !info.accesses.is_empty() || info.has_opaque {
        Operand::OtherRelation(strip_nested(expr).to_string())
    } else {
        operand_of(expr)
    }
}

fn operand_of(expr: &Expr) -> Operand {
    match strip_nested(expr) {
        Expr::Value(value) => match &value.value {
            Value::Placeholder(p) => parameter(p, None),
            other => Operand::Literal(other.to_string()),
        },
        Expr::Cast {
            expr, data_type, ..
        } => match strip_nested(expr) {
            Expr::Value(value) => match &value.value {
                Value::Placeholder(p) => parameter(p, Some(data_type.to_string())),
                _ => Operand::Expression(strip_nested(expr).to_string()),
            },
            _ => Operand::Expression(format!("{}", strip_nested(expr))),
        },
        Expr::Subquery(_) => Operand::Subquery,
        other => Operand::Expression(other.to_string()),
    }
}

fn parameter(placeholder: &str, cast: Option<String>) -> Operand {
    match placeholder.trim_start_matches('$').parse::<u32>() {
        Ok(index) => Operand::Parameter { index, cast },
        Err(_) => Operand::Expression(placeholder.to_string()),
    }
}

fn negate(op: &PredicateOp) -> PredicateOp {
    match op {
        PredicateOp::Equal => PredicateOp::NotEqual,
        PredicateOp::NotEqual => PredicateOp::Equal,
        PredicateOp::InList { items } => PredicateOp::NotInList { items: *items },
        PredicateOp::InSubquery => PredicateOp::NotInSubquery,
        PredicateOp::Between => PredicateOp::NotBetween,
        PredicateOp::LikePrefix { .. }
        | PredicateOp::LeadingWildcardLike
        | PredicateOp::LikeParameter => PredicateOp::NotLike,
        PredicateOp::IsNull => PredicateOp::IsNotNull,
        PredicateOp::IsNotNull => PredicateOp::IsNull,
        PredicateOp::IsNotDistinctFrom => PredicateOp::IsDistinctFrom,
        _ => PredicateOp::Negated,
    }
}

fn like_op(case_insensitive: bool, negated: bool, pattern: &Expr) -> PredicateOp {
    if negated {
        return PredicateOp::NotLike;
    }
    let literal = match strip_nested(pattern) {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    if case_insensitive {
        return PredicateOp::ILike {
            pattern: pattern.to_string(),
        };
    }
    match literal {
        Some(pattern) => {
            let prefix = like_prefix(&pattern);
            if prefix.is_empty() && !pattern.is_empty() {
                PredicateOp::LeadingWildcardLike
            } else {
                PredicateOp::LikePrefix { prefix }
            }
        }
        None => PredicateOp::LikeParameter,
    }
}

/// The literal text before the first unescaped `%` or `_` of a LIKE pattern.
fn like_prefix(pattern: &str) -> String {
    let mut prefix = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => break,
            '\\' => match chars.next() {
                Some(escaped) => prefix.push(escaped),
                None => break,
            },
            other => prefix.push(other),
        }
    }
    prefix
}

/// A column name as canonical SQL: quoted only when it must be.
fn canonical_ident(name: &str) -> Ident {
    let quoted = quote_identifier(name);
    if quoted == name {
        Ident::new(name)
    } else {
        Ident::with_quote('"', name)
    }
}

/// Function names print as PostgreSQL stores them: folded, unqualified for
/// `pg_catalog`.
fn canonicalize_function_name(function: &mut Function) {
    let parts: Vec<ast::ObjectNamePart> = function
        .name
        .0
        .iter()
        .filter_map(|part| match part {
            ast::ObjectNamePart::Identifier(ident) => {
                let folded = fold_identifier(ident);
                (folded != "pg_catalog").then(|| {
                    let ident = if crate::ident::quote_function(&folded) == folded {
                        Ident::new(folded)
                    } else {
                        Ident::with_quote('"', folded)
                    };
                    ast::ObjectNamePart::Identifier(ident)
                })
            }
            other => Some(other.clone()),
        })
        .collect();
    function.name = ObjectName(parts);
}

/// Type names reduced to one spelling, so `int4` and `integer` compare equal.
fn canonical_type(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let base = match lower.find('(') {
        Some(i) => {
            let close = lower[i..].find(')').map_or(lower.len(), |j| i + j + 1);
            format!("{}{}", lower[..i].trim_end(), &lower[close..])
        }
        None => lower,
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    match base.as_str() {
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "float8" | "double precision" | "double" => "double precision",
        "float4" | "real" | "float" => "real",
        "bool" | "boolean" => "boolean",
        "varchar" | "character varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "decimal" | "numeric" => "numeric",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        other => return other.to_string(),
    }
    .to_string()
}
