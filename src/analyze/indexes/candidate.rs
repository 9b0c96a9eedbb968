//! From one table access of one statement to the btree index that would serve
//! it: equality columns first, then the ORDER BY keys or one range column, and
//! a partial `WHERE` from the IS [NOT] NULL / boolean predicates every row of
//! the statement satisfies.

use super::method::AccessMethod;
use crate::analyze::queries::{
    AccessRole, IndexKey, NullsOrder, Predicate, PredicateClass, PredicateOp, SortDirection,
    TableAccess,
};
use crate::snapshot::{QualifiedName, Table};
use serde::Serialize;

/// System columns no index is proposed on (`ctid = ANY(...)` batch deletes).
const SYSTEM_COLUMNS: &[&str] = &["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"];

/// One key of a proposed index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CandidateKey {
    /// A column name, or an expression in canonical SQL.
    pub key: KeyTarget,
    pub descending: bool,
    /// NULLS FIRST when ascending / NULLS LAST when descending: the non-default order.
    pub nulls_reversed: bool,
    /// The operator class when it is not the default one for the key's type
    /// (`jsonb_path_ops`, `gin_trgm_ops`, `text_pattern_ops`).
    pub opclass: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum KeyTarget {
    Column(String),
    Expression(String),
}

/// A partial-index predicate that every query of the index implies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum PartialPredicate {
    IsNull(String),
    IsNotNull(String),
    IsTrue(String),
    IsFalse(String),
}

impl PartialPredicate {
    pub fn column(&self) -> &str {
        match self {
            PartialPredicate::IsNull(c)
            | PartialPredicate::IsNotNull(c)
            | PartialPredicate::IsTrue(c)
            | PartialPredicate::IsFalse(c) => c,
        }
    }
}

/// What kind of column follows the equalities: decides how candidates merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum KeyRole {
    Equality,
    Sort,
    Range,
}

/// An index that would serve one access, before merging and verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessIndex {
    pub table: QualifiedName,
    pub keys: Vec<CandidateKey>,
    pub roles: Vec<KeyRole>,
    /// Predicates, sorted so equal sets compare equal.
    pub predicates: Vec<PartialPredicate>,
    /// INCLUDE columns: what else the statement reads, so an index-only scan
    /// needs no heap (see [`covering_form`]).
    pub include: Vec<String>,
    pub method: AccessMethod,
    /// BRIN's `pages_per_range` storage parameter, stated explicitly.
    pub pages_per_range: Option<u32>,
}

/// The indexes that would serve `access`: one for its ANDed filters, or, when
/// those give nothing to index, one per branch of an OR (the planner combines
/// them with a BitmapOr). `table` gives the column list (names that are not
/// columns are ignored).
///
/// `database_collation` (`pg_database.datcollate`) decides whether a prefix
/// `LIKE` needs a `*_pattern_ops` class (see [`pattern_opclass`]).
pub fn indexes_for_access(
    access: &TableAccess,
    table: &Table,
    database_collation: Option<&str>,
) -> Vec<AccessIndex> {
    if access.role == AccessRole::InsertTarget {
        return Vec::new();
    }
    if let Some(index) = index_for_filters(access, &access.filters, table, database_collation) {
        return vec![index];
    }
    let mut per_branch = Vec::new();
    for group in &access.or_groups {
        let branches: Vec<Option<AccessIndex>> = group
            .branches
            .iter()
            .map(|b| {
                let mut filters = access.filters.clone();
                filters.extend(b.predicates.iter().cloned());
                index_for_filters(access, &filters, table, database_collation)
            })
            .collect();
        // A BitmapOr needs every branch indexed; one unindexed branch means a scan anyway.
        if branches.iter().all(Option::is_some) {
            per_branch.extend(branches.into_iter().flatten());
        }
    }
    per_branch
}

