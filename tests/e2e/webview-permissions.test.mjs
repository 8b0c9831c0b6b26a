// The webview may do what the app needs and nothing more (src-tauri/capabilities/default.json):
// a script in the window — an injected one included — reaches the app's own commands and the
// sync events, and every other plugin or core command is refused by Tauri's ACL. The store
// plugin matters most: it resolves absolute paths, so if it were granted a script could read or
// write any JSON file the user can, settings.json past validation among them.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { dataDir, find, openApp } from "./support.mjs";

/** Invokes `command` from inside the window, as any script there could; never throws. */
async function invokeInWindow(driver, command, args = {}) {
  return driver.executeAsyncScript(
    `const [command, args, done] = arguments;
     const internals = window.__TAURI_INTERNALS__;
     if (args.__handler) args.handler = internals.transformCallback(() => {});
     delete args.__handler;
     internals.invoke(command, args).then(
       (value) => done({ ok: true, value }),
       (error) => done({ ok: false, error: typeof error === "string" ? error : JSON.stringify(error) }),
     );`,
    command,
    args,
  );
}

test("the window may call the app's commands and hear events, and no other command", async () => {
  const settingsFile = join(dataDir, "settings.json");
  const settingsBefore = existsSync(settingsFile) ? readFileSync(settingsFile, "utf8") : null;
  const driver = await openApp();
  try {
    await find(driver, "nav-connections");

    // What the UI uses works: the controls for the refusals below.
    const info = await invokeInWindow(driver, "app_info");
    assert.ok(info.ok, `app_info was refused: ${info.error}`);
    assert.equal(typeof info.value.version, "string");
    const listen = await invokeInWindow(driver, "plugin:event|listen", {
      event: "sync-update",
      target: { kind: "Any" },
      __handler: true,
    });
    assert.ok(listen.ok, `listening to events was refused: ${listen.error}`);

    const refused = [
      // The store plugin with an absolute path: a file outside the app's reach by design.
      ["plugin:store|load", { path: settingsFile }],
      ["plugin:store|load", { path: "/etc/hostname.json" }],
      ["plugin:store|get_store", { path: settingsFile }],
      ["plugin:store|set", { rid: 1, key: "connections", value: [] }],
      ["plugin:store|save", { rid: 1 }],
      // Native dialogs are opened by the app's commands, not by scripts.
      ["plugin:dialog|open", { options: {} }],
      ["plugin:dialog|save", { options: {} }],
      ["plugin:dialog|message", { message: "hello", title: "x" }],
      // Core plugins the UI does not use.
      ["plugin:event|emit", { event: "sync-update", payload: {} }],
      ["plugin:window|close", { label: "main" }],
      ["plugin:window|set_title", { label: "main", value: "owned" }],
      ["plugin:webview|create_webview_window", { options: { label: "other", url: "https://example.com" } }],
      ["plugin:path|resolve_directory", { directory: 11 }],
      ["plugin:app|version", {}],
      ["plugin:resources|close", { rid: 1 }],
      ["plugin:menu|new", { kind: "Menu", options: {} }],
      ["plugin:image|new", { rgba: [], width: 0, height: 0 }],
    ];
    for (const [command, args] of refused) {
      const answer = await invokeInWindow(driver, command, args);
      assert.equal(answer.ok, false, `${command} was allowed: ${JSON.stringify(answer.value)}`);
      assert.match(answer.error, /not allowed/i, `${command} failed, but not as a refusal: ${answer.error}`);
    }
  } finally {
    await driver.quit();
  }
  const settingsAfter = existsSync(settingsFile) ? readFileSync(settingsFile, "utf8") : null;
  assert.equal(settingsAfter, settingsBefore, "settings.json changed");
});

test("the content security policy holds in the window: no eval, no inline style or script, no remote origin", async () => {
  const driver = await openApp();
  try {
    await find(driver, "nav-connections");
    const result = await driver.executeAsyncScript(`
      const done = arguments[arguments.length - 1];
      const outcome = {};
      try { outcome.eval = String(eval("6 * 7")); } catch (error) { outcome.eval = "refused: " + error.name; }
      const probe = document.createElement("div");
      probe.setAttribute("style", "color: rgb(1, 2, 3)");
      document.body.append(probe);
      outcome.inlineStyle = getComputedStyle(probe).color;
      probe.remove();
      window.__e2eInlineScript = "not run";
      const script = document.createElement("script");
      script.textContent = "window.__e2eInlineScript = 'ran'";
      document.body.append(script);
      script.remove();
      outcome.inlineScript = window.__e2eInlineScript;
      fetch("https://example.com/").then(
        () => { outcome.remote = "fetched"; done(outcome); },
        (error) => { outcome.remote = "refused: " + error.name; done(outcome); },
      );`);
    assert.match(result.eval, /^refused/, "eval ran");
    assert.notEqual(result.inlineStyle, "rgb(1, 2, 3)", "an inline style attribute applied");
    assert.equal(result.inlineScript, "not run", "an inline script ran");
    assert.match(result.remote, /^refused/, "a remote origin was fetched");
  } finally {
    await driver.quit();
  }
});
