//! verify: what-if planning with hypopg on the live target.
//!
//! [`WhatIf`] owns one session (hypothetical indexes live in one backend and
//! are seen only by plain `EXPLAIN`), read-only and time-bounded like the
//! collector's. It plans statements as pg_stat_statements records them, with
//! `$n` parameters: the generic plan of `PREPARE` + `EXPLAIN EXECUTE q(NULL, ...)`
//! under `plan_cache_mode = force_generic_plan`. Every statement is prepared
//! under a fresh name and deallocated after its EXPLAIN, so no cached plan can
//! hide a hypothetical index created or dropped in between.
//!
//! Nothing here writes: hypopg's indexes are backend memory, PREPARE and
//! EXPLAIN (without ANALYZE) execute nothing, and the session is read-only.
//! The extension is never created: when it is missing, [`WhatIf::open`] says so
//! and the caller reports its proposals as unverified.
//!
//! [`deployed`] checks migrations after they ran (`pgadvise verify`) with the
//! same generic plans, without hypopg. The one exception to "executes
//! nothing" is [`measure`] (`verify --analyze`): plain SELECTs only, in a
//! READ ONLY transaction that is rolled back.

pub mod deployed;
pub mod measure;
pub mod outcome;
mod plan;
pub mod proposals;
pub mod select;
pub mod selectivity;
pub(crate) mod statement;

pub use plan::{PlanSummary, RelationScan};

use crate::analyze::queries::normalize_statement;
use crate::collect::{db_message, failure_kind, QueryFailure, MIN_SERVER_VERSION_NUM, SQL_TAG};
use statement::{bare_create_index, preparable, TextProblem};
use std::time::Duration;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Client;

/// Limits of the what-if session.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Per-statement cap; planning is fast, a long plan is a pathological statement.
    pub statement_timeout: Duration,
    /// PREPARE locks the tables it plans (ROW EXCLUSIVE for UPDATE/DELETE
    /// targets): give up quickly rather than queue behind a migration.
    pub lock_timeout: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            statement_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(1),
        }
    }
}

/// Why the what-if session or a hypothetical index failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verify needs PostgreSQL 13 or newer; the server is {version_num}")]
    ServerTooOld { version_num: i32 },

    #[error(
        "hypopg is not installed on the server, so index proposals cannot be verified.\n\
         Fix: install it (Debian/Ubuntu: apt-get install postgresql-{major}-hypopg), then, connected to \
         \"{database}\":\n  CREATE EXTENSION hypopg;"
    )]
    HypopgNotInstalled { database: String, major: i32 },

    #[error(
        "hypopg is installed on the server but not created in database \"{database}\", so index \
         proposals cannot be verified (pgadvise never creates extensions itself).\n\
         Fix, connected to \"{database}\":\n  CREATE EXTENSION hypopg;"
    )]
    HypopgNotCreated { database: String },

    #[error("hypopg cannot take this index definition ({reason}): {sql}")]
    IndexDefinition { sql: String, reason: String },

    #[error("no hypothetical index with oid {oid} in this session")]
    UnknownHypothetical { oid: u32 },

    #[error("{what}: {detail}")]
    Query {
        what: String,
        detail: String,
        kind: QueryFailure,
    },
}

impl VerifyError {
    fn query(what: impl Into<String>, err: &tokio_postgres::Error) -> VerifyError {
        VerifyError::Query {
            what: what.into(),
            detail: db_message(err),
            kind: failure_kind(err),
        }
    }
}

/// Why one statement could not be planned. The session stays usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct PlanError {
    pub kind: PlanFailure,
    /// The server's message (with its hint), or what was wrong with the text.
    pub detail: String,
}

/// Classes of [`PlanError`], so callers can count and explain skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanFailure {
    #[error("not exactly one statement with parameters $1..$65535")]
    NotOneStatement,
    #[error("the type of a parameter cannot be inferred from the statement")]
    ParameterTypes,
    #[error("syntax error (or a statement PREPARE cannot take)")]
    Syntax,
    #[error("refers to something missing in this database")]
    MissingObject,
    #[error("permission denied (planning needs the privileges the statement needs)")]
    Privilege,
    #[error("statement_timeout fired while planning")]
    Timeout,
    #[error("lock_timeout fired: another session holds a conflicting lock")]
    LockTimeout,
    #[error("the connection to the server was lost")]
    ConnectionLost,
    #[error("the server rejected the statement")]
    Rejected,
    #[error("unexpected EXPLAIN output")]
    BadOutput,
}

