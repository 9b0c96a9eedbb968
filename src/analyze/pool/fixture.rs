//! Test data shared by the pool modules' tests.

use super::model::{TimeCategory, TimeShares};

pub(crate) fn shares(
    cpu: u64,
    io: u64,
    lock: u64,
    client: u64,
    other: u64,
    idle: u64,
) -> TimeShares {
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
