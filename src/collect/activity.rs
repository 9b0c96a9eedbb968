//! pg_stat_activity (client backends) and pg_stat_database.

use super::mask::mask_literals;
use super::{iso, CollectError, SQL_TAG};
use crate::snapshot::{ActivitySample, DatabaseStats, Session};
use tokio_postgres::Client;

/// One sample of every client backend but pgadvise's own.
pub(crate) async fn sample(
    client: &Client,
    version_num: i32,
) -> Result<ActivitySample, CollectError> {
    let query_id = if version_num >= 140000 {
        "query_id"
    } else {
        "NULL::int8"
    };
    let secs = |col: &str| format!("extract(epoch FROM clock_timestamp() - {col})::float8");
    let sql = format!(
        "SELECT {SQL_TAG} pid, datname::text AS database, usename::text AS usr, \
           COALESCE(application_name, '') AS application_name, client_addr::text AS client_addr, \
           state, wait_event_type, wait_event, \
           {} AS backend_seconds, {} AS xact_seconds, {} AS query_seconds, {} AS state_seconds, \
           {query_id} AS query_id, query, {} AS sampled_at \
         FROM pg_stat_activity \
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
         ORDER BY pid",
        secs("backend_start"),
        secs("xact_start"),
        secs("query_start"),
        secs("state_change"),
        iso("clock_timestamp()"),
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("sampling pg_stat_activity", e))?;
    let sampled_at = match rows.first() {
        Some(r) => r.get("sampled_at"),
        None => client
            .query_one(
                &format!("SELECT {SQL_TAG} {}", iso("clock_timestamp()")),
                &[],
            )
            .await
            .map_err(|e| CollectError::query("reading the clock", e))?
            .get(0),
    };
    let sessions = rows
        .iter()
        .map(|r| Session {
            pid: r.get("pid"),
            database: r.get("database"),
            user: r.get("usr"),
            application_name: r.get("application_name"),
            client_addr: r.get("client_addr"),
            state: r.get("state"),
            wait_event_type: r.get("wait_event_type"),
            wait_event: r.get("wait_event"),
            backend_seconds: r.get("backend_seconds"),
            xact_seconds: r.get("xact_seconds"),
            query_seconds: r.get("query_seconds"),
            state_seconds: r.get("state_seconds"),
            query_id: r.get("query_id"),
            query: r
                .get::<_, Option<String>>("query")
                .filter(|q| !q.is_empty())
                .map(|q| mask_literals(&q)),
        })
        .collect();
    Ok(ActivitySample {
        sampled_at,
        sessions,
    })
}

pub(crate) async fn database_stats(
    client: &Client,
    version_num: i32,
) -> Result<DatabaseStats, CollectError> {
    let sessions = if version_num >= 140000 {
        "session_time, active_time, idle_in_transaction_time, sessions, \
         sessions_abandoned, sessions_fatal, sessions_killed"
    } else {
        "NULL::float8 AS session_time, NULL::float8 AS active_time, \
         NULL::float8 AS idle_in_transaction_time, NULL::int8 AS sessions, \
         NULL::int8 AS sessions_abandoned, NULL::int8 AS sessions_fatal, NULL::int8 AS sessions_killed"
    };
    let sql = format!(
        "SELECT {SQL_TAG} numbackends, xact_commit, xact_rollback, blks_read, blks_hit, \
           tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, \
           temp_files, temp_bytes, deadlocks, {} AS stats_reset, {sessions} \
         FROM pg_stat_database WHERE datname = current_database()",
        iso("stats_reset")
    );
    let r = client
        .query_one(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading pg_stat_database", e))?;
    Ok(DatabaseStats {
        numbackends: r.get("numbackends"),
        xact_commit: r.get("xact_commit"),
        xact_rollback: r.get("xact_rollback"),
        blks_read: r.get("blks_read"),
        blks_hit: r.get("blks_hit"),
        tup_returned: r.get("tup_returned"),
        tup_fetched: r.get("tup_fetched"),
        tup_inserted: r.get("tup_inserted"),
        tup_updated: r.get("tup_updated"),
        tup_deleted: r.get("tup_deleted"),
        temp_files: r.get("temp_files"),
        temp_bytes: r.get("temp_bytes"),
        deadlocks: r.get("deadlocks"),
        stats_reset: r.get("stats_reset"),
        session_time: r.get("session_time"),
        active_time: r.get("active_time"),
        idle_in_transaction_time: r.get("idle_in_transaction_time"),
        sessions: r.get("sessions"),
        sessions_abandoned: r.get("sessions_abandoned"),
        sessions_fatal: r.get("sessions_fatal"),
        sessions_killed: r.get("sessions_killed"),
    })
}
