//! pg_stat_user_tables over the window, and the tables whose sequential
//! scans grew.

use super::model::{DiffOptions, SeqScanGrowth, SEQ_SCAN_MIN_ROWS_PER_SCAN};
use crate::snapshot::{QualifiedName, Snapshot, Table, TableStats};

/// One table's scans over the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableWindow {
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    /// Its counters started over (they went down, the table was created
    /// again, or the database's statistics were reset).
    pub restarted: bool,
}

fn went_down(old: &TableStats, new: &TableStats) -> bool {
    new.seq_scan < old.seq_scan
        || new.seq_tup_read < old.seq_tup_read
        || new.idx_scan.unwrap_or(0) < old.idx_scan.unwrap_or(0)
}

fn window_of(old: Option<&Table>, new: &Table, all_restarted: bool) -> Option<TableWindow> {
    let now = new.stats.as_ref()?;
    let then = old
        .filter(|o| o.oid == new.oid)
        .and_then(|o| o.stats.as_ref());
    let restarted = all_restarted || then.is_none_or(|t| went_down(t, now));
    let base = then.filter(|_| !restarted);
    Some(TableWindow {
        seq_scan: now.seq_scan - base.map_or(0, |b| b.seq_scan),
        seq_tup_read: now.seq_tup_read - base.map_or(0, |b| b.seq_tup_read),
        idx_scan: now.idx_scan.unwrap_or(0) - base.map_or(0, |b| b.idx_scan.unwrap_or(0)),
        restarted: restarted && then.is_some(),
    })
}

/// The table's scans in the window; `None` when NEW keeps no counters for it.
pub fn table_window(
    old: &Snapshot,
    new: &Snapshot,
    table: &QualifiedName,
    all_restarted: bool,
) -> Option<TableWindow> {
    let now = new.table(&table.schema, &table.name)?;
    window_of(old.table(&table.schema, &table.name), now, all_restarted)
}

/// Tables whose sequential scans grew: in the window they were scanned
/// sequentially, reading at least [`SEQ_SCAN_MIN_ROWS_PER_SCAN`] rows per
/// scan on average, and sequential scans make a larger share of their scans
/// than in OLD's counters (or OLD saw none of their scans). The most rows
/// read first. Also returns how many tables' counters started over.
pub fn seq_scan_growth(
    old: &Snapshot,
    new: &Snapshot,
    all_restarted: bool,
    options: &DiffOptions,
) -> (Vec<SeqScanGrowth>, usize) {
    let mut restarted = 0;
    let mut grown = Vec::new();
    for table in &new.tables {
        let previous = old.table(&table.schema, &table.name);
        let Some(w) = window_of(previous, table, all_restarted) else {
            continue;
        };
        restarted += usize::from(w.restarted);
        if w.seq_scan == 0 {
            continue;
        }
        let rows_per_scan = w.seq_tup_read as f64 / w.seq_scan as f64;
        if rows_per_scan < SEQ_SCAN_MIN_ROWS_PER_SCAN {
            continue;
        }
        let share_window = w.seq_scan as f64 / (w.seq_scan + w.idx_scan) as f64;
        let share_before = previous
            .filter(|p| p.oid == table.oid)
            .and_then(|p| p.stats.as_ref())
            .and_then(|s| {
                let all = s.seq_scan + s.idx_scan.unwrap_or(0);
                (all > 0).then(|| s.seq_scan as f64 / all as f64)
            });
        if share_before.is_some_and(|before| share_window <= before) {
            continue;
        }
        grown.push(SeqScanGrowth {
            table: QualifiedName::new(&table.schema, &table.name).to_string(),
            seq_scan: w.seq_scan,
            seq_tup_read: w.seq_tup_read,
            idx_scan: w.idx_scan,
            rows_per_seq_scan: rows_per_scan,
            seq_share_before: share_before,
            seq_share_window: share_window,
            size_bytes: table.size_bytes,
        });
    }
    grown.sort_by(|a, b| {
        b.seq_tup_read
            .cmp(&a.seq_tup_read)
            .then(a.table.cmp(&b.table))
    });
    grown.truncate(options.top);
    (grown, restarted)
}
