//! Command-line interface (clap derive). Parsing only: `settings` merges it
//! with pgadvise.toml, `run` does the work.

pub use crate::emit::migrations::MigrationFormat;
use crate::units::{Duration, Size};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// PostgreSQL performance advisor: verified index proposals, pool sizing and
/// ready-to-merge migrations, from the database's own statistics.
#[derive(Debug, Parser)]
#[command(name = "pgadvise", version, about, long_about = None)]
#[command(after_help = "\
Connecting: pass a URL (postgresql://user@host:5432/db) or a conninfo string \
(\"host=... dbname=...\") as CONNECTION or --database-url; otherwise DATABASE_URL, \
otherwise the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, \
PGSSLMODE, ...) and ~/.pgpass, as psql does.

Exit codes: 0 success; 1 audit found something at or above --fail-on; \
2 bad arguments or input; 3 cannot connect or authenticate; 4 a prerequisite \
is missing (extension, privilege, server version); 5 the server failed during the \
run (connection lost, server error); 6 an output file could not be written; \
7 a timeout pgadvise set fired (--statement-timeout, --lock-timeout). `verify` exits 1 when \
an index is missing, invalid or unused by its statements; `diff` exits 1 on a regression at or \
above --fail-on-regression.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// No progress or warnings on stderr; errors are still printed.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Settings file (default: ./pgadvise.toml when it exists). Flags win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze a database (or a snapshot) and report what to change.
    Scan(ScanArgs),
    /// Like scan, for scheduled CI: exit 1 when a (new) finding is at or above --fail-on.
    #[command(after_help = "\
Exit codes: 0 no finding at or above --fail-on (or all accepted by --baseline); \
1 a new finding at or above --fail-on; 2 bad arguments or input (including the \
baseline and pgadvise.toml); 3 cannot connect or authenticate; 4 a prerequisite is \
missing; 5 the server failed during the run; 6 an output file could not be written; \
7 a timeout pgadvise set fired. A fleet (--targets, [[targets]]) exits with its worst \
(highest) target's code.")]
    Audit(AuditArgs),
    /// Watch connections for --sample-window and print only the connection-pool verdict.
    Pool(ScanArgs),
    /// Write everything pgadvise reads from the database as JSON (for offline analysis).
    Snapshot(SnapshotArgs),
    /// Start a throwaway PostgreSQL, load a demo workload with typical problems, and
    /// write the report of a full scan of it.
    Demo(DemoArgs),
    /// After deploying the migrations `scan --out` wrote: check each index is valid
    /// and ready and each statement's plan uses it (exit 1 on a failure).
    Verify(VerifyArgs),
    /// Compare two snapshots of one database (or a snapshot and the database now): regressions,
    /// new heavy statements, what new indexes did, indexes and tables whose use changed.
    #[command(after_help = "\
Exit codes: 0 compared; 1 a regression at or above --fail-on-regression; 2 bad arguments \
or input (a snapshot file, a pair from different databases or servers, NEW older than OLD); \
3 cannot connect or authenticate; 4 a prerequisite is missing; 5 the server failed during \
the run; 6 an output file could not be written; 7 a timeout pgadvise set fired.")]
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older snapshot (`pgadvise snapshot -o FILE`, `pgadvise audit --save-snapshot FILE`).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The newer snapshot file, or a connection (URL or conninfo) to read now. Default: the
    /// database now, from --database-url, DATABASE_URL, then the PG* variables.
    #[arg(value_name = "NEW")]
    pub new: Option<String>,

    /// Read NEW from this database now (same as a connection as NEW).
    #[arg(long, value_name = "URL", conflicts_with = "new")]
    pub database_url: Option<String>,

    /// Give up connecting after this long (e.g. 10s), when NEW is read live.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse)]
    pub connect_timeout: Option<Duration>,

    /// Cap on each statement pgadvise runs on the server, when NEW is read live.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse, default_value = "30s")]
    pub statement_timeout: Duration,

    /// How long a statement may wait for a lock, when NEW is read live.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse, default_value = "1s")]
    pub lock_timeout: Duration,

    /// A regression is a statement whose mean time over the window grew by more than this
    /// many percent against its mean in OLD.
    #[arg(long, value_name = "PERCENT", default_value_t = crate::diff::DEFAULT_THRESHOLD_PCT,
          value_parser = parse_growth_percent)]
    pub threshold: f64,

    /// A regression needs at least this many calls in the window.
    #[arg(long, value_name = "N", default_value_t = crate::diff::DEFAULT_MIN_CALLS)]
    pub min_calls: i64,

    /// At most this many entries per list.
    #[arg(long, value_name = "N", default_value_t = crate::diff::DEFAULT_TOP, value_parser = parse_positive)]
    pub top: usize,

    /// Exit 1 when a statement's mean time grew by this many percent or more (for CI).
    #[arg(long, value_name = "PERCENT", value_parser = parse_growth_percent)]
    pub fail_on_regression: Option<f64>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,

    /// When NEW is read live: also write it as a snapshot file (next time's OLD).
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,
}

