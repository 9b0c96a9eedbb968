//! Pure analysis: Snapshot in, advice out. Nothing here touches the network.

pub mod antipatterns;
pub mod finding;
pub mod health;
pub mod indexes;
pub mod pool;
pub mod queries;
pub mod rule;
pub mod severity;
pub mod workload;
