//! pgadvise: a PostgreSQL performance advisor.
//!
//! The pipeline runs in one direction: [`collect`] reads a live server into a
//! [`snapshot::Snapshot`], [`analyze`] turns the snapshot into advice, and `emit`
//! renders it. Each stage owns its data and hands it forward.

pub mod analyze;
pub mod cli;
pub mod cluster;
pub mod collect;
pub mod command;
pub mod config;
pub mod demo;
pub mod diff;
pub mod emit;
pub mod error;
pub mod fleet;
pub mod format;
mod hash;
pub mod ident;
pub mod pipeline;
pub mod run;
pub mod settings;
pub mod snapshot;
pub mod units;
pub mod verification_plan;
pub mod verify;
