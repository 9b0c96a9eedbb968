//! The connection-pool verdict: pure arithmetic over the sampled window.
//!
//! Budget = max_connections − superuser_reserved_connections − reserved_connections.
//! Per application, Little's law L = λ × W gives the connections its throughput
//! needs; the recommendation is ceil(max(observed active p95, L) × 1.5), clamped
//! to [1, the application's share of the budget] (and to cores × 2 + 1 when the
//! server's cores are known).

use super::finding::{Finding, Severity};
use crate::snapshot::{PoolWindow, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;

/// Spare capacity on top of what the numbers say is needed.
pub const HEADROOM: f64 = 1.5;

/// Idle in transaction for less than this is client round-trip latency, not a finding.
pub const IDLE_IN_TRANSACTION_MIN_SECONDS: f64 = 1.0;

/// A transaction older than this, held idle, makes the finding high.
pub const IDLE_IN_TRANSACTION_HIGH_SECONDS: f64 = 60.0;

/// A pool as the user declared it: `--pool api=4x20` (4 instances of 20 connections).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredPool {
    pub name: String,
    pub instances: u32,
    pub size: u32,
}

impl DeclaredPool {
    pub fn total(&self) -> u32 {
        self.instances.saturating_mul(self.size)
    }

    /// Parses `NAME=INSTANCESxSIZE`.
    pub fn parse(text: &str) -> Result<DeclaredPool, String> {
        let usage = || format!("'{text}' is not NAME=INSTANCESxSIZE (example: api=4x20)");
        let (name, shape) = text.split_once('=').ok_or_else(usage)?;
        let (instances, size) = shape.split_once(['x', 'X']).ok_or_else(usage)?;
        let name = name.trim();
        let instances: u32 = instances.trim().parse().map_err(|_| usage())?;
        let size: u32 = size.trim().parse().map_err(|_| usage())?;
        if name.is_empty() || instances == 0 || size == 0 {
            return Err(usage());
        }
        Ok(DeclaredPool {
            name: name.to_string(),
            instances,
            size,
        })
    }
}