/// The index for one set of ANDed predicates of `access`.
fn index_for_filters(
    access: &TableAccess,
    filters: &[Predicate],
    table: &Table,
    database_collation: Option<&str>,
) -> Option<AccessIndex> {
    let is_column = |name: &str| {
        !SYSTEM_COLUMNS.contains(&name) && table.columns.iter().any(|c| c.name == name)
    };
    let usable = |key: &IndexKey| match key {
        IndexKey::Column(c) => is_column(c),
        IndexKey::Expression { columns, .. } => {
            !columns.is_empty() && columns.iter().all(|c| is_column(c))
        }
    };
    let target = |key: &IndexKey| match key {
        IndexKey::Column(c) => KeyTarget::Column(c.clone()),
        IndexKey::Expression { sql, .. } => KeyTarget::Expression(sql.clone()),
    };
    let fixed_value = |p: &Predicate| {
        !matches!(
            p.operand,
            crate::analyze::queries::Operand::OtherRelation(_)
        )
    };

    // Equality columns, most distinct first: the index narrows fastest and
    // shares its leading column with more of the table's queries.
    let mut equality: Vec<&Predicate> = filters
        .iter()
        .filter(|p| p.class() == PredicateClass::Equality && usable(&p.key) && fixed_value(p))
        .collect();
    equality.sort_by(|a, b| {
        distinct_rank(table, &b.key)
            .partial_cmp(&distinct_rank(table, &a.key))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| key_text(&a.key).cmp(key_text(&b.key)))
    });
    let mut keys: Vec<CandidateKey> = Vec::new();
    let mut roles = Vec::new();
    for p in equality {
        let key = CandidateKey {
            key: target(&p.key),
            descending: false,
            nulls_reversed: false,
            opclass: None,
        };
        if !keys.iter().any(|k| k.key == key.key) {
            keys.push(key);
            roles.push(KeyRole::Equality);
        }
    }

    // Then the sort keys (they save the sort and let LIMIT stop early), or
    // else one range column: a btree can use only one inequality after the
    // equalities.
    let sort_usable = !access.sort.is_empty() && access.sort.iter().all(|s| usable(&s.key));
    if sort_usable {
        for s in &access.sort {
            let t = target(&s.key);
            if keys.iter().any(|k| k.key == t) {
                continue;
            }
            let descending = s.direction == SortDirection::Desc;
            let default_nulls = if descending {
                NullsOrder::First
            } else {
                NullsOrder::Last
            };
            keys.push(CandidateKey {
                key: t,
                descending,
                nulls_reversed: s.nulls != default_nulls,
                opclass: None,
            });
            roles.push(KeyRole::Sort);
        }
    } else if let Some(range) = filters
        .iter()
        .find(|p| p.class() == PredicateClass::Range && usable(&p.key) && fixed_value(p))
    {
        let t = target(&range.key);
        let opclass = match (&range.op, &range.key) {
            (PredicateOp::LikePrefix { .. }, IndexKey::Column(column)) => {
                pattern_opclass(table, column, database_collation)
            }
            _ => None,
        };
        if !keys.iter().any(|k| k.key == t) {
            keys.push(CandidateKey {
                key: t,
                descending: false,
                nulls_reversed: false,
                opclass,
            });
            roles.push(KeyRole::Range);
        }
    }
    if keys.is_empty() {
        return None;
    }

    let mut predicates: Vec<PartialPredicate> = filters
        .iter()
        .filter_map(|p| {
            let IndexKey::Column(column) = &p.key else {
                return None;
            };
            if !is_column(column)
                || keys
                    .iter()
                    .any(|k| k.key == KeyTarget::Column(column.clone()))
            {
                return None;
            }
            match p.op {
                PredicateOp::IsNull => Some(PartialPredicate::IsNull(column.clone())),
                PredicateOp::IsNotNull => Some(PartialPredicate::IsNotNull(column.clone())),
                PredicateOp::IsTrue => Some(PartialPredicate::IsTrue(column.clone())),
                PredicateOp::IsFalse => Some(PartialPredicate::IsFalse(column.clone())),
                _ => None,
            }
        })
        .collect();
    predicates.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    predicates.dedup();

    Some(AccessIndex {
        table: access.table.clone(),
        keys,
        roles,
        predicates,
        include: Vec::new(),
        method: AccessMethod::Btree,
        pages_per_range: None,
    })
}

