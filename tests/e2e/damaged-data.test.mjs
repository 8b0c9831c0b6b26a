// Damaged data is reported in the window, and left exactly as it was: a settings file the app
// cannot read, and a database that is not one. (That the app's exit does not rewrite the
// settings file either is tested on the mock runtime, in src-tauri/tests/settings_file.rs:
// WebDriver ends the app without its exit hooks.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
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

test("a damaged database is explained in place of the app, never overwritten", async () => {
  const file = join(dataDir, "mde-car.sqlite3");
  const parts = [file, `${file}-wal`, `${file}-shm`];
  for (const part of parts) if (existsSync(part)) renameSync(part, `${part}.e2e-aside`);
  const garbage = Buffer.from("this is not a SQLite database, something wrote over it. ".repeat(100));
  writeFileSync(file, garbage);
  try {
    const driver = await openApp();
    try {
      const problem = await find(driver, "startup-problem", 20_000);
      assert.match(await problem.getText(), /could not open its data/);
      const message = await (await find(driver, "startup-problem-message")).getText();
      assert.match(message, /mde-car\.sqlite3 is damaged or not an mde-car database/);
      assert.match(message, /move it aside/);
      assert.equal(await (await find(driver, "startup-problem-folder")).getText(), dataDir);
      await screenshot(driver, "database-damaged");
    } finally {
      await driver.quit();
    }
    assert.ok(readFileSync(file).equals(garbage), "the damaged database was changed");
  } finally {
    for (const part of parts) {
      rmSync(part, { force: true });
      if (existsSync(`${part}.e2e-aside`)) renameSync(`${part}.e2e-aside`, part);
    }
  }
});

test("a hand-edited connection the form refuses is shown with its problems and cannot be synced or tested", async () => {
  const file = join(dataDir, "settings.json");
  const before = existsSync(file) ? readFileSync(file) : null;
  // Clear text to a remote host: the form never saves it, a text editor does.
  const edited = {
    version: 1,
    connections: [
      {
        id: "0c4a2f1e-5b7d-4e8a-9c3f-2d1e0b9a8c7d",
        name: "Edited by hand",
        tenantId: "contoso.onmicrosoft.com",
        clientId: "00000000-0000-0000-0000-000000000001",
        loginAuthority: "http://login.attacker.example",
        frequency: { kind: "interval", minutes: 240 },
        createdAt: "2026-11-28T00:00:00Z",
      },
    ],
  };
  writeFileSync(file, JSON.stringify(edited));
  try {
    const driver = await openApp();
    try {
      await (await find(driver, "nav-connections")).click();
      const card = await find(driver, "connection-card");
      const status = await find(driver, "card-status-text");
      await waitFor(async () => /Not synced or tested/.test(await status.getText()), "the card says it is not used");
      const problems = await (await find(driver, "card-settings-problems")).getText();
      assert.match(problems, /loginAuthority/);
      assert.match(problems, /Use https/);
      assert.equal(await (await find(driver, "card-sync")).isEnabled(), false, "Sync now is offered");
      assert.equal(await (await find(driver, "card-test")).isEnabled(), false, "Test is offered");
      assert.ok(card);
      await screenshot(driver, "settings-invalid-connection");
    } finally {
      await driver.quit();
    }
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), edited, "the settings file was rewritten");
  } finally {
    if (before) writeFileSync(file, before);
    else rmSync(file, { force: true });
  }
});
