//! Queries: WITH lists (CTEs), set operations, and one SELECT level with its
//! select list, GROUP BY, ORDER BY, LIMIT and row locks.

use sqlparser::ast::{
    self, Distinct, Expr, GroupByExpr, LimitClause, LockType, NonBlock, OrderByExpr, OrderByKind,
    OrderBySort, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Value,
};

use super::expressions::{output_name, strip_nested, ExprInfo};
use super::scope::{
    append_entry_columns, origin_of, rename_columns, ColumnOrigin, CteBinding, DerivedOutput,
    ExportedColumn, RangeEntry, Scope,
};
use super::{Abort, Extractor, Walk};
use crate::analyze::queries::catalog::{fold_identifier, fold_object_name};
use crate::analyze::queries::shape::{
    AccessFlags, AccessOrigin, AccessRole, DistanceOrder, IndexKey, LockStrength, LockWait,
    NullsOrder, RowLock, SortDirection, SortKey,
};

/// ORDER BY, LIMIT and locking clauses of the query a SELECT is the body of.
#[derive(Default)]
struct QueryModifiers<'q> {
    order_by: Option<&'q [OrderByExpr]>,
    limit: bool,
    offset: bool,
    locks: &'q [ast::LockClause],
}

impl<'c> Extractor<'c> {
    pub(super) fn query(&mut self, query: &Query) -> Walk<DerivedOutput> {
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
            if let Some((access, distance)) = self.distance_order(order_by, &projection)? {
                self.accesses[access].order_by_distance = Some(distance);
            }
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

    /// `ORDER BY key <-> value` as the first item, the key one scan's and
    /// the value free of its columns.
    fn distance_order<'e>(
        &mut self,
        order_by: &'e [OrderByExpr],
        projection: &[(Option<String>, &'e Expr, ExprInfo)],
    ) -> Walk<Option<(usize, DistanceOrder)>> {
        let Some(first) = order_by.first() else {
            return Ok(None);
        };
        let Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::LtDashGt,
            right,
        } = strip_nested(&first.expr)
        else {
            return Ok(None);
        };
        if matches!(
            first.options.sort,
            Some(OrderBySort::Desc | OrderBySort::Using(_))
        ) {
            return Ok(None);
        }
        let value = self.scan(right)?;
        if !value.accesses.is_empty() || value.has_subquery || value.has_aggregate {
            return Ok(None);
        }
        let key = self.level_item_info(left, projection)?.key;
        Ok(key.map(|(access, key)| {
            (
                access,
                DistanceOrder {
                    key,
                    operator: "<->".to_string(),
                },
            )
        }))
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
}
