//! Index size estimates from pg_stats, for when hypopg cannot measure them and
//! to compare a partial index with the full one.

use super::candidate::{CandidateKey, KeyTarget, PartialPredicate};
use crate::snapshot::Table;

const PAGE_BYTES: f64 = 8192.0;
/// Page header and btree special space.
const PAGE_OVERHEAD: f64 = 24.0 + 16.0;
/// Index tuple header plus line pointer.
const TUPLE_OVERHEAD: f64 = 8.0 + 4.0;
/// btree's default fillfactor for leaf pages.
const FILL: f64 = 0.9;

/// Fraction of the table's rows a partial predicate keeps, from pg_stats;
/// `None` when the statistics cannot tell.
pub fn predicate_fraction(table: &Table, predicate: &PartialPredicate) -> Option<f64> {
    let stats = table
        .columns
        .iter()
        .find(|c| c.name == predicate.column())?
        .stats
        .as_ref()?;
    let mcv_freq = |value: &str| {
        stats
            .most_common_vals
            .iter()
            .zip(&stats.most_common_freqs)
            .find(|(v, _)| v.as_deref() == Some(value))
            .map(|(_, f)| *f)
    };
    let fraction = match predicate {
        PartialPredicate::IsNull(_) => stats.null_frac,
        PartialPredicate::IsNotNull(_) => 1.0 - stats.null_frac,
        PartialPredicate::IsTrue(_) => match mcv_freq("t") {
            Some(f) => f,
            None => 1.0 - stats.null_frac - mcv_freq("f")?,
        },
        PartialPredicate::IsFalse(_) => match mcv_freq("f") {
            Some(f) => f,
            None => 1.0 - stats.null_frac - mcv_freq("t")?,
        },
    };
    Some(fraction.clamp(0.0, 1.0))
}

/// Estimated bytes of a btree over `rows` rows of `table` with these keys.
pub fn estimate_bytes(table: &Table, keys: &[CandidateKey], include: &[String], rows: f64) -> i64 {
    let width = |name: &str| {
        table
            .columns
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.stats.as_ref())
            .map_or(8.0, |s| f64::from(s.avg_width.max(1)))
    };
    let mut tuple = TUPLE_OVERHEAD;
    for key in keys {
        tuple += match &key.key {
            KeyTarget::Column(c) => width(c),
            KeyTarget::Expression(_) => 16.0,
        };
    }
    for c in include {
        tuple += width(c);
    }
    // Tuples are MAXALIGNed to 8 bytes.
    let tuple = (tuple / 8.0).ceil() * 8.0;
    let per_page = ((PAGE_BYTES - PAGE_OVERHEAD) * FILL / tuple)
        .floor()
        .max(1.0);
    let leaf_pages = (rows.max(0.0) / per_page).ceil();
    // Inner pages are a small fraction; the metapage and a root always exist.
    let pages = leaf_pages + (leaf_pages / per_page).ceil() + 2.0;
    (pages * PAGE_BYTES) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;
    use crate::snapshot::Column;

    /// (name, null_frac, avg_width, most common values with freqs)
    type ColumnSpec<'a> = (&'a str, f64, i32, Vec<(&'a str, f64)>);

    fn table(columns: Vec<ColumnSpec>) -> Table {
        Table {
            oid: 1,
            relpages: 1000,
            columns: columns
                .into_iter()
                .enumerate()
                .map(|(i, (name, null_frac, width, mcv))| Column {
                    stats: Some(fixture::column_stats(null_frac, -1.0, width, &mcv)),
                    ..fixture::column(i, name, "x")
                })
                .collect(),
            ..fixture::bare_table("public", "t", 100_000.0)
        }
    }

    #[test]
    fn predicate_fractions_come_from_pg_stats() {
        let t = table(vec![
            ("deleted_at", 0.9, 8, vec![]),
            ("published_at", 0.002, 8, vec![]),
            ("active", 0.0, 1, vec![("t", 0.7), ("f", 0.3)]),
            ("archived", 0.1, 1, vec![("f", 0.85)]),
        ]);
        let cases = [
            (PartialPredicate::IsNull("deleted_at".into()), Some(0.9)),
            (PartialPredicate::IsNotNull("deleted_at".into()), Some(0.1)),
            (PartialPredicate::IsNull("published_at".into()), Some(0.002)),
            (PartialPredicate::IsTrue("active".into()), Some(0.7)),
            (PartialPredicate::IsFalse("active".into()), Some(0.3)),
            (PartialPredicate::IsTrue("archived".into()), Some(0.05)),
            (PartialPredicate::IsNull("missing".into()), None),
        ];
        for (p, expected) in cases {
            let got = predicate_fraction(&t, &p);
            match (got, expected) {
                (Some(g), Some(e)) => assert!((g - e).abs() < 1e-9, "{p:?}: {g} vs {e}"),
                (g, e) => assert_eq!(g, e, "{p:?}"),
            }
        }
    }

    #[test]
    fn sizes_scale_with_rows_and_width() {
        let t = table(vec![
            ("created_at", 0.0, 8, vec![]),
            ("body", 0.0, 200, vec![]),
        ]);
        let key = |c: &str| CandidateKey {
            key: KeyTarget::Column(c.into()),
            descending: false,
            nulls_reversed: false,
            opclass: None,
        };
        let full = estimate_bytes(&t, &[key("created_at")], &[], 100_000.0);
        let partial = estimate_bytes(&t, &[key("created_at")], &[], 200.0);
        // ~100k 16-byte tuples at 90% fill: about 2.2 MB, in line with PostgreSQL.
        assert!((1_800_000..3_000_000).contains(&full), "{full}");
        assert!(partial * 20 < full, "{partial} vs {full}");
        let wide = estimate_bytes(&t, &[key("body")], &[], 100_000.0);
        assert!(wide > 5 * full);
    }
}
