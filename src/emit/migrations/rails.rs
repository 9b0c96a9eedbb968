//! Rails (ActiveRecord): `<version>_<name>.rb` with `disable_ddl_transaction!`
//! and `add_index ... algorithm: :concurrently`. ActiveRecord sends statements
//! one by one, so the timeouts are `execute`d first.

use super::{Migration, OutputFile, Step, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let mut out = super::hash_comments(&migration.header_with_settings_in_file());
    out.push_str(&format!(
        "class {} < ActiveRecord::Migration[6.1]\n  # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.\n  disable_ddl_transaction!\n\n",
        class_name(&migration.name)
    ));
    for (method, steps) in [("up", &migration.up), ("down", &migration.down)] {
        out.push_str(&format!("  def {method}\n"));
        for s in &migration.settings {
            out.push_str(&format!("    execute {}\n", ruby_str(&s.set_sql())));
        }
        for step in steps.iter() {
            out.push_str(&format!("    {}\n", statement(step)));
        }
        for s in &migration.settings {
            out.push_str(&format!(
                "    execute {}\n",
                ruby_str(&format!("RESET {}", s.name))
            ));
        }
        out.push_str("  end\n");
        if method == "up" {
            out.push('\n');
        }
    }
    out.push_str("end\n");
    vec![OutputFile {
        name: format!("{version}_{}.rb", migration.name),
        contents: out,
    }]
}

fn statement(step: &Step) -> String {
    match step {
        // ON ONLY has no add_index option: plain SQL.
        Step::CreateIndex(d) if !d.only && d.pages_per_range.is_none() => {
            let plain: Option<Vec<&str>> = d
                .keys
                .iter()
                .map(|k| match k {
                    Some((column, false)) if crate::ident::quote(column) == *column => {
                        Some(column.as_str())
                    }
                    _ => None,
                })
                .collect();
            // A string with anything but a column name is used verbatim as the
            // key list (operator classes written in it).
            let named_columns = plain.is_some();
            let columns = match plain {
                Some(cols) if cols.len() == 1 => ruby_str(cols[0]),
                Some(cols) => format!(
                    "[{}]",
                    cols.iter()
                        .map(|c| ruby_str(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => ruby_str(&d.keys_sql.join(", ")),
            };
            let mut args = vec![
                ruby_str(&d.table.to_string()),
                columns,
                format!("name: {}", ruby_str(&d.name)),
                format!("using: {}", ruby_str(&d.method)),
            ];
            if named_columns && d.has_opclass() {
                let classes: Vec<String> = d
                    .keys
                    .iter()
                    .zip(&d.opclasses)
                    .filter_map(|(k, class)| match (k, class) {
                        (Some((column, _)), Some(class)) => {
                            Some(format!("{}: {}", ruby_str(column), ruby_str(class)))
                        }
                        _ => None,
                    })
                    .collect();
                args.push(format!("opclass: {{ {} }}", classes.join(", ")));
            }
            if !d.include.is_empty() {
                args.push(format!(
                    "include: [{}]",
                    d.include
                        .iter()
                        .map(|c| ruby_str(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(p) = &d.predicate_sql {
                args.push(format!("where: {}", ruby_str(p)));
            }
            if d.concurrently {
                args.push("algorithm: :concurrently".to_string());
            }
            args.push("if_not_exists: true".to_string());
            format!("add_index {}", args.join(", "))
        }
        Step::DropIndex {
            index,
            table,
            concurrently,
        } => {
            let mut args = vec![
                ruby_str(&table.to_string()),
                format!("name: {}", ruby_str(&index.name)),
            ];
            if *concurrently {
                args.push("algorithm: :concurrently".to_string());
            }
            args.push("if_exists: true".to_string());
            format!("remove_index {}", args.join(", "))
        }
        other => format!("execute {}", ruby_str(&other.sql())),
    }
}

/// The class name Rails expects for the file name: `name.camelize`.
pub(super) fn class_name(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// A single-quoted Ruby string: only `\` and `'` need escaping.
fn ruby_str(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}
