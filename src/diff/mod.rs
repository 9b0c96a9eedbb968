//! diff: what changed between two snapshots of one database. Pure: two
//! snapshots in, a [`SnapshotDiff`] out, no I/O.
//!
//! pg_stat_statements and pg_stat_user_tables/indexes counters are
//! cumulative, so the window between the snapshots is NEW minus OLD. A
//! counter that went down, or a reset time that moved, means the counters
//! started over in between: then the window is NEW's counters alone, and no
//! delta is ever negative.

mod counters;
mod indexes;
pub mod model;
pub mod pair;
mod statements;
pub mod time;

#[cfg(test)]
mod tests;

pub use model::*;
pub use pair::{check_pair, DiffRefusal};

use crate::snapshot::Snapshot;

/// Compares two snapshots of one database, OLD taken first.
pub fn compare(
    old: &Snapshot,
    new: &Snapshot,
    options: &DiffOptions,
) -> Result<SnapshotDiff, DiffRefusal> {
    check_pair(old, new)?;
    let statements_reset_at = moved(
        old.statements.stats_reset.as_deref(),
        new.statements.stats_reset.as_deref(),
        false,
    );
    // pg_stat_database.stats_reset is NULL until the first reset.
    let tables_reset_at = moved(
        old.database.stats_reset.as_deref(),
        new.database.stats_reset.as_deref(),
        true,
    );
    let windows = statements::windows(old, new, statements_reset_at.is_some());
    let totals = statements::totals(&windows);
    let tables_restarted = tables_reset_at.is_some();
    let (seq_scan_growth, tables_restarted_count) =
        counters::seq_scan_growth(old, new, tables_restarted, options);
    let (stopped_indexes, indexes_restarted) =
        indexes::stopped_indexes(old, new, tables_restarted, options.top);
    let reset = StatisticsReset {
        statements_restarted: windows.iter().filter(|w| w.restarted).count(),
        tables_restarted: tables_restarted_count,
        indexes_restarted,
        statements_reset_at,
        tables_reset_at,
    };
    let any_reset = reset != StatisticsReset::default();
    Ok(SnapshotDiff {
        format_version: DIFF_FORMAT_VERSION,
        pgadvise_version: env!("CARGO_PKG_VERSION").to_string(),
        old: side(old),
        new: side(new),
        window_seconds: time::epoch_seconds(&old.collected_at)
            .zip(time::epoch_seconds(&new.collected_at))
            .map(|(a, b)| b - a),
        threshold_pct: options.threshold_pct,
        min_calls: options.min_calls,
        reset: any_reset.then_some(reset),
        notes: notes(old, new),
        regressions: statements::regressions(&windows, &totals, options),
        new_statements: statements::new_statements(&windows, &totals, options),
        new_indexes: indexes::new_indexes(old, new, &windows, tables_restarted),
        dropped_indexes: indexes::dropped_indexes(old, new),
        stopped_indexes,
        seq_scan_growth,
        window: totals,
    })
}

/// The new reset time when it moved between OLD and NEW. `null_means_never`:
/// a time appearing where OLD had none is a reset too.
fn moved(old: Option<&str>, new: Option<&str>, null_means_never: bool) -> Option<String> {
    match (old, new) {
        (Some(a), Some(b)) if a != b => Some(b.to_string()),
        (None, Some(b)) if null_means_never => Some(b.to_string()),
        _ => None,
    }
}

fn side(s: &Snapshot) -> SnapshotSide {
    SnapshotSide {
        collected_at: s.collected_at.clone(),
        database: s.source.database.clone(),
        target: s.source.target.clone(),
        server_version: s.server.version.clone(),
        statements_reset_at: s.statements.stats_reset.clone(),
    }
}

/// What could make the comparison misleading without making it wrong.
fn notes(old: &Snapshot, new: &Snapshot) -> Vec<String> {
    let mut notes = Vec::new();
    if old.source.in_recovery != new.source.in_recovery {
        let role = |standby: bool| if standby { "a standby" } else { "the primary" };
        notes.push(format!(
            "OLD was read on {} and NEW on {}: each server keeps statistics of its own, so \
             counters that went down are taken as started over",
            role(old.source.in_recovery),
            role(new.source.in_recovery)
        ));
    }
    if old.source.system_identifier.is_none() || new.source.system_identifier.is_none() {
        notes.push(
            "a snapshot has no system identifier (written by an older pgadvise, or the role may \
             not execute pg_control_system()): that both are of the same server was checked by \
             database name and oid only"
                .to_string(),
        );
    }
    let evicted = |s: &Snapshot| s.statements.dealloc.unwrap_or(0);
    if evicted(new) > evicted(old)
        || (evicted(new) > 0 && new.statements.stats_reset != old.statements.stats_reset)
    {
        notes.push(format!(
            "pg_stat_statements evicted entries in the window (dealloc {} -> {}): statements \
             evicted and tracked again count from their return, rare ones may be missing",
            evicted(old),
            evicted(new)
        ));
    }
    notes
}
