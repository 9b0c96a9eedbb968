//! pg_stat_statements over the window: per statement, NEW's cumulative
//! counters minus OLD's, or NEW's alone where they started over.

use super::model::{DiffOptions, StatementChange, WindowTotals, NEW_STATEMENT_MIN_SHARE};
use crate::analyze::queries::is_utility_statement;
use crate::collect::is_own_statement;
use crate::snapshot::{Snapshot, Statement};
use std::collections::HashMap;

/// One pg_stat_statements entry's identity within a database: the same
/// normalized statement run by two roles (or nested and top-level) is two entries.
type StatementKey<'a> = (i64, &'a str, Option<bool>);

fn key(s: &Statement) -> StatementKey<'_> {
    (s.queryid, s.user.as_str(), s.toplevel)
}

/// One statement's counters over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementWindow<'a> {
    pub new: &'a Statement,
    pub old: Option<&'a Statement>,
    pub calls: i64,
    pub total_exec_time_ms: f64,
    pub rows: i64,
    pub shared_blks_read: i64,
    pub shared_blks_hit: i64,
    pub restarted: bool,
}

impl StatementWindow<'_> {
    pub fn mean_ms(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.total_exec_time_ms / self.calls as f64)
    }

    /// OLD's mean, when OLD has the statement with calls.
    pub fn old_mean_ms(&self) -> Option<f64> {
        self.old
            .filter(|o| o.calls > 0)
            .map(|o| o.total_exec_time / o.calls as f64)
    }
}

/// Whether an entry's counters started over between OLD and NEW: any of
/// them went down. (A cumulative counter only grows while the entry lives.)
fn counters_went_down(old: &Statement, new: &Statement) -> bool {
    new.calls < old.calls
        || new.total_exec_time < old.total_exec_time
        || new.rows < old.rows
        || new.shared_blks_read < old.shared_blks_read
        || new.shared_blks_hit < old.shared_blks_hit
}

/// The window of every statement of NEW, pgadvise's own left out.
/// `all_restarted`: pg_stat_statements was reset as a whole in between.
pub fn windows<'a>(
    old: &'a Snapshot,
    new: &'a Snapshot,
    all_restarted: bool,
) -> Vec<StatementWindow<'a>> {
    let before: HashMap<StatementKey, &Statement> =
        old.statements.entries.iter().map(|s| (key(s), s)).collect();
    new.statements
        .entries
        .iter()
        .filter(|s| !is_own_statement(&s.query))
        .map(|n| {
            let o = before.get(&key(n)).copied();
            let restarted = match o {
                Some(o) => all_restarted || counters_went_down(o, n),
                None => false,
            };
            let base = o.filter(|_| !restarted);
            let minus = |f: fn(&Statement) -> i64| f(n) - base.map_or(0, f);
            StatementWindow {
                new: n,
                old: o,
                calls: minus(|s| s.calls),
                total_exec_time_ms: n.total_exec_time - base.map_or(0.0, |b| b.total_exec_time),
                rows: minus(|s| s.rows),
                shared_blks_read: minus(|s| s.shared_blks_read),
                shared_blks_hit: minus(|s| s.shared_blks_hit),
                restarted,
            }
        })
        .collect()
}

pub fn totals(windows: &[StatementWindow]) -> WindowTotals {
    let ran: Vec<&StatementWindow> = windows.iter().filter(|w| w.calls > 0).collect();
    WindowTotals {
        statements: ran.len(),
        calls: ran.iter().map(|w| w.calls).sum(),
        total_exec_time_ms: ran.iter().map(|w| w.total_exec_time_ms).sum(),
    }
}

pub fn change(w: &StatementWindow, window_ms: f64) -> StatementChange {
    let mean = w.mean_ms().unwrap_or(0.0);
    let old_mean = w.old_mean_ms();
    StatementChange {
        queryid: w.new.queryid,
        user: w.new.user.clone(),
        query: w.new.query.clone(),
        calls: w.calls,
        total_exec_time_ms: w.total_exec_time_ms,
        mean_exec_time_ms: mean,
        rows: w.rows,
        shared_blks_read: w.shared_blks_read,
        shared_blks_hit: w.shared_blks_hit,
        old_calls: w.old.map(|o| o.calls),
        old_mean_exec_time_ms: old_mean,
        mean_change_pct: old_mean.and_then(|before| percent_change(before, mean)),
        extra_time_ms: old_mean.map(|before| w.calls as f64 * (mean - before)),
        share_of_window: if window_ms > 0.0 {
            w.total_exec_time_ms / window_ms
        } else {
            0.0
        },
        restarted: w.restarted,
    }
}

/// `after` against `before`, percent; `None` when `before` is zero.
pub fn percent_change(before: f64, after: f64) -> Option<f64> {
    (before > 0.0).then(|| (after - before) / before * 100.0)
}

/// Statements known in OLD whose window mean grew by more than the
/// threshold, with enough calls in the window; the most time lost first.
/// Utility statements (ANALYZE, CREATE INDEX, VACUUM, ...) are maintenance,
/// not the workload: left out here and from the new statements.
pub fn regressions(
    windows: &[StatementWindow],
    totals: &WindowTotals,
    options: &DiffOptions,
) -> Vec<StatementChange> {
    let mut found: Vec<StatementChange> = windows
        .iter()
        .filter(|w| w.calls >= options.min_calls.max(1) && !is_utility_statement(&w.new.query))
        .map(|w| change(w, totals.total_exec_time_ms))
        .filter(|c| c.mean_change_pct.is_some_and(|p| p > options.threshold_pct))
        .collect();
    found.sort_by(|a, b| {
        b.extra_time_ms
            .unwrap_or(0.0)
            .total_cmp(&a.extra_time_ms.unwrap_or(0.0))
            .then(a.queryid.cmp(&b.queryid))
    });
    found.truncate(options.top);
    found
}

/// A call of `pg_stat_statements_reset`: the diff reports the reset itself
/// (see `reset`), and the call is no statement of the workload.
fn resets_statistics(query: &str) -> bool {
    query
        .to_ascii_lowercase()
        .contains("pg_stat_statements_reset(")
}

/// Statements OLD does not have that took at least
/// [`NEW_STATEMENT_MIN_SHARE`] of the window's time; the most time first.
pub fn new_statements(
    windows: &[StatementWindow],
    totals: &WindowTotals,
    options: &DiffOptions,
) -> Vec<StatementChange> {
    let mut found: Vec<StatementChange> = windows
        .iter()
        .filter(|w| {
            w.old.is_none()
                && w.calls > 0
                && !is_utility_statement(&w.new.query)
                && !resets_statistics(&w.new.query)
        })
        .map(|w| change(w, totals.total_exec_time_ms))
        .filter(|c| c.share_of_window >= NEW_STATEMENT_MIN_SHARE)
        .collect();
    found.sort_by(|a, b| {
        b.total_exec_time_ms
            .total_cmp(&a.total_exec_time_ms)
            .then(a.queryid.cmp(&b.queryid))
    });
    found.truncate(options.top);
    found
}
