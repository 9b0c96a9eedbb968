//! Indexes a btree cannot be: GIN (and GiST) candidates for the operators of
//! jsonb, arrays, full-text search and trigram matching. What a statement asks
//! of a key is reduced to operator names (`@>`, `~~*`), and the operator class
//! is chosen among the catalog's (`pg_opclass`, `pg_amop`, in the snapshot)
//! as the one whose family has every operator used, the specialised (not
//! default) class first: `jsonb_path_ops` where only `@>`, `@?`, `@@` are
//! used, `jsonb_ops` otherwise. Classes of an extension not created in the
//! database (pg_trgm) come from [`KNOWN_CLASSES`], and the proposal names the
//! extension it requires.

use super::candidate::{CandidateKey, KeyTarget};
use super::method::AccessMethod;
use crate::analyze::queries::{AccessRole, IndexKey, Operand, PredicateOp, TableAccess};
use crate::snapshot::{OperatorClass, Snapshot, Table};
use serde::Serialize;

/// What kind of search the index serves: decides the reason's words and the
/// size estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    /// jsonb containment and key existence.
    Jsonb,
    /// Array containment and overlap.
    Array,
    /// `tsvector @@ tsquery`, on a stored column or a `to_tsvector(config, col)` expression.
    FullText,
    /// Substring and regular-expression matching with pg_trgm.
    Trigram,
}

impl SearchKind {
    pub fn label(self) -> &'static str {
        match self {
            SearchKind::Jsonb => "jsonb containment/existence",
            SearchKind::Array => "array containment/overlap",
            SearchKind::FullText => "full-text search",
            SearchKind::Trigram => "substring/pattern matching (trigrams)",
        }
    }

    /// The input types whose operator classes serve this kind, the key's own
    /// type first (`anyarray` classes serve every array).
    fn input_types(self, key_type: &str) -> Vec<String> {
        match self {
            SearchKind::Jsonb => vec!["jsonb".into()],
            SearchKind::Array => vec![key_type.to_string(), "anyarray".into()],
            SearchKind::FullText => vec!["tsvector".into()],
            SearchKind::Trigram => vec!["text".into()],
        }
    }

    /// Rough index bytes per byte of the indexed column: a GIN holds each
    /// distinct key once with a compressed posting list, `jsonb_path_ops`
    /// hashes whole paths (about half of `jsonb_ops`), trigram indexes hold
    /// about one entry per character. Only an order of magnitude: the size
    /// after the build is in `pg_relation_size`.
    fn bytes_per_column_byte(self, opclass: &str) -> f64 {
        match (self, opclass) {
            (SearchKind::Jsonb, "jsonb_path_ops") => 0.4,
            (SearchKind::Jsonb, _) => 0.8,
            (SearchKind::Array, _) => 0.6,
            (SearchKind::FullText, _) => 0.5,
            (SearchKind::Trigram, _) => 2.0,
        }
    }
}

/// One search operator a statement applies to one key of one access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchUse {
    pub key: KeyTarget,
    /// The key's type: the column's, or `tsvector` for `to_tsvector(...)`.
    pub key_type: String,
    pub kind: SearchKind,
    pub method: AccessMethod,
    /// The operator as the catalog names it (`~~*` for ILIKE).
    pub operator: String,
    /// An ordering operator (`ORDER BY name <-> $1`) rather than a filter.
    pub ordering: bool,
}

/// Operators of jsonb that GIN classes serve.
const JSONB_OPERATORS: &[&str] = &["@>", "?", "?|", "?&", "@?", "@@"];
/// Operators of arrays that GIN's `array_ops` serves.
const ARRAY_OPERATORS: &[&str] = &["@>", "&&", "<@"];

/// Text types a trigram index serves (varchar and char through their
/// binary coercion to text).
fn is_text_type(data_type: &str) -> bool {
    data_type == "text"
        || data_type.starts_with("character varying")
        || data_type.starts_with("character(")
        || data_type == "character"
        || data_type == "citext"
}

