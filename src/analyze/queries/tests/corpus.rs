//! Robustness over PostgreSQL's own regression statements: no panic, every
//! statement either shaped or skipped with a reason, few parse failures.

use std::collections::BTreeMap;
use std::path::PathBuf;

use std::ops::ControlFlow;

use sqlparser::ast::visit_relations;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::super::{
    analyze_statement, fold_identifier, Catalog, QualifiedName, SkipReason, TableDef, TableKind,
};

const CORPUS_RELATIVE: &str = "tests/corpus/pg_regress_dml.jsonl";

/// A missing corpus is a failure with the paths tried, never a silent pass.
fn corpus_path() -> PathBuf {
    let beside_repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(CORPUS_RELATIVE);
    if beside_repo.is_file() {
        return beside_repo;
    }
    match std::env::var_os("PGADVISE_CORPUS") {
        Some(path) if PathBuf::from(&path).is_file() => PathBuf::from(path),
        other => panic!(
            "SQL corpus not found: tried {} and PGADVISE_CORPUS={:?}",
            beside_repo.display(),
            other
        ),
    }
}

fn corpus_statements() -> (PathBuf, Vec<String>) {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let statements = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let record: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("corpus line {}: {e}", i + 1));
            record["sql"]
                .as_str()
                .unwrap_or_else(|| panic!("corpus line {} has no sql", i + 1))
                .to_string()
        })
        .collect();
    (path, statements)
}

/// A catalog in which every relation the corpus names is a table with
/// unknown columns, so the walk reaches predicates, sorts and joins.
fn catalog_of_every_relation(statements: &[String]) -> Catalog {
    let mut names = std::collections::BTreeSet::new();
    for sql in statements {
        let Ok(parsed) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
            continue;
        };
        let _ = visit_relations(&parsed, |name| {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(fold_identifier))
                .collect();
            if let [table] = parts.as_slice() {
                names.insert(table.clone());
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

#[test]
fn regression_corpus_with_every_relation_known_never_panics() {
    let (_, statements) = corpus_statements();
    let catalog = catalog_of_every_relation(&statements);
    let mut shapes = 0usize;
    let mut by_reason: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for sql in &statements {
        match std::panic::catch_unwind(|| analyze_statement(sql, &catalog)) {
            Err(_) => panics.push(sql.clone()),
            Ok(Ok(_)) => shapes += 1,
            Ok(Err(reason)) => *by_reason.entry(reason.label()).or_default() += 1,
        }
    }
    println!(
        "every relation known: {} statements, {shapes} shapes",
        statements.len()
    );
    for (reason, count) in &by_reason {
        println!("  skipped, {reason}: {count}");
    }
    assert!(
        panics.is_empty(),
        "{} statements panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(
        shapes * 2 > statements.len(),
        "fewer than half the statements shaped: {shapes}"
    );
}

#[test]
fn regression_corpus_never_panics_and_rarely_fails_to_parse() {
    let (path, statements) = corpus_statements();
    let catalog = Catalog::new();
    let mut total = 0usize;
    let mut shapes = 0usize;
    let mut by_reason: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut parse_errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for (line_number, sql) in statements.iter().enumerate() {
        total += 1;
        let outcome = std::panic::catch_unwind(|| analyze_statement(sql, &catalog));
        match outcome {
            Err(_) => panics.push(format!("line {}: {sql}", line_number + 1)),
            Ok(Ok(shape)) => {
                assert!(
                    !shape.accesses.is_empty(),
                    "a shape without accesses: {sql}"
                );
                shapes += 1;
            }
            Ok(Err(reason)) => {
                assert!(
                    !reason.to_string().is_empty(),
                    "a reason must say something: {sql}"
                );
                *by_reason.entry(reason.label()).or_default() += 1;
                match reason {
                    SkipReason::ParseError(message) => {
                        let head = message
                            .split(" at Line")
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        *parse_errors.entry(head).or_default() += 1;
                    }
                    SkipReason::Unsupported(what) => *unsupported.entry(what).or_default() += 1,
                    _ => {}
                }
            }
        }
    }

    println!(
        "corpus {}: {total} statements, {shapes} shapes",
        path.display()
    );
    for (reason, count) in &by_reason {
        println!("  skipped, {reason}: {count}");
    }
    let mut parse_errors: Vec<_> = parse_errors.into_iter().collect();
    parse_errors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("  most frequent parse errors:");
    for (message, count) in parse_errors.iter().take(12) {
        println!("    {count:4}  {message}");
    }
    println!("  unsupported constructs:");
    for (what, count) in &unsupported {
        println!("    {count:4}  {what}");
    }

    assert!(
        panics.is_empty(),
        "{} statements panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(total > 10_000, "corpus looks truncated: {total} statements");
    let failures = by_reason.get("unparseable").copied().unwrap_or(0);
    assert!(
        failures * 100 < total * 4,
        "parse failures {failures} of {total} reach 4%"
    );
    // With a catalog that knows no tables, nothing may be shaped.
    assert_eq!(shapes, 0, "an empty catalog resolved a table");
}
