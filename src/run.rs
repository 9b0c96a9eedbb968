//! Runs a parsed command: the pipeline's stages in order, errors mapped to exit codes.

use crate::analyze::indexes::{self, HotStatements, IndexAdvice, TableFilter};
use crate::analyze::pool::{self, PoolOptions};
use crate::analyze::queries::split_statements;
use crate::analyze::workload::Workload;
use crate::cli::{
    AdvisorArgs, Cli, Command, ConnectionArgs, OutputFormat, ScanArgs, SnapshotArgs, VerifyArgs,
    DEFAULT_SAMPLE_WINDOW,
};
use crate::collect::connect::{connect, ConnectError, ConnectErrorKind};
use crate::collect::conninfo::{ConnInfoError, ConnectionSpec};
use crate::collect::{collect, CollectError, CollectOptions, QueryFailure, SQL_TAG};
use crate::config::{Config, ConfigError};
use crate::emit::migrations::index::{index_migration, MigrationOptions};
use crate::emit::migrations::plan::VerificationPlan;
use crate::emit::migrations::{write_migrations, Timestamp, WriteError};
use crate::emit::report::ScanReport;
use crate::emit::{text, write_atomically};
use crate::snapshot::{Snapshot, SnapshotError, Statement};
use crate::verify::deployed::{self, PlanFileError};
use crate::verify::proposals::{verify_proposals, VerifyReport};
use crate::verify::{VerifyError, VerifyOptions, WhatIf};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    /// `audit` found something at or above `--fail-on`.
    pub const FINDINGS: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONNECT: u8 = 3;
    pub const PREREQUISITE: u8 = 4;
    pub const SERVER: u8 = 5;
    pub const OUTPUT: u8 = 6;
    /// `verify`: an index is missing, invalid or not used by a statement it is for.
    pub const VERIFY_FAILED: u8 = 7;
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
    #[error("writing migrations: {0}")]
    Migrations(#[from] WriteError),
    #[error(transparent)]
    PlanFiles(#[from] PlanFileError),
    #[error("verify: {0}")]
    Verify(#[from] VerifyError),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::ConnInfo(_)
            | RunError::Config(_)
            | RunError::ReadInput { .. }
            | RunError::ReadSnapshot { .. }
            | RunError::BadSnapshot { .. } => exit::USAGE,
            RunError::Connect(e) if e.kind() == ConnectErrorKind::Config => exit::USAGE,
            RunError::Connect(_) => exit::CONNECT,
            RunError::Collect(e) => match e {
                CollectError::ServerTooOld { .. }
                | CollectError::StatementsNotPreloaded { .. }
                | CollectError::StatementsNotCreated { .. }
                | CollectError::StatementsHidden { .. } => exit::PREREQUISITE,
                CollectError::Query { kind, .. } => match kind {
                    QueryFailure::Privilege => exit::PREREQUISITE,
                    QueryFailure::Timeout
                    | QueryFailure::LockTimeout
                    | QueryFailure::ConnectionLost
                    | QueryFailure::Other => exit::SERVER,
                },
            },
            RunError::Write { .. } | RunError::Migrations(_) => exit::OUTPUT,
            RunError::PlanFiles(_) => exit::USAGE,
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

/// Where diagnostics go: stderr unless `--quiet`.
struct Diagnostics {
    quiet: bool,
}

impl Diagnostics {
    fn warn(&self, message: &str) {
        if !self.quiet {
            eprintln!("pgadvise: warning: {message}");
        }
    }
}

pub async fn run(cli: Cli) -> Result<u8, RunError> {
    let diagnostics = Diagnostics { quiet: cli.quiet };
    let config = Config::load(cli.config.as_deref())?
        .map(|(_, c)| c)
        .unwrap_or_default();
    match cli.command {
        Command::Scan(args) | Command::Audit(args) => {
            scan(&args, &config, &diagnostics, false).await
        }
        Command::Pool(args) => scan(&args, &config, &diagnostics, true).await,
        Command::Snapshot(args) => snapshot(&args, &diagnostics).await,
        Command::Verify(args) => verify_deployed(&args, &diagnostics).await,
    }
}

/// The connection the user asked for, with `--connect-timeout` applied.
fn connection_spec(
    args: &ConnectionArgs,
    diagnostics: &Diagnostics,
) -> Result<ConnectionSpec, RunError> {
    let mut spec = ConnectionSpec::from_env(args.explicit())?;
    if let Some(timeout) = args.connect_timeout {
        spec.connect_timeout = Some(timeout);
    }
    for warning in &spec.warnings {
        diagnostics.warn(warning);
    }
    Ok(spec)
}

/// Connects and collects, in the read-only session; `sample_window` samples
/// pg_stat_activity over that long for the pool verdict.
async fn collect_live(
    spec: &ConnectionSpec,
    args: &ConnectionArgs,
    sample_window: Option<Duration>,
    diagnostics: &Diagnostics,
) -> Result<Snapshot, RunError> {
    let client = connect(spec).await?;
    let options = CollectOptions {
        statement_timeout: args.statement_timeout,
        lock_timeout: args.lock_timeout,
        require_statements: true,
        target: spec.display_target(),
        sample_window,
        show_progress: !diagnostics.quiet,
    };
    let snapshot = collect(&client, &options).await?;
    for warning in &snapshot.warnings {
        diagnostics.warn(warning);
    }
    Ok(snapshot)
}

fn read_snapshot(path: &Path) -> Result<Snapshot, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunError::ReadSnapshot {
        path: path.to_path_buf(),
        source,
    })?;
    Snapshot::from_json(&text).map_err(|source| RunError::BadSnapshot {
        path: path.to_path_buf(),
        source,
    })
}

/// `pool_only`: the `pool` subcommand, which prints the verdict alone.
async fn scan(
    args: &ScanArgs,
    config: &Config,
    diagnostics: &Diagnostics,
    pool_only: bool,
) -> Result<u8, RunError> {
    // Declared pools: the file's, with any the command line names replaced.
    let mut declared = config.declared_pools();
    declared.retain(|d| !args.pool.declared.iter().any(|c| c.name == d.name));
    declared.extend(args.pool.declared.iter().cloned());
    let db_cores = args.pool.db_cores.or(config.pool.db_cores);
    let wants_pool = pool_only || args.pool.requested() || !config.pools.is_empty();
    let sample_window = wants_pool.then(|| {
        args.pool
            .sample_window
            .or(config.sample_window())
            .unwrap_or(DEFAULT_SAMPLE_WINDOW)
    });
    let (snapshot, spec) = match &args.snapshot {
        Some(path) => (read_snapshot(path)?, None),
        None => {
            let spec = connection_spec(&args.connection, diagnostics)?;
            let snapshot =
                collect_live(&spec, &args.connection, sample_window, diagnostics).await?;
            (snapshot, Some(spec))
        }
    };
    let pool = (wants_pool || snapshot.pool_window.is_some()).then(|| {
        let options = PoolOptions {
            declared: declared.clone(),
            db_cores,
        };
        pool::verdict(&snapshot, &options)
    });
    if pool_only {
        if let Some((verdict, findings)) = &pool {
            match args.format {
                OutputFormat::Text => stdout(&text::pool_section(verdict, findings))?,
                OutputFormat::Json => stdout(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "pool": verdict, "findings": findings })
                    )
                    .unwrap_or_default()
                ))?,
            }
        }
        return Ok(exit::SUCCESS);
    }
    if let Some(path) = &args.save_snapshot {
        write_snapshot(path, &snapshot)?;
    }
    let given = given_statements(&args.advisor)?;
    let workload = Workload::with_given(&snapshot, &given);
    let advice = indexes::propose(
        &snapshot,
        &workload,
        &HotStatements {
            top: args.advisor.top,
            min_calls: args.advisor.min_calls,
            min_total_time_ms: args
                .advisor
                .min_total_time
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            min_mean_time_ms: args
                .advisor
                .min_mean_time
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        },
        &TableFilter {
            include: args.advisor.include_tables.clone(),
            exclude: args.advisor.exclude_tables.clone(),
        },
    );
    let mut advice = advice;
    let verification = match &spec {
        Some(spec) if !args.advisor.no_verify && !advice.proposals.is_empty() => {
            verify_live(spec, args, &snapshot, &workload, &mut advice, diagnostics).await?
        }
        _ => None,
    };
    let mut report = ScanReport::new(
        &snapshot,
        workload.analyzed(),
        workload.skipped(),
        advice.proposals.clone(),
    );
    if let Some((verdict, findings)) = &pool {
        report.pool = serde_json::to_value(verdict).ok();
        report.findings.extend(findings.iter().cloned());
    }
    match args.format {
        OutputFormat::Text => {
            let mut text = format!(
                "{}{}",
                text::summary(&snapshot, &report, &workload.skip_reasons()),
                text::index_table(&advice, verification.as_ref())
            );
            if let Some((verdict, findings)) = &pool {
                text.push_str(&format!("\n{}", text::pool_section(verdict, findings)));
            }
            stdout(&text)?
        }
        OutputFormat::Json => stdout(&format!("{}\n", report.to_json()))?,
    }
    if let Some(dir) = &args.migrations.out {
        write_index_migrations(dir, args, &snapshot, &advice, diagnostics)?;
    }
    Ok(exit::SUCCESS)
}

