//! One application's verdict: what it holds, what limits it, what size and
//! settings its pool should have, and the arithmetic behind them.

use super::advice::{advice, AdviceContext};
use super::model::{
    ApplicationVerdict, Declared, DeclaredPool, Load, Observed, PoolOptions, Spread, TimeCategory,
    TimeShares,
};
use super::samples;
use super::settings::client_settings;
use super::sizing::{clamp_size, cores_cap, is_closed_loop, limit_of, recommend, with_headroom};
use super::throughput::Throughput;
use super::{
    fraction, ACQUIRE_TIMEOUT_MAX_SECONDS, ACQUIRE_TIMEOUT_MIN_SECONDS,
    ACQUIRE_TIMEOUT_TRANSACTIONS, CLOSED_LOOP_MARGIN, HEADROOM,
};
use crate::snapshot::PoolWindow;
use std::collections::BTreeMap;

/// What every application's verdict shares: the server-wide numbers.
pub(crate) struct Server<'a> {
    pub window: &'a PoolWindow,
    pub options: &'a PoolOptions,
    pub budget: u32,
    /// The weights of every application, summed: what a budget share divides.
    pub weight_sum: u64,
    pub cores: Option<u32>,
    /// Share of samples with more sessions on CPU than cores.
    pub over_cores: Option<f64>,
    /// Sessions on CPU per sample, server-wide, p50.
    pub on_cpu_p50: u32,
    pub throughput: &'a Throughput,
    /// Active sessions of every application summed over the samples.
    pub active_session_samples: u64,
    pub acquire_timeout: u32,
}

/// An application's claim on the budget: its declared total, else the most
/// sessions it had open at once (at least 1).
pub(crate) fn weight(window: &PoolWindow, declared: &[DeclaredPool], name: &str) -> u32 {
    match declared.iter().find(|d| d.name == name) {
        Some(d) => d.total(),
        None => samples::all_of(window, name)
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(1),
    }
}

/// Today's pool and how often it was full, from the sessions held and idle per sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Occupancy {
    /// The declared total, else every connection seen open at once.
    pool_size: Option<u32>,
    /// Share of samples in which every connection of the pool was held.
    pool_full: f64,
}

fn occupancy(held: &[u32], idle: &[u32], declared: Option<&DeclaredPool>) -> Occupancy {
    let pool_size = match declared {
        Some(d) => Some(d.total()),
        None => held
            .iter()
            .zip(idle)
            .map(|(h, i)| h + i)
            .max()
            .filter(|&n| n > 0),
    };
    // Full: every declared connection held; undeclared, none left idle.
    let full = held
        .iter()
        .zip(idle)
        .filter(|&(&h, &i)| match declared {
            Some(d) => h >= d.total(),
            None => i == 0 && h > 0,
        })
        .count();
    Occupancy {
        pool_size,
        pool_full: fraction(full, held.len()),
    }
}

/// Where the application's session time went, and the roles it logged in as (sorted).
fn time_and_roles(window: &PoolWindow, name: &str) -> (TimeShares, Vec<String>) {
    let mut by_category: BTreeMap<TimeCategory, u64> = BTreeMap::new();
    let mut roles: Vec<String> = Vec::new();
    for c in window.samples.iter().flat_map(|s| &s.counts) {
        if c.application_name != name {
            continue;
        }
        if let Some(cat) = samples::category(c) {
            *by_category.entry(cat).or_default() += u64::from(c.sessions);
        }
        if let Some(user) = &c.user {
            if !roles.contains(user) {
                roles.push(user.clone());
            }
        }
    }
    roles.sort();
    (TimeShares::from_counts(&by_category), roles)
}

