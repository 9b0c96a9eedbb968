//! Runs a parsed command: the pipeline's stages in order, errors mapped to exit codes.

use crate::analyze::antipatterns::{self, AntipatternOptions};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::health::{self, HealthOptions};
use crate::analyze::indexes::space::{candidate_space, CandidateSpace};
use crate::analyze::indexes::{self, HotStatements, IndexAdvice, IndexProposal, TableFilter};
use crate::analyze::pool::{self, PoolOptions};
use crate::analyze::queries::{split_statements, SkipReason};
use crate::analyze::workload::Workload;
use crate::cli::{
    AdvisorArgs, AuditArgs, Cli, Command, ConnectionArgs, OutputFormat, ScanArgs, SnapshotArgs,
    VerifyArgs, VerifyFormat, DEFAULT_SAMPLE_WINDOW,
};
use crate::collect::connect::{connect, ConnectError, ConnectErrorKind};
use crate::collect::conninfo::{ConnInfoError, ConnectionSpec};
use crate::collect::{collect, CollectError, CollectOptions, QueryFailure, SQL_TAG};
use crate::config::{Config, ConfigError};
use crate::emit::audit::{self, Baseline};
use crate::emit::migrations::drop::drop_migration;
use crate::emit::migrations::index::{index_migration, MigrationOptions};
use crate::emit::migrations::{write_migrations, Timestamp, WriteError};
use crate::emit::report::ScanReport;
use crate::emit::{github, html, pr_body, sarif, text, write_atomically};
use crate::snapshot::{Snapshot, SnapshotError, Statement};
use crate::verification_plan::VerificationPlan;
use crate::verify::deployed::{self, PlanFileError};
use crate::verify::proposals::VerifyReport;
use crate::verify::select::{select, SelectOptions, Selection};
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
    Demo(#[from] crate::demo::DemoError),
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
            | RunError::BadSnapshot { .. }
            | RunError::BadBaseline { .. } => exit::USAGE,
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
pub struct Diagnostics {
    quiet: bool,
}

impl Diagnostics {
    pub fn new(quiet: bool) -> Self {
        Diagnostics { quiet }
    }

    /// A spinner on stderr while a stage runs: only on a terminal, never with --quiet.
    fn spinner(&self, message: &str) -> indicatif::ProgressBar {
        use std::io::IsTerminal;
        if self.quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    fn warn(&self, message: &str) {
        if !self.quiet {
            eprintln!("pgadvise: warning: {message}");
        }
    }
}

pub async fn run(cli: Cli) -> Result<u8, RunError> {
    let config = Config::load(cli.config.as_deref())?
        .map(|(_, c)| c)
        .unwrap_or_default();
    let diagnostics = Diagnostics {
        quiet: cli.quiet || (config.quiet && !cli.explicit.given("quiet")),
    };
    match cli.command {
        Command::Scan(mut args) => {
            config.apply_to_scan(&mut args, &cli.explicit);
            config.apply_migrations(&mut args, &cli.explicit);
            scan(&args, &config, &diagnostics, false).await
        }
        Command::Audit(mut args) => {
            config.apply_to_audit(&mut args, &cli.explicit);
            audit(&args, &config, &diagnostics).await
        }
        Command::Pool(mut args) => {
            config.apply_to_scan(&mut args, &cli.explicit);
            scan(&args, &config, &diagnostics, true).await
        }
        Command::Snapshot(args) => snapshot(&args, &diagnostics).await,
        Command::Demo(args) => {
            let out_dir = if cli.explicit.given("out_dir") {
                args.out_dir.clone()
            } else {
                config.demo.out_dir.clone().unwrap_or(args.out_dir.clone())
            };
            crate::demo::run(&out_dir, args.database_url.as_deref(), diagnostics.quiet).await
        }
        Command::Verify(mut args) => {
            if let (false, Some(dir)) = (cli.explicit.given("dir"), &config.migrations.dir) {
                args.dir = dir.clone();
            }
            verify_deployed(&args, &diagnostics).await
        }
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
/// pg_stat_activity over that long for the pool verdict. `require_statements`
/// off (the user gave statements) makes a missing pg_stat_statements a warning.
async fn collect_live(
    spec: &ConnectionSpec,
    args: &ConnectionArgs,
    sample_window: Option<Duration>,
    require_statements: bool,
    diagnostics: &Diagnostics,
) -> Result<Snapshot, RunError> {
    // While sampling, the sampler draws its own bar; before that, a spinner.
    let spinner = diagnostics.spinner(&format!(
        "collecting statistics from {}",
        spec.display_target()
    ));
    let client = connect(spec).await;
    spinner.finish_and_clear();
    let client = client?;
    let spinner = match sample_window {
        None => diagnostics.spinner("reading pg_stat_statements, tables, indexes and pg_stats"),
        Some(_) => indicatif::ProgressBar::hidden(),
    };
    let options = CollectOptions {
        statement_timeout: args.statement_timeout,
        lock_timeout: args.lock_timeout,
        require_statements,
        target: spec.display_target(),
        sample_window,
        show_progress: !diagnostics.quiet,
    };
    let snapshot = collect(&client, &options).await;
    spinner.finish_and_clear();
    let mut snapshot = snapshot?;
    let host_cores = crate::collect::local_cores(spec, snapshot.setting("data_directory"));
    if let Some(window) = &mut snapshot.pool_window {
        window.host_cores = host_cores;
    }
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

/// What a scan found, before it is printed or written.
pub struct ScanOutcome {
    pub snapshot: Snapshot,
    pub report: ScanReport,
    pub advice: IndexAdvice,
    pub verification: Option<VerifyReport>,
    pub pool: Option<(pool::PoolVerdict, Vec<crate::analyze::finding::Finding>)>,
    pub skip_reasons: Vec<(&'static str, usize)>,
}

/// `pool_only`: the `pool` subcommand, which prints the verdict alone.
async fn scan(
    args: &ScanArgs,
    config: &Config,
    diagnostics: &Diagnostics,
    pool_only: bool,
) -> Result<u8, RunError> {
    let outcome = analyze_scan(args, config, diagnostics, pool_only).await?;
    if pool_only {
        if let Some((verdict, findings)) = &outcome.pool {
            match args.format {
                OutputFormat::Sarif => {
                    let mut report = outcome.report.clone();
                    report.findings = findings.clone();
                    stdout(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&sarif::to_sarif(
                            &report,
                            &Default::default()
                        ))
                        .unwrap_or_default()
                    ))?
                }
                OutputFormat::Json => stdout(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "pool": verdict, "findings": findings })
                    )
                    .unwrap_or_default()
                ))?,
                OutputFormat::Github => {
                    stdout(&github::annotations(findings, &Default::default()))?
                }
                OutputFormat::Text => stdout(&text::pool_section(verdict, findings))?,
            }
        }
        return Ok(exit::SUCCESS);
    }
    write_outputs(args, config, &outcome, diagnostics)?;
    stdout(&render_stdout(
        args.format,
        &outcome,
        &migrations_dir(args, config),
        None,
    ))?;
    Ok(exit::SUCCESS)
}

