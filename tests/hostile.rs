//! Statement texts as a careless or hostile source gives them: expression
//! chains deep enough to overflow a stack, texts of megabytes, statements on
//! tables the snapshot does not have; through a queries file and a snapshot.
//! Every run finishes (exit 0), skips what it cannot analyze and says why, in
//! bounded memory.

mod support;

use pgadvise::snapshot::{Snapshot, Statement};
use std::path::Path;
use support::measured::run_measured;
use support::{pgadvise, text, TestDb};

const SCHEMA: &str = "CREATE TABLE t (a int, b timestamptz, c int[], d text);
     INSERT INTO t SELECT g, now(), ARRAY[g], 'x' || g FROM generate_series(1, 1000) g;
     ANALYZE t;";

/// Analyzed next to the hostile texts: the run goes on around them.
const PLAIN: &str = "SELECT a FROM t WHERE d = $1";

/// Each chain at the smallest size (of 90,000, 130,000, 200,000 and 260,000
/// links) at which the debug build overflowed its stack and aborted (exit
/// 134) before the limits.
fn chains() -> Vec<(&'static str, String)> {
    vec![
        (
            "casts",
            format!("SELECT a FROM t WHERE a{} = 1", "::int".repeat(130_000)),
        ),
        (
            "IS NULL",
            format!("SELECT a FROM t WHERE a{}", " IS NULL".repeat(260_000)),
        ),
        (
            "subscripts",
            format!("SELECT a FROM t WHERE c{} = 1", "[1]".repeat(260_000)),
        ),
        (
            "AT TIME ZONE",
            format!(
                "SELECT a FROM t WHERE b{} > now()",
                " AT TIME ZONE 'UTC'".repeat(130_000)
            ),
        ),
        (
            "IS NOT TRUE",
            format!(
                "SELECT a FROM t WHERE (a = 1){}",
                " IS NOT TRUE".repeat(260_000)
            ),
        ),
        (
            "ORDER BY casts",
            format!("SELECT a FROM t ORDER BY d{}", "::text".repeat(130_000)),
        ),
    ]
}

