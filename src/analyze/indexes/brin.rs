//! BRIN instead of a btree: a range on one column of a large table that is
//! stored in the column's order (an append-only log filled by insertion time)
//! needs only the least and greatest value of each block range, a few
//! kilobytes per gigabyte, where a btree holds every row.
//!
//! The rule a DBA applies by hand, made explicit: the column's
//! `pg_stats.correlation` is at least [`MIN_CORRELATION`] (either sign: a
//! descending order serves as well; in every partition of a partitioned
//! table), the table (its partitions together) has at least
//! [`MIN_TABLE_PAGES`] pages, it is written mostly by inserts ([`MAX_CHURN`]: updates and deletes
//! move rows and break the order over time), and the access is a range on
//! that column alone, without an ORDER BY a btree would serve. The selection
//! then verifies the BRIN with hypopg like any other candidate.

use super::candidate::{AccessIndex, KeyRole, KeyTarget};
use super::method::AccessMethod;
use super::WriteCost;
use crate::snapshot::Table;

/// Least |correlation| between the column's values and the rows' physical
/// order: below it the ranges' minima and maxima overlap and a range scan
/// reads most of the table.
pub const MIN_CORRELATION: f64 = 0.9;

/// Least table size, in 8 kB pages (64 MB): below it a btree on one column is
/// a few megabytes, stays in cache, and is what the planner costs lower.
pub const MIN_TABLE_PAGES: i64 = 8_192;

/// Most rows moved by non-HOT updates and deletes, as a share of the rows
/// inserted since the statistics were reset.
pub const MAX_CHURN: f64 = 0.1;

/// `pages_per_range` of a proposed BRIN: a quarter of PostgreSQL's default of
/// 128, so a range scan reads at most 2 × 256 kB more than it needs, and the
/// index still takes about 160 kB per gigabyte of table.
pub const PAGES_PER_RANGE: u32 = 32;

/// Types with a BRIN `minmax` operator class.
const MINMAX_TYPES: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
    "date",
    "timestamp without time zone",
    "timestamp with time zone",
    "time without time zone",
    "oid",
];

/// Why a column suits a BRIN: what the proposal's reason states.
#[derive(Debug, Clone, PartialEq)]
pub struct BrinFit {
    /// The weakest correlation among the table's partitions (the table's own
    /// when it has none).
    pub correlation: f64,
    pub pages: i64,
    /// Bytes of the table (its partitions').
    pub size_bytes: i64,
    /// Rows of the table (its partitions').
    pub rows: f64,
    /// Non-HOT updates and deletes per insert; `None` without statistics.
    pub churn: Option<f64>,
}

/// Whether `column` suits a BRIN on the table whose rows `leaves` hold (the
/// table itself, or its leaf partitions): every one stored in the column's
/// order, together large enough, written mostly by inserts.
pub fn fit(leaves: &[&Table], column: &str) -> Option<BrinFit> {
    if leaves.is_empty() {
        return None;
    }
    let mut weakest: Option<f64> = None;
    for leaf in leaves {
        let c = leaf.columns.iter().find(|c| c.name == column)?;
        if !MINMAX_TYPES.contains(&c.data_type.as_str()) {
            return None;
        }
        let correlation = c.stats.as_ref()?.correlation?;
        if weakest.is_none_or(|w| correlation.abs() < w.abs()) {
            weakest = Some(correlation);
        }
    }
    let correlation = weakest?;
    let pages: i64 = leaves.iter().map(|t| t.relpages.max(0)).sum();
    if correlation.abs() < MIN_CORRELATION || pages < MIN_TABLE_PAGES {
        return None;
    }
    let churn = WriteCost::over(leaves).and_then(|w| {
        let moved = w.moved_rows();
        (w.inserts > 0 || moved > 0).then(|| moved as f64 / w.inserts.max(1) as f64)
    });
    if churn.is_some_and(|c| c > MAX_CHURN) {
        return None;
    }
    Some(BrinFit {
        correlation,
        pages,
        size_bytes: leaves.iter().map(|t| t.size_bytes).sum(),
        rows: leaves.iter().map(|t| t.reltuples.max(0.0)).sum(),
        churn,
    })
}