/// `pgadvise audit`: the scan, then exit 1 when a finding the baseline does not
/// accept is at or above `--fail-on`.
async fn audit(
    args: &AuditArgs,
    config: &Config,
    diagnostics: &Diagnostics,
) -> Result<u8, RunError> {
    // Read the baseline first: a bad file is a usage error before any work.
    let baseline = match &args.baseline {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| RunError::BadBaseline {
                path: path.clone(),
                message: e.to_string(),
            })?;
            Some(
                Baseline::parse(&text).map_err(|message| RunError::BadBaseline {
                    path: path.clone(),
                    message,
                })?,
            )
        }
        None => None,
    };
    let outcome = analyze_scan(&args.scan, config, diagnostics, false).await?;
    let fail_on = args.fail_on.unwrap_or(Severity::High);
    let verdict = audit::judge(&outcome.report.findings, fail_on, baseline.as_ref());
    write_outputs(&args.scan, config, &outcome, diagnostics)?;
    if let Some(path) = &args.write_baseline {
        let written = Baseline::of(&outcome.report.findings);
        write_atomically(path, written.to_json().as_bytes()).map_err(|source| RunError::Write {
            path: path.clone(),
            source,
        })?;
        if !diagnostics.quiet {
            eprintln!(
                "pgadvise: wrote baseline {} ({} findings accepted)",
                path.display(),
                written.findings.len()
            );
        }
    }
    stdout(&render_stdout(
        args.scan.format,
        &outcome,
        &migrations_dir(&args.scan, config),
        Some((&verdict, fail_on)),
    ))?;
    if !diagnostics.quiet && args.scan.format != OutputFormat::Text {
        eprintln!("pgadvise: {}", audit::verdict_line(&verdict, fail_on));
    }
    Ok(if verdict.failing.is_empty() {
        exit::SUCCESS
    } else {
        exit::FINDINGS
    })
}

