//! The `--json` documents of connections, connection tests and runs, built by hand from the
//! core's types. Kept apart from the commands so they can give way to serializing those types
//! without touching what the commands do; search and asset already print serialized results.

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
    })
}

pub(crate) fn report_json(report: &TestReport) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_else(|_| json!({ "ok": report.ok }))
}

pub(crate) fn run_json(run: &RunRecord) -> serde_json::Value {
    json!({
        "id": run.id,
        "connectionId": run.connection_id,
        "mode": run.mode,
        "trigger": run.trigger,
        "startedAt": run.started_at.to_rfc3339(),
        "finishedAt": run.finished_at.map(|t| t.to_rfc3339()),
        "status": run.status.key(),
        "errorCode": run.error_code,
        "error": run.error,
        "apiCalls": run.api_calls,
        "throttledMs": run.throttled_ms,
        "changes": run.changes,
        "notes": run.notes,
    })
}
