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
//!
//! One rule per file, each a pure function of the window or of an
//! application's verdict; the verdict itself is computed per application in
//! `application.rs`.

mod advice;
mod application;
pub mod beyond_cores;
pub mod budget_exceeded;
pub mod connections_near_limit;
pub mod idle_in_transaction;
mod model;
pub mod oversized;
mod samples;
pub mod saturated;
mod settings;
mod sizing;
mod throughput;

#[cfg(test)]
pub(crate) mod fixture;

pub use advice::{advice, AdviceContext};
pub use model::{
    ApplicationVerdict, CoresSource, Declared, DeclaredPool, Library, Limit, Load, Observed,
    PoolOptions, PoolVerdict, Spread, TimeCategory, TimeShares,
};
pub use samples::sessions_by_state;
pub use sizing::{acquire_timeout_seconds, is_closed_loop, limit_of, recommend};

use super::finding::Finding;
use crate::snapshot::{PoolWindow, Snapshot};
use application::Server;

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

/// The verdict and its findings.
pub fn verdict(snapshot: &Snapshot, options: &PoolOptions) -> (PoolVerdict, Vec<Finding>) {
    let (budget, budget_arithmetic) = budget(snapshot);
    let empty = empty_window(snapshot);
    let window = snapshot.pool_window.as_ref().unwrap_or(&empty);
    let (cores, cores_source) = cores(options.db_cores, window.host_cores);
    let names = application_names(&options.declared, window);
    let throughput = throughput::throughput(snapshot, window);

    let on_cpu = samples::on_cpu(window);
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
    let server = Server {
        window,
        options,
        budget,
        weight_sum: names
            .iter()
            .map(|n| u64::from(application::weight(window, &options.declared, n)))
            .sum(),
        cores,
        over_cores,
        on_cpu_p50: server_on_cpu.p50,
        throughput: &throughput,
        active_session_samples: samples::active_session_samples(window),
        acquire_timeout: acquire_timeout_seconds(throughput.held_ms),
    };
    let applications: Vec<ApplicationVerdict> = names
        .iter()
        .map(|name| application::verdict(&server, name))
        .collect();

    let mut findings = Vec::new();
    findings.extend(budget_exceeded::check(
        &options.declared,
        budget,
        &budget_arithmetic,
    ));
    findings.extend(connections_near_limit::check(
        window,
        budget,
        &budget_arithmetic,
    ));
    findings.extend(cores.and_then(|cores| beyond_cores::check(window, cores)));
    findings.extend(applications.iter().filter_map(oversized::check));
    findings.extend(applications.iter().filter_map(saturated::check));
    findings.extend(idle_in_transaction::check(window));

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

/// Connections applications may open, and how that was reached.
fn budget(snapshot: &Snapshot) -> (u32, String) {
    let max = setting_u32(snapshot, "max_connections");
    let superuser = setting_u32(snapshot, "superuser_reserved_connections");
    // reserved_connections exists from PostgreSQL 16; absent means 0.
    let reserved = setting_u32(snapshot, "reserved_connections");
    let budget = max.saturating_sub(superuser).saturating_sub(reserved);
    let arithmetic = format!(
        "max_connections {max} − superuser_reserved_connections {superuser} − reserved_connections {reserved} = {budget}"
    );
    (budget, arithmetic)
}

/// The window of a snapshot that sampled none: no samples, no throughput.
fn empty_window(snapshot: &Snapshot) -> PoolWindow {
    PoolWindow {
        started_at: String::new(),
        seconds: 0.0,
        interval_ms: 0,
        own_transactions: 0,
        samples: Vec::new(),
        idle_in_transaction: Vec::new(),
        database_start: snapshot.database.clone(),
        database_end: snapshot.database.clone(),
        host_cores: None,
    }
}

/// Cores as given win; else those pgadvise counted on the server's own machine.
fn cores(given: Option<u32>, detected: Option<u32>) -> (Option<u32>, Option<CoresSource>) {
    match (given, detected) {
        (Some(c), _) => (Some(c), Some(CoresSource::Given)),
        (None, Some(c)) => (Some(c), Some(CoresSource::Detected)),
        (None, None) => (None, None),
    }
}

/// Declared applications, then every named one seen in the window, in order of appearance.
fn application_names(declared: &[DeclaredPool], window: &PoolWindow) -> Vec<String> {
    let mut names: Vec<String> = declared.iter().map(|d| d.name.clone()).collect();
    for sample in &window.samples {
        for c in &sample.counts {
            if !c.application_name.is_empty() && !names.contains(&c.application_name) {
                names.push(c.application_name.clone());
            }
        }
    }
    names
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_given_win_over_cores_detected() {
        let cases = [
            (Some(4), Some(8), Some(4), Some(CoresSource::Given)),
            (Some(4), None, Some(4), Some(CoresSource::Given)),
            (None, Some(8), Some(8), Some(CoresSource::Detected)),
            (None, None, None, None),
        ];
        for (given, detected, want, source) in cases {
            assert_eq!(
                cores(given, detected),
                (want, source),
                "{given:?} {detected:?}"
            );
        }
    }

    #[test]
    fn fractions_of_nothing_are_zero() {
        let cases = [(0, 0, 0.0), (3, 0, 0.0), (1, 4, 0.25), (4, 4, 1.0)];
        for (part, whole, want) in cases {
            assert_eq!(fraction(part, whole), want, "{part}/{whole}");
        }
    }
}
