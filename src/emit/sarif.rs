//! `--format sarif`: SARIF 2.1.0, as code-scanning services (GitHub, GitLab)
//! ingest it. One rule per finding kind; each result points at the migration
//! file that fixes it when one was written, else at the table (a logical location).

use super::report::ScanReport;
use crate::analyze::finding::{Finding, Severity};
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

/// What a rule checks, in one sentence, for the known rule ids.
pub fn rule_description(rule: &str) -> &'static str {
    match rule {
        "missing-index" => "A hot statement has no index that serves it",
        "pool-budget-exceeded" => {
            "Declared connection pools can open more connections than the server allows"
        }
        "connections-near-limit" => "Connections came close to the server's max_connections budget",
        "idle-in-transaction" => "Sessions sat idle inside an open transaction",
        "pool-oversized" => "A connection pool is much larger than its workload needs",
        "pool-beyond-cores" => "More active sessions than the database server's cores can run",
        "pool-saturated" => "A connection pool is fully busy; a bigger one would not help",
        "unused-index" => "An index is never scanned but costs every write",
        "duplicate-index" => "Two indexes have the same definition",
        "redundant-index" => "An index is a left prefix of another index",
        "invalid-index" => "An index is INVALID (a failed concurrent build)",
        "unindexed-foreign-key" => "A foreign key has no index on the referencing columns",
        "offset-pagination" => "A statement pages with OFFSET",
        "limit-without-order" => "A statement uses LIMIT without ORDER BY",
        _ => "pgadvise finding",
    }
}

/// The SARIF document. `migration_files` maps a finding's fingerprint to the
/// migration file written for it (a path relative to the repository root).
pub fn to_sarif(report: &ScanReport, migration_files: &BTreeMap<String, String>) -> Value {
    let mut rule_ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let worst = report
                .findings
                .iter()
                .filter(|f| f.rule == *id)
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Low);
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": rule_description(id) },
                "helpUri": format!("{INFORMATION_URI}#{id}"),
                "defaultConfiguration": { "level": level(worst) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, &rule_ids, migration_files))
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "pgadvise",
                "version": report.pgadvise_version,
                "semanticVersion": report.pgadvise_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "results": results,
            "properties": {
                "server_version": report.server.version,
                "statements_analyzed": report.statements_analyzed,
                "statements_skipped": report.statements_skipped,
            },
        }],
    })
}

fn result(f: &Finding, rule_ids: &[&str], migration_files: &BTreeMap<String, String>) -> Value {
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
        "ruleIndex": rule_ids.iter().position(|r| *r == f.rule).unwrap_or(0),
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

    fn finding(rule: &str, object: &str, severity: Severity) -> Finding {
        Finding {
            rule: rule.into(),
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
            finding("missing-index", "public.messages", Severity::High),
            finding("missing-index", "public.content", Severity::Medium),
            finding("idle-in-transaction", "application:worker", Severity::Low),
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
        assert_eq!(rules.len(), 2);
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
}
