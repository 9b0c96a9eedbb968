//! The extractor's output: per base-table access, the facts an index advisor
//! needs (which columns are filtered how, the sort it could avoid, the row
//! limit it could stop at). Every list keeps source order so the output is
//! deterministic and diffs well.

use serde::Serialize;

use super::catalog::QualifiedName;

/// Why a statement produced no shape. Each variant reads as a reason a person
/// can act on (or safely ignore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum SkipReason {
    #[error("empty statement")]
    Empty,
    #[error("parse error: {0}")]
    ParseError(String),
    #[error("utility statement ({0}), not a query")]
    UtilityStatement(String),
    #[error("issued by pgadvise itself")]
    PgadviseStatement,
    #[error("{0} statements in one text; only single statements are analyzed")]
    MultipleStatements(usize),
    #[error("unsupported construct: {0}")]
    Unsupported(String),
    /// Beyond the limits that keep one statement's analysis small and its
    /// stack bounded (size of the text, tokens, operators).
    #[error("too large to analyze: {0}")]
    TooLarge(String),
    #[error("reads only system catalog relations")]
    OnlyCatalogRelations,
    #[error("reads no tables")]
    NoTables,
    #[error("no relation resolves in the catalog: {}", .0.join(", "))]
    UnknownRelation(Vec<String>),
}

impl SkipReason {
    /// A short label for the kind of reason, for summaries and counts (the
    /// full reason carries details such as the parser's message).
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::ParseError(_) => "unparseable",
            SkipReason::UtilityStatement(_) => "utility statement",
            SkipReason::PgadviseStatement => "pgadvise's own",
            SkipReason::MultipleStatements(_) => "multiple statements",
            SkipReason::Unsupported(_) => "unsupported construct",
            SkipReason::TooLarge(_) => "too large",
            SkipReason::OnlyCatalogRelations => "system catalogs only",
            SkipReason::NoTables => "no tables",
            SkipReason::UnknownRelation(_) => "unknown relation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatementKind {
    Select,
    Insert,
    Update,
    Delete,
}

/// A statement reduced to its table accesses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryShape {
    pub kind: StatementKind,
    /// One entry per scan of a base table, in the order the scans appear.
    /// A table read twice (self-join, subquery) appears twice.
    pub accesses: Vec<TableAccess>,
    /// Relation names that did not resolve (temporary tables, dropped tables,
    /// a stale catalog); the accesses that did resolve are still reported.
    pub unresolved_relations: Vec<String>,
}

/// Why the table is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AccessRole {
    Read,
    /// Rows are appended; only `ON CONFLICT` makes this an index lookup.
    InsertTarget,
    UpdateTarget,
    DeleteTarget,
}

/// Where in the statement the scan happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AccessOrigin {
    /// The statement's own FROM (or a UNION branch of it, or an inlined
    /// subquery/view/CTE of it).
    Statement,
    /// A subquery in an expression (WHERE, select list, `ARRAY(...)`, EXISTS).
    Subquery,
    /// Inside a CTE. `fenced` CTEs (MATERIALIZED, or referenced more than once)
    /// are computed once on their own: outer predicates do not reach them.
    Cte { name: String, fenced: bool },
}

