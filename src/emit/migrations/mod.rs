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
mod flyway;
mod golang_migrate;
pub mod index;
mod liquibase;
pub mod plan;
mod rails;
mod sql;
mod sqlx;

use crate::ident;
use crate::snapshot::QualifiedName;
use clap::ValueEnum;
use std::path::{Path, PathBuf};

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

/// One index, described for the formats that build DDL themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub table: QualifiedName,
    /// `ON ONLY parent`: a partitioned table's index, without its partitions.
    pub only: bool,
    pub concurrently: bool,
    pub method: String,
    /// Keys as SQL (`created_at DESC`, `(lower(email))`), quoted as needed.
    pub keys_sql: Vec<String>,
    /// Keys as a framework describes them: a column and its direction, or
    /// `None` for an expression or a non-default NULLS order.
    pub keys: Vec<Option<(String, bool)>>,
    pub include: Vec<String>,
    /// The partial predicate as SQL.
    pub predicate_sql: Option<String>,
    /// The predicate as conjuncts a framework can express (column, test).
    pub predicate: Vec<PredicateTest>,
}

/// A partial-index conjunct on one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredicateKind {
    IsNull,
    IsNotNull,
    IsTrue,
    IsFalse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredicateTest {
    pub column: String,
    pub kind: PredicateKind,
}

impl IndexDefinition {
    /// The CREATE INDEX statement, idempotent.
    pub fn sql(&self) -> String {
        let mut sql = format!(
            "CREATE INDEX {}IF NOT EXISTS {} ON {}{} USING {} ({})",
            if self.concurrently {
                "CONCURRENTLY "
            } else {
                ""
            },
            ident::quote(&self.name),
            if self.only { "ONLY " } else { "" },
            self.table,
            self.method,
            self.keys_sql.join(", ")
        );
        if !self.include.is_empty() {
            let cols: Vec<String> = self.include.iter().map(|c| ident::quote(c)).collect();
            sql.push_str(&format!(" INCLUDE ({})", cols.join(", ")));
        }
        if let Some(p) = &self.predicate_sql {
            sql.push_str(&format!(" WHERE {p}"));
        }
        sql
    }

    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName::new(&self.table.schema, &self.name)
    }
}

/// One statement of a migration.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateIndex(IndexDefinition),
    DropIndex {
        index: QualifiedName,
        /// The table, for frameworks that name it (`remove_index`).
        table: QualifiedName,
        concurrently: bool,
    },
    /// Any other statement, as SQL.
    Sql(String),
}

impl Step {
    pub fn sql(&self) -> String {
        match self {
            Step::CreateIndex(d) => d.sql(),
            Step::DropIndex {
                index,
                concurrently,
                ..
            } => format!(
                "DROP INDEX {}IF EXISTS {index}",
                if *concurrently { "CONCURRENTLY " } else { "" }
            ),
            Step::Sql(sql) => sql.clone(),
        }
    }

    /// Whether PostgreSQL refuses to run it inside a transaction block.
    pub fn forbids_transaction(&self) -> bool {
        match self {
            Step::CreateIndex(d) => d.concurrently,
            Step::DropIndex { concurrently, .. } => *concurrently,
            Step::Sql(_) => false,
        }
    }
}

/// A session setting the migration wants while it runs (`lock_timeout`).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSetting {
    pub name: String,
    /// The value as SQL (`'5s'`, `0`).
    pub value: String,
}

impl SessionSetting {
    pub fn set_sql(&self) -> String {
        format!("SET {} = {}", self.name, self.value)
    }

    /// `-c name=value` for libpq's `options`, value unquoted.
    pub fn option(&self) -> String {
        format!("-c {}={}", self.name, self.value.trim_matches('\''))
    }
}

/// A format-neutral migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Identity across runs, written into every file as the
    /// `pgadvise-migration:` marker: `add_index public.messages_x_idx`.
    pub id: String,
    /// File-name part: `add_messages_x_idx` (lower-case ASCII, `_`).
    pub name: String,
    /// What it is for; comment lines without the comment marker.
    pub header: Vec<String>,
    pub up: Vec<Step>,
    pub down: Vec<Step>,
    /// Settings for the session that runs it. Runners that split statements
    /// get them as `SET` in the file; the others through the connection.
    pub settings: Vec<SessionSetting>,
    /// Each statement must run alone outside a transaction: runners that send
    /// a whole file as one message get one file per up statement.
    pub statements_run_alone: bool,
}

impl Migration {
    pub fn marker(&self) -> String {
        format!("pgadvise-migration: {}", self.id)
    }

