//! collect: the only code that reads the target database.
//!
//! One session, read-only (`default_transaction_read_only`), with short
//! `statement_timeout` and `lock_timeout`, reads everything the advisor reasons
//! about into a [`Snapshot`]. Version differences between PostgreSQL 13 and 18
//! (renamed columns, new views) live here and nowhere else. collect decides
//! nothing: it reports what it read, plus warnings about completeness.

mod activity;
mod relations;
mod sampling;
mod server;
mod statements;

pub mod connect;
pub mod conninfo;
pub mod mask;
pub use server::local_cores;

use crate::snapshot::{Snapshot, FORMAT_VERSION};
use std::time::Duration;
use tokio_postgres::Client;

/// Every statement pgadvise sends carries this comment right after its first
/// keyword, so its own statements can be recognised (and skipped) in
/// pg_stat_statements. Not at the very start: PostgreSQL 18 drops leading
/// comments from the recorded text.
pub const SQL_TAG: &str = "/* pgadvise */";

/// Whether a statement text is one of pgadvise's own.
pub fn is_own_statement(query: &str) -> bool {
    query.contains(SQL_TAG)
}

/// Oldest server pgadvise supports.
pub const MIN_SERVER_VERSION_NUM: i32 = 130000;

/// How the collector behaves.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Per-statement cap on the target server.
    pub statement_timeout: Duration,
    /// How long a statement may wait for a lock before giving up (it never should).
    pub lock_timeout: Duration,
    /// Fail when pg_stat_statements cannot be read. Off only for inputs that
    /// bring their own queries.
    pub require_statements: bool,
    /// `user@host:port/database`, without password, for the snapshot's source.
    pub target: String,
    /// Watch pg_stat_activity this long for the pool verdict; `None` skips it.
    pub sample_window: Option<Duration>,
    /// Show a progress bar on stderr while sampling (drawn only on a terminal).
    pub show_progress: bool,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(1),
            require_statements: true,
            target: String::new(),
            sample_window: None,
            show_progress: false,
        }
    }
}

/// Why collection failed. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("the server runs PostgreSQL {version}; pgadvise supports PostgreSQL 13 and newer")]
    ServerTooOld { version: String },

    #[error(
        "pg_stat_statements is not loaded: it is missing from shared_preload_libraries (now '{current}').\n\
         Fix, as a superuser:\n  \
         ALTER SYSTEM SET shared_preload_libraries = '{suggested}';\n\
         then restart the server, and in database \"{database}\":\n  \
         CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
    )]
    StatementsNotPreloaded {
        current: String,
        suggested: String,
        database: String,
    },

    #[error(
        "the pg_stat_statements extension is not created in database \"{database}\" \
         (the library is loaded, so no restart is needed).\n\
         Fix, as a superuser or the database owner, connected to \"{database}\":\n  \
         CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
    )]
    StatementsNotCreated { database: String },

    #[error(
        "role \"{role}\" may not read the text of any of the {hidden} statements in pg_stat_statements \
         (they show as <insufficient privilege>).\n\
         Fix, as a superuser:\n  GRANT pg_read_all_stats TO \"{role}\";\n\
         (or GRANT pg_monitor, which includes it)"
    )]
    StatementsHidden { role: String, hidden: i64 },

    #[error("{what}: {detail}")]
    Query {
        what: &'static str,
        detail: String,
        kind: QueryFailure,
    },
}

/// How a statement of the collector failed; the caller maps these to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFailure {
    /// statement_timeout fired.
    Timeout,
    /// lock_timeout fired: something holds a conflicting lock.
    LockTimeout,
    /// The role lacks a privilege.
    Privilege,
    /// The connection broke (server stopped, network).
    ConnectionLost,
    Other,
}

impl CollectError {
    /// Wraps a driver error, classifying it and adding a hint where one helps.
    pub(crate) fn query(what: &'static str, err: tokio_postgres::Error) -> CollectError {
        let kind = failure_kind(&err);
        let detail = match kind {
            QueryFailure::Timeout => format!(
                "{} (pgadvise's statement_timeout; raise it with --statement-timeout)",
                db_message(&err)
            ),
            QueryFailure::LockTimeout => format!(
                "{} (another session holds a conflicting lock; pgadvise gave up rather than wait — \
                 retry later or raise --lock-timeout)",
                db_message(&err)
            ),
            QueryFailure::Privilege => format!(
                "{} (grant the role pg_monitor or pg_read_all_stats; see README, Safety)",
                db_message(&err)
            ),
            QueryFailure::ConnectionLost if err.code().is_none() => {
                "the connection to the server was lost (the server stopped or restarted, or an administrator ended the session)".into()
            }
            // The server said why as it ended the session (a termination
            // arriving during a query): the same loss, with its words.
            QueryFailure::ConnectionLost => format!(
                "the connection to the server was lost: {}",
                db_message(&err)
            ),
            QueryFailure::Other => db_message(&err),
        };
        CollectError::Query { what, detail, kind }
    }
}

/// How a driver error failed, for every module that talks to the target.
pub(crate) fn failure_kind(err: &tokio_postgres::Error) -> QueryFailure {
    use tokio_postgres::error::SqlState;
    match err.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => QueryFailure::Timeout,
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => QueryFailure::LockTimeout,
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => QueryFailure::Privilege,
        Some(c)
            if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW =>
        {
            QueryFailure::ConnectionLost
        }
        Some(_) => QueryFailure::Other,
        None if err.is_closed() || err.to_string().contains("connection closed") => {
            QueryFailure::ConnectionLost
        }
        None => QueryFailure::Other,
    }
}

