//! The `--json` documents of connections, connection tests and runs. Tests, runs, searches
//! and assets print the core's serializable types (the one JSON contract the app and exports
//! share); a connection is the one document the CLI adapts: flat, with the proxy's credentials
//! removed and its status as a key.

use mde_car_core::{ConnectionView, probe::TestReport, store::RunRecord};
use serde_json::json;

use crate::print::status_key;

pub(crate) fn view_json(view: &ConnectionView) -> serde_json::Value {
    let connection = &view.connection;
    json!({
        "id": connection.id,
        "name": connection.name,
        "description": connection.description,
        "tenantId": connection.tenant_id,
        "clientId": connection.client_id,
        "cloud": connection.cloud.key(),
        "frequency": connection.frequency,
        "frequencyText": view.frequency_text,
        "apiBase": view.endpoints.api_base,
        "loginAuthority": view.endpoints.authority,
        "proxyUrl": connection.proxy_url.as_deref().map(mde_car_core::http::redacted),
        "caCertificateFile": connection.ca_certificate_file,
        "data": connection.data,
        "demo": connection.demo,
        "requiredPermissions": view.required_permissions,
        "status": status_key(view),
        "statusText": view.status_text,
        "lastTest": view.last_test.as_ref().map(report_json),
        "problems": view.problems,
    })
}

pub(crate) fn report_json(report: &TestReport) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_else(|_| json!({ "ok": report.ok }))
}

pub(crate) fn run_json(run: &RunRecord) -> serde_json::Value {
    serde_json::to_value(run).unwrap_or_else(|_| json!({ "id": run.id }))
}
