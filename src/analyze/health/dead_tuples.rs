//! `dead-tuples`: a table where dead rows are at least `dead_ratio` of live +
//! dead and number at least `dead_min_rows`. Dead rows bloat the table and
//! its indexes and slow every scan until vacuum reclaims them.
//!
//! The finding compares the dead rows with the point where autovacuum should
//! have started (`autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor
//! × reltuples`): past it, autovacuum is behind (disabled, too few workers, too
//! throttled, or blocked by a long transaction holding back the xmin horizon).

use super::HealthOptions;
use crate::analyze::finding::{Finding, Severity};
use crate::snapshot::Snapshot;

pub const RULE: &str = "dead-tuples";

/// Settings a DBA looks at when autovacuum falls behind.
const SETTINGS: &[&str] = &[
    "autovacuum",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_cost_limit",
    "autovacuum_vacuum_cost_delay",
    "autovacuum_max_workers",
    "autovacuum_naptime",
    "idle_in_transaction_session_timeout",
];

pub fn check(snapshot: &Snapshot, options: &HealthOptions) -> Vec<Finding> {
    let number = |name: &str, default: f64| {
        snapshot
            .setting(name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let scale = number("autovacuum_vacuum_scale_factor", 0.2);
    let threshold = number("autovacuum_vacuum_threshold", 50.0);
    let autovacuum_on = snapshot.setting("autovacuum") != Some("off");
    let mut findings = Vec::new();
    for table in &snapshot.tables {
        let Some(stats) = &table.stats else { continue };
        let dead = stats.n_dead_tup;
        let total = stats.n_live_tup + dead;
        if total <= 0 || dead < options.dead_min_rows {
            continue;
        }
        let ratio = dead as f64 / total as f64;
        if ratio < options.dead_ratio {
            continue;
        }
        let name = format!(
            "{}.{}",
            crate::ident::quote(&table.schema),
            crate::ident::quote(&table.name)
        );
        let trigger = threshold + scale * table.reltuples.max(0.0);
        let behind = dead as f64 > trigger;
        let last = stats
            .last_autovacuum
            .as_deref()
            .or(stats.last_vacuum.as_deref());
        let settings: serde_json::Map<String, serde_json::Value> = SETTINGS
            .iter()
            .map(|s| ((*s).to_string(), serde_json::json!(snapshot.setting(s))))
            .collect();
        findings.push(Finding {
            rule: RULE.into(),
            severity: if ratio >= 0.5 { Severity::High } else { Severity::Medium },
            object: name.clone(),
            queryid: None,
            title: format!("{name}: {:.0}% of rows are dead ({dead})", ratio * 100.0),
            detail: format!(
                "{dead} dead rows against {} live. Autovacuum should start at about {trigger:.0} \
                 dead rows (threshold {threshold} + scale factor {scale} × {:.0} rows){}; last vacuum: \
                 {}, {} autovacuums since the statistics were reset.{}",
                stats.n_live_tup,
                table.reltuples.max(0.0),
                if behind { ", so it is behind" } else { "" },
                last.unwrap_or("never"),
                stats.autovacuum_count,
                if autovacuum_on {
                    ""
                } else {
                    " autovacuum is off on this server."
                }
            ),
            fix: Some(format!(
                "VACUUM (VERBOSE) {name}; then look at {} and at long transactions \
                 (pg_stat_activity.backend_xmin) that keep dead rows from being removed. A busy \
                 table may need ALTER TABLE {name} SET (autovacuum_vacuum_scale_factor = 0.02).",
                SETTINGS.join(", ")
            )),
            evidence: serde_json::json!({
                "table": name,
                "n_dead_tup": dead,
                "n_live_tup": stats.n_live_tup,
                "dead_ratio": ratio,
                "autovacuum_trigger_rows": trigger,
                "autovacuum_behind": behind,
                "last_autovacuum": stats.last_autovacuum,
                "last_vacuum": stats.last_vacuum,
                "autovacuum_count": stats.autovacuum_count,
                "settings": settings,
            }),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    #[test]
    fn many_dead_rows_are_reported_with_the_autovacuum_arithmetic() {
        // (label, live, dead, expected, behind)
        let cases = [
            ("half dead", 50_000, 50_000, true, true),
            ("a quarter dead", 75_000, 25_000, true, true),
            ("few dead", 90_000, 5_000, false, false),
            ("tiny table", 100, 900, false, false),
            ("clean", 100_000, 0, false, false),
        ];
        for (label, live, dead, expected, behind) in cases {
            let mut snap = fixture::snapshot();
            fixture::setting(&mut snap, "autovacuum_vacuum_scale_factor", "0.2");
            fixture::setting(&mut snap, "autovacuum_vacuum_threshold", "50");
            let mut t = fixture::table("events", live as f64, &["id"]);
            t.stats.as_mut().unwrap().n_dead_tup = dead;
            snap.tables = vec![t];
            let findings = check(&snap, &HealthOptions::default());
            assert_eq!(findings.len(), usize::from(expected), "{label}");
            if let Some(f) = findings.first() {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.object, "public.events");
                assert_eq!(f.evidence["autovacuum_behind"], behind, "{label}");
                assert!(f
                    .fix
                    .as_deref()
                    .unwrap()
                    .contains("autovacuum_vacuum_scale_factor"));
            }
        }
    }
}
