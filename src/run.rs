//! Runs a parsed command: reads pgadvise.toml, resolves the command's
//! settings once, and hands them to the command's module.

use crate::cli::{Cli, Command};
use crate::command;
use crate::config::Config;
pub use crate::error::{exit, RunError};
use crate::pipeline::Diagnostics;
use crate::settings::{
    self, AuditSettings, DemoSettings, DiffSettings, Explicit, FleetSettings, ScanSettings,
    SnapshotSettings, VerifySettings,
};

/// `explicit`: the flags typed on the command line, which win over the file.
pub async fn run(cli: Cli, explicit: &Explicit) -> Result<u8, RunError> {
    let file = Config::load(cli.config.as_deref())?
        .map(|(_, c)| c)
        .unwrap_or_default();
    let diagnostics = Diagnostics::new(settings::quiet(cli.quiet, &file));
    match cli.command {
        Command::Scan(args) => {
            let settings = ScanSettings::for_scan(&args, &file, explicit);
            command::scan::run(&settings, &diagnostics, false).await
        }
        Command::Audit(args) => {
            match FleetSettings::resolve(&args, &file, explicit).map_err(RunError::Usage)? {
                Some(fleet) => command::fleet::run(&fleet, &diagnostics).await,
                None => {
                    let settings = AuditSettings::resolve(&args, &file, explicit);
                    command::audit::run(&settings, &diagnostics).await
                }
            }
        }
        Command::Pool(args) => {
            let settings = ScanSettings::without_file_migrations(&args, &file, explicit);
            command::scan::run(&settings, &diagnostics, true).await
        }
        Command::Snapshot(args) => {
            command::snapshot::run(&SnapshotSettings::resolve(&args), &diagnostics).await
        }
        Command::Demo(args) => {
            let settings = DemoSettings::resolve(&args, &file, explicit);
            crate::demo::run(
                &settings.out_dir,
                settings.database_url.as_deref(),
                diagnostics.quiet,
            )
            .await
        }
        Command::Verify(args) => {
            let settings = VerifySettings::resolve(&args, &file, explicit);
            command::verify::run(&settings, &diagnostics).await
        }
        Command::Diff(args) => {
            let settings = DiffSettings::resolve(&args, &file, explicit);
            command::diff::run(&settings, &diagnostics).await
        }
    }
}
