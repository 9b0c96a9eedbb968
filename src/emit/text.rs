//! The human summary `pgadvise scan` prints at a terminal.

use super::report::ScanReport;
use crate::format::{millis, one_line};
use crate::snapshot::{Snapshot, TableKind};
use std::fmt::Write;

/// Also reached by this path from `verify::select`.
use crate::format::bytes;

/// How many statements the summary lists.
const TOP_STATEMENTS: usize = 5;

/// `skip_reasons`: how many statements were skipped for which reason.
pub fn summary(snapshot: &Snapshot, report: &ScanReport, skip_reasons: &[(&str, usize)]) -> String {
    let mut out = String::new();
    let s = snapshot;
    let _ = writeln!(
        out,
        "pgadvise {} — {} (PostgreSQL {}{})",
        env!("CARGO_PKG_VERSION"),
        if s.source.target.is_empty() {
            &s.source.database
        } else {
            &s.source.target
        },
        s.server.version,
        if s.source.in_recovery {
            ", standby"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "collected {}\n", s.collected_at);

    let st = &s.statements;
    let mut notes = Vec::new();
    // No extension version: pg_stat_statements was missing and only given
    // statements were analyzed (the snapshot's warnings say why).
    if st.extension_version.is_empty() {
        notes.push("not read".to_string());
    }
    if st.hidden_count > 0 {
        notes.push(format!("{} hidden", st.hidden_count));
    }
    if let Some(d) = st.dealloc {
        notes.push(format!("{d} evicted since reset"));
    }
    let _ = writeln!(
        out,
        "  statements   {} in pg_stat_statements{}; {} analyzed, {} skipped",
        st.entries.len(),
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        },
        report.statements_analyzed,
        report.statements_skipped
    );
    if !skip_reasons.is_empty() {
        let parts: Vec<String> = skip_reasons
            .iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect();
        let _ = writeln!(out, "               skipped: {}", parts.join(", "));
    }

    let table_bytes: i64 = s.tables.iter().map(|t| t.total_size_bytes).sum();
    let partitioned = s
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::PartitionedTable)
        .count();
    let _ = writeln!(
        out,
        "  tables       {} ({} with indexes){}",
        s.tables.len(),
        bytes(table_bytes),
        if partitioned > 0 {
            format!(", {partitioned} partitioned")
        } else {
            String::new()
        }
    );
    let index_bytes: i64 = s.indexes.iter().map(|i| i.size_bytes).sum();
    let invalid = s.indexes.iter().filter(|i| !i.is_valid).count();
    let _ = writeln!(
        out,
        "  indexes      {} ({}){}",
        s.indexes.len(),
        bytes(index_bytes),
        if invalid > 0 {
            format!(", {invalid} INVALID")
        } else {
            String::new()
        }
    );

    let sessions = &s.activity.sessions;
    let count = |state: &str| {
        sessions
            .iter()
            .filter(|x| x.state.as_deref() == Some(state))
            .count()
    };
    let _ = writeln!(
        out,
        "  connections  {} client sessions: {} active, {} idle, {} idle in transaction (max_connections {})",
        sessions.len(),
        count("active"),
        count("idle"),
        count("idle in transaction") + count("idle in transaction (aborted)"),
        s.setting("max_connections").unwrap_or("?")
    );
    let extensions: Vec<String> = s
        .extensions
        .iter()
        .filter(|e| {
            matches!(
                e.name.as_str(),
                "pg_stat_statements" | "hypopg" | "pg_qualstats"
            )
        })
        .map(|e| format!("{} {}", e.name, e.version))
        .collect();
    let _ = writeln!(out, "  extensions   {}", extensions.join(", "));

    let workload: Vec<_> = st
        .entries
        .iter()
        .filter(|e| !crate::collect::is_own_statement(&e.query))
        .take(TOP_STATEMENTS)
        .collect();
    if !workload.is_empty() {
        let _ = writeln!(out, "\n  top statements by total time:");
        for (n, e) in workload.iter().enumerate() {
            let _ = writeln!(
                out,
                "    {}. {:>10} total {:>9} calls  {:>9} mean  {}",
                n + 1,
                millis(e.total_exec_time),
                e.calls,
                millis(e.mean_exec_time),
                one_line(&e.query, 70)
            );
        }
    }
    out
}