/// `to_tsvector('english', body)` with a literal configuration: the only
/// full-text expression an index can hold (the one-argument form depends on
/// `default_text_search_config`, so it is not immutable).
fn is_indexable_tsvector_expression(sql: &str) -> bool {
    let lower = sql.trim().to_ascii_lowercase();
    let Some(args) = lower
        .strip_prefix("to_tsvector(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return false;
    };
    args.trim_start().starts_with('\'') && args.contains(',') && !args.contains('$')
}

/// The search operators `access` applies to keys of `table`.
pub fn search_uses(access: &TableAccess, table: &Table) -> Vec<SearchUse> {
    if access.role == AccessRole::InsertTarget {
        return Vec::new();
    }
    let column_type = |name: &str| {
        table
            .columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.data_type.clone())
    };
    let mut uses = Vec::new();
    for p in &access.filters {
        if matches!(p.operand, Operand::OtherRelation(_)) {
            continue;
        }
        let (target, key_type) = match &p.key {
            IndexKey::Column(c) => match column_type(c) {
                Some(t) => (KeyTarget::Column(c.clone()), t),
                None => continue,
            },
            IndexKey::Expression { sql, columns } => {
                let known = !columns.is_empty() && columns.iter().all(|c| column_type(c).is_some());
                if !known || !is_indexable_tsvector_expression(sql) {
                    continue;
                }
                (KeyTarget::Expression(sql.clone()), "tsvector".to_string())
            }
        };
        let found = match (&p.op, key_type.as_str()) {
            (PredicateOp::Operator(op), "jsonb") if JSONB_OPERATORS.contains(&op.as_str()) => {
                Some((SearchKind::Jsonb, op.clone()))
            }
            (PredicateOp::Operator(op), t)
                if t.ends_with("[]") && ARRAY_OPERATORS.contains(&op.as_str()) =>
            {
                Some((SearchKind::Array, op.clone()))
            }
            (PredicateOp::Operator(op), "tsvector") if op == "@@" => {
                Some((SearchKind::FullText, op.clone()))
            }
            // Regular expressions, and pg_trgm's similarity `name % $1`.
            (PredicateOp::Operator(op), t)
                if is_text_type(t) && (op == "~" || op == "~*" || op == "%") =>
            {
                Some((SearchKind::Trigram, op.clone()))
            }
            // A pattern that may start with a wildcard: only trigrams serve it.
            (PredicateOp::LeadingWildcardLike | PredicateOp::LikeParameter, t)
                if is_text_type(t) =>
            {
                Some((SearchKind::Trigram, "~~".to_string()))
            }
            (PredicateOp::ILike { .. }, t) if is_text_type(t) => {
                Some((SearchKind::Trigram, "~~*".to_string()))
            }
            _ => None,
        };
        if let Some((kind, operator)) = found {
            let search = SearchUse {
                key: target,
                key_type,
                kind,
                method: AccessMethod::Gin,
                operator,
                ordering: false,
            };
            if !uses.contains(&search) {
                uses.push(search);
            }
        }
    }
    // `ORDER BY name <-> $1`: the nearest by trigram distance, which a GiST
    // index returns in order; a GIN cannot. The same key's trigram filters
    // then go to that GiST index too (gist_trgm_ops serves them): one index.
    if let Some(distance) = &access.order_by_distance {
        if let IndexKey::Column(c) = &distance.key {
            if let Some(t) = column_type(c).filter(|t| is_text_type(t)) {
                let key = KeyTarget::Column(c.clone());
                for u in uses.iter_mut() {
                    if u.key == key && u.kind == SearchKind::Trigram {
                        u.method = AccessMethod::Gist;
                    }
                }
                uses.push(SearchUse {
                    key,
                    key_type: t,
                    kind: SearchKind::Trigram,
                    method: AccessMethod::Gist,
                    operator: distance.operator.clone(),
                    ordering: true,
                });
            }
        }
    }
    uses
}

/// Classes pgadvise knows without the catalog: those of an extension not
/// created in the database (it has no pg_opclass rows yet), and every class
/// when the snapshot predates `operator_classes`. Each is
/// (method, class, input type, default, search operators, ordering operators, extension).
type KnownClass = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static str>,
);