impl PlanError {
    fn from_server(err: &tokio_postgres::Error) -> PlanError {
        use tokio_postgres::error::SqlState;
        let kind = match err.code() {
            Some(c)
                if *c == SqlState::INDETERMINATE_DATATYPE
                    || *c == SqlState::AMBIGUOUS_PARAMETER =>
            {
                PlanFailure::ParameterTypes
            }
            Some(c) if *c == SqlState::SYNTAX_ERROR => PlanFailure::Syntax,
            Some(c)
                if *c == SqlState::UNDEFINED_TABLE
                    || *c == SqlState::UNDEFINED_COLUMN
                    || *c == SqlState::UNDEFINED_FUNCTION
                    || *c == SqlState::UNDEFINED_OBJECT
                    || *c == SqlState::INVALID_SCHEMA_NAME =>
            {
                PlanFailure::MissingObject
            }
            _ => match failure_kind(err) {
                QueryFailure::Timeout => PlanFailure::Timeout,
                QueryFailure::LockTimeout => PlanFailure::LockTimeout,
                QueryFailure::Privilege => PlanFailure::Privilege,
                QueryFailure::ConnectionLost => PlanFailure::ConnectionLost,
                QueryFailure::Other => PlanFailure::Rejected,
            },
        };
        PlanError {
            kind,
            detail: db_message(err),
        }
    }
}

/// A hypothetical index hypopg holds in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HypotheticalIndex {
    /// hypopg's oid for it (not a catalog oid).
    pub oid: u32,
    /// The name plans show in "Index Name", e.g. `<13542>btree_messages_conversation_id`.
    pub name: String,
    /// hypopg's size estimate from the table's statistics (and, for a partial
    /// index, the predicate's selectivity).
    pub size_bytes: i64,
}

/// A what-if planning session on one pinned connection.
pub struct WhatIf {
    client: Client,
    /// `schema.` prefix of hypopg's functions, quoted: a user object of the
    /// same name earlier in search_path must not stand in for them.
    hypopg: String,
    /// False for a plain planning session ([`WhatIf::open_plain`]).
    has_hypopg: bool,
    server_version_num: i32,
}

/// The `json` EXPLAIN returns, as text (tokio-postgres decodes json only with
/// a serde feature; the bytes are the JSON text in both wire formats).
struct JsonText(String);

