//! The outputs of a fleet audit: one summary over every target (text, the
//! versioned JSON document, SARIF with one run per target, GitHub annotations
//! named by target) and the HTML index page linking each target's report.

use super::audit::AuditVerdict;
use super::report::ScanReport;
use super::{github, sarif};
use crate::analyze::finding::{Finding, Severity};
use askama::Template;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Version of the fleet document's JSON shape (docs/json-output.md).
pub const FLEET_FORMAT_VERSION: u32 = 1;

/// Severities as the summary lists them, worst first.
const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

/// Every target's audit, in the order the targets were listed.
#[derive(Debug, Clone)]
pub struct FleetAudit {
    pub fail_on: Severity,
    pub targets: Vec<TargetAudit>,
}

#[derive(Debug, Clone)]
pub struct TargetAudit {
    /// For people, never holding a password.
    pub name: String,
    /// The target's folder under `--report DIR`.
    pub slug: String,
    pub outcome: TargetOutcome,
}

#[derive(Debug, Clone)]
pub enum TargetOutcome {
    Audited(Box<AuditedTarget>),
    /// The audit stopped (unreachable, authentication, a missing prerequisite, ...).
    NotAudited {
        reason: String,
        exit_code: u8,
    },
}

#[derive(Debug, Clone)]
pub struct AuditedTarget {
    pub report: ScanReport,
    pub verdict: AuditVerdict,
    /// 0, or 1 when a new finding is at or above `--fail-on`.
    pub exit_code: u8,
    /// Migration file per finding fingerprint, for SARIF and annotations.
    pub migration_files: BTreeMap<String, String>,
    /// The target's report, relative to the `--report` folder, when written.
    pub report_file: Option<String>,
}

/// How a target's audit ended, as the summary says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    NotAudited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::NotAudited => "not audited",
        }
    }
}

impl TargetAudit {
    pub fn exit_code(&self) -> u8 {
        match &self.outcome {
            TargetOutcome::Audited(a) => a.exit_code,
            TargetOutcome::NotAudited { exit_code, .. } => *exit_code,
        }
    }

    pub fn status(&self) -> Status {
        match &self.outcome {
            TargetOutcome::Audited(a) if a.verdict.failing.is_empty() => Status::Passed,
            TargetOutcome::Audited(_) => Status::Failed,
            TargetOutcome::NotAudited { .. } => Status::NotAudited,
        }
    }

    /// The verdict in a few words: `passed`, `failed: 2 new finding(s) at or
    /// above high`, `not audited: <the first line of the reason>`.
    pub fn verdict(&self, fail_on: Severity) -> String {
        match &self.outcome {
            TargetOutcome::Audited(a) => {
                let accepted = match a.verdict.accepted {
                    0 => String::new(),
                    n => format!(" ({n} accepted by the baseline)"),
                };
                if a.verdict.failing.is_empty() {
                    format!("passed{accepted}")
                } else {
                    format!(
                        "failed: {} new finding(s) at or above {}{accepted}",
                        a.verdict.failing.len(),
                        fail_on.as_str()
                    )
                }
            }
            TargetOutcome::NotAudited { reason, .. } => {
                format!("not audited: {}", reason.lines().next().unwrap_or_default())
            }
        }
    }
}

impl FleetAudit {
    /// The worst (highest) exit code of the targets.
    pub fn exit_code(&self) -> u8 {
        self.targets
            .iter()
            .map(TargetAudit::exit_code)
            .max()
            .unwrap_or(0)
    }

    fn count(&self, status: Status) -> usize {
        self.targets.iter().filter(|t| t.status() == status).count()
    }

    /// `3 target(s), fail on high: 1 passed, 1 failed, 1 not audited`.
    pub fn headline(&self) -> String {
        format!(
            "{} target(s), fail on {}: {} passed, {} failed, {} not audited",
            self.targets.len(),
            self.fail_on.as_str(),
            self.count(Status::Passed),
            self.count(Status::Failed),
            self.count(Status::NotAudited)
        )
    }
}

/// Findings per severity, worst first.
pub fn by_severity(findings: &[Finding]) -> [(Severity, usize); 4] {
    SEVERITIES.map(|s| (s, findings.iter().filter(|f| f.severity == s).count()))
}

