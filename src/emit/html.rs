//! `--report FILE`: one self-contained HTML page (inline CSS, no scripts, no
//! external assets) a DBA can open offline or download as a CI artifact.
//!
//! The template (templates/report.html) only lays out; every number is
//! formatted here, so the page and the text output say the same thing.

use super::report::ScanReport;
use super::report_charts::{charts, ReportCharts};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::indexes::ServedByExisting;
use crate::analyze::pool::{PoolVerdict, TimeCategory};
use crate::format::{bytes, millis, sql_script};
use crate::snapshot::Snapshot;
use askama::Template;

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    view: &'a ReportView,
}

/// Everything the page shows, formatted.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub title: String,
    pub pgadvise_version: String,
    pub target: String,
    pub server_version: String,
    pub standby: bool,
    pub collected_at: String,
    pub stats_since: String,
    pub statements_total: usize,
    pub statements_analyzed: usize,
    pub statements_skipped: usize,
    pub skip_reasons: Vec<(String, usize)>,
    pub statements_note: String,
    pub workload_time: String,
    pub tables: String,
    pub indexes: String,
    pub verification: String,
    pub warnings: Vec<String>,
    pub severity_counts: Vec<SeverityCount>,
    pub proposals: Vec<IndexView>,
    pub set_summary: Option<String>,
    pub rejected: Vec<(String, String)>,
    /// What a limit (`--budget`, `--max-indexes-per-table`) left out: DDL,
    /// size, saving, why.
    pub left_out: Vec<[String; 4]>,
    pub unplannable: usize,
    pub already_served: Vec<String>,
    pub drops: Vec<DropView>,
    pub pool: Option<PoolView>,
    pub findings: Vec<FindingView>,
    pub charts: ReportCharts,
}

/// An index the health rules would drop (or rebuild), with both directions
/// of its migration.
#[derive(Debug, Clone)]
pub struct DropView {
    pub index: String,
    pub table: String,
    pub rule: String,
    pub size: String,
    pub reason: String,
    pub rebuild: bool,
    pub up: String,
    pub down: String,
}

#[derive(Debug, Clone)]
pub struct SeverityCount {
    pub label: &'static str,
    pub count: usize,
}

#[derive(Debug, Clone)]
pub struct IndexView {
    pub rank: usize,
    pub name: String,
    pub table: String,
    pub ddl: String,
    pub verified: bool,
    pub headline: String,
    pub cost: String,
    pub size: String,
    pub write_cost: String,
    pub reason: String,
    /// Why hypopg could not verify it (GIN, GiST), with the evidence instead;
    /// empty otherwise.
    pub evidence: String,
    pub statements: Vec<StatementView>,
}

#[derive(Debug, Clone)]
pub struct StatementView {
    pub queryid: i64,
    pub query: String,
    pub numbers: String,
    pub cost: String,
    pub plan_before: String,
    pub plan_after: String,
}

#[derive(Debug, Clone)]
pub struct PoolView {
    pub budget: u32,
    pub budget_arithmetic: String,
    pub window: String,
    /// Cores as given, or the note that no CPU cap was applied.
    pub cores: String,
    pub applications: Vec<ApplicationView>,
}

#[derive(Debug, Clone)]
pub struct ApplicationView {
    pub name: String,
    pub declared: String,
    pub active: String,
    pub idle: String,
    pub idle_in_transaction: String,
    pub recommended: u32,
    /// Share of session time per category, in display order.
    pub time: Vec<(&'static str, String)>,
    pub limit: &'static str,
    pub advice: Vec<String>,
    pub arithmetic: String,
    pub settings: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone)]
pub struct FindingView {
    pub severity: &'static str,
    pub rule: String,
    pub object: String,
    pub title: String,
    pub detail: String,
    pub fix: String,
    pub evidence: String,
    pub fingerprint: String,
}

/// Renders the page. `pool` is the verdict when one was computed; `served`,
/// the candidates existing indexes already serve.
pub fn render(
    snapshot: &Snapshot,
    report: &ScanReport,
    pool: Option<&PoolVerdict>,
    served: &[ServedByExisting],
) -> Result<String, askama::Error> {
    let view = view(snapshot, report, pool, served);
    ReportPage { view: &view }.render()
}

