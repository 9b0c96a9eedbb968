use clap::Parser;
use pgadvise::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgadvise: error: cannot start the async runtime: {e}");
            return ExitCode::from(pgadvise::run::exit::OUTPUT);
        }
    };
    match runtime.block_on(pgadvise::run::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pgadvise: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
