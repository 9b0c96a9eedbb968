//! The scan's stages in order, shared by `scan`, `pool`, `audit` and `demo`:
//! collect (or read a snapshot), analyze, verify with hypopg, then the files
//! and the text on stdout.

use crate::analyze::antipatterns::{self, AntipatternOptions};
use crate::analyze::finding::{Finding, Severity};
use crate::analyze::health::{self, HealthOptions};
use crate::analyze::indexes::space::{candidate_space, CandidateSpace};
use crate::analyze::indexes::{self, HotStatements, IndexAdvice, IndexProposal, TableFilter};
use crate::analyze::pool::{self, PoolOptions};
use crate::analyze::queries::{split_statements, SkipReason};
use crate::analyze::workload::Workload;
use crate::cli::OutputFormat;
use crate::collect::connect::connect;
use crate::collect::conninfo::ConnectionSpec;
use crate::collect::{collect, CollectOptions};
use crate::emit::audit;
use crate::emit::migrations::drop::drop_migration;
use crate::emit::migrations::index::{index_migration, MigrationOptions};
use crate::emit::migrations::{write_migrations, Timestamp};
use crate::emit::report::ScanReport;
use crate::emit::{github, html, pr_body, sarif, text, write_atomically};
use crate::error::RunError;
use crate::settings::{Advisor, Connection, ScanSettings};
use crate::snapshot::{Snapshot, Statement};
use crate::verification_plan::VerificationPlan;
use crate::verify::proposals::{LeftOut, VerifyReport};
use crate::verify::select::{select, SelectOptions, Selection};
use crate::verify::selectivity::add_filter_evidence;
use crate::verify::{PlanSummary, VerifyError, VerifyOptions, WhatIf};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where diagnostics go: stderr unless `--quiet`.
pub struct Diagnostics {
    pub quiet: bool,
    /// The fleet target this run is for: its warnings name it, and it draws
    /// no progress (several targets run at once).
    pub target: Option<String>,
}

impl Diagnostics {
    pub fn new(quiet: bool) -> Self {
        Diagnostics {
            quiet,
            target: None,
        }
    }

    /// For one target of a fleet.
    pub fn for_target(&self, name: &str) -> Self {
        Diagnostics {
            quiet: self.quiet,
            target: Some(name.to_string()),
        }
    }

    /// Whether progress may be drawn on stderr (also needs a terminal).
    pub fn shows_progress(&self) -> bool {
        !self.quiet && self.target.is_none()
    }