pub const KNOWN_CLASSES: &[KnownClass] = &[
    (
        "gin",
        "jsonb_ops",
        "jsonb",
        true,
        &["?", "?&", "?|", "@>", "@?", "@@"],
        &[],
        None,
    ),
    (
        "gin",
        "jsonb_path_ops",
        "jsonb",
        false,
        &["@>", "@?", "@@"],
        &[],
        None,
    ),
    (
        "gin",
        "array_ops",
        "anyarray",
        true,
        &["&&", "<@", "=", "@>"],
        &[],
        None,
    ),
    (
        "gin",
        "tsvector_ops",
        "tsvector",
        true,
        &["@@", "@@@"],
        &[],
        None,
    ),
    (
        "gin",
        "gin_trgm_ops",
        "text",
        false,
        &["%", "%>", "<%", "%>>", "<<%", "~", "~*", "~~", "~~*"],
        &[],
        Some("pg_trgm"),
    ),
    (
        "gist",
        "gist_trgm_ops",
        "text",
        false,
        &["%", "%>", "<%", "%>>", "<<%", "~", "~*", "~~", "~~*"],
        &["<->", "<->>", "<<->>"],
        Some("pg_trgm"),
    ),
];

fn known_classes() -> Vec<OperatorClass> {
    KNOWN_CLASSES
        .iter()
        .map(
            |(method, name, input, default, ops, ordering, extension)| OperatorClass {
                method: method.to_string(),
                name: name.to_string(),
                schema: extension.map_or("pg_catalog", |_| "public").to_string(),
                input_type: input.to_string(),
                is_default: *default,
                operators: ops.iter().map(|o| o.to_string()).collect(),
                ordering_operators: ordering.iter().map(|o| o.to_string()).collect(),
                extension: extension.map(str::to_string),
            },
        )
        .collect()
}

/// The chosen class for a key and the extension it needs that the database lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenClass {
    pub class: OperatorClass,
    /// Where the catalog said so (`false`: pgadvise's own knowledge, for an
    /// extension not created here).
    pub from_catalog: bool,
    pub missing_extension: Option<String>,
}

/// The operator class of `method` for `kind` on a key of `key_type` whose
/// family has every one of `operators` (and `ordering`): the catalog's
/// first, a known class of a missing extension otherwise. Among several the
/// specialised one (not the type's default) wins: it is the smaller index.
pub fn choose_class(
    snapshot: &Snapshot,
    method: AccessMethod,
    kind: SearchKind,
    key_type: &str,
    operators: &[String],
    ordering: &[String],
) -> Option<ChosenClass> {
    let inputs = kind.input_types(key_type);
    let pick = |classes: &[OperatorClass]| -> Option<OperatorClass> {
        let mut fitting: Vec<&OperatorClass> = classes
            .iter()
            .filter(|c| c.method == method.as_str() && inputs.contains(&c.input_type))
            .filter(|c| operators.iter().all(|o| c.operators.contains(o)))
            .filter(|c| ordering.iter().all(|o| c.ordering_operators.contains(o)))
            .collect();
        fitting.sort_by(|a, b| {
            a.is_default
                .cmp(&b.is_default)
                .then_with(|| {
                    let rank = |c: &OperatorClass| inputs.iter().position(|i| *i == c.input_type);
                    rank(a).cmp(&rank(b))
                })
                .then_with(|| a.name.cmp(&b.name))
        });
        fitting.first().map(|c| (*c).clone())
    };
    if let Some(class) = pick(&snapshot.operator_classes) {
        return Some(ChosenClass {
            class,
            from_catalog: true,
            missing_extension: None,
        });
    }
    let known = known_classes();
    let class = pick(&known)?;
    // Built-in classes are in every database: an older snapshot simply did
    // not read them. An extension's class is missing only where it is not created.
    let missing_extension = class
        .extension
        .clone()
        .filter(|e| snapshot.extension(e).is_none());
    Some(ChosenClass {
        class,
        from_catalog: false,
        missing_extension,
    })
}

