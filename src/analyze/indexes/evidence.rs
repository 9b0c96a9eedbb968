//! Evidence added to a proposal hypopg cannot verify (GIN, GiST) once the
//! what-if session has planned its statements without it: how many of the
//! table's rows the planner expects each statement's filter to keep.

use super::IndexProposal;
use serde::Serialize;

/// The planner's estimate, in one statement's generic plan (parameters
/// unknown), of the rows its scan of the proposal's table returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterEstimate {
    pub queryid: i64,
    /// Rows the plan's scan of the table returns after its conditions (all
    /// partitions, all parallel workers).
    pub estimated_rows: f64,
    /// The table's rows as the planner knows them (`reltuples`, summed over
    /// partitions).
    pub table_rows: f64,
    /// `estimated_rows / table_rows`, at most 1.
    pub fraction: f64,
}

impl FilterEstimate {
    /// `None` when the table's size is unknown (never analyzed, or empty).
    pub fn new(queryid: i64, estimated_rows: f64, table_rows: f64) -> Option<Self> {
        (table_rows > 0.0 && estimated_rows >= 0.0).then(|| FilterEstimate {
            queryid,
            estimated_rows,
            table_rows,
            fraction: (estimated_rows / table_rows).min(1.0),
        })
    }
}

/// The sentence the verification text gains, `None` without estimates.
pub fn filter_sentence(estimates: &[FilterEstimate]) -> Option<String> {
    let first = estimates.first()?;
    if estimates.len() == 1 {
        return Some(format!(
            "the planner estimates (generic plan, parameters unknown) that the filter keeps {} \
             of the rows ({:.0} of {:.0})",
            percent(first.fraction),
            first.estimated_rows,
            first.table_rows
        ));
    }
    let fractions = estimates.iter().map(|e| e.fraction);
    let low = fractions.clone().fold(f64::INFINITY, f64::min);
    let high = fractions.fold(0.0, f64::max);
    let share = if percent(low) == percent(high) {
        percent(low)
    } else {
        format!("{} to {}", percent(low), percent(high))
    };
    Some(format!(
        "the planner estimates (generic plans, parameters unknown) that the filters of {} \
         statements keep {share} of the rows of {:.0}",
        estimates.len(),
        first.table_rows
    ))
}

/// Records the estimates on `proposal` and says them in its verification
/// text, before the closing note on `pgadvise verify`.
pub fn add_filter_estimates(proposal: &mut IndexProposal, estimates: Vec<FilterEstimate>) {
    let Some(sentence) = filter_sentence(&estimates) else {
        return;
    };
    if let Some(text) = &mut proposal.verification {
        let tail = format!("; {}", super::search::AFTER_DEPLOYMENT);
        *text = match text.strip_suffix(&tail) {
            Some(head) => format!("{head}; {sentence}{tail}"),
            None => format!("{text}; {sentence}"),
        };
    }
    proposal.estimated_selectivity = estimates;
}

/// A share of rows with two significant digits: `12%`, `0.5%`, `0.0012%`.
fn percent(fraction: f64) -> String {
    let pct = fraction * 100.0;
    if pct == 0.0 {
        return "0%".to_string();
    }
    if pct >= 10.0 {
        return format!("{pct:.0}%");
    }
    // Decimals for two significant digits.
    let decimals = (1.0 - pct.log10().floor()).max(0.0) as usize;
    let text = format!("{pct:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_keep_two_significant_digits() {
        for (fraction, text) in [
            (0.0, "0%"),
            (1.0, "100%"),
            (0.126, "13%"),
            (0.05, "5%"),
            (0.005, "0.5%"),
            (0.0123, "1.2%"),
            (0.000012, "0.0012%"),
        ] {
            assert_eq!(percent(fraction), text, "{fraction}");
        }
    }

    #[test]
    fn estimates_need_a_known_table_size() {
        let cases = [
            (500.0, 100_000.0, Some(0.005)),
            (200.0, 100.0, Some(1.0)),
            (1.0, 0.0, None),
            (1.0, -1.0, None),
        ];
        for (rows, table, fraction) in cases {
            let estimate = FilterEstimate::new(7, rows, table);
            assert_eq!(estimate.map(|e| e.fraction), fraction, "{rows} of {table}");
        }
    }

    #[test]
    fn the_sentence_names_one_statement_or_the_range_of_several() {
        let estimate = |id, rows| FilterEstimate::new(id, rows, 100_000.0).expect("estimate");
        let cases: [(Vec<FilterEstimate>, Option<&str>); 4] = [
            (vec![], None),
            (
                vec![estimate(1, 500.0)],
                Some(
                    "the planner estimates (generic plan, parameters unknown) that the filter \
                     keeps 0.5% of the rows (500 of 100000)",
                ),
            ),
            (
                vec![estimate(1, 500.0), estimate(2, 10_000.0)],
                Some(
                    "the planner estimates (generic plans, parameters unknown) that the filters \
                     of 2 statements keep 0.5% to 10% of the rows of 100000",
                ),
            ),
            (
                vec![estimate(1, 500.0), estimate(2, 500.0)],
                Some(
                    "the planner estimates (generic plans, parameters unknown) that the filters \
                     of 2 statements keep 0.5% of the rows of 100000",
                ),
            ),
        ];
        for (estimates, sentence) in cases {
            assert_eq!(filter_sentence(&estimates).as_deref(), sentence);
        }
    }

    #[test]
    fn the_sentence_goes_before_the_note_on_pgadvise_verify() {
        let tail = super::super::search::AFTER_DEPLOYMENT;
        let mut proposal = IndexProposal {
            verification: Some(format!("hypopg cannot simulate GIN indexes; {tail}")),
            ..IndexProposal::default()
        };
        let estimate = FilterEstimate::new(3, 50.0, 1000.0).expect("estimate");
        add_filter_estimates(&mut proposal, vec![estimate.clone()]);
        assert_eq!(
            proposal.verification.as_deref(),
            Some(
                format!(
                    "hypopg cannot simulate GIN indexes; the planner estimates (generic plan, \
                     parameters unknown) that the filter keeps 5% of the rows (50 of 1000); {tail}"
                )
                .as_str()
            )
        );
        assert_eq!(proposal.estimated_selectivity, vec![estimate]);
        // No estimate: nothing changes.
        let before = proposal.clone();
        add_filter_estimates(&mut proposal, Vec::new());
        assert_eq!(proposal, before);
    }
}