/// Collations that compare strings byte by byte: under them a plain btree
/// serves `LIKE 'prefix%'`.
const BYTEWISE_COLLATIONS: &[&str] = &["C", "POSIX", "ucs_basic"];

/// The operator class a btree needs to serve `column LIKE 'prefix%'`:
/// `text_pattern_ops` (`varchar_pattern_ops`, `bpchar_pattern_ops`) when the
/// column's collation (its own, else the database's) does not compare
/// bytewise; `None` under C/POSIX, and when the collation is not known (an
/// older snapshot), as before it was read.
pub fn pattern_opclass(
    table: &Table,
    column: &str,
    database_collation: Option<&str>,
) -> Option<String> {
    let column = table.columns.iter().find(|c| c.name == column)?;
    let collation = column.collation.as_deref().or(database_collation)?;
    if BYTEWISE_COLLATIONS.contains(&collation) {
        return None;
    }
    let data_type = column.data_type.as_str();
    let class = if data_type == "text" {
        "text_pattern_ops"
    } else if data_type.starts_with("character varying") {
        "varchar_pattern_ops"
    } else if data_type.starts_with("character") {
        "bpchar_pattern_ops"
    } else {
        return None;
    };
    Some(class.to_string())
}

/// How selective equality on `key` is: distinct values, or 1 when unknown.
fn distinct_rank(table: &Table, key: &IndexKey) -> f64 {
    let IndexKey::Column(name) = key else {
        return 1.0;
    };
    let Some(stats) = table
        .columns
        .iter()
        .find(|c| &c.name == name)
        .and_then(|c| c.stats.as_ref())
    else {
        return 1.0;
    };
    if stats.n_distinct < 0.0 {
        -stats.n_distinct * table.reltuples.max(1.0)
    } else {
        stats.n_distinct
    }
}

fn key_text(key: &IndexKey) -> &str {
    match key {
        IndexKey::Column(c) => c,
        IndexKey::Expression { sql, .. } => sql,
    }
}

/// The index that serves `access` as the inner side of a join (or a
/// correlated `LATERAL` subquery) on `columns` (the join keys to one other
/// relation): the join keys lead, as equalities the outer row fixes, then
/// the access's own filters, sort and partial predicate, as for any other
/// access.
pub fn index_for_join(
    access: &TableAccess,
    table: &Table,
    columns: &[&str],
    database_collation: Option<&str>,
) -> Option<AccessIndex> {
    let join_key = |column: &str| Predicate {
        key: IndexKey::Column(column.to_string()),
        op: PredicateOp::Equal,
        operand: crate::analyze::queries::Operand::Parameter {
            index: 0,
            cast: None,
        },
    };
    let mut filters: Vec<Predicate> = columns.iter().map(|c| join_key(c)).collect();
    if filters.is_empty() {
        return None;
    }
    filters.extend(access.filters.iter().cloned());
    let mut index = index_for_filters(access, &filters, table, database_collation)?;
    // The join keys first whatever their statistics: the outer row fixes them.
    for (to, column) in columns.iter().enumerate() {
        if let Some(at) = index
            .keys
            .iter()
            .position(|k| k.key == KeyTarget::Column(column.to_string()))
        {
            if at >= to {
                let key = index.keys.remove(at);
                let role = index.roles.remove(at);
                index.keys.insert(to, key);
                index.roles.insert(to, role);
            }
        }
    }
    Some(index)
}

/// Equality keys of one access that become candidates alone, at most.
const MAX_SINGLE_FORMS: usize = 4;

