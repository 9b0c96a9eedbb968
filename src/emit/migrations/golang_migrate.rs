//! golang-migrate: `<version>_<name>.up.sql` / `.down.sql`. It sends a file as
//! one message (its README: CONCURRENTLY alone in its own file), so one
//! statement per file and timeouts from the connection.

use super::{statements_sql, Migration, OutputFile, Part, Step, Timestamp};

pub(super) fn render(migration: &Migration, part: &Part, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    vec![
        OutputFile {
            name: format!("{version}_{}.up.sql", part.name),
            contents: body(migration, &part.up, "Up", None),
        },
        OutputFile {
            name: format!("{version}_{}.down.sql", part.name),
            contents: body(migration, &part.down, "Down", part.down_note.as_deref()),
        },
    ]
}

fn body(migration: &Migration, steps: &[Step], direction: &str, note: Option<&str>) -> String {
    let mut out = super::squawk_ignores(steps, false);
    let mut header = migration.header_with_settings_on_connection("golang-migrate");
    header.insert(1, format!("{direction} migration."));
    if let Some(note) = note {
        header.push(note.to_string());
    }
    out.push_str(&super::sql_comments(&header));
    out.push('\n');
    out.push_str(&statements_sql(steps));
    out
}
