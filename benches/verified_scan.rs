//! The full verified scan at scale, on a real server with hypopg: the
//! 200-table, 5,000-statement workload of `benches/analyze.rs` loaded with
//! data, collected live, analyzed, and the set chosen with hypothetical
//! indexes (`verify::select`). Reported next to the floor any verifier pays, two
//! EXPLAINs (without and with the indexes) per statement, pipelined; and the
//! proposed set's size against the workload's cost before and after.
//!
//! `cargo bench --bench verified_scan` runs it (a throwaway cluster from the
//! server binaries, as the tests use; hypopg required). After `--`:
//!   --divisor N    rows per table = reltuples / N (default 200)
//!   --min-rows N   at least this many rows per table (default 2000)
//!   --top N        statements the advisor considers (default: all 5,000)
//! See docs/benchmark.md.

#[path = "support/workload_gen.rs"]
mod workload_gen;

use pgadvise::analyze::indexes::space::candidate_space;
use pgadvise::analyze::indexes::{self, HotStatements, TableFilter};
use pgadvise::analyze::workload::Workload;
use pgadvise::cluster::{ClusterOptions, LocalCluster};
use pgadvise::collect::conninfo::ConnectionSpec;
use pgadvise::collect::{collect, CollectOptions};
use pgadvise::snapshot::Statement;
use pgadvise::verify::select::{select, SelectOptions, Selection};
use pgadvise::verify::{VerifyOptions, WhatIf};
use std::time::{Duration, Instant};

struct Options {
    divisor: f64,
    min_rows: u64,
    top: usize,
}