/// `index` as a BRIN when it is a btree on one range column (nothing else:
/// no equality before it, no sort, no INCLUDE) that suits one; `leaves` hold
/// the table's rows (see [`fit`]).
pub fn instead_of_btree(index: &AccessIndex, leaves: &[&Table]) -> Option<AccessIndex> {
    let [key] = index.keys.as_slice() else {
        return None;
    };
    let KeyTarget::Column(name) = &key.key else {
        return None;
    };
    if index.method != AccessMethod::Btree
        || index.roles != [KeyRole::Range]
        || key.opclass.is_some()
        || !index.include.is_empty()
    {
        return None;
    }
    fit(leaves, name)?;
    Some(AccessIndex {
        method: AccessMethod::Brin,
        pages_per_range: Some(PAGES_PER_RANGE),
        ..index.clone()
    })
}

/// `index`, or the BRIN that replaces it on its table (see [`instead_of_btree`]).
pub fn or_btree(index: AccessIndex, snapshot: &crate::snapshot::Snapshot) -> AccessIndex {
    instead_of_btree(&index, &snapshot.leaf_tables(&index.table)).unwrap_or(index)
}

/// Estimated bytes of a BRIN over `pages` pages of table (for a partitioned
/// table, their sum: each partition's index has its own metapage and range
/// map, a few pages more): a metapage, the range map, and one summary
/// (about 40 bytes with a timestamp's minimum and maximum) per range.
pub fn estimate_bytes(pages: i64, pages_per_range: u32) -> i64 {
    const PAGE: i64 = 8192;
    let ranges =
        (pages.max(1) + i64::from(pages_per_range) - 1) / i64::from(pages_per_range.max(1));
    // The range map holds about 1,360 pointers a page.
    let revmap_pages = ranges / 1_360 + 1;
    let summary_pages = ranges * 40 / (PAGE - 64) + 1;
    (1 + revmap_pages + summary_pages) * PAGE
}