    /// A spinner on stderr while a stage runs: only on a terminal, never with --quiet.
    pub fn spinner(&self, message: &str) -> indicatif::ProgressBar {
        use std::io::IsTerminal;
        if !self.shows_progress() || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    pub fn warn(&self, message: &str) {
        if !self.quiet {
            match &self.target {
                Some(target) => eprintln!("pgadvise: warning: [{target}] {message}"),
                None => eprintln!("pgadvise: warning: {message}"),
            }
        }
    }
}

/// The connection the user asked for, with `--connect-timeout` applied.
pub fn connection_spec(
    connection: &Connection,
    diagnostics: &Diagnostics,
) -> Result<ConnectionSpec, RunError> {
    let mut spec = ConnectionSpec::from_env(connection.target.as_deref())?;
    if let Some(timeout) = connection.connect_timeout {
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
pub async fn collect_live(
    spec: &ConnectionSpec,
    connection: &Connection,
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
        statement_timeout: connection.statement_timeout,
        lock_timeout: connection.lock_timeout,
        require_statements,
        target: spec.display_target(),
        sample_window,
        show_progress: diagnostics.shows_progress(),
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

/// A snapshot file, as `--snapshot` and `diff` read it.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, RunError> {
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

/// Collects (or reads the snapshot), analyzes, verifies: everything but output.
pub async fn analyze_scan(
    settings: &ScanSettings,
    diagnostics: &Diagnostics,
    pool_only: bool,
) -> Result<ScanOutcome, RunError> {
    let pools = &settings.pools;
    let wants_pool = pool_only || pools.requested;
    let sample_window = wants_pool.then_some(pools.sample_window);
    // Read before connecting: a missing file is a usage error before any work.
    // `pool` advises on no statements, so it reads none.
    let given = if pool_only {
        Vec::new()
    } else {
        given_statements(&settings.advisor)?
    };
    let (snapshot, spec) = match &settings.snapshot {
        Some(path) => (read_snapshot(path)?, None),
        None => {
            let spec = connection_spec(&settings.connection, diagnostics)?;
            // With statements of its own to analyze, a scan goes on without
            // pg_stat_statements (collect warns that the workload was not read).
            let snapshot = collect_live(
                &spec,
                &settings.connection,
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
                declared: pools.declared.clone(),
                db_cores: pools.db_cores,
                index_proposals,
            },
        )
    };
    // Before the pool-only return: `pool --save-snapshot` saves too.
    if let Some(path) = &settings.save_snapshot {
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
        top: settings.advisor.top,
        min_calls: settings.advisor.min_calls,
        min_total_time_ms: settings
            .advisor
            .min_total_time
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        min_mean_time_ms: settings
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
        include: settings.advisor.include_tables.clone(),
        exclude: settings.advisor.exclude_tables.clone(),
    };
    let early = match &spec {
        Some(spec) if settings.advisor.verify && snapshot.extension("hypopg").is_some() => {
            let baseline = indexes::hot_statements(&workload, &hot)
                .into_iter()
                .filter(|a| !a.shape.accesses.is_empty())
                .map(|a| (a.statement.queryid, a.statement.query.clone()))
                .collect();
            Some(open_whatif_early(spec, settings, &snapshot, baseline))
        }
        _ => None,
    };
    let mut advice = indexes::propose(&snapshot, &workload, &hot, &table_filter);
    let verification = match early {
        Some(early) if !advice.proposals.is_empty() => {
            let space = candidate_space(&snapshot, &workload, &hot, &table_filter);
            verify_live(
                early,
                settings,
                &snapshot,
                &workload,
                space,
                &mut advice,
                diagnostics,
            )
            .await?
        }
        Some(early) => {
            early.abort();
            None
        }
        None => None,
    };
    // No what-if session (no hypopg, an offline snapshot, --no-verify, or
    // verification failed): the budget still bounds the set, by pgadvise's
    // own estimates, and the report lists what it left out.
    let verification = match verification {
        None if settings.advisor.budget_bytes.is_some() => {
            let (fitting, left_out) = within_budget(
                std::mem::take(&mut advice.proposals),
                settings.advisor.budget_bytes,
                &[],
                false,
                diagnostics,
            );
            advice.proposals = fitting;
            (!left_out.is_empty()).then(|| VerifyReport {
                left_out,
                ..VerifyReport::default()
            })
        }
        verification => verification,
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
        &settings.thresholds,
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
            drop_unused: settings.advisor.drop_unused,
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
        &settings.ignored_rules,
        &settings.ignored_tables,
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
    settings: &ScanSettings,
    outcome: &ScanOutcome,
    diagnostics: &Diagnostics,
) -> Result<(), RunError> {
    let write = |path: &Path, contents: &str| {
        write_atomically(path, contents.as_bytes()).map_err(|source| RunError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    if let Some(dir) = &settings.migrations.dir {
        write_index_migrations(
            dir,
            settings,
            &outcome.snapshot,
            &outcome.advice,
            &outcome.report.drops,
            diagnostics,
        )?;
    }
    if let Some(path) = &settings.report {
        let page = html::render(
            &outcome.snapshot,
            &outcome.report,
            outcome.pool.as_ref().map(|(v, _)| v),
            &outcome.advice.served_by_existing,
        )
        .map_err(|e| RunError::Render(e.to_string()))?;
        write(path, &page)?;
    }
    if let Some(path) = &settings.pr_body {
        let dir = &settings.migrations_dir;
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

/// What goes to stdout in each format; `audit` adds its verdict.
pub fn render_stdout(
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
    settings: &ScanSettings,
    snapshot: &Snapshot,
    advice: &IndexAdvice,
    drops: &[crate::analyze::health::DropProposal],
    diagnostics: &Diagnostics,
) -> Result<(), RunError> {
    let options = MigrationOptions {
        lock_timeout: settings.migrations.lock_timeout,
    };
    let mut taken: Vec<String> = snapshot.indexes.iter().map(|i| i.name.clone()).collect();
    taken.extend(snapshot.tables.iter().map(|t| t.name.clone()));
    taken.extend(advice.proposals.iter().map(|p| p.name.clone()));
    // GIN/GiST proposals hypopg cannot check get their migration: the
    // verification plan checks them once built.
    let chosen: Vec<_> = advice
        .proposals
        .iter()
        .filter(|p| p.verified || p.verification.is_some() || !settings.advisor.verify)
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
        settings.migrations.format,
        &migrations,
        Timestamp::now(),
        settings.migrations.force,
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
            settings.migrations.format.as_str(),
            dir.display()
        );
        for path in &outcome.written {
            eprintln!("  {}", path.display());
        }
    }
    Ok(())
}

/// The what-if session and the baseline plans it made of the statements it was given.
type PrimedWhatIf = (WhatIf, Vec<(i64, PlanSummary)>);

/// A what-if session being opened (a second, pinned connection) and its
/// baseline plans being made: it waits on the server while the analysis
/// builds the candidates on this process's CPU. The outer error is a failed
/// connection; the inner one a session that cannot verify (no hypopg in the
/// database, a server too old).
type EarlyWhatIf = tokio::task::JoinHandle<Result<Result<PrimedWhatIf, VerifyError>, RunError>>;

/// Starts opening the what-if session and planning `baseline` (queryid and
/// text of every statement the candidates can be for) without hypothetical
/// indexes.
fn open_whatif_early(
    spec: &ConnectionSpec,
    settings: &ScanSettings,
    snapshot: &Snapshot,
    baseline: Vec<(i64, String)>,
) -> EarlyWhatIf {
    let spec = spec.clone();
    let options = VerifyOptions {
        statement_timeout: settings.connection.statement_timeout,
        lock_timeout: settings.connection.lock_timeout,
    };
    let version_num = snapshot.server.version_num;
    tokio::spawn(async move {
        let client = connect(&spec).await?;
        Ok(
            match WhatIf::open_with(client, version_num, &options).await {
                Ok(whatif) => {
                    let texts: Vec<&str> = baseline.iter().map(|(_, sql)| sql.as_str()).collect();
                    let plans = whatif.plan_many(&texts).await;
                    // A statement that failed is planned again by the selection,
                    // which reports why.
                    let primed = baseline
                        .iter()
                        .zip(plans)
                        .filter_map(|((id, _), plan)| Some((*id, plan.ok()?)))
                        .collect();
                    Ok((whatif, primed))
                }
                Err(e) => Err(e),
            },
        )
    })
}

/// Chooses the verified set with hypopg on the what-if session, from the
/// candidate space of the workload. Without hypopg the heuristic proposals
/// stay, unverified (the snapshot's warning says how to install it); a
/// failure mid-way is a warning, not a lost report.
async fn verify_live(
    early: EarlyWhatIf,
    settings: &ScanSettings,
    snapshot: &Snapshot,
    workload: &Workload<'_>,
    space: CandidateSpace,
    advice: &mut IndexAdvice,
    diagnostics: &Diagnostics,
) -> Result<Option<VerifyReport>, RunError> {
    let opened = match early.await {
        Ok(opened) => opened?,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            diagnostics.warn(&format!("index proposals are unverified: {e}"));
            return Ok(None);
        }
    };
    let (whatif, primed) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            diagnostics.warn(&format!("index proposals are unverified: {e}"));
            return Ok(None);
        }
    };
    // hypopg cannot build GIN or GiST indexes: those stay out of the
    // selection, unverified with their reason, and come back after it.
    let (simulated, mut unsimulated): (Vec<IndexProposal>, Vec<IndexProposal>) = advice
        .proposals
        .drain(..)
        .partition(|p| p.method.simulated_by_hypopg());
    // Their evidence gains the planner's estimate of each filter, from the
    // baseline plans already made (no further EXPLAIN).
    add_filter_evidence(&mut unsimulated, &primed, snapshot);
    advice.proposals = simulated;
    if advice.proposals.is_empty() {
        let _ = whatif.close().await;
        let (fitting, left_out) = within_budget(
            unsimulated,
            settings.advisor.budget_bytes,
            &advice.proposals,
            true,
            diagnostics,
        );
        advice.proposals = fitting;
        // The session planned the workload but had nothing it could simulate:
        // the report says so, with what the budget left out.
        return Ok(Some(VerifyReport {
            left_out,
            plans_made: primed.len(),
            ..VerifyReport::default()
        }));
    }
    let statements: Vec<&Statement> = workload.analyzed.iter().map(|a| a.statement).collect();
    let select_options = SelectOptions {
        min_savings: settings.advisor.min_cost_savings / 100.0,
        budget_bytes: settings.advisor.budget_bytes,
        max_indexes_per_table: settings.advisor.max_indexes_per_table,
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
        primed,
    )
    .await;
    spinner.finish_and_clear();
    match selected {
        Ok(Selection { chosen, mut report }) => {
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
            let (fitting, left_out) = within_budget(
                unsimulated,
                settings.advisor.budget_bytes,
                &advice.proposals,
                true,
                diagnostics,
            );
            advice.proposals.extend(fitting);
            // After the measured candidates (most saving first): no saving known.
            report.left_out.extend(left_out);
            Ok(Some(report))
        }
        Err(e) => {
            advice.proposals.extend(unsimulated);
            diagnostics.warn(&format!(
                "verification stopped, index proposals are unverified: {e}"
            ));
            Ok(None)
        }
    }
}

/// The unverified proposals (GIN, GiST: hypopg cannot size them; or every
/// proposal when no what-if session ran) that fit in what `--budget` leaves
/// after `kept`, by their estimated size, in their order (most workload time
/// first); the rest are left out, with a warning, as the report lists them.
fn within_budget(
    unverified: Vec<IndexProposal>,
    budget: Option<i64>,
    kept: &[IndexProposal],
    after_verified_set: bool,
    diagnostics: &Diagnostics,
) -> (Vec<IndexProposal>, Vec<LeftOut>) {
    let (fitting, over) = split_by_budget(unverified, budget, kept);
    let (Some(budget), Some(first)) = (budget, over.first()) else {
        return (fitting, Vec::new());
    };
    let bytes: i64 = over.iter().map(|p| p.estimated_size_bytes).sum();
    diagnostics.warn(&format!(
        "{} unverified index proposal(s) (~{} estimated, first: {}) left out: they do not fit \
         in --budget after the other proposals",
        over.len(),
        crate::format::bytes(bytes),
        first.ddl
    ));
    let left_out = over
        .iter()
        .map(|p| LeftOut::over_budget(p, budget, after_verified_set))
        .collect();
    (fitting, left_out)
}

fn split_by_budget(
    proposals: Vec<IndexProposal>,
    budget: Option<i64>,
    kept: &[IndexProposal],
) -> (Vec<IndexProposal>, Vec<IndexProposal>) {
    let Some(budget) = budget else {
        return (proposals, Vec::new());
    };
    let mut room = budget - kept.iter().map(|p| p.estimated_size_bytes).sum::<i64>();
    proposals.into_iter().partition(|p| {
        let fits = p.estimated_size_bytes <= room;
        if fits {
            room -= p.estimated_size_bytes;
        }
        fits
    })
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
fn given_statements(args: &Advisor) -> Result<Vec<Statement>, RunError> {
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
pub fn stdout(text: &str) -> Result<(), RunError> {
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

pub fn write_snapshot(path: &Path, snapshot: &Snapshot) -> Result<(), RunError> {
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
    fn unverified_proposals_are_charged_against_the_budget_in_their_order() {
        let sized = |name: &str, bytes: i64| IndexProposal {
            name: name.to_string(),
            estimated_size_bytes: bytes,
            ..IndexProposal::default()
        };
        let names = |v: &[IndexProposal]| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        let kept = [sized("btree", 600)];
        let cases: [(Option<i64>, Vec<&str>, Vec<&str>); 5] = [
            (None, vec!["a", "b", "c"], vec![]),
            (Some(1000), vec!["a", "c"], vec!["b"]),
            (Some(700), vec!["c"], vec!["a", "b"]),
            (Some(650), vec![], vec!["a", "b", "c"]),
            (Some(2000), vec!["a", "b", "c"], vec![]),
        ];
        for (budget, fitting, over) in cases {
            let unsimulated = vec![sized("a", 300), sized("b", 200), sized("c", 100)];
            let (f, o) = split_by_budget(unsimulated, budget, &kept);
            assert_eq!(names(&f), fitting, "{budget:?}");
            assert_eq!(names(&o), over, "{budget:?}");
        }
    }

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
}
