//! `pgadvise audit`: which findings fail the run, index proposals as findings,
//! and the baseline file that accepts today's findings so only new ones fail.

use crate::analyze::finding::{Finding, Severity};
use crate::analyze::health::DropProposal;
use crate::analyze::indexes::IndexProposal;
use crate::analyze::rule::RuleId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The rule id of an index proposal seen as a finding.
pub const MISSING_INDEX: RuleId = RuleId::MissingIndex;

/// Version of the baseline file's shape.
pub const BASELINE_FORMAT_VERSION: u32 = 1;

/// Shares of the workload's total execution time an index proposal must save
/// (or, unverified, serve) to reach each severity. A proposal is about one
/// database's workload, so its weight is relative to that workload, not absolute.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingIndexThresholds {
    /// At or above this share: high.
    pub high_share: f64,
    /// At or above this share: medium; below: low.
    pub medium_share: f64,
    /// At or above `high_share` and this many milliseconds saved: critical.
    pub critical_ms: f64,
}

impl Default for MissingIndexThresholds {
    fn default() -> Self {
        MissingIndexThresholds {
            high_share: 0.10,
            medium_share: 0.01,
            critical_ms: 3_600_000.0,
        }
    }
}

impl MissingIndexThresholds {
    /// Severity of a proposal that saves (or serves) `time_ms` of `total_ms`.
    pub fn severity(&self, time_ms: f64, total_ms: f64) -> Severity {
        let share = if total_ms > 0.0 {
            time_ms / total_ms
        } else {
            0.0
        };
        if share >= self.high_share && time_ms >= self.critical_ms {
            Severity::Critical
        } else if share >= self.high_share {
            Severity::High
        } else if share >= self.medium_share {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// Each proposed index as a `missing-index` finding, so that an audit fails on
/// a hot query without its index. `total_workload_ms` is the execution time of
/// every statement of the database (pg_stat_statements, pgadvise's own left out).
pub fn index_findings(
    proposals: &[IndexProposal],
    total_workload_ms: f64,
    thresholds: &MissingIndexThresholds,
) -> Vec<Finding> {
    proposals
        .iter()
        .map(|p| {
            let time_ms = p.estimated_time_saved_ms.unwrap_or(p.workload_time_ms);
            let share = if total_workload_ms > 0.0 {
                time_ms / total_workload_ms
            } else {
                0.0
            };
            let keys = p.columns.join(", ");
            let predicate = p
                .predicate
                .as_ref()
                .map(|w| format!(" WHERE {w}"))
                .unwrap_or_default();
            let what = if p.verified {
                format!(
                    "would save about {} ({:.0}% of the workload's time), verified with hypopg",
                    crate::format::millis(time_ms),
                    share * 100.0
                )
            } else {
                format!(
                    "serves statements taking {} ({:.0}% of the workload's time); not verified",
                    crate::format::millis(time_ms),
                    share * 100.0
                )
            };
            Finding {
                rule: MISSING_INDEX,
                severity: thresholds.severity(time_ms, total_workload_ms),
                // The table and the statement the index is for: stable while the
                // same statements run, whatever the index ends up being called.
                object: p.table.clone(),
                queryid: p.queryids.iter().copied().min(),
                title: format!("{}({keys}){predicate} is missing", p.table),
                detail: format!(
                    "An index on {}({keys}){predicate} {what}. {}",
                    p.table, p.reason
                ),
                fix: Some(p.ddl.clone()),
                evidence: serde_json::json!({
                    "index_name": p.name,
                    "table": p.table,
                    "queryids": p.queryids,
                    "workload_time_ms": p.workload_time_ms,
                    "estimated_time_saved_ms": p.estimated_time_saved_ms,
                    "share_of_workload": share,
                    "cost_before": p.cost_before,
                    "cost_after": p.cost_after,
                    "estimated_size_bytes": p.estimated_size_bytes,
                    "verified": p.verified,
                }),
            }
        })
        .collect()
}

/// Leaves out findings on ignored rules or ignored tables (`schema.table` or a
/// bare name; an index or pool object never matches a table pattern).
pub fn without_ignored(
    findings: Vec<Finding>,
    rules: &[RuleId],
    tables: &[String],
) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| !rules.contains(&f.rule))
        .filter(|f| {
            let table = f
                .evidence
                .get("table")
                .and_then(|t| t.as_str())
                .unwrap_or(&f.object);
            !tables.iter().any(|pattern| table_matches(pattern, table))
        })
        .collect()
}

fn table_matches(pattern: &str, qualified: &str) -> bool {
    if pattern.contains('.') {
        pattern == qualified
    } else {
        qualified.rsplit_once('.').map_or(qualified, |(_, n)| n) == pattern
    }
}

/// Accepted findings: written by `--write-baseline`, read by `--baseline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub format_version: u32,
    /// One entry per accepted finding; only `fingerprint` decides, the rest is
    /// there so a reviewer can read what was accepted.
    pub findings: Vec<BaselineEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub rule: RuleId,
    pub severity: Severity,
    pub object: String,
    pub title: String,
}

