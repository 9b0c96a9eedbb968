//! Faults during a run: the server stops, the connection is killed, a timeout
//! fires, an extension is missing, the statistics were just reset. Each ends
//! in a clear message and its own exit code, and never in a torn output file.

mod support;

use pgadvise::cluster::{ClusterOptions, LocalCluster};
use pgadvise::run::exit;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};
use support::{pgadvise, text, TestDb};
use tokio_postgres::Client;

/// What an output file held before the failing run.
const OLD_CONTENT: &str = "{\"old\": \"snapshot\"}\n";

/// A directory with `out.json` already holding [`OLD_CONTENT`].
fn output_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    std::fs::write(&out, OLD_CONTENT).unwrap();
    (dir, out)
}

/// The output file still holds the old content, and no temporary file is left beside it.
fn assert_output_untouched(dir: &Path, out: &Path) {
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        OLD_CONTENT,
        "{} was overwritten by a failed run",
        out.display()
    );
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.json"], "files left behind: {names:?}");
}

fn spawn(cmd: &mut std::process::Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting pgadvise")
}

/// Waits for the child at most `limit`; a run that hangs is killed and fails the test.
fn finish_within(mut child: Child, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("waiting for pgadvise") {
            Some(_) => return (child.wait_with_output().unwrap(), start.elapsed()),
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "pgadvise still running after {limit:?}; stderr:\n{}",
                    text(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The pid of pgadvise's backend in `database`, once it is connected.
async fn pgadvise_backend(client: &Client, database: &str) -> i32 {
    let start = Instant::now();
    loop {
        let row = client
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgadvise' \
                 AND datname = $1 AND state IS NOT NULL ORDER BY backend_start LIMIT 1",
                &[&database],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "pgadvise never connected to {database}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A table and a hot statement, so a scan has something to read and propose.
async fn db_with_workload(prefix: &str) -> TestDb {
    let db = TestDb::create(prefix).await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, note text);
         INSERT INTO orders SELECT g, g % 300, 'n' FROM generate_series(1, 5000) g;
         ANALYZE orders;",
    )
    .await
    .unwrap();
    db.reset_statements(&c).await;
    let stmt = c
        .prepare("SELECT id FROM orders WHERE customer = $1")
        .await
        .unwrap();
    for p in 0..5 {
        c.query(&stmt, &[&p]).await.unwrap();
    }
    db
}

#[tokio::test]
async fn the_server_stopping_mid_scan_is_a_lost_connection_and_no_file() {
    // A cluster of its own: the shared one must survive this test.
    let cluster = LocalCluster::start(&ClusterOptions::default()).expect("a throwaway cluster");
    let url = cluster.url("postgres");
    let admin = support::connect(&url).await;
    admin
        .batch_execute("CREATE EXTENSION pg_stat_statements")
        .await
        .unwrap();
    let (dir, out) = output_dir();
    let child = spawn(
        pgadvise()
            .args(["scan", "--sample-window", "60s", "--save-snapshot"])
            .arg(&out)
            .arg(&url),
    );
    pgadvise_backend(&admin, "postgres").await;
    // Inside the sampling window now: the collector's earlier reads are done.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster
        .stop_immediately()
        .expect("pg_ctl stop -m immediate");
    let (output, elapsed) = finish_within(child, Duration::from_secs(20));
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::SERVER)),
        "{stderr}"
    );
    assert!(
        stderr.contains("terminating connection")
            || stderr.contains("connection to the server was lost"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert_output_untouched(dir.path(), &out);
}

#[tokio::test]
async fn a_terminated_connection_is_a_lost_connection_and_no_file() {
    let db = db_with_workload("fault_terminate").await;
    let admin = db.client().await;
    let (dir, out) = output_dir();
    let child = spawn(
        pgadvise()
            .args(["scan", "--sample-window", "60s", "--save-snapshot"])
            .arg(&out)
            .arg(&db.url),
    );
    let pid = pgadvise_backend(&admin, &db.name).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let (output, _) = finish_within(child, Duration::from_secs(20));
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::SERVER)),
        "{stderr}"
    );
    assert!(
        stderr.contains("connection to the server was lost"),
        "{stderr}"
    );
    assert_output_untouched(dir.path(), &out);
}

