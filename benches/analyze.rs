//! Offline analysis at scale: a 200-table, 5,000-statement snapshot read from
//! JSON (as `--snapshot FILE` does) and analyzed: query shapes, index proposals,
//! health and anti-pattern rules, against the targets < 1 s wall time and < 100 MB
//! peak memory. Exits 1 when one is missed.
//!
//! `cargo bench --bench analyze` runs it; after `--`:
//!   --runs N              timed runs, best one reported (default 5)
//!   --write-snapshot FILE the generated snapshot as JSON (or PGADVISE_BENCH_SNAPSHOT)
//!   --write-sql FILE      the schema and statements as SQL (or PGADVISE_BENCH_SQL)
//! See docs/benchmark.md.

#[path = "support/workload_gen.rs"]
mod workload_gen;

use pgadvise::analyze::antipatterns::{self, AntipatternOptions};
use pgadvise::analyze::health::{self, HealthOptions};
use pgadvise::analyze::indexes::{self, HotStatements, TableFilter};
use pgadvise::analyze::workload::Workload;
use pgadvise::snapshot::Snapshot;
use std::time::{Duration, Instant};

const WALL_TIME_TARGET: Duration = Duration::from_secs(1);
const PEAK_MEMORY_TARGET_BYTES: u64 = 100 * 1024 * 1024;

struct Options {
    runs: usize,
    snapshot_path: Option<String>,
    sql_path: Option<String>,
}

fn options() -> Options {
    let mut options = Options {
        runs: 5,
        snapshot_path: std::env::var("PGADVISE_BENCH_SNAPSHOT").ok(),
        sql_path: std::env::var("PGADVISE_BENCH_SQL").ok(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                options.runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--runs takes a number")
            }
            "--write-snapshot" => options.snapshot_path = args.next(),
            "--write-sql" => options.sql_path = args.next(),
            // `cargo bench` passes `--bench`; filters do not apply to one benchmark.
            _ => {}
        }
    }
    options.runs = options.runs.max(1);
    options
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    let options = options();

    let started = Instant::now();
    let generated = workload_gen::generate(workload_gen::SEED);
    let json = generated.snapshot.to_json();
    println!(
        "workload: {} tables, {} indexes, {} foreign keys, {} statements; snapshot JSON {:.1} MB (generated in {:?})",
        generated.snapshot.tables.len(),
        generated.snapshot.indexes.len(),
        generated.snapshot.foreign_keys.len(),
        generated.snapshot.statements.entries.len(),
        json.len() as f64 / 1e6,
        started.elapsed()
    );
    if let Some(path) = &options.snapshot_path {
        std::fs::write(path, &json).expect("writing the snapshot");
        println!("snapshot written to {path}");
    }
    if let Some(path) = &options.sql_path {
        std::fs::write(path, generated.to_sql()).expect("writing the SQL");
        println!("schema and statements written to {path}");
    }
    // Only the JSON goes on: the timed runs start from the file's contents.
    drop(generated);

    let mut best_total = Duration::MAX;
    let mut best_read = Duration::MAX;
    let mut best_analyze = Duration::MAX;
    let mut summary = String::new();
    for _ in 0..options.runs {
        let run_started = Instant::now();
        let snapshot = Snapshot::from_json(&json).expect("reading the snapshot back");
        let read = run_started.elapsed();
        let workload = Workload::from_snapshot(&snapshot);
        let advice = indexes::propose(
            &snapshot,
            &workload,
            &HotStatements::default(),
            &TableFilter::default(),
        );
        let health = health::check(&snapshot, &workload, &advice, &HealthOptions::default());
        let query_findings = antipatterns::check(
            &snapshot,
            &workload,
            &advice.proposals,
            &AntipatternOptions::default(),
        );
        let total = run_started.elapsed();
        best_read = best_read.min(read);
        best_analyze = best_analyze.min(total - read);
        if total < best_total {
            best_total = total;
            let size: i64 = advice
                .proposals
                .iter()
                .map(|p| p.estimated_size_bytes)
                .sum();
            summary = format!(
                "analyzed {}, skipped {} ({:?}); {} index proposals ({:.1} MB estimated), {} served by existing indexes; \
                 {} health findings ({} drops), {} query anti-pattern findings",
                workload.analyzed(),
                workload.skipped(),
                workload.skip_reasons(),
                advice.proposals.len(),
                size as f64 / 1e6,
                advice.served_by_existing.len(),
                health.findings.len(),
                health.drops.len(),
                query_findings.len()
            );
        }
    }
    let peak = peak_memory_bytes();

    println!("{summary}");
    println!(
        "wall time, best of {}: {:.1} ms (read JSON {:.1} ms + shapes, index proposals, health and anti-pattern rules {:.1} ms); target < {} ms",
        options.runs,
        best_total.as_secs_f64() * 1e3,
        best_read.as_secs_f64() * 1e3,
        best_analyze.as_secs_f64() * 1e3,
        WALL_TIME_TARGET.as_millis()
    );
    match peak {
        Some(bytes) => println!(
            "peak memory (VmHWM): {:.1} MB; target < {} MB",
            bytes as f64 / (1024.0 * 1024.0),
            PEAK_MEMORY_TARGET_BYTES / (1024 * 1024)
        ),
        None => println!("peak memory: /proc/self/status has no VmHWM here; not checked"),
    }

    let mut missed = Vec::new();
    if best_total >= WALL_TIME_TARGET {
        missed.push("wall time");
    }
    if peak.is_some_and(|bytes| bytes >= PEAK_MEMORY_TARGET_BYTES) {
        missed.push("peak memory");
    }
    if !missed.is_empty() {
        eprintln!("target missed: {}", missed.join(", "));
        std::process::exit(1);
    }
    println!("targets met");
}
