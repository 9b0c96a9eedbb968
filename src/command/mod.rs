//! One module per subcommand, each running on its resolved settings.
//! (`demo` lives in `crate::demo`.)

pub mod audit;
pub mod diff;
pub mod fleet;
pub mod scan;
pub mod snapshot;
pub mod verify;
