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
    AccessFlags, AccessNote, AccessOrigin, AccessRole, ConflictAction, ConflictTarget,
    DistanceOrder, IndexKey, JoinCondition, LockStrength, LockWait, NullsOrder, OnConflictShape,
    Operand, OrBranch, OrGroup, Predicate, PredicateClass, PredicateOp, QueryShape, RowLock,
    SkipReason, SortDirection, SortKey, StatementKind, TableAccess,
};

use extract::{Abort, Extractor, MAX_DEPTH};
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Most operators (symbols, casts, subscripts, word operators such as `IS`
/// or `AT TIME ZONE`) one statement may hold. The parser builds operator
/// chains without a depth limit, and dropping or walking a chain recurses
/// once per link (130,000 casts overflowed the 8 MiB main thread of a debug
/// build); real queries stay far below this.
pub const MAX_OPERATORS: usize = 5_000;

/// Longest statement text analyzed, in bytes. The parser's tree can take
/// hundreds of times the text's size; pg_stat_statements texts of real
/// queries stay far below this, even with long `IN ($1, ...)` lists.
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// Most tokens (words, symbols, literals, parameters) one statement may
/// hold: bounds the parser's memory for texts under [`MAX_STATEMENT_BYTES`]
/// made of short tokens (`(a).f.f...`, `IN (1,2,...)`). 65,535 parameters,
/// the protocol's limit, fit with their commas.
pub const MAX_TOKENS: usize = 150_000;

/// Longest expression an index key may be (`lower(email)`); anything longer
/// is not something to put in an index definition.
pub const MAX_EXPRESSION_KEY_BYTES: usize = 256;

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

/// Whether a statement text is a utility statement (`ANALYZE`, `CREATE
/// INDEX`, `VACUUM`, `SET`, ...) rather than a query: it leads with one of
/// their keywords. Texts too large to check are not called utility.
pub fn is_utility_statement(sql: &str) -> bool {
    text_within_size(sql).is_ok()
        && normalize::summarize(sql)
            .leading_keyword
            .is_some_and(|k| UTILITY_KEYWORDS.contains(&k.as_str()))
}

/// Extracts the shape of one statement as pg_stat_statements records it.
///
/// Never panics: anything the extractor cannot follow becomes a [`SkipReason`].
pub fn analyze_statement(sql: &str, catalog: &Catalog) -> Result<QueryShape, SkipReason> {
    // Before anything else reads the text: even tokenizing a text of many
    // megabytes takes memory in proportion.
    text_within_size(sql).map_err(SkipReason::TooLarge)?;
    if has_pgadvise_tag(sql) {
        return Err(SkipReason::PgadviseStatement);
    }
    let summary = normalize::summarize(sql);
    let Some(keyword) = summary.leading_keyword.clone() else {
        return Err(SkipReason::Empty);
    };
    if UTILITY_KEYWORDS.contains(&keyword.as_str()) {
        return Err(SkipReason::UtilityStatement(keyword));
    }
    tokens_within_limits(&summary).map_err(SkipReason::TooLarge)?;
    analyze_within_limits(sql, catalog)
}

/// [`analyze_statement`] past the checks on the raw text: parses and walks
/// whatever it is given.
fn analyze_within_limits(sql: &str, catalog: &Catalog) -> Result<QueryShape, SkipReason> {
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

/// Whether the parser may be given `sql`: its size, then what it would build
/// (see [`MAX_STATEMENT_BYTES`], [`MAX_TOKENS`], [`MAX_OPERATORS`]). The
/// error says which limit and by how much.
pub(crate) fn within_parse_limits(sql: &str) -> Result<(), String> {
    text_within_size(sql)?;
    tokens_within_limits(&normalize::summarize(sql))
}

fn text_within_size(sql: &str) -> Result<(), String> {
    if sql.len() > MAX_STATEMENT_BYTES {
        return Err(format!(
            "{} bytes of text (limit {MAX_STATEMENT_BYTES})",
            sql.len()
        ));
    }
    Ok(())
}

fn tokens_within_limits(summary: &normalize::TextSummary) -> Result<(), String> {
    if summary.token_count > MAX_TOKENS {
        return Err(format!(
            "{} tokens (limit {MAX_TOKENS})",
            summary.token_count
        ));
    }
    if summary.operator_count > MAX_OPERATORS {
        return Err(format!(
            "{} operators (limit {MAX_OPERATORS})",
            summary.operator_count
        ));
    }
    Ok(())
}

fn abort_reason(abort: Abort) -> SkipReason {
    match abort {
        Abort::TooDeep => {
            SkipReason::Unsupported(format!("nesting deeper than {MAX_DEPTH} levels"))
        }
        Abort::Unsupported(what) => SkipReason::Unsupported(what),
    }
}