/// One scan of one base table and everything the statement asks of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableAccess {
    /// The table an index would be created on (the parent for a partition).
    pub table: QualifiedName,
    /// The relation as named in the query when that differs from `table`
    /// (a partition named directly, or the outermost view it was reached through).
    pub referenced_as: Option<QualifiedName>,
    /// Views expanded to reach this table, outermost first.
    pub via_views: Vec<QualifiedName>,
    /// The alias in the query, when one was given.
    pub alias: Option<String>,
    pub role: AccessRole,
    pub origin: AccessOrigin,
    /// Predicates ANDed at the top of WHERE/ON: every returned row satisfies all of them.
    pub filters: Vec<Predicate>,
    /// OR groups at the top of WHERE: each row satisfies at least one branch.
    pub or_groups: Vec<OrGroup>,
    /// Equi-join conditions with another access.
    pub joins: Vec<JoinCondition>,
    /// ORDER BY keys, only when every key is a column/expression of this table.
    pub sort: Vec<SortKey>,
    /// `ORDER BY key <-> value`: a distance from a value the query gives, which
    /// only an index whose class has the ordering operator (GiST
    /// `gist_trgm_ops`) returns in order (k-nearest neighbours).
    pub order_by_distance: Option<DistanceOrder>,
    /// GROUP BY keys, only when every key belongs to this table.
    pub group_by: Vec<IndexKey>,
    /// DISTINCT ON keys, only when every key belongs to this table.
    pub distinct_on: Vec<IndexKey>,
    /// Columns of this table the statement reads anywhere: what a covering
    /// (INCLUDE) index would need. Deterministic first-use order, clause by
    /// clause: join conditions, select list (SET list), WHERE, GROUP BY,
    /// HAVING, ORDER BY.
    pub columns_read: Vec<String>,
    pub flags: AccessFlags,
    pub row_lock: Option<RowLock>,
    pub on_conflict: Option<OnConflictShape>,
    pub notes: Vec<AccessNote>,
}

/// Yes/no facts about the query level that scans the table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessFlags {
    pub limit: bool,
    pub offset: bool,
    /// The query level has an ORDER BY (even when its keys span tables).
    pub order_by: bool,
    pub distinct: bool,
    pub select_star: bool,
    pub count_star: bool,
}

