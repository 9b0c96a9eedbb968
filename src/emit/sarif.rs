//! `--format sarif`: SARIF 2.1.0, as code-scanning services (GitHub, GitLab)
//! ingest it. One rule per finding kind; each result points at the migration
//! file that fixes it when one was written, else at the table (a logical location).

use super::report::ScanReport;
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::rule::RuleId;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const INFORMATION_URI: &str = "https://github.com/pgadvise/pgadvise";

/// SARIF's `level` for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// The SARIF document of one scan: one run. `migration_files` maps a
/// finding's fingerprint to the migration file written for it (a path
/// relative to the repository root).
pub fn to_sarif(report: &ScanReport, migration_files: &BTreeMap<String, String>) -> Value {
    document(vec![run(report, migration_files)])
}

/// A SARIF document holding `runs` (a fleet has one per target).
pub fn document(runs: Vec<Value>) -> Value {
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": runs,
    })
}

/// One run: the tool with its rules and the report's findings as results.
pub fn run(report: &ScanReport, migration_files: &BTreeMap<String, String>) -> Value {
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, migration_files))
        .collect();
    json!({
        "tool": tool(&report.findings, &report.pgadvise_version),
        "results": results,
        "properties": {
            "server_version": report.server.version,
            "statements_analyzed": report.statements_analyzed,
            "statements_skipped": report.statements_skipped,
        },
    })
}

/// A run that could not analyze anything: no results, and an invocation that
/// says why (`reason`) with the exit code it ended with.
pub fn failed_run(reason: &str, exit_code: u8) -> Value {
    json!({
        "tool": tool(&[], env!("CARGO_PKG_VERSION")),
        "results": [],
        "invocations": [{
            "executionSuccessful": false,
            "exitCode": exit_code,
            "toolExecutionNotifications": [{
                "level": "error",
                "message": { "text": reason },
            }],
        }],
    })
}

/// The tool and its rules. Every rule of the registry is described, found or
/// not, so a code-scanning service always has the description and help link
/// of a rule it shows; a rule's level is its worst finding's.
fn tool(findings: &[Finding], version: &str) -> Value {
    let rules: Vec<Value> = RuleId::ALL
        .iter()
        .map(|&rule| {
            let worst = findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.severity)
                .max()
                .unwrap_or_else(|| rule.default_severity());
            let info = rule.info();
            let full = match info.fix {
                Some(fix) => format!("{}. Usual fix: {fix}.", info.description),
                None => format!("{}.", info.description),
            };
            json!({
                "id": info.id,
                "name": info.id,
                "shortDescription": { "text": info.description },
                "fullDescription": { "text": full },
                "helpUri": rule.help_uri(INFORMATION_URI),
                "defaultConfiguration": { "level": level(worst) },
            })
        })
        .collect();
    json!({ "driver": {
        "name": "pgadvise",
        "version": version,
        "semanticVersion": version,
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }})
}

fn result(f: &Finding, migration_files: &BTreeMap<String, String>) -> Value {
    let fingerprint = f.fingerprint();
    let mut text = format!("{}: {}", f.title, f.detail);
    if let Some(fix) = &f.fix {
        text.push_str(&format!("\nFix: {fix}"));
    }
    let (kind, name) = logical(f);
    let mut location = json!({
        "logicalLocations": [{ "fullyQualifiedName": name, "kind": kind }],
    });
    if let Some(path) = migration_files.get(&fingerprint) {
        location["physicalLocation"] = json!({
            "artifactLocation": { "uri": path },
            "region": { "startLine": 1 },
        });
    }
    json!({
        "ruleId": f.rule,
        // The rules array is RuleId::ALL, so the position is always found.
        "ruleIndex": RuleId::ALL.iter().position(|r| *r == f.rule).unwrap_or(0),
        "level": level(f.severity),
        "message": { "text": text },
        "locations": [location],
        "partialFingerprints": { "pgadvise/v1": fingerprint },
        "properties": {
            "severity": f.severity.as_str(),
            "object": f.object,
            "queryid": f.queryid,
            "evidence": f.evidence,
        },
    })
}

