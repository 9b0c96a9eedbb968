//! How many connections an application needs: Little's law with headroom,
//! clamped, and never above today's pool when something limits it.

use super::model::{Limit, Load, TimeCategory};
use super::{
    ACQUIRE_TIMEOUT_MAX_SECONDS, ACQUIRE_TIMEOUT_MIN_SECONDS, ACQUIRE_TIMEOUT_TRANSACTIONS,
    CLIENT_LIMIT_SHARE, CLOSED_LOOP_MARGIN, HEADROOM, IO_LIMIT_SHARE, LOCK_LIMIT_SHARE,
    MOST_SAMPLES,
};

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

/// ceil(max(observed active p95, Little's L) × headroom).
pub(crate) fn with_headroom(active_p95: u32, concurrency: f64) -> u32 {
    (f64::from(active_p95).max(concurrency) * HEADROOM).ceil() as u32
}

/// Connections a server with `cores` cores serves well (effective spindles 1).
pub(crate) fn cores_cap(cores: u32) -> u32 {
    cores.saturating_mul(2).saturating_add(1)
}

/// Clamped to [1, budget share], and to the cores cap when known.
pub(crate) fn clamp_size(raw: u32, share: u32, cores: Option<u32>) -> u32 {
    let capped = raw.min(share);
    let capped = cores.map_or(capped, |c| capped.min(cores_cap(c)));
    capped.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::pool::fixture::shares;

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
}
