//! `pgadvise audit`: the scan for scheduled CI, judged against `--fail-on`
//! and the baseline.

use crate::cli::OutputFormat;
use crate::emit::audit::{self, Baseline};
use crate::emit::write_atomically;
use crate::error::{exit, RunError};
use crate::pipeline::{analyze_scan, render_stdout, stdout, write_outputs, Diagnostics};
use crate::settings::AuditSettings;

/// `pgadvise audit`: the scan, then exit 1 when a finding the baseline does not
/// accept is at or above `--fail-on`.
pub async fn run(settings: &AuditSettings, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    // Read the baseline first: a bad file is a usage error before any work.
    let baseline = match &settings.baseline {
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
    let scan = &settings.scan;
    let outcome = analyze_scan(scan, diagnostics, false).await?;
    let fail_on = settings.fail_on;
    let verdict = audit::judge(&outcome.report.findings, fail_on, baseline.as_ref());
    write_outputs(scan, &outcome, diagnostics)?;
    if let Some(path) = &settings.write_baseline {
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
        scan.format,
        &outcome,
        &scan.migrations_dir,
        Some((&verdict, fail_on)),
    ))?;
    if !diagnostics.quiet && scan.format != OutputFormat::Text {
        eprintln!("pgadvise: {}", audit::verdict_line(&verdict, fail_on));
    }
    Ok(if verdict.failing.is_empty() {
        exit::SUCCESS
    } else {
        exit::FINDINGS
    })
}
