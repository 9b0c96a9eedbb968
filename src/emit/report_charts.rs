//! The HTML report's pictures: which numbers each chart draws, read from the
//! scan's report, the pool verdict and the snapshot, and formatted as the rest
//! of the page formats them. The drawing itself is `chart`'s.

use super::chart::{
    bar_chart, stacked_bar, time_chart, Bar, BarChart, BarGroup, Figure, Limit, Scale, Segment,
    Series, StackChart, TimeChart, Tone,
};
use super::report::ScanReport;
use crate::analyze::finding::Severity;
use crate::analyze::pool::{sessions_by_state, PoolVerdict};
use crate::format::{millis, one_line};
use crate::snapshot::{PoolWindow, Snapshot};

/// Every chart of the page; `None` where there is nothing to draw.
#[derive(Debug, Clone, Default)]
pub struct ReportCharts {
    pub findings: Option<Figure>,
    pub time_saved: Option<Figure>,
    pub statement_costs: Option<Figure>,
    pub pool_budget: Option<Figure>,
    pub connection_states: Option<Figure>,
}

/// The charts of one report. `workload_ms` is the workload's total execution
/// time, the whole the time saved is drawn against.
pub fn charts(
    snapshot: &Snapshot,
    report: &ScanReport,
    pool: Option<&PoolVerdict>,
    workload_ms: f64,
) -> ReportCharts {
    ReportCharts {
        findings: Some(findings(report)),
        time_saved: time_saved(report, workload_ms),
        statement_costs: statement_costs(report),
        pool_budget: pool.and_then(pool_budget),
        connection_states: snapshot.pool_window.as_ref().and_then(connection_states),
    }
}

fn severity_tone(severity: Severity) -> Tone {
    match severity {
        Severity::Critical => Tone::Critical,
        Severity::High => Tone::High,
        Severity::Medium => Tone::Medium,
        Severity::Low => Tone::Low,
    }
}

/// Findings per severity, the most severe first, zero counts included.
pub fn findings(report: &ScanReport) -> Figure {
    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];
    let groups = severities
        .iter()
        .map(|&severity| {
            let count = report
                .findings
                .iter()
                .filter(|f| f.severity == severity)
                .count();
            BarGroup {
                label: severity.as_str().to_string(),
                bars: vec![Bar {
                    series: "findings".into(),
                    value: count as f64,
                    text: count.to_string(),
                    tone: severity_tone(severity),
                }],
            }
        })
        .collect();
    bar_chart(&BarChart {
        id: "chart-findings".into(),
        title: "Findings by severity".into(),
        description: format!(
            "{} finding(s): {}.",
            report.findings.len(),
            severities
                .iter()
                .map(|&s| format!(
                    "{} {}",
                    report.findings.iter().filter(|f| f.severity == s).count(),
                    s.as_str()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        label_heading: "severity".into(),
        scale: Scale::Largest,
        groups,
    })
}

/// Per proposed index, the time its statements took and the time it saves,
/// both against the workload's total time.
pub fn time_saved(report: &ScanReport, workload_ms: f64) -> Option<Figure> {
    if report.indexes.is_empty() || workload_ms.is_nan() || workload_ms <= 0.0 {
        return None;
    }
    let groups = report
        .indexes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let saved = match p.estimated_time_saved_ms {
                Some(ms) => Bar {
                    series: "saved".into(),
                    value: ms,
                    text: format!("{} ({})", millis(ms), share(ms, workload_ms)),
                    tone: Tone::After,
                },
                None => Bar {
                    series: "saved".into(),
                    value: 0.0,
                    text: "unknown (not verified)".into(),
                    tone: Tone::After,
                },
            };
            BarGroup {
                label: format!("{}. {}", i + 1, p.name),
                bars: vec![
                    Bar {
                        series: "its statements took".into(),
                        value: p.workload_time_ms,
                        text: format!(
                            "{} ({})",
                            millis(p.workload_time_ms),
                            share(p.workload_time_ms, workload_ms)
                        ),
                        tone: Tone::Before,
                    },
                    saved,
                ],
            }
        })
        .collect();
    let saved_total: f64 = report
        .indexes
        .iter()
        .filter_map(|p| p.estimated_time_saved_ms)
        .sum();
    Some(bar_chart(&BarChart {
        id: "chart-time-saved".into(),
        title: "Time saved per proposed index".into(),
        description: format!(
            "Each index's statements and the time it saves, against the workload's {} in \
             total; together the proposals save about {} ({} of the workload).",
            millis(workload_ms),
            millis(saved_total),
            share(saved_total, workload_ms)
        ),
        label_heading: "index".into(),
        scale: Scale::Whole {
            value: workload_ms,
            text: format!("the workload's {} (every statement)", millis(workload_ms)),
        },
        groups,
    }))
}

