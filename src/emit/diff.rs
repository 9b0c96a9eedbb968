//! `pgadvise diff` for people: the text summary and the Markdown comment.
//! (The JSON document is [`crate::diff::SnapshotDiff`] itself.)

use crate::diff::{
    IndexEffect, SnapshotDiff, StatementChange, StatisticsReset, NEW_STATEMENT_MIN_SHARE,
    SEQ_SCAN_MIN_ROWS_PER_SCAN,
};
use crate::format::{bytes, millis, one_line};
use std::fmt::Write;

/// Statement texts are cut to this many characters.
const QUERY_WIDTH: usize = 110;

/// A mean time precise enough to show an index's effect: `0.031 ms`, `2.45 ms`, `12.3 s`.
fn mean(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        millis(ms)
    }
}

/// `+200%`, `-99.8%`.
fn percent(pct: f64) -> String {
    if pct.abs() >= 100.0 {
        format!("{pct:+.0}%")
    } else {
        format!("{pct:+.1}%")
    }
}

/// `1,234,567`.
fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::from(if n < 0 { "-" } else { "" });
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 call`, `1,200 calls`.
fn calls(n: i64) -> String {
    if n == 1 {
        "1 call".to_string()
    } else {
        format!("{} calls", count(n))
    }
}

fn window_length(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "unknown".to_string(), |s| millis(s * 1000.0))
}

/// What started over, in words; empty when nothing did.
fn reset_lines(reset: &StatisticsReset) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(at) = &reset.statements_reset_at {
        lines.push(format!(
            "pg_stat_statements was reset at {at}: every statement's counters started over"
        ));
    }
    if reset.statements_restarted > 0 && reset.statements_reset_at.is_none() {
        lines.push(format!(
            "{} statement(s) whose counters went down: reset (pg_stat_statements_reset() for this \
             database, a role or a statement) or evicted and tracked again",
            reset.statements_restarted
        ));
    }
    if let Some(at) = &reset.tables_reset_at {
        lines.push(format!(
            "table and index statistics were reset at {at} (pg_stat_reset())"
        ));
    }
    if reset.tables_reset_at.is_none() && reset.tables_restarted + reset.indexes_restarted > 0 {
        lines.push(format!(
            "{} table(s) and {} index(es) whose counters went down or that were built again",
            reset.tables_restarted, reset.indexes_restarted
        ));
    }
    lines
}

fn change_line(c: &StatementChange) -> String {
    let mut line = format!(
        "{} {} -> {}, {} in the window",
        c.mean_change_pct.map_or_else(String::new, percent),
        c.old_mean_exec_time_ms.map_or_else(String::new, mean),
        mean(c.mean_exec_time_ms),
        calls(c.calls),
    );
    if let Some(extra) = c.extra_time_ms {
        let _ = write!(line, ", {} more", millis(extra));
    }
    let _ = write!(line, ", queryid {}", c.queryid);
    if c.restarted {
        line.push_str(" (counters started over: the window is NEW's counters)");
    }
    line
}

fn effect_verdict(e: &IndexEffect) -> String {
    let state = match (e.valid, e.used, e.idx_scan) {
        (false, _, _) => "INVALID: the planner cannot use it (a failed CREATE INDEX CONCURRENTLY; drop it and build it again)".to_string(),
        (true, Some(true), Some(n)) => format!("used by the planner ({} index scans since it was built)", count(n)),
        (true, Some(false), _) => "NOT used by the planner: no index scan since it was built".to_string(),
        _ => "no scan counter (a partitioned index: see its partitions' indexes)".to_string(),
    };
    format!(
        "{} on {}: {state}, {}",
        e.index.index,
        e.index.table,
        bytes(e.size_bytes)
    )
}

/// The text summary.
pub fn text(diff: &SnapshotDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pgadvise diff: database \"{}\" ({})",
        diff.new.database, diff.new.target
    );
    let _ = writeln!(
        out,
        "  OLD {} -> NEW {} (window {})",
        diff.old.collected_at,
        diff.new.collected_at,
        window_length(diff.window_seconds)
    );
    let _ = writeln!(
        out,
        "  in the window: {} calls, {} of execution time, {} statements",
        count(diff.window.calls),
        millis(diff.window.total_exec_time_ms),
        count(diff.window.statements as i64)
    );
    if let Some(reset) = &diff.reset {
        let _ = writeln!(out, "\nStatistics reset between the snapshots:");
        for line in reset_lines(reset) {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(
            out,
            "  For those, the window is NEW's counters alone; no delta is negative."
        );
    }
    for note in &diff.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }

    heading(
        &mut out,
        &format!("Regressions (mean time up more than {}% against OLD's mean, at least {} calls in the window)", diff.threshold_pct,
        diff.min_calls),
        diff.regressions.is_empty(),
    );
    for r in &diff.regressions {
        let _ = writeln!(out, "  {}", change_line(r));
        let _ = writeln!(out, "      {}", one_line(&r.query, QUERY_WIDTH));
    }

    heading(
        &mut out,
        &format!(
            "New heavy statements (not in OLD, at least {:.0}% of the window's time)",
            NEW_STATEMENT_MIN_SHARE * 100.0
        ),
        diff.new_statements.is_empty(),
    );
    for s in &diff.new_statements {
        let _ = writeln!(
            out,
            "  {} ({:.0}% of the window), {}, mean {}, queryid {}",
            millis(s.total_exec_time_ms),
            s.share_of_window * 100.0,
            calls(s.calls),
            mean(s.mean_exec_time_ms),
            s.queryid
        );
        let _ = writeln!(out, "      {}", one_line(&s.query, QUERY_WIDTH));
    }

    heading(
        &mut out,
        "New indexes (created between the snapshots, matched by definition)",
        diff.new_indexes.is_empty(),
    );
    for e in &diff.new_indexes {
        let _ = writeln!(out, "  {}", effect_verdict(e));
        let _ = writeln!(out, "      {}", one_line(&e.index.definition, QUERY_WIDTH));
        if e.statements.is_empty() {
            let _ = writeln!(
                out,
                "      no statement filters, joins or sorts {} on its first key",
                e.index.table
            );
        }
        for s in &e.statements {
            let before = s.mean_before_ms.map_or_else(|| "new".to_string(), mean);
            let after = s
                .mean_after_ms
                .map_or_else(|| "did not run".to_string(), mean);
            let change = s
                .mean_change_pct
                .map_or_else(String::new, |p| format!(" ({})", percent(p)));
            let _ = writeln!(
                out,
                "      queryid {}: mean {before} -> {after}{change}, {} calls before, {} in the window",
                s.queryid,
                s.calls_before.map_or_else(|| "0".to_string(), count),
                count(s.calls_after)
            );
            let _ = writeln!(out, "          {}", one_line(&s.query, QUERY_WIDTH - 4));
        }
        if e.time_saved_ms > 0.0 {
            let _ = writeln!(
                out,
                "      about {} saved over the window's calls",
                millis(e.time_saved_ms)
            );
        } else if e.time_saved_ms < 0.0 {
            let _ = writeln!(
                out,
                "      about {} LOST over the window's calls",
                millis(-e.time_saved_ms)
            );
        }
    }

    if !diff.dropped_indexes.is_empty() {
        let _ = writeln!(out, "\nDropped indexes (in OLD, not in NEW):");
        for d in &diff.dropped_indexes {
            let _ = writeln!(out, "  {} on {}", d.index, d.table);
        }
    }

    heading(&mut out, "Indexes that stopped being used (scanned by OLD, not once in the window while their table was read)", diff.stopped_indexes.is_empty());
    for s in &diff.stopped_indexes {
        let _ = writeln!(
            out,
            "  {} ({}): idx_scan {} by OLD, none since; {} had {} sequential and {} index scans in the window",
            s.index.index,
            bytes(s.size_bytes),
            count(s.old_idx_scan),
            s.index.table,
            count(s.table_seq_scan),
            count(s.table_idx_scan)
        );
    }

    heading(
        &mut out,
        &format!("Tables whose sequential scans grew (a larger share of their scans than in OLD, {} rows or more per scan)", count(SEQ_SCAN_MIN_ROWS_PER_SCAN as i64)),
        diff.seq_scan_growth.is_empty(),
    );
    for g in &diff.seq_scan_growth {
        let before = g.seq_share_before.map_or_else(
            || "no scans in OLD".to_string(),
            |b| format!("was {:.0}%", b * 100.0),
        );
        let _ = writeln!(
            out,
            "  {}: {} sequential scans read {} rows ({} per scan); {:.0}% of its scans in the window, {before}",
            g.table,
            count(g.seq_scan),
            count(g.seq_tup_read),
            count(g.rows_per_seq_scan.round() as i64),
            g.seq_share_window * 100.0
        );
    }
    out
}

/// A section's title, `: none` when it lists nothing.
fn heading(out: &mut String, title: &str, empty: bool) {
    let _ = writeln!(out, "\n{title}:{}", if empty { " none" } else { "" });
}

/// A statement text for a Markdown table cell: one line, in a code span.
fn md_query(sql: &str) -> String {
    let flat = one_line(sql, QUERY_WIDTH).replace('|', "\\|");
    if flat.contains('`') {
        flat
    } else {
        format!("`{flat}`")
    }
}