/// The object a finding is about, as a SARIF logical location (kind, name).
fn logical(f: &Finding) -> (&'static str, String) {
    if let Some(app) = f.object.strip_prefix("application:") {
        return ("module", app.to_string());
    }
    if f.object == "server" {
        return ("namespace", "server".into());
    }
    let table = f.evidence.get("table").and_then(Value::as_str);
    match table {
        Some(t) if t == f.object => ("type", t.to_string()),
        Some(_) => ("member", f.object.clone()),
        None => ("type", f.object.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::report::{ScanReport, ServerSummary, REPORT_FORMAT_VERSION};

    fn report(findings: Vec<Finding>) -> ScanReport {
        ScanReport {
            format_version: REPORT_FORMAT_VERSION,
            pgadvise_version: "0.1.0".into(),
            server: ServerSummary {
                version: "15.1".into(),
                version_num: 150001,
            },
            statements_analyzed: 3,
            statements_skipped: 1,
            statements_skipped_by_reason: Vec::new(),
            indexes: Vec::new(),
            findings,
            drops: Vec::new(),
            pool: None,
            verification: None,
        }
    }

    fn finding(rule: RuleId, object: &str, severity: Severity) -> Finding {
        Finding {
            rule,
            severity,
            object: object.into(),
            queryid: Some(7),
            title: "t".into(),
            detail: "d".into(),
            fix: Some("CREATE INDEX ...".into()),
            evidence: json!({ "table": "public.messages" }),
        }
    }

    #[test]
    fn one_rule_per_kind_and_levels_from_severity() {
        let findings = vec![
            finding(RuleId::MissingIndex, "public.messages", Severity::High),
            finding(RuleId::MissingIndex, "public.content", Severity::Medium),
            finding(
                RuleId::IdleInTransaction,
                "application:worker",
                Severity::Low,
            ),
        ];
        let mut files = BTreeMap::new();
        files.insert(
            findings[0].fingerprint(),
            "migrations-out/x.sql".to_string(),
        );
        let doc = to_sarif(&report(findings), &files);
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), RuleId::ALL.len());
        let results = run["results"].as_array().unwrap();
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["level"], "warning");
        assert_eq!(results[2]["level"], "note");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "migrations-out/x.sql"
        );
        assert!(results[1]["locations"][0].get("physicalLocation").is_none());
        assert_eq!(
            results[2]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "worker"
        );
        let rule_index = results[2]["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[rule_index]["id"], "idle-in-transaction");
    }

    #[test]
    fn every_rule_has_a_descriptor_with_its_own_description() {
        let doc = to_sarif(&report(Vec::new()), &BTreeMap::new());
        let rules = doc["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        for rule in RuleId::ALL {
            let d = rules
                .iter()
                .find(|d| d["id"] == rule.as_str())
                .unwrap_or_else(|| panic!("no SARIF rule for {rule}"));
            let short = d["shortDescription"]["text"].as_str().unwrap_or("");
            let full = d["fullDescription"]["text"].as_str().unwrap_or("");
            assert!(
                !short.is_empty() && short != "pgadvise finding",
                "{rule}: {short}"
            );
            assert!(full.starts_with(short), "{rule}: {full}");
            let uri = d["helpUri"].as_str().unwrap_or("");
            assert!(
                uri.starts_with(INFORMATION_URI) && uri.contains('#'),
                "{rule}: {uri}"
            );
        }
        let mut shorts: Vec<&Value> = rules.iter().map(|d| &d["shortDescription"]).collect();
        shorts.sort_by_key(|v| v.to_string());
        shorts.dedup();
        assert_eq!(
            shorts.len(),
            RuleId::ALL.len(),
            "two rules share a description"
        );
    }
}