/// Narrower forms of `index` that other statements may share: each of its
/// equality keys alone (without the partial predicate, so any
/// statement filtering on the column can use it), and its first two keys when
/// it has more. Cheaper per byte, they let the selection trade a little speed
/// on one statement for one index serving many.
pub fn narrower_forms(index: &AccessIndex) -> Vec<AccessIndex> {
    let mut forms = Vec::new();
    let equalities = index
        .roles
        .iter()
        .take_while(|r| **r == KeyRole::Equality)
        .count();
    for at in 0..equalities.min(MAX_SINGLE_FORMS) {
        let single = AccessIndex {
            table: index.table.clone(),
            keys: vec![CandidateKey {
                key: index.keys[at].key.clone(),
                descending: false,
                nulls_reversed: false,
                opclass: None,
            }],
            roles: vec![KeyRole::Equality],
            predicates: Vec::new(),
            include: Vec::new(),
            method: index.method,
            pages_per_range: index.pages_per_range,
        };
        if single.keys != index.keys || !index.predicates.is_empty() {
            forms.push(single);
        }
    }
    if index.keys.len() > 2 {
        forms.push(AccessIndex {
            table: index.table.clone(),
            keys: index.keys[..2].to_vec(),
            roles: index.roles[..2].to_vec(),
            predicates: index.predicates.clone(),
            include: Vec::new(),
            method: index.method,
            pages_per_range: index.pages_per_range,
        });
    }
    forms
}

/// A covering form is only tried for a table whose visibility map marks at
/// least this share of its pages all-visible: elsewhere an index-only scan
/// still visits the heap for most rows and the planner costs it so.
pub const COVERING_MIN_ALL_VISIBLE: f64 = 0.5;

/// At most this many INCLUDE columns: a wider covering index costs more
/// bytes than the heap fetches it saves on all but the hottest statements.
pub const COVERING_MAX_COLUMNS: usize = 3;

/// Types whose values have a fixed, small width. Only these are INCLUDEd: a
/// variable-width value (text, jsonb, numeric) can make an index row exceed
/// the btree's limit (about 2.7 kB), and `CREATE INDEX` would then fail on
/// data the statistics never showed.
const FIXED_WIDTH_TYPES: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "boolean",
    "real",
    "double precision",
    "date",
    "uuid",
    "oid",
    "money",
    "interval",
    "time without time zone",
    "time with time zone",
    "timestamp without time zone",
    "timestamp with time zone",
];

/// `index` extended by INCLUDE columns so that it holds every column the
/// access reads: the planner can then answer it with an index-only scan.
/// `None` when the access reads the whole row (`SELECT *`), writes the row
/// (UPDATE/DELETE fetch it anyway), the index already holds every column it
/// reads, a column it needs is not of a fixed-width type, more than
/// [`COVERING_MAX_COLUMNS`] would be needed, or too few of the table's pages
/// are all-visible for an index-only scan to skip the heap.
pub fn covering_form(
    index: &AccessIndex,
    access: &TableAccess,
    table: &Table,
) -> Option<AccessIndex> {
    if index.method != AccessMethod::Btree
        || access.role != AccessRole::Read
        || access.flags.select_star
    {
        return None;
    }
    if table.all_visible_fraction()? < COVERING_MIN_ALL_VISIBLE {
        return None;
    }
    let in_keys = |column: &str| {
        index
            .keys
            .iter()
            .any(|k| k.key == KeyTarget::Column(column.to_string()))
    };
    // A partial index's predicate columns are not needed in the index: the
    // planner knows their value for every row it holds.
    let in_predicate = |column: &str| index.predicates.iter().any(|p| p.column() == column);
    let mut include = Vec::new();
    for column in &access.columns_read {
        if in_keys(column) || in_predicate(column) {
            continue;
        }
        let fixed = table
            .columns
            .iter()
            .find(|c| &c.name == column)
            .is_some_and(|c| FIXED_WIDTH_TYPES.contains(&c.data_type.as_str()));
        if !fixed || SYSTEM_COLUMNS.contains(&column.as_str()) {
            return None;
        }
        include.push(column.clone());
    }
    if include.is_empty() || include.len() > COVERING_MAX_COLUMNS {
        return None;
    }
    include.sort();
    Some(AccessIndex {
        include,
        ..index.clone()
    })
}

#[cfg(test)]
mod covering_tests {
    use super::*;
    use crate::analyze::queries::{
        analyze_statement, Catalog, ColumnDef, QualifiedName as CatalogName, TableDef, TableKind,
    };
    use crate::snapshot::Column;

