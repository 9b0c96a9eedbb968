//! What to do about an application's pool, in words.

use super::model::{Limit, TimeCategory, TimeShares};
use super::{CLOSED_LOOP_MARGIN, NOTABLE_SESSION_SHARE, NOTABLE_SHARE};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::pool::fixture::shares;

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
}