/// Collects (or reads the snapshot), analyzes, verifies: everything but output.
pub async fn analyze_scan(
    args: &ScanArgs,
    config: &Config,
    diagnostics: &Diagnostics,
    pool_only: bool,
) -> Result<ScanOutcome, RunError> {
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
    // Read before connecting: a missing file is a usage error before any work.
    // `pool` advises on no statements, so it reads none.
    let given = if pool_only {
        Vec::new()
    } else {
        given_statements(&args.advisor)?
    };
    let (snapshot, spec) = match &args.snapshot {
        Some(path) => (read_snapshot(path)?, None),
        None => {
            let spec = connection_spec(&args.connection, diagnostics)?;
            // With statements of its own to analyze, a scan goes on without
            // pg_stat_statements (collect warns that the workload was not read).
            let snapshot = collect_live(
                &spec,
                &args.connection,
                sample_window,
                given.is_empty(),
                diagnostics,
            )
            .await?;
            (snapshot, Some(spec))
        }
    };
    let wants_verdict = wants_pool || snapshot.pool_window.is_some();
    // The scan's index proposals are named in the verdict as what cuts W.
    let pool_verdict = |index_proposals: Vec<String>| {
        pool::verdict(
            &snapshot,
            &PoolOptions {
                declared: declared.clone(),
                db_cores,
                index_proposals,
            },
        )
    };
    // Before the pool-only return: `pool --save-snapshot` saves too.
    if let Some(path) = &args.save_snapshot {
        write_snapshot(path, &snapshot)?;
    }
    if pool_only {
        let pool = wants_verdict.then(|| pool_verdict(Vec::new()));
        return Ok(ScanOutcome {
            report: ScanReport::new(&snapshot, 0, 0, Vec::new()),
            snapshot,
            advice: IndexAdvice::default(),
            verification: None,
            pool,
            skip_reasons: Vec::new(),
        });
    }
    let workload = Workload::with_given(&snapshot, &given);
    let hot = HotStatements {
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
    };
    // Statements the index advisor considers: parsed, and hot enough or given.
    let below = workload.below_thresholds(&hot);
    let skip_reasons = workload.skip_reasons_with(&hot);
    // An empty list already got collect's warning; this covers statistics that
    // hold only pgadvise's own statements, utility commands, the reset itself,
    // or statements too rare for the thresholds.
    if workload.analyzed() == below.total()
        && (!snapshot.statements.entries.is_empty() || !given.is_empty())
    {
        diagnostics.warn(&nothing_to_analyze(
            &snapshot,
            given.len(),
            &skip_reasons,
            &hot,
        ));
    }
    let table_filter = TableFilter {
        include: args.advisor.include_tables.clone(),
        exclude: args.advisor.exclude_tables.clone(),
    };
    let mut advice = indexes::propose(&snapshot, &workload, &hot, &table_filter);
    let verification = match &spec {
        Some(spec) if !args.advisor.no_verify && !advice.proposals.is_empty() => {
            let space = candidate_space(&snapshot, &workload, &hot, &table_filter);
            verify_live(
                spec,
                args,
                &snapshot,
                &workload,
                space,
                &mut advice,
                diagnostics,
            )
            .await?
        }
        _ => None,
    };
    let mut report = ScanReport::new(
        &snapshot,
        workload.analyzed() - below.total(),
        workload.skipped() + below.total(),
        advice.proposals.clone(),
    )
    .with_skip_reasons(&skip_reasons);
    report.verification = verification.clone();
    let pool = wants_verdict
        .then(|| pool_verdict(advice.proposals.iter().map(|p| p.name.clone()).collect()));
    let workload_ms: f64 = snapshot
        .statements
        .entries
        .iter()
        .filter(|e| !crate::collect::is_own_statement(&e.query))
        .map(|e| e.total_exec_time)
        .sum();
    report.findings.extend(audit::index_findings(
        &advice.proposals,
        workload_ms,
        &config.missing_index_thresholds(),
    ));
    if let Some((verdict, findings)) = &pool {
        report.pool = serde_json::to_value(verdict).ok();
        report.findings.extend(findings.iter().cloned());
    }
    let health = health::check(
        &snapshot,
        &workload,
        &advice,
        &HealthOptions {
            drop_unused: args.advisor.drop_unused,
            tables: table_filter.clone(),
            ..HealthOptions::default()
        },
    );
    let query_findings = antipatterns::check(
        &snapshot,
        &workload,
        &advice.proposals,
        &AntipatternOptions {
            tables: table_filter.clone(),
            ..AntipatternOptions::default()
        },
    );
    report.findings.extend(health.findings.iter().cloned());
    report.findings.extend(query_findings.iter().cloned());
    report.drops = health.drops.clone();
    report.findings = audit::without_ignored(
        std::mem::take(&mut report.findings),
        &config.ignore.rules,
        &config.ignore.tables,
    );
    drop(workload);
    Ok(ScanOutcome {
        snapshot,
        report,
        advice,
        verification,
        pool,
        skip_reasons,
    })
}

