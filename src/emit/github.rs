//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding (`::error title=...::message`), shown on the run's summary page,
//! and on the migration file when one was written for the finding.

use crate::analyze::finding::{Finding, Severity};
use std::collections::BTreeMap;

/// The workflow command for a severity.
fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "notice",
    }
}

/// Escapes a message: the runner reads `%`, CR and LF as encoded.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: also `:` and `,`, which end a property.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The annotation of `f`; `file` is the migration written for it, if any.
pub fn annotation(f: &Finding, file: Option<&str>) -> String {
    annotation_of(f, file, None)
}

/// The annotation of `f`, its title prefixed by `target` (a fleet's target) when given.
fn annotation_of(f: &Finding, file: Option<&str>, target: Option<&str>) -> String {
    let mut message = format!("{} ({})", f.detail, f.object);
    if let Some(fix) = &f.fix {
        message.push_str(&format!("\nFix: {fix}"));
    }
    let location = file
        .map(|path| format!("file={},line=1,", escape_property(path)))
        .unwrap_or_default();
    format!(
        "::{} {location}title={}::{}",
        command(f.severity),
        escape_property(&format!(
            "{}pgadvise {} [{}]: {}",
            target.map(|t| format!("[{t}] ")).unwrap_or_default(),
            f.rule,
            f.severity.as_str(),
            f.title
        )),
        escape_data(&message)
    )
}

/// One line per finding. `migration_files` maps a finding's fingerprint to
/// the migration file written for it.
pub fn annotations(findings: &[Finding], migration_files: &BTreeMap<String, String>) -> String {
    target_annotations(findings, migration_files, None)
}

/// [`annotations`], each title prefixed by `[target]` when given (a fleet's target).
pub fn target_annotations(
    findings: &[Finding],
    migration_files: &BTreeMap<String, String>,
    target: Option<&str>,
) -> String {
    let mut out = String::new();
    for f in findings {
        let file = migration_files.get(&f.fingerprint()).map(String::as_str);
        out.push_str(&annotation_of(f, file, target));
        out.push('\n');
    }
    out
}

/// An error annotation for a fleet target that could not be audited.
pub fn failed_target(target: &str, reason: &str, exit_code: u8) -> String {
    format!(
        "::error title={}::{}\n",
        escape_property(&format!("[{target}] pgadvise: not audited")),
        escape_data(&format!("{reason} (exit {exit_code})"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rule::RuleId;

    #[test]
    fn lines_are_escaped_workflow_commands() {
        let f = Finding {
            rule: RuleId::MissingIndex,
            severity: Severity::High,
            object: "public.messages".into(),
            queryid: None,
            title: "messages(a, b): 100% slow".into(),
            detail: "two\nlines".into(),
            fix: Some("CREATE INDEX".into()),
            evidence: serde_json::json!({}),
        };
        let line = annotation(&f, None);
        assert_eq!(
            line,
            "::error title=pgadvise missing-index [high]%3A messages(a%2C b)%3A 100%25 slow::two%0Alines (public.messages)%0AFix: CREATE INDEX"
        );
        assert!(!line.contains('\n'));
        let low = Finding {
            severity: Severity::Low,
            ..f.clone()
        };
        assert!(annotation(&low, None).starts_with("::notice "));
        let medium = Finding {
            severity: Severity::Medium,
            ..f
        };
        assert!(annotation(&medium, None).starts_with("::warning "));
        let files = BTreeMap::from([(
            medium.fingerprint(),
            "migrations-out/1_add_a,b.sql".to_string(),
        )]);
        assert!(
            annotations(&[medium], &files).starts_with(
                "::warning file=migrations-out/1_add_a%2Cb.sql,line=1,title=pgadvise "
            ),
            "{}",
            annotations(&[], &files)
        );
    }
}
