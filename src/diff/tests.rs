//! Table-driven tests of the comparison on snapshots built in memory.

use super::*;
use crate::analyze::health::fixture;
use crate::snapshot::{Snapshot, Statement};

const SLOW: &str = "SELECT * FROM orders WHERE customer_id = $1";
const OTHER: &str = "SELECT * FROM customers WHERE id = $1";

/// A database with `orders` (customer_id) and `customers`, at `at`.
fn snap(at: &str, statements: Vec<Statement>) -> Snapshot {
    let mut s = fixture::snapshot();
    s.collected_at = at.into();
    s.source.database_oid = Some(16384);
    s.source.system_identifier = Some("7300000000000000001".into());
    s.statements.stats_reset = Some("2026-01-01T00:00:00Z".into());
    s.tables = vec![
        fixture::table("orders", 1_000_000.0, &["id", "customer_id", "total"]),
        fixture::table("customers", 10_000.0, &["id", "name:text"]),
    ];
    s.tables[0].oid = 1;
    s.tables[1].oid = 2;
    s.statements.entries = statements;
    s
}

fn stmt(queryid: i64, calls: i64, mean_ms: f64, query: &str) -> Statement {
    fixture::statement(queryid, calls, mean_ms, query)
}

#[test]
fn statement_windows_subtract_counters_and_judge_regressions() {
    // (old calls, old mean, new calls, new mean) of one statement, and whether it regressed.
    // (calls, mean ms) in OLD and in NEW.
    type Counters = (i64, f64);
    let cases: [(&str, Counters, Counters, Option<f64>); 5] = [
        // 100 calls at 1 ms, then 100 more at 3 ms: window mean 3 ms, +200%.
        ("slower", (100, 1.0), (200, 2.0), Some(200.0)),
        // Same mean: no regression.
        ("steady", (100, 1.0), (300, 1.0), None),
        // +10% is below the 20% threshold.
        ("within threshold", (100, 1.0), (200, 1.05), None),
        // Slower, but 40 calls in the window (< 50).
        ("too few calls", (100, 1.0), (140, 2.0), None),
        // Faster: never a regression.
        ("faster", (100, 3.0), (200, 2.0), None),
    ];
    for (name, (oc, om), (nc, nm), expected) in cases {
        let old = snap("2026-01-02T00:00:00Z", vec![stmt(1, oc, om, SLOW)]);
        let new = snap("2026-01-03T00:00:00Z", vec![stmt(1, nc, nm, SLOW)]);
        let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
        let found = diff.regressions.first().and_then(|r| r.mean_change_pct);
        match (found, expected) {
            (Some(f), Some(e)) => assert!((f - e).abs() < 1e-6, "{name}: {f} vs {e}"),
            (None, None) => {}
            _ => panic!("{name}: found {found:?}, expected {expected:?}"),
        }
        assert!(diff.reset.is_none(), "{name}");
        assert_eq!(diff.window.calls, nc - oc, "{name}");
    }
}

#[test]
fn regressions_rank_by_time_lost_and_fail_at_or_above_a_percentage() {
    let old = snap(
        "2026-01-02T00:00:00Z",
        vec![stmt(1, 100, 1.0, SLOW), stmt(2, 100, 10.0, OTHER)],
    );
    // 1: +100% over 100 calls (100 ms lost); 2: +50% over 100 calls (500 ms lost).
    let new = snap(
        "2026-01-03T00:00:00Z",
        vec![stmt(1, 200, 1.5, SLOW), stmt(2, 200, 12.5, OTHER)],
    );
    let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
    let ids: Vec<i64> = diff.regressions.iter().map(|r| r.queryid).collect();
    assert_eq!(ids, [2, 1], "the most time lost first");
    let lost = diff.regressions[0].extra_time_ms.unwrap();
    assert!((lost - 500.0).abs() < 1e-6, "{lost}");
    assert_eq!(diff.regressions_at_or_above(100.0).count(), 1);
    assert_eq!(diff.regressions_at_or_above(50.0).count(), 2);
    assert_eq!(diff.regressions_at_or_above(100.5).count(), 0);
}