/// The files a scan was asked for: `--report`, `--pr-body`.
pub fn write_outputs(
    args: &ScanArgs,
    config: &Config,
    outcome: &ScanOutcome,
    diagnostics: &Diagnostics,
) -> Result<(), RunError> {
    let write = |path: &Path, contents: &str| {
        write_atomically(path, contents.as_bytes()).map_err(|source| RunError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    if let Some(dir) = &args.migrations.out {
        write_index_migrations(
            dir,
            args,
            &outcome.snapshot,
            &outcome.advice,
            &outcome.report.drops,
            diagnostics,
        )?;
    }
    if let Some(path) = &args.report {
        let page = html::render(
            &outcome.snapshot,
            &outcome.report,
            outcome.pool.as_ref().map(|(v, _)| v),
            &outcome.advice.served_by_existing,
        )
        .map_err(|e| RunError::Render(e.to_string()))?;
        write(path, &page)?;
    }
    if let Some(path) = &args.pr_body {
        let dir = migrations_dir(args, config);
        write(
            path,
            &pr_body::render(
                &outcome.snapshot,
                &outcome.report,
                &dir.display().to_string(),
                outcome.pool.as_ref().map(|(v, _)| v),
            ),
        )?;
    }
    Ok(())
}

/// Where migrations are (or were) written: `--out`, else `[migrations] dir`,
/// else `migrations-out`. The PR body and SARIF point into it.
pub(crate) fn migrations_dir(args: &ScanArgs, config: &Config) -> PathBuf {
    args.migrations
        .out
        .clone()
        .or_else(|| config.migrations.dir.clone())
        .unwrap_or_else(|| PathBuf::from("migrations-out"))
}

/// What goes to stdout in each format; `audit` adds its verdict.
fn render_stdout(
    format: OutputFormat,
    outcome: &ScanOutcome,
    migrations: &Path,
    audit_verdict: Option<(&audit::AuditVerdict, Severity)>,
) -> String {
    let report = &outcome.report;
    // The machine formats point findings at their migration files (a folder read).
    let migration_files =
        || audit::migration_files(migrations, &report.indexes, &report.drops, &report.findings);
    match format {
        OutputFormat::Text => {
            let mut text = format!(
                "{}{}",
                text::summary(&outcome.snapshot, report, &outcome.skip_reasons),
                text::index_table(&outcome.advice, outcome.verification.as_ref())
            );
            // Pool findings print with the pool verdict, missing indexes as the table above.
            let pool_findings: &[Finding] =
                outcome.pool.as_ref().map_or(&[], |(_, f)| f.as_slice());
            let findings: Vec<Finding> = report
                .findings
                .iter()
                .filter(|f| f.rule != audit::MISSING_INDEX && !pool_findings.contains(f))
                .cloned()
                .collect();
            text.push_str(&text::findings_section(&findings, &report.drops));
            if let Some((verdict, findings)) = &outcome.pool {
                text.push_str(&format!("\n{}", text::pool_section(verdict, findings)));
            }
            if let Some((verdict, fail_on)) = audit_verdict {
                text.push_str(&audit::verdict_text(verdict, fail_on));
            }
            text
        }
        OutputFormat::Json => format!("{}\n", report.to_json()),
        OutputFormat::Sarif => {
            let files = migration_files();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&sarif::to_sarif(report, &files)).unwrap_or_default()
            )
        }
        OutputFormat::Github => {
            let files = migration_files();
            // In an audit, annotate what is new; a scan annotates everything.
            match audit_verdict {
                Some((verdict, _)) => github::annotations(&verdict.new, &files),
                None => github::annotations(&report.findings, &files),
            }
        }
    }
}