pub(crate) fn db_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.hint() {
            Some(hint) => format!("{} (server hint: {hint})", db.message()),
            None => db.message().to_string(),
        },
        None => error_chain(err),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Milliseconds, as PostgreSQL's timeout settings take them.
fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// Makes the session safe to point at production: read-only, bounded in time,
/// and immune to a hostile search_path.
async fn configure_session(client: &Client, options: &CollectOptions) -> Result<(), CollectError> {
    untrack_session(client)
        .await
        .map_err(|e| CollectError::query("configuring the read-only session", e))?;
    // One statement per message: pg_stat_statements records each statement of a
    // multi-statement string without the leading tag.
    let settings = [
        "default_transaction_read_only = on".to_string(),
        format!("statement_timeout = {}", millis(options.statement_timeout)),
        format!("lock_timeout = {}", millis(options.lock_timeout)),
        format!(
            "idle_in_transaction_session_timeout = {}",
            millis(options.statement_timeout)
        ),
    ];
    for sql in settings {
        client
            .batch_execute(&format!("SET {SQL_TAG} {sql}"))
            .await
            .map_err(|e| CollectError::query("configuring the read-only session", e))?;
    }
    Ok(())
}

/// Stops pg_stat_statements from recording this session's own statements,
/// where the role may (`pg_stat_statements.track` is superuser-only): the
/// statistics pgadvise reads are other tools' data too, and every entry it
/// adds can evict one of the workload's. Elsewhere pgadvise's statements are
/// recorded, each text always the same, so repeated scans add no new entries.
/// The first statement of a session, so none before it is recorded.
pub(crate) async fn untrack_session(client: &Client) -> Result<(), tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "SELECT {SQL_TAG} current_setting('is_superuser') = 'on' \
                 AND EXISTS (SELECT FROM pg_catalog.pg_settings WHERE name = 'pg_stat_statements.track')"
            ),
            &[],
        )
        .await?;
    if row.get::<_, bool>(0) {
        client
            .batch_execute(&format!("SET {SQL_TAG} pg_stat_statements.track = none"))
            .await?;
    }
    Ok(())
}

/// Reads everything into a snapshot.
pub async fn collect(client: &Client, options: &CollectOptions) -> Result<Snapshot, CollectError> {
    configure_session(client, options).await?;
    let identity = server::identity(client).await?;
    if identity.server.version_num < MIN_SERVER_VERSION_NUM {
        return Err(CollectError::ServerTooOld {
            version: identity.server.version.clone(),
        });
    }
    // Unqualified names in our own SQL must mean the catalog's objects, whatever
    // the role's search_path holds. The user's path was read above, for analysis.
    client
        .batch_execute(&format!("SET {SQL_TAG} search_path = pg_catalog, pg_temp"))
        .await
        .map_err(|e| CollectError::query("setting a safe search_path", e))?;

    let version_num = identity.server.version_num;
    let settings = server::settings(client).await?;
    let (extensions, available_extensions) = server::extensions(client).await?;
    let mut warnings = Vec::new();

    let statements = statements::read(
        client,
        &identity,
        &settings,
        &extensions,
        options,
        &mut warnings,
    )
    .await?;
    let tables = relations::tables(client, version_num).await?;
    let indexes = relations::indexes(client, version_num).await?;
    let foreign_keys = relations::foreign_keys(client).await?;
    let views = relations::views(client).await?;
    let operator_classes = relations::operator_classes(client).await?;
    let database_collation = relations::database_collation(client).await?;
    let activity = activity::sample(client, version_num).await?;
    let database = activity::database_stats(client, version_num).await?;
    let pool_window = match options.sample_window {
        Some(window) => {
            Some(sampling::watch(client, version_num, window, options.show_progress).await?)
        }
        None => None,
    };

    if !extensions.iter().any(|e| e.name == "hypopg") {
        let note = if available_extensions
            .iter()
            .any(|e| e.name == "hypopg" && e.default_version.is_some())
        {
            "hypopg is installed on the server but not created in this database: index proposals \
             will be unverified (CREATE EXTENSION hypopg; to verify them with hypothetical indexes)"
        } else {
            "hypopg is not installed on the server: index proposals will be unverified \
             (Debian/Ubuntu: apt-get install postgresql-<major>-hypopg, then CREATE EXTENSION hypopg;)"
        };
        warnings.push(note.to_string());
    }
    let columns_without_stats = tables
        .iter()
        .filter(|t| t.kind != crate::snapshot::TableKind::ForeignTable)
        .filter(|t| t.reltuples > 0.0)
        .filter(|t| t.columns.iter().all(|c| c.stats.is_none()))
        .count();
    if columns_without_stats > 0 {
        warnings.push(format!(
            "{columns_without_stats} table(s) with rows have no readable pg_stats (never analyzed, or the role \
             lacks SELECT on them): selectivity estimates for partial indexes will be missing there"
        ));
    }

    Ok(Snapshot {
        format_version: FORMAT_VERSION,
        pgadvise_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at: identity.now.clone(),
        source: crate::snapshot::Source {
            target: options.target.clone(),
            database: identity.database.clone(),
            user: identity.user.clone(),
            in_recovery: identity.in_recovery,
            database_oid: Some(identity.database_oid),
            system_identifier: identity.system_identifier.clone(),
        },
        server: identity.server.clone(),
        settings,
        extensions,
        available_extensions,
        search_path: identity.search_path.clone(),
        statements,
        tables,
        indexes,
        foreign_keys,
        views,
        activity,
        database,
        pool_window,
        operator_classes,
        database_collation,
        warnings,
    })
}

/// SQL that renders a timestamptz as ISO 8601 UTC text (NULL stays NULL).
pub(crate) fn iso(expr: &str) -> String {
    format!("to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}
