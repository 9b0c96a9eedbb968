//! Alembic: `<version>_<name>.py` building the index with
//! `postgresql_concurrently=True` inside `autocommit_block()` (outside the
//! migration's transaction). Statements go one by one, so the timeouts are
//! `op.execute`d first.

use super::django::py_str;
use super::{IndexDefinition, Migration, OutputFile, Step, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let revision = format!("{:012x}", super::fnv64(&migration.id) & 0xffff_ffff_ffff);
    let mut header = migration.header_with_settings_in_file();
    header.push(
        "Alembic: set down_revision to the current head (`alembic heads`) before merging; \
         if_not_exists needs Alembic 1.12+ on SQLAlchemy 2.0+."
            .to_string(),
    );
    header.extend(model_note(migration));
    let mut out = format!(
        "\"\"\"{}\n\nRevision ID: {revision}\nRevises:\n\"\"\"\n",
        migration.name
    );
    out.push_str(&super::hash_comments(&header));
    out.push_str(&format!(
        "from alembic import op\nimport sqlalchemy as sa\n\nrevision = {}\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n",
        py_str(&revision)
    ));
    for (function, steps) in [("upgrade", &migration.up), ("downgrade", &migration.down)] {
        out.push_str(&format!(
            "\n\ndef {function}():\n    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction block.\n    with op.get_context().autocommit_block():\n"
        ));
        for s in &migration.settings {
            out.push_str(&format!("        op.execute({})\n", py_str(&s.set_sql())));
        }
        for step in steps.iter() {
            out.push_str(&statement(step));
        }
        for s in &migration.settings {
            out.push_str(&format!(
                "        op.execute({})\n",
                py_str(&format!("RESET {}", s.name))
            ));
        }
    }
    vec![OutputFile {
        name: format!("{version}_{}.py", migration.name),
        contents: out,
    }]
}

/// Autogenerate compares the indexes a table's model declares with the
/// database's: one built here and not declared is proposed for removal. What
/// to declare, for the index the migration builds (the parent's, on a
/// partitioned table).
fn model_note(migration: &Migration) -> Option<String> {
    let d = migration.up.iter().find_map(|step| match step {
        Step::CreateIndex(d) => Some(d),
        _ => None,
    })?;
    let (keys, options) = index_arguments(d);
    let mut args = vec![py_str(&d.name)];
    args.extend(keys);
    args.extend(options);
    Some(format!(
        "Alembic: if {} is in your SQLAlchemy metadata, declare this index on it too, or \
         `alembic revision --autogenerate` (and `alembic check`) proposes dropping it:\n    \
         sa.Index({}),",
        d.table,
        args.join(", ")
    ))
}

/// The keys and the PostgreSQL options of an index, as `op.create_index`
/// and `sa.Index` take them. Plain ascending columns by name (SQLAlchemy quotes
/// them), their operator classes in postgresql_ops keyed by the name;
/// otherwise each key is SQL text with its class.
fn index_arguments(d: &IndexDefinition) -> (Vec<String>, Vec<String>) {
    let plain: Option<Vec<&str>> = d
        .keys
        .iter()
        .map(|k| match k {
            Some((column, false)) => Some(column.as_str()),
            _ => None,
        })
        .collect();
    let keys: Vec<String> = match &plain {
        Some(columns) => columns.iter().map(|c| py_str(c)).collect(),
        None => d
            .keys_sql
            .iter()
            .map(|k| format!("sa.text({})", py_str(k)))
            .collect(),
    };
    let mut args = vec![format!("postgresql_using={}", py_str(&d.method))];
    if !d.include.is_empty() {
        args.push(format!(
            "postgresql_include=[{}]",
            d.include
                .iter()
                .map(|c| py_str(c))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let (Some(columns), true) = (&plain, d.has_opclass()) {
        let ops: Vec<String> = columns
            .iter()
            .zip(&d.opclasses)
            .filter_map(|(column, class)| {
                class
                    .as_ref()
                    .map(|class| format!("{}: {}", py_str(column), py_str(class)))
            })
            .collect();
        args.push(format!("postgresql_ops={{{}}}", ops.join(", ")));
    }
    if let Some(n) = d.pages_per_range {
        args.push(format!("postgresql_with={{\"pages_per_range\": {n}}}"));
    }
    if let Some(p) = &d.predicate_sql {
        args.push(format!("postgresql_where=sa.text({})", py_str(p)));
    }
    (keys, args)
}

fn statement(step: &Step) -> String {
    match step {
        Step::CreateIndex(d) if !d.only => {
            let (keys, options) = index_arguments(d);
            let mut args = vec![
                py_str(&d.name),
                py_str(&d.table.name),
                format!("[{}]", keys.join(", ")),
                format!("schema={}", py_str(&d.table.schema)),
            ];
            args.extend(options);
            if d.concurrently {
                args.push("postgresql_concurrently=True".to_string());
            }
            args.push("if_not_exists=True".to_string());
            format!(
                "        op.create_index(\n            {},\n        )\n",
                args.join(",\n            ")
            )
        }
        Step::DropIndex {
            index,
            table,
            concurrently,
        } => {
            let mut args = vec![
                py_str(&index.name),
                format!("table_name={}", py_str(&table.name)),
                format!("schema={}", py_str(&index.schema)),
            ];
            if *concurrently {
                args.push("postgresql_concurrently=True".to_string());
            }
            args.push("if_exists=True".to_string());
            format!("        op.drop_index({})\n", args.join(", "))
        }
        other => format!("        op.execute({})\n", py_str(&other.sql())),
    }
}
