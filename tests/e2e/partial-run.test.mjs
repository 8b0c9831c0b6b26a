// A partial run in the real window: the simulated tenant has no vulnerability management (its
// vulnerability export answers 404 on every call, as without the licence), so a sync saves the
// devices and everything else and ends as partial. The card says so, names the missing data,
// its likely cause and what to do; the history shows the run as Partial. Screenshots of both.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { By } from "selenium-webdriver";
import { startSimulator, openApp, find, card, type, expand, waitFor, screenshot, byTestId } from "./support.mjs";

let sim;
let driver;

before(async () => {
  sim = await startSimulator(["--fail", "export=404"]);
  driver = await openApp();
});

after(async () => {
  await driver?.quit();
  sim?.stop();
});

const text = async (element) => (await element.getText()).trim();

test("a tenant without vulnerability management syncs as partial, and says why", async () => {
  await (await find(driver, "nav-connections", 20_000)).click();
  await (await driver.wait(async () => {
    const add = await driver.findElements(byTestId("add-connection"));
    const welcome = await driver.findElements(byTestId("welcome-add"));
    return add[0] ?? welcome[0];
  }, 10_000, "an Add connection button")).click();
  await type(driver, "field-name", "No licence");
  await type(driver, "field-tenantId", sim.tenantId);
  await type(driver, "field-clientId", sim.clientId);
  await type(driver, "field-clientSecret", sim.clientSecret);
  await expand(driver, "form-advanced");
  await type(driver, "field-apiBaseUrl", sim.apiBase);
  await type(driver, "field-loginAuthority", sim.authority);
  await (await find(driver, "form-save")).click();

  // The scheduler may start the first sync of a new connection by itself; otherwise Sync now.
  let clicked = false;
  await waitFor(
    async () => {
      const tenant = await card(driver, "No licence");
      const runs = await tenant.findElements(byTestId("card-last-run"));
      if (runs.length && (await runs[0].getAttribute("data-status")) === "partial") return true;
      const sync = await tenant.findElements(byTestId("card-sync"));
      if (!clicked && runs.length === 0 && sync.length) {
        await sync[0].click();
        clicked = true;
      }
      return false;
    },
    "the sync ends as partial",
    120_000,
  );
  const tenant = await card(driver, "No licence");
  assert.match(await text(await tenant.findElement(byTestId("card-last-run"))), /some data could not be updated/);
  const notes = await text(await tenant.findElement(byTestId("card-notes")));
  assert.match(notes, /Vulnerabilities skipped/, `the note names the missing data: ${notes}`);
  assert.match(notes, /licence/, `the note names the likely cause: ${notes}`);
  assert.match(notes, /stored before is kept/, `the note says nothing was lost: ${notes}`);
  const counts = await text(await tenant.findElement(byTestId("card-counts")));
  const devices = Number(/([\d,]+) devices/.exec(counts)?.[1]?.replace(/,/g, "") ?? 0);
  assert.ok(devices > 40, `the devices are saved (the simulator has 50, a few inactive): ${counts}`);
  assert.equal((await tenant.findElements(byTestId("card-accept-shrink"))).length, 0, "no shrink to accept");
  await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", tenant);
  await screenshot(driver, "partial-card");

  // The card's History link opens this connection's runs.
  await (await tenant.findElement(byTestId("card-history"))).click();
  const partial = await waitFor(
    async () => (await driver.findElements(By.css('[data-testid="history-run"][data-status="partial"]')))[0],
    "a partial run in the history",
  );
  assert.match(await text(partial), /Partial/);
  await screenshot(driver, "partial-history");
});