    const COLUMNS: &[(&str, &str)] = &[
        ("id", "bigint"),
        ("customer_id", "integer"),
        ("status", "integer"),
        ("placed_at", "timestamp with time zone"),
        ("deleted_at", "timestamp with time zone"),
        ("note", "text"),
        ("a", "integer"),
        ("b", "integer"),
        ("c", "integer"),
    ];

    fn orders(relallvisible: Option<i64>) -> Table {
        Table {
            oid: 0,
            schema: "public".into(),
            name: "orders".into(),
            kind: crate::snapshot::TableKind::Table,
            parent: None,
            partition_key: None,
            partition_bound: None,
            reltuples: 100_000.0,
            relpages: 1000,
            relallvisible,
            size_bytes: 0,
            total_size_bytes: 0,
            options: Vec::new(),
            columns: COLUMNS
                .iter()
                .enumerate()
                .map(|(i, (name, data_type))| Column {
                    attnum: i as i16 + 1,
                    name: name.to_string(),
                    data_type: data_type.to_string(),
                    not_null: true,
                    collation: None,
                    stats: None,
                })
                .collect(),
            stats: None,
        }
    }

    /// The INCLUDE columns of the covering form of `sql`'s index on orders.
    fn covering(sql: &str, relallvisible: Option<i64>) -> Option<Vec<String>> {
        let catalog = Catalog::new().with_table(TableDef::new(
            CatalogName::new("public", "orders"),
            TableKind::Table,
            COLUMNS
                .iter()
                .map(|(n, t)| ColumnDef::typed(*n, *t))
                .collect(),
        ));
        let shape = analyze_statement(sql, &catalog).expect("analyzable");
        let access = &shape.accesses[0];
        let table = orders(relallvisible);
        let index = indexes_for_access(access, &table, None)
            .pop()
            .expect("an index");
        covering_form(&index, access, &table).map(|f| f.include)
    }

    /// (statement, relallvisible of 1,000 pages, the INCLUDE columns expected)
    type Case<'a> = (&'a str, Option<i64>, Option<&'a [&'a str]>);

    #[test]
    fn covering_forms() {
        let all = Some(1000);
        let cases: &[Case] = &[
            // What the statement reads besides its keys, sorted.
            (
                "SELECT status, id FROM orders WHERE customer_id = $1",
                all,
                Some(&["id", "status"]),
            ),
            // ORDER BY keys are keys already; the select list is not.
            (
                "SELECT id FROM orders WHERE customer_id = $1 ORDER BY placed_at DESC LIMIT 10",
                all,
                Some(&["id"]),
            ),
            // The partial predicate's column is not needed in the index.
            (
                "SELECT id FROM orders WHERE customer_id = $1 AND deleted_at IS NULL",
                all,
                Some(&["id"]),
            ),
            // The keys hold everything it reads: nothing to add.
            (
                "SELECT count(*) FROM orders WHERE customer_id = $1",
                all,
                None,
            ),
            // The whole row.
            ("SELECT * FROM orders WHERE customer_id = $1", all, None),
            // A text column could exceed a btree row: never INCLUDEd.
            ("SELECT note FROM orders WHERE customer_id = $1", all, None),
            // More than three columns.
            (
                "SELECT id, status, a, b, c FROM orders WHERE customer_id = $1",
                all,
                None,
            ),
            // UPDATE and DELETE read the heap row anyway.
            (
                "UPDATE orders SET status = $2 WHERE customer_id = $1 AND a = 3",
                all,
                None,
            ),
            // Too few pages all-visible, or not known (an older snapshot).
            (
                "SELECT id FROM orders WHERE customer_id = $1",
                Some(400),
                None,
            ),
            ("SELECT id FROM orders WHERE customer_id = $1", None, None),
        ];
        for (sql, visible, want) in cases {
            let want = want.map(|w| w.iter().map(|c| c.to_string()).collect::<Vec<_>>());
            assert_eq!(
                covering(sql, *visible),
                want,
                "{sql} ({visible:?} all-visible)"
            );
        }
    }
}
