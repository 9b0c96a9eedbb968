//! Index selection end to end, as a user runs it: the `pgadvise` binary scans
//! a loaded server as a child process (wall time and peak RSS measured with
//! `wait4`), and the set it proposes is scored independently of pgadvise's own
//! numbers: every `indexes[].ddl` created as a hypothetical index (hypopg) in a
//! fresh session, the workload's generic-plan cost without and with the set,
//! and the set's size by `hypopg_relation_size`.
//!
//! `cargo bench --bench selection -- s7|tpch [options] [--scan-args ARG...]`
//!
//!   s7    `shared/bench/scale_gen.py 200 20000 25`: 200 tables, 5,000 SELECTs
//!         (loaded, then vacuumed as autovacuum soon would), each run once
//!         after a reset of the database's pg_stat_statements;
//!         scanned with `--top 10000 --min-calls 1`. Also measures the
//!         pg_stat_statements entries the scan adds, the evictions, whether a
//!         second scan still sees the workload, and the floor: every statement
//!         planned twice (generic plans, pipelined). Targets are checked; the
//!         bench exits 1 when one is missed.
//!   tpch  TPC-H scale factor 1 as `shared/bench/tpch/README.md` sets it up (no
//!         keys, no indexes, statistics frozen), scanned with `--queries-file
//!         shared/bench/tpch/queries.sql`; the set is scored next to the
//!         reference `extend_1000MB.sql` on the same load.
//!
//! Options:
//!   --url URL        an existing superuser connection; the database to use.
//!                    Default: a throwaway cluster (`LocalCluster`, server
//!                    binaries and hypopg needed) with a database `s7`/`tpch`.
//!                    Tables already loaded (s7: `t199` analyzed; tpch: the
//!                    eight tables vacuumed) are not loaded again.
//!   --shared DIR     the shared benchmark files (default: `../shared` beside
//!                    the repository).
//!   --pgadvise PATH  the binary to measure (default: the one `cargo bench`
//!                    builds, `<target>/release/pgadvise`).
//!   --json FILE      also write the numbers as JSON.
//!   --save-scan FILE also write the (first) scan's JSON report.
//!   --tpchgen PATH   tpch: the `tpchgen-cli` binary. Default
//!                    `<target>/bench-tools/bin/tpchgen-cli`, installed there
//!                    with `cargo install --locked tpchgen-cli` when missing
//!                    (crates.io; the data is generated here, never downloaded).
//!   --tpch-data DIR  tpch: where the generated `.tbl` files live (default
//!                    `<target>/bench-data/tpch-sf1`; kept between runs).
//!   --scan-args ...  everything after it goes to `pgadvise scan` verbatim
//!                    (e.g. `--scan-args --budget 1000MB`).
//!
//! Sizes and memory are in MB of 10^6 bytes. See docs/benchmark.md.

use pgadvise::cluster::{ClusterOptions, LocalCluster};
use pgadvise::collect::SQL_TAG;
use pgadvise::verify::{PlanError, PlanSummary, WhatIf};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/measured.rs"]
mod measured;
use measured::{run_measured, Measured};

const MB: f64 = 1e6;

/// pg_stat_statements.max of the throwaway cluster: room for the 5,000
/// workload statements and what any scan adds, so evictions are the scan's.
const PGSS_MAX: &str = "10000";

const TPCH_TABLES: [&str; 8] = [
    "region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    S7,
    Tpch,
}

impl Workload {
    fn database(self) -> &'static str {
        match self {
            Workload::S7 => "s7",
            Workload::Tpch => "tpch",
        }
    }
}

struct Options {
    workload: Workload,
    url: Option<String>,
    shared: PathBuf,
    pgadvise: PathBuf,
    json: Option<PathBuf>,
    save_scan: Option<PathBuf>,
    tpchgen: Option<PathBuf>,
    tpch_data: PathBuf,
    scan_args: Vec<String>,
}