impl<'a> FromSql<'a> for JsonText {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(JsonText(std::str::from_utf8(raw)?.to_string()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::TEXT
    }
}

/// The one prepared-statement name the what-if session uses (see [`WhatIf::plan_many`]).
pub const PREPARED_NAME: &str = "pgadvise_whatif";

/// Statements sent back to back before their answers are read.
const PIPELINE_DEPTH: usize = 256;

fn bad_output(detail: String) -> PlanError {
    PlanError {
        kind: PlanFailure::BadOutput,
        detail,
    }
}

/// Awaits every future, polling each one for the first time in the order
/// given: tokio-postgres sends a request on its first poll, so the server
/// receives (and runs) them in this order. `join_all` gives no such promise
/// for long lists.
async fn in_order<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use futures_util::future::MaybeDone;
    use std::future::Future as _;
    let mut pending: Vec<std::pin::Pin<Box<MaybeDone<F>>>> = futures
        .into_iter()
        .map(|f| Box::pin(futures_util::future::maybe_done(f)))
        .collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for f in pending.iter_mut() {
            if f.as_mut().poll(cx).is_pending() {
                all_done = false;
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    pending
        .iter_mut()
        .filter_map(|f| f.as_mut().take_output())
        .collect()
}

impl WhatIf {
    /// Opens the session with [`VerifyOptions::default`].
    pub async fn open(client: Client, server_version_num: i32) -> Result<WhatIf, VerifyError> {
        WhatIf::open_with(client, server_version_num, &VerifyOptions::default()).await
    }

    /// Configures `client`'s session (read-only, timeouts, generic plans),
    /// checks that hypopg is created in its database and drops any
    /// hypothetical index the backend already holds.
    pub async fn open_with(
        client: Client,
        server_version_num: i32,
        options: &VerifyOptions,
    ) -> Result<WhatIf, VerifyError> {
        let client = configure_session(client, server_version_num, options).await?;
        WhatIf::with_hypopg(client, server_version_num).await
    }

    /// A planning session without hypothetical indexes: generic plans of the
    /// real schema (`pgadvise verify`, after a migration ran). hypopg is not needed.
    pub async fn open_plain(
        client: Client,
        server_version_num: i32,
        options: &VerifyOptions,
    ) -> Result<WhatIf, VerifyError> {
        let client = configure_session(client, server_version_num, options).await?;
        Ok(WhatIf {
            client,
            hypopg: String::new(),
            has_hypopg: false,
            server_version_num,
        })
    }

    /// The session's connection (read-only, time-bounded).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn with_hypopg(client: Client, server_version_num: i32) -> Result<WhatIf, VerifyError> {
        let row = client
            .query_one(
                &format!(
                    "SELECT {SQL_TAG} current_database()::text, \
                     (SELECT n.nspname::text FROM pg_catalog.pg_extension e \
                      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
                      WHERE e.extname = 'hypopg'), \
                     EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'hypopg')"
                ),
                &[],
            )
            .await
            .map_err(|e| VerifyError::query("looking for the hypopg extension", &e))?;
        let database: String = row.get(0);
        let schema: Option<String> = row.get(1);
        let available: bool = row.get(2);
        let Some(schema) = schema else {
            return Err(if available {
                VerifyError::HypopgNotCreated { database }
            } else {
                VerifyError::HypopgNotInstalled {
                    database,
                    major: server_version_num / 10000,
                }
            });
        };
        let what_if = WhatIf {
            client,
            has_hypopg: true,
            hypopg: format!("{}.", crate::ident::quote(&schema)),
            server_version_num,
        };
        what_if.reset().await?;
        Ok(what_if)
    }
}

/// Read-only, time-bounded, generic plans: the what-if session's settings.
async fn configure_session(
    client: Client,
    server_version_num: i32,
    options: &VerifyOptions,
) -> Result<Client, VerifyError> {
    if server_version_num < MIN_SERVER_VERSION_NUM {
        return Err(VerifyError::ServerTooOld {
            version_num: server_version_num,
        });
    }
    crate::collect::untrack_session(&client)
        .await
        .map_err(|e| VerifyError::query("configuring the what-if session", &e))?;
    let millis = |d: Duration| d.as_millis().max(1);
    let settings = [
        "default_transaction_read_only = on".to_string(),
        format!("statement_timeout = {}", millis(options.statement_timeout)),
        format!("lock_timeout = {}", millis(options.lock_timeout)),
        // With parameters bound to NULL a custom plan would be meaningless.
        "plan_cache_mode = force_generic_plan".to_string(),
        // ...and the executor's initial pruning would remove every partition
        // of a statement filtering on the partition key (nothing matches
        // NULL), hiding the scans and the indexes they read. A generic plan
        // prunes nothing at plan time, so its cost does not change.
        "enable_partition_pruning = off".to_string(),
    ];
    for setting in settings {
        client
            .batch_execute(&format!("SET {SQL_TAG} {setting}"))
            .await
            .map_err(|e| VerifyError::query(format!("SET {setting}"), &e))?;
    }

    Ok(client)
}

impl WhatIf {
    /// The server version this session was opened for.
    pub fn server_version_num(&self) -> i32 {
        self.server_version_num
    }

    /// The generic plan of one statement, seeing the hypothetical indexes that
    /// exist now. pg_stat_statements' typed literals (`interval $1`) are
    /// rewritten to casts first.
    pub async fn plan(&self, sql: &str) -> Result<PlanSummary, PlanError> {
        self.plan_many(&[sql])
            .await
            .pop()
            .unwrap_or_else(|| Err(bad_output("no plan came back".to_string())))
    }

