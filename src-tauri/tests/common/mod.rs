//! Shared by the shell's tests: the app on Tauri's mock runtime, and a command call through it.

#![allow(dead_code)]

use serde_json::Value;
use tauri::{
    ipc::{CallbackFn, InvokeBody},
    test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets},
    webview::InvokeRequest,
};

pub(crate) type App = tauri::App<MockRuntime>;
pub(crate) type Window = tauri::WebviewWindow<MockRuntime>;

/// The app as `main` builds it, on the mock runtime (its setup hook does not run there).
pub(crate) fn app() -> App {
    mde_car_desktop::build(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("the app builds")
}

/// A window to call commands through.
pub(crate) fn window(app: &App) -> Window {
    tauri::WebviewWindowBuilder::new(app, "main", Default::default())
        .build()
        .expect("a window")
}

/// Calls `cmd` with `args` as the page would; `Err` holds the `{code, message, fields}` error.
pub(crate) fn invoke(webview: &Window, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.to_owned(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("a URL"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_owned(),
    };
    get_ipc_response(webview, request).map(|body| body.deserialize::<Value>().expect("JSON"))
}
