//! Test harness: a real PostgreSQL for every integration test.
//!
//! Where the server comes from, in order:
//! 1. `PGADVISE_TEST_DATABASE_URL`: a server you own (superuser URL); each test
//!    creates and drops its own database there.
//! 2. Local server binaries (`PGADVISE_PG_BIN`, `PATH`, `/usr/lib/postgresql/*/bin`):
//!    a throwaway cluster per test binary, pg_stat_statements preloaded, hypopg
//!    created in each test database when the server has it.
//! 3. With `--features testcontainers` and a Docker engine: a `postgres` container
//!    (`PGADVISE_TEST_IMAGE_TAG`, default 17).
//!
//! No server is a loud failure that says how to get one — never a skipped test.

#![allow(dead_code)]

use pgadvise::cluster::{ClusterOptions, LocalCluster};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use tokio_postgres::{Client, NoTls};

#[cfg(feature = "testcontainers")]
mod container;
pub mod fixture;
pub mod measured;
pub mod scenarios;
pub mod tools;

/// The server all tests of one test binary share.
pub enum TestServer {
    Local(Box<LocalCluster>),
    External {
        url: String,
    },
    #[cfg(feature = "testcontainers")]
    Container(Box<container::PostgresContainer>),
}

static SERVER: OnceLock<TestServer> = OnceLock::new();

/// The shared test server, started on first use.
pub fn server() -> &'static TestServer {
    SERVER.get_or_init(|| match start() {
        Ok(s) => s,
        Err(e) => panic!(
            "\n\nno PostgreSQL server for the integration tests:\n  {e}\n\n\
             Fix one of:\n  \
             - install the server binaries: scripts/setup --minimal (Debian/Ubuntu: postgresql-15, postgresql-15-hypopg)\n  \
             - set PGADVISE_PG_BIN to a directory with initdb, pg_ctl and postgres\n  \
             - set PGADVISE_TEST_DATABASE_URL=postgresql://postgres@host:port/postgres (superuser, \
               pg_stat_statements preloaded)\n"
        ),
    })
}

fn start() -> Result<TestServer, String> {
    if let Ok(url) = std::env::var("PGADVISE_TEST_DATABASE_URL") {
        return Ok(TestServer::External { url });
    }
    match LocalCluster::start(&ClusterOptions::default()) {
        Ok(c) => Ok(TestServer::Local(Box::new(c))),
        #[cfg(feature = "testcontainers")]
        Err(local_err) => container::PostgresContainer::start()
            .map(|c| TestServer::Container(Box::new(c)))
            .map_err(|container_err| format!("{local_err}; and {container_err}")),
        #[cfg(not(feature = "testcontainers"))]
        Err(local_err) => Err(local_err.to_string()),
    }
}

impl TestServer {
    /// A superuser URL for `database`.
    pub fn url(&self, database: &str) -> String {
        match self {
            TestServer::Local(c) => c.url(database),
            TestServer::External { url } => replace_database(url, database),
            #[cfg(feature = "testcontainers")]
            TestServer::Container(c) => c.url(database),
        }
    }

    pub fn local(&self) -> Option<&LocalCluster> {
        match self {
            TestServer::Local(c) => Some(c),
            _ => None,
        }
    }

    /// Host and port for building URLs with other roles.
    pub fn host_port(&self) -> (String, u16) {
        let url = self.url("postgres");
        let after_at = url.split('@').nth(1).unwrap_or("");
        let hostport = after_at.split('/').next().unwrap_or("");
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
        (host.to_string(), port.parse().unwrap_or(5432))
    }
}

/// Swaps the database in a `postgresql://...` URL.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |p| p + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |p| scheme_end + p);
    format!("{}/{}{}", &base[..host_end], database, query)
}

/// Creates hypopg in the database the client is connected to when the server
/// has it (the version matrix's servers do not); whether it did.
pub async fn create_hypopg_where_available(client: &Client) -> bool {
    let available = client
        .query_one(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    if available {
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            .await
            .unwrap_or_else(|e| panic!("CREATE EXTENSION hypopg: {e}"));
    }
    available
}

/// Connects without TLS and drives the connection on the current runtime.
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server: {e:?}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database of its own for one test: pg_stat_statements (and hypopg when the
/// server has it) created, statistics reset for this database only.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub has_hypopg: bool,
}

static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn create(prefix: &str) -> TestDb {
        TestDb::create_with(prefix, "").await
    }

    /// A database whose collation and ctype are `collation` (from template0,
    /// UTF8), where the cluster's are C: what decides, for instance, whether a
    /// plain btree serves a prefix LIKE.
    pub async fn create_with_collation(prefix: &str, collation: &str) -> TestDb {
        TestDb::create_with(
            prefix,
            &format!(
                " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE '{collation}' LC_CTYPE '{collation}'"
            ),
        )
        .await
    }

    /// `options` follow `CREATE DATABASE name`.
    async fn create_with(prefix: &str, options: &str) -> TestDb {
        let server = server();
        let name = format!(
            "pgadvise_{prefix}_{}_{}",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = connect(&server.url("postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\"{options}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}{options}: {e}"));
        let url = server.url(&name);
        let client = connect(&url).await;
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .unwrap_or_else(|e| {
                panic!("CREATE EXTENSION pg_stat_statements (is it preloaded?): {e}")
            });
        let has_hypopg = create_hypopg_where_available(&client).await;
        if std::env::var_os("PGADVISE_TEST_REQUIRE_HYPOPG").is_some() && !has_hypopg {
            panic!("PGADVISE_TEST_REQUIRE_HYPOPG is set but the test server has no hypopg (scripts/setup --minimal installs postgresql-15-hypopg)");
        }
        let db = TestDb {
            name,
            url,
            has_hypopg,
        };
        db.reset_statements(&client).await;
        db
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// Clears pg_stat_statements for this database only: other tests share the cluster.
    pub async fn reset_statements(&self, client: &Client) {
        client
            .batch_execute(
                "SELECT pg_stat_statements_reset(0, \
                 (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
            )
            .await
            .unwrap_or_else(|e| panic!("pg_stat_statements_reset: {e}"));
    }
}

/// A PostgreSQL client program: beside the test server's binaries, else the
/// newest Debian one. Missing is a loud failure with the fix.
pub fn client_program(name: &str) -> std::path::PathBuf {
    let mut candidates = Vec::new();
    if let Some(cluster) = server().local() {
        candidates.push(cluster.bin_dir().join(name));
    }
    let mut debian: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .collect();
    debian.sort();
    candidates.extend(debian.into_iter().rev());
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: scripts/setup --minimal (it installs postgresql-15, which ships {name})")
        })
}

/// Output as text (lossy: a test prints whatever pgadvise wrote).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `pgadvise` in `dir`, so only a pgadvise.toml the test wrote there is
/// read (never the developer's).
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    pgadvise()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running pgadvise")
}

/// Runs the `pgadvise` binary built for these tests.
pub fn pgadvise() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pgadvise"));
    // Tests control the connection explicitly; the developer's environment must not leak in.
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSSLMODE",
        "PGAPPNAME",
        "PGPASSFILE",
        "PGSERVICE",
        "PGOPTIONS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