const USAGE: &str = "usage: cargo bench --bench selection -- s7|tpch [--url URL] [--shared DIR] \
[--pgadvise PATH] [--json FILE] [--save-scan FILE] [--tpchgen PATH] [--tpch-data DIR] [--scan-args ARG...]";

/// `<target>` of this build: the bench runs from `<target>/release/deps/`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn options() -> Result<Options, String> {
    // `cargo bench` adds `--bench`; pgadvise has no such flag, so it is never meant for it.
    let all: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (ours, scan_args) = match all.iter().position(|a| a == "--scan-args") {
        Some(i) => (all[..i].to_vec(), all[i + 1..].to_vec()),
        None => (all, Vec::new()),
    };
    let target = target_dir();
    let mut workload = None;
    let mut options = Options {
        workload: Workload::S7,
        url: None,
        shared: Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        pgadvise: PathBuf::from(env!("CARGO_BIN_EXE_pgadvise")),
        json: None,
        save_scan: None,
        tpchgen: None,
        tpch_data: target.join("bench-data/tpch-sf1"),
        scan_args,
    };
    let mut args = ours.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} takes a value"));
        match arg.as_str() {
            "s7" => workload = Some(Workload::S7),
            "tpch" => workload = Some(Workload::Tpch),
            "--url" => options.url = Some(value("--url")?),
            "--shared" => options.shared = value("--shared")?.into(),
            "--pgadvise" => options.pgadvise = value("--pgadvise")?.into(),
            "--json" => options.json = Some(value("--json")?.into()),
            "--save-scan" => options.save_scan = Some(value("--save-scan")?.into()),
            "--tpchgen" => options.tpchgen = Some(value("--tpchgen")?.into()),
            "--tpch-data" => options.tpch_data = value("--tpch-data")?.into(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    options.workload = workload.ok_or("which workload: s7 or tpch")?;
    Ok(options)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the benchmark server: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The server: the `--url` one, or a throwaway cluster with a database of the
/// workload's name (kept alive as long as this value).
struct Server {
    url: String,
    _cluster: Option<LocalCluster>,
}

async fn server(options: &Options) -> Server {
    if let Some(url) = &options.url {
        return Server {
            url: url.clone(),
            _cluster: None,
        };
    }
    let cluster = LocalCluster::start(&ClusterOptions {
        settings: vec![("pg_stat_statements.max".into(), PGSS_MAX.into())],
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| {
        panic!("no PostgreSQL server for the benchmark: {e} (or pass --url of a loaded one)")
    });
    let database = options.workload.database();
    connect(&cluster.url("postgres"))
        .await
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .expect("CREATE DATABASE");
    Server {
        url: cluster.url(database),
        _cluster: Some(cluster),
    }
}

fn psql_program() -> PathBuf {
    LocalCluster::find_binaries()
        .map(|bin| bin.join("psql"))
        .unwrap_or_else(|_| PathBuf::from("psql"))
}

/// Runs psql against `url` with `args`, results discarded, stopping at the first error.
fn psql(url: &str, args: &[&str]) {
    let out = Command::new(psql_program())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("running psql");
    if !out.status.success() {
        panic!(
            "psql {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Resets this database's pg_stat_statements entries only.
async fn reset_statements(client: &tokio_postgres::Client) {
    client
        .batch_execute(&format!(
            "SELECT {SQL_TAG} pg_stat_statements_reset(0, \
             (SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
        ))
        .await
        .expect("pg_stat_statements_reset");
}

/// This database's pg_stat_statements entries and the evictions so far.
#[derive(Clone, Copy)]
struct Entries {
    count: i64,
    dealloc: i64,
}

async fn entries(client: &tokio_postgres::Client) -> Entries {
    let row = client
        .query_one(
            &format!(
                "SELECT {SQL_TAG} (SELECT count(*) FROM pg_stat_statements \
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())), \
                 (SELECT dealloc FROM pg_stat_statements_info)"
            ),
            &[],
        )
        .await
        .expect("counting pg_stat_statements entries");
    Entries {
        count: row.get(0),
        dealloc: row.get(1),
    }
}

/// Counts before the scan: twice, so the counting statement's own entry
/// already exists and is not taken for one the scan added.
async fn entries_before(client: &tokio_postgres::Client) -> Entries {
    entries(client).await;
    entries(client).await
}

/// A `pgadvise scan --format json` run and what its report says.
struct Scan {
    measured: Measured,
    report: Option<Value>,
    proposals: Vec<Proposal>,
    analyzed: Option<u64>,
}

struct Proposal {
    ddl: String,
    verified: bool,
}

fn scan(options: &Options, url: &str, workload_args: &[String]) -> Scan {
    let mut args = vec!["scan".to_string(), url.to_string()];
    args.extend(workload_args.iter().cloned());
    args.extend(["--format".to_string(), "json".to_string()]);
    args.extend(options.scan_args.iter().cloned());
    println!("running: {} {}", options.pgadvise.display(), args.join(" "));
    let measured = run_measured(Command::new(&options.pgadvise).args(&args));
    let report: Option<Value> = if measured.exit == Some(0) {
        serde_json::from_slice(&measured.stdout).ok()
    } else {
        let stderr = String::from_utf8_lossy(&measured.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        println!(
            "pgadvise scan failed (exit {:?}):\n{}",
            measured.exit,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        None
    };
    let stderr = String::from_utf8_lossy(&measured.stderr);
    for warning in stderr.lines().filter(|l| l.contains("warning")).take(5) {
        println!("  {warning}");
    }
    let proposals = report
        .as_ref()
        .and_then(|r| r["indexes"].as_array())
        .map(|indexes| {
            indexes
                .iter()
                .filter_map(|i| {
                    Some(Proposal {
                        ddl: i["ddl"].as_str()?.to_string(),
                        verified: i["verified"].as_bool().unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let analyzed = report
        .as_ref()
        .and_then(|r| r["statements_analyzed"].as_u64());
    Scan {
        measured,
        report,
        proposals,
        analyzed,
    }
}

/// A workload statement: its text and its weight (calls, or 1).
struct Statement {
    text: String,
    weight: f64,
}

/// One index set as hypothetical indexes: what was created and every
/// statement's generic-plan cost with it.
struct SetScore {
    created: usize,
    errors: Vec<String>,
    size_bytes: i64,
    costs: Vec<Option<f64>>,
}

fn costs(plans: Vec<Result<PlanSummary, PlanError>>) -> Vec<Option<f64>> {
    plans
        .into_iter()
        .map(|p| p.ok().map(|p| p.total_cost))
        .collect()
}

async fn score_set(whatif: &WhatIf, texts: &[&str], ddls: &[&str]) -> SetScore {
    whatif.reset().await.expect("hypopg_reset");
    let mut score = SetScore {
        created: 0,
        errors: Vec::new(),
        size_bytes: 0,
        costs: Vec::new(),
    };
    for ddl in ddls {
        match whatif.create_hypothetical(ddl).await {
            Ok(index) => {
                score.created += 1;
                score.size_bytes += index.size_bytes;
            }
            Err(e) => score.errors.push(e.to_string()),
        }
    }
    score.costs = costs(whatif.plan_many(texts).await);
    whatif.reset().await.expect("hypopg_reset");
    score
}

/// Σ weight × cost without and with a set, over the statements planned both times.
struct Totals {
    before: f64,
    after: f64,
    compared: usize,
}

impl Totals {
    fn of(statements: &[Statement], before: &[Option<f64>], after: &[Option<f64>]) -> Totals {
        let mut totals = Totals {
            before: 0.0,
            after: 0.0,
            compared: 0,
        };
        for ((s, b), a) in statements.iter().zip(before).zip(after) {
            if let (Some(b), Some(a)) = (b, a) {
                totals.before += s.weight * b;
                totals.after += s.weight * a;
                totals.compared += 1;
            }
        }
        totals
    }

    fn relative(&self) -> f64 {
        self.after / self.before.max(1e-9)
    }

    fn cut_percent(&self) -> f64 {
        100.0 * (1.0 - self.relative())
    }
}

async fn open_whatif(url: &str) -> WhatIf {
    let client = connect(url).await;
    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .await
        .expect("server_version_num")
        .get(0);
    let whatif = WhatIf::open(client, version.parse().expect("server_version_num"))
        .await
        .unwrap_or_else(|e| panic!("opening the what-if session: {e}"));
    // hypopg's own OID range runs out after a few thousand indexes ("not more
    // oid available"); real OIDs (superuser only) have no such limit.
    if let Err(e) = whatif
        .client()
        .batch_execute(&format!("SET {SQL_TAG} hypopg.use_real_oids = on"))
        .await
    {
        println!("hypopg.use_real_oids stays off ({e}): large sets may not fit");
    }
    whatif
}

async fn ensure_extensions(url: &str) -> tokio_postgres::Client {
    let client = connect(url).await;
    client
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; \
             CREATE EXTENSION IF NOT EXISTS hypopg;",
        )
        .await
        .expect(
            "CREATE EXTENSION pg_stat_statements, hypopg (apt-get install postgresql-15-hypopg)",
        );
    client
        .query_one("SELECT count(*) FROM pg_stat_statements", &[])
        .await
        .expect("pg_stat_statements must be in shared_preload_libraries");
    client
}

async fn setting(client: &tokio_postgres::Client, name: &str) -> String {
    client
        .query_one("SELECT current_setting($1)", &[&name])
        .await
        .map(|r| r.get(0))
        .unwrap_or_else(|_| "?".to_string())
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn print_errors(what: &str, errors: &[String]) {
    if errors.is_empty() {
        return;
    }
    println!("{what}: hypopg refused {} index(es), e.g.:", errors.len());
    for e in errors.iter().take(5) {
        println!("  {e}");
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn write_json(options: &Options, value: &Value) {
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(value).expect("JSON");
        std::fs::write(path, text + "\n")
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("numbers written to {}", path.display());
    }
}

fn save_scan(options: &Options, scan: &Scan) {
    if let Some(path) = &options.save_scan {
        std::fs::write(path, &scan.measured.stdout)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

fn measured_json(m: &Measured) -> Value {
    json!({
        "exit": m.exit,
        "wall_s": seconds(m.wall),
        "peak_rss_mb": m.peak_rss_bytes as f64 / MB,
    })
}

// ---------------------------------------------------------------- s7

async fn s7(options: &Options) -> bool {
    let server = server(options).await;
    let url = &server.url;
    let client = ensure_extensions(url).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let setup = dir.path().join("setup.sql");
    let queries = dir.path().join("queries.sql");
    let generator = options.shared.join("bench/scale_gen.py");
    let out = Command::new("python3")
        .arg(&generator)
        .args(["200", "20000", "25"])
        .arg(&setup)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running python3 {}: {e}", generator.display()));
    assert!(out.status.success(), "{} failed", generator.display());
    std::fs::write(&queries, &out.stdout).expect("writing queries.sql");

    let loaded: bool = client
        .query_one(
            "SELECT coalesce((SELECT reltuples > 0 FROM pg_class WHERE oid = to_regclass('t199')), false)",
            &[],
        )
        .await
        .expect("looking for t199")
        .get(0);
    if loaded {
        println!("s7: tables already loaded, not loading again");
    } else {
        let started = Instant::now();
        psql(url, &["-f", setup.to_str().expect("path")]);
        // Autovacuum would vacuum every table within minutes (20,000 inserts
        // each) and make index-only scans cheaper mid-run; the visibility map
        // is set now, so every run plans against the same state.
        client.batch_execute("VACUUM").await.expect("VACUUM");
        println!(
            "s7: loaded 200 tables x 20,000 rows and vacuumed in {:.1} s",
            seconds(started.elapsed())
        );
    }
    reset_statements(&client).await;
    let started = Instant::now();
    psql(url, &["-f", queries.to_str().expect("path")]);
    println!(
        "s7: pg_stat_statements reset for this database, every statement run once in {:.1} s",
        seconds(started.elapsed())
    );

    // The workload as pg_stat_statements holds it now, pgadvise's own left out.
    let rows = client
        .query(
            &format!(
                "SELECT {SQL_TAG} query, calls::float8 FROM pg_stat_statements \
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND toplevel AND strpos(query, $1) = 0 \
                 AND query ~* '^\\s*(select|update|delete)\\M' ORDER BY queryid"
            ),
            &[&SQL_TAG],
        )
        .await
        .expect("reading the workload");
    let statements: Vec<Statement> = rows
        .iter()
        .map(|r| Statement {
            text: r.get(0),
            weight: r.get(1),
        })
        .collect();
    let pgss_max = setting(&client, "pg_stat_statements.max").await;

    let before = entries_before(&client).await;
    let workload_args: Vec<String> = ["--top", "10000", "--min-calls", "1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let first = scan(options, url, &workload_args);
    save_scan(options, &first);
    let after = entries(&client).await;
    let second = scan(options, url, &workload_args);

    // Scoring and the floor add entries of their own: counted above already.
    let whatif = open_whatif(url).await;
    let texts: Vec<&str> = statements.iter().map(|s| s.text.as_str()).collect();
    let floor_started = Instant::now();
    let baseline = costs(whatif.plan_many(&texts).await);
    let _ = whatif.plan_many(&texts).await;
    let floor = floor_started.elapsed();
    let ddls: Vec<&str> = first.proposals.iter().map(|p| p.ddl.as_str()).collect();
    let set = score_set(&whatif, &texts, &ddls).await;
    let _ = whatif.close().await;
    let totals = Totals::of(&statements, &baseline, &set.costs);

    let proposed = first.proposals.len();
    let verified = first.proposals.iter().filter(|p| p.verified).count();
    let size_mb = set.size_bytes as f64 / MB;
    let cut = totals.cut_percent();
    let wall = first.measured.wall;
    let rss_mb = first.measured.peak_rss_bytes as f64 / MB;
    let new_entries = after.count - before.count;
    let dealloc = after.dealloc - before.dealloc;
    let sees = matches!((first.analyzed, second.analyzed), (Some(a), Some(b)) if b >= a);
    let ran = first.report.is_some();

    println!();
    println!(
        "S7: {} statements ({} planned), pg_stat_statements.max {pgss_max}, {} entries before the scan",
        statements.len(),
        totals.compared,
        before.count
    );
    print_errors("proposed set", &set.errors);
    println!("| measure | value | target | |");
    println!("| --- | --- | --- | --- |");
    let checks = [
        (
            "indexes (verified)",
            format!("{proposed} ({verified})"),
            "every proposal verified",
            ran && verified == proposed,
        ),
        (
            "size (hypopg)",
            format!("{size_mb:.1} MB ({} created)", set.created),
            "",
            true,
        ),
        (
            "relative cost",
            format!(
                "{:.3} ({:.4e} -> {:.4e})",
                totals.relative(),
                totals.before,
                totals.after
            ),
            "",
            true,
        ),
        (
            "cost cut",
            format!("{cut:.1} %"),
            ">= 80% within 301 MB, or >= 63.6% within 150 MB",
            ran && ((cut >= 80.0 && size_mb <= 301.0) || (cut >= 63.6 && size_mb <= 150.0)),
        ),
        (
            "scan wall time",
            format!(
                "{:.2} s = {:.2} x floor ({:.2} s: 2 x {} EXPLAINs)",
                seconds(wall),
                seconds(wall) / seconds(floor).max(1e-9),
                seconds(floor),
                texts.len()
            ),
            "<= 3 x floor",
            ran && seconds(wall) <= 3.0 * seconds(floor),
        ),
        (
            "scan peak RSS",
            format!("{rss_mb:.1} MB"),
            "< 200 MB",
            ran && rss_mb < 200.0,
        ),
        (
            "pg_stat_statements",
            format!("{new_entries} new entries, dealloc +{dealloc}"),
            "< 50 new, dealloc unchanged",
            new_entries < 50 && dealloc == 0,
        ),
        (
            "next scan",
            format!(
                "analyzes {} statements (first: {}), {:.2} s",
                second.analyzed.map_or("?".into(), |n| n.to_string()),
                first.analyzed.map_or("?".into(), |n| n.to_string()),
                seconds(second.measured.wall)
            ),
            "still sees the workload",
            sees,
        ),
    ];
    let mut all = true;
    for (measure, value, target, ok) in &checks {
        let mark = if target.is_empty() { "" } else { verdict(*ok) };
        all &= *ok;
        println!("| {measure} | {value} | {target} | {mark} |");
    }
    write_json(
        options,
        &json!({
            "workload": "s7",
            "statements": statements.len(),
            "statements_planned": totals.compared,
            "pg_stat_statements_max": pgss_max,
            "scan": measured_json(&first.measured),
            "statements_analyzed": first.analyzed,
            "indexes": proposed,
            "verified": verified,
            "hypopg_created": set.created,
            "hypopg_errors": set.errors,
            "size_mb": size_mb,
            "cost_before": totals.before,
            "cost_after": totals.after,
            "relative_cost": totals.relative(),
            "cost_cut_percent": cut,
            "floor_s": seconds(floor),
            "wall_over_floor": seconds(wall) / seconds(floor).max(1e-9),
            "pg_stat_statements_entries_before": before.count,
            "pg_stat_statements_new_entries": new_entries,
            "pg_stat_statements_dealloc_delta": dealloc,
            "second_scan": measured_json(&second.measured),
            "second_scan_statements_analyzed": second.analyzed,
            "pass": all,
        }),
    );
    all
}

// ---------------------------------------------------------------- tpch

/// The `tpchgen-cli` binary: `--tpchgen`, else the one under `<target>/bench-tools`,
/// installed there from crates.io when missing.
fn tpchgen(options: &Options) -> PathBuf {
    if let Some(path) = &options.tpchgen {
        return path.clone();
    }
    let root = target_dir().join("bench-tools");
    let binary = root.join("bin/tpchgen-cli");
    if !binary.is_file() {
        println!("tpch: installing tpchgen-cli into {}", root.display());
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["install", "--locked", "tpchgen-cli", "--root"])
            .arg(&root)
            .env("CARGO_TARGET_DIR", target_dir().join("bench-tools/build"))
            .status()
            .expect("running cargo install");
        assert!(status.success(), "cargo install tpchgen-cli failed");
    }
    binary
}

/// Generates the scale factor 1 `.tbl` files into `--tpch-data` unless they are there.
fn tpch_data(options: &Options) -> PathBuf {
    let dir = &options.tpch_data;
    let complete = TPCH_TABLES
        .iter()
        .all(|t| dir.join(format!("{t}.tbl")).is_file());
    if complete {
        return dir.clone();
    }
    std::fs::create_dir_all(dir).expect("creating the TPC-H data directory");
    let started = Instant::now();
    let status = Command::new(tpchgen(options))
        .args(["tbl", "--scale-factor", "1", "--quiet", "--output-dir"])
        .arg(dir)
        .status()
        .expect("running tpchgen-cli");
    assert!(status.success(), "tpchgen-cli failed");
    println!(
        "tpch: generated scale factor 1 into {} in {:.1} s",
        dir.display(),
        seconds(started.elapsed())
    );
    dir.clone()
}

/// `\copy`s one dbgen-format file, each line's trailing `|` removed on the way.
fn copy_table(url: &str, table: &str, file: &Path) {
    let mut child = Command::new(psql_program())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
        .arg(format!("\\copy {table} FROM pstdin WITH (DELIMITER '|')"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("running psql");
    let mut stdin = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    );
    use std::io::BufRead;
    for line in reader.split(b'\n') {
        let line = line.expect("reading a .tbl file");
        let line = line.strip_suffix(b"|").unwrap_or(&line);
        stdin.write_all(line).expect("feeding psql");
        stdin.write_all(b"\n").expect("feeding psql");
    }
    drop(stdin);
    let status = child.wait().expect("psql");
    assert!(status.success(), "\\copy {table} failed");
}

async fn tpch_load(options: &Options, url: &str, client: &tokio_postgres::Client) {
    let loaded: bool = client
        .query_one(
            "SELECT count(*) = 8 FROM pg_class WHERE relkind = 'r' AND reltuples > 0 \
             AND oid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)",
            &[&TPCH_TABLES.to_vec()],
        )
        .await
        .expect("looking for the TPC-H tables")
        .get(0);
    if loaded {
        println!("tpch: tables already loaded and vacuumed, not loading again");
        return;
    }
    let data = tpch_data(options);
    let started = Instant::now();
    let schema = options.shared.join("bench/tpch/schema.sql");
    psql(url, &["-f", schema.to_str().expect("path")]);
    // Autovacuum off before the data arrives: only the one VACUUM below samples.
    for table in TPCH_TABLES {
        client
            .batch_execute(&format!(
                "ALTER TABLE {table} SET (autovacuum_enabled = off)"
            ))
            .await
            .expect("ALTER TABLE");
    }
    for table in TPCH_TABLES {
        copy_table(url, table, &data.join(format!("{table}.tbl")));
    }
    client
        .batch_execute("VACUUM (FREEZE, ANALYZE)")
        .await
        .expect("VACUUM (FREEZE, ANALYZE)");
    println!(
        "tpch: loaded and vacuumed in {:.1} s",
        seconds(started.elapsed())
    );
}

/// `CREATE INDEX` statements of a SQL file, one per line (comments skipped).
fn index_statements(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .lines()
        .map(str::trim)
        .filter(|l| l.to_ascii_lowercase().starts_with("create"))
        .map(str::to_string)
        .collect()
}

async fn tpch(options: &Options) -> bool {
    let server = server(options).await;
    let url = &server.url;
    let client = ensure_extensions(url).await;
    tpch_load(options, url, &client).await;

    let dir = options.shared.join("bench/tpch");
    let queries_file = dir.join("queries.sql");
    let texts_owned: Vec<String> = std::fs::read_to_string(&queries_file)
        .unwrap_or_else(|e| panic!("{}: {e}", queries_file.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let ids: Vec<String> = std::fs::read_to_string(dir.join("queries.ids"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let statements: Vec<Statement> = texts_owned
        .iter()
        .map(|t| Statement {
            text: t.clone(),
            weight: 1.0,
        })
        .collect();

    reset_statements(&client).await;
    let before = entries_before(&client).await;
    let workload_args = vec![
        "--queries-file".to_string(),
        queries_file.to_str().expect("path").to_string(),
    ];
    let run = scan(options, url, &workload_args);
    save_scan(options, &run);
    let after = entries(&client).await;

    let whatif = open_whatif(url).await;
    let texts: Vec<&str> = texts_owned.iter().map(String::as_str).collect();
    let baseline = costs(whatif.plan_many(&texts).await);
    let ddls: Vec<&str> = run.proposals.iter().map(|p| p.ddl.as_str()).collect();
    let proposed = score_set(&whatif, &texts, &ddls).await;
    let extend_ddls = index_statements(&dir.join("extend_1000MB.sql"));
    let extend_refs: Vec<&str> = extend_ddls.iter().map(String::as_str).collect();
    let extend = score_set(&whatif, &texts, &extend_refs).await;
    let _ = whatif.close().await;
    let ours = Totals::of(&statements, &baseline, &proposed.costs);
    let reference = Totals::of(&statements, &baseline, &extend.costs);

    let verified = run.proposals.iter().filter(|p| p.verified).count();
    let new_entries = after.count - before.count;
    let dealloc = after.dealloc - before.dealloc;
    println!();
    println!(
        "TPC-H SF1: {} queries ({} planned without indexes), weight 1 each; baseline cost {:.6e}",
        texts.len(),
        baseline.iter().flatten().count(),
        ours.before
    );
    print_errors("pgadvise set", &proposed.errors);
    print_errors("extend_1000MB", &extend.errors);
    println!("| set | indexes (verified) | size | relative cost | cost cut | time | peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| pgadvise scan | {} ({verified}) | {:.1} MB | {:.3} | {:.1} % | {:.2} s | {:.1} MB |",
        run.proposals.len(),
        proposed.size_bytes as f64 / MB,
        ours.relative(),
        ours.cut_percent(),
        seconds(run.measured.wall),
        run.measured.peak_rss_bytes as f64 / MB
    );
    println!(
        "| extend_1000MB.sql (reference) | {} | {:.1} MB | {:.3} | {:.1} % | 8.8 s (README) | |",
        extend_ddls.len(),
        extend.size_bytes as f64 / MB,
        reference.relative(),
        reference.cut_percent()
    );
    println!("pg_stat_statements: {new_entries} new entries during the scan, dealloc +{dealloc}");
    println!();
    println!("| query | no index | pgadvise | extend_1000MB |");
    println!("| --- | --- | --- | --- |");
    let show = |c: Option<&Option<f64>>| match c {
        Some(Some(c)) => format!("{c:.0}"),
        _ => "error".to_string(),
    };
    let mut per_query = Vec::new();
    for (i, _) in texts.iter().enumerate() {
        let id = ids.get(i).cloned().unwrap_or_else(|| format!("#{}", i + 1));
        println!(
            "| {id} | {} | {} | {} |",
            show(baseline.get(i)),
            show(proposed.costs.get(i)),
            show(extend.costs.get(i))
        );
        per_query.push(json!({
            "query": id,
            "cost": baseline.get(i).copied().flatten(),
            "cost_pgadvise": proposed.costs.get(i).copied().flatten(),
            "cost_extend_1000MB": extend.costs.get(i).copied().flatten(),
        }));
    }
    write_json(
        options,
        &json!({
            "workload": "tpch",
            "scan": measured_json(&run.measured),
            "statements_analyzed": run.analyzed,
            "indexes": run.proposals.len(),
            "verified": verified,
            "hypopg_created": proposed.created,
            "hypopg_errors": proposed.errors,
            "size_mb": proposed.size_bytes as f64 / MB,
            "cost_before": ours.before,
            "cost_after": ours.after,
            "relative_cost": ours.relative(),
            "reference": {
                "set": "extend_1000MB.sql",
                "indexes": extend_ddls.len(),
                "hypopg_errors": extend.errors,
                "size_mb": extend.size_bytes as f64 / MB,
                "cost_after": reference.after,
                "relative_cost": reference.relative(),
            },
            "pg_stat_statements_new_entries": new_entries,
            "pg_stat_statements_dealloc_delta": dealloc,
            "queries": per_query,
        }),
    );
    run.report.is_some()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let ok = match options.workload {
        Workload::S7 => s7(&options).await,
        Workload::Tpch => tpch(&options).await,
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
