//! SCENARIOS S4: the connection-pool verdict against real load on the harness
//! cluster (loopback only; every loop is bounded by time).

mod support;

use std::time::{Duration, Instant};
use support::{connect, pgadvise, TestDb};

fn with_application(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

#[tokio::test]
async fn pool_verdict_sees_budget_idle_pools_and_idle_transactions() {
    let db = TestDb::create("pool").await;
    let api_url = with_application(&db.url, "api");
    let worker_url = with_application(&db.url, "worker");

    // 12 idle api connections.
    let mut idle_api = Vec::new();
    for _ in 0..12 {
        idle_api.push(connect(&api_url).await);
    }
    // 2 workers left idle in transaction.
    let mut workers = Vec::new();
    let mut worker_pids = Vec::new();
    for _ in 0..2 {
        let w = connect(&worker_url).await;
        w.batch_execute("BEGIN; SELECT 1;").await.unwrap();
        let pid: i32 = w
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        worker_pids.push(pid);
        workers.push(w);
    }
    // 3 api tasks running short transactions until the scan is over (bounded by time).
    let deadline = Instant::now() + Duration::from_secs(20);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut busy = Vec::new();
    for _ in 0..3 {
        let client = connect(&api_url).await;
        let stop = stop.clone();
        busy.push(tokio::spawn(async move {
            while Instant::now() < deadline && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = client
                    .batch_execute("BEGIN; SELECT pg_sleep(0.01); COMMIT;")
                    .await;
            }
        }));
    }
    // The workers must be idle for a while before the window opens.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        pgadvise()
            .args([
                "scan",
                "--format",
                "json",
                "--pool",
                "api=4x20",
                "--pool",
                "worker=2x10",
            ])
            .args(["--pool", "admin=1x5", "--sample-window", "3s"])
            .arg(&url)
            .output()
            .expect("running pgadvise")
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in busy {
        let _ = task.await;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();

    let budget = findings
        .iter()
        .find(|f| f["rule"] == "pool-budget-exceeded")
        .unwrap_or_else(|| panic!("no pool-budget-exceeded in {report:#}"));
    assert_eq!(budget["severity"], "high");
    // 4×20 + 2×10 + 1×5 = 105 > 100 − 3 = 97 on the default cluster.
    assert_eq!(budget["evidence"]["total"], 105);
    assert_eq!(budget["evidence"]["budget"], 97);
    assert!(budget["detail"]
        .as_str()
        .unwrap()
        .contains("105 > budget 97"));
    assert_eq!(report["pool"]["budget"], 97);

    let idle = findings
        .iter()
        .find(|f| f["rule"] == "idle-in-transaction" && f["evidence"]["application"] == "worker")
        .unwrap_or_else(|| panic!("no idle-in-transaction for worker in {report:#}"));
    let sessions = idle["evidence"]["sessions"].as_array().unwrap();
    for pid in &worker_pids {
        let s = sessions
            .iter()
            .find(|s| s["pid"] == *pid)
            .unwrap_or_else(|| panic!("pid {pid} missing from {idle:#}"));
        assert!(s["transaction_seconds"].as_f64().unwrap() >= 1.0, "{s}");
        assert!(idle["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {pid}")));
    }

    let api = report["pool"]["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "api")
        .unwrap_or_else(|| panic!("no api in {report:#}"));
    assert_eq!(api["declared"]["total"], 80);
    assert!(
        api["observed"]["idle"]["peak"].as_u64().unwrap() >= 12,
        "{api:#}"
    );
    let recommended = api["recommended_size"].as_u64().unwrap();
    assert!((1..80).contains(&recommended), "{api:#}");
    assert!(api["arithmetic"].as_str().unwrap().contains("recommended"));
    if recommended * 2 <= 80 {
        assert!(
            findings
                .iter()
                .any(|f| f["rule"] == "pool-oversized" && f["evidence"]["application"] == "api"),
            "{report:#}"
        );
    }
    // The workers hold two connections open in their transactions: the
    // recommendation must leave room for both.
    let worker = report["pool"]["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "worker")
        .unwrap_or_else(|| panic!("no worker in {report:#}"));
    assert!(
        worker["recommended_size"].as_u64().unwrap() >= 2,
        "{worker:#}"
    );
    println!("{:#}", report["pool"]);

    drop(idle_api);
    drop(workers);
}

#[test]
fn bad_pool_syntax_is_a_usage_error() {
    let out = pgadvise()
        .args(["scan", "--pool", "api=4", "postgresql://127.0.0.1:1/x"])
        .output()
        .expect("running pgadvise");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME=INSTANCESxSIZE"));
}

#[tokio::test]
async fn declared_pools_come_from_pgadvise_toml_and_flags_win() {
    let db = TestDb::create("pool_config").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pgadvise.toml"),
        "[pools.api]\ninstances = 50\nsize = 2\n\n[pools.batch]\ninstances = 3\nsize = 10\n\n\
         [pool]\nsample_window = \"1s\"\n",
    )
    .unwrap();
    // Found in the working directory; `--pool api=...` replaces the file's api.
    let out = pgadvise()
        .current_dir(dir.path())
        .args(["pool", "--format", "json", "--pool", "api=4x20"])
        .arg(&db.url)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let apps = report["pool"]["applications"].as_array().unwrap();
    let declared = |name: &str| {
        apps.iter()
            .find(|a| a["name"] == name)
            .map(|a| a["declared"]["total"].clone())
    };
    assert_eq!(declared("api"), Some(serde_json::json!(80)), "{report:#}");
    assert_eq!(declared("batch"), Some(serde_json::json!(30)), "{report:#}");
    assert!(report["pool"]["window_seconds"].as_f64().unwrap() < 3.0);

    // The text verdict carries the ready-to-paste settings and each finding's fix.
    let out = pgadvise()
        .current_dir(dir.path())
        .args(["pool", "--quiet"])
        .arg(&db.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("settings, per instance:"), "{text}");
    assert!(text.contains("maximumPoolSize="), "{text}");
    assert!(text.contains("pool-budget-exceeded"), "{text}");
    assert!(text.contains("fix: Shrink the pools"), "{text}");

    // A mistake in the file is an input error that names the file and the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[pools.api]\ninstances = 4\n").unwrap();
    let out = pgadvise()
        .args(["--config"])
        .arg(&bad)
        .args(["pool"])
        .arg(&db.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.toml") && stderr.contains("size"),
        "{stderr}"
    );
}
