//! `mde-car demo`: the bundled simulated tenant as a connection, tested at once, so everything
//! can be tried without an Azure account.

use std::process::ExitCode;

use anyhow::Context as _;
use mde_car_core::{ConnectionView, Core};

use crate::print::print_report;

pub(crate) async fn run(core: &Core, serve: bool) -> anyhow::Result<ExitCode> {
    let view = core.start_demo().await?;
    let report = core.test_connection(&view.connection.id).await?;
    println!(
        "demo connection '{}' is ready (bundled simulator at {})",
        view.connection.name, view.endpoints.api_base
    );
    print_report(&view.connection.name, &report);
    if serve {
        serve_until_stopped(&view).await?;
    } else {
        println!("the simulator starts again whenever the demo connection is used");
    }
    Ok(ExitCode::SUCCESS)
}

/// The simulator lives in this process: other tools (a browser, curl, a second mde-car) can
/// use it with these credentials only while the process waits.
async fn serve_until_stopped(view: &ConnectionView) -> anyhow::Result<()> {
    println!("tenant ID:  {}", view.connection.tenant_id);
    println!("client ID:  {}", view.connection.client_id);
    println!("authority:  {}", view.endpoints.authority);
    println!("API base:   {}", view.endpoints.api_base);
    println!("the simulator runs until Ctrl+C");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl+C")
}