/// One migration and verification plan per proposal: verified ones only,
/// unless `--no-verify`. Progress goes to stderr, stdout stays the report.
fn write_index_migrations(
    dir: &Path,
    args: &ScanArgs,
    snapshot: &Snapshot,
    advice: &IndexAdvice,
    drops: &[crate::analyze::health::DropProposal],
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
    let mut migrations: Vec<_> = chosen
        .into_iter()
        .map(|p| {
            let (migration, partitions) = index_migration(p, snapshot, &options, &mut taken);
            let plan = VerificationPlan::new(&migration, p, snapshot, &partitions);
            (migration, plan.files())
        })
        .collect();
    // The health rules' drops and rebuilds: no verification plan (nothing
    // should use a dropped index; `verify` checks what was added).
    migrations.extend(
        drops
            .iter()
            .map(|d| (drop_migration(d, &options), Vec::new())),
    );
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
/// planned through it. Exit 1 when anything fails, as `audit` does on a finding.
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
        VerifyFormat::Json => stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": failed == 0,
                "indexes": checks,
            }))
            .unwrap_or_default()
        ))?,
        VerifyFormat::Text => stdout(&text::verify_section(&checks))?,
    }
    Ok(if failed == 0 {
        exit::SUCCESS
    } else {
        exit::FINDINGS
    })
}

