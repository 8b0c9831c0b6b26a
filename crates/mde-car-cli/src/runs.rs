//! `mde-car runs NAME`: a connection's sync history, newest first, as the app's Sync history
//! page shows it.

use std::process::ExitCode;

use mde_car_core::{Core, store::RunRecord};

use crate::{
    json::run_json,
    print::{print_json, print_run_numbers, terminal_safe},
};

pub(crate) async fn run(
    core: &Core,
    name: &str,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let connection = core.find_connection(name).await?;
    let runs = core.sync_runs(&connection.id, limit).await?;
    if json {
        print_json(&runs.iter().map(run_json).collect::<Vec<_>>())?;
    } else if runs.is_empty() {
        println!(
            "{} has not been synced yet; run `mde-car sync '{}'`",
            connection.name, connection.name
        );
    } else {
        for run in &runs {
            print_run(run);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A headline (number, start, status, mode, error) the run's numbers indent under.
fn print_run(run: &RunRecord) {
    println!(
        "#{} {} {} ({}) {}",
        run.id,
        run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        run.status.key(),
        run.mode,
        terminal_safe(run.error.as_deref().unwrap_or(""), false)
    );
    print_run_numbers(run);
}