/// The text summary: one row per target, then why each target not audited stopped.
pub fn text(fleet: &FleetAudit) -> String {
    let header = [
        "target",
        "proposals",
        "critical",
        "high",
        "medium",
        "low",
        "exit",
        "verdict",
    ];
    let rows: Vec<[String; 8]> = fleet
        .targets
        .iter()
        .map(|t| {
            let numbers: [String; 5] = match &t.outcome {
                TargetOutcome::Audited(a) => {
                    let counts = by_severity(&a.report.findings);
                    [
                        a.report.indexes.len().to_string(),
                        counts[0].1.to_string(),
                        counts[1].1.to_string(),
                        counts[2].1.to_string(),
                        counts[3].1.to_string(),
                    ]
                }
                TargetOutcome::NotAudited { .. } => std::array::from_fn(|_| "-".to_string()),
            };
            let [p, c, h, m, l] = numbers;
            [
                t.name.clone(),
                p,
                c,
                h,
                m,
                l,
                t.exit_code().to_string(),
                t.verdict(fleet.fail_on),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: [&str; 8]| {
        let mut out = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            out.push(' ');
            match i {
                // The name left-aligned, the numbers right-aligned, the verdict as is.
                0 => out.push_str(&format!("{cell}{}", " ".repeat(pad))),
                7 => out.push_str(cell),
                _ => out.push_str(&format!("{}{cell}", " ".repeat(pad))),
            }
            out.push(' ');
        }
        format!("{}\n", out.trim_end())
    };
    let mut out = format!("pgadvise audit of {}\n\n", fleet.headline());
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line(std::array::from_fn(|i| row[i].as_str())));
    }
    let failed: Vec<&TargetAudit> = fleet
        .targets
        .iter()
        .filter(|t| t.status() == Status::NotAudited)
        .collect();
    if !failed.is_empty() {
        out.push_str("\n  not audited:\n");
        for t in failed {
            if let TargetOutcome::NotAudited { reason, exit_code } = &t.outcome {
                out.push_str(&format!("    {} (exit {exit_code}):\n", t.name));
                for l in reason.lines() {
                    out.push_str(&format!("      {l}\n"));
                }
            }
        }
    }
    out
}

/// The fleet as the versioned JSON document (docs/json-output.md, "audit of a fleet").
pub fn to_json(fleet: &FleetAudit) -> Value {
    let targets: Vec<Value> = fleet
        .targets
        .iter()
        .map(|t| {
            let mut entry = json!({
                "name": t.name,
                "slug": t.slug,
                "status": t.status().as_str(),
                "exit_code": t.exit_code(),
                "verdict": t.verdict(fleet.fail_on),
            });
            match &t.outcome {
                TargetOutcome::Audited(a) => {
                    let counts: serde_json::Map<String, Value> = by_severity(&a.report.findings)
                        .iter()
                        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
                        .collect();
                    entry["error"] = Value::Null;
                    entry["proposals"] = json!(a.report.indexes.len());
                    entry["findings_by_severity"] = Value::Object(counts);
                    entry["new_findings"] = json!(a.verdict.new.len());
                    entry["accepted_findings"] = json!(a.verdict.accepted);
                    entry["failing_findings"] = json!(a.verdict.failing.len());
                    entry["report_file"] = json!(a.report_file);
                    entry["report"] = serde_json::to_value(&a.report).unwrap_or(Value::Null);
                }
                TargetOutcome::NotAudited { reason, .. } => {
                    entry["error"] = json!(reason);
                    entry["proposals"] = Value::Null;
                    entry["findings_by_severity"] = Value::Null;
                    entry["new_findings"] = Value::Null;
                    entry["accepted_findings"] = Value::Null;
                    entry["failing_findings"] = Value::Null;
                    entry["report_file"] = Value::Null;
                    entry["report"] = Value::Null;
                }
            }
            entry
        })
        .collect();
    json!({
        "fleet_format_version": FLEET_FORMAT_VERSION,
        "pgadvise_version": env!("CARGO_PKG_VERSION"),
        "fail_on": fleet.fail_on.as_str(),
        "exit_code": fleet.exit_code(),
        "targets": targets,
    })
}

/// One SARIF document, one run per target: an audited target's findings, or a
/// run that failed with its reason. `automationDetails.id` tells the runs apart
/// (GitHub code scanning takes it as the category).
pub fn to_sarif(fleet: &FleetAudit) -> Value {
    let runs = fleet
        .targets
        .iter()
        .map(|t| {
            let mut run = match &t.outcome {
                TargetOutcome::Audited(a) => sarif::run(&a.report, &a.migration_files),
                TargetOutcome::NotAudited { reason, exit_code } => {
                    sarif::failed_run(reason, *exit_code)
                }
            };
            run["automationDetails"] = json!({ "id": format!("pgadvise/{}/", t.slug) });
            run["properties"]["target"] = json!(t.name);
            run
        })
        .collect();
    sarif::document(runs)
}

