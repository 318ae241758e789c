//! `identity`: parse the command line and configuration, start logging, run.

use clap::Parser;
use identity::cli::{self, Cli};
use identity::config::Config;
use identity::telemetry;
use identity::telemetry::traces::Traces;

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
    let (traces, tracer) = match config.traces.as_ref().map(Traces::start).transpose() {
        Ok(started) => started.unzip(),
        Err(error) => {
            eprintln!("configuration error: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(telemetry::subscriber(
        &config.log_filter,
        std::io::stderr,
        tracer,
    ));
    let outcome = cli::run(cli, config).await;
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One plain line on stderr (where the logs go too), with the
            // whole cause chain: what a person or a supervisor reads.
            eprintln!("identity: {}", telemetry::Chain(error.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
