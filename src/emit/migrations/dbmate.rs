//! dbmate: `<version>_<name>.sql` with `-- migrate:up transaction:false` and
//! `-- migrate:down transaction:false` sections. dbmate sends each section as
//! one message (checked with 2.36: a SET beside CONCURRENTLY fails), so one
//! statement per section and timeouts from the connection.

use super::{statements_sql, Migration, OutputFile, Part, Timestamp};

pub(super) fn render(migration: &Migration, part: &Part, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let mut steps = part.up.clone();
    steps.extend(part.down.iter().cloned());
    let mut out = super::squawk_ignores(&steps, false);
    let mut header = migration.header_with_settings_on_connection("dbmate");
    if let Some(note) = &part.down_note {
        header.push(format!("Down: {note}"));
    }
    out.push_str(&super::sql_comments(&header));
    out.push_str("\n-- migrate:up transaction:false\n");
    out.push_str(&statements_sql(&part.up));
    out.push_str("\n-- migrate:down transaction:false\n");
    out.push_str(&statements_sql(&part.down));
    vec![OutputFile {
        name: format!("{version}_{}.sql", part.name),
        contents: out,
    }]
}