/// One migration and verification plan per proposal: verified ones only,
/// unless `--no-verify`. Progress goes to stderr, stdout stays the report.
fn write_index_migrations(
    dir: &Path,
    args: &ScanArgs,
    snapshot: &Snapshot,
    advice: &IndexAdvice,
    diagnostics: &Diagnostics,
) -> Result<(), RunError> {
    let options = MigrationOptions {
        lock_timeout: args.migrations.migration_lock_timeout,
    };
    let mut taken: Vec<String> = snapshot.indexes.iter().map(|i| i.name.clone()).collect();
    taken.extend(snapshot.tables.iter().map(|t| t.name.clone()));
    taken.extend(advice.proposals.iter().map(|p| p.name.clone()));
    let chosen: Vec<_> = advice
        .proposals
        .iter()
        .filter(|p| p.verified || args.advisor.no_verify)
        .collect();
    let left_out = advice.proposals.len() - chosen.len();
    if left_out > 0 {
        diagnostics.warn(&format!(
            "{left_out} unverified index proposal(s) get no migration (verify them with hypopg on a live \
             database, or pass --no-verify to write them anyway)"
        ));
    }
    let migrations: Vec<_> = chosen
        .into_iter()
        .map(|p| {
            let (migration, partitions) = index_migration(p, snapshot, &options, &mut taken);
            let plan = VerificationPlan::new(&migration, p, snapshot, &partitions);
            (migration, plan.files())
        })
        .collect();
    let outcome = write_migrations(
        dir,
        args.migrations.migration_format,
        &migrations,
        Timestamp::now(),
        args.migrations.force,
    )?;
    if !diagnostics.quiet {
        for (id, path) in &outcome.already_present {
            eprintln!(
                "pgadvise: {id} is already in {} (kept; --force replaces it)",
                path.display()
            );
        }
        eprintln!(
            "pgadvise: wrote {} file(s) for {} migration(s) ({}) to {}",
            outcome.written.len(),
            migrations.len() - outcome.already_present.len(),
            args.migrations.migration_format.as_str(),
            dir.display()
        );
        for path in &outcome.written {
            eprintln!("  {}", path.display());
        }
    }
    Ok(())
}