impl Baseline {
    pub fn of(findings: &[Finding]) -> Baseline {
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .map(|f| BaselineEntry {
                fingerprint: f.fingerprint(),
                rule: f.rule,
                severity: f.severity,
                object: f.object.clone(),
                title: f.title.clone(),
            })
            .collect();
        // Sorted and deduplicated: the file diffs cleanly between runs.
        entries.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        Baseline {
            format_version: BASELINE_FORMAT_VERSION,
            findings: entries,
        }
    }

    pub fn parse(text: &str) -> Result<Baseline, String> {
        let baseline: Baseline = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if baseline.format_version != BASELINE_FORMAT_VERSION {
            return Err(format!(
                "format_version {} is not supported (this pgadvise reads {BASELINE_FORMAT_VERSION})",
                baseline.format_version
            ));
        }
        Ok(baseline)
    }

    pub fn to_json(&self) -> String {
        format!(
            "{}\n",
            serde_json::to_string_pretty(self).unwrap_or_default()
        )
    }

    fn fingerprints(&self) -> BTreeSet<&str> {
        self.findings
            .iter()
            .map(|e| e.fingerprint.as_str())
            .collect()
    }
}

/// The audit's verdict over a report's findings.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditVerdict {
    /// Findings not in the baseline (all of them without one).
    pub new: Vec<Finding>,
    /// Findings accepted by the baseline.
    pub accepted: usize,
    /// New findings at or above `fail_on`: the run fails when there is any.
    pub failing: Vec<Finding>,
}

pub fn judge(findings: &[Finding], fail_on: Severity, baseline: Option<&Baseline>) -> AuditVerdict {
    let accepted_set = baseline.map(Baseline::fingerprints).unwrap_or_default();
    let (accepted, new): (Vec<&Finding>, Vec<&Finding>) = findings
        .iter()
        .partition(|f| accepted_set.contains(f.fingerprint().as_str()));
    let failing = new
        .iter()
        .filter(|f| f.severity >= fail_on)
        .map(|f| (*f).clone())
        .collect();
    AuditVerdict {
        new: new.into_iter().cloned().collect(),
        accepted: accepted.len(),
        failing,
    }
}

/// The audit's outcome in one line.
pub fn verdict_line(verdict: &AuditVerdict, fail_on: Severity) -> String {
    let accepted = if verdict.accepted > 0 {
        format!(" ({} accepted by the baseline)", verdict.accepted)
    } else {
        String::new()
    };
    if verdict.failing.is_empty() {
        format!(
            "audit passed: {} new finding(s), none at or above {}{accepted}",
            verdict.new.len(),
            fail_on.as_str()
        )
    } else {
        format!(
            "audit failed: {} new finding(s) at or above {}{accepted}",
            verdict.failing.len(),
            fail_on.as_str()
        )
    }
}

