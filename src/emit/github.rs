//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding (`::error title=...::message`), shown on the run's summary page.

use crate::analyze::finding::{Finding, Severity};

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

pub fn annotation(f: &Finding) -> String {
    let mut message = format!("{} ({})", f.detail, f.object);
    if let Some(fix) = &f.fix {
        message.push_str(&format!("\nFix: {fix}"));
    }
    format!(
        "::{} title={}::{}",
        command(f.severity),
        escape_property(&format!(
            "pgadvise {} [{}]: {}",
            f.rule,
            f.severity.as_str(),
            f.title
        )),
        escape_data(&message)
    )
}

/// One line per finding, then a one-line summary.
pub fn annotations(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&annotation(f));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_escaped_workflow_commands() {
        let f = Finding {
            rule: "missing-index".into(),
            severity: Severity::High,
            object: "public.messages".into(),
            queryid: None,
            title: "messages(a, b): 100% slow".into(),
            detail: "two\nlines".into(),
            fix: Some("CREATE INDEX".into()),
            evidence: serde_json::json!({}),
        };
        let line = annotation(&f);
        assert_eq!(
            line,
            "::error title=pgadvise missing-index [high]%3A messages(a%2C b)%3A 100%25 slow::two%0Alines (public.messages)%0AFix: CREATE INDEX"
        );
        assert!(!line.contains('\n'));
        let low = Finding {
            severity: Severity::Low,
            ..f.clone()
        };
        assert!(annotation(&low).starts_with("::notice "));
        let medium = Finding {
            severity: Severity::Medium,
            ..f
        };
        assert!(annotation(&medium).starts_with("::warning "));
    }
}
