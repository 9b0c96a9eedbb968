//! The verdict's data: where session time goes, what limits a pool, what the
//! user declared and what the verdict reports.

use serde::Serialize;
use std::collections::BTreeMap;

/// Where a session's time goes, from pg_stat_activity's state and wait event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeCategory {
    /// Active, no wait event: running (or queued for a core).
    Cpu,
    /// Active, waiting on wait_event_type IO.
    Io,
    /// Active, waiting on wait_event_type Lock or LWLock.
    Lock,
    /// Idle in transaction, or active waiting on the client (ClientRead/ClientWrite).
    Client,
    /// Active, waiting on something else (IPC, Timeout such as pg_sleep, BufferPin, ...).
    Other,
    /// Idle: the connection sits in the pool.
    Idle,
}

impl TimeCategory {
    pub const ALL: [TimeCategory; 6] = [
        TimeCategory::Cpu,
        TimeCategory::Io,
        TimeCategory::Lock,
        TimeCategory::Client,
        TimeCategory::Other,
        TimeCategory::Idle,
    ];

    /// The category of a session in `state` waiting on `wait_event_type`;
    /// `None` for states that say nothing (`disabled`, `unknown`).
    pub fn of(state: &str, wait_event_type: Option<&str>) -> Option<TimeCategory> {
        if state == "idle" {
            return Some(TimeCategory::Idle);
        }
        if state.starts_with("idle in transaction") {
            return Some(TimeCategory::Client);
        }
        if state != "active" && state != "fastpath function call" {
            return None;
        }
        Some(match wait_event_type {
            None => TimeCategory::Cpu,
            Some("IO") => TimeCategory::Io,
            Some("Lock" | "LWLock") => TimeCategory::Lock,
            Some("Client") => TimeCategory::Client,
            Some(_) => TimeCategory::Other,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            TimeCategory::Cpu => "CPU",
            TimeCategory::Io => "I/O",
            TimeCategory::Lock => "locks",
            TimeCategory::Client => "client",
            TimeCategory::Other => "other waits",
            TimeCategory::Idle => "idle",
        }
    }

    /// Whether a session in this category holds its connection out of the pool.
    pub fn holds(self) -> bool {
        self != TimeCategory::Idle
    }
}

/// Shares of session time (session-samples) per category; they add up to 1
/// when any session was seen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct TimeShares {
    pub cpu: f64,
    pub io: f64,
    pub lock: f64,
    pub client: f64,
    pub other: f64,
    pub idle: f64,
    /// Sessions summed over the samples: what the shares are of.
    pub session_samples: u64,
}

impl TimeShares {
    /// Shares from session counts per category.
    pub fn from_counts(counts: &BTreeMap<TimeCategory, u64>) -> TimeShares {
        let total: u64 = counts.values().sum();
        let share = |c: TimeCategory| {
            if total == 0 {
                0.0
            } else {
                counts.get(&c).copied().unwrap_or(0) as f64 / total as f64
            }
        };
        TimeShares {
            cpu: share(TimeCategory::Cpu),
            io: share(TimeCategory::Io),
            lock: share(TimeCategory::Lock),
            client: share(TimeCategory::Client),
            other: share(TimeCategory::Other),
            idle: share(TimeCategory::Idle),
            session_samples: total,
        }
    }

    pub fn get(&self, c: TimeCategory) -> f64 {
        match c {
            TimeCategory::Cpu => self.cpu,
            TimeCategory::Io => self.io,
            TimeCategory::Lock => self.lock,
            TimeCategory::Client => self.client,
            TimeCategory::Other => self.other,
            TimeCategory::Idle => self.idle,
        }
    }

    /// Share of the time connections are held (idle left out).
    pub fn of_held(&self, c: TimeCategory) -> f64 {
        let held = 1.0 - self.idle;
        if !c.holds() || held <= 0.0 {
            0.0
        } else {
            self.get(c) / held
        }
    }

    /// `CPU 41%, I/O 2%, locks 0%, client 30%, other waits 0%, idle 27%`.
    pub fn summary(&self) -> String {
        TimeCategory::ALL
            .iter()
            .map(|&c| format!("{} {:.0}%", c.label(), self.get(c) * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What limits an application's pool: the verdict's answer to "would more
/// connections help?" (only [`Limit::None`] says they might).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// More sessions on CPU than the server has cores, in most samples.
    ServerCpu,
    /// Sessions wait on each other's locks: more sessions make it worse.
    Locks,
    /// Connections are held while the application does something else.
    Client,
    /// Sessions mostly wait on reads and writes: the disks.
    Io,
    /// The pool is full in most samples; the server's cores are not known.
    PoolFull,
    /// Nothing seen: the pool has room, Little's law sizes it.
    None,
}

impl Limit {
    pub fn label(self) -> &'static str {
        match self {
            Limit::ServerCpu => "the server's CPU",
            Limit::Locks => "lock waits",
            Limit::Client => "the application (connections held idle)",
            Limit::Io => "I/O",
            Limit::PoolFull => "the pool is full (server capacity unknown)",
            Limit::None => "none (the pool has room)",
        }
    }
}

/// What the samples say about an application's load, for [`limit_of`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub time: TimeShares,
    /// Share of samples in which every connection of the pool was held.
    pub pool_full: f64,
    /// Share of samples with more sessions on CPU than cores; `None` without cores.
    pub over_cores: Option<f64>,
}

/// A client library (or server setting) the verdict gives ready-to-paste settings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Library {
    Deadpool,
    GoDatabaseSql,
    Hikaricp,
    NodePostgres,
    Pgbouncer,
    /// The idle-in-transaction guard, per role, on the server.
    Postgresql,
    Sqlalchemy,
    Sqlx,
}

