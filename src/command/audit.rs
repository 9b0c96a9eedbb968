//! `pgadvise audit`: the scan for scheduled CI, judged against `--fail-on`
//! and the baseline.

use crate::cli::OutputFormat;
use crate::emit::audit::{self, AuditVerdict, Baseline};
use crate::emit::write_atomically;
use crate::error::{exit, RunError};
use crate::pipeline::{
    analyze_scan, render_stdout, stdout, write_outputs, Diagnostics, ScanOutcome,
};
use crate::settings::AuditSettings;

/// An audit done: what the scan found and the verdict on it.
pub struct Audited {
    pub outcome: ScanOutcome,
    pub verdict: AuditVerdict,
}

impl Audited {
    /// 1 when a finding the baseline does not accept is at or above `--fail-on`.
    pub fn exit_code(&self) -> u8 {
        if self.verdict.failing.is_empty() {
            exit::SUCCESS
        } else {
            exit::FINDINGS
        }
    }
}

/// `pgadvise audit`: the scan, then exit 1 when a finding the baseline does not
/// accept is at or above `--fail-on`.
pub async fn run(settings: &AuditSettings, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let audited = audit(settings, diagnostics).await?;
    let scan = &settings.scan;
    let fail_on = settings.fail_on;
    stdout(&render_stdout(
        scan.format,
        &audited.outcome,
        &scan.migrations_dir,
        Some((&audited.verdict, fail_on)),
    ))?;
    if !diagnostics.quiet && scan.format != OutputFormat::Text {
        eprintln!(
            "pgadvise: {}",
            audit::verdict_line(&audited.verdict, fail_on)
        );
    }
    Ok(audited.exit_code())
}

/// The audit of one database, everything but stdout: the scan, the verdict,
/// and the files asked for. A fleet runs this for each of its targets.
pub async fn audit(
    settings: &AuditSettings,
    diagnostics: &Diagnostics,
) -> Result<Audited, RunError> {
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
    let verdict = audit::judge(
        &outcome.report.findings,
        settings.fail_on,
        baseline.as_ref(),
    );
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
    Ok(Audited { outcome, verdict })
}
