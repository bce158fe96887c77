//! The `tsunagu` binary.

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use tsunagu_cli::commands::{Cli, run};

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The log format comes from the same layered configuration as everything else; a
    // configuration error is reported by the command itself, after logging starts.
    let json = tsunagu_cli::config::Config::load_with(&cli.global, &|k: &str| std::env::var(k).ok())
        .map(|c| c.log_format == "json")
        .unwrap_or(false);
    init_logging(json);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
