//! Flyway: `V<version>__<name>.sql` and its script config
//! `V<version>__<name>.sql.conf` with `executeInTransaction=false`. Flyway
//! sends statements one by one, so the timeouts are set in the file. Undo
//! migrations (`U<version>__...`) are a Flyway Teams feature: the down
//! statements are written in the header instead.

use super::{Migration, OutputFile, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let script = format!("V{version}__{}.sql", migration.name);
    let mut header = migration.header_with_settings_in_file();
    header.insert(
        1,
        format!(
            "Flyway runs it outside a transaction: {script}.conf sets executeInTransaction=false."
        ),
    );
    header.push(format!(
        "To undo (Flyway Teams: save as U{version}__{}.sql with the same .conf):",
        migration.name
    ));
    for line in super::sql::split_statements_sql(migration, &migration.down).lines() {
        header.push(format!("  {line}"));
    }
    let mut sql = super::squawk_ignores(&migration.up, true);
    sql.push_str(&super::sql_comments(&header));
    sql.push('\n');
    sql.push_str(&super::sql::split_statements_sql(migration, &migration.up));
    let conf = format!(
        "{}executeInTransaction=false\n",
        super::hash_comments(&[
            migration.marker(),
            "CREATE INDEX CONCURRENTLY cannot run inside a transaction block.".to_string(),
        ])
    );
    vec![
        OutputFile {
            name: script.clone(),
            contents: sql,
        },
        OutputFile {
            name: format!("{script}.conf"),
            contents: conf,
        },
    ]
}