fn options() -> Options {
    let mut options = Options {
        divisor: 200.0,
        min_rows: 2_000,
        top: workload_gen::STATEMENT_COUNT,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> u64 {
            args.next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{flag} takes a number"))
        };
        match arg.as_str() {
            "--divisor" => options.divisor = number("--divisor").max(1) as f64,
            "--min-rows" => options.min_rows = number("--min-rows"),
            "--top" => options.top = number("--top") as usize,
            _ => {}
        }
    }
    options
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

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = options();
    let generated = workload_gen::generate(workload_gen::SEED);

    let cluster = LocalCluster::start(&ClusterOptions::default()).unwrap_or_else(|e| {
        panic!("no PostgreSQL server binaries for the benchmark: {e} (apt-get install postgresql-15 postgresql-15-hypopg)")
    });
    let admin = connect(&cluster.url("postgres")).await;
    admin
        .batch_execute("CREATE DATABASE bench")
        .await
        .expect("CREATE DATABASE");
    let url = cluster.url("bench");
    let loader = connect(&url).await;

    let started = Instant::now();
    loader
        .batch_execute("CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg;")
        .await
        .expect("CREATE EXTENSION hypopg (apt-get install postgresql-15-hypopg)");
    loader
        .batch_execute(&generated.schema_sql())
        .await
        .expect("loading the schema");
    // A fixed seed for random(): the same rows, so runs compare.
    let data = format!(
        "SELECT setseed(0.42);\n{}",
        generated.data_sql(options.divisor, options.min_rows)
    );
    loader.batch_execute(&data).await.expect("loading the data");
    loader.batch_execute("ANALYZE").await.expect("ANALYZE");
    let rows: i64 = loader
        .query_one(
            "SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(0);
    println!(
        "loaded {} tables, {} statements, {rows} rows in {}",
        generated.tables.len(),
        generated.snapshot.statements.entries.len(),
        seconds(started.elapsed())
    );

    // The scan: collect the catalog and statistics live; the statements are
    // the generated pg_stat_statements entries (the server has not run them).
    let spec = ConnectionSpec::from_env(Some(&url)).expect("benchmark URL");
    let scan_started = Instant::now();
    let client = pgadvise::collect::connect::connect(&spec)
        .await
        .expect("connecting as pgadvise does");
    let mut snapshot = collect(
        &client,
        &CollectOptions {
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(1),
            require_statements: true,
            target: "bench".into(),
            sample_window: None,
            show_progress: false,
        },
    )
    .await
    .expect("collecting the snapshot");
    let collected = scan_started.elapsed();
    snapshot.statements.entries = generated.snapshot.statements.entries.clone();

    let analyze_started = Instant::now();
    let workload = Workload::from_snapshot(&snapshot);
    let hot = HotStatements {
        top: options.top,
        ..HotStatements::default()
    };
    let mut advice = indexes::propose(&snapshot, &workload, &hot, &TableFilter::default());
    let space = candidate_space(&snapshot, &workload, &hot, &TableFilter::default());
    let analyzed = analyze_started.elapsed();
    let heuristic = advice.proposals.len();
    let heuristic_queryids: std::collections::BTreeSet<i64> = advice
        .proposals
        .iter()
        .flat_map(|p| p.queryids.iter().copied())
        .collect();

    let whatif = WhatIf::open_with(
        pgadvise::collect::connect::connect(&spec)
            .await
            .expect("what-if session"),
        snapshot.server.version_num,
        &VerifyOptions::default(),
    )
    .await
    .expect("opening the what-if session");
    let statements: Vec<&Statement> = workload.analyzed.iter().map(|a| a.statement).collect();
    let verify_started = Instant::now();
    let Selection { chosen, report } = select(
        &whatif,
        &snapshot,
        space,
        &statements,
        &advice.proposals,
        &SelectOptions::default(),
        Vec::new(),
    )
    .await
    .expect("choosing the set");
    advice.proposals = chosen;
    let verified = verify_started.elapsed();
    let scan_total = scan_started.elapsed();

    // The floor: every analyzed statement planned twice, pipelined, on the
    // same session — what any verifier that compares plans must at least pay.
    let texts: Vec<&str> = statements.iter().map(|s| s.query.as_str()).collect();
    let floor_started = Instant::now();
    let first = whatif.plan_many(&texts).await;
    let _second = whatif.plan_many(&texts).await;
    let floor = floor_started.elapsed();
    let plannable = first.iter().filter(|p| p.is_ok()).count();

    // Verification plans only the statements a heuristic proposal is for; the
    // floor over just those is the fair per-statement comparison.
    let candidates: std::collections::BTreeSet<i64> = heuristic_queryids;
    let candidate_texts: Vec<&str> = statements
        .iter()
        .filter(|s| candidates.contains(&s.queryid))
        .map(|s| s.query.as_str())
        .collect();
    let candidate_floor_started = Instant::now();
    let _ = whatif.plan_many(&candidate_texts).await;
    let _ = whatif.plan_many(&candidate_texts).await;
    let candidate_floor = candidate_floor_started.elapsed();
    let _ = whatif.close().await;

    let involved: std::collections::BTreeSet<i64> = advice
        .proposals
        .iter()
        .flat_map(|p| p.queryids.iter().copied())
        .collect();
    let partial = advice
        .proposals
        .iter()
        .filter(|p| p.predicate.is_some())
        .count();
    let multi_column = advice
        .proposals
        .iter()
        .filter(|p| p.columns.len() > 1)
        .count();
    let reduction = report.workload_cost_before - report.workload_cost_after;

    println!(
        "statements: {} analyzed, {} skipped; {} plannable of {}",
        workload.analyzed(),
        workload.skipped(),
        plannable,
        texts.len()
    );
    println!(
        "scan: {} total = collect {} + analyze {} + verify {} ({} heuristic proposals -> {} kept, {} rejected, {} unplannable statements)",
        seconds(scan_total),
        seconds(collected),
        seconds(analyzed),
        seconds(verified),
        heuristic,
        advice.proposals.len(),
        report.rejected.len(),
        report.unplannable.len()
    );
    println!(
        "floor: 2 x {} EXPLAINs, pipelined: {} (verification took {:.2}x the floor)",
        texts.len(),
        seconds(floor),
        verified.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
    println!(
        "floor over the {} statements the heuristic proposals are for: 2 x EXPLAIN = {} (verification took {:.2}x it: one baseline, one plan per candidate for each statement it is for, the chosen set again)",
        candidate_texts.len(),
        seconds(candidate_floor),
        verified.as_secs_f64() / candidate_floor.as_secs_f64().max(1e-9)
    );
    println!(
        "set: {} indexes ({} multi-column, {} partial) serving {} statements, {:.1} MB by hypopg",
        advice.proposals.len(),
        multi_column,
        partial,
        involved.len(),
        report.total_size_bytes as f64 / 1e6
    );
    println!(
        "workload cost (calls x generic-plan cost, statements served): {:.3e} -> {:.3e} ({:.1}% less); {:.1} cost units saved per index byte",
        report.workload_cost_before,
        report.workload_cost_after,
        100.0 * reduction / report.workload_cost_before.max(1e-9),
        reduction / (report.total_size_bytes.max(1) as f64)
    );
    drop(cluster);
}