/// What the proposal's reason says of it.
pub fn reason(fit: &BrinFit, column: &str, btree_bytes: i64) -> String {
    let writes = match fit.churn {
        Some(churn) => format!(
            "written mostly by inserts ({:.1}% of its rows moved by updates or deletes)",
            churn * 100.0
        ),
        None => "with no write statistics yet".to_string(),
    };
    format!(
        "{column} follows the table's physical order (pg_stats correlation {:.2}) in a table of {} \
         {writes}: a BRIN keeping the least and greatest {column} of every {} pages serves the range \
         in ~{} where a btree would take ~{}",
        fit.correlation,
        crate::format::bytes(fit.size_bytes),
        PAGES_PER_RANGE,
        crate::format::bytes(estimate_bytes(fit.pages, PAGES_PER_RANGE)),
        crate::format::bytes(btree_bytes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;
    use crate::analyze::indexes::candidate::CandidateKey;
    use crate::snapshot::{ColumnStats, QualifiedName};

    fn events(pages: i64, correlation: Option<f64>, updates: i64, deletes: i64) -> Table {
        let mut table = fixture::table(
            "events",
            pages as f64 * 50.0,
            &[
                "id",
                "created_at:timestamp with time zone",
                "payload:jsonb",
                "flag:boolean",
            ],
        );
        table.relpages = pages;
        for column in &mut table.columns {
            column.stats = Some(ColumnStats {
                avg_width: 8,
                correlation,
                ..ColumnStats::default()
            });
        }
        if let Some(stats) = &mut table.stats {
            stats.n_tup_upd = updates;
            stats.n_tup_del = deletes;
        }
        table
    }

    fn range_on(column: &str) -> AccessIndex {
        AccessIndex {
            table: QualifiedName::new("public", "events"),
            keys: vec![CandidateKey {
                key: KeyTarget::Column(column.into()),
                descending: false,
                nulls_reversed: false,
                opclass: None,
            }],
            roles: vec![KeyRole::Range],
            predicates: Vec::new(),
            include: Vec::new(),
            method: AccessMethod::Btree,
            pages_per_range: None,
        }
    }

    #[test]
    fn a_range_on_an_ordered_column_of_a_large_append_only_table_gets_a_brin() {
        let big = 20_000;
        let rows = big * 50;
        let eq_then_range = {
            let mut index = range_on("created_at");
            index.keys.insert(0, range_on("id").keys[0].clone());
            index.roles.insert(0, KeyRole::Equality);
            index
        };
        let sorted = {
            let mut index = range_on("created_at");
            index.roles = vec![KeyRole::Sort];
            index
        };
        // (case, table, index, BRIN expected)
        let cases: Vec<(&str, Table, AccessIndex, bool)> = vec![
            (
                "ordered, large, append-only",
                events(big, Some(0.99), 0, 0),
                range_on("created_at"),
                true,
            ),
            (
                "descending order serves as well",
                events(big, Some(-0.95), 0, 0),
                range_on("created_at"),
                true,
            ),
            (
                "little churn",
                events(big, Some(1.0), rows / 20, 0),
                range_on("created_at"),
                true,
            ),
            (
                "unordered",
                events(big, Some(0.3), 0, 0),
                range_on("created_at"),
                false,
            ),
            (
                "no correlation known",
                events(big, None, 0, 0),
                range_on("created_at"),
                false,
            ),
            (
                "small table",
                events(MIN_TABLE_PAGES - 1, Some(1.0), 0, 0),
                range_on("created_at"),
                false,
            ),
            (
                "updated and deleted",
                events(big, Some(1.0), rows / 10, rows / 10),
                range_on("created_at"),
                false,
            ),
            (
                "no minmax class",
                events(big, Some(1.0), 0, 0),
                range_on("payload"),
                false,
            ),
            (
                "equality first",
                events(big, Some(1.0), 0, 0),
                eq_then_range,
                false,
            ),
            (
                "a sort the btree serves",
                events(big, Some(1.0), 0, 0),
                sorted,
                false,
            ),
        ];
        for (case, table, index, expected) in cases {
            let brin = instead_of_btree(&index, &[&table]);
            assert_eq!(brin.is_some(), expected, "{case}");
            if let Some(brin) = brin {
                assert_eq!(brin.method, AccessMethod::Brin, "{case}");
                assert_eq!(brin.pages_per_range, Some(PAGES_PER_RANGE), "{case}");
                assert_eq!(brin.keys, index.keys, "{case}");
            }
        }
    }

    #[test]
    fn partitions_suit_a_brin_together_when_each_is_ordered() {
        let half = MIN_TABLE_PAGES / 2 + 1;
        let ordered = || events(half, Some(0.99), 0, 0);
        let shuffled = events(half, Some(0.2), 0, 0);
        let fit_both = fit(&[&ordered(), &ordered()], "created_at").expect("together large");
        assert_eq!(fit_both.pages, 2 * half);
        assert!((fit_both.correlation - 0.99).abs() < 1e-9);
        assert!(
            fit(&[&ordered()], "created_at").is_none(),
            "one half is small"
        );
        assert!(
            fit(&[&ordered(), &shuffled], "created_at").is_none(),
            "every partition must be ordered"
        );
        assert!(fit(&[], "created_at").is_none());
    }

    #[test]
    fn a_brin_is_kilobytes_per_gigabyte() {
        let bytes = estimate_bytes(131_072, PAGES_PER_RANGE);
        assert!((100_000..300_000).contains(&bytes), "{bytes}");
        assert_eq!(estimate_bytes(10, PAGES_PER_RANGE), 3 * 8192);
    }
}
