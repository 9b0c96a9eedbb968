//! Predicates: WHERE, ON and HAVING conditions split into conjuncts and OR
//! groups, each classified into a filter on one scan, a join edge between
//! two, or a note (a predicate no index can serve).

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use super::expressions::{array_subquery, canonical_type, strip_nested, ExprInfo};
use super::scope::{ColumnOrigin, DerivedOutput, ExportedColumn};
use super::{Extractor, Walk};
use crate::analyze::queries::shape::{
    AccessNote, IndexKey, JoinCondition, Operand, OrBranch, OrGroup, Predicate, PredicateOp,
};

/// A fact derived from one predicate.
#[derive(Debug, Clone)]
pub(super) enum Fact {
    Filter(usize, Predicate),
    Join {
        left: (usize, IndexKey),
        right: (usize, IndexKey),
        semi_join: bool,
    },
    Note(usize, AccessNote),
}

impl<'c> Extractor<'c> {
    /// Files the top-level conjuncts of a WHERE/ON condition. `filterable`
    /// limits which scans single-table predicates may restrict (an outer
    /// join's ON clause does not filter the preserved side).
    pub(super) fn filter_conjuncts(
        &mut self,
        condition: &Expr,
        filterable: Option<&[usize]>,
    ) -> Walk<()> {
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

    pub(super) fn apply(&mut self, fact: Fact) {
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
pub(super) fn flatten_boolean(expr: &Expr) -> Vec<&Expr> {
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
