//! Who and what the server is: version, identity, settings, extensions.

use super::{iso, CollectError, SQL_TAG};
use crate::snapshot::{AvailableExtension, Extension, Server, Setting};
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Settings the advisor reasons about. Names a server does not know are simply absent.
pub(crate) const SETTINGS: &[&str] = &[
    "server_version_num",
    "block_size",
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "seq_page_cost",
    "effective_io_concurrency",
    "default_statistics_target",
    "plan_cache_mode",
    "jit",
    "max_parallel_workers_per_gather",
    "track_activities",
    "track_counts",
    "track_io_timing",
    "track_functions",
    "track_activity_query_size",
    "compute_query_id",
    "shared_preload_libraries",
    "pg_stat_statements.max",
    "pg_stat_statements.track",
    "pg_stat_statements.track_utility",
    "pg_stat_statements.track_planning",
    "pg_stat_statements.save",
    "autovacuum",
    "autovacuum_naptime",
    "autovacuum_max_workers",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_analyze_scale_factor",
    "autovacuum_vacuum_cost_limit",
    "autovacuum_vacuum_cost_delay",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "default_transaction_read_only",
    "hot_standby",
    "hot_standby_feedback",
    "max_wal_size",
    "checkpoint_timeout",
];

/// The server and the session's place on it.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub server: Server,
    pub database: String,
    pub user: String,
    pub in_recovery: bool,
    pub search_path: Vec<String>,
    pub now: String,
}

pub(crate) async fn identity(client: &Client) -> Result<Identity, CollectError> {
    let sql = format!(
        "SELECT {SQL_TAG} current_setting('server_version'), \
         current_setting('server_version_num')::int4, current_database()::text, \
         current_user::text, pg_is_in_recovery(), current_schemas(false)::text[], {}",
        iso("now()")
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading the server version", e))?;
    Ok(Identity {
        server: Server {
            version: row.get(0),
            version_num: row.get(1),
        },
        database: row.get(2),
        user: row.get(3),
        in_recovery: row.get(4),
        search_path: row.get(5),
        now: row.get(6),
    })
}

pub(crate) async fn settings(client: &Client) -> Result<BTreeMap<String, Setting>, CollectError> {
    // reset_val: the value the session started with, i.e. the server's and the
    // role's, not the timeouts pgadvise set for itself.
    let sql = format!(
        "SELECT {SQL_TAG} name, reset_val, unit, \
         CASE WHEN source = 'session' THEN 'session start' ELSE source END \
         FROM pg_settings WHERE name = ANY($1) ORDER BY name"
    );
    let names: Vec<&str> = SETTINGS.to_vec();
    let rows = client
        .query(&sql, &[&names])
        .await
        .map_err(|e| CollectError::query("reading settings", e))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                Setting {
                    setting: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    unit: r.get(2),
                    source: r.get(3),
                },
            )
        })
        .collect())
}

/// Extensions the advisor uses, as created here and as available on the server.
pub(crate) async fn extensions(
    client: &Client,
) -> Result<(Vec<Extension>, Vec<AvailableExtension>), CollectError> {
    let created = client
        .query(
            &format!(
                "SELECT {SQL_TAG} e.extname::text, e.extversion, n.nspname::text \
                 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1"
            ),
            &[],
        )
        .await
        .map_err(|e| CollectError::query("reading extensions", e))?
        .into_iter()
        .map(|r| Extension {
            name: r.get(0),
            version: r.get(1),
            schema: r.get(2),
        })
        .collect();
    let available = client
        .query(
            &format!(
                "SELECT {SQL_TAG} name::text, default_version, installed_version \
                 FROM pg_available_extensions \
                 WHERE name IN ('pg_stat_statements', 'hypopg', 'pg_qualstats') ORDER BY 1"
            ),
            &[],
        )
        .await
        .map_err(|e| CollectError::query("reading available extensions", e))?
        .into_iter()
        .map(|r| AvailableExtension {
            name: r.get(0),
            default_version: r.get(1),
            installed_version: r.get(2),
        })
        .collect();
    Ok((created, available))
}