/// `pgadvise verify`: each migration's index valid and ready, each statement
/// planned through it. Exit 7 when anything fails.
async fn verify_deployed(args: &VerifyArgs, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let plans = deployed::read_plans(&args.dir)?;
    let spec = connection_spec(&args.connection, diagnostics)?;
    let client = connect(&spec).await?;
    let version_num: i32 = client
        .query_one(
            &format!("SELECT {SQL_TAG} current_setting('server_version_num')::int"),
            &[],
        )
        .await
        .map_err(|e| VerifyError::Query {
            what: "reading server_version_num".to_string(),
            detail: crate::collect::db_message(&e),
            kind: crate::collect::failure_kind(&e),
        })?
        .get(0);
    let options = VerifyOptions {
        statement_timeout: args.connection.statement_timeout,
        lock_timeout: args.connection.lock_timeout,
    };
    let whatif = WhatIf::open_plain(client, version_num, &options).await?;
    let mut checks = Vec::new();
    for plan in &plans {
        checks.push(deployed::check(&whatif, plan).await?);
    }
    if args.analyze {
        crate::verify::measure::run(&whatif, &plans, &mut checks).await?;
    }
    let _ = whatif.close().await;
    let failed = checks.iter().filter(|c| !c.passed()).count();
    match args.format {
        OutputFormat::Json => stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": failed == 0,
                "indexes": checks,
            }))
            .unwrap_or_default()
        ))?,
        OutputFormat::Text => stdout(&text::verify_section(&checks))?,
    }
    Ok(if failed == 0 {
        exit::SUCCESS
    } else {
        exit::VERIFY_FAILED
    })
}

