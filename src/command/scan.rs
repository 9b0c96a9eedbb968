//! `pgadvise scan` and `pgadvise pool`: the scan, its files, the report on stdout.

use crate::cli::OutputFormat;
use crate::emit::{github, sarif, text};
use crate::error::{exit, RunError};
use crate::pipeline::{analyze_scan, render_stdout, stdout, write_outputs, Diagnostics};
use crate::settings::ScanSettings;

/// `pool_only`: the `pool` subcommand, which prints the verdict alone.
pub async fn run(
    settings: &ScanSettings,
    diagnostics: &Diagnostics,
    pool_only: bool,
) -> Result<u8, RunError> {
    let outcome = analyze_scan(settings, diagnostics, pool_only).await?;
    if pool_only {
        if let Some((verdict, findings)) = &outcome.pool {
            match settings.format {
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
    write_outputs(settings, &outcome, diagnostics)?;
    stdout(&render_stdout(
        settings.format,
        &outcome,
        &settings.migrations_dir,
        None,
    ))?;
    Ok(exit::SUCCESS)
}
