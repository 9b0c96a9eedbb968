//! The promises made to a DBA who points pgadvise at production: it needs no
//! more than the monitoring roles, writes nothing, leaks no password, and the
//! DDL it proposes does exactly what it says on any identifier.

mod support;

use pgadvise::run::exit;
use std::process::Output;
use support::{pgadvise, TestDb};
use tokio_postgres::Client;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// Orders looked up by customer, often enough to be worth an index.
async fn db_with_workload(prefix: &str) -> TestDb {
    let db = TestDb::create(prefix).await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, shipped_at timestamptz);
         INSERT INTO orders SELECT g, g % 500, CASE WHEN g % 10 = 0 THEN now() END
         FROM generate_series(1, 20000) g;
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

/// A login role with `password`, member of `grants` (if any), allowed to connect to `db` only.
async fn monitoring_role(db: &TestDb, role: &str, password: &str, grants: &str) {
    let c = db.client().await;
    let grant = if grants.is_empty() {
        String::new()
    } else {
        format!("GRANT {grants} TO {role};")
    };
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}';
         {grant}
         REVOKE CONNECT ON DATABASE \"{db}\" FROM PUBLIC;
         GRANT CONNECT ON DATABASE \"{db}\" TO {role};",
        db = db.name
    ))
    .await
    .unwrap();
}

fn role_url(db: &TestDb, role: &str, password: &str) -> String {
    let (host, port) = support::server().host_port();
    format!("postgresql://{role}:{password}@{host}:{port}/{}", db.name)
}

/// The proposal for `orders (customer)` in a JSON report.
fn customer_proposal(report: &serde_json::Value) -> &serde_json::Value {
    report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "public.orders" && p["columns"] == serde_json::json!(["customer"]))
        .unwrap_or_else(|| panic!("no index on orders (customer) proposed: {report:#}"))
}

#[tokio::test]
async fn scan_and_pool_work_with_only_the_monitoring_roles() {
    let db = db_with_workload("safety_privilege").await;
    let password = "Mon1tor-Only";

    // CONNECT alone: every statement text is hidden, and the fix is named.
    let bare = format!("{}_bare", db.name);
    monitoring_role(&db, &bare, password, "").await;
    let out = pgadvise()
        .arg("scan")
        .arg(role_url(&db, &bare, password))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::PREREQUISITE)),
        "{stderr}"
    );
    assert!(stderr.contains("GRANT pg_read_all_stats TO"), "{stderr}");

    for grants in ["pg_monitor", "pg_read_all_stats"] {
        let role = format!("{}_{grants}", db.name);
        monitoring_role(&db, &role, password, grants).await;
        let url = role_url(&db, &role, password);

        // Without SELECT on the table, EXPLAIN is refused: the proposal stays, unverified.
        let scan = pgadvise()
            .args(["scan", "--format", "json"])
            .arg(&url)
            .output()
            .unwrap();
        let stderr = text(&scan.stderr);
        assert_eq!(
            scan.status.code(),
            Some(i32::from(exit::SUCCESS)),
            "{grants}: {stderr}"
        );
        let report = json(&scan);
        assert_eq!(
            customer_proposal(&report)["verified"],
            false,
            "{grants}: {report:#}"
        );
        assert!(
            stderr.contains("could not be planned") && stderr.contains("permission denied"),
            "{grants}: {stderr}"
        );

        // SELECT on the tables is all hypopg verification adds: its functions
        // are executable by PUBLIC.
        db.client()
            .await
            .batch_execute(&format!("GRANT SELECT ON orders TO {role}"))
            .await
            .unwrap();
        let scan = pgadvise()
            .args(["scan", "--format", "json"])
            .arg(&url)
            .output()
            .unwrap();
        let stderr = text(&scan.stderr);
        assert_eq!(
            scan.status.code(),
            Some(i32::from(exit::SUCCESS)),
            "{grants}: {stderr}"
        );
        let report = json(&scan);
        assert_eq!(
            customer_proposal(&report)["verified"],
            true,
            "{grants}: {report:#}"
        );
        assert!(
            !stderr.contains("could not be planned"),
            "{grants}: {stderr}"
        );

        let pool = pgadvise()
            .args(["pool", "--format", "json", "--sample-window", "1s"])
            .arg(&url)
            .output()
            .unwrap();
        let stderr = text(&pool.stderr);
        assert_eq!(
            pool.status.code(),
            Some(i32::from(exit::SUCCESS)),
            "{grants}: {stderr}"
        );
        let verdict = json(&pool);
        assert!(
            verdict["pool"]["samples"].as_u64().unwrap() > 0,
            "{verdict:#}"
        );
        assert_eq!(verdict["pool"]["budget"], 97, "{verdict:#}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.json");
        let snap = pgadvise()
            .args(["snapshot", "-o"])
            .arg(&file)
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(
            snap.status.code(),
            Some(0),
            "{grants}: {}",
            text(&snap.stderr)
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(doc["statements"]["hidden_count"], 0, "{grants}");
    }
}