/// What `diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// For people at a terminal.
    Text,
    /// The versioned JSON document (see docs/json-output.md).
    Json,
    /// Markdown, for a pull-request or issue comment.
    Markdown,
}

/// A growth in percent: zero or more, with or without `%` (200 is a tripling).
fn parse_growth_percent(text: &str) -> Result<f64, String> {
    match text.trim().trim_end_matches('%').parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!(
            "'{text}' is not a percentage of zero or more (e.g. 20 or 20%)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub scan: ScanArgs,

    /// Fail (exit 1) when a finding is at or above this severity: low, medium, high
    /// (default) or critical.
    #[arg(long, value_name = "SEVERITY", value_parser = crate::emit::audit::parse_severity)]
    pub fail_on: Option<crate::analyze::finding::Severity>,

    /// Accept the findings this file lists (written by --write-baseline): only new ones fail.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write today's findings as a baseline file, to accept them from now on.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Audit a fleet: one connection (URL or conninfo, `NAME: ` before it to name it) per
    /// line; blank lines and `#` comments are skipped. --report then names a folder.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["connection", "database_url", "snapshot"])]
    pub targets: Option<PathBuf>,

    /// With a fleet: audit this many targets at a time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = parse_positive)]
    pub jobs: usize,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the report (and migrations); created if missing.
    #[arg(long, value_name = "DIR", default_value = "pgadvise-demo")]
    pub out_dir: PathBuf,

    /// Load the demo into this server (a superuser URL) instead of starting a local one.
    /// It creates a database of its own there and drops it at the end.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The folder `scan --out` wrote (its *.verify.json plans).
    #[arg(value_name = "DIR", default_value = "migrations-out")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Also run EXPLAIN (ANALYZE, BUFFERS) of each SELECT with representative values from
    /// pg_stats, in a read-only transaction, and compare with pg_stat_statements' mean before.
    #[arg(long)]
    pub analyze: bool,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,
}

/// What `verify` prints: per-query PASS/FAIL lines, or the checks as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Database URL or conninfo string (default: DATABASE_URL, then the PG* variables).
    #[arg(value_name = "CONNECTION")]
    pub connection: Option<String>,

    /// Same as CONNECTION, as an option.
    #[arg(long, value_name = "URL", conflicts_with = "connection")]
    pub database_url: Option<String>,

    /// Give up connecting after this long (e.g. 10s). Default: connect_timeout from the
    /// connection string or PGCONNECT_TIMEOUT, else 10s.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse)]
    pub connect_timeout: Option<Duration>,

    /// Cap on each statement pgadvise runs on the server.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse, default_value = "30s")]
    pub statement_timeout: Duration,

    /// How long a statement may wait for a lock before pgadvise gives up.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse, default_value = "1s")]
    pub lock_timeout: Duration,
}

impl ConnectionArgs {
    /// The connection string the user gave, if any.
    pub fn explicit(&self) -> Option<&str> {
        self.connection.as_deref().or(self.database_url.as_deref())
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Analyze a snapshot file written by `pgadvise snapshot` instead of connecting.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["connection", "database_url"])]
    pub snapshot: Option<PathBuf>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Also write the snapshot this scan analyzed (to reproduce it offline later).
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,

    /// Also write the full report as one self-contained HTML file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also write the Markdown description of the migration pull request.
    #[arg(long, value_name = "FILE")]
    pub pr_body: Option<PathBuf>,

    #[command(flatten)]
    pub advisor: AdvisorArgs,

    #[command(flatten)]
    pub pool: PoolArgs,

    #[command(flatten)]
    pub migrations: MigrationArgs,
}

/// Where and how `scan` writes migration files.
#[derive(Debug, Args)]
pub struct MigrationArgs {
    /// Write one migration per proposed index (verified ones, unless --no-verify) and its
    /// verification plan into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The migration tool the files are for.
    #[arg(long, value_enum, default_value_t = MigrationFormat::Sql, requires = "out")]
    pub migration_format: MigrationFormat,

