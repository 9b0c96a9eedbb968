//! `pgadvise diff OLD [NEW]`: two snapshots of one database compared, NEW
//! read from a file or from the database now.

use crate::cli::DiffFormat;
use crate::emit;
use crate::error::{exit, RunError};
use crate::pipeline::{
    collect_live, connection_spec, read_snapshot, stdout, write_snapshot, Diagnostics,
};
use crate::settings::{DiffNew, DiffSettings};

/// Exit 1 on a regression at or above `--fail-on-regression`, as `audit`
/// does on a finding.
pub async fn run(settings: &DiffSettings, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    // OLD first: a bad file is a usage error before any connection.
    let old = read_snapshot(&settings.old)?;
    let new = match &settings.new {
        DiffNew::File(path) => {
            if settings.save_snapshot.is_some() {
                diagnostics.warn(
                    "--save-snapshot keeps NEW when it is read from the database; NEW is a file here, nothing to save",
                );
            }
            read_snapshot(path)?
        }
        DiffNew::Live(connection) => {
            let spec = connection_spec(connection, diagnostics)?;
            let new = collect_live(&spec, connection, None, true, diagnostics).await?;
            if let Some(path) = &settings.save_snapshot {
                write_snapshot(path, &new)?;
            }
            new
        }
    };
    let diff = crate::diff::compare(&old, &new, &settings.options)?;
    let rendered = match settings.format {
        DiffFormat::Text => emit::diff::text(&diff),
        DiffFormat::Markdown => emit::diff::markdown(&diff),
        DiffFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&diff).unwrap_or_default()
        ),
    };
    stdout(&rendered)?;
    let failed = settings
        .fail_on_regression
        .is_some_and(|pct| diff.regressions_at_or_above(pct).next().is_some());
    Ok(if failed {
        exit::FINDINGS
    } else {
        exit::SUCCESS
    })
}