#[test]
fn a_reset_is_detected_and_no_delta_is_negative() {
    // (name, old stats_reset, new stats_reset, new calls, expect statements_reset_at, restarted)
    let cases = [
        // Whole reset: NEW's stats_reset moved; NEW's 60 calls are the window.
        (
            "server-wide",
            "2026-01-01T00:00:00Z",
            "2026-01-02T12:00:00Z",
            60,
            true,
            1,
        ),
        // A reset for this database only leaves stats_reset: the counters went down.
        (
            "database only",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            60,
            false,
            1,
        ),
        // Plain growth.
        (
            "none",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            160,
            false,
            0,
        ),
    ];
    for (name, old_reset, new_reset, new_calls, moved, restarted) in cases {
        let mut old = snap("2026-01-02T00:00:00Z", vec![stmt(1, 100, 1.0, SLOW)]);
        old.statements.stats_reset = Some(old_reset.into());
        let mut new = snap("2026-01-03T00:00:00Z", vec![stmt(1, new_calls, 4.0, SLOW)]);
        new.statements.stats_reset = Some(new_reset.into());
        let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
        let reset = diff.reset.clone().unwrap_or_default();
        assert_eq!(reset.statements_reset_at.is_some(), moved, "{name}");
        assert_eq!(reset.statements_restarted, restarted, "{name}");
        assert_eq!(diff.reset.is_some(), moved || restarted > 0, "{name}");
        let r = &diff.regressions[0];
        let expected_calls = if restarted > 0 {
            new_calls
        } else {
            new_calls - 100
        };
        assert_eq!(r.calls, expected_calls, "{name}");
        assert!(r.calls > 0 && r.total_exec_time_ms > 0.0, "{name}: {r:?}");
        assert!(r.rows >= 0 && r.shared_blks_read >= 0, "{name}");
        assert_eq!(r.restarted, restarted > 0, "{name}");
    }
}

#[test]
fn new_statements_are_listed_by_window_time() {
    let old = snap("2026-01-02T00:00:00Z", vec![stmt(1, 100, 1.0, SLOW)]);
    let new = snap(
        "2026-01-03T00:00:00Z",
        vec![
            stmt(1, 200, 1.0, SLOW),
            stmt(2, 10, 50.0, OTHER),
            // 0.1 ms of a 600 ms window: below 1%, not heavy.
            stmt(3, 1, 0.1, "SELECT id FROM customers"),
            stmt(4, 5, 1.0, "SELECT /* pgadvise */ 1"),
            // Maintenance, not the workload.
            stmt(
                5,
                1,
                500.0,
                "CREATE INDEX orders_total_idx ON orders (total)",
            ),
            // The reset itself: said as the reset, not as a statement.
            stmt(6, 1, 100.0, "select pg_stat_statements_reset()"),
            stmt(7, 1, 100.0, "SELECT pg_stat_statements_reset($1, $2, $3)"),
        ],
    );
    let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
    let ids: Vec<i64> = diff.new_statements.iter().map(|s| s.queryid).collect();
    assert_eq!(ids, [2]);
    assert_eq!(diff.new_statements[0].old_calls, None);
    assert_eq!(diff.window.statements, 6, "pgadvise's own left out");
}

#[test]
fn a_new_index_shows_its_statements_before_and_after() {
    let old = snap(
        "2026-01-02T00:00:00Z",
        vec![stmt(1, 100, 80.0, SLOW), stmt(2, 100, 1.0, OTHER)],
    );
    let mut new = snap(
        "2026-01-03T00:00:00Z",
        // 100 more calls at 0.5 ms: total 8050 ms.
        vec![stmt(1, 200, 40.25, SLOW), stmt(2, 200, 1.0, OTHER)],
    );
    let mut index = fixture::index("orders", "orders_customer_id_idx", &["customer_id"]);
    index.stats.as_mut().unwrap().idx_scan = 100;
    new.indexes.push(index.clone());
    let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
    assert_eq!(diff.new_indexes.len(), 1);
    let effect = &diff.new_indexes[0];
    assert_eq!(effect.used, Some(true));
    let ids: Vec<i64> = effect.statements.iter().map(|s| s.queryid).collect();
    assert_eq!(ids, [1], "the customers statement does not read orders");
    let s = &effect.statements[0];
    assert_eq!(s.mean_before_ms, Some(80.0));
    assert!((s.mean_after_ms.unwrap() - 0.5).abs() < 1e-9, "{s:?}");
    assert!(s.mean_change_pct.unwrap() < -99.0);
    assert!((effect.time_saved_ms - 100.0 * 79.5).abs() < 1e-6);

    // The same index under another name in OLD is no new index.
    let mut renamed = index.clone();
    renamed.name = "ix_orders_customer".into();
    renamed.definition = renamed
        .definition
        .replace("orders_customer_id_idx", "ix_orders_customer");
    let mut old_with = old.clone();
    old_with.indexes.push(renamed);
    let diff = compare(&old_with, &new, &DiffOptions::default()).unwrap();
    assert!(diff.new_indexes.is_empty(), "{:?}", diff.new_indexes);
    assert!(diff.dropped_indexes.is_empty());
}

