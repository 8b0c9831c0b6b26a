//! `mde-car`: the core without a window — connections, the demo tenant (later sync, daemon,
//! search) — on the same settings file and keyring entries as the desktop app.

// A command-line tool's job is to print.
#![allow(clippy::print_stdout)]

mod asset;
mod cli;
mod connection;
mod daemon;
mod demo;
mod json;
mod man;
mod metrics;
mod print;
mod runs;
mod search;
mod status;
mod sync;

use std::process::ExitCode;

use clap::Parser as _;
use mde_car_core::{Core, ErrorCode, paths::DataDir};

use crate::cli::{Cli, Command};

/// Exit status of a connection test that ran but did not connect.
const EXIT_TEST_FAILED: u8 = 3;
/// Exit status of invalid input.
const EXIT_INVALID: u8 = 2;
/// Exit status of a sync run that failed or was cancelled.
const EXIT_SYNC_FAILED: u8 = 4;
/// A sync saved devices but not every data type (a partial run): monitoring can tell it from a
/// failure.
const EXIT_SYNC_PARTIAL: u8 = 5;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Man { dir } = &cli.command {
        return man::write(dir);
    }
    let Some(data_dir) = DataDir::resolve(cli.data_dir.clone()) else {
        eprintln!("error: no data folder: pass --data-dir or set MDE_CAR_DATA_DIR");
        return ExitCode::from(EXIT_INVALID);
    };
    mde_car_core::paths::keep_files_private();
    let _log_guard = mde_car_core::logging::init(&data_dir, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: the async runtime did not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime
        .block_on(run(cli, data_dir))
        .unwrap_or_else(|error| report(&error))
}

async fn run(cli: Cli, data_dir: DataDir) -> anyhow::Result<ExitCode> {
    let core = Core::open(data_dir)?;
    match cli.command {
        Command::Connection(command) => connection::run(&core, command).await,
        Command::Sync {
            name,
            full,
            accept_shrink,
            json,
        } => sync::run(&core, &name, full, accept_shrink, json).await,
        Command::Daemon { metrics } => daemon::run(&core, metrics).await,
        Command::Status { json } => status::run(&core, json).await,
        Command::Runs { name, limit, json } => runs::run(&core, &name, limit, json).await,
        Command::Search(args) => search::run(&core, args).await,
        Command::Asset(args) => asset::run(&core, &args).await,
        Command::Demo { serve } => demo::run(&core, serve).await,
        Command::Man { dir } => Ok(man::write(&dir)),
    }
}

/// Prints a command's error, with one line per invalid field named by its flag, and picks the
/// exit status: scripts can tell input to fix (2) from a failure to retry or report (1).
fn report(error: &anyhow::Error) -> ExitCode {
    let core_error = error.downcast_ref::<mde_car_core::Error>();
    // An error can quote the settings file or the tenant (a connection's name, an API
    // message): escaped like every other text this CLI prints.
    eprintln!(
        "error: {}",
        print::terminal_safe(&format!("{error:#}"), true)
    );
    if let Some(mde_car_core::Error::Validation(fields)) = core_error {
        for field in fields {
            eprintln!(
                "  {}: {}",
                cli_flag(field.field),
                print::terminal_safe(&field.message, false)
            );
        }
    }
    match core_error.map(mde_car_core::Error::code) {
        Some(ErrorCode::Validation | ErrorCode::DuplicateName | ErrorCode::NotFound) => {
            ExitCode::from(EXIT_INVALID)
        }
        _ => ExitCode::FAILURE,
    }
}

/// The core names fields as the settings file does; on a terminal the flag is what to fix.
fn cli_flag(field: &str) -> &str {
    match field {
        "tenantId" => "--tenant",
        "clientId" => "--client-id",
        "clientSecret" => "--secret-stdin",
        "apiBaseUrl" => "--api-base",
        "loginAuthority" => "--authority",
        "name" => "--name",
        "description" => "--description",
        "frequency" => "--frequency",
        "proxyUrl" => "--proxy",
        "caCertificateFile" => "--ca-cert",
        "cloud" => "--cloud",
        other => other,
    }
}