    /// [`WhatIf::plan`] for many statements, pipelined on the one connection.
    /// Results come back in the order of `sqls`; one failure does not affect
    /// the others (each request ends in its own Sync, outside any transaction
    /// block).
    ///
    /// Every statement is prepared under the same name, [`PREPARED_NAME`]:
    /// `PREPARE`, `EXPLAIN ... EXECUTE`, `DEALLOCATE`, in that order, sent
    /// back to back. The server runs them in the order they were sent, so
    /// each EXPLAIN sees its own statement, freshly planned (no cached plan
    /// can hide a hypothetical index), and pg_stat_statements, which keys
    /// `EXPLAIN` by its text, sees one entry per parameter count instead of
    /// one per statement.
    pub async fn plan_many(&self, sqls: &[&str]) -> Vec<Result<PlanSummary, PlanError>> {
        let mut results = Vec::with_capacity(sqls.len());
        for chunk in sqls.chunks(PIPELINE_DEPTH) {
            results.extend(self.plan_chunk(chunk).await);
        }
        results
    }

    async fn plan_chunk(&self, sqls: &[&str]) -> Vec<Result<PlanSummary, PlanError>> {
        let texts: Vec<Result<statement::PreparedText, PlanError>> = sqls
            .iter()
            .map(|sql| {
                preparable(&normalize_statement(sql)).map_err(|problem| PlanError {
                    kind: PlanFailure::NotOneStatement,
                    detail: match problem {
                        TextProblem::Empty => "the text holds no statement".to_string(),
                        TextProblem::MultipleStatements => {
                            "the text holds more than one statement".to_string()
                        }
                        TextProblem::BadParameter(p) => format!("parameter {p} is out of range"),
                    },
                })
            })
            .collect();
        // Three requests per statement, created in order; `in_order` polls
        // each one first in that order, which is when tokio-postgres sends it.
        let mut requests = Vec::with_capacity(texts.len() * 3);
        for text in texts.iter().flatten() {
            let arguments = if text.parameter_count == 0 {
                String::new()
            } else {
                format!("({})", vec!["NULL"; text.parameter_count].join(", "))
            };
            requests.push(format!("PREPARE {SQL_TAG} {PREPARED_NAME} AS {}", text.sql));
            requests.push(format!(
                "EXPLAIN {SQL_TAG} (FORMAT JSON) EXECUTE {PREPARED_NAME}{arguments}"
            ));
            requests.push(format!("DEALLOCATE {SQL_TAG} {PREPARED_NAME}"));
        }
        let answers = in_order(
            requests
                .iter()
                .map(|sql| self.client.query_typed(sql, &[]))
                .collect(),
        )
        .await;
        let mut answers = answers.into_iter();
        texts
            .into_iter()
            .map(|text| {
                text?;
                let (prepared, explained, _deallocated) =
                    match (answers.next(), answers.next(), answers.next()) {
                        (Some(p), Some(e), Some(d)) => (p, e, d),
                        _ => return Err(bad_output("a pipelined answer is missing".into())),
                    };
                // A failed PREPARE explains why; the EXPLAIN then only says
                // the name is unknown. A failed DEALLOCATE (after a failed
                // PREPARE) changes nothing: the name is free either way.
                prepared.map_err(|e| PlanError::from_server(&e))?;
                let rows = explained.map_err(|e| PlanError::from_server(&e))?;
                let json = rows
                    .first()
                    .map(|row| row.try_get::<_, JsonText>(0))
                    .transpose()
                    .map_err(|e| bad_output(e.to_string()))?
                    .ok_or_else(|| bad_output("EXPLAIN returned no row".to_string()))?;
                plan::summarize(&json.0).map_err(bad_output)
            })
            .collect()
    }