/// The Markdown comment for a pull request or an issue.
pub fn markdown(diff: &SnapshotDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## pgadvise diff: `{}`\n", diff.new.database);
    let _ = writeln!(
        out,
        "From {} to {} (window {}): {} calls, {} of execution time, {} statements.\n",
        diff.old.collected_at,
        diff.new.collected_at,
        window_length(diff.window_seconds),
        count(diff.window.calls),
        millis(diff.window.total_exec_time_ms),
        count(diff.window.statements as i64)
    );
    if let Some(reset) = &diff.reset {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> Statistics were reset between the snapshots:"
        );
        for line in reset_lines(reset) {
            let _ = writeln!(out, "> - {line}");
        }
        let _ = writeln!(
            out,
            "> For those, the window is NEW's counters alone; no delta is negative.\n"
        );
    }
    for note in &diff.notes {
        let _ = writeln!(out, "> [!NOTE]\n> {note}\n");
    }

    let _ = writeln!(
        out,
        "### Regressions\n\nMean time up more than {}% against the mean in OLD, at least {} calls in the window.\n",
        diff.threshold_pct, diff.min_calls
    );
    if diff.regressions.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        let _ = writeln!(
            out,
            "| change | mean before → after | calls | time lost | queryid | statement |"
        );
        let _ = writeln!(out, "| ---: | --- | ---: | ---: | --- | --- |");
        for r in &diff.regressions {
            let _ = writeln!(
                out,
                "| {} | {} → {} | {} | {} | {} | {} |",
                r.mean_change_pct.map_or_else(String::new, percent),
                r.old_mean_exec_time_ms.map_or_else(String::new, mean),
                mean(r.mean_exec_time_ms),
                count(r.calls),
                r.extra_time_ms.map_or_else(String::new, millis),
                r.queryid,
                md_query(&r.query)
            );
        }
        out.push('\n');
    }

    if !diff.new_statements.is_empty() {
        let _ = writeln!(out, "### New heavy statements\n");
        let _ = writeln!(out, "| time | share | calls | mean | queryid | statement |");
        let _ = writeln!(out, "| ---: | ---: | ---: | ---: | --- | --- |");
        for s in &diff.new_statements {
            let _ = writeln!(
                out,
                "| {} | {:.0}% | {} | {} | {} | {} |",
                millis(s.total_exec_time_ms),
                s.share_of_window * 100.0,
                count(s.calls),
                mean(s.mean_exec_time_ms),
                s.queryid,
                md_query(&s.query)
            );
        }
        out.push('\n');
    }

    if !diff.new_indexes.is_empty() {
        let _ = writeln!(out, "### New indexes\n");
        for e in &diff.new_indexes {
            let _ = writeln!(out, "- **{}**", effect_verdict(e).replace('|', "\\|"));
            let _ = writeln!(out, "\n  `{}`\n", one_line(&e.index.definition, 200));
            if !e.statements.is_empty() {
                let _ = writeln!(out, "  | queryid | mean before → after | change | calls in the window | statement |");
                let _ = writeln!(out, "  | --- | --- | ---: | ---: | --- |");
                for s in &e.statements {
                    let _ = writeln!(
                        out,
                        "  | {} | {} → {} | {} | {} | {} |",
                        s.queryid,
                        s.mean_before_ms.map_or_else(|| "new".to_string(), mean),
                        s.mean_after_ms
                            .map_or_else(|| "did not run".to_string(), mean),
                        s.mean_change_pct.map_or_else(String::new, percent),
                        count(s.calls_after),
                        md_query(&s.query)
                    );
                }
                out.push('\n');
            }
            if e.time_saved_ms > 0.0 {
                let _ = writeln!(
                    out,
                    "  About {} saved over the window's calls.\n",
                    millis(e.time_saved_ms)
                );
            }
        }
    }

    if !diff.stopped_indexes.is_empty() {
        let _ = writeln!(out, "### Indexes that stopped being used\n");
        for s in &diff.stopped_indexes {
            let _ = writeln!(
                out,
                "- `{}` ({}): idx_scan {} by OLD, none in the window; `{}` had {} sequential and {} index scans",
                s.index.index,
                bytes(s.size_bytes),
                count(s.old_idx_scan),
                s.index.table,
                count(s.table_seq_scan),
                count(s.table_idx_scan)
            );
        }
        out.push('\n');
    }

    if !diff.seq_scan_growth.is_empty() {
        let _ = writeln!(out, "### Tables whose sequential scans grew\n");
        let _ = writeln!(
            out,
            "| table | seq scans | rows read | per scan | share of scans (OLD → window) |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | --- |");
        for g in &diff.seq_scan_growth {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} → {:.0}% |",
                g.table,
                count(g.seq_scan),
                count(g.seq_tup_read),
                count(g.rows_per_seq_scan.round() as i64),
                g.seq_share_before
                    .map_or_else(|| "none".to_string(), |b| format!("{:.0}%", b * 100.0)),
                g.seq_share_window * 100.0
            );
        }
        out.push('\n');
    }
    format!("{}\n", out.trim_end())
}