    /// The libpq `options` value carrying the settings: `-c lock_timeout=5s -c ...`.
    pub fn connection_options(&self) -> String {
        self.settings
            .iter()
            .map(SessionSetting::option)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Header lines for a file that sets the session itself.
    fn header_with_settings_in_file(&self) -> Vec<String> {
        let mut lines = vec![self.marker()];
        lines.extend(self.header.iter().cloned());
        if !self.settings.is_empty() {
            lines.push(format!(
                "Timeouts: set at the top of this file ({}); statement_timeout 0, so no timeout cuts a long build short.",
                self.settings
                    .iter()
                    .map(SessionSetting::set_sql)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        lines
    }

    /// Header lines for a file whose runner sends it as one message.
    fn header_with_settings_on_connection(&self, runner: &str) -> Vec<String> {
        let mut lines = vec![self.marker()];
        lines.extend(self.header.iter().cloned());
        if !self.settings.is_empty() {
            lines.push(format!(
                "Timeouts: {runner} sends this file as one message, where CONCURRENTLY fails beside a SET, \
                 so this file sets no timeout: run it on a connection with options='{}' \
                 (URL: ?options={}), or ALTER ROLE ... SET lock_timeout.",
                self.connection_options(),
                url_encode(&self.connection_options())
            ));
        }
        lines
    }
}

/// Percent-encodes for a URL query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A file to write, relative to the output folder.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    pub name: String,
    pub contents: String,
}

/// A migration version: `YYYYMMDDHHMMSS` in UTC, plus an offset in seconds so
/// that several migrations of one run keep their order and unique versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub unix_seconds: i64,
}

impl Timestamp {
    pub fn now() -> Timestamp {
        let unix_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Timestamp { unix_seconds }
    }

    pub fn plus(self, seconds: i64) -> Timestamp {
        Timestamp {
            unix_seconds: self.unix_seconds + seconds,
        }
    }

    /// `YYYYMMDDHHMMSS`.
    pub fn version(self) -> String {
        let days = self.unix_seconds.div_euclid(86_400);
        let secs = self.unix_seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
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

/// One file's worth of a migration for a runner that sends whole files.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// File-name part: the migration's name, with `_<n>of<m>` when split.
    pub name: String,
    pub up: Vec<Step>,
    pub down: Vec<Step>,
    /// Said in the down file when this part's down is done by another part.
    pub down_note: Option<String>,
}

/// Splits a migration whose statements must run alone into one part per up
/// statement. The whole down goes with the first part (rolled back last);
/// the later parts' downs are empty, since rolling back the first undoes them.
pub(crate) fn split_for_whole_file_runner(migration: &Migration) -> Vec<Part> {
    if !migration.statements_run_alone || migration.up.len() <= 1 {
        return vec![Part {
            name: migration.name.clone(),
            up: migration.up.clone(),
            down: migration.down.clone(),
            down_note: None,
        }];
    }
    let total = migration.up.len();
    let first = format!("{}_1of{total}", migration.name);
    migration
        .up
        .iter()
        .enumerate()
        .map(|(i, step)| Part {
            name: format!("{}_{}of{total}", migration.name, i + 1),
            up: vec![step.clone()],
            down: if i == 0 {
                migration.down.clone()
            } else {
                Vec::new()
            },
            down_note: (i > 0).then(|| {
                format!("Nothing to undo here: rolling back {first} drops the whole index.")
            }),
        })
        .collect()
}

/// `-- ` comment lines.
pub(crate) fn sql_comments(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            out.push_str("--\n");
        } else {
            for l in line.lines() {
                out.push_str(&format!("-- {l}\n"));
            }
        }
    }
    out
}

/// `# ` comment lines (Ruby, Python, properties files).
pub(crate) fn hash_comments(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            for l in line.lines() {
                out.push_str(&format!("# {l}\n"));
            }
        }
    }
    out
}

/// Statements, each ending in `;` on its own line.
pub(crate) fn statements_sql(steps: &[Step]) -> String {
    steps.iter().map(|s| format!("{};\n", s.sql())).collect()
}

/// The squawk rules a file relies on the connection for, when it sets no timeout.
pub(crate) const SQUAWK_CONNECTION_TIMEOUT_RULES: &str =
    "require-lock-timeout, require-statement-timeout";

