// A settings file the app cannot read is reported in the window, and left exactly as it was.
// (That the app's exit does not rewrite it either is tested on the mock runtime, in
// src-tauri/tests/settings_file.rs: WebDriver ends the app without its exit hooks.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dataDir, find, openApp, screenshot, waitFor } from "./support.mjs";

test("a damaged settings file is reported, never overwritten", async () => {
  const file = join(dataDir, "settings.json");
  const before = existsSync(file) ? readFileSync(file) : null;
  // A file cut short, as a full disk or a crash mid-write would leave it.
  const damaged = '{"version": 1, "connections": [{"id": "c1", "name": "Contoso", "tenantId": "72f9';
  writeFileSync(file, damaged);
  try {
    const driver = await openApp();
    try {
      await (await find(driver, "nav-connections")).click();
      const problem = await find(driver, "connections-load-error");
      await waitFor(async () => /settings\.json/.test(await problem.getText()), "the message names the file");
      assert.match(await problem.getText(), /not valid JSON/);
      await screenshot(driver, "settings-damaged");
    } finally {
      await driver.quit();
    }
    assert.equal(readFileSync(file, "utf8"), damaged, "the damaged settings file was rewritten");
  } finally {
    if (before) writeFileSync(file, before);
    else rmSync(file, { force: true });
  }
});
