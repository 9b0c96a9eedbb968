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
use crate::analyze::rule::RuleId;
use crate::snapshot::{Snapshot, Table};

pub const RULE: RuleId = RuleId::DeadTuples;

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

/// The table's own storage parameter `name` (`pg_class.reloptions`), if set.
fn table_option<'a>(table: &'a Table, name: &str) -> Option<&'a str> {
    table.options.iter().find_map(|o| {
        let (key, value) = o.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A reloption boolean as PostgreSQL reads it (`on`, `true`, `1`, prefixes...).
fn option_is_false(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "off" | "false" | "f" | "fa" | "fal" | "fals" | "no" | "n" | "0" | "of"
    )
}

pub fn check(snapshot: &Snapshot, options: &HealthOptions) -> Vec<Finding> {
    let number = |name: &str, default: f64| {
        snapshot
            .setting(name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let server_scale = number("autovacuum_vacuum_scale_factor", 0.2);
    let server_threshold = number("autovacuum_vacuum_threshold", 50.0);
    let server_autovacuum = snapshot.setting("autovacuum") != Some("off");
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
        // Per-table storage parameters override the server's settings.
        let table_number =
            |option: &str| table_option(table, option).and_then(|v| v.trim().parse::<f64>().ok());
        let table_scale = table_number("autovacuum_vacuum_scale_factor");
        let table_threshold = table_number("autovacuum_vacuum_threshold");
        let scale = table_scale.unwrap_or(server_scale);
        let threshold = table_threshold.unwrap_or(server_threshold);
        let table_disabled = table_option(table, "autovacuum_enabled").is_some_and(option_is_false);
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
        let autovacuum_note = if !server_autovacuum {
            " Autovacuum is off on this server."
        } else if table_disabled {
            " Autovacuum is off for this table (autovacuum_enabled = false in its storage parameters)."
        } else {
            ""
        };
        let overridden: Vec<&str> = table
            .options
            .iter()
            .map(String::as_str)
            .filter(|o| o.starts_with("autovacuum_"))
            .collect();
        let fix = if table_disabled {
            format!(
                "ALTER TABLE {name} RESET (autovacuum_enabled); then VACUUM (VERBOSE) {name}; \
                 a table that is written to needs autovacuum, if only to keep its statistics and \
                 visibility map current and to prevent transaction ID wraparound."
            )
        } else {
            format!(
                "VACUUM (VERBOSE) {name}; then look at {}{} and at long transactions \
                 (pg_stat_activity.backend_xmin) that keep dead rows from being removed. A busy \
                 table may need ALTER TABLE {name} SET (autovacuum_vacuum_scale_factor = 0.02).",
                SETTINGS.join(", "),
                if overridden.is_empty() {
                    String::new()
                } else {
                    format!(", the table's own {}", overridden.join(", "))
                }
            )
        };
        findings.push(Finding {
            rule: RULE,
            severity: if ratio >= 0.5 { Severity::High } else { Severity::Medium },
            object: name.clone(),
            queryid: None,
            title: format!("{name}: {:.0}% of rows are dead ({dead})", ratio * 100.0),
            detail: format!(
                "{dead} dead rows against {} live. Autovacuum should start at about {trigger:.0} \
                 dead rows (threshold {threshold} + scale factor {scale} × {:.0} rows{}){}; last vacuum: \
                 {}, {} autovacuums since the statistics were reset.{autovacuum_note}",
                stats.n_live_tup,
                table.reltuples.max(0.0),
                if table_scale.is_some() || table_threshold.is_some() {
                    ", with the table's own settings"
                } else {
                    ""
                },
                if behind { ", so it is behind" } else { "" },
                last.unwrap_or("never"),
                stats.autovacuum_count,
            ),
            fix: Some(fix),
            evidence: serde_json::json!({
                "table": name,
                "n_dead_tup": dead,
                "n_live_tup": stats.n_live_tup,
                "dead_ratio": ratio,
                "autovacuum_trigger_rows": trigger,
                "autovacuum_behind": behind,
                "autovacuum_enabled_for_table": !table_disabled,
                "last_autovacuum": stats.last_autovacuum,
                "last_vacuum": stats.last_vacuum,
                "autovacuum_count": stats.autovacuum_count,
                "settings": settings,
                "table_options": overridden,
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

    #[test]
    fn the_tables_own_autovacuum_settings_override_the_servers() {
        // (label, table options, expected trigger, behind, disabled)
        let cases: [(&str, &[&str], f64, bool, bool); 5] = [
            ("server settings", &[], 50.0 + 0.2 * 75_000.0, true, false),
            (
                "a lower scale factor",
                &["autovacuum_vacuum_scale_factor=0.01"],
                50.0 + 0.01 * 75_000.0,
                true,
                false,
            ),
            (
                "a higher threshold and scale",
                &[
                    "fillfactor=90",
                    "autovacuum_vacuum_threshold=1000",
                    "autovacuum_vacuum_scale_factor=0.5",
                ],
                1000.0 + 0.5 * 75_000.0,
                false,
                false,
            ),
            (
                "disabled",
                &["autovacuum_enabled=false"],
                15_050.0,
                true,
                true,
            ),
            (
                "enabled explicitly",
                &["autovacuum_enabled=on"],
                15_050.0,
                true,
                false,
            ),
        ];
        for (label, options, trigger, behind, disabled) in cases {
            let mut snap = fixture::snapshot();
            fixture::setting(&mut snap, "autovacuum_vacuum_scale_factor", "0.2");
            fixture::setting(&mut snap, "autovacuum_vacuum_threshold", "50");
            let mut t = fixture::table("events", 75_000.0, &["id"]);
            t.stats.as_mut().unwrap().n_dead_tup = 25_000;
            t.options = options.iter().map(|o| o.to_string()).collect();
            snap.tables = vec![t];
            let findings = check(&snap, &HealthOptions::default());
            assert_eq!(findings.len(), 1, "{label}");
            let f = &findings[0];
            let got = f.evidence["autovacuum_trigger_rows"].as_f64().unwrap();
            assert!((got - trigger).abs() < 1e-6, "{label}: {got} != {trigger}");
            assert_eq!(f.evidence["autovacuum_behind"], behind, "{label}");
            assert_eq!(
                f.evidence["autovacuum_enabled_for_table"], !disabled,
                "{label}"
            );
            let fix = f.fix.as_deref().unwrap();
            assert_eq!(
                fix.contains("RESET (autovacuum_enabled)"),
                disabled,
                "{label}: {fix}"
            );
            // Only the autovacuum parameters are evidence; fillfactor is not.
            assert!(!f.evidence["table_options"]
                .to_string()
                .contains("fillfactor"));
        }
    }
}
