//! `pgadvise demo`: a throwaway PostgreSQL (the same `cluster` code the tests
//! use), a built-in schema with a realistic workload that has the problems
//! pgadvise exists to catch, a full scan of it, and the report in a folder.
//!
//! The workload: a soft-deleted feed without its composite partial indexes, a
//! transactional outbox and an unindexed idempotency table, an archive exported
//! with OFFSET, and connection pools declared far larger than the server allows,
//! with idle sessions and transactions left open.

use crate::cli::{Cli, Command};
use crate::cluster::{ClusterError, ClusterOptions, LocalCluster};
use crate::collect::connect::connect;
use crate::collect::conninfo::ConnectionSpec;
use crate::config::Config;
pub use crate::error::DemoError;
use crate::error::{exit, RunError};
use crate::pipeline::{analyze_scan, write_outputs, Diagnostics};
use crate::settings::{Explicit, ScanSettings};
use clap::Parser;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// The demo's schema and data (about 350k rows; loads in a few seconds).
pub const SCHEMA: &str = include_str!("../demo/schema.sql");

/// Calls per hot statement: enough for them to dominate pg_stat_statements.
const HOT_CALLS: i32 = 150;

/// Declared pools: 145 connections against a budget of 97.
const DECLARED_POOLS: [&str; 3] = ["api=4x20", "worker=2x10", "admin=1x5"];

fn sql(step: &str) -> impl FnOnce(tokio_postgres::Error) -> DemoError + '_ {
    move |source| DemoError::Sql {
        step: step.to_string(),
        source,
    }
}

/// Where the demo database lives.
enum DemoServer {
    /// Ours: stopped and removed when dropped.
    Local(Box<LocalCluster>),
    /// The user's: we create a database there and drop it at the end.
    External { url: String },
}

impl DemoServer {
    fn url(&self, database: &str) -> String {
        match self {
            DemoServer::Local(c) => c.url(database),
            DemoServer::External { url } => with_database(url, database),
        }
    }
}