async fn snapshot(args: &SnapshotArgs, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let spec = connection_spec(&args.connection, diagnostics)?;
    let snapshot = collect_live(&spec, &args.connection, None, diagnostics).await?;
    match &args.output {
        Some(path) => {
            write_snapshot(path, &snapshot)?;
            if !diagnostics.quiet {
                eprintln!(
                    "pgadvise: wrote {} ({} statements, {} tables, {} indexes)",
                    path.display(),
                    snapshot.statements.entries.len(),
                    snapshot.tables.len(),
                    snapshot.indexes.len()
                );
            }
        }
        None => stdout(&format!("{}\n", snapshot.to_json()))?,
    }
    Ok(exit::SUCCESS)
}

/// Verifies the proposals with hypopg on a second, pinned session. Without
/// hypopg the proposals stay unverified (the snapshot's warning says how to
/// install it); a failure mid-way is a warning, not a lost report.
async fn verify_live(
    spec: &ConnectionSpec,
    args: &ScanArgs,
    snapshot: &Snapshot,
    workload: &Workload<'_>,
    advice: &mut IndexAdvice,
    diagnostics: &Diagnostics,
) -> Result<Option<VerifyReport>, RunError> {
    if snapshot.extension("hypopg").is_none() {
        return Ok(None);
    }
    let client = connect(spec).await?;
    let options = VerifyOptions {
        statement_timeout: args.connection.statement_timeout,
        lock_timeout: args.connection.lock_timeout,
    };
    let whatif = match WhatIf::open_with(client, snapshot.server.version_num, &options).await {
        Ok(w) => w,
        Err(e) => {
            diagnostics.warn(&format!("index proposals are unverified: {e}"));
            return Ok(None);
        }
    };
    let statements: Vec<&Statement> = workload.analyzed.iter().map(|a| a.statement).collect();
    let min_savings = args.advisor.min_cost_savings / 100.0;
    let unverified = advice.clone();
    match verify_proposals(&whatif, advice, &statements, min_savings).await {
        Ok(report) => {
            let _ = whatif.close().await;
            Ok(Some(report))
        }
        Err(e) => {
            *advice = unverified;
            diagnostics.warn(&format!(
                "verification stopped, index proposals are unverified: {e}"
            ));
            Ok(None)
        }
    }
}

/// Statements from `--query` and `--queries-file`, as if observed once.
fn given_statements(args: &AdvisorArgs) -> Result<Vec<Statement>, RunError> {
    let mut texts = args.queries.clone();
    if let Some(path) = &args.queries_file {
        let text = std::fs::read_to_string(path).map_err(|source| RunError::ReadInput {
            path: path.clone(),
            source,
        })?;
        texts.extend(split_statements(&text));
    }
    Ok(texts
        .into_iter()
        .enumerate()
        .map(|(i, query)| Statement::given(-(i as i64) - 1, query))
        .collect())
}

/// Writes to stdout. A reader that went away (`pgadvise snapshot | head`) is
/// not an error; any other failure is an output error.
fn stdout(text: &str) -> Result<(), RunError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(RunError::Write {
            path: PathBuf::from("<stdout>"),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn write_snapshot(path: &Path, snapshot: &Snapshot) -> Result<(), RunError> {
    write_atomically(path, snapshot.to_json().as_bytes()).map_err(|source| RunError::Write {
        path: path.to_path_buf(),
        source,
    })
}