/// The ranked proposals, readable in ten seconds.
pub fn index_table(
    advice: &crate::analyze::indexes::IndexAdvice,
    verification: Option<&crate::verify::proposals::VerifyReport>,
) -> String {
    let mut out = String::new();
    if advice.proposals.is_empty() {
        let _ = writeln!(out, "\n  index proposals: none");
    } else {
        let ranking = if advice.proposals.iter().any(|p| p.verified) {
            "verified with hypopg, most time saved first"
        } else {
            "unverified, most workload time first"
        };
        let _ = writeln!(out, "\n  index proposals ({ranking}):");
        for (n, p) in advice.proposals.iter().enumerate() {
            let columns = p.columns.join(", ");
            let predicate = p
                .predicate
                .as_ref()
                .map(|w| format!(" WHERE {w}"))
                .unwrap_or_default();
            let gain = match (p.cost_before, p.cost_after) {
                (Some(b), Some(a)) if b > 0.0 => {
                    format!("cost {b:.0} -> {a:.0} (-{:.0}%)", (1.0 - a / b) * 100.0)
                }
                _ if p.verification.is_some() => format!(
                    "unverified: hypopg cannot simulate {} (pgadvise verify checks it after deployment)",
                    p.method.label()
                ),
                _ => "unverified".to_string(),
            };
            let _ = writeln!(
                out,
                "    {}. {}({columns}){predicate}\n       {} statement(s), {} of workload, ~{}{}; {gain}",
                n + 1,
                p.table,
                p.queryids.len(),
                millis(p.workload_time_ms),
                bytes(p.estimated_size_bytes),
                if p.predicate.is_some() {
                    format!(" (full index ~{})", bytes(p.full_index_size_bytes))
                } else {
                    String::new()
                },
            );
            let _ = writeln!(out, "       {}", p.ddl);
            for extension in &p.requires {
                let _ = writeln!(
                    out,
                    "       requires the {extension} extension (not created in this database: CREATE EXTENSION {extension}; is the DBA's call)"
                );
            }
        }
    }
    if let Some(v) = verification {
        if !advice.proposals.is_empty() && v.workload_cost_before > 0.0 {
            let _ = writeln!(
                out,
                "    the set: {} index(es), {}; workload cost (calls x plan cost) {:.0} -> {:.0} (-{:.0}%)",
                advice.proposals.len(),
                bytes(v.total_size_bytes),
                v.workload_cost_before,
                v.workload_cost_after,
                (1.0 - v.workload_cost_after / v.workload_cost_before) * 100.0
            );
        }
        for r in v.rejected.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "    not proposed after verification: {} ({})",
                r.name, r.reason
            );
        }
        if v.rejected.len() > LISTED {
            let _ = writeln!(
                out,
                "    ... and {} more not proposed after verification (--format json lists them)",
                v.rejected.len() - LISTED
            );
        }
        for l in v.left_out.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "    left out: {} (~{}, {}): {}",
                l.ddl,
                bytes(l.size_bytes),
                l.saving_text(),
                l.reason
            );
        }
        if v.left_out.len() > LISTED {
            let _ = writeln!(
                out,
                "    ... and {} more left out (--format json lists them)",
                v.left_out.len() - LISTED
            );
        }
        if !v.unplannable.is_empty() {
            let _ = writeln!(
                out,
                "    {} statement(s) could not be planned for verification",
                v.unplannable.len()
            );
        }
    }
    for s in &advice.served_by_existing {
        let _ = writeln!(
            out,
            "    already served: {}({}) by {}",
            s.table,
            s.columns.join(", "),
            s.existing_index
        );
    }
    out
}

/// How many rejected or left-out candidates the text lists before summing up the rest.
const LISTED: usize = 10;

/// Health and query findings, most severe first, then the safe drops.
pub fn findings_section(
    findings: &[crate::analyze::finding::Finding],
    drops: &[crate::analyze::health::DropProposal],
) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        let _ = writeln!(out, "\n  findings: none");
    } else {
        let mut sorted: Vec<_> = findings.iter().collect();
        sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let _ = writeln!(out, "\n  findings ({}):", sorted.len());
        for f in sorted {
            let _ = writeln!(
                out,
                "    [{}] {} {}: {}",
                f.severity.as_str(),
                f.rule,
                f.object,
                f.title
            );
            let _ = writeln!(out, "       {}", one_line(&f.detail, 400));
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "       fix: {}", one_line(fix, 800));
            }
        }
    }
    if !drops.is_empty() {
        let _ = writeln!(
            out,
            "\n  index drops ({}; each statement alone, outside a transaction):",
            drops.len()
        );
        for d in drops {
            let _ = writeln!(out, "    {} ({}): {}", d.index, d.rule, d.reason);
            for statement in d.up() {
                let _ = writeln!(out, "       {statement}");
            }
            for statement in d.down() {
                let _ = writeln!(out, "       down: {statement}");
            }
        }
    }
    out
}