/// Swaps the database of a `postgresql://` URL (keeping its parameters).
fn with_database(url: &str, database: &str) -> String {
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

/// Adds `application_name` to a URL.
fn with_application(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

struct Progress {
    quiet: bool,
    started: Instant,
}

impl Progress {
    fn step(&self, message: &str) {
        if !self.quiet {
            eprintln!(
                "pgadvise demo [{:>4.1}s] {message}",
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

async fn open(url: &str) -> Result<Client, RunError> {
    let spec = ConnectionSpec::from_env(Some(url))?;
    Ok(connect(&spec).await?)
}

/// Runs the demo; `database_url` uses that server instead of a local one.
pub async fn run(out_dir: &Path, database_url: Option<&str>, quiet: bool) -> Result<u8, RunError> {
    let progress = Progress {
        quiet,
        started: Instant::now(),
    };
    std::fs::create_dir_all(out_dir).map_err(|source| DemoError::Folder {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let (server, database) = match database_url {
        Some(url) => {
            let database = format!("pgadvise_demo_{}", std::process::id());
            (
                DemoServer::External {
                    url: url.to_string(),
                },
                database,
            )
        }
        None => {
            progress.step("starting a throwaway PostgreSQL");
            let cluster = LocalCluster::start(&ClusterOptions::default()).map_err(|e| match e {
                ClusterError::BinariesNotFound { .. } => DemoError::NoServerBinaries(e),
                other => DemoError::Cluster(other),
            })?;
            (
                DemoServer::Local(Box::new(cluster)),
                "pgadvise_demo".to_string(),
            )
        }
    };
    let admin = open(&server.url("postgres")).await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .map_err(sql("creating the demo database"))?;
    let result = demo_in(&server, &database, out_dir, &progress).await;
    if let DemoServer::External { .. } = server {
        // Our own database, created above: nothing else is dropped.
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .await;
    }
    drop(admin);
    if let DemoServer::Local(mut cluster) = server {
        progress.step("stopping the server");
        cluster.stop();
    }
    result
}

async fn demo_in(
    server: &DemoServer,
    database: &str,
    out_dir: &Path,
    progress: &Progress,
) -> Result<u8, RunError> {
    let url = server.url(database);
    let db = open(&url).await?;
    db.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .map_err(sql(
            "CREATE EXTENSION pg_stat_statements (is it in shared_preload_libraries?)",
        ))?;
    let hypopg: bool = db
        .query_one(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .await
        .map_err(sql("looking for hypopg"))?
        .get(0);
    if hypopg {
        db.batch_execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            .await
            .map_err(sql("CREATE EXTENSION hypopg"))?;
    } else {
        progress.step(
            "hypopg is not installed: proposals will be unverified \
             (Debian/Ubuntu: apt-get install postgresql-<major>-hypopg)",
        );
    }
    progress.step("loading the demo schema and data (about 350k rows)");
    db.batch_execute(SCHEMA)
        .await
        .map_err(sql("loading demo/schema.sql"))?;
    db.batch_execute(
        "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
    )
    .await
    .map_err(sql("resetting pg_stat_statements for the demo database"))?;
    drop(db);

    progress.step(&format!(
        "running the application workload ({HOT_CALLS} calls per statement)"
    ));
    workload(&with_application(&url, "api")).await?;

    progress.step("opening the applications' connection pools");
    let pools = PoolLoad::start(&url).await?;

    progress.step("scanning: collecting, sampling connections for 3 s, verifying with hypopg");
    let report_path = out_dir.join("report.html");
    let pr_path = out_dir.join("pull-request.md");
    let mut argv: Vec<String> = vec!["pgadvise".into(), "scan".into(), url.clone()];
    for pool in DECLARED_POOLS {
        argv.extend(["--pool".into(), pool.into()]);
    }
    argv.extend([
        "--sample-window".into(),
        "3s".into(),
        "--db-cores".into(),
        "4".into(),
    ]);
    argv.extend(["--report".into(), report_path.display().to_string()]);
    argv.extend(["--pr-body".into(), pr_path.display().to_string()]);
    argv.extend([
        "--out".into(),
        out_dir.join("migrations").display().to_string(),
    ]);
    let cli = Cli::try_parse_from(&argv)
        .map_err(|e| RunError::Render(format!("the demo's own scan arguments: {e}")))?;
    let Command::Scan(args) = cli.command else {
        return Err(RunError::Render("the demo's scan arguments".into()));
    };
    // The demo's own scan: its flags alone, no pgadvise.toml.
    let settings = ScanSettings::for_scan(&args, &Config::default(), &Explicit::default());
    let outcome = analyze_scan(&settings, &Diagnostics::new(progress.quiet), false).await;
    pools.stop().await;
    let outcome = outcome?;
    write_outputs(&settings, &outcome, &Diagnostics::new(progress.quiet))?;
    let write = |name: &str, text: String| {
        let path = out_dir.join(name);
        crate::emit::write_atomically(&path, text.as_bytes())
            .map_err(|source| RunError::Write { path, source })
    };
    write("report.json", format!("{}\n", outcome.report.to_json()))?;
    // Findings with a migration point at its file, as in `scan --format sarif`.
    let report = &outcome.report;
    let files = crate::emit::audit::migration_files(
        &settings.migrations_dir,
        &report.indexes,
        &report.drops,
        &report.findings,
    );
    write(
        "report.sarif",
        format!(
            "{}\n",
            serde_json::to_string_pretty(&crate::emit::sarif::to_sarif(report, &files))
                .unwrap_or_default()
        ),
    )?;

    let mut summary =
        crate::emit::text::summary(&outcome.snapshot, &outcome.report, &outcome.skip_reasons);
    summary.push_str(&crate::emit::text::index_table(
        &outcome.advice,
        outcome.verification.as_ref(),
    ));
    if let Some((verdict, findings)) = &outcome.pool {
        summary.push_str(&format!(
            "\n{}",
            crate::emit::text::pool_section(verdict, findings)
        ));
    }
    summary.push_str(&format!(
        "\nThe demo wrote {dir}/:\n  report.html        the full report: open it in a browser\n  \
         pull-request.md    the description of a migration pull request\n  \
         report.json        the machine-readable report (docs/json-output.md)\n  \
         report.sarif       the findings for code scanning\n  \
         migrations/        one CREATE INDEX CONCURRENTLY (or DROP) migration each, with its .verify plan\n",
        dir = out_dir.display()
    ));
    print!("{summary}");
    progress.step("done");
    Ok(exit::SUCCESS)
}

/// The application's statements, as it would run them: prepared, with
/// parameters where a driver binds them, literals where pg_stat_statements
/// normalizes them to the same text.
async fn workload(url: &str) -> Result<(), RunError> {
    let app = open(url).await?;
    let prepare = |text: &'static str| {
        let app = &app;
        async move { app.prepare(text).await.map_err(sql(text)) }
    };
    let by_conversation = prepare("SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 50").await?;
    let by_user = prepare("SELECT * FROM messages WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 20").await?;
    let content_by_user = prepare("SELECT * FROM content WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 20").await?;
    let produce = prepare("INSERT INTO outbox_events (aggregate_type, aggregate_id, event_type, payload) VALUES ($1, $2, $3, $4::text::jsonb)").await?;
    let claim = prepare("SELECT id, payload FROM outbox_events WHERE published_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED").await?;
    let mark = prepare("UPDATE outbox_events SET published_at = now() WHERE id = ANY($1)").await?;
    let processed =
        prepare("SELECT 1 FROM processed_messages WHERE message_id = $1 AND consumer_group = $2")
            .await?;
    let account = prepare("SELECT * FROM accounts WHERE id = $1").await?;
    let recent_orders = prepare("SELECT id, status, total_cents, created_at FROM orders WHERE account_id = $1 ORDER BY created_at DESC LIMIT 10").await?;
    let groups = ["billing", "shipping", "analytics", "notifications"];
    for i in 0..HOT_CALLS {
        let conversation = 1 + (i * 37) % 500;
        let user = 1 + (i * 53) % 1000;
        app.query(&by_conversation, &[&conversation])
            .await
            .map_err(sql("feed by conversation"))?;
        app.query(&by_user, &[&user])
            .await
            .map_err(sql("feed by user"))?;
        app.query(&content_by_user, &[&(1 + (i * 29) % 500)])
            .await
            .map_err(sql("content by user"))?;

        let payload = format!("{{\"seq\": {i}, \"currency\": \"EUR\"}}");
        app.execute(
            &produce,
            &[&"order", &i64::from(i), &"created", &payload.as_str()],
        )
        .await
        .map_err(sql("outbox produce"))?;
        let claimed = app
            .query(&claim, &[&10_i64])
            .await
            .map_err(sql("outbox claim"))?;
        let ids: Vec<i64> = claimed.iter().map(|r| r.get(0)).collect();
        app.execute(&mark, &[&ids])
            .await
            .map_err(sql("outbox mark published"))?;
        let message_id = format!("msg-{:x}", (i as u64).wrapping_mul(0x9e37_79b9));
        app.query(&processed, &[&message_id, &groups[i as usize % 4]])
            .await
            .map_err(sql("idempotency lookup"))?;

        // The archive export and purge, with literals as a reporting tool sends them.
        let day = demo_date(10 + i % 50);
        app.batch_execute(&format!(
            "SELECT * FROM traffic_events WHERE event_date = '{day}' LIMIT 500 OFFSET {}",
            (i % 3) * 500
        ))
        .await
        .map_err(sql("archive export page"))?;
        app.batch_execute(&format!(
            "SELECT count(*) FROM traffic_events WHERE event_date = '{day}'"
        ))
        .await
        .map_err(sql("archive day count"))?;
        app.batch_execute(
            "DELETE FROM traffic_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM traffic_events WHERE event_date = '2024-01-01' LIMIT 5))",
        )
        .await
        .map_err(sql("archive purge"))?;

        let account_id = i64::from(1 + (i * 37) % 5000);
        app.query(&account, &[&account_id])
            .await
            .map_err(sql("account by id"))?;
        app.query(&recent_orders, &[&account_id])
            .await
            .map_err(sql("recent orders"))?;
    }
    Ok(())
}

/// `2024-01-01` plus `days` (under 60), as the archive's dates.
fn demo_date(days: i32) -> String {
    if days < 31 {
        format!("2024-01-{:02}", days + 1)
    } else {
        format!("2024-02-{:02}", days - 30)
    }
}

/// The applications' connections while pgadvise samples: `api` holds a dozen
/// idle connections and keeps three busy with its dashboard query; `worker` left two transactions open.
struct PoolLoad {
    idle: Vec<Client>,
    busy: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl PoolLoad {
    async fn start(url: &str) -> Result<PoolLoad, RunError> {
        let api = with_application(url, "api");
        let worker = with_application(url, "worker");
        let mut idle = Vec::new();
        for _ in 0..12 {
            idle.push(open(&api).await?);
        }
        for _ in 0..2 {
            let w = open(&worker).await?;
            w.batch_execute("BEGIN; SELECT count(*) FROM processed_messages;")
                .await
                .map_err(sql("worker transaction"))?;
            idle.push(w);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut busy = Vec::new();
        for _ in 0..3 {
            let client = open(&api).await?;
            let stop = stop.clone();
            busy.push(tokio::spawn(async move {
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    if client
                        .batch_execute(
                            "SELECT status, count(*), sum(total_cents) FROM orders GROUP BY status",
                        )
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }));
        }
        // The open transactions must be idle for a while before sampling starts.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        Ok(PoolLoad { idle, busy, stop })
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.busy {
            let _ = task.await;
        }
        drop(self.idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_their_database_and_application() {
        assert_eq!(
            with_database("postgresql://u@h:5/postgres?sslmode=disable", "demo"),
            "postgresql://u@h:5/demo?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://u@h", "demo"),
            "postgresql://u@h/demo"
        );
        assert_eq!(demo_date(0), "2024-01-01");
        assert_eq!(demo_date(30), "2024-01-31");
        assert_eq!(demo_date(31), "2024-02-01");
        assert_eq!(demo_date(59), "2024-02-29");
        assert_eq!(
            with_application("postgresql://u@h/d", "api"),
            "postgresql://u@h/d?application_name=api"
        );
    }
}