    /// Creates a hypothetical index. Accepts any `CREATE [UNIQUE] INDEX`
    /// statement; CONCURRENTLY, IF NOT EXISTS and the index name are dropped
    /// before hypopg sees it (it names its indexes itself and builds nothing).
    /// Plans made afterwards see the index.
    pub async fn create_hypothetical(
        &self,
        create_index_sql: &str,
    ) -> Result<HypotheticalIndex, VerifyError> {
        if !self.has_hypopg {
            return Err(VerifyError::IndexDefinition {
                sql: create_index_sql.to_string(),
                reason: "this planning session was opened without hypopg".to_string(),
            });
        }
        let bare =
            bare_create_index(create_index_sql).map_err(|reason| VerifyError::IndexDefinition {
                sql: create_index_sql.to_string(),
                reason,
            })?;
        let hypopg = &self.hypopg;
        let rows = self
            .client
            .query_typed(
                &format!(
                    "SELECT {SQL_TAG} h.indexrelid, h.indexname::text, {hypopg}hypopg_relation_size(h.indexrelid) \
                     FROM {hypopg}hypopg_create_index($1) h"
                ),
                &[(&bare, Type::TEXT)],
            )
            .await
            .map_err(|e| VerifyError::query(format!("hypopg rejected {bare}"), &e))?;
        let row = match rows.as_slice() {
            [row] => row,
            _ => {
                return Err(VerifyError::IndexDefinition {
                    sql: create_index_sql.to_string(),
                    reason: format!("hypopg created {} indexes instead of one", rows.len()),
                })
            }
        };
        let read = |e: tokio_postgres::Error| VerifyError::query("reading hypopg's answer", &e);
        Ok(HypotheticalIndex {
            oid: row.try_get(0).map_err(read)?,
            name: row.try_get(1).map_err(read)?,
            size_bytes: row.try_get(2).map_err(read)?,
        })
    }

    /// [`WhatIf::create_hypothetical`] for many definitions, pipelined.
    pub async fn create_many(&self, sqls: &[&str]) -> Vec<Result<HypotheticalIndex, VerifyError>> {
        let mut results = Vec::with_capacity(sqls.len());
        for chunk in sqls.chunks(PIPELINE_DEPTH) {
            results.extend(
                in_order(
                    chunk
                        .iter()
                        .map(|sql| self.create_hypothetical(sql))
                        .collect(),
                )
                .await,
            );
        }
        results
    }

    /// [`WhatIf::drop_hypothetical`] for many, pipelined.
    pub async fn drop_many(&self, oids: &[u32]) -> Result<(), VerifyError> {
        for chunk in oids.chunks(PIPELINE_DEPTH) {
            in_order(
                chunk
                    .iter()
                    .map(|oid| self.drop_hypothetical(*oid))
                    .collect(),
            )
            .await
            .into_iter()
            .collect::<Result<Vec<()>, VerifyError>>()?;
        }
        Ok(())
    }

    /// Drops one hypothetical index.
    pub async fn drop_hypothetical(&self, oid: u32) -> Result<(), VerifyError> {
        let hypopg = &self.hypopg;
        let row = self
            .client
            .query_typed(
                &format!("SELECT {SQL_TAG} {hypopg}hypopg_drop_index($1)"),
                &[(&oid, Type::OID)],
            )
            .await
            .map_err(|e| VerifyError::query(format!("dropping hypothetical index {oid}"), &e))?;
        let dropped: Option<bool> = row
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| VerifyError::query("reading hypopg_drop_index's answer", &e))?;
        if dropped == Some(true) {
            Ok(())
        } else {
            Err(VerifyError::UnknownHypothetical { oid })
        }
    }

    /// Drops every hypothetical index of this session.
    pub async fn reset(&self) -> Result<(), VerifyError> {
        if !self.has_hypopg {
            return Ok(());
        }
        self.client
            .query_typed(
                &format!("SELECT {SQL_TAG} {}hypopg_reset()", self.hypopg),
                &[],
            )
            .await
            .map_err(|e| VerifyError::query("hypopg_reset()", &e))?;
        Ok(())
    }

    /// Leaves the backend as it was found: no hypothetical index, no prepared
    /// statement. The connection closes when the client drops.
    pub async fn close(self) -> Result<(), VerifyError> {
        self.reset().await?;
        self.client
            .batch_execute(&format!("DEALLOCATE {SQL_TAG} ALL"))
            .await
            .map_err(|e| VerifyError::query("DEALLOCATE ALL", &e))
    }
}