async fn snapshot(args: &SnapshotArgs, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let spec = connection_spec(&args.connection, diagnostics)?;
    let snapshot = collect_live(&spec, &args.connection, None, true, diagnostics).await?;
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

/// Chooses the verified set with hypopg on a second, pinned session, from
/// the candidate space of the workload. Without hypopg the heuristic
/// proposals stay, unverified (the snapshot's warning says how to install
/// it); a failure mid-way is a warning, not a lost report.
async fn verify_live(
    spec: &ConnectionSpec,
    args: &ScanArgs,
    snapshot: &Snapshot,
    workload: &Workload<'_>,
    space: CandidateSpace,
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
    let select_options = SelectOptions {
        min_savings: args.advisor.min_cost_savings / 100.0,
        budget_bytes: args.advisor.budget,
        max_indexes_per_table: args.advisor.max_indexes_per_table,
        weigh_writes: workload.analyzed.iter().any(|a| !a.given),
    };
    let spinner = diagnostics.spinner(&format!(
        "choosing among {} candidate index(es) with hypothetical indexes",
        space.candidates.len()
    ));
    let selected = select(
        &whatif,
        snapshot,
        space,
        &statements,
        &advice.proposals,
        &select_options,
    )
    .await;
    spinner.finish_and_clear();
    match selected {
        Ok(Selection { chosen, report }) => {
            let _ = whatif.close().await;
            if let Some((_, reason)) = report.unplannable.first() {
                diagnostics.warn(&format!(
                    "{} statement(s) could not be planned, so the proposals for them are unverified \
                     (first: {reason})",
                    report.unplannable.len()
                ));
            }
            // A heuristic proposal none of whose statements planned (e.g. the
            // role may not read the table): nothing speaks against it, so it
            // stays, unverified.
            let planned = |id: &i64| !report.unplannable.iter().any(|(u, _)| u == id);
            let unverified: Vec<IndexProposal> = advice
                .proposals
                .drain(..)
                .filter(|p| !p.queryids.iter().any(planned))
                .collect();
            advice.proposals = chosen;
            advice.proposals.extend(unverified);
            Ok(Some(report))
        }
        Err(e) => {
            diagnostics.warn(&format!(
                "verification stopped, index proposals are unverified: {e}"
            ));
            Ok(None)
        }
    }
}

/// Why a scan has no advice: no statement was a query on a table that is hot
/// enough. `reasons`: every skip reason with its count (`skip_reasons_with`).
fn nothing_to_analyze(
    snapshot: &Snapshot,
    given: usize,
    reasons: &[(&str, usize)],
    hot: &HotStatements,
) -> String {
    use crate::analyze::workload::{BELOW_MIN_CALLS, BELOW_MIN_MEAN_TIME, BELOW_MIN_TOTAL_TIME};
    let observed = snapshot.statements.entries.len();
    let what = match (observed, given) {
        (n, 0) => format!(
            "the {} pg_stat_statements entries of this database",
            grouped(n)
        ),
        (0, g) => format!("the {} statement(s) given", grouped(g)),
        (n, g) => format!(
            "the {} statements ({} from pg_stat_statements, {} given)",
            grouped(n + g),
            grouped(n),
            grouped(g)
        ),
    };
    let thresholds = [BELOW_MIN_CALLS, BELOW_MIN_TOTAL_TIME, BELOW_MIN_MEAN_TIME];
    // The thresholds first: they are what the user can change.
    let mut ordered = reasons.to_vec();
    ordered.sort_by_key(|(label, _)| !thresholds.contains(label));
    let parts: Vec<String> = ordered
        .iter()
        .map(|&(label, n)| match label {
            BELOW_MIN_CALLS => format!(
                "{} ran fewer than --min-calls {} times (pass --min-calls 1 to include them)",
                grouped(n),
                hot.min_calls
            ),
            BELOW_MIN_TOTAL_TIME => format!(
                "{} took less than --min-total-time {} in all (lower it to include them)",
                grouped(n),
                millis(hot.min_total_time_ms)
            ),
            BELOW_MIN_MEAN_TIME => format!(
                "{} took less than --min-mean-time {} on average (lower it to include them)",
                grouped(n),
                millis(hot.min_mean_time_ms)
            ),
            other => format!("{} {other}", grouped(n)),
        })
        .collect();
    let too_rare = reasons.iter().any(|(l, _)| thresholds.contains(l));
    if too_rare {
        return format!("none of {what} was analyzed: {}", parts.join(", "));
    }
    let reset = match &snapshot.statements.stats_reset {
        Some(at) if observed > 0 => format!("; statistics reset at {at}"),
        _ => String::new(),
    };
    // Only pgadvise's own statements, utility commands and the like: the
    // workload has not run (yet) since the statistics were reset.
    let not_run_yet = reasons.iter().all(|(l, _)| {
        [
            SkipReason::PgadviseStatement,
            SkipReason::UtilityStatement(String::new()),
            SkipReason::NoTables,
            SkipReason::OnlyCatalogRelations,
            SkipReason::Empty,
        ]
        .iter()
        .any(|r| r.label() == *l)
    });
    format!(
        "none of {what} is a query pgadvise can analyze ({}{reset}){}",
        parts.join(", "),
        if not_run_yet && observed > 0 {
            ": let the workload run, then scan again"
        } else {
            ""
        }
    )
}

/// `5000` as `5,000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A threshold in milliseconds as the flags take it: `500ms`, `1.5ms`.
fn millis(ms: f64) -> String {
    format!("{ms}ms")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::health::fixture;

    #[test]
    fn nothing_to_analyze_names_the_real_reasons() {
        let mut snap = fixture::snapshot();
        snap.statements.entries = (0..5000)
            .map(|i| fixture::statement(i, 1, 1.0, "SELECT 1"))
            .chain((0..3).map(|i| fixture::statement(-i, 1, 1.0, "SET x = 1")))
            .collect();
        let hot = HotStatements::default();
        let rare = nothing_to_analyze(
            &snap,
            0,
            &[("pgadvise's own", 3), ("below --min-calls", 5000)],
            &hot,
        );
        assert_eq!(
            rare,
            "none of the 5,003 pg_stat_statements entries of this database was analyzed: \
             5,000 ran fewer than --min-calls 2 times (pass --min-calls 1 to include them), \
             3 pgadvise's own"
        );
        let slow = HotStatements {
            min_total_time_ms: 500.0,
            min_mean_time_ms: 1.5,
            ..HotStatements::default()
        };
        let rare = nothing_to_analyze(
            &snap,
            2,
            &[("below --min-total-time", 4), ("below --min-mean-time", 1)],
            &slow,
        );
        assert!(
            rare.starts_with(
                "none of the 5,005 statements (5,003 from pg_stat_statements, 2 given)"
            ),
            "{rare}"
        );
        assert!(
            rare.contains("4 took less than --min-total-time 500ms in all"),
            "{rare}"
        );
        assert!(
            rare.contains("1 took less than --min-mean-time 1.5ms on average"),
            "{rare}"
        );

        snap.statements.stats_reset = Some("2026-01-01T00:00:00Z".into());
        let reset = nothing_to_analyze(
            &snap,
            0,
            &[("pgadvise's own", 4990), ("utility statement", 13)],
            &hot,
        );
        assert!(
            reset.ends_with(
                "is a query pgadvise can analyze (4,990 pgadvise's own, 13 utility statement; \
                 statistics reset at 2026-01-01T00:00:00Z): let the workload run, then scan again"
            ),
            "{reset}"
        );
        // A relation the catalog does not know: more workload will not help.
        let unknown = nothing_to_analyze(&snap, 0, &[("unknown relation", 5003)], &hot);
        assert!(unknown.contains("(5,003 unknown relation;"), "{unknown}");
        assert!(!unknown.contains("let the workload run"), "{unknown}");
        snap.statements.entries.clear();
        let given = nothing_to_analyze(&snap, 1, &[("unknown relation", 1)], &hot);
        assert!(
            given.starts_with("none of the 1 statement(s) given is a query pgadvise can analyze (1 unknown relation)"),
            "{given}"
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (5000, "5,000"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(grouped(n), text);
        }
    }

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