/// The audit section of the text output: the verdict, then the findings that
/// fail it, worst first, by rule and object (their details are listed above).
pub fn verdict_text(verdict: &AuditVerdict, fail_on: Severity) -> String {
    let mut out = format!("\n  {}\n", verdict_line(verdict, fail_on));
    let mut failing: Vec<&Finding> = verdict.failing.iter().collect();
    failing.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    for f in failing {
        out.push_str(&format!(
            "    [{}] {} {}\n",
            f.severity.as_str(),
            f.rule,
            f.object
        ));
    }
    out
}

/// The migration file written for each finding that has one, by finding
/// fingerprint: a missing index's `add_<index>` migration, and the
/// `drop_<index>` / `rebuild_<index>` migration of a health rule's drop. Every
/// migration format names its files (or folder) after the migration. The up
/// migration is preferred over its down migration and verification plan.
/// Empty when nothing was written in `dir`.
pub fn migration_files(
    dir: &std::path::Path,
    proposals: &[IndexProposal],
    drops: &[DropProposal],
    findings: &[Finding],
) -> std::collections::BTreeMap<String, String> {
    let mut files: Vec<String> = walk(dir);
    files.sort();
    let find = |migration: &str| -> Option<String> {
        let named: Vec<&String> = files
            .iter()
            .filter(|path| names_migration(path, migration))
            .collect();
        named
            .iter()
            .find(|path| !path.contains("down") && !path.contains("verify"))
            .or_else(|| named.first())
            .map(|path| path.to_string())
    };
    let mut out = std::collections::BTreeMap::new();
    for f in findings {
        let migration = if f.rule == MISSING_INDEX {
            let Some(name) = f.evidence.get("index_name").and_then(|n| n.as_str()) else {
                continue;
            };
            if !proposals.iter().any(|p| p.name == name) {
                continue;
            }
            format!("add_{name}")
        } else {
            let Some(drop) = drops
                .iter()
                .find(|d| d.rule == f.rule && d.index == f.object)
            else {
                continue;
            };
            crate::emit::migrations::drop::migration_name(drop)
        };
        if let Some(path) = find(&migration) {
            out.insert(f.fingerprint(), path);
        }
    }
    out
}

/// Whether a file path is one of migration `name`'s files: the name stands
/// whole, after a timestamp's `_` or a folder's `/`, and before an extension,
/// a folder's `/` or a part suffix (`_1of3`), so `add_x_idx` is not taken for
/// `add_x_idx2`.
fn names_migration(path: &str, name: &str) -> bool {
    path.match_indices(name).any(|(at, _)| {
        let before = path[..at].chars().last();
        let rest = &path[at + name.len()..];
        let starts_whole = matches!(before, None | Some('_' | '/' | '\\'));
        let ends_whole = rest.is_empty()
            || rest.starts_with(['.', '/', '\\'])
            || rest.strip_prefix('_').is_some_and(|part| {
                part.starts_with(|c: char| c.is_ascii_digit()) && part.contains("of")
            });
        starts_whole && ends_whole
    })
}