/// `FOR UPDATE` / `FOR SHARE` on the rows of this table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowLock {
    pub strength: LockStrength,
    pub wait: LockWait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LockStrength {
    Update,
    NoKeyUpdate,
    Share,
    KeyShare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LockWait {
    Wait,
    Nowait,
    SkipLocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnConflictShape {
    pub target: ConflictTarget,
    pub action: ConflictAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ConflictTarget {
    /// No target: any unique violation.
    Any,
    Columns(Vec<String>),
    Constraint(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConflictAction {
    DoNothing,
    DoUpdate,
}

/// What an index would be built on: a plain column, or an expression over
/// columns of the same table (an expression index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum IndexKey {
    Column(String),
    /// `sql` is canonical: unquoted identifiers folded, table qualifiers
    /// dropped, printed by sqlparser (so keywords and type names are upper case).
    Expression {
        sql: String,
        columns: Vec<String>,
    },
}

impl IndexKey {
    pub fn column(name: &str) -> Self {
        IndexKey::Column(name.to_string())
    }
}

/// One condition on one key of one access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicate {
    pub key: IndexKey,
    pub op: PredicateOp,
    pub operand: Operand,
}

impl Predicate {
    pub fn class(&self) -> PredicateClass {
        self.op.class()
    }
}

/// How an index could use a predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PredicateClass {
    /// Leading index columns: `=`, IN, `= ANY`.
    Equality,
    /// The column after the equalities: `<`, BETWEEN, `LIKE 'prefix%'`.
    Range,
    /// IS [NOT] NULL: fits a partial index predicate or an index column.
    Null,
    /// A boolean column tested for true/false: fits a partial index predicate.
    Boolean,
    /// Cannot tell from the text (`LIKE $1`), or needs a non-btree index (`@>`).
    Other,
    /// A btree cannot help (`<>`, `NOT IN`, `LIKE '%x'`, ILIKE): for anti-pattern rules.
    NonIndexable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PredicateOp {
    Equal,
    IsNotDistinctFrom,
    InList {
        items: usize,
    },
    /// `= ANY(array)`: a parameter array or `ARRAY(subquery)`.
    EqualAny,
    InSubquery,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Between,
    /// `LIKE 'abc%'`: a btree range on the prefix (with `text_pattern_ops` or C collation).
    LikePrefix {
        prefix: String,
    },
    /// `LIKE $1`: the pattern is only known at run time.
    LikeParameter,
    IsNull,
    IsNotNull,
    IsTrue,
    IsFalse,
    /// Another operator (`@>`, `&&`, `~`, `@@`), printed as written.
    Operator(String),
    NotEqual,
    IsDistinctFrom,
    NotInList {
        items: usize,
    },
    NotInSubquery,
    NotBetween,
    /// `LIKE '%x'` / `LIKE '_x'`.
    LeadingWildcardLike,
    NotLike,
    /// ILIKE of any pattern: a plain btree cannot serve it.
    ILike {
        pattern: String,
    },
    /// `IS NOT TRUE`, `IS NOT FALSE`, or `NOT (...)` over a comparison.
    Negated,
}

impl PredicateOp {
    pub fn class(&self) -> PredicateClass {
        use PredicateOp::*;
        match self {
            Equal | IsNotDistinctFrom | InList { .. } | EqualAny | InSubquery => {
                PredicateClass::Equality
            }
            Less | LessOrEqual | Greater | GreaterOrEqual | Between | LikePrefix { .. } => {
                PredicateClass::Range
            }
            IsNull | IsNotNull => PredicateClass::Null,
            IsTrue | IsFalse => PredicateClass::Boolean,
            LikeParameter | Operator(_) => PredicateClass::Other,
            NotEqual
            | IsDistinctFrom
            | NotInList { .. }
            | NotInSubquery
            | NotBetween
            | LeadingWildcardLike
            | NotLike
            | ILike { .. }
            | Negated => PredicateClass::NonIndexable,
        }
    }
}

/// The other side of a predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Operand {
    /// Nothing: IS NULL, boolean tests.
    None,
    /// `$n`, with the explicit cast written on it, if any (`$1::date` → `DATE`).
    Parameter {
        index: u32,
        cast: Option<String>,
    },
    /// A constant as written (`42`, `'x'`, `TRUE`).
    Literal(String),
    /// IN lists: how many items and whether all are parameters/constants.
    List {
        items: usize,
    },
    Subquery,
    /// Depends on a row of another relation: a join or correlated condition
    /// that is not a plain equi-join (`o.created_at > u.created_at`, or a column
    /// of a relation the catalog does not know), in SQL as written.
    OtherRelation(String),
    /// Any other value fixed for the whole scan, as sqlparser prints it
    /// (`now() - $1::INTERVAL`). An index can use it like a parameter.
    Expression(String),
}

/// `key = other.column`: an equi-join edge seen from this access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinCondition {
    pub key: IndexKey,
    pub other_table: QualifiedName,
    pub other_key: IndexKey,
    /// `IN (subquery)` / `= ANY(ARRAY(subquery))` rather than a join or correlated equality.
    pub semi_join: bool,
}

/// At least one branch holds for each row. An index per branch (BitmapOr)
/// serves it only if every branch has a usable predicate on this table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrGroup {
    pub branches: Vec<OrBranch>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrBranch {
    /// This table's predicates ANDed in the branch; empty when the branch
    /// constrains only other tables or nothing recognisable.
    pub predicates: Vec<Predicate>,
}

/// One ORDER BY item `key <op> value`, where `value` is a parameter or constant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistanceOrder {
    pub key: IndexKey,
    /// The ordering operator as the catalog names it (`<->`).
    pub operator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SortKey {
    pub key: IndexKey,
    pub direction: SortDirection,
    /// Effective order: PostgreSQL's default is NULLS LAST for ASC, NULLS FIRST for DESC.
    pub nulls: NullsOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NullsOrder {
    First,
    Last,
}

/// Observations that do not fit a predicate but matter to later rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AccessNote {
    /// A column compared to a parameter cast to a type other than the column's:
    /// PostgreSQL may cast the column instead and lose the index.
    ParameterCastMismatch {
        column: String,
        column_type: String,
        cast_type: String,
    },
}
