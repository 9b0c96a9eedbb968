//! Whether two snapshots can be compared at all: the same database of the
//! same server, NEW not taken before OLD.

use super::time::epoch_seconds;
use crate::snapshot::Snapshot;

/// Why a pair of snapshots is not compared. Counters of two databases, or
/// two servers, have nothing to do with each other: subtracting them would
/// report noise as change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiffRefusal {
    #[error(
        "the snapshots are of different databases: OLD is of \"{old}\", NEW of \"{new}\"; \
         compare two snapshots of the same database"
    )]
    DifferentDatabase { old: String, new: String },
    #[error(
        "the snapshots are of different servers: OLD's system identifier is {old}, NEW's {new} \
         (another cluster, or one restored or upgraded in between); its counters are not comparable"
    )]
    DifferentServer { old: String, new: String },
    #[error(
        "the snapshots are of two different databases named \"{database}\" (oid {old} in OLD, \
         {new} in NEW: dropped and created again, or on another server); its counters are not comparable"
    )]
    DifferentDatabaseOid {
        database: String,
        old: u32,
        new: u32,
    },
    #[error(
        "NEW ({new}) was taken before OLD ({old}): give the older snapshot first (pgadvise diff OLD NEW)"
    )]
    NewIsOlder { old: String, new: String },
}

/// Refuses a pair that is not one database over time. Identity fields
/// missing from an older snapshot are not held against it.
pub fn check_pair(old: &Snapshot, new: &Snapshot) -> Result<(), DiffRefusal> {
    let (o, n) = (&old.source, &new.source);
    if let (Some(a), Some(b)) = (&o.system_identifier, &n.system_identifier) {
        if a != b {
            return Err(DiffRefusal::DifferentServer {
                old: a.clone(),
                new: b.clone(),
            });
        }
    }
    if o.database != n.database {
        return Err(DiffRefusal::DifferentDatabase {
            old: o.database.clone(),
            new: n.database.clone(),
        });
    }
    if let (Some(a), Some(b)) = (o.database_oid, n.database_oid) {
        if a != b {
            return Err(DiffRefusal::DifferentDatabaseOid {
                database: o.database.clone(),
                old: a,
                new: b,
            });
        }
    }
    if let (Some(a), Some(b)) = (
        epoch_seconds(&old.collected_at),
        epoch_seconds(&new.collected_at),
    ) {
        if b < a {
            return Err(DiffRefusal::NewIsOlder {
                old: old.collected_at.clone(),
                new: new.collected_at.clone(),
            });
        }
    }
    Ok(())
}