    /// lock_timeout of the migrations' sessions: how long a build may queue for its lock.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse, default_value = "5s", requires = "out")]
    pub migration_lock_timeout: Duration,

    /// Replace migrations already in the folder (and files in the way) instead of keeping them,
    /// under a new timestamp. Only for migrations not yet applied anywhere: runners that
    /// record applied migrations (sqlx, Flyway, Liquibase) refuse changed or missing ones.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// Which statements and tables the index advisor looks at.
#[derive(Debug, Args)]
pub struct AdvisorArgs {
    /// Analyze at most this many statements, heaviest total time first.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub top: usize,

    /// Ignore statements called fewer times than this.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub min_calls: i64,

    /// Ignore statements whose total execution time is below this (e.g. 500ms).
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse)]
    pub min_total_time: Option<Duration>,

    /// Ignore statements whose mean execution time is below this (e.g. 1ms).
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse)]
    pub min_mean_time: Option<Duration>,

    /// Also advise on this statement (repeatable): a query that has not run in production yet.
    // SQL may start with a `--` comment (ORMs, sqlcommenter): the value is never a flag.
    #[arg(long = "query", value_name = "SQL", allow_hyphen_values = true)]
    pub queries: Vec<String>,

    /// Also advise on the `;`-separated statements in this file (with `$n` parameters or literals).
    #[arg(long, value_name = "FILE")]
    pub queries_file: Option<PathBuf>,

    /// Only these tables (repeatable; `schema.table` or a bare name for any schema).
    #[arg(long = "include-table", value_name = "TABLE")]
    pub include_tables: Vec<String>,

    /// Never these tables (repeatable; `schema.table` or a bare name for any schema).
    #[arg(long = "exclude-table", value_name = "TABLE")]
    pub exclude_tables: Vec<String>,

    /// Keep an index only if, given the rest of the verified set, it cuts the
    /// cost of at least one statement it serves by this many percent (and
    /// pays its upkeep on writes).
    #[arg(long, value_name = "PERCENT", default_value_t = 10.0, value_parser = parse_percent)]
    pub min_cost_savings: f64,

    /// Cap the total size of the proposed set (e.g. 500MB, 2GB; hypopg's estimate).
    #[arg(long, value_name = "SIZE", value_parser = Size::parse)]
    pub budget: Option<Size>,

    /// Propose at most this many new indexes on one table.
    #[arg(long, value_name = "N", default_value_t = crate::verify::select::DEFAULT_MAX_INDEXES_PER_TABLE,
          value_parser = parse_positive)]
    pub max_indexes_per_table: usize,

    /// Do not verify proposals with hypopg (they are reported as unverified).
    #[arg(long)]
    pub no_verify: bool,

    /// Also propose drops of indexes never scanned since the statistics were reset.
    #[arg(long)]
    pub drop_unused: bool,
}

/// A whole number of at least 1.
fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a whole number of at least 1")),
    }
}

/// A percentage from 0 to 100, with or without `%`.
fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{text}' is not a percentage (e.g. 50 or 50%)"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("'{text}' is not between 0 and 100"))
    }
}

/// The connection-pool verdict; any of these makes scan/audit sample connections.
#[derive(Debug, Args)]
pub struct PoolArgs {
    /// A declared pool, matched to application_name: NAME=INSTANCESxSIZE (e.g. api=4x20). Repeatable.
    #[arg(long = "pool", value_name = "NAME=INSTANCESxSIZE", value_parser = crate::analyze::pool::DeclaredPool::parse)]
    pub declared: Vec<crate::analyze::pool::DeclaredPool>,

    /// How long to watch pg_stat_activity (one sample every 100 ms). Default 10s.
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse)]
    pub sample_window: Option<Duration>,

    /// CPU cores of the database server: caps recommended pools at cores × 2 + 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub db_cores: Option<u32>,
}

impl PoolArgs {
    /// Whether the user asked for the pool verdict.
    pub fn requested(&self) -> bool {
        !self.declared.is_empty() || self.sample_window.is_some() || self.db_cores.is_some()
    }
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Write the snapshot here instead of stdout (written atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people at a terminal.
    Text,
    /// The versioned JSON document (see docs/json-output.md).
    Json,
    /// SARIF 2.1.0, for code-scanning services.
    Sarif,
    /// GitHub Actions workflow annotations (`::error title=...::...`).
    Github,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
