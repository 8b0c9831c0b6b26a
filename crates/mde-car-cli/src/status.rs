//! `mde-car status [--json]`: each connection's last run, next due time and problem, with an
//! exit status for monitoring (a Nagios-style check, a systemd `ExecCondition=`, a cron mail):
//! 0 when every connection is fine, [`EXIT_SYNC_PARTIAL`] when one's last run was partial,
//! [`EXIT_SYNC_FAILED`] when one is failing (its last run failed, its test failed or its
//! settings are invalid).

use std::process::ExitCode;

use mde_car_core::{ConnectionStatus, ConnectionView, Core, model::RunStatus};
use serde_json::json;

use crate::{
    EXIT_SYNC_FAILED, EXIT_SYNC_PARTIAL,
    json::run_json,
    print::{print_json, status_key, terminal_safe},
};

/// How a connection stands, for the exit status: the worst of them wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Health {
    Fine,
    Partial,
    Failing,
}

fn health(view: &ConnectionView) -> Health {
    let last = view.last_run.as_ref().map(|run| run.status);
    if view.status == ConnectionStatus::Error
        || !view.problems.is_empty()
        || matches!(last, Some(RunStatus::Failed | RunStatus::Interrupted))
    {
        Health::Failing
    } else if last == Some(RunStatus::Partial) {
        Health::Partial
    } else {
        Health::Fine
    }
}

fn health_key(health: Health) -> &'static str {
    match health {
        Health::Fine => "ok",
        Health::Partial => "partial",
        Health::Failing => "failing",
    }
}

pub(crate) async fn run(core: &Core, json: bool) -> anyhow::Result<ExitCode> {
    let views = core.list_connections().await?;
    let worst = views.iter().map(health).max().unwrap_or(Health::Fine);
    if json {
        let connections: Vec<_> = views
            .iter()
            .map(|view| {
                json!({
                    "id": view.connection.id,
                    "name": view.connection.name,
                    "health": health_key(health(view)),
                    "status": status_key(view),
                    "statusText": view.status_text,
                    "lastRun": view.last_run.as_ref().map(run_json),
                    "nextSyncAt": view.next_sync_at.map(|at| at.to_rfc3339()),
                    "problems": view.problems,
                })
            })
            .collect();
        print_json(&json!({ "health": health_key(worst), "connections": connections }))?;
    } else if views.is_empty() {
        println!("no connections; add one with `mde-car connection add`");
    } else {
        for view in &views {
            print_status(view);
        }
    }
    Ok(match worst {
        Health::Fine => ExitCode::SUCCESS,
        Health::Partial => ExitCode::from(EXIT_SYNC_PARTIAL),
        Health::Failing => ExitCode::from(EXIT_SYNC_FAILED),
    })
}

fn print_status(view: &ConnectionView) {
    let safe = |text: &str| terminal_safe(text, false).into_owned();
    println!(
        "{}: {}",
        safe(&view.connection.name),
        health_key(health(view))
    );
    println!("  status     {}", safe(&view.status_text));
    // A certificate ending soon is not a failure yet, but monitoring should see it coming.
    if let Some(notice) = &view.certificate_notice {
        println!("  certificate {}", safe(notice));
    }
    match &view.last_run {
        Some(run) => println!(
            "  last run   {} {}{}",
            run.status.key(),
            run.finished_at
                .unwrap_or(run.started_at)
                .format("%Y-%m-%d %H:%M:%S UTC"),
            run.error
                .as_deref()
                .map(|error| format!(" — {}", safe(error)))
                .unwrap_or_default()
        ),
        None => println!("  last run   none"),
    }
    match view.next_sync_at {
        Some(at) => println!("  next due   {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        None => println!("  next due   not scheduled"),
    }
    for problem in &view.problems {
        println!(
            "  problem    \"{}\": {}",
            problem.field,
            safe(&problem.message)
        );
    }
}
