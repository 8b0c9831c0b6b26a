import { mount } from "svelte";
import App from "./App.svelte";
import { applyTheme } from "./lib/theme.svelte";
import "./app.css";

applyTheme();

// In a plain browser during development there is no Rust side; stand in for it (`?seed` adds sample cards).
if (import.meta.env.DEV && !("__TAURI_INTERNALS__" in window)) {
  const { installBrowserMock } = await import("./mock/browser");
  installBrowserMock(new URLSearchParams(location.search).has("seed"));
}

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

export default mount(App, { target });