/// GitHub annotations: each audited target's new findings, titled with the
/// target, and an error for each target not audited.
pub fn github(fleet: &FleetAudit) -> String {
    fleet
        .targets
        .iter()
        .map(|t| match &t.outcome {
            TargetOutcome::Audited(a) => {
                github::target_annotations(&a.verdict.new, &a.migration_files, Some(&t.name))
            }
            TargetOutcome::NotAudited { reason, exit_code } => {
                github::failed_target(&t.name, reason, *exit_code)
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage<'a> {
    view: &'a FleetView,
}

/// The index page, formatted.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub pgadvise_version: String,
    pub headline: String,
    pub exit_code: u8,
    /// The severity columns' headings, worst first.
    pub severities: Vec<&'static str>,
    pub rows: Vec<FleetRow>,
}

#[derive(Debug, Clone)]
pub struct FleetRow {
    pub name: String,
    /// The target's report, relative to the index page.
    pub link: Option<String>,
    /// `passed`, `failed`, `not-audited`: the row's CSS class.
    pub status_class: &'static str,
    pub status: &'static str,
    pub proposals: String,
    /// Findings per severity, in the order of `FleetView::severities`.
    pub counts: Vec<String>,
    pub exit_code: u8,
    /// The verdict beside the status badge.
    pub verdict: String,
    /// Why a target was not audited, in full.
    pub reason: Option<String>,
}

pub fn view(fleet: &FleetAudit) -> FleetView {
    let rows = fleet
        .targets
        .iter()
        .map(|t| {
            let (link, proposals, counts, reason) = match &t.outcome {
                TargetOutcome::Audited(a) => (
                    a.report_file.clone(),
                    a.report.indexes.len().to_string(),
                    by_severity(&a.report.findings)
                        .iter()
                        .map(|(_, n)| n.to_string())
                        .collect(),
                    None,
                ),
                TargetOutcome::NotAudited { reason, .. } => (
                    None,
                    "-".to_string(),
                    SEVERITIES.iter().map(|_| "-".to_string()).collect(),
                    Some(reason.clone()),
                ),
            };
            FleetRow {
                name: t.name.clone(),
                link,
                status_class: match t.status() {
                    Status::Passed => "passed",
                    Status::Failed => "failed",
                    Status::NotAudited => "not-audited",
                },
                status: t.status().as_str(),
                proposals,
                counts,
                exit_code: t.exit_code(),
                // The badge says the status; the rest of the verdict beside it.
                verdict: match t.status() {
                    Status::NotAudited => "(why: see below)".to_string(),
                    status => t
                        .verdict(fleet.fail_on)
                        .trim_start_matches(status.as_str())
                        .trim_start_matches(':')
                        .trim()
                        .to_string(),
                },
                reason,
            }
        })
        .collect();
    FleetView {
        pgadvise_version: env!("CARGO_PKG_VERSION").to_string(),
        headline: fleet.headline(),
        exit_code: fleet.exit_code(),
        severities: SEVERITIES.iter().map(|s| s.as_str()).collect(),
        rows,
    }
}

/// The index page of `--report DIR`: one row per target, linking its report.
pub fn render_index(fleet: &FleetAudit) -> Result<String, askama::Error> {
    FleetPage { view: &view(fleet) }.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rule::RuleId;
    use crate::emit::report::{ServerSummary, REPORT_FORMAT_VERSION};

    fn finding(severity: Severity, object: &str) -> Finding {
        Finding {
            rule: RuleId::MissingIndex,
            severity,
            object: object.into(),
            queryid: Some(1),
            title: format!("{object} is missing an index"),
            detail: "d".into(),
            fix: None,
            evidence: json!({ "table": object }),
        }
    }

    fn audited(name: &str, findings: Vec<Finding>, fail_on: Severity) -> TargetAudit {
        let verdict = crate::emit::audit::judge(&findings, fail_on, None);
        let exit_code = u8::from(!verdict.failing.is_empty());
        TargetAudit {
            name: name.into(),
            slug: crate::fleet::slug(name),
            outcome: TargetOutcome::Audited(Box::new(AuditedTarget {
                report: ScanReport {
                    format_version: REPORT_FORMAT_VERSION,
                    pgadvise_version: "0.1.0".into(),
                    server: ServerSummary {
                        version: "15.1".into(),
                        version_num: 150001,
                    },
                    statements_analyzed: 3,
                    statements_skipped: 0,
                    statements_skipped_by_reason: Vec::new(),
                    indexes: Vec::new(),
                    findings,
                    drops: Vec::new(),
                    pool: None,
                    verification: None,
                },
                verdict,
                exit_code,
                migration_files: BTreeMap::new(),
                report_file: Some(format!("{}/report.html", crate::fleet::slug(name))),
            })),
        }
    }

    fn fleet() -> FleetAudit {
        let fail_on = Severity::High;
        FleetAudit {
            fail_on,
            targets: vec![
                audited(
                    "shop",
                    vec![
                        finding(Severity::High, "public.orders"),
                        finding(Severity::Low, "public.items"),
                    ],
                    fail_on,
                ),
                audited("crm", vec![finding(Severity::Medium, "public.x")], fail_on),
                TargetAudit {
                    name: "ops@db3:5432/billing".into(),
                    slug: "ops-db3-5432-billing".into(),
                    outcome: TargetOutcome::NotAudited {
                        reason: "could not connect to db3\nsecond line".into(),
                        exit_code: 3,
                    },
                },
            ],
        }
    }

    #[test]
    fn the_worst_target_decides_the_exit_code() {
        let mut f = fleet();
        assert_eq!(f.exit_code(), 3);
        f.targets.pop();
        assert_eq!(f.exit_code(), 1);
        f.targets.remove(0);
        assert_eq!(f.exit_code(), 0);
        f.targets.clear();
        assert_eq!(f.exit_code(), 0);
    }

    #[test]
    fn the_summary_has_a_row_per_target_and_the_full_reasons() {
        let text = text(&fleet());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "pgadvise audit of 3 target(s), fail on high: 1 passed, 1 failed, 1 not audited"
        );
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            words(lines[2]),
            [
                "target",
                "proposals",
                "critical",
                "high",
                "medium",
                "low",
                "exit",
                "verdict"
            ]
        );
        assert_eq!(
            words(lines[3]).join(" "),
            "shop 0 0 1 0 1 1 failed: 1 new finding(s) at or above high"
        );
        assert_eq!(words(lines[4]).join(" "), "crm 0 0 0 1 0 0 passed");
        assert_eq!(
            words(lines[5]).join(" "),
            "ops@db3:5432/billing - - - - - 3 not audited: could not connect to db3"
        );
        assert!(
            text.ends_with(
                "  not audited:\n    ops@db3:5432/billing (exit 3):\n      could not connect to db3\n      second line\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn json_sarif_and_annotations_cover_every_target() {
        let f = fleet();
        let doc = to_json(&f);
        assert_eq!(doc["fleet_format_version"], FLEET_FORMAT_VERSION);
        assert_eq!(doc["exit_code"], 3);
        let targets = doc["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[0]["status"], "failed");
        assert_eq!(targets[0]["findings_by_severity"]["high"], 1);
        assert_eq!(
            targets[0]["report"]["findings"].as_array().unwrap().len(),
            2
        );
        assert_eq!(targets[1]["status"], "passed");
        assert_eq!(targets[2]["status"], "not audited");
        assert_eq!(targets[2]["exit_code"], 3);
        assert!(targets[2]["report"].is_null());

        let sarif = to_sarif(&f);
        let runs = sarif["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0]["automationDetails"]["id"], "pgadvise/shop/");
        assert_eq!(runs[0]["results"].as_array().unwrap().len(), 2);
        assert_eq!(runs[2]["properties"]["target"], "ops@db3:5432/billing");
        assert_eq!(runs[2]["invocations"][0]["executionSuccessful"], false);
        assert_eq!(runs[2]["invocations"][0]["exitCode"], 3);

        let annotations = github(&f);
        let lines: Vec<&str> = annotations.lines().collect();
        assert_eq!(lines.len(), 4, "{annotations}");
        assert!(lines[0].starts_with("::error title=[shop] pgadvise missing-index"));
        assert!(lines[1].starts_with("::notice title=[shop] pgadvise"));
        assert!(lines[2].starts_with("::warning title=[crm] pgadvise"));
        assert!(
            lines[3].starts_with(
                "::error title=[ops@db3%3A5432/billing] pgadvise%3A not audited::could not connect"
            ),
            "{}",
            lines[3]
        );
        assert!(lines[3].ends_with("(exit 3)"));
    }

    #[test]
    fn the_index_page_links_audited_targets_only() {
        let page = render_index(&fleet()).unwrap();
        assert!(page.contains("href=\"shop/report.html\""), "{page}");
        assert!(page.contains("href=\"crm/report.html\""), "{page}");
        assert!(!page.contains("ops-db3-5432-billing/report.html"), "{page}");
        assert!(page.contains("could not connect to db3"), "{page}");
        assert!(
            page.contains("failed</span> 1 new finding(s) at or above high"),
            "{page}"
        );
        assert!(!page.contains("<script"), "{page}");
    }
}