/// Whether an existing index's class (`None`: the type's default) of
/// `method` has every operator: `jsonb_ops` serves `@>` and `?`, a
/// `jsonb_path_ops` index does not serve `?`.
pub fn class_serves(
    snapshot: &Snapshot,
    method: AccessMethod,
    kind: SearchKind,
    key_type: &str,
    existing_class: Option<&str>,
    operators: &[String],
) -> bool {
    let inputs = kind.input_types(key_type);
    let known = known_classes();
    let find = |classes: &[OperatorClass]| -> Option<OperatorClass> {
        classes
            .iter()
            .filter(|c| c.method == method.as_str() && inputs.contains(&c.input_type))
            .find(|c| match existing_class {
                Some(name) => c.name == name,
                None => c.is_default,
            })
            .cloned()
    };
    find(&snapshot.operator_classes)
        .or_else(|| find(&known))
        .is_some_and(|c| {
            operators
                .iter()
                .all(|o| c.operators.contains(o) || c.ordering_operators.contains(o))
        })
}

/// The key with its operator class (named only when not the type's default).
pub fn key_with_class(key: &KeyTarget, class: &OperatorClass) -> CandidateKey {
    CandidateKey {
        key: key.clone(),
        descending: false,
        nulls_reversed: false,
        opclass: (!class.is_default).then(|| class.name.clone()),
    }
}

