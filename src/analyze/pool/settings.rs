//! Ready-to-paste pool settings per client library.

use super::model::Library;
use super::IDLE_IN_TRANSACTION_GUARD_SECONDS;
use std::collections::BTreeMap;

/// Per-library settings: `total` connections over `instances`, keeping about the
/// usual in-use count (`in_use_p50`) open when idle, waiting at most
/// `timeout_s` for a connection, and the idle-in-transaction guard for `roles`.
/// `clients` is how many connections the application opens today: behind
/// PgBouncer they stay its clients (`max_client_conn` must admit them all,
/// or a smaller server pool turns into refused connections).
pub(crate) fn client_settings(
    total: u32,
    clients: u32,
    instances: u32,
    in_use_p50: u32,
    timeout_s: u32,
    roles: &[String],
) -> BTreeMap<Library, String> {
    let instances = instances.max(1);
    let size = total.div_ceil(instances).max(1);
    let min_idle = in_use_p50.div_ceil(instances).clamp(1, size);
    let timeout_ms = u64::from(timeout_s) * 1000;
    let guard = IDLE_IN_TRANSACTION_GUARD_SECONDS;
    let role_guard = if roles.is_empty() {
        // The role was not visible: the statement still reads as the one to run.
        format!("ALTER ROLE application_role SET idle_in_transaction_session_timeout = '{guard}s';")
    } else {
        roles
            .iter()
            .map(|r| {
                format!(
                    "ALTER ROLE {} SET idle_in_transaction_session_timeout = '{guard}s';",
                    crate::ident::quote(r)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pairs = [
        (
            Library::Hikaricp,
            format!("maximumPoolSize={size}\nminimumIdle={min_idle}\nconnectionTimeout={timeout_ms}"),
        ),
        (
            Library::Sqlalchemy,
            format!("pool_size={size}, max_overflow=0, pool_timeout={timeout_s}"),
        ),
        (
            Library::GoDatabaseSql,
            format!(
                "db.SetMaxOpenConns({size})\ndb.SetMaxIdleConns({min_idle})\ndb.SetConnMaxIdleTime(5 * time.Minute)\n\
                 // database/sql has no wait timeout for a connection: bound each call with a deadline\n\
                 ctx, cancel := context.WithTimeout(ctx, {timeout_s}*time.Second); defer cancel(); db.QueryContext(ctx, ...)"
            ),
        ),
        (
            Library::Sqlx,
            format!(
                "PgPoolOptions::new().max_connections({size}).min_connections({min_idle}).acquire_timeout(Duration::from_secs({timeout_s}))"
            ),
        ),
        (
            Library::Deadpool,
            format!("max_size = {size}\ntimeouts.wait = {{ secs = {timeout_s}, nanos = 0 }}"),
        ),
        (
            Library::NodePostgres,
            format!("new Pool({{ max: {size}, connectionTimeoutMillis: {timeout_ms} }})"),
        ),
        (
            Library::Pgbouncer,
            format!(
                "default_pool_size = {total}\nmax_client_conn = {}\nquery_wait_timeout = {timeout_s}",
                size.saturating_mul(instances).max(total).max(clients)
            ),
        ),
        (Library::Postgresql, role_guard),
    ];
    pairs.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_per_instance_and_bound_the_wait() {
        // 10 connections over 4 instances: ceil(10 / 4) = 3 each; 5 in use over 4 → 2 idle kept.
        let s = client_settings(
            10,
            10,
            4,
            5,
            2,
            &["app".to_string(), "Odd Role".to_string()],
        );
        // A pool made smaller keeps admitting the clients the application opens.
        let shrunk = client_settings(5, 8, 1, 3, 2, &[]);
        assert!(
            shrunk[&Library::Pgbouncer].contains("default_pool_size = 5\nmax_client_conn = 8\n")
        );
        let cases = [
            (
                Library::Hikaricp,
                "maximumPoolSize=3\nminimumIdle=2\nconnectionTimeout=2000",
            ),
            (Library::Sqlalchemy, "pool_size=3, max_overflow=0, pool_timeout=2"),
            (
                Library::Pgbouncer,
                "default_pool_size = 10\nmax_client_conn = 12\nquery_wait_timeout = 2",
            ),
            (
                Library::NodePostgres,
                "new Pool({ max: 3, connectionTimeoutMillis: 2000 })",
            ),
            (
                Library::Sqlx,
                "PgPoolOptions::new().max_connections(3).min_connections(2).acquire_timeout(Duration::from_secs(2))",
            ),
            (
                Library::Deadpool,
                "max_size = 3\ntimeouts.wait = { secs = 2, nanos = 0 }",
            ),
            (
                Library::Postgresql,
                "ALTER ROLE app SET idle_in_transaction_session_timeout = '60s';\n\
                 ALTER ROLE \"Odd Role\" SET idle_in_transaction_session_timeout = '60s';",
            ),
        ];
        for (library, expected) in cases {
            assert_eq!(s[&library], expected, "{library:?}");
        }
        // Go's pool has no wait timeout: the snippet says so and uses a deadline.
        let go = &s[&Library::GoDatabaseSql];
        assert!(
            go.contains("no wait timeout")
                && go.contains("context.WithTimeout(ctx, 2*time.Second)"),
            "{go}"
        );
        // The JSON keys stay the documented strings.
        let json = serde_json::to_value(&s).unwrap();
        for library in s.keys() {
            assert!(json.get(library.as_str()).is_some(), "{json}");
        }
    }
}
