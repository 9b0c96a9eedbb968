//! The migration tools pgadvise writes for, and which module renders each.

use super::{alembic, dbmate, django, flyway, golang_migrate, liquibase, rails, sql, sqlx};
use super::{split_for_whole_file_runner, Migration, OutputFile, Timestamp};
use clap::ValueEnum;

/// The migration tools pgadvise writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrationFormat {
    /// Plain SQL for psql -f: `<ts>_<name>.sql` and `<ts>_<name>.down.sql`.
    Sql,
    /// sqlx-cli: `<ts>_<name>.up.sql`/`.down.sql` starting with `-- no-transaction`.
    Sqlx,
    /// golang-migrate: `<ts>_<name>.up.sql` / `.down.sql`, one statement each.
    GolangMigrate,
    /// Flyway: `V<ts>__<name>.sql` with a `.sql.conf` (executeInTransaction=false).
    Flyway,
    /// dbmate: `<ts>_<name>.sql` with `-- migrate:up transaction:false`.
    Dbmate,
    /// Liquibase formatted SQL, `runInTransaction:false`.
    Liquibase,
    /// Rails: `disable_ddl_transaction!` and `algorithm: :concurrently`.
    Rails,
    /// Django: `atomic = False` and `AddIndexConcurrently`.
    Django,
    /// Alembic: `autocommit_block()` and `postgresql_concurrently=True`.
    Alembic,
}

impl MigrationFormat {
    pub const ALL: [MigrationFormat; 9] = [
        MigrationFormat::Sql,
        MigrationFormat::Sqlx,
        MigrationFormat::GolangMigrate,
        MigrationFormat::Flyway,
        MigrationFormat::Dbmate,
        MigrationFormat::Liquibase,
        MigrationFormat::Rails,
        MigrationFormat::Django,
        MigrationFormat::Alembic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MigrationFormat::Sql => "sql",
            MigrationFormat::Sqlx => "sqlx",
            MigrationFormat::GolangMigrate => "golang-migrate",
            MigrationFormat::Flyway => "flyway",
            MigrationFormat::Dbmate => "dbmate",
            MigrationFormat::Liquibase => "liquibase",
            MigrationFormat::Rails => "rails",
            MigrationFormat::Django => "django",
            MigrationFormat::Alembic => "alembic",
        }
    }

    /// The name a companion file (verification plan) gets in this format's
    /// folder: sqlx and dbmate take every `*.sql` there for a migration (and
    /// Liquibase's `includeAll` every `.sql` for a changelog), so a psql
    /// script beside them is `.psql`.
    pub fn companion_name(self, name: &str) -> String {
        match (self, name.strip_suffix(".sql")) {
            (
                MigrationFormat::Sqlx | MigrationFormat::Dbmate | MigrationFormat::Liquibase,
                Some(stem),
            ) => format!("{stem}.psql"),
            _ => name.to_string(),
        }
    }

    /// Whether the runner sends a whole file to the server as one message: then
    /// PostgreSQL runs its statements in one implicit transaction, where
    /// `CREATE INDEX CONCURRENTLY` fails beside any other statement, so the
    /// file holds that statement alone and the timeouts come from the connection.
    pub fn sends_whole_file(self) -> bool {
        matches!(
            self,
            MigrationFormat::Sqlx | MigrationFormat::GolangMigrate | MigrationFormat::Dbmate
        )
    }
}

/// The files of one migration in `format`, versioned from `at`. Returns the
/// files and how many versions (seconds) it used.
pub fn render(
    format: MigrationFormat,
    migration: &Migration,
    at: Timestamp,
) -> (Vec<OutputFile>, i64) {
    match format {
        MigrationFormat::Sql => (sql::render(migration, at), 1),
        MigrationFormat::Flyway => (flyway::render(migration, at), 1),
        MigrationFormat::Liquibase => (liquibase::render(migration, at), 1),
        MigrationFormat::Rails => (rails::render(migration, at), 1),
        MigrationFormat::Django => (django::render(migration, at), 1),
        MigrationFormat::Alembic => (alembic::render(migration, at), 1),
        MigrationFormat::Sqlx | MigrationFormat::GolangMigrate | MigrationFormat::Dbmate => {
            let parts = split_for_whole_file_runner(migration);
            let count = parts.len() as i64;
            let files = parts
                .iter()
                .enumerate()
                .flat_map(|(i, part)| {
                    let at = at.plus(i as i64);
                    match format {
                        MigrationFormat::Sqlx => sqlx::render(migration, part, at),
                        MigrationFormat::GolangMigrate => {
                            golang_migrate::render(migration, part, at)
                        }
                        _ => dbmate::render(migration, part, at),
                    }
                })
                .collect();
            (files, count)
        }
    }
}
