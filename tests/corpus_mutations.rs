//! Hostile statement texts: PostgreSQL's regression statements (tests/corpus),
//! truncated, spliced and salted with junk tokens, quotes and Unicode. The
//! analyzer must answer each with a shape or a reason to skip, never a panic.
//! The unmutated corpus is covered by the query-shape unit tests
//! (src/analyze/queries/tests/corpus.rs: no panic, under 4% unparseable).

use pgadvise::analyze::queries::{
    analyze_statement, fold_identifier, normalize_statement, split_statements, Catalog,
    QualifiedName, TableDef, TableKind,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::OnceLock;

fn corpus() -> &'static [String] {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/corpus/pg_regress_dml.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let statements: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let record: serde_json::Value = serde_json::from_str(l).unwrap();
                record["sql"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(
            statements.len() > 10_000,
            "corpus truncated: {}",
            statements.len()
        );
        statements
    })
}

/// Every relation the corpus names, as a table with unknown columns, so that
/// mutated statements get past name resolution into predicates, sorts and joins.
fn catalog() -> Catalog {
    use sqlparser::ast::visit_relations;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    use std::ops::ControlFlow;
    let mut names = std::collections::BTreeSet::new();
    for sql in corpus() {
        let Ok(parsed) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
            continue;
        };
        let _ = visit_relations(&parsed, |name| {
            if let [part] = name.0.as_slice() {
                if let Some(ident) = part.as_ident() {
                    names.insert(fold_identifier(ident));
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }
    names.into_iter().fold(Catalog::new(), |catalog, name| {
        catalog.with_table(TableDef::new(
            QualifiedName::new("public", name),
            TableKind::Table,
            Vec::new(),
        ))
    })
}

/// Fragments that break lexers and parsers: unbalanced quotes and brackets,
/// comment openers, dollar quotes, parameters, casts, multi-byte and
/// zero-width characters, NUL.
const JUNK: &[&str] = &[
    "'",
    "\"",
    "$$",
    "$1",
    "$999999999999",
    "(",
    ")",
    "[",
    "]",
    "::",
    "--",
    "/*",
    "*/",
    ";",
    "E'\\",
    "U&'\\0041'",
    "é",
    "𝕏",
    "\u{200b}",
    "\u{0}",
    "ORDER BY",
    " OR ",
    "NOT",
    "IS NULL",
    "ANY(",
    "ARRAY[",
    "LIMIT",
    ",",
    ".",
    "\\",
    "\n",
    "JOIN",
    "WHERE",
    "1e999",
    "-",
    "`",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Keep this share (per mille) of the characters.
    Truncate(u16),
    /// First part of one statement, last part of another.
    Splice { other: usize, at: u16, from: u16 },
    /// A junk fragment at a position (per mille).
    Insert { junk: usize, at: u16 },
    /// Remove a span.
    Delete { at: u16, len: u16 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0u16..=1000).prop_map(Mutation::Truncate),
        (any::<usize>(), 0u16..=1000, 0u16..=1000).prop_map(|(other, at, from)| Mutation::Splice {
            other,
            at,
            from
        }),
        (any::<usize>(), 0u16..=1000).prop_map(|(junk, at)| Mutation::Insert { junk, at }),
        (0u16..=1000, 1u16..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
    ]
}

/// A char boundary at `per_mille` of the text.
fn boundary(text: &str, per_mille: u16) -> usize {
    let chars = text.chars().count();
    let n = chars * usize::from(per_mille) / 1000;
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

fn apply(sql: &str, mutation: &Mutation) -> String {
    let corpus = corpus();
    match mutation {
        Mutation::Truncate(keep) => sql[..boundary(sql, *keep)].to_string(),
        Mutation::Splice { other, at, from } => {
            let other = &corpus[other % corpus.len()];
            format!(
                "{}{}",
                &sql[..boundary(sql, *at)],
                &other[boundary(other, *from)..]
            )
        }
        Mutation::Insert { junk, at } => {
            let i = boundary(sql, *at);
            format!("{}{}{}", &sql[..i], JUNK[junk % JUNK.len()], &sql[i..])
        }
        Mutation::Delete { at, len } => {
            let start = boundary(sql, *at);
            let end = sql[start..]
                .char_indices()
                .nth(usize::from(*len))
                .map_or(sql.len(), |(i, _)| start + i);
            format!("{}{}", &sql[..start], &sql[end..])
        }
    }
}

#[test]
fn mutated_corpus_statements_never_panic_the_analyzer() {
    let corpus = corpus();
    let catalog = catalog();
    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        // Failures are reported with the shrunk statement; no files in the repo.
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (any::<usize>(), prop::collection::vec(mutation(), 1..4));
    let shaped = std::sync::atomic::AtomicUsize::new(0);
    let outcome = runner.run(&strategy, |(index, mutations)| {
        let mut sql = corpus[index % corpus.len()].clone();
        for m in &mutations {
            sql = apply(&sql, m);
        }
        // What a pg_stat_statements text or --queries-file goes through.
        let _ = normalize_statement(&sql);
        let _ = split_statements(&sql);
        match analyze_statement(&sql, &catalog) {
            Ok(shape) => {
                shaped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert!(!shape.accesses.is_empty(), "a shape reads no table")
            }
            Err(reason) => prop_assert!(!reason.to_string().is_empty(), "a skip without a reason"),
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // The mutations reach past the parser into shape extraction.
    let shaped = shaped.into_inner();
    println!("{shaped} of 10000 mutated statements shaped");
    assert!(
        shaped > 200,
        "only {shaped} mutated statements reached shape extraction"
    );
}