/// What the verdict is asked about.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    pub declared: Vec<DeclaredPool>,
    pub db_cores: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolVerdict {
    /// Connections applications may open.
    pub budget: u32,
    pub budget_arithmetic: String,
    pub window_seconds: f64,
    pub samples: usize,
    pub applications: Vec<ApplicationVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationVerdict {
    pub name: String,
    pub declared: Option<Declared>,
    pub observed: Observed,
    pub recommended_size: u32,
    pub arithmetic: String,
    /// Ready-to-paste pool settings per client library, sized per instance.
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declared {
    pub instances: u32,
    pub size: u32,
    pub total: u32,
}

/// Sessions per sample, by state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Observed {
    pub active: Spread,
    pub idle: Spread,
    pub idle_in_transaction: Spread,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Spread {
    pub peak: u32,
    pub p50: u32,
    pub p95: u32,
}

impl Spread {
    fn of(mut values: Vec<u32>) -> Spread {
        values.sort_unstable();
        Spread {
            peak: values.last().copied().unwrap_or(0),
            p50: nearest_rank(&values, 0.50),
            p95: nearest_rank(&values, 0.95),
        }
    }
}

/// ceil(max(observed active p95, Little's L) × headroom).
fn with_headroom(active_p95: u32, concurrency: f64) -> u32 {
    (f64::from(active_p95).max(concurrency) * HEADROOM).ceil() as u32
}

/// Connections a server with `cores` cores serves well (effective spindles 1).
fn cores_cap(cores: u32) -> u32 {
    cores.saturating_mul(2).saturating_add(1)
}

/// Clamped to [1, budget share], and to the cores cap when known.
fn clamp_size(raw: u32, share: u32, cores: Option<u32>) -> u32 {
    let capped = raw.min(share);
    let capped = cores.map_or(capped, |c| capped.min(cores_cap(c)));
    capped.max(1)
}

/// Per-library settings: `total` connections over `instances`, keeping about the
/// usual in-use count (`in_use_p50`) open when idle.
fn client_settings(total: u32, instances: u32, in_use_p50: u32) -> BTreeMap<String, String> {
    let instances = instances.max(1);
    let size = total.div_ceil(instances).max(1);
    let min_idle = in_use_p50.div_ceil(instances).clamp(1, size);
    let pairs = [
        ("hikaricp", format!("maximumPoolSize={size}\nminimumIdle={min_idle}")),
        ("sqlalchemy", format!("pool_size={size}, max_overflow=0")),
        (
            "go_database_sql",
            format!("db.SetMaxOpenConns({size})\ndb.SetMaxIdleConns({min_idle})\ndb.SetConnMaxIdleTime(5 * time.Minute)"),
        ),
        ("sqlx", format!("PgPoolOptions::new().max_connections({size}).min_connections({min_idle})")),
        ("deadpool", format!("max_size = {size}")),
        ("node_postgres", format!("new Pool({{ max: {size} }})")),
        (
            "pgbouncer",
            format!("default_pool_size = {total}\nmax_client_conn = {}", size.saturating_mul(instances).max(total)),
        ),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Medium at 80 % of the budget, high at 90 %.
fn near_limit_severity(peak: u32, budget: u32) -> Option<Severity> {
    let (peak, budget) = (u64::from(peak), u64::from(budget));
    if budget == 0 || peak * 10 >= budget * 9 {
        Some(Severity::High)
    } else if peak * 10 >= budget * 8 {
        Some(Severity::Medium)
    } else {
        None
    }
}

/// Much larger than needed: at least twice the recommendation and 3 connections more.
fn is_oversized(size: u32, recommended: u32) -> bool {
    size >= recommended.saturating_mul(2) && size >= recommended.saturating_add(3)
}

/// Nearest-rank percentile of sorted values (0 when there are none).
fn nearest_rank(sorted: &[u32], fraction: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn setting_u32(snapshot: &Snapshot, name: &str) -> u32 {
    snapshot
        .setting(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The verdict and its findings.
pub fn verdict(snapshot: &Snapshot, options: &PoolOptions) -> (PoolVerdict, Vec<Finding>) {
    let max = setting_u32(snapshot, "max_connections");
    let superuser = setting_u32(snapshot, "superuser_reserved_connections");
    // reserved_connections exists from PostgreSQL 16; absent means 0.
    let reserved = setting_u32(snapshot, "reserved_connections");
    let budget = max.saturating_sub(superuser).saturating_sub(reserved);
    let budget_arithmetic = format!(
        "max_connections {max} − superuser_reserved_connections {superuser} − reserved_connections {reserved} = {budget}"
    );
    let empty = PoolWindow {
        started_at: String::new(),
        seconds: 0.0,
        interval_ms: 0,
        own_transactions: 0,
        samples: Vec::new(),
        idle_in_transaction: Vec::new(),
        database_start: snapshot.database.clone(),
        database_end: snapshot.database.clone(),
    };
    let window = snapshot.pool_window.as_ref().unwrap_or(&empty);

    // Applications: declared ones, then every named one seen in the window.
    let mut names: Vec<String> = options.declared.iter().map(|d| d.name.clone()).collect();
    for sample in &window.samples {
        for c in &sample.counts {
            if !c.application_name.is_empty() && !names.contains(&c.application_name) {
                names.push(c.application_name.clone());
            }
        }
    }

    // Database throughput over the window, pgadvise's own transactions taken out.
    let xacts = |d: &crate::snapshot::DatabaseStats| d.xact_commit + d.xact_rollback;
    let all_xacts = xacts(&window.database_end) - xacts(&window.database_start);
    let app_xacts = (all_xacts - window.own_transactions as i64).max(0);
    let tps = (window.seconds > 0.0).then(|| app_xacts as f64 / window.seconds);
    // Backends report their counters to pg_stat_database about once a second
    // (and only when idle on a busy server): short windows understate throughput.
    let short_window_note = (window.seconds < 10.0).then(|| {
        format!(
            "window {:.1} s is short: transaction counters lag by up to a second, so λ may be understated; \
             use --sample-window 30s or more for a firmer L",
            window.seconds
        )
    });
    // W: time a connection is held per transaction, milliseconds.
    let (held_ms, held_source) = match (
        window.database_end.active_time,
        window.database_start.active_time,
        window.database_end.idle_in_transaction_time,
        window.database_start.idle_in_transaction_time,
    ) {
        (Some(a1), Some(a0), Some(i1), Some(i0)) if all_xacts > 0 => {
            // Idle-in-transaction time holds the connection as much as active time does.
            let ms = ((a1 - a0) + (i1 - i0)) / all_xacts as f64;
            (
                Some(ms),
                format!(
                    "W = {ms:.3} ms (pg_stat_database: Δactive_time {:.1} ms + Δidle_in_transaction_time {:.1} ms over {all_xacts} transactions)",
                    a1 - a0,
                    i1 - i0
                ),
            )
        }
        _ => {
            let own = |q: &str| crate::collect::is_own_statement(q);
            let entries = snapshot
                .statements
                .entries
                .iter()
                .filter(|e| !own(&e.query));
            let (time, calls) = entries.fold((0.0, 0i64), |(t, c), e| {
                (t + e.total_exec_time, c + e.calls)
            });
            if calls > 0 {
                let ms = time / calls as f64;
                (
                    Some(ms),
                    format!(
                        "W = {ms:.3} ms (database-wide mean statement time from pg_stat_statements: \
                         per-transaction time is not available before PostgreSQL 14)"
                    ),
                )
            } else {
                (
                    None,
                    "W unknown (no transaction time available)".to_string(),
                )
            }
        }
    };

    let series = |name: &str, bucket: fn(&str) -> bool| -> Vec<u32> {
        window
            .samples
            .iter()
            .map(|s| {
                s.counts
                    .iter()
                    .filter(|c| c.application_name == name && bucket(&c.state))
                    .map(|c| c.sessions)
                    .sum()
            })
            .collect()
    };
    let is_active = |s: &str| s == "active" || s == "fastpath function call";
    let is_idle = |s: &str| s == "idle";
    let is_iit = |s: &str| s.starts_with("idle in transaction");
    // A session idle in a transaction still holds its pooled connection.
    let is_held = |s: &str| {
        s == "active" || s == "fastpath function call" || s.starts_with("idle in transaction")
    };
    let all_active: u64 = window
        .samples
        .iter()
        .flat_map(|s| &s.counts)
        .filter(|c| is_active(&c.state))
        .map(|c| u64::from(c.sessions))
        .sum();

    // Budget shares: declared totals weigh, else the observed peak.
    let weight = |name: &str| -> u32 {
        match options.declared.iter().find(|d| d.name == name) {
            Some(d) => d.total(),
            None => {
                let totals: Vec<u32> = window
                    .samples
                    .iter()
                    .map(|s| {
                        s.counts
                            .iter()
                            .filter(|c| c.application_name == name)
                            .map(|c| c.sessions)
                            .sum()
                    })
                    .collect();
                totals.into_iter().max().unwrap_or(0).max(1)
            }
        }
    };
    let weight_sum: u64 = names.iter().map(|n| u64::from(weight(n))).sum();

    let mut applications = Vec::new();
    for name in &names {
        let active = series(name, is_active);
        let app_active: u64 = active.iter().map(|&n| u64::from(n)).sum();
        let observed = Observed {
            active: Spread::of(active),
            idle: Spread::of(series(name, is_idle)),
            idle_in_transaction: Spread::of(series(name, is_iit)),
        };
        let mut steps = Vec::new();
        let concurrency = match (tps, held_ms) {
            (Some(tps), Some(ms)) if all_active > 0 => {
                let share = app_active as f64 / all_active as f64;
                let lambda = tps * share;
                let l = lambda * ms / 1000.0;
                steps.push(format!(
                    "λ = {lambda:.2} tx/s (database {tps:.2} tx/s × {:.0}% of active samples: \
                     the server does not count transactions per application)",
                    share * 100.0
                ));
                steps.push(held_source.clone());
                steps.push(format!("L = λ × W = {l:.3} connections"));
                if let Some(note) = &short_window_note {
                    steps.push(note.clone());
                }
                l
            }
            _ => {
                steps.push(
                    "Little's law not applied (no throughput or no active samples in the window)"
                        .into(),
                );
                0.0
            }
        };
        // Connections held at once: active plus idle in transaction, per sample.
        let held = Spread::of(series(name, is_held));
        let raw = with_headroom(held.p95, concurrency);
        steps.push(format!(
            "ceil(max(held p95 {} (active + idle in transaction), L {concurrency:.3}) × {HEADROOM}) = {raw}",
            held.p95
        ));
        let share = (u64::from(budget) * u64::from(weight(name)))
            .checked_div(weight_sum)
            .map_or(budget, |s| s as u32);
        steps.push(format!(
            "budget share {budget} × {} / {weight_sum} = {share}",
            weight(name)
        ));
        if let Some(cores) = options.db_cores {
            steps.push(format!("cores cap {cores} × 2 + 1 = {}", cores_cap(cores)));
        }
        let recommended = clamp_size(raw, share, options.db_cores);
        steps.push(format!("recommended {recommended}"));
        let instances = options
            .declared
            .iter()
            .find(|d| &d.name == name)
            .map_or(1, |d| d.instances);
        let in_use_p50 = observed.active.p50 + observed.idle.p50 + observed.idle_in_transaction.p50;
        let settings = client_settings(recommended, instances, in_use_p50);
        applications.push(ApplicationVerdict {
            name: name.clone(),
            declared: options
                .declared
                .iter()
                .find(|d| &d.name == name)
                .map(|d| Declared {
                    instances: d.instances,
                    size: d.size,
                    total: d.total(),
                }),
            observed,
            recommended_size: recommended,
            arithmetic: steps.join("; "),
            settings,
        });
    }

    let mut findings = Vec::new();
    let declared_total: u32 = options.declared.iter().map(DeclaredPool::total).sum();
    if declared_total > budget {
        let parts: Vec<String> = options
            .declared
            .iter()
            .map(|d| format!("{} {}×{} = {}", d.name, d.instances, d.size, d.total()))
            .collect();
        findings.push(Finding {
            rule: "pool-budget-exceeded".into(),
            object: "server".into(),
            queryid: None,
            fix: Some("Shrink the pools until instances × size sums below the budget (see each application's recommended size), or put PgBouncer in transaction mode in front of the server.".into()),
            severity: Severity::High,
            title: format!(
                "Declared pools can open {declared_total} connections; the server allows {budget}"
            ),
            detail: format!(
                "{} — total {declared_total} > budget {budget} ({budget_arithmetic}). \
                 When every pool fills, new connections fail with \"too many clients\".",
                parts.join(", ")
            ),
            evidence: serde_json::json!({
                "applications": options.declared.iter().map(|d| serde_json::json!({
                    "name": d.name, "instances": d.instances, "size": d.size, "total": d.total()
                })).collect::<Vec<_>>(),
                "total": declared_total,
                "budget": budget,
            }),
        });
    }

    // pgadvise's own session draws on the budget too.
    let peak_connections = window
        .samples
        .iter()
        .map(|s| s.client_backends + 1)
        .max()
        .unwrap_or(0);
    if let Some(severity) = near_limit_severity(peak_connections, budget) {
        findings.push(Finding {
            rule: "connections-near-limit".into(),
            object: "server".into(),
            queryid: None,
            fix: Some("Find which applications hold the connections (the applications table), shrink oversized pools, or pool through PgBouncer; raise max_connections only with the memory to back it.".into()),
            severity,
            title: format!("{peak_connections} of {budget} connections in use at the peak"),
            detail: format!(
                "Peak {peak_connections} client backends (all databases, pgadvise included) of a budget of {budget} ({budget_arithmetic})."
            ),
            evidence: serde_json::json!({ "peak": peak_connections, "budget": budget }),
        });
    }
    if let Some(cores) = options.db_cores {
        let active_peak = window
            .samples
            .iter()
            .map(|s| {
                s.counts
                    .iter()
                    .filter(|c| is_active(&c.state))
                    .map(|c| c.sessions)
                    .sum::<u32>()
            })
            .max()
            .unwrap_or(0);
        if active_peak > cores_cap(cores) {
            findings.push(Finding {
                rule: "pool-beyond-cores".into(),
                object: "server".into(),
                queryid: None,
                fix: Some(format!("Cap active connections near {}: smaller pools, or PgBouncer in transaction mode.", cores_cap(cores))),
                severity: Severity::Medium,
                title: format!(
                    "{active_peak} sessions active at once on {cores} cores (more than {} gains nothing)",
                    cores_cap(cores)
                ),
                detail: "Past cores × 2 + 1 active connections, queries queue for CPU inside the server. \
                         Use smaller pools, or PgBouncer in transaction mode in front of the server."
                    .into(),
                evidence: serde_json::json!({ "active_peak": active_peak, "cores": cores, "cap": cores_cap(cores) }),
            });
        }
    }
    for app in &applications {
        let declared = app.declared.as_ref().map_or(0, |d| d.total);
        let idle_peak = app.observed.idle.peak;
        if is_oversized(declared.max(idle_peak), app.recommended_size) {
            findings.push(Finding {
                rule: "pool-oversized".into(),
                object: format!("application:{}", app.name),
                queryid: None,
                fix: Some(format!("Set the pool of {} to {} (its ready-to-paste settings are in the pool verdict).", app.name, app.recommended_size)),
                severity: Severity::Low,
                title: format!(
                    "{}: pool of {} where {} would do",
                    app.name,
                    declared.max(idle_peak),
                    app.recommended_size
                ),
                detail: format!(
                    "Declared {declared}, idle peak {idle_peak}, recommended {}: idle connections cost server memory and budget. {}",
                    app.recommended_size, app.arithmetic
                ),
                evidence: serde_json::json!({
                    "application": app.name, "declared_total": declared,
                    "idle_peak": idle_peak, "recommended_size": app.recommended_size,
                }),
            });
        }
    }

    // Idle in transaction, one finding per application.
    let mut by_app: BTreeMap<&str, Vec<&crate::snapshot::IdleInTransaction>> = BTreeMap::new();
    for s in &window.idle_in_transaction {
        if s.state_seconds >= IDLE_IN_TRANSACTION_MIN_SECONDS {
            by_app
                .entry(s.application_name.as_str())
                .or_default()
                .push(s);
        }
    }
    for (app, sessions) in by_app {
        let oldest = sessions.iter().map(|s| s.xact_seconds).fold(0.0, f64::max);
        let lines: Vec<String> = sessions
            .iter()
            .map(|s| {
                format!(
                    "pid {} idle {:.1} s, transaction {:.1} s old, last statement: {}",
                    s.pid,
                    s.state_seconds,
                    s.xact_seconds,
                    s.query.as_deref().unwrap_or("(none)")
                )
            })
            .collect();
        findings.push(Finding {
            rule: "idle-in-transaction".into(),
            object: format!("application:{app}"),
            queryid: None,
            fix: Some("Commit or roll back promptly in the application; set idle_in_transaction_session_timeout (e.g. 60s) for its role as a backstop.".into()),
            severity: if oldest > IDLE_IN_TRANSACTION_HIGH_SECONDS {
                Severity::High
            } else {
                Severity::Medium
            },
            title: format!(
                "{app}: {} session(s) idle in transaction (oldest transaction {oldest:.1} s)",
                sessions.len()
            ),
            detail: format!(
                "An open transaction holds its connection, its locks and back vacuum's horizon. {}",
                lines.join("; ")
            ),
            evidence: serde_json::json!({
                "application": app,
                "sessions": sessions.iter().map(|s| serde_json::json!({
                    "pid": s.pid, "user": s.user, "idle_seconds": s.state_seconds,
                    "transaction_seconds": s.xact_seconds, "query": s.query, "query_id": s.query_id,
                })).collect::<Vec<_>>(),
            }),
        });
    }

    let verdict = PoolVerdict {
        budget,
        budget_arithmetic,
        window_seconds: window.seconds,
        samples: window.samples.len(),
        applications,
    };
    (verdict, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_pools_parse_or_say_why_not() {
        let ok = [
            ("api=4x20", ("api", 4, 20, 80)),
            ("worker = 2X10", ("worker", 2, 10, 20)),
        ];
        for (text, (name, instances, size, total)) in ok {
            let d = DeclaredPool::parse(text).unwrap();
            assert_eq!(
                (d.name.as_str(), d.instances, d.size, d.total()),
                (name, instances, size, total)
            );
        }
        for bad in [
            "api", "api=4", "=4x20", "api=0x20", "api=4x", "api=ax20", "api=-1x2",
        ] {
            let err = DeclaredPool::parse(bad).unwrap_err();
            assert!(err.contains("NAME=INSTANCESxSIZE"), "{bad}: {err}");
        }
    }

    #[test]
    fn recommendation_arithmetic_by_hand() {
        // (active p95, L, budget share, cores) → recommended
        let cases = [
            (3, 0.07, 53, None, 5),    // ceil(3 × 1.5) = 5
            (2, 6.2, 53, None, 10),    // ceil(6.2 × 1.5) = ceil(9.3) = 10
            (40, 1.0, 26, None, 26),   // 60, clamped to the share 26
            (40, 1.0, 53, Some(4), 9), // 60, clamped to 4 × 2 + 1 = 9
            (0, 0.0, 53, None, 1),     // never below 1
            (0, 0.0, 0, None, 1),      // even with no share left
        ];
        for (p95, l, share, cores, expected) in cases {
            let got = clamp_size(with_headroom(p95, l), share, cores);
            assert_eq!(
                got, expected,
                "p95 {p95}, L {l}, share {share}, cores {cores:?}"
            );
        }
    }

    #[test]
    fn thresholds_by_hand() {
        // 97 budget: 80 % is 77.6, 90 % is 87.3.
        let cases = [
            (77, None),
            (78, Some(Severity::Medium)),
            (87, Some(Severity::Medium)),
            (88, Some(Severity::High)),
        ];
        for (peak, expected) in cases {
            assert_eq!(near_limit_severity(peak, 97), expected, "peak {peak}");
        }
        assert!(is_oversized(80, 5));
        assert!(!is_oversized(4, 2), "tiny pools are not worth a finding");
        assert!(!is_oversized(9, 5));
    }

    #[test]
    fn settings_are_per_instance() {
        // 10 connections over 4 instances: ceil(10 / 4) = 3 each; 5 in use over 4 → 2 idle kept.
        let s = client_settings(10, 4, 5);
        assert_eq!(s["hikaricp"], "maximumPoolSize=3\nminimumIdle=2");
        assert_eq!(s["sqlalchemy"], "pool_size=3, max_overflow=0");
        assert_eq!(
            s["pgbouncer"],
            "default_pool_size = 10\nmax_client_conn = 12"
        );
        assert_eq!(s["node_postgres"], "new Pool({ max: 3 })");
    }

    #[test]
    fn nearest_rank_percentiles_by_hand() {
        // 20 samples 1..=20: p50 is the 10th value, p95 the 19th.
        let values: Vec<u32> = (1..=20).collect();
        assert_eq!(
            Spread::of(values),
            Spread {
                peak: 20,
                p50: 10,
                p95: 19
            }
        );
        assert_eq!(
            Spread::of(vec![3]),
            Spread {
                peak: 3,
                p50: 3,
                p95: 3
            }
        );
        assert_eq!(Spread::of(vec![]), Spread::default());
    }
}