/// Per statement a kept index serves: its generic-plan cost without new
/// indexes and with the whole set, naming every index its plan reads through
/// (the saving of a statement several indexes serve is theirs jointly).
pub fn statement_costs(report: &ScanReport) -> Option<Figure> {
    let verification = report.verification.as_ref()?;
    let mut seen = Vec::new();
    let mut groups = Vec::new();
    for p in &report.indexes {
        for expected in &p.plans {
            if seen.contains(&expected.queryid) {
                continue;
            }
            let Some(plans) = verification
                .plans
                .iter()
                .find(|pl| pl.queryid == expected.queryid)
            else {
                continue;
            };
            seen.push(expected.queryid);
            let through: Vec<&str> = report
                .indexes
                .iter()
                .filter(|q| {
                    q.plans
                        .iter()
                        .any(|e| e.queryid == expected.queryid && e.node.is_some())
                })
                .map(|q| q.name.as_str())
                .collect();
            let via = match through.as_slice() {
                [] => String::new(),
                [one] => format!("via {one} · "),
                several => format!("via {} jointly · ", several.join(" + ")),
            };
            let change = if plans.cost_before > 0.0 {
                format!(
                    " ({:+.0}%)",
                    (plans.cost_after / plans.cost_before - 1.0) * 100.0
                )
            } else {
                String::new()
            };
            groups.push(BarGroup {
                label: format!("{via}{}", one_line(&expected.query, 400)),
                bars: vec![
                    Bar {
                        series: "cost before".into(),
                        value: plans.cost_before,
                        text: format!("{:.0}", plans.cost_before),
                        tone: Tone::Before,
                    },
                    Bar {
                        series: "cost with the set".into(),
                        value: plans.cost_after,
                        text: format!("{:.0}{change}", plans.cost_after),
                        tone: Tone::After,
                    },
                ],
            });
        }
    }
    if groups.is_empty() {
        return None;
    }
    Some(bar_chart(&BarChart {
        id: "chart-statement-costs".into(),
        title: "Plan cost of each statement, before and with the proposed set".into(),
        description: format!(
            "{} statement(s): the generic-plan cost without new indexes, and with every \
             proposed index present; each statement drawn to its own scale.",
            groups.len()
        ),
        label_heading: "statement".into(),
        scale: Scale::PerGroup,
        groups,
    }))
}

/// The pools (declared, else the most connections seen open) stacked against
/// the server's connection budget.
pub fn pool_budget(verdict: &PoolVerdict) -> Option<Figure> {
    let segments: Vec<Segment> = verdict
        .applications
        .iter()
        .filter_map(|a| {
            let size = a.pool_size?;
            let how = match &a.declared {
                Some(d) => format!("{} × {} declared", d.instances, d.size),
                None => "most seen open".into(),
            };
            Some(Segment {
                label: format!("{} ({how})", a.name),
                value: f64::from(size),
                text: size.to_string(),
            })
        })
        .collect();
    if segments.is_empty() {
        return None;
    }
    let total: u32 = verdict
        .applications
        .iter()
        .filter_map(|a| a.pool_size)
        .sum();
    let verb = if total > verdict.budget {
        "more than"
    } else {
        "within"
    };
    Some(stacked_bar(&StackChart {
        id: "chart-pool-budget".into(),
        title: "Pools against the connection budget".into(),
        description: format!(
            "The pools add up to {total} connections, {verb} the server's budget of {} ({}).",
            verdict.budget, verdict.budget_arithmetic
        ),
        label_heading: "application".into(),
        segments,
        total_text: total.to_string(),
        limit: Limit {
            label: "budget".into(),
            value: f64::from(verdict.budget),
            text: verdict.budget.to_string(),
        },
    }))
}

