//! The database's throughput (λ) and the time a transaction holds its
//! connection (W) over the window: the two factors of Little's law.

use crate::snapshot::{DatabaseStats, PoolWindow, Snapshot};

/// λ and W for the whole database, each with how it was measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Throughput {
    /// Transactions per second, pgadvise's own taken out; `None` for an empty window.
    pub tps: Option<f64>,
    /// Said when the window is too short for firm transaction counts.
    pub short_window_note: Option<String>,
    /// W, milliseconds; `None` when nothing measured it.
    pub held_ms: Option<f64>,
    /// How W was measured, for the arithmetic.
    pub held_source: String,
}

/// Reads λ from pg_stat_database's transaction counters and W from its
/// session times (PostgreSQL 14+), else from pg_stat_statements.
pub(crate) fn throughput(snapshot: &Snapshot, window: &PoolWindow) -> Throughput {
    let xacts = |d: &DatabaseStats| d.xact_commit + d.xact_rollback;
    let all_xacts = xacts(&window.database_end) - xacts(&window.database_start);
    let app_xacts = (all_xacts - window.own_transactions as i64).max(0);
    let tps = (window.seconds > 0.0).then(|| app_xacts as f64 / window.seconds);
    // Backends report their counters to pg_stat_database about once a second
    // (and only when idle on a busy server): short windows understate throughput.
    let short_window_note = (window.seconds < 10.0).then(|| {
        format!(
            "window {:.1} s is short: transaction counters lag by up to a second, so λ may be understated; \
             use --sample-window 30s or more for a firmer L",
            window.seconds
        )
    });
    let (held_ms, held_source) = match (
        window.database_end.active_time,
        window.database_start.active_time,
        window.database_end.idle_in_transaction_time,
        window.database_start.idle_in_transaction_time,
    ) {
        (Some(a1), Some(a0), Some(i1), Some(i0)) if all_xacts > 0 => {
            // Idle-in-transaction time holds the connection as much as active time does.
            let ms = ((a1 - a0) + (i1 - i0)) / all_xacts as f64;
            (
                Some(ms),
                format!(
                    "W = {ms:.3} ms (pg_stat_database: Δactive_time {:.1} ms + Δidle_in_transaction_time {:.1} ms over {all_xacts} transactions)",
                    a1 - a0,
                    i1 - i0
                ),
            )
        }
        _ => statement_time(snapshot),
    };
    Throughput {
        tps,
        short_window_note,
        held_ms,
        held_source,
    }
}

/// W before PostgreSQL 14: the mean statement time of the workload.
fn statement_time(snapshot: &Snapshot) -> (Option<f64>, String) {
    let own = |q: &str| crate::collect::is_own_statement(q);
    let entries = snapshot
        .statements
        .entries
        .iter()
        .filter(|e| !own(&e.query));
    let (time, calls) = entries.fold((0.0, 0i64), |(t, c), e| {
        (t + e.total_exec_time, c + e.calls)
    });
    if calls > 0 {
        let ms = time / calls as f64;
        (
            Some(ms),
            format!(
                "W = {ms:.3} ms (database-wide mean statement time from pg_stat_statements: \
                 per-transaction time is not available before PostgreSQL 14)"
            ),
        )
    } else {
        (
            None,
            "W unknown (no transaction time available)".to_string(),
        )
    }
}