/// Holds ACCESS EXCLUSIVE on `orders` in an open transaction until dropped.
/// The collector reads relation sizes (pg_relation_size takes ACCESS SHARE on
/// each relation) and verification plans statements: both must wait for it.
async fn lock_orders(db: &TestDb) -> Client {
    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    holder
}

#[tokio::test]
async fn lock_and_statement_timeouts_give_up_with_their_own_exit_code() {
    let db = db_with_workload("fault_timeouts").await;
    let _holder = lock_orders(&db).await;

    // lock_timeout: a conflicting lock is not waited for.
    let (dir, out) = output_dir();
    let child = spawn(
        pgadvise()
            .args(["snapshot", "--lock-timeout", "300ms", "-o"])
            .arg(&out)
            .arg(&db.url),
    );
    let (output, elapsed) = finish_within(child, Duration::from_secs(20));
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::TIMEOUT)),
        "{stderr}"
    );
    assert!(stderr.contains("lock timeout"), "{stderr}");
    assert!(stderr.contains("--lock-timeout"), "{stderr}");
    assert!(elapsed < Duration::from_secs(10), "waited {elapsed:?}");
    assert_output_untouched(dir.path(), &out);

    // statement_timeout: with a long lock_timeout, the statement cap fires first.
    let child = spawn(
        pgadvise()
            .args([
                "scan",
                "--lock-timeout",
                "60s",
                "--statement-timeout",
                "700ms",
                "--save-snapshot",
            ])
            .arg(&out)
            .arg(&db.url),
    );
    let (output, elapsed) = finish_within(child, Duration::from_secs(20));
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::TIMEOUT)),
        "{stderr}"
    );
    assert!(stderr.contains("statement timeout"), "{stderr}");
    assert!(stderr.contains("--statement-timeout"), "{stderr}");
    assert!(elapsed < Duration::from_secs(10), "waited {elapsed:?}");
    assert_output_untouched(dir.path(), &out);
}

#[tokio::test]
async fn just_reset_statistics_are_a_clear_warning_not_an_error() {
    let db = db_with_workload("fault_reset").await;
    let c = db.client().await;
    db.reset_statements(&c).await;
    let output = pgadvise()
        .args(["scan", "--format", "json"])
        .arg(&db.url)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::SUCCESS)),
        "{stderr}"
    );
    assert!(
        stderr.contains("is a query pgadvise can analyze")
            && stderr.contains("let the workload run, then scan again"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["statements_analyzed"], 0, "{report}");
    assert_eq!(report["indexes"].as_array().unwrap().len(), 0, "{report}");
}

#[tokio::test]
async fn without_hypopg_proposals_are_unverified_and_say_why() {
    let db = db_with_workload("fault_nohypopg").await;
    let c = db.client().await;
    c.batch_execute("DROP EXTENSION IF EXISTS hypopg")
        .await
        .unwrap();
    let output = pgadvise()
        .args(["scan", "--format", "json"])
        .arg(&db.url)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    // Degraded, not failed: the heuristic advice is still worth having.
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::SUCCESS)),
        "{stderr}"
    );
    assert!(stderr.contains("hypopg"), "{stderr}");
    assert!(stderr.contains("unverified"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let indexes = report["indexes"].as_array().unwrap();
    assert!(!indexes.is_empty(), "{report}");
    assert!(indexes.iter().all(|i| i["verified"] == false), "{report}");
}

#[tokio::test]
async fn missing_pg_stat_statements_writes_no_file() {
    let db = db_with_workload("fault_nopgss").await;
    db.client()
        .await
        .batch_execute("DROP EXTENSION pg_stat_statements")
        .await
        .unwrap();
    let (dir, out) = output_dir();
    for args in [
        vec!["snapshot", "-o"],
        vec!["scan", "--save-snapshot"],
        vec!["pool", "--sample-window", "1s", "--save-snapshot"],
    ] {
        let output = pgadvise()
            .args(&args)
            .arg(&out)
            .arg(&db.url)
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(i32::from(exit::PREREQUISITE)),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"),
            "{args:?}: {stderr}"
        );
        assert_output_untouched(dir.path(), &out);
    }
}
