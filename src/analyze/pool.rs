//! The connection-pool verdict: pure arithmetic over the sampled window.
//!
//! Budget = max_connections − superuser_reserved_connections − reserved_connections.
//! Per application, Little's law L = λ × W gives the connections its throughput
//! needs; the recommendation is ceil(max(observed held p95, L) × 1.5), clamped
//! to [1, the application's share of the budget] (and to cores × 2 + 1 when the
//! server's cores are known).
//!
//! Where the sessions' time goes (CPU, I/O, locks, the client, idle) decides what
//! limits the application ([`Limit`]). Whenever something does — the server's
//! cores, lock waits, connections held by an idle client, the disks, or a pool
//! that is full while the server's capacity is unknown — or L only echoes the
//! pool's own size (a closed loop), the recommendation is never above today's pool:
//! more sessions would queue inside the server instead of in the application.

use super::finding::{Finding, Severity};
use super::rule::RuleId;
use crate::snapshot::{PoolWindow, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;

/// Spare capacity on top of what the numbers say is needed.
pub const HEADROOM: f64 = 1.5;

/// Idle in transaction for less than this is client round-trip latency, not a finding.
pub const IDLE_IN_TRANSACTION_MIN_SECONDS: f64 = 1.0;

/// A transaction older than this, held idle, makes the finding high.
pub const IDLE_IN_TRANSACTION_HIGH_SECONDS: f64 = 60.0;

/// The idle-in-transaction guard set per role: long enough for any honest
/// round trip, short enough that a forgotten transaction frees its connection.
pub const IDLE_IN_TRANSACTION_GUARD_SECONDS: u32 = 60;

/// "Most samples": a pool full, or cores oversubscribed, in more than this share.
pub const MOST_SAMPLES: f64 = 0.5;

/// L within this many connections of the pool's size only echoes the pool (closed loop).
pub const CLOSED_LOOP_MARGIN: f64 = 2.0;

/// Lock waits at this share of held time make more sessions counterproductive.
pub const LOCK_LIMIT_SHARE: f64 = 0.3;

/// Client time at this share of held time: the application, not the pool, is the limit.
pub const CLIENT_LIMIT_SHARE: f64 = 0.5;

/// I/O waits at this share of held time: the disks are the limit.
pub const IO_LIMIT_SHARE: f64 = 0.5;

/// A secondary share worth a line of advice: this much of the held time...
pub const NOTABLE_SHARE: f64 = 0.2;

/// ...and this much of all session time (a mostly idle pool's few busy
/// moments are not worth a line).
pub const NOTABLE_SESSION_SHARE: f64 = 0.05;

/// Bounds of the wait for a connection: a few seconds, never minutes.
pub const ACQUIRE_TIMEOUT_MIN_SECONDS: u32 = 2;
pub const ACQUIRE_TIMEOUT_MAX_SECONDS: u32 = 5;

/// A request that waited this many transactions' time for a connection is queueing.
pub const ACQUIRE_TIMEOUT_TRANSACTIONS: f64 = 30.0;

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

/// What limits the application. Lock waits first (more sessions feed them),
/// then the server's cores, then the application itself, then the disks; a
/// pool full for no visible reason is named as such.
pub fn limit_of(load: &Load) -> Limit {
    let held = |c| load.time.of_held(c);
    if load.time.idle >= 1.0 || load.time.session_samples == 0 {
        return Limit::None;
    }
    if held(TimeCategory::Lock) >= LOCK_LIMIT_SHARE {
        Limit::Locks
    } else if load.over_cores.is_some_and(|s| s > MOST_SAMPLES) {
        Limit::ServerCpu
    } else if held(TimeCategory::Client) >= CLIENT_LIMIT_SHARE {
        Limit::Client
    } else if held(TimeCategory::Io) >= IO_LIMIT_SHARE {
        Limit::Io
    } else if load.pool_full > MOST_SAMPLES {
        Limit::PoolFull
    } else {
        Limit::None
    }
}

/// Whether L only measures the concurrency a closed loop offers: within
/// [`CLOSED_LOOP_MARGIN`] connections of the pool's size.
pub fn is_closed_loop(concurrency: f64, pool_size: Option<u32>) -> bool {
    pool_size.is_some_and(|p| p > 0 && concurrency >= f64::from(p) - CLOSED_LOOP_MARGIN)
}

/// The recommendation: Little's law with headroom, clamped to the budget share
/// and cores, and never above today's pool when something limits it or L
/// only echoes the pool.
pub fn recommend(
    raw: u32,
    share: u32,
    cores: Option<u32>,
    limit: Limit,
    closed_loop: bool,
    pool_size: Option<u32>,
) -> u32 {
    let size = clamp_size(raw, share, cores);
    match pool_size {
        Some(p) if p > 0 && (limit != Limit::None || closed_loop) => size.min(p),
        _ => size,
    }
}

/// Seconds an application should wait for a pooled connection before failing:
/// [`ACQUIRE_TIMEOUT_TRANSACTIONS`] × W, kept within a few seconds.
pub fn acquire_timeout_seconds(held_ms: Option<f64>) -> u32 {
    let secs = held_ms.map_or(0.0, |ms| ms * ACQUIRE_TIMEOUT_TRANSACTIONS / 1000.0);
    (secs.ceil() as u32).clamp(ACQUIRE_TIMEOUT_MIN_SECONDS, ACQUIRE_TIMEOUT_MAX_SECONDS)
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
/// usual in-use count (`in_use_p50`) open when idle, waiting at most
/// `timeout_s` for a connection, and the idle-in-transaction guard for `roles`.
/// `clients` is how many connections the application opens today: behind
/// PgBouncer they stay its clients (`max_client_conn` must admit them all,
/// or a smaller server pool turns into refused connections).
fn client_settings(
    total: u32,
    clients: u32,
    instances: u32,
    in_use_p50: u32,
    timeout_s: u32,
    roles: &[String],
) -> BTreeMap<Library, String> {
    let instances = instances.max(1);
    let size = total.div_ceil(instances).max(1);
    let min_idle = in_use_p50.div_ceil(instances).clamp(1, size);
    let timeout_ms = u64::from(timeout_s) * 1000;
    let guard = IDLE_IN_TRANSACTION_GUARD_SECONDS;
    let role_guard = if roles.is_empty() {
        // The role was not visible: the statement still reads as the one to run.
        format!("ALTER ROLE application_role SET idle_in_transaction_session_timeout = '{guard}s';")
    } else {
        roles
            .iter()
            .map(|r| {
                format!(
                    "ALTER ROLE {} SET idle_in_transaction_session_timeout = '{guard}s';",
                    crate::ident::quote(r)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pairs = [
        (
            Library::Hikaricp,
            format!("maximumPoolSize={size}\nminimumIdle={min_idle}\nconnectionTimeout={timeout_ms}"),
        ),
        (
            Library::Sqlalchemy,
            format!("pool_size={size}, max_overflow=0, pool_timeout={timeout_s}"),
        ),
        (
            Library::GoDatabaseSql,
            format!(
                "db.SetMaxOpenConns({size})\ndb.SetMaxIdleConns({min_idle})\ndb.SetConnMaxIdleTime(5 * time.Minute)\n\
                 // database/sql has no wait timeout for a connection: bound each call with a deadline\n\
                 ctx, cancel := context.WithTimeout(ctx, {timeout_s}*time.Second); defer cancel(); db.QueryContext(ctx, ...)"
            ),
        ),
        (
            Library::Sqlx,
            format!(
                "PgPoolOptions::new().max_connections({size}).min_connections({min_idle}).acquire_timeout(Duration::from_secs({timeout_s}))"
            ),
        ),
        (
            Library::Deadpool,
            format!("max_size = {size}\ntimeouts.wait = {{ secs = {timeout_s}, nanos = 0 }}"),
        ),
        (
            Library::NodePostgres,
            format!("new Pool({{ max: {size}, connectionTimeoutMillis: {timeout_ms} }})"),
        ),
        (
            Library::Pgbouncer,
            format!(
                "default_pool_size = {total}\nmax_client_conn = {}\nquery_wait_timeout = {timeout_s}",
                size.saturating_mul(instances).max(total).max(clients)
            ),
        ),
        (Library::Postgresql, role_guard),
    ];
    pairs.into_iter().collect()
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

/// `part` of `whole` as a share (0 when there is nothing).
fn fraction(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// What [`advice`] needs to know about one application.
pub struct AdviceContext<'a> {
    pub name: &'a str,
    pub limit: Limit,
    pub time: &'a TimeShares,
    pub pool_size: Option<u32>,
    pub pool_full: f64,
    pub recommended: u32,
    pub cores: Option<u32>,
    pub on_cpu_p50: u32,
    pub closed_loop: bool,
    pub acquire_timeout: u32,
    pub index_proposals: &'a [String],
}

/// What to do, most important first: the limit's own advice, then any other
/// share of held time worth a line.
pub fn advice(cx: &AdviceContext) -> Vec<String> {
    let pct = |c| cx.time.of_held(c) * 100.0;
    let notable =
        |c| cx.time.of_held(c) >= NOTABLE_SHARE && cx.time.get(c) >= NOTABLE_SESSION_SHARE;
    let pool = cx
        .pool_size
        .map_or_else(|| "today's pool".to_string(), |p| format!("today's {p}"));
    let backpressure = format!(
        "bound the wait for a connection ({} s, in each library's settings) so a burst fails fast \
         or queues in the application instead of inside the server",
        cx.acquire_timeout
    );
    let slow_statements = if cx.index_proposals.is_empty() {
        "make the slow statements cheaper (the top statements by total time in pg_stat_statements)"
            .to_string()
    } else {
        format!(
            "make the slow statements cheaper: this scan proposes {} index{} ({}) that cut the time each transaction holds its connection",
            cx.index_proposals.len(),
            if cx.index_proposals.len() == 1 { "" } else { "es" },
            cx.index_proposals.join(", ")
        )
    };
    let mut lines = Vec::new();
    match cx.limit {
        Limit::ServerCpu => lines.push(format!(
            "The server's CPU is the limit: {} sessions on CPU (server-wide p50) for {} cores in most samples. \
             More connections only queue for a core inside the server and slow every statement. \
             Keep the pool at {} or below; {backpressure}; with many instances, put PgBouncer in \
             transaction mode in front of the server; {slow_statements}.",
            cx.on_cpu_p50,
            cx.cores.unwrap_or(0),
            cx.recommended
        )),
        Limit::Locks => lines.push(format!(
            "Lock waits are {:.0}% of the time {} holds its connections: its sessions wait on each \
             other's locks, and more sessions make the queue longer. Do not grow the pool; find the \
             blockers (pg_blocking_pids), keep the transactions that take the hot locks short, and \
             take rows in a consistent order; {backpressure}.",
            pct(TimeCategory::Lock),
            cx.name
        )),
        Limit::Client => lines.push(format!(
            "{} holds connections it does not use: {:.0}% of the held time is on the client \
             (idle in transaction, or waiting for the next statement). Fix the application, not \
             the pool: commit before slow work (remote calls, file I/O, sleeps), keep transactions \
             short, and set the idle-in-transaction guard for its role (the postgresql setting). \
             A bigger pool would be held idle the same way.",
            cx.name,
            pct(TimeCategory::Client)
        )),
        Limit::Io => lines.push(format!(
            "I/O waits are {:.0}% of the held time: the disks are the limit, and more sessions queue \
             on them. Keep the pool at {pool} or below; {slow_statements}; check that the working set \
             fits shared_buffers; {backpressure}.",
            pct(TimeCategory::Io)
        )),
        Limit::PoolFull => lines.push(format!(
            "The pool is fully busy in {:.0}% of samples. Whether the server has idle cores is not \
             known (no --db-cores), so a bigger pool is not advised: keep {pool}; {backpressure}; \
             with many instances, put PgBouncer in transaction mode in front of the server; \
             {slow_statements}.",
            cx.pool_full * 100.0
        )),
        Limit::None => lines.push(
            "The pool has room: nothing in the window limits it, and Little's law sizes it.".into(),
        ),
    }
    if cx.limit != Limit::Client && notable(TimeCategory::Client) {
        lines.push(format!(
            "{:.0}% of the held time is on the client (idle in transaction or waiting for the next \
             statement): shorter transactions free connections without a bigger pool.",
            pct(TimeCategory::Client)
        ));
    }
    if cx.limit != Limit::Locks && notable(TimeCategory::Lock) {
        lines.push(format!(
            "{:.0}% of the held time waits on locks: more sessions would lengthen those waits.",
            pct(TimeCategory::Lock)
        ));
    }
    if cx.closed_loop && cx.limit == Limit::None {
        lines.push(format!(
            "L is within {CLOSED_LOOP_MARGIN} connections of the pool: it measures how many clients \
             the pool lets in (a closed loop), not a need, so the recommendation stays at {pool} or below."
        ));
    }
    lines
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
        host_cores: None,
    };
    let window = snapshot.pool_window.as_ref().unwrap_or(&empty);
    // Cores as given win; else those pgadvise counted on the server's own machine.
    let (cores, cores_source) = match (options.db_cores, window.host_cores) {
        (Some(c), _) => (Some(c), Some(CoresSource::Given)),
        (None, Some(c)) => (Some(c), Some(CoresSource::Detected)),
        (None, None) => (None, None),
    };

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
    let category =
        |c: &crate::snapshot::StateCount| TimeCategory::of(&c.state, c.wait_event_type.as_deref());
    // Per sample, the application's sessions in categories `pick` accepts.
    let series_of = |name: &str, pick: &dyn Fn(TimeCategory) -> bool| -> Vec<u32> {
        window
            .samples
            .iter()
            .map(|s| {
                s.counts
                    .iter()
                    .filter(|c| c.application_name == name && category(c).is_some_and(pick))
                    .map(|c| c.sessions)
                    .sum()
            })
            .collect()
    };
    let is_active = |s: &str| s == "active" || s == "fastpath function call";
    let is_idle = |s: &str| s == "idle";
    let is_iit = |s: &str| s.starts_with("idle in transaction");
    let all_active: u64 = window
        .samples
        .iter()
        .flat_map(|s| &s.counts)
        .filter(|c| is_active(&c.state))
        .map(|c| u64::from(c.sessions))
        .sum();

    // What the server's cores run: sessions on CPU in every database.
    let on_cpu: Vec<u32> = window
        .samples
        .iter()
        .map(|s| {
            s.counts
                .iter()
                .chain(&s.elsewhere)
                .filter(|c| category(c) == Some(TimeCategory::Cpu))
                .map(|c| c.sessions)
                .sum()
        })
        .collect();
    let over_cores = cores.map(|cores| {
        let over = on_cpu.iter().filter(|&&n| n > cores).count();
        fraction(over, on_cpu.len())
    });
    let server_on_cpu = Spread::of(on_cpu);
    let cores_note = cores.is_none().then(|| {
        "no CPU cap applied: the server's cores are not known (pgadvise counts them only \
         on the server's own machine); pass --db-cores N \
         (or db_cores = N under [pool] in pgadvise.toml) to cap pools at N × 2 + 1 \
         and to see whether the server runs more sessions than it has cores"
            .to_string()
    });
    let acquire_timeout = acquire_timeout_seconds(held_ms);

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
        let declared_pool = options.declared.iter().find(|d| &d.name == name);
        let active = series(name, is_active);
        let app_active: u64 = active.iter().map(|&n| u64::from(n)).sum();
        let observed = Observed {
            active: Spread::of(active),
            idle: Spread::of(series(name, is_idle)),
            idle_in_transaction: Spread::of(series(name, is_iit)),
        };
        let mut by_category: BTreeMap<TimeCategory, u64> = BTreeMap::new();
        let mut roles: Vec<String> = Vec::new();
        for c in window.samples.iter().flat_map(|s| &s.counts) {
            if &c.application_name != name {
                continue;
            }
            if let Some(cat) = category(c) {
                *by_category.entry(cat).or_default() += u64::from(c.sessions);
            }
            if let Some(user) = &c.user {
                if !roles.contains(user) {
                    roles.push(user.clone());
                }
            }
        }
        roles.sort();
        let time = TimeShares::from_counts(&by_category);

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
        let held_series = series_of(name, &TimeCategory::holds);
        let idle_series = series_of(name, &|c| c == TimeCategory::Idle);
        let held = Spread::of(held_series.clone());
        // Today's pool: as declared, else every connection seen open at once.
        let pool_size = match declared_pool {
            Some(d) => Some(d.total()),
            None => held_series
                .iter()
                .zip(&idle_series)
                .map(|(h, i)| h + i)
                .max()
                .filter(|&n| n > 0),
        };
        // Full: every declared connection held; undeclared, none left idle.
        let full = held_series
            .iter()
            .zip(&idle_series)
            .filter(|&(&h, &i)| match declared_pool {
                Some(d) => h >= d.total(),
                None => i == 0 && h > 0,
            })
            .count();
        let pool_full = fraction(full, held_series.len());
        let load = Load {
            time,
            pool_full,
            over_cores,
        };
        let limit = limit_of(&load);
        let closed_loop = concurrency > 0.0 && is_closed_loop(concurrency, pool_size);

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
        match cores {
            Some(cores) => steps.push(format!("cores cap {cores} × 2 + 1 = {}", cores_cap(cores))),
            None => steps.push("no cores cap (--db-cores not given)".into()),
        }
        steps.push(format!("time: {}", time.summary()));
        if let Some(p) = pool_size {
            steps.push(format!(
                "pool of {p} fully busy in {:.0}% of samples",
                pool_full * 100.0
            ));
        }
        if let (Some(cores), Some(over)) = (cores, over_cores) {
            steps.push(format!(
                "more sessions on CPU than {cores} cores in {:.0}% of samples (server-wide p50 {})",
                over * 100.0,
                server_on_cpu.p50
            ));
        }
        if closed_loop {
            if let Some(p) = pool_size {
                steps.push(format!(
                    "L {concurrency:.3} is within {CLOSED_LOOP_MARGIN} connections of the pool's {p}: \
                     in a closed loop (each client waits for its previous transaction) L measures \
                     the concurrency the pool offers, not a need"
                ));
            }
        }
        let recommended = recommend(raw, share, cores, limit, closed_loop, pool_size);
        steps.push(format!("limit: {}", limit.label()));
        if let Some(p) = pool_size {
            if recommended < clamp_size(raw, share, cores) {
                steps.push(format!("not above today's pool {p}"));
            }
        }
        steps.push(format!("recommended {recommended}"));
        steps.push(format!(
            "acquire timeout {acquire_timeout} s (W × {ACQUIRE_TIMEOUT_TRANSACTIONS}, within \
             {ACQUIRE_TIMEOUT_MIN_SECONDS}–{ACQUIRE_TIMEOUT_MAX_SECONDS} s)"
        ));
        let advice = advice(&AdviceContext {
            name,
            limit,
            time: &time,
            pool_size,
            pool_full,
            recommended,
            cores,
            on_cpu_p50: server_on_cpu.p50,
            closed_loop,
            acquire_timeout,
            index_proposals: &options.index_proposals,
        });
        let instances = declared_pool.map_or(1, |d| d.instances);
        let in_use_p50 = observed.active.p50 + observed.idle.p50 + observed.idle_in_transaction.p50;
        let clients = declared_pool.map_or(recommended, |d| d.total());
        let settings = client_settings(
            recommended,
            clients,
            instances,
            in_use_p50,
            acquire_timeout,
            &roles,
        );
        applications.push(ApplicationVerdict {
            name: name.clone(),
            declared: declared_pool.map(|d| Declared {
                instances: d.instances,
                size: d.size,
                total: d.total(),
            }),
            observed,
            time,
            pool_size,
            pool_full_share: pool_full,
            limit,
            advice,
            recommended_size: recommended,
            arithmetic: steps.join("; "),
            acquire_timeout_seconds: acquire_timeout,
            roles,
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
            rule: RuleId::PoolBudgetExceeded,
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
            rule: RuleId::ConnectionsNearLimit,
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
    if let Some(cores) = cores {
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
                rule: RuleId::PoolBeyondCores,
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
                rule: RuleId::PoolOversized,
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

    for app in &applications {
        let saturated = app.pool_full_share > MOST_SAMPLES || app.limit == Limit::ServerCpu;
        if !saturated {
            continue;
        }
        findings.push(Finding {
            rule: RuleId::PoolSaturated,
            object: format!("application:{}", app.name),
            queryid: None,
            fix: app.advice.first().cloned(),
            severity: Severity::Medium,
            title: format!(
                "{}: pool fully busy in {:.0}% of samples; limit: {}",
                app.name,
                app.pool_full_share * 100.0,
                app.limit.label()
            ),
            detail: format!(
                "Time: {}. Recommended {} (not above today's pool). {}",
                app.time.summary(),
                app.recommended_size,
                app.arithmetic
            ),
            evidence: serde_json::json!({
                "application": app.name,
                "limit": app.limit,
                "pool_size": app.pool_size,
                "pool_full_share": app.pool_full_share,
                "time": app.time,
                "recommended_size": app.recommended_size,
            }),
        });
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
            rule: RuleId::IdleInTransaction,
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
        db_cores: cores,
        cores_source,
        cores_note,
        server_on_cpu,
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
    fn settings_are_per_instance_and_bound_the_wait() {
        // 10 connections over 4 instances: ceil(10 / 4) = 3 each; 5 in use over 4 → 2 idle kept.
        let s = client_settings(
            10,
            10,
            4,
            5,
            2,
            &["app".to_string(), "Odd Role".to_string()],
        );
        // A pool made smaller keeps admitting the clients the application opens.
        let shrunk = client_settings(5, 8, 1, 3, 2, &[]);
        assert!(
            shrunk[&Library::Pgbouncer].contains("default_pool_size = 5\nmax_client_conn = 8\n")
        );
        let cases = [
            (
                Library::Hikaricp,
                "maximumPoolSize=3\nminimumIdle=2\nconnectionTimeout=2000",
            ),
            (Library::Sqlalchemy, "pool_size=3, max_overflow=0, pool_timeout=2"),
            (
                Library::Pgbouncer,
                "default_pool_size = 10\nmax_client_conn = 12\nquery_wait_timeout = 2",
            ),
            (
                Library::NodePostgres,
                "new Pool({ max: 3, connectionTimeoutMillis: 2000 })",
            ),
            (
                Library::Sqlx,
                "PgPoolOptions::new().max_connections(3).min_connections(2).acquire_timeout(Duration::from_secs(2))",
            ),
            (
                Library::Deadpool,
                "max_size = 3\ntimeouts.wait = { secs = 2, nanos = 0 }",
            ),
            (
                Library::Postgresql,
                "ALTER ROLE app SET idle_in_transaction_session_timeout = '60s';\n\
                 ALTER ROLE \"Odd Role\" SET idle_in_transaction_session_timeout = '60s';",
            ),
        ];
        for (library, expected) in cases {
            assert_eq!(s[&library], expected, "{library:?}");
        }
        // Go's pool has no wait timeout: the snippet says so and uses a deadline.
        let go = &s[&Library::GoDatabaseSql];
        assert!(
            go.contains("no wait timeout")
                && go.contains("context.WithTimeout(ctx, 2*time.Second)"),
            "{go}"
        );
        // The JSON keys stay the documented strings.
        let json = serde_json::to_value(&s).unwrap();
        for library in s.keys() {
            assert!(json.get(library.as_str()).is_some(), "{json}");
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

    fn shares(cpu: u64, io: u64, lock: u64, client: u64, other: u64, idle: u64) -> TimeShares {
        let counts = [
            (TimeCategory::Cpu, cpu),
            (TimeCategory::Io, io),
            (TimeCategory::Lock, lock),
            (TimeCategory::Client, client),
            (TimeCategory::Other, other),
            (TimeCategory::Idle, idle),
        ];
        TimeShares::from_counts(&counts.into_iter().collect())
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
    fn the_limit_follows_where_the_time_goes() {
        // (cpu, io, lock, client, other, idle), pool full share, over cores → limit
        let cases = [
            // 8 sessions on CPU in most samples, 2 cores.
            ((90, 0, 0, 10, 0, 0), 0.95, Some(0.9), Limit::ServerCpu),
            // The same without cores: the pool is full, the server unknown.
            ((90, 0, 0, 10, 0, 0), 0.95, None, Limit::PoolFull),
            // Locks beat everything: more sessions only lengthen the queue.
            ((20, 0, 60, 20, 0, 0), 1.0, Some(0.9), Limit::Locks),
            ((50, 0, 30, 20, 0, 0), 0.2, None, Limit::Locks),
            // Mostly idle in transaction: the application.
            ((10, 0, 0, 80, 0, 10), 1.0, None, Limit::Client),
            ((10, 0, 0, 50, 0, 40), 0.0, Some(0.0), Limit::Client),
            // Mostly reads.
            ((20, 70, 0, 10, 0, 0), 0.3, None, Limit::Io),
            // Room: a few busy among many idle connections.
            ((5, 0, 0, 1, 4, 90), 0.0, Some(0.0), Limit::None),
            // Nothing seen at all.
            ((0, 0, 0, 0, 0, 0), 0.0, None, Limit::None),
            ((0, 0, 0, 0, 0, 10), 0.0, None, Limit::None),
            // Cores oversubscribed in under half the samples: not the limit.
            ((90, 0, 0, 10, 0, 0), 0.4, Some(0.5), Limit::None),
        ];
        for ((cpu, io, lock, client, other, idle), pool_full, over_cores, expected) in cases {
            let load = Load {
                time: shares(cpu, io, lock, client, other, idle),
                pool_full,
                over_cores,
            };
            assert_eq!(limit_of(&load), expected, "{load:?}");
        }
    }

    #[test]
    fn a_limited_or_closed_loop_pool_never_grows() {
        // (raw, share, cores, limit, closed loop, today's pool) → recommended
        let cases = [
            // The pgbench: L 7.46 on a pool of 8, ×1.5 = 12: capped at 8.
            (12, 97, None, Limit::PoolFull, true, Some(8), 8),
            (12, 97, Some(2), Limit::ServerCpu, true, Some(8), 5),
            (6, 97, None, Limit::Locks, false, Some(4), 4),
            (5, 97, None, Limit::Client, false, Some(3), 3),
            (12, 97, None, Limit::Io, false, Some(8), 8),
            // Closed loop alone caps too.
            (12, 97, None, Limit::None, true, Some(8), 8),
            // Room and no echo: Little's law with headroom decides.
            (5, 97, None, Limit::None, false, Some(80), 5),
            (12, 97, None, Limit::None, false, Some(8), 12),
            // Shrinking is always allowed.
            (3, 97, None, Limit::PoolFull, false, Some(8), 3),
            // Today's pool unknown: only the clamps apply.
            (12, 97, None, Limit::PoolFull, false, None, 12),
        ];
        for (raw, share, cores, limit, closed, pool, expected) in cases {
            assert_eq!(
                recommend(raw, share, cores, limit, closed, pool),
                expected,
                "raw {raw}, cores {cores:?}, {limit:?}, closed {closed}, pool {pool:?}"
            );
        }
    }

    #[test]
    fn closed_loop_and_acquire_timeout_by_hand() {
        let loops = [
            (7.46, Some(8), true),
            (6.0, Some(8), true),
            (5.9, Some(8), false),
            (0.2, Some(80), false),
            (7.46, None, false),
            (1.0, Some(0), false),
        ];
        for (l, pool, expected) in loops {
            assert_eq!(is_closed_loop(l, pool), expected, "L {l}, pool {pool:?}");
        }
        // W × 30, within 2..=5 s.
        let timeouts = [
            (None, 2),
            (Some(2.26), 2),
            (Some(101.6), 4),
            (Some(250.0), 5),
            (Some(60_000.0), 5),
        ];
        for (w, expected) in timeouts {
            assert_eq!(acquire_timeout_seconds(w), expected, "W {w:?}");
        }
    }

    #[test]
    fn advice_names_the_limit_and_what_to_do_instead() {
        let indexes = ["orders_customer_id_idx".to_string()];
        let cases = [
            (
                Limit::ServerCpu,
                shares(90, 0, 0, 10, 0, 0),
                &indexes[..],
                vec![
                    "CPU is the limit",
                    "PgBouncer in transaction mode",
                    "orders_customer_id_idx",
                    "2 s",
                ],
            ),
            (
                Limit::PoolFull,
                shares(90, 0, 0, 10, 0, 0),
                &[][..],
                vec!["fully busy", "--db-cores", "pg_stat_statements"],
            ),
            (
                Limit::Locks,
                shares(10, 0, 80, 10, 0, 0),
                &[][..],
                vec!["Lock waits are 80%", "Do not grow the pool"],
            ),
            (
                Limit::Client,
                shares(10, 0, 0, 80, 0, 10),
                &[][..],
                vec![
                    "89% of the held time is on the client",
                    "Fix the application, not the pool",
                    "idle-in-transaction guard",
                ],
            ),
            (
                Limit::Io,
                shares(20, 70, 0, 10, 0, 0),
                &indexes[..],
                vec!["disks are the limit", "orders_customer_id_idx"],
            ),
            (
                Limit::None,
                shares(5, 0, 0, 1, 4, 90),
                &[][..],
                vec!["has room"],
            ),
        ];
        for (limit, time, proposals, expected) in cases {
            let lines = advice(&AdviceContext {
                name: "api",
                limit,
                time: &time,
                pool_size: Some(8),
                pool_full: 0.9,
                recommended: 5,
                cores: Some(2),
                on_cpu_p50: 8,
                closed_loop: false,
                acquire_timeout: 2,
                index_proposals: proposals,
            });
            let text = lines.join(" | ");
            for needle in expected {
                assert!(text.contains(needle), "{limit:?}: {needle:?} not in {text}");
            }
        }
        // A secondary share gets its own line.
        let time = shares(50, 0, 25, 25, 0, 0);
        let lines = advice(&AdviceContext {
            name: "api",
            limit: Limit::ServerCpu,
            time: &time,
            pool_size: Some(8),
            pool_full: 0.9,
            recommended: 5,
            cores: Some(2),
            on_cpu_p50: 8,
            closed_loop: false,
            acquire_timeout: 2,
            index_proposals: &[],
        });
        assert_eq!(lines.len(), 3, "{lines:#?}");
        // Half of a mostly idle pool's held time is not worth a line.
        let time = shares(1, 0, 0, 1, 0, 98);
        let lines = advice(&AdviceContext {
            name: "api",
            limit: Limit::None,
            time: &time,
            pool_size: Some(8),
            pool_full: 0.0,
            recommended: 2,
            cores: None,
            on_cpu_p50: 0,
            closed_loop: false,
            acquire_timeout: 2,
            index_proposals: &[],
        });
        assert_eq!(lines.len(), 1, "{lines:#?}");
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
