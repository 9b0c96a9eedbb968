//! Plain SQL for `psql -f` (or any runner that sends statements one by one):
//! `<version>_<name>.sql` and `<version>_<name>.down.sql`.

use super::{statements_sql, Migration, OutputFile, Step, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    vec![
        OutputFile {
            name: format!("{version}_{}.sql", migration.name),
            contents: body(migration, &migration.up, "Up"),
        },
        OutputFile {
            name: format!("{version}_{}.down.sql", migration.name),
            contents: body(migration, &migration.down, "Down"),
        },
    ]
}

/// One file of a runner that splits statements: header, settings, the
/// statements one per line, settings reset (the connection may be reused).
pub(super) fn body(migration: &Migration, steps: &[Step], direction: &str) -> String {
    let mut out = String::new();
    out.push_str(&super::squawk_ignores(steps, true));
    let mut header = migration.header_with_settings_in_file();
    header.insert(1, format!("{direction} migration; run outside a transaction (psql -f, without --single-transaction)."));
    out.push_str(&super::sql_comments(&header));
    out.push('\n');
    out.push_str(&split_statements_sql(migration, steps));
    out
}

/// SET, the statements, RESET.
pub(super) fn split_statements_sql(migration: &Migration, steps: &[Step]) -> String {
    let mut out = String::new();
    for s in &migration.settings {
        out.push_str(&format!("{};\n", s.set_sql()));
    }
    out.push_str(&statements_sql(steps));
    for s in &migration.settings {
        out.push_str(&format!("RESET {};\n", s.name));
    }
    out
}
