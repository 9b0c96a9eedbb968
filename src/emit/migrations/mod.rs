//! Migration files in the format of the team's migration tool.
//!
//! A [`Migration`] is format-neutral: a name, the up and down [`Step`]s, the
//! header lines that say what it is for, the session settings it wants
//! (`lock_timeout`) and whether its statements must each run alone, outside any
//! transaction (`CREATE INDEX CONCURRENTLY`). Each format module renders it into
//! the files its runner reads; [`write_migrations`] writes them without
//! duplicating a migration already in the folder and without overwriting a file.
//!
//! Index proposals become migrations in [`index`]; anything else that adds or
//! drops an index (health findings) can build a [`Migration`] the same way.

mod alembic;
mod dbmate;
mod django;
pub mod drop;
mod file_text;
mod flyway;
mod golang_migrate;
pub mod index;
mod liquibase;
mod model;
pub mod plan;
mod rails;
mod sql;
mod sqlx;
mod tool;
mod version;
mod writer;

pub(crate) use file_text::{
    hash_comments, split_for_whole_file_runner, sql_comments, squawk_ignores, statements_sql, Part,
};
pub use model::{
    url_encode, IndexDefinition, Migration, OutputFile, PredicateKind, PredicateTest,
    SessionSetting, Step,
};
pub use tool::{render, MigrationFormat};
pub use version::Timestamp;
pub use writer::{write_migrations, WriteError, WriteOutcome};

/// FNV-1a, 64 bits: stable across platforms and Rust versions.
pub(crate) fn fnv64(text: &str) -> u64 {
    crate::hash::fnv1a_64(text)
}

#[cfg(test)]
mod tests;
