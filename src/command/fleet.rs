//! `pgadvise audit` of a fleet (`--targets FILE`, `[[targets]]`): each target
//! audited exactly as `audit` audits one database (`command::audit::audit`),
//! `--jobs` of them at a time; a target that cannot be audited is reported
//! with its reason and exit code and stops no other. One summary on stdout,
//! and with `--report DIR` an index page linking each target's report.

use crate::cli::OutputFormat;
use crate::command::audit::audit;
use crate::emit::audit::migration_files;
use crate::emit::fleet::{self, AuditedTarget, FleetAudit, TargetAudit, TargetOutcome};
use crate::emit::write_atomically;
use crate::error::RunError;
use crate::fleet::{name_targets, parse_targets_file, FleetTarget, INDEX_FILE, TARGET_REPORT_FILE};
use crate::pipeline::{stdout, Diagnostics};
use crate::settings::FleetSettings;
use futures_util::stream::{self, StreamExt};
use std::path::Path;

pub async fn run(settings: &FleetSettings, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let targets = targets(settings)?;
    for dir in [&settings.report_dir, &settings.snapshot_dir]
        .into_iter()
        .flatten()
    {
        create_dir(dir)?;
    }
    if !diagnostics.quiet {
        eprintln!(
            "pgadvise: auditing {} target(s), {} at a time",
            targets.len(),
            settings.jobs.min(targets.len())
        );
    }
    // Concurrent on the one-threaded runtime: while one target waits on its
    // server (connecting, sampling, planning), the others go on.
    let mut audits: Vec<(usize, TargetAudit)> = stream::iter(targets.iter().enumerate())
        .map(|(i, target)| async move { (i, audit_target(settings, target, diagnostics).await) })
        .buffer_unordered(settings.jobs)
        .collect()
        .await;
    audits.sort_by_key(|(i, _)| *i);
    let fleet = FleetAudit {
        fail_on: settings.audit.fail_on,
        targets: audits.into_iter().map(|(_, t)| t).collect(),
    };
    if let Some(dir) = &settings.report_dir {
        let page = fleet::render_index(&fleet).map_err(|e| RunError::Render(e.to_string()))?;
        let path = dir.join(INDEX_FILE);
        write_atomically(&path, page.as_bytes())
            .map_err(|source| RunError::Write { path, source })?;
    }
    let format = settings.audit.scan.format;
    let pretty = |value: serde_json::Value| {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )
    };
    stdout(&match format {
        OutputFormat::Text => fleet::text(&fleet),
        OutputFormat::Json => pretty(fleet::to_json(&fleet)),
        OutputFormat::Sarif => pretty(fleet::to_sarif(&fleet)),
        OutputFormat::Github => fleet::github(&fleet),
    })?;
    if !diagnostics.quiet && format != OutputFormat::Text {
        eprintln!("pgadvise: audit of {}", fleet.headline());
    }
    Ok(fleet.exit_code())
}

/// The targets file's targets, then the file's `[[targets]]`, named.
fn targets(settings: &FleetSettings) -> Result<Vec<FleetTarget>, RunError> {
    let mut listed = Vec::new();
    if let Some(path) = &settings.targets_file {
        let text = std::fs::read_to_string(path).map_err(|source| RunError::ReadInput {
            path: path.clone(),
            source,
        })?;
        listed = parse_targets_file(&text)
            .map_err(|e| RunError::Usage(format!("targets file {}: {e}", path.display())))?;
    }
    listed.extend(settings.listed.iter().cloned());
    if listed.is_empty() {
        let source = settings.targets_file.as_ref().map_or_else(
            || "[[targets]]".to_string(),
            |p| format!("the targets file {}", p.display()),
        );
        return Err(RunError::Usage(format!(
            "no targets to audit: {source} lists none (one URL or conninfo per line)"
        )));
    }
    Ok(name_targets(listed))
}

/// One target's audit; whatever stops it becomes its outcome, not the fleet's.
async fn audit_target(
    settings: &FleetSettings,
    target: &FleetTarget,
    diagnostics: &Diagnostics,
) -> TargetAudit {
    let audit_settings = settings.for_target(target);
    let target_diagnostics = diagnostics.for_target(&target.name);
    let report_folder = settings.report_dir.as_ref().map(|d| d.join(&target.slug));
    let audited = match &report_folder {
        Some(folder) => create_dir(folder),
        None => Ok(()),
    };
    let audited = match audited {
        Ok(()) => audit(&audit_settings, &target_diagnostics).await,
        Err(e) => Err(e),
    };
    let outcome = match audited {
        Ok(done) => {
            let exit_code = done.exit_code();
            let report = done.outcome.report;
            let files = migration_files(
                &audit_settings.scan.migrations_dir,
                &report.indexes,
                &report.drops,
                &report.findings,
            );
            TargetOutcome::Audited(Box::new(AuditedTarget {
                report,
                verdict: done.verdict,
                exit_code,
                migration_files: files,
                report_file: report_folder
                    .as_ref()
                    .map(|_| format!("{}/{TARGET_REPORT_FILE}", target.slug)),
            }))
        }
        Err(e) => {
            // No empty folder for a target without a report.
            if let Some(folder) = &report_folder {
                let _ = std::fs::remove_dir(folder);
            }
            TargetOutcome::NotAudited {
                reason: e.to_string(),
                exit_code: e.exit_code(),
            }
        }
    };
    let done = TargetAudit {
        name: target.name.clone(),
        slug: target.slug.clone(),
        outcome,
    };
    if !diagnostics.quiet {
        eprintln!(
            "pgadvise: [{}] {}",
            done.name,
            done.verdict(settings.audit.fail_on)
        );
    }
    done
}

fn create_dir(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::Write {
        path: dir.to_path_buf(),
        source,
    })
}
