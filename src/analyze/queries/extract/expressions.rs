//! Expressions: the generic walk over sub-expressions, function calls and
//! column references, and what an expression is as an index key.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    ObjectName, Query, SelectItem, Value,
};

use super::predicates::flatten_boolean;
use super::scope::{ColumnOrigin, DerivedOutput};
use super::{Extractor, Walk};
use crate::analyze::queries::catalog::{fold_identifier, fold_object_name, quote_identifier};
use crate::analyze::queries::shape::{AccessOrigin, IndexKey};

/// What scanning an expression found out about it.
#[derive(Debug, Clone, Default)]
pub(super) struct ExprInfo {
    /// Scans whose columns the expression references, in order of appearance.
    pub(super) accesses: Vec<usize>,
    /// The index key this expression is, if it is a column or an expression
    /// over the columns of exactly one scan.
    pub(super) key: Option<(usize, IndexKey)>,
    /// Base columns referenced (for an expression key).
    pub(super) columns: Vec<String>,
    /// Every column reference resolved to a plain base column.
    pub(super) plain_columns_only: bool,
    pub(super) has_parameter: bool,
    pub(super) has_subquery: bool,
    pub(super) has_aggregate: bool,
    /// References a column that is computed, fenced or unresolvable.
    pub(super) has_opaque: bool,
    pub(super) count_star: bool,
}

impl ExprInfo {
    pub(super) fn leaf() -> Self {
        ExprInfo {
            plain_columns_only: true,
            ..ExprInfo::default()
        }
    }

    pub(super) fn absorb(&mut self, child: ExprInfo) {
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

    pub(super) fn references(&self, access: usize) -> bool {
        self.accesses.contains(&access)
    }
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

impl<'c> Extractor<'c> {
    pub(super) fn function_arg(&mut self, arg: &FunctionArg) -> Walk<ExprInfo> {
        let (FunctionArg::Named { arg, .. }
        | FunctionArg::ExprNamed { arg, .. }
        | FunctionArg::Unnamed(arg)) = arg;
        match arg {
            FunctionArgExpr::Expr(expr) => self.scan(expr),
            // `count(*)`, `f(t.*)`: no column of their own to read.
            FunctionArgExpr::Wildcard
            | FunctionArgExpr::QualifiedWildcard(_)
            | FunctionArgExpr::WildcardWithOptions(_) => Ok(ExprInfo::leaf()),
        }
    }

    pub(super) fn subquery(&mut self, query: &Query) -> Walk<DerivedOutput> {
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
    pub(super) fn scan(&mut self, expr: &Expr) -> Walk<ExprInfo> {
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
        match &function.over {
            Some(ast::WindowType::WindowSpec(spec)) => {
                for expr in spec
                    .partition_by
                    .iter()
                    .chain(spec.order_by.iter().map(|o| &o.expr))
                {
                    let child = self.scan(expr)?;
                    info.absorb(child);
                }
            }
            // `OVER w`: its PARTITION BY and ORDER BY are in the SELECT's
            // WINDOW clause, which the walk does not read.
            Some(ast::WindowType::NamedWindow(_)) | None => {}
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
        if sql.len() > crate::analyze::queries::MAX_EXPRESSION_KEY_BYTES {
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

    pub(super) fn select_item_reads(&mut self, item: &SelectItem) -> Walk<()> {
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
}

pub(super) fn strip_nested(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

/// Direct sub-expressions of an expression, for the generic walk. Variants
/// PostgreSQL cannot produce are leaves. Every variant is listed, so a new
/// one in sqlparser must be decided here.
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
        // Read by `scan_inner` itself before the generic walk: column
        // references, parameters and literals, subqueries, function calls.
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Value(_)
        | Expr::Subquery(_)
        | Expr::Exists { .. }
        | Expr::InSubquery { .. }
        | Expr::Function(_) => Vec::new(),
        // Leaves: a typed literal (`DATE '...'`) and `*` reference no column.
        Expr::TypedString(_) | Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => Vec::new(),
        // Other dialects' syntax (BigQuery structs, DuckDB maps and
        // dictionaries, MySQL MATCH and MEMBER OF, lambdas): the PostgreSQL
        // dialect never produces them.
        Expr::Struct { .. }
        | Expr::Dictionary(_)
        | Expr::Map(_)
        | Expr::MatchAgainst { .. }
        | Expr::MemberOf(_)
        | Expr::Lambda(_) => Vec::new(),
    }
}

/// `ARRAY(SELECT ...)` or a bare `(SELECT ...)` as the right side of `= ANY`.
pub(super) fn array_subquery(expr: &Expr) -> Option<&Query> {
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

/// The name PostgreSQL gives an unaliased select-list item.
pub(super) fn output_name(expr: &Expr) -> String {
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
pub(super) fn canonical_type(name: &str) -> String {
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