impl Library {
    pub fn as_str(self) -> &'static str {
        match self {
            Library::Deadpool => "deadpool",
            Library::GoDatabaseSql => "go_database_sql",
            Library::Hikaricp => "hikaricp",
            Library::NodePostgres => "node_postgres",
            Library::Pgbouncer => "pgbouncer",
            Library::Postgresql => "postgresql",
            Library::Sqlalchemy => "sqlalchemy",
            Library::Sqlx => "sqlx",
        }
    }
}

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

/// Where the verdict's cores come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoresSource {
    /// `--db-cores` or `[pool] db_cores`.
    Given,
    /// pgadvise ran on the server's machine and counted them.
    Detected,
}

impl CoresSource {
    pub fn label(self) -> &'static str {
        match self {
            CoresSource::Given => "given with --db-cores",
            CoresSource::Detected => "detected on the server's machine; --db-cores overrides",
        }
    }
}

/// What the verdict is asked about.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    pub declared: Vec<DeclaredPool>,
    pub db_cores: Option<u32>,
    /// Names of the indexes the scan proposes: what would cut W when the server is the limit.
    pub index_proposals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolVerdict {
    /// Connections applications may open.
    pub budget: u32,
    pub budget_arithmetic: String,
    pub window_seconds: f64,
    pub samples: usize,
    /// The server's cores: given (`--db-cores`), or detected on the server's own
    /// machine; `null` when unknown.
    pub db_cores: Option<u32>,
    pub cores_source: Option<CoresSource>,
    /// Said when no CPU cap was applied, with how to give one.
    pub cores_note: Option<String>,
    /// Sessions on CPU per sample, every database of the server.
    pub server_on_cpu: Spread,
    pub applications: Vec<ApplicationVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationVerdict {
    pub name: String,
    pub declared: Option<Declared>,
    pub observed: Observed,
    /// Where the sessions' time went over the window.
    pub time: TimeShares,
    /// Today's pool: the declared total, else the most sessions seen open.
    pub pool_size: Option<u32>,
    /// Share of samples in which every connection of the pool was held.
    pub pool_full_share: f64,
    pub limit: Limit,
    /// What to do, most important first.
    pub advice: Vec<String>,
    pub recommended_size: u32,
    pub arithmetic: String,
    /// Seconds to wait for a pooled connection before failing (in `settings`).
    pub acquire_timeout_seconds: u32,
    /// Roles the application's sessions logged in as.
    pub roles: Vec<String>,
    /// Ready-to-paste pool settings per client library, sized per instance.
    pub settings: BTreeMap<Library, String>,
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
    pub(crate) fn of(mut values: Vec<u32>) -> Spread {
        values.sort_unstable();
        Spread {
            peak: values.last().copied().unwrap_or(0),
            p50: nearest_rank(&values, 0.50),
            p95: nearest_rank(&values, 0.95),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when there are none).
fn nearest_rank(sorted: &[u32], fraction: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::pool::fixture::shares;

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
    fn states_and_waits_fall_into_time_categories() {
        let cases = [
            ("active", None, Some(TimeCategory::Cpu)),
            ("fastpath function call", None, Some(TimeCategory::Cpu)),
            ("active", Some("IO"), Some(TimeCategory::Io)),
            ("active", Some("Lock"), Some(TimeCategory::Lock)),
            ("active", Some("LWLock"), Some(TimeCategory::Lock)),
            ("active", Some("Client"), Some(TimeCategory::Client)),
            ("active", Some("Timeout"), Some(TimeCategory::Other)),
            ("active", Some("IPC"), Some(TimeCategory::Other)),
            (
                "idle in transaction",
                Some("Client"),
                Some(TimeCategory::Client),
            ),
            (
                "idle in transaction (aborted)",
                None,
                Some(TimeCategory::Client),
            ),
            ("idle", Some("Client"), Some(TimeCategory::Idle)),
            ("unknown", None, None),
            ("disabled", None, None),
        ];
        for (state, wait, expected) in cases {
            assert_eq!(TimeCategory::of(state, wait), expected, "{state} {wait:?}");
        }
    }

    #[test]
    fn time_shares_add_up_and_held_shares_leave_idle_out() {
        let t = shares(4, 1, 0, 3, 0, 2);
        assert_eq!(t.session_samples, 10);
        let sum: f64 = TimeCategory::ALL.iter().map(|&c| t.get(c)).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!((t.of_held(TimeCategory::Cpu) - 0.5).abs() < 1e-9);
        assert!((t.of_held(TimeCategory::Client) - 0.375).abs() < 1e-9);
        assert_eq!(t.of_held(TimeCategory::Idle), 0.0);
        assert_eq!(
            t.summary(),
            "CPU 40%, I/O 10%, locks 0%, client 30%, other waits 0%, idle 20%"
        );
        assert_eq!(shares(0, 0, 0, 0, 0, 0).of_held(TimeCategory::Cpu), 0.0);
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
