//! Everything that can stop a run, and the exit code each maps to.

use crate::cluster::ClusterError;
use crate::collect::connect::{ConnectError, ConnectErrorKind};
use crate::collect::conninfo::ConnInfoError;
use crate::collect::{CollectError, QueryFailure};
use crate::config::ConfigError;
use crate::diff::DiffRefusal;
use crate::emit::migrations::WriteError;
use crate::snapshot::SnapshotError;
use crate::verify::deployed::PlanFileError;
use crate::verify::VerifyError;
use std::path::PathBuf;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    /// `audit` found something at or above `--fail-on`.
    pub const FINDINGS: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONNECT: u8 = 3;
    pub const PREREQUISITE: u8 = 4;
    /// The server failed or the connection was lost mid-run.
    pub const SERVER: u8 = 5;
    pub const OUTPUT: u8 = 6;
    /// pgadvise's own statement_timeout or lock_timeout fired: it gave up
    /// rather than wait (retry later, or raise the timeout).
    pub const TIMEOUT: u8 = 7;
}

/// Everything that can stop a run, each with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    ConnInfo(#[from] ConnInfoError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("reading {}: {source}", path.display())]
    ReadInput {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading snapshot {}: {source}", path.display())]
    ReadSnapshot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {}: {source}", path.display())]
    BadSnapshot {
        path: PathBuf,
        source: SnapshotError,
    },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("baseline {}: {message}", path.display())]
    BadBaseline { path: PathBuf, message: String },
    #[error("rendering the report: {0}")]
    Render(String),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("writing migrations: {0}")]
    Migrations(#[from] WriteError),
    #[error(transparent)]
    PlanFiles(#[from] PlanFileError),
    #[error("verify: {0}")]
    Verify(#[from] VerifyError),
    /// Flags or input that cannot go together, said in full.
    #[error("{0}")]
    Usage(String),
    #[error("diff: {0}")]
    Diff(#[from] DiffRefusal),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::ConnInfo(_)
            | RunError::Config(_)
            | RunError::ReadInput { .. }
            | RunError::ReadSnapshot { .. }
            | RunError::BadSnapshot { .. }
            | RunError::BadBaseline { .. }
            | RunError::Usage(_) => exit::USAGE,
            RunError::Connect(e) if e.kind() == ConnectErrorKind::Config => exit::USAGE,
            RunError::Connect(_) => exit::CONNECT,
            RunError::Collect(e) => match e {
                CollectError::ServerTooOld { .. }
                | CollectError::StatementsNotPreloaded { .. }
                | CollectError::StatementsNotCreated { .. }
                | CollectError::StatementsHidden { .. } => exit::PREREQUISITE,
                CollectError::Query { kind, .. } => match kind {
                    QueryFailure::Privilege => exit::PREREQUISITE,
                    QueryFailure::Timeout | QueryFailure::LockTimeout => exit::TIMEOUT,
                    QueryFailure::ConnectionLost | QueryFailure::Other => exit::SERVER,
                },
            },
            RunError::Write { .. } | RunError::Render(_) | RunError::Migrations(_) => exit::OUTPUT,
            RunError::Demo(e) => e.exit_code(),
            RunError::PlanFiles(_) | RunError::Diff(_) => exit::USAGE,
            RunError::Verify(e) => match e {
                VerifyError::ServerTooOld { .. } => exit::PREREQUISITE,
                VerifyError::Query {
                    kind: QueryFailure::Privilege,
                    ..
                } => exit::PREREQUISITE,
                _ => exit::SERVER,
            },
        }
    }
}

/// What stops `pgadvise demo` before or around its scan.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "{0}\n\npgadvise demo starts a throwaway PostgreSQL and needs its server binaries:\n  \
         Debian/Ubuntu: sudo apt-get install postgresql postgresql-15-hypopg\n  \
         macOS (Homebrew): brew install postgresql@17 (hypopg: build it from github.com/HypoPG/hypopg)\n  \
         any system: PGADVISE_PG_BIN=/path/to/postgresql/bin pgadvise demo\n\
         or run it against a server you own: pgadvise demo --database-url postgresql://postgres@localhost/postgres\n\
         or with Docker: docker compose -f docker/compose.yaml up"
    )]
    NoServerBinaries(ClusterError),
    #[error("starting the demo server: {0}")]
    Cluster(ClusterError),
    #[error("demo: {step}: {source}")]
    Sql {
        step: String,
        source: tokio_postgres::Error,
    },
    #[error("demo: creating {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DemoError {
    pub fn exit_code(&self) -> u8 {
        match self {
            DemoError::NoServerBinaries(_) => exit::PREREQUISITE,
            DemoError::Cluster(_) | DemoError::Sql { .. } => exit::SERVER,
            DemoError::Folder { .. } => exit::OUTPUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_failure_has_its_exit_code() {
        let query = |kind| {
            RunError::Collect(CollectError::Query {
                what: "reading",
                detail: String::new(),
                kind,
            })
        };
        let cases = [
            (QueryFailure::Timeout, exit::TIMEOUT),
            (QueryFailure::LockTimeout, exit::TIMEOUT),
            (QueryFailure::ConnectionLost, exit::SERVER),
            (QueryFailure::Other, exit::SERVER),
            (QueryFailure::Privilege, exit::PREREQUISITE),
        ];
        for (kind, code) in cases {
            assert_eq!(query(kind).exit_code(), code, "{kind:?}");
        }
        let codes = [
            exit::SUCCESS,
            exit::FINDINGS,
            exit::USAGE,
            exit::CONNECT,
            exit::PREREQUISITE,
            exit::SERVER,
            exit::OUTPUT,
            exit::TIMEOUT,
        ];
        let mut distinct = codes.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), codes.len(), "exit codes must differ");
    }
}
