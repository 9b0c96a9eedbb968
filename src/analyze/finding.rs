//! Findings: something a DBA should know, with its evidence and its fix.

use super::rule::RuleId;
pub use super::severity::Severity;
use serde::{Deserialize, Serialize};

/// One finding. `rule` serializes to its stable id (e.g. `pool-budget-exceeded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    /// What the finding is about, stable across runs: a qualified table or
    /// index name (`public.messages`), `application:<name>` for a pool, or
    /// `server` for the server as a whole.
    pub object: String,
    /// The statement it names, for findings about a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queryid: Option<i64>,
    pub title: String,
    pub detail: String,
    /// What to do about it, when there is one thing to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The numbers and objects the finding rests on.
    pub evidence: serde_json::Value,
}

impl Finding {
    /// Identity of the finding across runs: rule, object and statement only, so
    /// that drifting numbers, wording and ordering do not make an old finding new.
    pub fn fingerprint(&self) -> String {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            self.rule,
            self.object,
            self.queryid.map(|q| q.to_string()).unwrap_or_default()
        );
        let hash = crate::hash::fnv1a_64(&key);
        format!("{}:{hash:016x}", self.rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(object: &str, queryid: Option<i64>, title: &str) -> Finding {
        Finding {
            rule: RuleId::UnusedIndex,
            severity: Severity::Medium,
            object: object.into(),
            queryid,
            title: title.into(),
            detail: String::new(),
            fix: None,
            evidence: serde_json::json!({ "size_bytes": title.len() }),
        }
    }

    #[test]
    fn fingerprint_ignores_numbers_and_wording_but_not_identity() {
        let a = finding("public.messages_idx", None, "12 MB unused");
        let b = finding("public.messages_idx", None, "13 MB unused, 0 scans");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(
            a.fingerprint(),
            finding("public.other_idx", None, "12 MB unused").fingerprint()
        );
        assert_ne!(
            a.fingerprint(),
            finding("public.messages_idx", Some(7), "12 MB unused").fingerprint()
        );
        assert!(a.fingerprint().starts_with("unused-index:"));
    }

    #[test]
    fn severities_order_for_fail_on() {
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::High < Severity::Critical);
        assert_eq!(Severity::High.as_str(), "high");
    }
}