/// Estimated bytes of the index: the column's bytes (pg_stats' average
/// width × rows) times a factor per kind (see [`SearchKind`]), at least a page.
pub fn estimate_bytes(table: &Table, key: &KeyTarget, kind: SearchKind, opclass: &str) -> i64 {
    let width = |name: &str| {
        table
            .columns
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.stats.as_ref())
            .map_or(32.0, |s| f64::from(s.avg_width.max(1)))
    };
    let column_bytes = match key {
        KeyTarget::Column(c) => width(c),
        // The text a to_tsvector reads: its widest column.
        KeyTarget::Expression(_) => table
            .columns
            .iter()
            .filter(|c| is_text_type(&c.data_type))
            .map(|c| width(&c.name))
            .fold(32.0, f64::max),
    };
    let rows = table.reltuples.max(0.0);
    let bytes = column_bytes * rows * kind.bytes_per_column_byte(opclass);
    (bytes as i64).max(8192)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;
    use crate::analyze::queries::analyze_statement;
    use crate::analyze::workload::catalog_of;
    use crate::snapshot::Extension;

    const COLUMNS: &[&str] = &[
        "id",
        "specs:jsonb",
        "labels:text[]",
        "doc:tsvector",
        "content:text",
        "name:character varying(200)",
    ];

    fn table() -> Table {
        fixture::table("items", 100_000.0, COLUMNS)
    }

    fn uses(where_clause: &str) -> Vec<(String, SearchKind, String)> {
        let mut snapshot = fixture::snapshot();
        snapshot.tables = vec![table()];
        let catalog = catalog_of(&snapshot);
        let sql = format!("SELECT id FROM items WHERE {where_clause}");
        let shape = analyze_statement(&sql, &catalog).expect("analyzable");
        search_uses(&shape.accesses[0], &table())
            .into_iter()
            .map(|u| {
                let key = match u.key {
                    KeyTarget::Column(c) => c,
                    KeyTarget::Expression(e) => e,
                };
                (key, u.kind, u.operator)
            })
            .collect()
    }

    #[test]
    fn operators_become_search_uses() {
        use SearchKind::*;
        /// (WHERE clause, expected (key, kind, operator) uses)
        type Case<'a> = (&'a str, &'a [(&'a str, SearchKind, &'a str)]);
        let cases: &[Case] = &[
            ("specs @> $1::jsonb", &[("specs", Jsonb, "@>")]),
            ("specs ? $1", &[("specs", Jsonb, "?")]),
            ("specs ?| $1", &[("specs", Jsonb, "?|")]),
            ("specs ?& $1", &[("specs", Jsonb, "?&")]),
            ("specs @? $1::jsonpath", &[("specs", Jsonb, "@?")]),
            ("labels @> $1::text[]", &[("labels", Array, "@>")]),
            ("labels && $1", &[("labels", Array, "&&")]),
            ("labels <@ $1", &[("labels", Array, "<@")]),
            ("doc @@ to_tsquery($1)", &[("doc", FullText, "@@")]),
            (
                "to_tsvector('simple', content) @@ to_tsquery('simple', $1)",
                &[("to_tsvector('simple', content)", FullText, "@@")],
            ),
            ("content ILIKE $1", &[("content", Trigram, "~~*")]),
            ("content LIKE '%abc%'", &[("content", Trigram, "~~")]),
            ("name LIKE $1", &[("name", Trigram, "~~")]),
            ("content ~ $1", &[("content", Trigram, "~")]),
            ("content ~* $1", &[("content", Trigram, "~*")]),
            // A btree serves these, or nothing can: no search use.
            ("content LIKE 'abc%'", &[]),
            ("content = $1", &[]),
            ("specs -> 'a' = $1", &[]),
            // The one-argument form is not immutable: no index can hold it.
            ("to_tsvector(content) @@ to_tsquery($1)", &[]),
            // A configuration that is a parameter is unknown.
            ("to_tsvector($2, content) @@ to_tsquery($1)", &[]),
        ];
        for (where_clause, expected) in cases {
            let expected: Vec<(String, SearchKind, String)> = expected
                .iter()
                .map(|(k, kind, op)| (k.to_string(), *kind, op.to_string()))
                .collect();
            assert_eq!(uses(where_clause), expected, "WHERE {where_clause}");
        }
    }

    #[test]
    fn a_distance_order_makes_the_key_a_gist_trigram_index() {
        let mut snapshot = fixture::snapshot();
        snapshot.tables = vec![table()];
        let catalog = catalog_of(&snapshot);
        /// (statement, expected (key, method, operator, ordering) uses)
        type Case<'a> = (&'a str, &'a [(&'a str, AccessMethod, &'a str, bool)]);
        let gist = AccessMethod::Gist;
        let cases: &[Case] = &[
            (
                "SELECT id FROM items ORDER BY content <-> $1 LIMIT 10",
                &[("content", gist, "<->", true)],
            ),
            // The filter on the same key joins the GiST index.
            (
                "SELECT id FROM items WHERE content % $1 ORDER BY content <-> $1 LIMIT 10",
                &[
                    ("content", gist, "%", false),
                    ("content", gist, "<->", true),
                ],
            ),
            // A filter on another key keeps its GIN.
            (
                "SELECT id FROM items WHERE name ILIKE $1 ORDER BY content <-> $2 LIMIT 10",
                &[
                    ("name", AccessMethod::Gin, "~~*", false),
                    ("content", gist, "<->", true),
                ],
            ),
            (
                "SELECT id FROM items WHERE content % $1",
                &[("content", AccessMethod::Gin, "%", false)],
            ),
            // Not a distance from a given value, or not text: nothing.
            (
                "SELECT id FROM items ORDER BY content <-> name LIMIT 10",
                &[],
            ),
            ("SELECT id FROM items ORDER BY id <-> $1 LIMIT 10", &[]),
            (
                "SELECT id FROM items ORDER BY content <-> $1 DESC LIMIT 10",
                &[],
            ),
        ];
        for (sql, expected) in cases {
            let shape = analyze_statement(sql, &catalog).expect("analyzable");
            let found: Vec<(String, AccessMethod, String, bool)> =
                search_uses(&shape.accesses[0], &table())
                    .into_iter()
                    .map(|u| {
                        let KeyTarget::Column(c) = u.key else {
                            panic!("{sql}: a column key");
                        };
                        (c, u.method, u.operator, u.ordering)
                    })
                    .collect();
            let expected: Vec<(String, AccessMethod, String, bool)> = expected
                .iter()
                .map(|(k, m, o, ord)| (k.to_string(), *m, o.to_string(), *ord))
                .collect();
            assert_eq!(found, expected, "{sql}");
        }
        let chosen = choose_class(
            &Snapshot::default(),
            gist,
            SearchKind::Trigram,
            "text",
            &["%".to_string()],
            &["<->".to_string()],
        )
        .expect("a class");
        assert_eq!(chosen.class.name, "gist_trgm_ops");
        assert_eq!(chosen.missing_extension.as_deref(), Some("pg_trgm"));
        assert!(class_serves(
            &Snapshot::default(),
            gist,
            SearchKind::Trigram,
            "text",
            Some("gist_trgm_ops"),
            &["%".to_string(), "<->".to_string()],
        ));
    }

    #[test]
    fn classes_are_chosen_by_the_operators_used() {
        let mut snapshot = Snapshot::default();
        let ops = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let pick = |snapshot: &Snapshot, kind, key_type: &str, o: &[&str]| {
            choose_class(snapshot, AccessMethod::Gin, kind, key_type, &ops(o), &[])
                .map(|c| (c.class.name, c.missing_extension))
        };
        /// (kind, key type, operators, expected (class, missing extension))
        type Case<'a> = (
            SearchKind,
            &'a str,
            &'a [&'a str],
            Option<(&'a str, Option<&'a str>)>,
        );
        let cases: &[Case] = &[
            (
                SearchKind::Jsonb,
                "jsonb",
                &["@>"],
                Some(("jsonb_path_ops", None)),
            ),
            (
                SearchKind::Jsonb,
                "jsonb",
                &["@>", "@?", "@@"],
                Some(("jsonb_path_ops", None)),
            ),
            (
                SearchKind::Jsonb,
                "jsonb",
                &["@>", "?"],
                Some(("jsonb_ops", None)),
            ),
            (
                SearchKind::Array,
                "text[]",
                &["&&"],
                Some(("array_ops", None)),
            ),
            (
                SearchKind::FullText,
                "tsvector",
                &["@@"],
                Some(("tsvector_ops", None)),
            ),
            (
                SearchKind::Trigram,
                "text",
                &["~~*"],
                Some(("gin_trgm_ops", Some("pg_trgm"))),
            ),
        ];
        for (kind, key_type, operators, expected) in cases {
            let expected = expected.map(|(n, e)| (n.to_string(), e.map(str::to_string)));
            assert_eq!(
                pick(&snapshot, *kind, key_type, operators),
                expected,
                "{operators:?}"
            );
        }
        // With pg_trgm created, nothing is missing.
        snapshot.extensions.push(Extension {
            name: "pg_trgm".into(),
            version: "1.6".into(),
            schema: "public".into(),
        });
        assert_eq!(
            pick(&snapshot, SearchKind::Trigram, "text", &["~~"]),
            Some(("gin_trgm_ops".to_string(), None))
        );
        // The catalog wins over pgadvise's own list: a class it lacks is not proposed.
        snapshot.operator_classes = known_classes()
            .into_iter()
            .filter(|c| c.name != "jsonb_path_ops")
            .collect();
        assert_eq!(
            pick(&snapshot, SearchKind::Jsonb, "jsonb", &["@>"]),
            Some(("jsonb_ops".to_string(), None))
        );
        // GiST for an ordering by similarity.
        let gist = choose_class(
            &snapshot,
            AccessMethod::Gist,
            SearchKind::Trigram,
            "text",
            &[],
            &ops(&["<->"]),
        );
        assert_eq!(gist.map(|c| c.class.name), Some("gist_trgm_ops".into()));
    }

    #[test]
    fn existing_classes_serve_what_their_family_has() {
        let snapshot = Snapshot::default();
        let ops = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gin = AccessMethod::Gin;
        let jsonb = SearchKind::Jsonb;
        assert!(class_serves(
            &snapshot,
            gin,
            jsonb,
            "jsonb",
            None,
            &ops(&["@>", "?"])
        ));
        assert!(class_serves(
            &snapshot,
            gin,
            jsonb,
            "jsonb",
            Some("jsonb_path_ops"),
            &ops(&["@>"])
        ));
        assert!(!class_serves(
            &snapshot,
            gin,
            jsonb,
            "jsonb",
            Some("jsonb_path_ops"),
            &ops(&["?"])
        ));
        assert!(class_serves(
            &snapshot,
            gin,
            SearchKind::Trigram,
            "text",
            Some("gin_trgm_ops"),
            &ops(&["~~*"])
        ));
        assert!(!class_serves(
            &snapshot,
            AccessMethod::Btree,
            jsonb,
            "jsonb",
            None,
            &ops(&["@>"])
        ));
    }
}