/// A database with [`SCHEMA`] and [`PLAIN`] run a few times, and its snapshot.
async fn db_and_snapshot(prefix: &str, dir: &Path) -> (TestDb, Snapshot) {
    let db = TestDb::create(prefix).await;
    let c = db.client().await;
    c.batch_execute(SCHEMA).await.unwrap();
    db.reset_statements(&c).await;
    let stmt = c.prepare(PLAIN).await.unwrap();
    for p in 0..3 {
        c.query(&stmt, &[&format!("x{p}")]).await.unwrap();
    }
    let file = dir.join("read.json");
    let out = pgadvise()
        .arg("snapshot")
        .arg("-o")
        .arg(&file)
        .arg(&db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snapshot = Snapshot::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    (db, snapshot)
}

/// `snapshot` with `queries` as hot pg_stat_statements entries, written to `path`.
fn with_entries(snapshot: &Snapshot, queries: &[String], path: &Path) {
    let mut snapshot = snapshot.clone();
    for (i, query) in queries.iter().enumerate() {
        snapshot.statements.entries.push(Statement {
            calls: 500,
            total_exec_time: 50_000.0,
            mean_exec_time: 100.0,
            ..Statement::given(1_000 + i as i64, query.clone())
        });
    }
    std::fs::write(path, snapshot.to_json()).unwrap();
}

/// How many statements the report counts under `reason`.
fn skipped_for(report: &serde_json::Value, reason: &str) -> u64 {
    report["statements_skipped_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == reason)
        .and_then(|r| r["count"].as_u64())
        .unwrap_or(0)
}

/// A `scan --format json` run that must end in exit 0; its report and stderr.
fn scan(args: &[&std::ffi::OsStr]) -> (serde_json::Value, String) {
    let out = pgadvise()
        .args(["scan", "--no-verify", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{:?}: {stderr}", out.status);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    (report, stderr)
}

#[tokio::test]
async fn deep_chains_are_skipped_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (db, snapshot) = db_and_snapshot("hostile_chains", dir.path()).await;
    let chains = chains();
    let texts: Vec<String> = chains.iter().map(|(_, sql)| sql.clone()).collect();

    // A queries file: the chains, then a plain statement after them.
    let file = dir.path().join("queries.sql");
    std::fs::write(&file, format!("{};\n{PLAIN};\n", texts.join(";\n"))).unwrap();
    let (report, stderr) = scan(&["--queries-file".as_ref(), file.as_os_str(), db.url.as_ref()]);
    assert_eq!(skipped_for(&report, "too large"), 6, "{report:#}\n{stderr}");
    assert_eq!(report["statements_analyzed"], 2, "{report:#}");

    // Snapshot entries, each kind on its own (a statement that aborts the run
    // would hide the others).
    for (kind, sql) in &chains {
        let path = dir.path().join("hostile.json");
        with_entries(&snapshot, std::slice::from_ref(sql), &path);
        let (report, stderr) = scan(&["--snapshot".as_ref(), path.as_os_str()]);
        assert_eq!(skipped_for(&report, "too large"), 1, "{kind}: {stderr}");
        assert_eq!(report["statements_analyzed"], 1, "{kind}: {report:#}");
    }

    // The text summary names the reason.
    let path = dir.path().join("all.json");
    with_entries(&snapshot, &texts, &path);
    let out = pgadvise()
        .args(["scan", "--snapshot"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("6 too large"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn memory_per_statement_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, snapshot) = db_and_snapshot("hostile_memory", dir.path()).await;
    let texts = [
        // 1 MB of field access: 1 GB before, and an index whose DDL held it all.
        format!("SELECT a FROM t WHERE (a){} = 1", ".f".repeat(500_000)),
        // A 10 MB IN list: 856 MB before.
        format!(
            "SELECT a FROM t WHERE a IN ({})",
            (0..1_500_000)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        // The most field access the token limit lets through: analyzed.
        format!("SELECT a FROM t WHERE (a){} = 1", ".f".repeat(74_000)),
    ];
    let path = dir.path().join("large.json");
    with_entries(&snapshot, &texts, &path);
    let run = run_measured(
        pgadvise()
            .args(["scan", "--no-verify", "--format", "json", "--snapshot"])
            .arg(&path),
    );
    let (code, peak) = (run.exit, run.peak_rss_bytes);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(skipped_for(&report, "too large"), 2, "{report:#}\n{stderr}");
    assert_eq!(report["statements_analyzed"], 2, "{report:#}");
    for index in report["indexes"].as_array().unwrap() {
        let ddl = index["ddl"].as_str().unwrap();
        assert!(ddl.len() < 1_000, "{}...", &ddl[..200.min(ddl.len())]);
    }
    // About 150 MB in a debug build, most of it the snapshot's 12 MB of text
    // read, parsed and held.
    assert!(
        peak < 256 << 20,
        "peak RSS {} MiB (limit 256 MiB)",
        peak >> 20
    );
}

#[tokio::test]
async fn a_workload_of_unknown_tables_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, mut snapshot) = db_and_snapshot("hostile_unknown", dir.path()).await;
    // Taken on another database than the one whose tables it describes.
    snapshot.statements.entries.clear();
    let path = dir.path().join("unknown.json");
    with_entries(
        &snapshot,
        &[
            "SELECT * FROM invoices WHERE customer_id = $1".to_string(),
            "SELECT i.id FROM invoices i JOIN payments p ON p.invoice_id = i.id".to_string(),
            "UPDATE ledger SET balance = $1 WHERE account = $2".to_string(),
        ],
        &path,
    );
    let (report, stderr) = scan(&["--snapshot".as_ref(), path.as_os_str()]);
    assert_eq!(report["statements_analyzed"], 0, "{report:#}");
    assert!(
        stderr.contains(
            "none of the 3 pg_stat_statements entries of this database is a query pgadvise \
             can analyze (3 unknown relation"
        ),
        "{stderr}"
    );
    // Not blamed on what was not there.
    for wrong in ["pgadvise's own", "utility", "let the workload run"] {
        assert!(!stderr.contains(wrong), "{wrong}: {stderr}");
    }
}
