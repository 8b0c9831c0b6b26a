//! `mde-car daemon`: the scheduler without a window, for a server or a service manager, until
//! Ctrl+C or SIGTERM.

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use mde_car_core::{Core, config::Connection, events::SyncEvent};
use tokio::{
    signal::unix::{Signal, SignalKind, signal},
    sync::broadcast::Receiver,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// How long cancelled runs get to record themselves before the process ends anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

pub(crate) async fn run(core: &Core) -> anyhow::Result<ExitCode> {
    let stop = CancellationToken::new();
    let scheduler = core.start_scheduler(stop.clone());
    // Connections added or edited by another mde-car process (the app, the CLI) reach
    // the scheduler without a restart.
    let watcher = core.watch_other_processes(stop.clone());
    let events = core.subscribe();
    let terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    println!("mde-car daemon: syncing every connection on its schedule; Ctrl+C or SIGTERM stops");
    print_finished_runs(core, events, terminate).await?;
    shut_down(core, &stop, scheduler, watcher).await;
    Ok(ExitCode::SUCCESS)
}

/// One line per finished run, so a service log shows what ran and how it went; returns at
/// Ctrl+C or SIGTERM.
async fn print_finished_runs(
    core: &Core,
    mut events: Receiver<SyncEvent>,
    mut terminate: Signal,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => {
                ctrl_c.context("waiting for Ctrl+C")?;
                return Ok(());
            }
            _ = terminate.recv() => return Ok(()),
            event = events.recv() => {
                if let Ok(SyncEvent::Finished { connection_id, status, summary, .. }) = event {
                    // The event names the connection by id; a log reader knows it by name.
                    let name = core
                        .find_connection(&connection_id)
                        .await
                        .map_or(connection_id, |connection| connection.name);
                    println!(
                        "{} {name}: {} — {summary}",
                        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
                        status.key()
                    );
                }
            }
        }
    }
}

/// A run in progress is cancelled: it records itself as cancelled, nothing is half written.
async fn shut_down(
    core: &Core,
    stop: &CancellationToken,
    scheduler: JoinHandle<()>,
    watcher: JoinHandle<()>,
) {
    stop.cancel();
    let connections = core.list_connection_records().await.unwrap_or_default();
    for connection in &connections {
        core.cancel_sync(&connection.id);
    }
    let _ = scheduler.await;
    let _ = watcher.await;
    wait_for_cancelled_runs(core, &connections).await;
}

/// Lets cancelled runs record themselves (they stop at their next call or page).
async fn wait_for_cancelled_runs(core: &Core, connections: &[Connection]) {
    let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
    while connections.iter().any(|c| core.is_syncing(&c.id))
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
