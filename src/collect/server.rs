//! Who and what the server is: version, identity, settings, extensions.

use super::conninfo::{ConnectionSpec, Host, Target};
use super::{iso, CollectError, SQL_TAG};
use crate::snapshot::{AvailableExtension, Extension, Server, Setting};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use tokio_postgres::Client;

/// Settings the advisor reasons about. Names a server does not know are simply absent.
pub(crate) const SETTINGS: &[&str] = &[
    "server_version_num",
    "block_size",
    "max_connections",
    "superuser_reserved_connections",
    // Superuser or pg_read_all_settings only: where the server runs, for `local_cores`.
    "data_directory",
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
    pub database_oid: u32,
    /// `None` where the role may not execute `pg_control_system()`.
    pub system_identifier: Option<String>,
}

pub(crate) async fn identity(client: &Client) -> Result<Identity, CollectError> {
    let sql = format!(
        "SELECT {SQL_TAG} current_setting('server_version'), \
         current_setting('server_version_num')::int4, current_database()::text, \
         current_user::text, pg_is_in_recovery(), current_schemas(false)::text[], {}, \
         (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()), \
         has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')",
        iso("now()")
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading the server version", e))?;
    // Asked only where the role may: a function a managed service revoked
    // would fail the query, and the identifier is optional.
    let system_identifier = if row.get::<_, bool>(8) {
        client
            .query_one(
                &format!(
                    "SELECT {SQL_TAG} system_identifier::text FROM pg_catalog.pg_control_system()"
                ),
                &[],
            )
            .await
            .map_err(|e| CollectError::query("reading the system identifier", e))?
            .get(0)
    } else {
        None
    };
    Ok(Identity {
        database_oid: row.get(7),
        system_identifier,
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
                 WHERE name IN ('pg_stat_statements', 'hypopg', 'pg_qualstats', 'pg_trgm') ORDER BY 1"
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

/// CPU cores of the server's machine, when pgadvise runs on that machine: every
/// target is a Unix socket or a loopback address, and the server's data
/// directory is readable here with a postmaster.pid naming the port connected
/// to (the same server, not a container's or a tunnel's). `None` otherwise: a
/// remote server's cores are never guessed.
pub fn local_cores(spec: &ConnectionSpec, data_directory: Option<&str>) -> Option<u32> {
    let dir = Path::new(data_directory.filter(|d| !d.is_empty())?);
    if spec.targets.is_empty() || !spec.targets.iter().all(is_local) {
        return None;
    }
    let pid_file = std::fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    if !postmaster_port_matches(&pid_file, &spec.targets) {
        return None;
    }
    std::thread::available_parallelism()
        .ok()
        .and_then(|n| u32::try_from(n.get()).ok())
}

/// A Unix socket, `localhost`, or a loopback address (`hostaddr` wins).
fn is_local(target: &Target) -> bool {
    match (&target.host, target.hostaddr) {
        (_, Some(ip)) => ip.is_loopback(),
        (Host::Unix(_), None) => true,
        (Host::Tcp(name), None) => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// postmaster.pid's fourth line is the server's port.
fn postmaster_port_matches(pid_file: &str, targets: &[Target]) -> bool {
    let port = pid_file
        .lines()
        .nth(3)
        .and_then(|l| l.trim().parse::<u16>().ok());
    port.is_some_and(|port| targets.iter().all(|t| t.port == port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::conninfo::{resolve, StaticEnvironment};

    fn spec(conninfo: &str) -> ConnectionSpec {
        resolve(Some(conninfo), &StaticEnvironment::from_vars([])).unwrap()
    }

    #[test]
    fn only_a_server_on_this_machine_counts_as_local() {
        let cases = [
            ("postgresql://u@127.0.0.1:5432/db", true),
            ("postgresql://u@localhost:5432/db", true),
            ("postgresql://u@[::1]:5432/db", true),
            ("host=/var/run/postgresql port=5432 user=u dbname=db", true),
            ("postgresql://u@db.example.com:5432/db", false),
            ("postgresql://u@10.0.0.5:5432/db", false),
            // hostaddr is where the connection goes, whatever the name.
            ("host=localhost hostaddr=10.0.0.5 user=u dbname=db", false),
            (
                "host=db.example.com hostaddr=127.0.0.1 user=u dbname=db",
                true,
            ),
            // Every host of a list must be local.
            ("host=localhost,db.example.com user=u dbname=db", false),
        ];
        for (conninfo, expected) in cases {
            let s = spec(conninfo);
            assert_eq!(s.targets.iter().all(is_local), expected, "{conninfo}");
        }
    }

    #[test]
    fn postmaster_pid_must_name_the_port_connected_to() {
        let pid = "4242\n/var/lib/postgresql/15/main\n1700000000\n5433\n/var/run/postgresql\n*\n";
        let cases = [
            ("postgresql://u@127.0.0.1:5433/db", true),
            ("postgresql://u@127.0.0.1:5432/db", false),
        ];
        for (conninfo, expected) in cases {
            assert_eq!(
                postmaster_port_matches(pid, &spec(conninfo).targets),
                expected,
                "{conninfo}"
            );
        }
        assert!(!postmaster_port_matches(
            "4242\n",
            &spec("postgresql://u@127.0.0.1:5433/db").targets
        ));
        // A remote server's setting is never read from this machine.
        assert_eq!(
            local_cores(&spec("postgresql://u@db.example.com/db"), Some("/")),
            None
        );
        assert_eq!(
            local_cores(&spec("postgresql://u@127.0.0.1/db"), None),
            None
        );
    }
}