/// Little's L for the application, its steps pushed onto `steps`; 0 when
/// the window has no throughput or no active samples.
fn concurrency(server: &Server, active_session_samples: u64, steps: &mut Vec<String>) -> f64 {
    let throughput = server.throughput;
    match (throughput.tps, throughput.held_ms) {
        (Some(tps), Some(ms)) if server.active_session_samples > 0 => {
            let share = active_session_samples as f64 / server.active_session_samples as f64;
            let lambda = tps * share;
            let l = lambda * ms / 1000.0;
            steps.push(format!(
                "λ = {lambda:.2} tx/s (database {tps:.2} tx/s × {:.0}% of active samples: \
                 the server does not count transactions per application)",
                share * 100.0
            ));
            steps.push(throughput.held_source.clone());
            steps.push(format!("L = λ × W = {l:.3} connections"));
            if let Some(note) = &throughput.short_window_note {
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
    }
}

/// The verdict for the application named `name`.
pub(crate) fn verdict(server: &Server, name: &str) -> ApplicationVerdict {
    let window = server.window;
    let options = server.options;
    let cores = server.cores;
    let acquire_timeout = server.acquire_timeout;
    let declared_pool = options.declared.iter().find(|d| d.name == name);
    let active = samples::by_state(window, name, samples::is_active);
    let app_active: u64 = active.iter().map(|&n| u64::from(n)).sum();
    let observed = Observed {
        active: Spread::of(active),
        idle: Spread::of(samples::by_state(window, name, samples::is_idle)),
        idle_in_transaction: Spread::of(samples::by_state(
            window,
            name,
            samples::is_idle_in_transaction,
        )),
    };
    let (time, roles) = time_and_roles(window, name);

    let mut steps = Vec::new();
    let concurrency = concurrency(server, app_active, &mut steps);
    // Connections held at once: active plus idle in transaction, per sample.
    let held_series = samples::by_category(window, name, TimeCategory::holds);
    let idle_series = samples::by_category(window, name, |c| c == TimeCategory::Idle);
    let held = Spread::of(held_series.clone());
    let Occupancy {
        pool_size,
        pool_full,
    } = occupancy(&held_series, &idle_series, declared_pool);
    let load = Load {
        time,
        pool_full,
        over_cores: server.over_cores,
    };
    let limit = limit_of(&load);
    let closed_loop = concurrency > 0.0 && is_closed_loop(concurrency, pool_size);

    let raw = with_headroom(held.p95, concurrency);
    steps.push(format!(
        "ceil(max(held p95 {} (active + idle in transaction), L {concurrency:.3}) × {HEADROOM}) = {raw}",
        held.p95
    ));
    let budget = server.budget;
    let weight_sum = server.weight_sum;
    let weight = weight(window, &options.declared, name);
    let share = (u64::from(budget) * u64::from(weight))
        .checked_div(weight_sum)
        .map_or(budget, |s| s as u32);
    steps.push(format!(
        "budget share {budget} × {weight} / {weight_sum} = {share}"
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
    if let (Some(cores), Some(over)) = (cores, server.over_cores) {
        steps.push(format!(
            "more sessions on CPU than {cores} cores in {:.0}% of samples (server-wide p50 {})",
            over * 100.0,
            server.on_cpu_p50
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
        on_cpu_p50: server.on_cpu_p50,
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
    ApplicationVerdict {
        name: name.to_string(),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_reads_the_pool_from_declared_or_seen_connections() {
        let declared = DeclaredPool {
            name: "api".into(),
            instances: 2,
            size: 2,
        };
        // (held, idle per sample, declared) → (pool size, share of samples full)
        let cases = [
            (
                vec![4, 3, 4, 1],
                vec![0, 0, 0, 0],
                Some(&declared),
                Some(4),
                0.5,
            ),
            (vec![2, 3, 1, 0], vec![1, 0, 2, 0], None, Some(3), 0.25),
            (vec![0, 0], vec![0, 0], None, None, 0.0),
            (vec![], vec![], None, None, 0.0),
        ];
        for (held, idle, declared, pool_size, pool_full) in cases {
            assert_eq!(
                occupancy(&held, &idle, declared),
                Occupancy {
                    pool_size,
                    pool_full
                },
                "held {held:?}, idle {idle:?}"
            );
        }
    }
}