/// The pool verdict with its arithmetic, and its findings.
pub fn pool_section(
    verdict: &crate::analyze::pool::PoolVerdict,
    findings: &[crate::analyze::finding::Finding],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  connection pools  budget {} ({}); {} samples over {:.1} s",
        verdict.budget, verdict.budget_arithmetic, verdict.samples, verdict.window_seconds
    );
    match (verdict.db_cores, &verdict.cores_note) {
        (Some(cores), _) => {
            let _ = writeln!(
                out,
                "    server: {cores} cores ({}); sessions on CPU p50 {} p95 {} peak {}",
                verdict.cores_source.map_or("given", |s| s.label()),
                verdict.server_on_cpu.p50,
                verdict.server_on_cpu.p95,
                verdict.server_on_cpu.peak
            );
        }
        (None, Some(note)) => {
            let _ = writeln!(out, "    note: {note}");
        }
        (None, None) => {}
    }
    for app in &verdict.applications {
        let declared = match &app.declared {
            Some(d) => format!("{}×{} = {}", d.instances, d.size, d.total),
            None => "undeclared".to_string(),
        };
        let o = &app.observed;
        let _ = writeln!(
            out,
            "    {}: declared {declared}; peak active {} idle {} idle-in-tx {}; recommended {}",
            app.name, o.active.peak, o.idle.peak, o.idle_in_transaction.peak, app.recommended_size
        );
        let _ = writeln!(
            out,
            "      time: {}; limit: {}",
            app.time.summary(),
            app.limit.label()
        );
        for line in &app.advice {
            let _ = writeln!(out, "      advice: {line}");
        }
        let _ = writeln!(out, "      {}", app.arithmetic);
        if !app.settings.is_empty() {
            let _ = writeln!(out, "      settings, per instance:");
            for (library, snippet) in &app.settings {
                let _ = writeln!(
                    out,
                    "        {:<16} {}",
                    library.as_str(),
                    snippet.replace('\n', "; ")
                );
            }
        }
    }
    for f in findings {
        let _ = writeln!(out, "  [{:?}] {}: {}", f.severity, f.rule, f.title);
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    out
}

/// `pgadvise verify`: per migration the index state, then PASS/FAIL/SKIP per statement.
pub fn verify_section(checks: &[crate::verify::outcome::IndexCheck]) -> String {
    use crate::verify::outcome::{IndexState, QueryOutcome};
    let mut out = String::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for c in checks {
        let state = match c.state {
            IndexState::Ready if c.bad_partitions.is_empty() => "valid and ready",
            IndexState::Ready => "valid, but partition indexes are not",
            IndexState::Missing => "MISSING",
            IndexState::Invalid => "INVALID",
            IndexState::NotReady => "NOT READY",
        };
        let _ = writeln!(out, "{} ({}): index {state}", c.migration, c.index);
        if let Some(fix) = &c.fix {
            failed += 1;
            let _ = writeln!(out, "  FAIL {fix}");
        }
        for q in &c.queries {
            let label = match q.outcome {
                QueryOutcome::Pass => {
                    passed += 1;
                    "PASS"
                }
                QueryOutcome::Fail => {
                    failed += 1;
                    "FAIL"
                }
                QueryOutcome::Skip => {
                    skipped += 1;
                    "SKIP"
                }
            };
            let _ = write!(
                out,
                "  {label} queryid {}: {}",
                q.queryid,
                one_line(&q.query, 80)
            );
            if let Some(node) = &q.node {
                let _ = write!(out, "\n       {node}");
            }
            if let Some(cost) = q.cost {
                let _ = write!(out, ", cost {cost:.2}");
                if let (Some(after), Some(before)) = (q.estimated_cost_after, q.cost_before) {
                    let _ = write!(
                        out,
                        " (estimated {after:.2}; {before:.2} without the index)"
                    );
                }
            }
            if let Some(detail) = &q.detail {
                let _ = write!(out, "\n       {detail}");
            }
            if let Some(m) = &q.measurement {
                match (&m.skipped, m.execution_time_ms) {
                    (Some(reason), _) => {
                        let _ = write!(out, "\n       EXPLAIN ANALYZE skipped: {reason}");
                    }
                    (None, Some(ms)) => {
                        let _ = write!(
                            out,
                            "\n       EXPLAIN ANALYZE: {} now{}; buffers hit {}, read {}; with {}",
                            millis(ms),
                            m.mean_before_ms
                                .map(|b| format!(
                                    " vs {} mean before (pg_stat_statements)",
                                    millis(b)
                                ))
                                .unwrap_or_default(),
                            m.shared_hit_blocks.unwrap_or(0),
                            m.shared_read_blocks.unwrap_or(0),
                            if m.parameters.is_empty() {
                                "no parameters".to_string()
                            } else {
                                m.parameters.join(", ")
                            }
                        );
                    }
                    (None, None) => {}
                }
            }
            out.push('\n');
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped");
    out
}
