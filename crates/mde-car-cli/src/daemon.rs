//! `mde-car daemon`: the scheduler without a window, for a server or a service manager, until
//! Ctrl+C or SIGTERM.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context as _;
use mde_car_core::{Core, config::Connection, events::SyncEvent};
use tokio::{
    signal::unix::{Signal, SignalKind, signal},
    sync::broadcast::Receiver,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// How long cancelled runs get to record themselves before the process ends anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

pub(crate) async fn run(core: &Core, metrics: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let stop = CancellationToken::new();
    let metrics = match metrics {
        Some(address) => {
            let metrics = Arc::new(Metrics::new());
            for view in core.list_connections().await? {
                metrics.set_connection(&view);
            }
            let bound = crate::metrics::serve(Arc::clone(&metrics), address, stop.clone()).await?;
            println!("mde-car daemon: Prometheus metrics at http://{bound}/metrics");
            Some(metrics)
        }
        None => None,
    };
    let scheduler = core.start_scheduler(stop.clone());
    // Connections added or edited by another mde-car process (the app, the CLI) reach
    // the scheduler without a restart.
    let watcher = core.watch_other_processes(stop.clone());
    let events = core.subscribe();
    let terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    println!("mde-car daemon: syncing every connection on its schedule; Ctrl+C or SIGTERM stops");
    print_finished_runs(core, events, terminate, metrics.as_deref()).await?;
    shut_down(core, &stop, scheduler, watcher).await;
    Ok(ExitCode::SUCCESS)
}

/// One line per finished run, so a service log shows what ran and how it went; returns at
/// Ctrl+C or SIGTERM.
async fn print_finished_runs(
    core: &Core,
    mut events: Receiver<SyncEvent>,
    mut terminate: Signal,
    metrics: Option<&Metrics>,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => {
                ctrl_c.context("waiting for Ctrl+C")?;
                return Ok(());
            }
            _ = terminate.recv() => return Ok(()),
            event = events.recv() => match event {
                Ok(SyncEvent::Finished { connection_id, run_id, status, summary, .. }) => {
                    // The event names the connection by id; a log reader knows it by name.
                    let view = core
                        .list_connections()
                        .await
                        .ok()
                        .and_then(|views| views.into_iter().find(|v| v.connection.id == connection_id));
                    if let (Some(metrics), Some(view)) = (metrics, &view) {
                        metrics.run_finished(view, run_id, status);
                    }
                    let name = view.map_or(connection_id, |view| view.connection.name);
                    println!(
                        "{} {name}: {} — {summary}",
                        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
                        status.key()
                    );
                }
                Ok(SyncEvent::Throttled { connection_id, by_service, .. }) => {
                    if let Some(metrics) = metrics {
                        let name = core
                            .find_connection(&connection_id)
                            .await
                            .map_or(connection_id, |connection| connection.name);
                        metrics.throttled(&name, by_service);
                    }
                }
                _ => {}
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