pub fn view(
    snapshot: &Snapshot,
    report: &ScanReport,
    pool: Option<&PoolVerdict>,
    served: &[ServedByExisting],
) -> ReportView {
    let s = snapshot;
    let target = if s.source.target.is_empty() {
        s.source.database.clone()
    } else {
        s.source.target.clone()
    };
    let own = |q: &str| crate::collect::is_own_statement(q);
    let workload_ms: f64 = s
        .statements
        .entries
        .iter()
        .filter(|e| !own(&e.query))
        .map(|e| e.total_exec_time)
        .sum();
    let mut notes = Vec::new();
    if s.statements.hidden_count > 0 {
        notes.push(format!(
            "{} hidden from this role (grant pg_read_all_stats)",
            s.statements.hidden_count
        ));
    }
    if let Some(d) = s.statements.dealloc.filter(|d| *d > 0) {
        notes.push(format!(
            "{d} evicted from pg_stat_statements since its reset: the picture is partial"
        ));
    }
    let table_bytes: i64 = s.tables.iter().map(|t| t.total_size_bytes).sum();
    let index_bytes: i64 = s.indexes.iter().map(|i| i.size_bytes).sum();
    let invalid = s.indexes.iter().filter(|i| !i.is_valid).count();
    // A report with no plan made holds only what --budget left out.
    let session = report.verification.as_ref().filter(|v| v.plans_made > 0);
    let verification = match (session, s.extension("hypopg")) {
        (Some(v), Some(h)) if v.candidates_considered == 0 => format!(
            "hypopg {} available; no proposal is of a kind it can simulate (GIN and GiST are \
             checked after deployment by pgadvise verify)",
            h.version
        ),
        (Some(_), Some(h)) => format!(
            "verified with hypopg {} (hypothetical indexes, generic plans)",
            h.version
        ),
        (None, Some(_)) if report.indexes.is_empty() && report.verification.is_none() => {
            "hypopg available; nothing to verify".into()
        }
        (None, Some(_)) => {
            "not verified (--no-verify, offline snapshot, or verification failed)".into()
        }
        (_, None) => {
            "hypopg is not installed in this database: proposals are heuristic, not verified".into()
        }
    };
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    let severity_counts = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .iter()
    .map(|sev| SeverityCount {
        label: sev.as_str(),
        count: report
            .findings
            .iter()
            .filter(|f| f.severity == *sev)
            .count(),
    })
    .collect();

    ReportView {
        title: format!("pgadvise report — {}", s.source.database),
        pgadvise_version: report.pgadvise_version.clone(),
        target,
        server_version: s.server.version.clone(),
        standby: s.source.in_recovery,
        collected_at: s.collected_at.clone(),
        stats_since: s
            .statements
            .stats_reset
            .clone()
            .unwrap_or_else(|| "unknown (the server does not report it)".into()),
        statements_total: s.statements.entries.len(),
        statements_analyzed: report.statements_analyzed,
        statements_skipped: report.statements_skipped,
        skip_reasons: report
            .statements_skipped_by_reason
            .iter()
            .map(|r| (r.reason.clone(), r.count))
            .collect(),
        statements_note: notes.join("; "),
        workload_time: millis(workload_ms),
        tables: format!("{} ({})", s.tables.len(), bytes(table_bytes)),
        indexes: format!(
            "{} ({}){}",
            s.indexes.len(),
            bytes(index_bytes),
            if invalid > 0 {
                format!(", {invalid} INVALID")
            } else {
                String::new()
            }
        ),
        verification,
        warnings: s.warnings.clone(),
        severity_counts,
        proposals: report
            .indexes
            .iter()
            .enumerate()
            .map(|(i, p)| index_view(i + 1, p, snapshot, report))
            .collect(),
        set_summary: report.verification.as_ref().and_then(|v| {
            (v.workload_cost_before > 0.0 && !report.indexes.is_empty()).then(|| {
                format!(
                    "Together, the {} index(es) take about {} and bring the workload's cost \
                     (calls × generic-plan cost) from {:.0} to {:.0}: −{:.0}%.",
                    report.indexes.len(),
                    bytes(v.total_size_bytes),
                    v.workload_cost_before,
                    v.workload_cost_after,
                    (1.0 - v.workload_cost_after / v.workload_cost_before) * 100.0
                )
            })
        }),
        rejected: report
            .verification
            .as_ref()
            .map(|v| {
                v.rejected
                    .iter()
                    .map(|r| (r.ddl.clone(), r.reason.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        left_out: report
            .verification
            .iter()
            .flat_map(|v| &v.left_out)
            .map(|l| {
                [
                    l.ddl.clone(),
                    format!("about {}", bytes(l.size_bytes)),
                    l.saving_text(),
                    l.reason.clone(),
                ]
            })
            .collect(),
        unplannable: report
            .verification
            .as_ref()
            .map_or(0, |v| v.unplannable.len()),
        already_served: served
            .iter()
            .map(|s| {
                format!(
                    "{}({}) by {} ({} statement(s))",
                    s.table,
                    s.columns.join(", "),
                    s.existing_index,
                    s.queryids.len()
                )
            })
            .collect(),
        drops: report.drops.iter().map(drop_view).collect(),
        pool: pool.map(pool_view),
        findings: findings.into_iter().map(finding_view).collect(),
        charts: charts(snapshot, report, pool, workload_ms),
    }
}

fn drop_view(d: &crate::analyze::health::DropProposal) -> DropView {
    DropView {
        index: d.index.clone(),
        table: d.table.clone(),
        rule: d.rule.to_string(),
        size: bytes(d.size_bytes),
        reason: d.reason.clone(),
        rebuild: d.rebuild,
        up: sql_script(&d.up()),
        down: sql_script(&d.down()),
    }
}

fn index_view(
    rank: usize,
    p: &crate::analyze::indexes::IndexProposal,
    snapshot: &Snapshot,
    report: &ScanReport,
) -> IndexView {
    let headline = match p.estimated_time_saved_ms {
        Some(saved) => format!(
            "saves about {} of the {} its statements took",
            millis(saved),
            millis(p.workload_time_ms)
        ),
        None => format!(
            "its statements took {} (not verified: time saved unknown)",
            millis(p.workload_time_ms)
        ),
    };
    let cost = match (p.cost_before, p.cost_after) {
        (Some(b), Some(a)) if b > 0.0 => {
            format!("{b:.0} → {a:.0} (−{:.0}%)", (1.0 - a / b) * 100.0)
        }
        _ => "not verified".into(),
    };
    let size = match (&p.predicate, p.predicate_fraction) {
        (Some(_), fraction) => format!(
            "about {} (partial{}; the same index without WHERE: {})",
            bytes(p.estimated_size_bytes),
            fraction
                .map(|f| format!(", keeps {:.1}% of rows", f * 100.0))
                .unwrap_or_default(),
            bytes(p.full_index_size_bytes)
        ),
        (None, _) => format!("about {}", bytes(p.estimated_size_bytes)),
    };
    let write_cost = p
        .write_cost
        .as_ref()
        .map(|w| {
            format!(
                "{} inserts, {} updates{}, {} deletes on {} since statistics were reset: each insert, and each non-HOT update, also writes this index",
                w.inserts,
                w.updates,
                w.hot_update_ratio
                    .map(|r| format!(" ({:.0}% HOT)", r * 100.0))
                    .unwrap_or_default(),
                w.deletes,
                p.table
            )
        })
        .unwrap_or_default();
    let statements = served_statements(p, snapshot)
        .into_iter()
        .map(|(id, query, stats)| {
            let id = &id;
            let numbers = match stats {
                Some(s) => format!(
                    "{} calls, {} mean, {} total",
                    s.calls,
                    mean(s.mean_exec_time),
                    millis(s.total_exec_time)
                ),
                None => "given with --query (not observed)".into(),
            };
            let plans = report
                .verification
                .as_ref()
                .and_then(|v| v.plans.iter().find(|pl| pl.queryid == *id));
            StatementView {
                queryid: *id,
                query: query.clone(),
                numbers,
                cost: plans
                    .map(|pl| {
                        format!(
                            "generic-plan cost {:.0} → {:.0} with the proposed indexes",
                            pl.cost_before, pl.cost_after
                        )
                    })
                    .unwrap_or_default(),
                plan_before: plans.map(|pl| pl.plan_before.clone()).unwrap_or_default(),
                plan_after: plans.map(|pl| pl.plan_after.clone()).unwrap_or_default(),
            }
        })
        .collect();
    IndexView {
        rank,
        name: p.name.clone(),
        table: p.table.clone(),
        ddl: p.ddl.clone(),
        verified: p.verified,
        headline,
        cost,
        size,
        write_cost,
        reason: p.reason.clone(),
        evidence: p.verification.clone().unwrap_or_default(),
        statements,
    }
}

/// A mean time: sub-millisecond statements keep two decimals.
pub fn mean(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else {
        millis(ms)
    }
}

/// The statements a proposal serves: (queryid, text, statistics when observed).
/// `queries` is not in `queryids` order; texts given with `--query` are the
/// ones no snapshot entry has.
pub fn served_statements<'a>(
    p: &crate::analyze::indexes::IndexProposal,
    snapshot: &'a Snapshot,
) -> Vec<(i64, String, Option<&'a crate::snapshot::Statement>)> {
    let observed = |id: i64| snapshot.statements.entries.iter().find(|e| e.queryid == id);
    let mut given = p
        .queries
        .iter()
        .filter(|q| !snapshot.statements.entries.iter().any(|e| &e.query == *q));
    p.queryids
        .iter()
        .map(|id| match observed(*id) {
            Some(s) => (*id, s.query.clone(), Some(s)),
            None => (*id, given.next().cloned().unwrap_or_default(), None),
        })
        .collect()
}

fn pool_view(v: &PoolVerdict) -> PoolView {
    PoolView {
        budget: v.budget,
        budget_arithmetic: v.budget_arithmetic.clone(),
        window: format!("{} samples over {:.1} s", v.samples, v.window_seconds),
        cores: match (v.db_cores, &v.cores_note) {
            (Some(cores), _) => format!(
                "{cores} cores ({}); sessions on CPU server-wide: p50 {}, p95 {}, peak {}",
                v.cores_source.map_or("given", |s| s.label()),
                v.server_on_cpu.p50,
                v.server_on_cpu.p95,
                v.server_on_cpu.peak
            ),
            (None, note) => note.clone().unwrap_or_default(),
        },
        applications: v
            .applications
            .iter()
            .map(|a| {
                let spread = |s: &crate::analyze::pool::Spread| {
                    format!("peak {}, p95 {}, p50 {}", s.peak, s.p95, s.p50)
                };
                ApplicationView {
                    name: a.name.clone(),
                    declared: a
                        .declared
                        .as_ref()
                        .map(|d| format!("{} × {} = {}", d.instances, d.size, d.total))
                        .unwrap_or_else(|| "not declared".into()),
                    active: spread(&a.observed.active),
                    idle: spread(&a.observed.idle),
                    idle_in_transaction: spread(&a.observed.idle_in_transaction),
                    recommended: a.recommended_size,
                    time: TimeCategory::ALL
                        .iter()
                        .map(|&c| (c.label(), format!("{:.0}%", a.time.get(c) * 100.0)))
                        .collect(),
                    limit: a.limit.label(),
                    advice: a.advice.clone(),
                    // One step per line: the arithmetic reads top to bottom.
                    arithmetic: a.arithmetic.replace("; ", ";\n"),
                    settings: a
                        .settings
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect(),
                }
            })
            .collect(),
    }
}

fn finding_view(f: &Finding) -> FindingView {
    FindingView {
        severity: f.severity.as_str(),
        rule: f.rule.to_string(),
        object: f.object.clone(),
        title: f.title.clone(),
        detail: f.detail.clone(),
        fix: f.fix.clone().unwrap_or_default(),
        evidence: serde_json::to_string_pretty(&f.evidence).unwrap_or_default(),
        fingerprint: f.fingerprint(),
    }
}
