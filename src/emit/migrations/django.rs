//! Django: `<version>_<name>.py` with `atomic = False` and
//! `AddIndexConcurrently`. Django sends statements one by one on the
//! migration's connection, so the timeouts are set with `RunSQL` first.

use super::{Migration, OutputFile, PredicateKind, Step, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let mut header = migration.header_with_settings_in_file();
    header.push(
        "Django: model_name is taken from the table name, and dependencies must name the app's \
         latest migration before this one runs (Django orders migrations by them)."
            .to_string(),
    );
    let mut out = super::hash_comments(&header);
    let classes = index_classes(migration);
    if !classes.is_empty() {
        out.push_str(&format!(
            "from django.contrib.postgres.indexes import {}\n",
            classes.join(", ")
        ));
    }
    out.push_str(
        "from django.contrib.postgres.operations import AddIndexConcurrently\n\
         from django.db import migrations, models\n\n\n\
         class Migration(migrations.Migration):\n    \
         # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.\n    \
         atomic = False\n\n    \
         dependencies = []\n\n    \
         operations = [\n",
    );
    let sets: Vec<String> = migration.settings.iter().map(|s| s.set_sql()).collect();
    let resets: Vec<String> = migration
        .settings
        .iter()
        .map(|s| format!("RESET {}", s.name))
        .collect();
    if !sets.is_empty() {
        out.push_str(&format!(
            "        migrations.RunSQL(sql={}, reverse_sql={}),\n",
            py_list(&sets),
            py_list(&resets)
        ));
    }
    // Each up step with its down: the last down undoes the first up.
    let ups = &migration.up;
    for (i, step) in ups.iter().enumerate() {
        let reverse = if i == 0 {
            migration.down.clone()
        } else {
            Vec::new()
        };
        out.push_str(&operation(step, &reverse));
    }
    if !resets.is_empty() {
        out.push_str(&format!(
            "        migrations.RunSQL(sql={}, reverse_sql={}),\n",
            py_list(&resets),
            py_list(&sets)
        ));
    }
    out.push_str("    ]\n");
    vec![OutputFile {
        name: format!("{version}_{}.py", migration.name),
        contents: out,
    }]
}

fn operation(step: &Step, reverse: &[Step]) -> String {
    let structured = match step {
        Step::CreateIndex(d) if describable(d) => Some(d),
        _ => None,
    };
    let reverse_is_the_drop = matches!(
        reverse,
        [Step::DropIndex {
            concurrently: true,
            ..
        }]
    );
    match structured {
        Some(d) if reverse_is_the_drop => {
            let fields: Vec<String> = d
                .keys
                .iter()
                .flatten()
                .map(|(column, desc)| format!("{}{column}", if *desc { "-" } else { "" }))
                .collect();
            let mut args = vec![
                format!("fields={}", py_list(&fields)),
                format!("name={}", py_str(&d.name)),
            ];
            if !d.predicate.is_empty() {
                let conds: Vec<String> = d
                    .predicate
                    .iter()
                    .map(|p| match p.kind {
                        PredicateKind::IsNull => format!("{}__isnull=True", p.column),
                        PredicateKind::IsNotNull => format!("{}__isnull=False", p.column),
                        PredicateKind::IsTrue => format!("{}=True", p.column),
                        PredicateKind::IsFalse => format!("{}=False", p.column),
                    })
                    .collect();
                args.push(format!("condition=models.Q({})", conds.join(", ")));
            }
            if d.has_opclass() {
                let classes: Vec<String> = d
                    .opclasses
                    .iter()
                    .map(|c| c.clone().unwrap_or_default())
                    .collect();
                args.push(format!("opclasses={}", py_list(&classes)));
            }
            if let Some(n) = d.pages_per_range {
                args.push(format!("pages_per_range={n}"));
            }
            format!(
                "        AddIndexConcurrently(\n            model_name={},\n            index={}({}),\n        ),\n",
                py_str(&d.table.name.to_lowercase()),
                index_class(&d.method),
                args.join(", ")
            )
        }
        _ => {
            let reverse_sql: Vec<String> = reverse.iter().map(Step::sql).collect();
            format!(
                "        migrations.RunSQL(sql={}, reverse_sql={}),\n",
                py_str(&step.sql()),
                if reverse_sql.is_empty() {
                    "migrations.RunSQL.noop".to_string()
                } else {
                    py_list(&reverse_sql)
                }
            )
        }
    }
}

/// Whether Django's index classes can describe it: a concurrent build of
/// plain columns without INCLUDE (anything else is `RunSQL`).
fn describable(d: &super::IndexDefinition) -> bool {
    d.concurrently && d.keys.iter().all(Option::is_some) && d.include.is_empty()
}

/// The Django index class for an access method: `models.Index` for btree,
/// `django.contrib.postgres.indexes`' own for the others.
fn index_class(method: &str) -> &'static str {
    match method {
        "gin" => "GinIndex",
        "gist" => "GistIndex",
        "brin" => "BrinIndex",
        _ => "models.Index",
    }
}

/// The postgres index classes the migration's structured steps use, for the import.
fn index_classes(migration: &Migration) -> Vec<&'static str> {
    let mut classes: Vec<&'static str> = migration
        .up
        .iter()
        .filter_map(|step| match step {
            Step::CreateIndex(d) if describable(d) => Some(index_class(&d.method)),
            _ => None,
        })
        .filter(|c| !c.starts_with("models."))
        .collect();
    classes.sort_unstable();
    classes.dedup();
    classes
}

/// A double-quoted Python string.
pub(super) fn py_str(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn py_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| py_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
