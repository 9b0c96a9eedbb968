//! Sessions per sample, read from the window's counts.

use super::model::TimeCategory;
use crate::snapshot::{PoolWindow, StateCount};

/// Running a statement (a fast-path function call is one too).
pub(crate) fn is_active(state: &str) -> bool {
    state == "active" || state == "fastpath function call"
}

pub(crate) fn is_idle(state: &str) -> bool {
    state == "idle"
}

/// Idle in transaction, aborted or not.
pub(crate) fn is_idle_in_transaction(state: &str) -> bool {
    state.starts_with("idle in transaction")
}

/// Where the counted sessions' time goes.
pub(crate) fn category(count: &StateCount) -> Option<TimeCategory> {
    TimeCategory::of(&count.state, count.wait_event_type.as_deref())
}

/// Per sample, `application`'s sessions in states `bucket` accepts.
pub(crate) fn by_state(
    window: &PoolWindow,
    application: &str,
    bucket: fn(&str) -> bool,
) -> Vec<u32> {
    per_sample(window, |c| {
        c.application_name == application && bucket(&c.state)
    })
}

/// Per sample, `application`'s sessions in categories `pick` accepts.
pub(crate) fn by_category(
    window: &PoolWindow,
    application: &str,
    pick: impl Fn(TimeCategory) -> bool,
) -> Vec<u32> {
    per_sample(window, |c| {
        c.application_name == application && category(c).is_some_and(&pick)
    })
}

/// Per sample, every session of `application`, whatever its state.
pub(crate) fn all_of(window: &PoolWindow, application: &str) -> Vec<u32> {
    per_sample(window, |c| c.application_name == application)
}

/// Per sample, the active sessions of every application in this database.
pub(crate) fn active(window: &PoolWindow) -> Vec<u32> {
    per_sample(window, |c| is_active(&c.state))
}

/// A state's label and the test that puts a session in it.
type StateBucket = (&'static str, fn(&str) -> bool);

/// The states the report draws over the window, in drawing order.
pub(crate) const DRAWN_STATES: [StateBucket; 3] = [
    ("active", is_active),
    ("idle", is_idle),
    ("idle in transaction", is_idle_in_transaction),
];

/// Per sample, the sessions of every application in this database in each of
/// [`DRAWN_STATES`]: (label, count per sample).
pub fn sessions_by_state(window: &PoolWindow) -> Vec<(&'static str, Vec<u32>)> {
    DRAWN_STATES
        .iter()
        .map(|(label, bucket)| (*label, per_sample(window, |c| bucket(&c.state))))
        .collect()
}

/// Active sessions of every application summed over the samples.
pub(crate) fn active_session_samples(window: &PoolWindow) -> u64 {
    window
        .samples
        .iter()
        .flat_map(|s| &s.counts)
        .filter(|c| is_active(&c.state))
        .map(|c| u64::from(c.sessions))
        .sum()
}

/// Per sample, sessions on CPU in every database: what the server's cores run.
pub(crate) fn on_cpu(window: &PoolWindow) -> Vec<u32> {
    window
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
        .collect()
}

/// Per sample, the sessions of this database's counts that `keep` accepts.
fn per_sample(window: &PoolWindow, keep: impl Fn(&StateCount) -> bool) -> Vec<u32> {
    window
        .samples
        .iter()
        .map(|s| {
            s.counts
                .iter()
                .filter(|c| keep(c))
                .map(|c| c.sessions)
                .sum()
        })
        .collect()
}
