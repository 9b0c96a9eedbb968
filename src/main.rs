use clap::{CommandFactory, FromArgMatches};
use pgadvise::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Which flags were typed: those win over pgadvise.toml.
    let explicit = pgadvise::settings::Explicit::from_matches(&matches);
    // Two workers: the what-if session plans the baseline on the server while
    // the analysis builds the candidates (see pipeline::open_whatif_early).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgadvise: error: cannot start the async runtime: {e}");
            return ExitCode::from(pgadvise::error::exit::OUTPUT);
        }
    };
    match runtime.block_on(pgadvise::run::run(cli, &explicit)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pgadvise: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
