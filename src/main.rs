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
            tracing::error!(error = %telemetry::Chain(error.as_ref()), "identity failed");
            // Also one plain line on stderr, for whoever started it by hand.
            eprintln!("identity: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