/// A `-- squawk-ignore-file` line for what a file cannot do otherwise, with
/// the reason: no in-file timeouts where the runner sends the file as one
/// message (the header names the connection setting instead), and the
/// non-concurrent DDL PostgreSQL requires for partitioned indexes.
pub(crate) fn squawk_ignores(steps: &[Step], settings_in_file: bool) -> String {
    let mut rules = Vec::new();
    let mut reasons = Vec::new();
    if !settings_in_file && !steps.is_empty() {
        rules.push(SQUAWK_CONNECTION_TIMEOUT_RULES);
        reasons.push("timeouts come from the connection (see Timeouts below)");
    }
    if steps.iter().any(|s| {
        matches!(
            s,
            Step::DropIndex {
                concurrently: false,
                ..
            }
        )
    }) {
        rules.push("require-concurrent-index-deletion");
        reasons.push("PostgreSQL refuses DROP INDEX CONCURRENTLY on a partitioned index");
    }
    if steps
        .iter()
        .any(|s| matches!(s, Step::CreateIndex(d) if !d.concurrently))
    {
        rules.push("require-concurrent-index-creation");
        reasons.push(
            "CREATE INDEX ... ON ONLY a partitioned table builds nothing and cannot be concurrent",
        );
    }
    if rules.is_empty() {
        return String::new();
    }
    format!(
        "-- squawk-ignore-file {}
-- (squawk: {}.)
",
        rules.join(", "),
        reasons.join("; ")
    )
}

/// FNV-1a, 64 bits: stable across platforms and Rust versions.
pub(crate) fn fnv64(text: &str) -> u64 {
    crate::hash::fnv1a_64(text)
}

/// What writing the migrations did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    /// Files written, in order.
    pub written: Vec<PathBuf>,
    /// Migrations already in the folder (by marker): (id, the file holding it).
    pub already_present: Vec<(String, PathBuf)>,
}

/// Why migrations could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} already exists and is not pgadvise's file for this migration; not overwriting it (use --force to replace it)",
        path.display()
    )]
    WouldOverwrite { path: PathBuf },
}

impl WriteError {
    pub fn path(&self) -> &Path {
        match self {
            WriteError::Io { path, .. } | WriteError::WouldOverwrite { path } => path,
        }
    }
}

/// Files of `dir` whose text carries a `pgadvise-migration:` marker: (id, path).
fn existing_markers(dir: &Path) -> Result<Vec<(String, PathBuf)>, WriteError> {
    let io = |source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if !path.is_file() {
            continue;
        }
        // Migrations are small; anything unreadable as text is not ours.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for id in markers_in(&text) {
            found.push((id, path.clone()));
        }
    }
    found.sort();
    Ok(found)
}

/// The migration ids a file's text names (`pgadvise-migration: <id>` in a
/// comment, `"pgadvise_migration": "<id>"` in a verification plan).
fn markers_in(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    // A verification plan: the JSON value, unescaped.
    if let Ok(serde_json::Value::Object(plan)) = serde_json::from_str(text) {
        if let Some(serde_json::Value::String(id)) = plan.get("pgadvise_migration") {
            ids.push(id.clone());
        }
        return ids;
    }
    for line in text.lines() {
        if let Some(at) = line.find("pgadvise-migration: ") {
            let id = line[at + "pgadvise-migration: ".len()..].trim();
            ids.push(id.trim_end_matches(['"', ',']).to_string());
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Writes each migration's files (and what `extra` adds, e.g. its verification
/// plan) into `dir`, created if missing. A migration whose marker is already
/// in a file of `dir` is skipped, whatever its timestamp, unless `force`: then
/// its old files are removed and it is written anew. A file of that name that
/// is not this migration's is never overwritten unless `force`.
pub fn write_migrations(
    dir: &Path,
    format: MigrationFormat,
    migrations: &[(Migration, Vec<OutputFile>)],
    at: Timestamp,
    force: bool,
) -> Result<WriteOutcome, WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let existing = existing_markers(dir)?;
    let mut outcome = WriteOutcome::default();
    let mut next = at;
    for (migration, extra) in migrations {
        let old: Vec<&PathBuf> = existing
            .iter()
            .filter(|(id, _)| *id == migration.id)
            .map(|(_, p)| p)
            .collect();
        if let Some(first) = old.first() {
            if !force {
                outcome
                    .already_present
                    .push((migration.id.clone(), (*first).clone()));
                continue;
            }
            for path in &old {
                std::fs::remove_file(path).map_err(|source| WriteError::Io {
                    path: (*path).clone(),
                    source,
                })?;
            }
        }
        let (mut files, used) = render(format, migration, next);
        let stem = format!("{}_{}", next.version(), migration.name);
        next = next.plus(used.max(1));
        files.extend(extra.iter().map(|f| OutputFile {
            name: format.companion_name(&f.name.replace("{stem}", &stem)),
            contents: f.contents.replace("{stem}", &stem),
        }));
        for file in &files {
            let path = dir.join(&file.name);
            if path.exists() && !force {
                return Err(WriteError::WouldOverwrite { path });
            }
        }
        for file in files {
            let path = dir.join(&file.name);
            crate::emit::write_atomically(&path, file.contents.as_bytes()).map_err(|source| {
                WriteError::Io {
                    path: path.clone(),
                    source,
                }
            })?;
            outcome.written.push(path);
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