/// Files under `dir`, two levels deep (some formats use a folder per migration).
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Ok(inner) = std::fs::read_dir(&path) {
                out.extend(
                    inner
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .map(|p| p.display().to_string()),
                );
            }
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// `low`, `medium`, `high`, `critical`.
pub fn parse_severity(text: &str) -> Result<Severity, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        _ => Err(format!(
            "'{text}' is not a severity (low, medium, high or critical)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: RuleId, object: &str, severity: Severity) -> Finding {
        Finding {
            rule,
            severity,
            object: object.into(),
            queryid: None,
            title: format!("{rule} on {object}"),
            detail: String::new(),
            fix: None,
            evidence: serde_json::json!({}),
        }
    }

    #[test]
    fn missing_index_severity_follows_the_share_of_workload() {
        let t = MissingIndexThresholds::default();
        let cases = [
            (50.0, 100.0, Severity::High),
            (10.0, 100.0, Severity::High),
            (5.0, 100.0, Severity::Medium),
            (0.5, 100.0, Severity::Low),
            (7_200_000.0, 8_000_000.0, Severity::Critical),
            (7_200_000.0, 400_000_000.0, Severity::Medium),
            (1.0, 0.0, Severity::Low),
        ];
        for (time, total, expected) in cases {
            assert_eq!(t.severity(time, total), expected, "{time} of {total}");
        }
    }

    #[test]
    fn fail_on_and_baseline_decide_together() {
        let old = finding(RuleId::UnusedIndex, "public.a_idx", Severity::High);
        let low = finding(
            RuleId::IdleInTransaction,
            "application:worker",
            Severity::Low,
        );
        let new = finding(MISSING_INDEX, "public.messages", Severity::High);
        let all = vec![old.clone(), low.clone(), new.clone()];

        let no_baseline = judge(&all, Severity::High, None);
        assert_eq!(no_baseline.failing.len(), 2);
        assert_eq!(no_baseline.new.len(), 3);

        let baseline = Baseline::of(&[old.clone(), low.clone()]);
        let reread = Baseline::parse(&baseline.to_json()).unwrap();
        assert_eq!(reread, baseline);
        let with_baseline = judge(&all, Severity::High, Some(&reread));
        assert_eq!(with_baseline.failing, vec![new.clone()]);
        assert_eq!(with_baseline.accepted, 2);

        let lenient = judge(&[old, low.clone()], Severity::Critical, None);
        assert!(lenient.failing.is_empty());
        let strict = judge(&[low], Severity::Low, None);
        assert_eq!(strict.failing.len(), 1);
    }

    #[test]
    fn baseline_files_are_checked() {
        assert!(Baseline::parse("{").is_err());
        let err = Baseline::parse(r#"{"format_version": 9, "findings": []}"#).unwrap_err();
        assert!(err.contains("format_version 9"), "{err}");
    }

    #[test]
    fn ignores_rules_and_tables() {
        let mut on_table = finding(MISSING_INDEX, "public.messages", Severity::High);
        on_table.evidence = serde_json::json!({ "table": "public.messages" });
        let pool = finding(
            RuleId::IdleInTransaction,
            "application:worker",
            Severity::High,
        );
        let kept = without_ignored(
            vec![on_table.clone(), pool.clone()],
            &[],
            &["messages".into()],
        );
        assert_eq!(kept, vec![pool.clone()]);
        let kept = without_ignored(
            vec![on_table.clone(), pool],
            &[RuleId::IdleInTransaction],
            &["other.messages".into()],
        );
        assert_eq!(kept, vec![on_table]);
    }

    #[test]
    fn migration_files_are_found_by_migration_name() {
        let dir = tempfile::tempdir().unwrap();
        // A migration whose name extends another's must not be taken for it.
        for file in [
            "1_add_messages_user_id_idx2.sql",
            "2_add_messages_user_id_idx.down.sql",
            "2_add_messages_user_id_idx.sql",
            "2_add_messages_user_id_idx.verify.sql",
            "3_drop_orders_status_idx.down.sql",
            "3_drop_orders_status_idx.sql",
            "4_rebuild_events_broken_idx_1of2.sql",
        ] {
            std::fs::write(dir.path().join(file), "--").unwrap();
        }
        let nested = dir.path().join("5_add_lost_idx");
        std::fs::create_dir(&nested).unwrap();
        std::fs::write(nested.join("down.sql"), "DROP").unwrap();
        std::fs::write(nested.join("up.sql"), "CREATE").unwrap();
        let mut missing = finding(MISSING_INDEX, "public.messages", Severity::High);
        missing.evidence = serde_json::json!({ "index_name": "messages_user_id_idx" });
        let mut lost = missing.clone();
        lost.object = "public.lost".into();
        lost.evidence = serde_json::json!({ "index_name": "lost_idx" });
        let proposal = |name: &str| IndexProposal {
            table: "public.messages".into(),
            columns: vec!["user_id".into()],
            include: Vec::new(),
            predicate: None,
            method: crate::analyze::indexes::AccessMethod::Btree,
            name: name.into(),
            ddl: String::new(),
            verified: false,
            verification: None,
            requires: Vec::new(),
            pages_per_range: None,
            cost_before: None,
            cost_after: None,
            estimated_size_bytes: 0,
            full_index_size_bytes: 0,
            predicate_fraction: None,
            queryids: Vec::new(),
            queries: Vec::new(),
            workload_time_ms: 0.0,
            estimated_time_saved_ms: None,
            marginal_cost_saving: None,
            served_with: Vec::new(),
            reason: String::new(),
            write_cost: None,
            hypothetical_sql: String::new(),
            hypothetical_full_sql: None,
            key_count: 1,
            key_specs: vec![],
            key_roles: Vec::new(),
            partial: vec![],
            table_name: crate::snapshot::QualifiedName {
                schema: "public".into(),
                name: String::new(),
            },
            definition_tail: String::new(),
            plans: vec![],
            estimated_selectivity: Vec::new(),
        };
        let drop = |rule: RuleId, index: &str, rebuild: bool| DropProposal {
            index: index.into(),
            table: "public.t".into(),
            rule,
            reason: String::new(),
            drop_sql: String::new(),
            recreate_sql: String::new(),
            rebuild,
            size_bytes: 0,
        };
        let duplicate = finding(
            RuleId::DuplicateIndex,
            "public.orders_status_idx",
            Severity::Medium,
        );
        let invalid = finding(RuleId::InvalidIndex, "app.broken_idx", Severity::High);
        let unproposed = finding(RuleId::UnusedIndex, "public.kept_idx", Severity::Low);
        let files = migration_files(
            dir.path(),
            &[proposal("messages_user_id_idx"), proposal("lost_idx")],
            &[
                drop(RuleId::DuplicateIndex, "public.orders_status_idx", false),
                drop(RuleId::InvalidIndex, "app.events_broken_idx", true),
            ],
            &[
                missing.clone(),
                lost.clone(),
                duplicate.clone(),
                invalid.clone(),
                unproposed,
            ],
        );
        let file = |f: &Finding| {
            files.get(&f.fingerprint()).map(|p| {
                p.strip_prefix(&dir.path().display().to_string())
                    .unwrap_or(p)
                    .to_string()
            })
        };
        assert_eq!(
            file(&missing).as_deref(),
            Some("/2_add_messages_user_id_idx.sql")
        );
        assert_eq!(file(&lost).as_deref(), Some("/5_add_lost_idx/up.sql"));
        assert_eq!(
            file(&duplicate).as_deref(),
            Some("/3_drop_orders_status_idx.sql")
        );
        // The drop names another index than the finding: no file.
        assert_eq!(file(&invalid), None);
        assert_eq!(files.len(), 3, "{files:?}");
        let invalid = finding(
            RuleId::InvalidIndex,
            "app.events_broken_idx",
            Severity::High,
        );
        let files = migration_files(
            dir.path(),
            &[],
            &[drop(RuleId::InvalidIndex, "app.events_broken_idx", true)],
            std::slice::from_ref(&invalid),
        );
        assert!(files[&invalid.fingerprint()].ends_with("/4_rebuild_events_broken_idx_1of2.sql"));
        assert!(migration_files(&dir.path().join("none"), &[], &[], &[missing]).is_empty());
    }

    #[test]
    fn severities_parse() {
        assert_eq!(parse_severity("HIGH"), Ok(Severity::High));
        assert!(parse_severity("urgent").is_err());
    }
}
