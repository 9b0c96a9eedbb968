//! pgadvise on a busy primary and on a hot standby: it completes, and it never
//! makes another session wait for a lock it holds.
//!
//! Needs the client programs pgbench and pg_basebackup (Debian: postgresql-15
//! ships both); scripts/test-matrix leaves this file out, since its fetched
//! server builds carry neither.

mod support;

use pgadvise::cluster::{ClusterOptions, LocalCluster};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{client_program, pgadvise, text, TestDb};

/// pgbench's TPC-B-like database, its own statistics reset.
async fn pgbench_db() -> TestDb {
    let db = TestDb::create("load_pgbench").await;
    let init = Command::new(client_program("pgbench"))
        .args(["-i", "-q", "-s", "2"])
        .arg(&db.url)
        .output()
        .expect("running pgbench -i");
    assert!(init.status.success(), "pgbench -i: {}", text(&init.stderr));
    db.reset_statements(&db.client().await).await;
    db
}

#[tokio::test]
async fn under_pgbench_load_a_scan_completes_and_blocks_no_one() {
    let db = pgbench_db().await;
    let bench = Command::new(client_program("pgbench"))
        .args(["-n", "-c", "32", "-j", "2", "-T", "9"])
        .arg(&db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting pgbench");
    let watcher = db.client().await;
    // Let the clients connect and the workload show in pg_stat_statements.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut scan = pgadvise()
        .args([
            "scan",
            "--format",
            "json",
            "--sample-window",
            "3s",
            "--pool",
            "pgbench=1x32",
            "--min-calls",
            "1",
        ])
        .arg(&db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting pgadvise");
    let start = Instant::now();
    let mut polls = 0;
    let mut saw_pgadvise = 0;
    let mut max_bench = 0i64;
    let mut blocked_by_pgadvise = Vec::new();
    while scan.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the scan did not finish under load"
        );
        let row = watcher
            .query_one(
                "SELECT count(*) FILTER (WHERE application_name = 'pgadvise'),
                        count(*) FILTER (WHERE application_name = 'pgbench'),
                        ARRAY(SELECT w.pid::text || ' (' || w.application_name || ': ' || left(w.query, 60) || ')'
                              FROM pg_stat_activity w
                              WHERE EXISTS (SELECT FROM pg_stat_activity p
                                            WHERE p.application_name = 'pgadvise'
                                              AND p.pid = ANY(pg_blocking_pids(w.pid))))
                 FROM pg_stat_activity WHERE datname = $1",
                &[&db.name],
            )
            .await
            .unwrap();
        polls += 1;
        if row.get::<_, i64>(0) > 0 {
            saw_pgadvise += 1;
        }
        max_bench = max_bench.max(row.get(1));
        blocked_by_pgadvise.extend(row.get::<_, Vec<String>>(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let scan = scan.wait_with_output().unwrap();
    let bench = bench.wait_with_output().unwrap();

    let stderr = text(&scan.stderr);
    assert_eq!(scan.status.code(), Some(0), "{stderr}");
    assert!(
        blocked_by_pgadvise.is_empty(),
        "sessions waited for pgadvise's locks: {blocked_by_pgadvise:?}"
    );
    // The watch was real: pgadvise was seen connected, under 32 busy clients.
    assert!(
        saw_pgadvise >= 10,
        "pgadvise seen in only {saw_pgadvise} of {polls} polls"
    );
    assert_eq!(max_bench, 32, "pgbench clients connected at the peak");
    assert!(bench.status.success(), "pgbench: {}", text(&bench.stderr));
    let bench_out = text(&bench.stdout);
    assert!(
        bench_out.contains("number of failed transactions: 0") || !bench_out.contains("failed"),
        "{bench_out}"
    );

    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert!(
        report["statements_analyzed"].as_u64().unwrap() >= 3,
        "pgbench's statements analyzed: {report:#}"
    );
    let apps = report["pool"]["applications"].as_array().unwrap();
    let pgbench = apps
        .iter()
        .find(|a| a["name"] == "pgbench")
        .unwrap_or_else(|| panic!("pgbench not in the pool verdict: {report:#}"));
    assert_eq!(pgbench["declared"]["size"], 32, "{pgbench:#}");
    // pgadvise's sampling saw the busy clients.
    assert!(
        pgbench["observed"]["active"]["peak"].as_u64().unwrap() >= 8,
        "{pgbench:#}"
    );
}

#[tokio::test]
async fn a_hot_standby_is_scanned_like_a_primary() {
    let primary = LocalCluster::start(&ClusterOptions::default()).expect("a primary");
    let admin = support::connect(&primary.url("postgres")).await;
    admin.batch_execute("CREATE DATABASE shop").await.unwrap();
    let on_primary = support::connect(&primary.url("shop")).await;
    let has_hypopg: bool = on_primary
        .query_one(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    on_primary
        .batch_execute(
            "CREATE EXTENSION pg_stat_statements;
             CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, note text);
             INSERT INTO orders SELECT g, g % 500, 'n' FROM generate_series(1, 20000) g;
             ANALYZE orders;",
        )
        .await
        .unwrap();
    if has_hypopg {
        on_primary
            .batch_execute("CREATE EXTENSION hypopg")
            .await
            .unwrap();
    }
    // Extensions must exist on the primary; the standby gets them by replication.
    let standby = primary.start_standby().expect("a streaming standby");
    let url = standby.url("shop");
    let replica = support::connect(&url).await;
    let in_recovery: bool = replica
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery);

    // Written on the primary after the base backup: arrives by streaming.
    on_primary
        .batch_execute("CREATE TABLE late (id int); INSERT INTO late VALUES (1)")
        .await
        .unwrap();
    let start = Instant::now();
    while replica
        .query_opt("SELECT 1 FROM pg_class WHERE relname = 'late'", &[])
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the standby never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The standby's own workload: pg_stat_statements counts per server.
    let stmt = replica
        .prepare("SELECT id FROM orders WHERE customer = $1")
        .await
        .unwrap();
    for p in 0..5 {
        replica.query(&stmt, &[&p]).await.unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("standby.json");
    let scan = pgadvise()
        .args([
            "scan",
            "--format",
            "json",
            "--sample-window",
            "1s",
            "--save-snapshot",
        ])
        .arg(&snap)
        .arg(&url)
        .output()
        .unwrap();
    let stderr = text(&scan.stderr);
    assert_eq!(scan.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    let proposal = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "public.orders" && p["columns"][0] == "customer")
        .unwrap_or_else(|| panic!("no proposal on the standby: {report:#}\n{stderr}"));
    // hypopg plans on a standby too: its hypothetical indexes are in memory only.
    assert_eq!(proposal["verified"], has_hypopg, "{report:#}\n{stderr}");
    assert!(
        report["pool"]["samples"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    assert_eq!(doc["source"]["in_recovery"], true);

    let text_scan = pgadvise().arg("scan").arg(&url).output().unwrap();
    assert_eq!(text_scan.status.code(), Some(0));
    assert!(text(&text_scan.stdout).contains(", standby)"));
}
