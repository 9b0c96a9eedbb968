//! Liquibase formatted SQL: one changeset with `runInTransaction:false`, the
//! rollback in `--rollback` lines. Liquibase splits statements, so the
//! timeouts are set in the changeset.

use super::{Migration, OutputFile, Timestamp};

pub(super) fn render(migration: &Migration, at: Timestamp) -> Vec<OutputFile> {
    let version = at.version();
    let mut out = String::from("--liquibase formatted sql\n\n");
    out.push_str(&super::squawk_ignores(&migration.up, true));
    let mut header = migration.header_with_settings_in_file();
    header.insert(
        1,
        "Liquibase runs the changeset outside a transaction (runInTransaction:false).".to_string(),
    );
    out.push_str(&super::sql_comments(&header));
    out.push_str(&format!(
        "\n--changeset pgadvise:{version}_{} runInTransaction:false\n",
        migration.name
    ));
    out.push_str(&super::sql::split_statements_sql(migration, &migration.up));
    for line in super::sql::split_statements_sql(migration, &migration.down).lines() {
        out.push_str(&format!("--rollback {line}\n"));
    }
    vec![OutputFile {
        name: format!("{version}_{}.sql", migration.name),
        contents: out,
    }]
}