/// This database's sessions per state over the sampling window.
pub fn connection_states(window: &PoolWindow) -> Option<Figure> {
    if window.samples.is_empty() {
        return None;
    }
    // sessions_by_state gives active, idle, idle in transaction, in that order.
    let tones = [Tone::Active, Tone::Idle, Tone::IdleInTransaction];
    let series: Vec<Series> = sessions_by_state(window)
        .into_iter()
        .zip(tones)
        .map(|((label, counts), tone)| Series {
            label: label.to_string(),
            tone,
            values: counts.into_iter().map(f64::from).collect(),
        })
        .collect();
    let peaks: Vec<String> = series
        .iter()
        .map(|s| {
            format!(
                "{} at most {}",
                s.label,
                s.values.iter().copied().fold(0.0, f64::max)
            )
        })
        .collect();
    Some(time_chart(&TimeChart {
        id: "chart-connection-states".into(),
        title: "Connections by state over the sampling window".into(),
        description: format!(
            "{} samples over {:.1} s of this database's sessions: {}.",
            window.samples.len(),
            window.seconds,
            peaks.join(", ")
        ),
        step_seconds: window.interval_ms as f64 / 1000.0,
        series,
    }))
}

/// `12.3%`: `part` as a share of `whole`.
fn share(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", part / whole * 100.0)
    } else {
        "0%".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::indexes::{ExpectedPlan, IndexProposal};
    use crate::analyze::pool::{ApplicationVerdict, Declared, Limit as PoolLimit, Observed};
    use crate::snapshot::{ActivityCounts, StateCount};
    use crate::verify::proposals::{StatementPlans, VerifyReport};

    fn report(indexes: Vec<IndexProposal>) -> ScanReport {
        ScanReport::new(&Snapshot::default(), 0, 0, indexes)
    }

    fn plan(queryid: i64, through: bool) -> ExpectedPlan {
        ExpectedPlan {
            queryid,
            query: format!("SELECT * FROM t WHERE id = {queryid}"),
            cost_before: 0.0,
            cost_after: 0.0,
            node: through.then(|| "Index Scan".to_string()),
        }
    }

    fn proposal(name: &str, plans: Vec<ExpectedPlan>) -> IndexProposal {
        IndexProposal {
            name: name.into(),
            queryids: plans.iter().map(|p| p.queryid).collect(),
            plans,
            workload_time_ms: 400.0,
            estimated_time_saved_ms: Some(300.0),
            verified: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_statement_several_indexes_serve_names_them_all_once() {
        let mut r = report(vec![
            proposal("a_idx", vec![plan(7, true), plan(8, true)]),
            // b is built for 8 too, but 8's plan does not read through it.
            proposal("b_idx", vec![plan(7, true), plan(8, false)]),
        ]);
        r.verification = Some(VerifyReport {
            plans: [(7, 1000.0, 100.0), (8, 50.0, 40.0)]
                .into_iter()
                .map(|(queryid, cost_before, cost_after)| StatementPlans {
                    queryid,
                    cost_before,
                    cost_after,
                    plan_before: String::new(),
                    plan_after: String::new(),
                })
                .collect(),
            ..Default::default()
        });
        let figure = statement_costs(&r).expect("a chart");
        let html = figure.as_str();
        let row = |label: &str| format!(r#"<th scope="row">{label}</th>"#);
        assert_eq!(
            html.matches(&row(
                "via a_idx + b_idx jointly · SELECT * FROM t WHERE id = 7"
            ))
            .count(),
            1,
            "{html}"
        );
        assert!(
            html.contains(&row("via a_idx · SELECT * FROM t WHERE id = 8")),
            "{html}"
        );
        // Each statement once, before and after, on its own scale.
        assert_eq!(html.matches(r#"data-series="cost before""#).count(), 2);
        assert!(
            html.contains(r#"data-value="100" data-full="1000""#),
            "{html}"
        );
        assert!(html.contains(r#"data-value="40" data-full="50""#), "{html}");
        assert!(html.contains("<td>100 (-90%)</td>"), "{html}");

        // Unverified: nothing planned, no chart.
        r.verification = None;
        assert!(statement_costs(&r).is_none());
    }

    #[test]
    fn time_saved_is_drawn_against_the_workload() {
        assert!(time_saved(&report(vec![]), 1000.0).is_none());
        let mut unverified = proposal("c_idx", vec![]);
        unverified.estimated_time_saved_ms = None;
        let r = report(vec![proposal("a_idx", vec![]), unverified]);
        assert!(time_saved(&r, 0.0).is_none(), "no workload time, no whole");
        let figure = time_saved(&r, 1000.0).unwrap();
        let html = figure.as_str();
        assert!(html.contains(r#"data-series="saved" data-value="300" data-full="1000""#));
        assert!(html.contains("<td>300.0 ms (30.0%)</td>"), "{html}");
        assert!(html.contains("<td>unknown (not verified)</td>"), "{html}");
        assert!(html.contains("1. a_idx") && html.contains("2. c_idx"));
    }

    #[test]
    fn findings_are_counted_per_severity() {
        let figure = findings(&report(vec![]));
        let html = figure.as_str();
        for severity in ["critical", "high", "medium", "low"] {
            assert!(
                html.contains(&format!(r#"<th scope="row">{severity}</th><td>0</td>"#)),
                "{html}"
            );
        }
        assert!(html.contains("0 finding(s)"));
    }

    fn application(
        name: &str,
        declared: Option<(u32, u32)>,
        pool_size: Option<u32>,
    ) -> ApplicationVerdict {
        ApplicationVerdict {
            name: name.into(),
            declared: declared.map(|(instances, size)| Declared {
                instances,
                size,
                total: instances * size,
            }),
            observed: Observed::default(),
            time: Default::default(),
            pool_size,
            pool_full_share: 0.0,
            limit: PoolLimit::None,
            advice: vec![],
            recommended_size: 1,
            arithmetic: String::new(),
            acquire_timeout_seconds: 2,
            roles: vec![],
            settings: Default::default(),
        }
    }

    #[test]
    fn pools_are_stacked_against_the_budget() {
        let verdict = PoolVerdict {
            budget: 97,
            budget_arithmetic: "max_connections 100 − superuser_reserved_connections 3".into(),
            window_seconds: 1.0,
            samples: 10,
            db_cores: None,
            cores_source: None,
            cores_note: None,
            server_on_cpu: Default::default(),
            applications: vec![
                application("api", Some((4, 20)), Some(80)),
                application("batch", None, Some(30)),
                application("seen-once", None, None),
            ],
        };
        let figure = pool_budget(&verdict).unwrap();
        let html = figure.as_str();
        assert!(
            html.contains(
                "The pools add up to 110 connections, more than the server&#39;s budget of 97"
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"data-series="api (4 × 20 declared)" data-value="80" data-full="110""#),
            "{html}"
        );
        assert!(html.contains(r#"data-series="batch (most seen open)" data-value="30""#));
        assert!(!html.contains("seen-once"));
        let none = PoolVerdict {
            applications: vec![application("x", None, None)],
            ..verdict
        };
        assert!(pool_budget(&none).is_none());
    }

    #[test]
    fn connection_states_count_every_application_per_sample() {
        let count = |application: &str, state: &str, sessions: u32| StateCount {
            application_name: application.into(),
            state: state.into(),
            sessions,
            user: None,
            wait_event_type: None,
            wait_event: None,
        };
        let window = PoolWindow {
            started_at: String::new(),
            interval_ms: 100,
            seconds: 0.2,
            own_transactions: 0,
            idle_in_transaction: vec![],
            database_start: Default::default(),
            database_end: Default::default(),
            host_cores: None,
            samples: vec![
                ActivityCounts {
                    client_backends: 4,
                    counts: vec![
                        count("api", "active", 1),
                        count("worker", "active", 2),
                        count("api", "idle in transaction (aborted)", 1),
                    ],
                    elsewhere: vec![count("", "active", 9)],
                },
                ActivityCounts {
                    client_backends: 3,
                    counts: vec![count("api", "idle", 3)],
                    elsewhere: vec![],
                },
            ],
        };
        let figure = connection_states(&window).unwrap();
        let html = figure.as_str();
        // Other databases' sessions are not this database's.
        assert!(
            html.contains(r#"<th scope="row">active</th><td>3</td><td>1.5</td>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<th scope="row">idle</th><td>3</td><td>1.5</td>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<th scope="row">idle in transaction</th><td>1</td><td>0.5</td>"#),
            "{html}"
        );
        let empty = PoolWindow {
            samples: vec![],
            ..window
        };
        assert!(connection_states(&empty).is_none());
    }
}
