//! `mde-car sync NAME`: one run now, in the foreground, with its progress on stderr so that
//! stdout holds only the result.

use std::process::ExitCode;

use mde_car_core::{
    Core,
    events::{SyncEvent, SyncStep},
    store::{RunRecord, RunStatus},
    sync::{SyncOutcome, Trigger},
};
use tokio::task::JoinHandle;

use crate::{
    EXIT_SYNC_FAILED, EXIT_SYNC_PARTIAL,
    json::run_json,
    print::{print_json, print_run_numbers},
};

pub(crate) async fn run(
    core: &Core,
    name: &str,
    full: bool,
    accept_shrink: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let connection = core.find_connection(name).await?;
    if accept_shrink {
        core.accept_shrink(&connection.id);
    }
    // With --json a script reads the result; progress lines would only be noise on its stderr.
    let printer = (!json).then(|| spawn_progress_printer(core, &connection.id));
    let outcome = core
        .sync_connection(&connection.id, full, Trigger::Cli)
        .await?;
    if let Some(printer) = printer {
        printer.abort();
    }
    // The run as recorded carries the numbers (calls, waits, changes) the outcome does not.
    let run = core.sync_runs(&connection.id, 1).await?.into_iter().next();
    if json {
        print_json(&run.as_ref().map(run_json))?;
    } else {
        print_summary(&connection.name, &outcome, run.as_ref());
    }
    Ok(match outcome.status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::Partial => ExitCode::from(EXIT_SYNC_PARTIAL),
        _ => ExitCode::from(EXIT_SYNC_FAILED),
    })
}

fn print_summary(name: &str, outcome: &SyncOutcome, run: Option<&RunRecord>) {
    println!("{name}: {}", mde_car_core::sync::summary(outcome));
    if let Some(run) = run {
        print_run_numbers(run);
    }
}

/// Prints one line per step while a run goes on.
fn spawn_progress_printer(core: &Core, connection_id: &str) -> JoinHandle<()> {
    let mut events = core.subscribe();
    let connection_id = connection_id.to_owned();
    tokio::spawn(async move {
        let mut last_step = None;
        while let Ok(event) = events.recv().await {
            print_progress(&event, &connection_id, &mut last_step);
        }
    })
}

/// A step's first page and every tenth after it: a long listing shows that it moves without
/// a line per page.
fn print_progress(event: &SyncEvent, connection_id: &str, last_step: &mut Option<SyncStep>) {
    match event {
        SyncEvent::Progress {
            connection_id: id,
            step,
            page,
            items,
            ..
        } if id == connection_id && (*last_step != Some(*step) || page % 10 == 0) => {
            eprintln!("  {}: page {page}, {items} items", step.label());
            *last_step = Some(*step);
        }
        SyncEvent::Throttled {
            connection_id: id,
            wait_secs,
            by_service,
            ..
        } if id == connection_id => {
            if *by_service {
                eprintln!("  throttled by Defender: waiting {wait_secs} s as asked");
            } else {
                eprintln!("  keeping within Defender's rate limit: waiting {wait_secs} s");
            }
        }
        _ => {}
    }
}
