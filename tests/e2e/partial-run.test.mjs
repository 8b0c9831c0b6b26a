// A partial run in the real window: the simulated tenant has no vulnerability management (its
// vulnerability export answers 404 on every call, as without the licence), so a sync saves the
// devices and everything else and ends as partial. The card says so, names the missing data,
// its likely cause and what to do; the history shows the run as Partial; Test connection lists
// each data type and says vulnerabilities are not offered. Screenshots of all three.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { By } from "selenium-webdriver";
import { startSimulator, openApp, find, card, waitFor, screenshot, byTestId, addSimConnection, waitForFirstRun } from "./support.mjs";

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
  await addSimConnection(driver, "No licence", sim);
  // A second run may follow the first at once: the scheduler starts the first sync of a new
  // connection by itself, and when that run ends just before the Sync-now click reaches the
  // card, the click starts another. That one does not ask for the vulnerabilities again (they
  // are remembered as not offered), which is how this tenant is, not a failure: it succeeds,
  // and its note says they were not asked for. The first run stays partial in the history.
  await waitForFirstRun(driver, "No licence", ["partial", "succeeded"], "the sync ends");
  const tenant = await card(driver, "No licence");
  const status = await (await tenant.findElement(byTestId("card-last-run"))).getAttribute("data-status");
  const notes = await text(await tenant.findElement(byTestId("card-notes")));
  if (status === "partial") {
    assert.match(await text(await tenant.findElement(byTestId("card-last-run"))), /some data could not be updated/);
    assert.match(notes, /Vulnerabilities (skipped|not asked for)/, `the note names the missing data: ${notes}`);
  } else {
    assert.match(notes, /Vulnerabilities not asked for/, `a succeeded run follows a partial one only when the vulnerabilities are remembered as not offered: ${notes}`);
  }
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

  // Test connection asks for each data type and says which one the tenant does not offer.
  await (await find(driver, "nav-connections")).click();
  const again = await card(driver, "No licence");
  await (await again.findElement(byTestId("card-test"))).click();
  const data = await waitFor(
    async () => (await again.findElements(byTestId("card-test-result-data")))[0],
    "the test lists the data types",
  );
  const vulnerabilities = await data.findElement(By.css('[data-data="vulnerabilities"]'));
  assert.equal(await vulnerabilities.getAttribute("data-state"), "not_offered");
  assert.match(await text(data), /Not offered by this tenant/);
  assert.match(await text(data), /licence/);
  const alerts = await data.findElement(By.css('[data-data="alerts"]'));
  assert.equal(await alerts.getAttribute("data-state"), "available");
  await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", again);
  await screenshot(driver, "partial-test-data");
});