#[test]
fn an_index_stops_being_used_when_its_table_is_read_without_it() {
    // (name, old idx_scan, new idx_scan, table seq scans old -> new, stopped)
    let cases = [
        ("unused since", 50, 50, (10, 20), true),
        ("still used", 50, 70, (10, 20), false),
        (
            "never used: health's unused-index, not a change",
            0,
            0,
            (10, 20),
            false,
        ),
        ("table idle in the window", 50, 50, (10, 10), false),
    ];
    for (name, before, after, (seq_before, seq_after), stopped) in cases {
        let mut old = snap("2026-01-02T00:00:00Z", vec![]);
        let mut new = snap("2026-01-03T00:00:00Z", vec![]);
        for (s, scans, seq) in [(&mut old, before, seq_before), (&mut new, after, seq_after)] {
            let mut index = fixture::index("orders", "orders_total_idx", &["total"]);
            index.stats.as_mut().unwrap().idx_scan = scans;
            s.indexes.push(index);
            let stats = s.tables[0].stats.as_mut().unwrap();
            stats.seq_scan = seq;
            stats.seq_tup_read = seq * 1_000_000;
            stats.idx_scan = Some(scans);
        }
        let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
        assert_eq!(diff.stopped_indexes.len(), usize::from(stopped), "{name}");
    }
}

#[test]
fn tables_whose_sequential_scans_grew() {
    // (name, old (seq, rows, idx), new (seq, rows, idx), listed)
    let cases = [
        (
            "from index to seq",
            (1, 1_000_000, 99),
            (51, 51_000_000, 99),
            true,
        ),
        (
            "same share",
            (10, 10_000_000, 10),
            (20, 20_000_000, 20),
            false,
        ),
        ("small table", (1, 10, 0), (100, 1_000, 0), false),
        ("no seq scan", (1, 1_000_000, 0), (1, 1_000_000, 10), false),
    ];
    for (name, (s0, r0, i0), (s1, r1, i1), listed) in cases {
        let mut old = snap("2026-01-02T00:00:00Z", vec![]);
        let mut new = snap("2026-01-03T00:00:00Z", vec![]);
        for (s, (seq, rows, idx)) in [(&mut old, (s0, r0, i0)), (&mut new, (s1, r1, i1))] {
            let stats = s.tables[0].stats.as_mut().unwrap();
            stats.seq_scan = seq;
            stats.seq_tup_read = rows;
            stats.idx_scan = Some(idx);
        }
        let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
        assert_eq!(diff.seq_scan_growth.len(), usize::from(listed), "{name}");
        for g in &diff.seq_scan_growth {
            assert!(g.seq_scan > 0 && g.seq_tup_read > 0, "{name}");
        }
    }
}

#[test]
fn table_counters_that_went_down_are_a_reset() {
    let mut old = snap("2026-01-02T00:00:00Z", vec![]);
    let mut new = snap("2026-01-03T00:00:00Z", vec![]);
    old.tables[0].stats.as_mut().unwrap().seq_scan = 100;
    old.tables[0].stats.as_mut().unwrap().seq_tup_read = 100_000_000;
    old.tables[0].stats.as_mut().unwrap().idx_scan = Some(100);
    new.tables[0].stats.as_mut().unwrap().seq_scan = 5;
    new.tables[0].stats.as_mut().unwrap().seq_tup_read = 5_000_000;
    let diff = compare(&old, &new, &DiffOptions::default()).unwrap();
    assert_eq!(diff.reset.as_ref().map(|r| r.tables_restarted), Some(1));
    assert_eq!(diff.seq_scan_growth[0].seq_scan, 5, "NEW's counters alone");
}

#[test]
fn pairs_of_different_databases_or_servers_are_refused() {
    let old = snap("2026-01-02T00:00:00Z", vec![]);
    let new = snap("2026-01-03T00:00:00Z", vec![]);
    let refuse = |edit: &dyn Fn(&mut Snapshot, &mut Snapshot)| {
        let (mut o, mut n) = (old.clone(), new.clone());
        edit(&mut o, &mut n);
        compare(&o, &n, &DiffOptions::default()).err()
    };
    assert_eq!(refuse(&|_, _| {}), None);
    type Edit<'a> = &'a dyn Fn(&mut Snapshot, &mut Snapshot);
    let cases: [(&str, Edit, &str); 5] = [
        (
            "database name",
            &|_, n| n.source.database = "other".into(),
            "different databases",
        ),
        (
            "system identifier",
            &|_, n| n.source.system_identifier = Some("42".into()),
            "different servers",
        ),
        (
            "database oid",
            &|_, n| n.source.database_oid = Some(1),
            "oid 16384 in OLD",
        ),
        (
            "order",
            &|o, n| std::mem::swap(o, n),
            "was taken before OLD",
        ),
        (
            "name though oids unknown",
            &|o, n| {
                o.source.database_oid = None;
                n.source.database_oid = None;
                n.source.database = "x".into();
            },
            "different databases",
        ),
    ];
    for (name, edit, message) in cases {
        let refusal = refuse(edit).unwrap_or_else(|| panic!("{name}: not refused"));
        assert!(refusal.to_string().contains(message), "{name}: {refusal}");
    }
    // Older snapshots without identity fields still compare.
    assert_eq!(
        refuse(&|o, n| {
            o.source.system_identifier = None;
            o.source.database_oid = None;
            n.source.system_identifier = Some("1".into());
        }),
        None
    );
}
