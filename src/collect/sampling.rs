//! Watching pg_stat_activity over a window, for the pool verdict.
//!
//! Runs on the collector's own read-only session: one small query per sample,
//! aggregated here so memory stays bounded whatever the window.

use super::activity::database_stats;
use super::mask::mask_literals;
use super::{iso, CollectError, SQL_TAG};
use crate::snapshot::{ActivityCounts, IdleInTransaction, PoolWindow, StateCount};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// Time between samples when the window allows it.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// At most this many samples are kept; longer windows sample less often.
pub const MAX_SAMPLES: u32 = 6_000;

/// The interval and sample count for a window: 100 ms apart, stretched so a long
/// window never keeps more than [`MAX_SAMPLES`].
pub fn schedule(window: Duration) -> (Duration, u32) {
    let interval = SAMPLE_INTERVAL.max(window / MAX_SAMPLES);
    let count = (window.as_secs_f64() / interval.as_secs_f64()).round() as u32;
    (interval, count.clamp(1, MAX_SAMPLES))
}

/// Samples pg_stat_activity for `window`, between two reads of pg_stat_database.
pub(crate) async fn watch(
    client: &Client,
    version_num: i32,
    window: Duration,
    show_progress: bool,
) -> Result<PoolWindow, CollectError> {
    let (interval, count) = schedule(window);
    // indicatif draws only when stderr is a terminal; quiet runs get none at all.
    let progress = if show_progress {
        let bar = indicatif::ProgressBar::new(u64::from(count));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "sampling connections {bar:30} {elapsed}/{msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{:.0}s", window.as_secs_f64()));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let database_start = database_stats(client, version_num).await?;
    let started_at: String = client
        .query_one(
            &format!("SELECT {SQL_TAG} {}", iso("clock_timestamp()")),
            &[],
        )
        .await
        .map_err(|e| CollectError::query("reading the clock", e))?
        .get(0);

    let mut ticker = tokio::time::interval(interval);
    // A slow sample delays the next one rather than firing a burst to catch up.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut samples = Vec::with_capacity(count as usize);
    let mut idle: BTreeMap<i32, IdleInTransaction> = BTreeMap::new();
    for _ in 0..count {
        ticker.tick().await;
        samples.push(sample(client, version_num, &mut idle).await?);
        progress.inc(1);
    }
    progress.finish_and_clear();

    let database_end = database_stats(client, version_num).await?;
    Ok(PoolWindow {
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        interval_ms: interval.as_millis() as u64,
        own_transactions: u64::from(count) + 1,
        samples,
        idle_in_transaction: idle.into_values().collect(),
        database_start,
        database_end,
        // Filled by the caller, which knows where the server is (`local_cores`).
        host_cores: None,
    })
}

/// One sample: counts per (application, role, state, wait) in this database, per
/// (state, wait) in the others, and the idle-in-transaction sessions folded into `idle`.
async fn sample(
    client: &Client,
    version_num: i32,
    idle: &mut BTreeMap<i32, IdleInTransaction>,
) -> Result<ActivityCounts, CollectError> {
    let query_id = if version_num >= 140000 {
        "query_id"
    } else {
        "NULL::int8"
    };
    let secs = |col: &str| format!("extract(epoch FROM clock_timestamp() - {col})::float8");
    // Only idle-in-transaction sessions bring their text: the others are counted, not kept.
    let sql = format!(
        "SELECT {SQL_TAG} pid, datname = current_database() AS here, \
           COALESCE(application_name, '') AS application_name, usename::text AS usr, \
           COALESCE(state, 'unknown') AS state, wait_event_type, wait_event, \
           {} AS state_seconds, {} AS xact_seconds, {query_id} AS query_id, \
           CASE WHEN state LIKE 'idle in transaction%' THEN query END AS query \
         FROM pg_stat_activity \
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        secs("state_change"),
        secs("xact_start"),
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("sampling pg_stat_activity", e))?;

    let mut counts: BTreeMap<CountKey, u32> = BTreeMap::new();
    let mut elsewhere: BTreeMap<CountKey, u32> = BTreeMap::new();
    for row in &rows {
        let state: String = row.get("state");
        let wait_event_type: Option<String> = row.get("wait_event_type");
        let wait_event: Option<String> = row.get("wait_event");
        if row.get::<_, Option<bool>>("here") != Some(true) {
            let key = (String::new(), None, state, wait_event_type, wait_event);
            *elsewhere.entry(key).or_default() += 1;
            continue;
        }
        let application_name: String = row.get("application_name");
        let user: Option<String> = row.get("usr");
        *counts
            .entry((
                application_name.clone(),
                user,
                state.clone(),
                wait_event_type,
                wait_event,
            ))
            .or_default() += 1;
        if !state.starts_with("idle in transaction") {
            continue;
        }
        let observed = IdleInTransaction {
            pid: row.get("pid"),
            application_name,
            user: row.get("usr"),
            state_seconds: row.get::<_, Option<f64>>("state_seconds").unwrap_or(0.0),
            xact_seconds: row.get::<_, Option<f64>>("xact_seconds").unwrap_or(0.0),
            query: row
                .get::<_, Option<String>>("query")
                .filter(|q| !q.is_empty())
                .map(|q| mask_literals(&q)),
            query_id: row.get("query_id"),
        };
        // Keep each pid's longest idle stretch: that is the one worth reporting.
        match idle.get(&observed.pid) {
            Some(kept) if kept.state_seconds >= observed.state_seconds => {}
            _ => {
                idle.insert(observed.pid, observed);
            }
        }
    }
    Ok(ActivityCounts {
        client_backends: rows.len() as u32,
        counts: state_counts(counts),
        elsewhere: state_counts(elsewhere),
    })
}

/// (application, role, state, wait_event_type, wait_event).
type CountKey = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

fn state_counts(counts: BTreeMap<CountKey, u32>) -> Vec<StateCount> {
    counts
        .into_iter()
        .map(
            |((application_name, user, state, wait_event_type, wait_event), sessions)| StateCount {
                application_name,
                state,
                sessions,
                user,
                wait_event_type,
                wait_event,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_samples_every_100ms_and_caps_long_windows() {
        let cases = [
            (Duration::from_secs(10), 100, 100),
            (Duration::from_secs(3), 100, 30),
            (Duration::from_millis(50), 100, 1),
            // 20 minutes: 6000 samples, 200 ms apart.
            (Duration::from_secs(1200), 200, 6000),
        ];
        for (window, interval_ms, count) in cases {
            let (interval, n) = schedule(window);
            assert_eq!(
                (interval.as_millis() as u64, n),
                (interval_ms, count),
                "{window:?}"
            );
        }
    }
}
