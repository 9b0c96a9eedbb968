//! Query-shape extraction: from one pg_stat_statements text to the per-table
//! facts the index advisor works from (equality, range and sort columns,
//! joins, limits, locks), or a stated reason to skip it.
//!
//! Pure: no I/O. The caller builds a [`Catalog`] from the snapshot.

mod catalog;
mod extract;
mod normalize;
mod shape;

#[cfg(test)]
mod tests;

pub use catalog::{
    fold_identifier, quote_identifier, Catalog, ColumnDef, QualifiedName, Relation, TableDef,
    TableKind, ViewDef,
};
pub use normalize::{has_pgadvise_tag, normalize_statement, split_statements};
// verify reads statement texts with the same lexer (parameters, `;`, comments).
pub(crate) use normalize::{tokenize, Token, TokenKind};
pub use shape::{
    AccessFlags, AccessNote, AccessOrigin, AccessRole, ConflictAction, ConflictTarget, IndexKey,
    JoinCondition, LockStrength, LockWait, NullsOrder, OnConflictShape, Operand, OrBranch, OrGroup,
    Predicate, PredicateClass, PredicateOp, QueryShape, RowLock, SkipReason, SortDirection,
    SortKey, StatementKind, TableAccess,
};

use extract::{Abort, Extractor, MAX_DEPTH};
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Most operators one statement may hold. The parser builds operator chains
/// without a depth limit and overflows the stack on very long ones (around
/// 50,000 terms on a 2 MiB thread); real queries stay far below this.
const MAX_OPERATORS: usize = 5_000;

/// Leading keywords of statements that are not queries. Checked before
/// parsing so an unparseable utility statement is reported as what it is.
const UTILITY_KEYWORDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYZE",
    "ANALYSE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "IMPORT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SET",
    "SHOW",
    "START",
    "TRUNCATE",
    "UNLISTEN",
    "VACUUM",
];

/// Extracts the shape of one statement as pg_stat_statements records it.
///
/// Never panics: anything the extractor cannot follow becomes a [`SkipReason`].
pub fn analyze_statement(sql: &str, catalog: &Catalog) -> Result<QueryShape, SkipReason> {
    if has_pgadvise_tag(sql) {
        return Err(SkipReason::PgadviseStatement);
    }
    let summary = normalize::summarize(sql);
    let Some(keyword) = summary.leading_keyword else {
        return Err(SkipReason::Empty);
    };
    if UTILITY_KEYWORDS.contains(&keyword.as_str()) {
        return Err(SkipReason::UtilityStatement(keyword));
    }
    if summary.operator_count > MAX_OPERATORS {
        return Err(SkipReason::Unsupported(format!(
            "{} operators (limit {MAX_OPERATORS})",
            summary.operator_count
        )));
    }
    let (parseable, weak_locks) = normalize::parser_compatible(&normalize_statement(sql));
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &parseable)
        .map_err(|e| SkipReason::ParseError(e.to_string()))?;
    let statement = match statements.as_slice() {
        [] => return Err(SkipReason::Empty),
        [statement] => statement,
        many => return Err(SkipReason::MultipleStatements(many.len())),
    };
    if !matches!(
        statement,
        Statement::Query(_) | Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)
    ) {
        return Err(match statement {
            Statement::Merge { .. } => SkipReason::Unsupported("MERGE".into()),
            other => SkipReason::UtilityStatement(extract::statement_name(other)),
        });
    }

    // Whether a CTE is inlined depends on how often it is referenced, which
    // is only known after a walk; a second walk then uses the counts.
    let mut extractor = Extractor::new(catalog, None);
    let mut kind = extractor.statement(statement).map_err(abort_reason)?;
    if !extractor.cte_references.is_empty() {
        let counts = std::mem::take(&mut extractor.cte_references);
        extractor = Extractor::new(catalog, Some(counts));
        kind = extractor.statement(statement).map_err(abort_reason)?;
    }

    if extractor.accesses.is_empty() {
        return Err(if !extractor.unresolved.is_empty() {
            SkipReason::UnknownRelation(extractor.unresolved)
        } else if extractor.catalog_relations > 0 {
            SkipReason::OnlyCatalogRelations
        } else {
            SkipReason::NoTables
        });
    }
    let mut accesses = extractor.accesses;
    for lock in accesses.iter_mut().filter_map(|a| a.row_lock.as_mut()) {
        lock.strength = match lock.strength {
            LockStrength::Update if weak_locks.no_key_update => LockStrength::NoKeyUpdate,
            LockStrength::Share if weak_locks.key_share => LockStrength::KeyShare,
            other => other,
        };
    }
    Ok(QueryShape {
        kind,
        accesses,
        unresolved_relations: extractor.unresolved,
    })
}

fn abort_reason(abort: Abort) -> SkipReason {
    match abort {
        Abort::TooDeep => {
            SkipReason::Unsupported(format!("nesting deeper than {MAX_DEPTH} levels"))
        }
        Abort::Unsupported(what) => SkipReason::Unsupported(what),
    }
}
