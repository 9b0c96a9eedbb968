//! Django: `<version>_<name>.py` with `atomic = False` and
//! `AddIndexConcurrently`. Django sends statements one by one on the
//! migration's connection, so the timeouts are set with `RunSQL` first.

use super::{IndexDefinition, Migration, OutputFile, PredicateKind, Step, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let mut header = migration.header_with_settings_in_file();
    header.push(
        "Django: model_name is taken from the table name, and dependencies must name the app's \
         latest migration before this one runs (Django orders migrations by them)."
            .to_string(),
    );
    header.extend(model_state_notes(migration));
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
    for (step, reverse) in with_reverse(migration) {
        out.push_str(&operation(step, reverse));
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

/// The up steps with their reverse: the last down undoes the first up.
fn with_reverse(migration: &Migration) -> impl Iterator<Item = (&Step, &[Step])> {
    migration.up.iter().enumerate().map(|(i, step)| {
        let reverse: &[Step] = if i == 0 { &migration.down } else { &[] };
        (step, reverse)
    })
}

/// The index a step builds with `AddIndexConcurrently` (an index class
/// describes it, and its reverse is the concurrent drop), else `None`:
/// `RunSQL`.
fn structured<'a>(step: &'a Step, reverse: &[Step]) -> Option<&'a IndexDefinition> {
    let reverse_is_the_drop = matches!(
        reverse,
        [Step::DropIndex {
            concurrently: true,
            ..
        }]
    );
    match step {
        Step::CreateIndex(d) if describable(d) && reverse_is_the_drop => Some(d),
        _ => None,
    }
}

/// Django's longest index name in a model's `Meta.indexes` (system check
/// `models.E034`).
const DJANGO_INDEX_NAME_MAX: usize = 30;

/// `AddIndexConcurrently` puts the index in the migration state: unless the
/// model's `Meta.indexes` names it too, the next `makemigrations` writes its
/// removal. What to add, per index.
fn model_state_notes(migration: &Migration) -> Vec<String> {
    let mut notes = Vec::new();
    for d in with_reverse(migration).filter_map(|(step, reverse)| structured(step, reverse)) {
        let class = index_class(&d.method);
        let import = if class.starts_with("models.") {
            String::new()
        } else {
            format!(" (from django.contrib.postgres.indexes import {class})")
        };
        notes.push(format!(
            "Django: add this index to the Meta.indexes of the model for {}{import}, or the next makemigrations writes its removal:\n    {},",
            d.table,
            index_expression(d)
        ));
        if d.name.len() > DJANGO_INDEX_NAME_MAX {
            notes.push(format!(
                "Django's system check models.E034 refuses index names over {DJANGO_INDEX_NAME_MAX} characters in Meta.indexes \
                 and this one has {}: rename it in both places, or add \"models.E034\" to SILENCED_SYSTEM_CHECKS.",
                d.name.len()
            ));
        }
    }
    notes
}

fn operation(step: &Step, reverse: &[Step]) -> String {
    match structured(step, reverse) {
        Some(d) => format!(
            "        AddIndexConcurrently(\n            model_name={},\n            index={},\n        ),\n",
            py_str(&d.table.name.to_lowercase()),
            index_expression(d)
        ),
        None => {
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

/// The Django index that builds `d`: `GinIndex(fields=["specs"], name=..., opclasses=[...])`.
fn index_expression(d: &IndexDefinition) -> String {
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
    format!("{}({})", index_class(&d.method), args.join(", "))
}

/// Whether Django's index classes can describe it: a concurrent build of
/// plain columns without INCLUDE, each column (and each of the predicate's)
/// a name a model field can have, since `fields` and `Q` name fields, not
/// columns (anything else is `RunSQL`).
fn describable(d: &IndexDefinition) -> bool {
    d.concurrently
        && d.include.is_empty()
        && d.keys
            .iter()
            .all(|k| k.as_ref().is_some_and(|(c, _)| is_field_name(c)))
        && d.predicate.iter().all(|p| is_field_name(&p.column))
}

/// Python's keywords: no model field is called one.
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Whether a column's name can be its Django field's: an ASCII Python
/// identifier, not a keyword, without `__` or a trailing `_` (Django's
/// checks fields.E001, E002).
fn is_field_name(column: &str) -> bool {
    let mut chars = column.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !column.contains("__")
        && !column.ends_with('_')
        && !PYTHON_KEYWORDS.contains(&column)
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
    let mut classes: Vec<&'static str> = with_reverse(migration)
        .filter_map(|(step, reverse)| structured(step, reverse))
        .map(|d| index_class(&d.method))
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

#[cfg(test)]
mod tests {
    use super::is_field_name;

    #[test]
    fn field_names_are_python_identifiers_django_accepts() {
        for (column, ok) in [
            ("specs", true),
            ("user_id", true),
            ("_private", true),
            ("Specs2", true),
            ("User Id", false),
            ("2fa", false),
            ("class", false),
            ("a__b", false),
            ("trailing_", false),
            ("caf\u{e9}", false),
            ("", false),
        ] {
            assert_eq!(is_field_name(column), ok, "{column:?}");
        }
    }
}
