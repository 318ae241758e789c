//! `identity`: parse the command line and configuration, start logging, run.

use clap::Parser;
use identity::cli::{self, Cli};
use identity::config::Config;
use identity::telemetry;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(telemetry::subscriber(&config.log_filter, std::io::stderr));
    match cli::run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One plain line on stderr (where the logs go too), with the
            // whole cause chain: what a person or a supervisor reads.
            eprintln!("identity: {}", telemetry::Chain(error.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
