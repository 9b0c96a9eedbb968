//! `pgadvise snapshot`: everything pgadvise reads from the database, as JSON.

use crate::error::{exit, RunError};
use crate::pipeline::{collect_live, connection_spec, stdout, write_snapshot, Diagnostics};
use crate::settings::SnapshotSettings;

/// Collects in the read-only session and writes the snapshot, to a file or stdout.
pub async fn run(settings: &SnapshotSettings, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let spec = connection_spec(&settings.connection, diagnostics)?;
    let snapshot = collect_live(&spec, &settings.connection, None, true, diagnostics).await?;
    match &settings.output {
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
