// The Explorer end to end, in the real window: a connection to the simulator is synced, an IP
// that the simulator's API gives for one of its devices is searched, its device and risk are
// shown, the IP view and the device view open and Esc comes back, the results export to a CSV
// file that is read back, and bad input gets its explanation under the box. A screenshot is
// saved after each step (tests/e2e/output/).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { By, Key } from "selenium-webdriver";
import { startSimulator, openApp, find, type, waitFor, screenshot, byTestId, addSimConnection, waitForFirstRun } from "./support.mjs";

let sim;
let driver;

before(async () => {
  sim = await startSimulator();
  driver = await openApp();
});

after(async () => {
  await driver?.quit();
  sim?.stop();
});

const text = async (element) => (await element.getText()).trim();

/** The simulator's own answer (its Defender API) for its first devices: the ground truth. */
async function simDevices() {
  const token = await fetch(`${sim.authority}/${sim.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: "https://api.securitycenter.microsoft.com/.default",
    }),
  }).then((r) => r.json());
  assert.ok(token.access_token, `the simulator issues a token: ${JSON.stringify(token)}`);
  const machines = await fetch(`${sim.apiBase}/api/machines?$top=50`, {
    headers: { authorization: `Bearer ${token.access_token}` },
  }).then((r) => r.json());
  return machines.value;
}

async function activeElementTestId() {
  return driver.executeScript("return document.activeElement?.dataset?.testid ?? document.activeElement?.className ?? ''");
}

test("explorer: search an IP, see its device and risk, IP view, device view, export, bad input", async () => {
  // A connection to the simulator, synced from its card.
  await addSimConnection(driver, "Contoso Explorer", sim);
  await waitForFirstRun(driver, "Contoso Explorer", "succeeded", "the sync succeeds");
  await screenshot(driver, "explorer-synced");

  // The ground truth: a device of the simulator and its address, as Defender's API reports it.
  const machine = (await simDevices()).find((m) => m.lastIpAddress && m.computerDnsName);
  assert.ok(machine, "the simulator has a device with an address");
  const ip = machine.lastIpAddress;

  // Ctrl+K opens the Explorer with the focus in the search box; Enter searches.
  await driver.actions().keyDown(Key.CONTROL).sendKeys("k").keyUp(Key.CONTROL).perform();
  const box = await find(driver, "explorer-query");
  await waitFor(async () => (await activeElementTestId()) === "explorer-query", "the search box has the focus");
  await screenshot(driver, "explorer-start");
  await box.sendKeys(ip, Key.ENTER);
  const row = await driver.wait(
    async () => (await driver.findElements(By.css(`[data-testid="result-row"][data-name="${machine.computerDnsName}"]`)))[0],
    15_000,
    `a result row for ${machine.computerDnsName}`,
  );
  await screenshot(driver, "explorer-results");
  const badge = await row.findElement(byTestId("risk-badge"));
  assert.match(await text(badge), /^\d+\.\d/, "the row shows the risk score");
  assert.ok(["none", "low", "medium", "high", "critical"].includes(await badge.getAttribute("data-level")));
  assert.match(await text(await find(driver, "results-count")), /\d+ devices?/);
  assert.match(await text(await find(driver, "results-interpretation")), new RegExp(`held IP address ${ip.replaceAll(".", "\\.")}`));
  // textContent: WebKit's WebDriver leaves ellipsis-cut cells out of getText.
  const rowText = (await row.getAttribute("textContent")).replace(/\s+/g, " ");
  assert.ok(rowText.includes("Contoso Explorer"), `the row names the connection: ${rowText}`);
  assert.ok(/Current|Past|At that time/.test(rowText), `the row says how it relates to the IP: ${rowText}`);

  // The IP view: the address, its class, the timeline with this device's lane; Esc returns.
  await (await find(driver, "open-ip")).click();
  await find(driver, "ip-view");
  assert.equal(await text(await find(driver, "ip-address")), ip);
  assert.match(await text(await find(driver, "ip-class")), /private|public/);
  await driver.wait(
    async () => (await driver.findElements(By.css(`[data-testid="timeline-lane"]`))).length > 0,
    10_000,
    "the timeline has a lane",
  );
  const holders = await driver.findElements(byTestId("holder-row"));
  assert.ok(holders.length >= 1, "the holders are listed");
  await screenshot(driver, "explorer-ip-view");
  await driver.actions().sendKeys(Key.ESCAPE).perform();
  await find(driver, "results-table");
  assert.equal((await driver.findElements(byTestId("ip-view"))).length, 0, "Esc left the IP view");

  // Keyboard: from the box, ↓ to the first row, Enter opens the device view; Esc returns.
  await (await find(driver, "explorer-query")).click();
  await (await find(driver, "explorer-query")).sendKeys(Key.ARROW_DOWN);
  await waitFor(async () => (await activeElementTestId()).includes("open-asset"), "a row has the focus");
  await driver.actions().sendKeys(Key.ENTER).perform();
  await find(driver, "device-view");
  const firstName = await (await driver.findElements(byTestId("result-row"))).length;
  assert.equal(firstName, 0, "the table gave way to the device view");
  await waitFor(async () => (await driver.findElements(byTestId("risk-component"))).length >= 4, "the why-this-score breakdown");
  const breakdown = await text(await find(driver, "risk-breakdown"));
  assert.match(breakdown, /Why this score: \d+\.\d of 10/);
  assert.ok((await driver.findElements(byTestId("copy-device-id"))).length === 1, "the device id has a copy button");
  await screenshot(driver, "explorer-device-view");
  await driver.actions().sendKeys(Key.ESCAPE).perform();
  await find(driver, "results-table");
  await screenshot(driver, "explorer-back-to-results");

  // Export CSV: every result, read back from the export folder.
  await (await find(driver, "export-csv")).click();
  const status = await find(driver, "export-status");
  await waitFor(async () => /Exported \d+ results? to /.test(await text(status)), "the export reports where it wrote");
  const folder = process.env.MDE_CAR_EXPORT_DIR;
  const file = readdirSync(folder).find((name) => name.startsWith(`mde-car-search-${ip}-`) && name.endsWith(".csv"));
  assert.ok(file, `a CSV for ${ip} in the export folder: ${readdirSync(folder)}`);
  const lines = readFileSync(join(folder, file), "utf8").trim().split(/\r?\n/);
  assert.match(lines[0], /^asset_id,name,connection,device_id,os,/);
  const exported = lines.slice(1).find((line) => line.includes(machine.computerDnsName));
  assert.ok(exported, `the device is a row of the CSV:\n${lines.join("\n")}`);
  assert.ok(exported.includes(ip) && exported.includes("Contoso Explorer"));
  assert.equal(lines.length - 1, Number((await text(await find(driver, "results-count"))).match(/^(\d+)/)[1]));
  await screenshot(driver, "explorer-exported");

  // Bad input: the core's explanation under the box, never an empty page.
  for (const [query, expected] of [
    ["300.1.1.1", /greater than 255/],
    ["10.1.2", /not a complete IPv4 address.*10\.1\.2\.0\/24/],
    ["10.0.0.0/33", /prefix length 33 is out of range/],
  ]) {
    await type(driver, "explorer-query", query);
    await (await find(driver, "explorer-query")).sendKeys(Key.ENTER);
    await waitFor(async () => expected.test(await text(await find(driver, "explorer-error"))), `an explanation for ${query}`);
    assert.equal(await (await find(driver, "explorer-error")).getAttribute("data-field"), "query");
    assert.ok(await (await find(driver, "explorer-hint")).isDisplayed(), "the hint stays");
  }
  await screenshot(driver, "explorer-bad-input");
  await type(driver, "explorer-query", ip);
  await type(driver, "explorer-at", "yesterday-ish");
  await (await find(driver, "explorer-query")).sendKeys(Key.ENTER);
  await waitFor(async () => (await (await find(driver, "explorer-error")).getAttribute("data-field")) === "at", "the time field's message");
  await screenshot(driver, "explorer-bad-time");

  // The searches are remembered.
  const recent = await text(await find(driver, "explorer-recent"));
  assert.ok(recent.includes(ip), `the recent searches hold ${ip}: ${recent}`);

  // The light theme, for the screenshots: results, IP view, device view.
  await driver.executeScript("document.documentElement.dataset.theme = 'light'");
  // Select-all and delete, so the page hears the field change (a WebDriver clear may not).
  await (await find(driver, "explorer-at")).sendKeys(Key.chord(Key.CONTROL, "a"), Key.BACK_SPACE);
  await type(driver, "explorer-query", ip);
  await (await find(driver, "explorer-query")).sendKeys(Key.ENTER);
  await find(driver, "results-table");
  await screenshot(driver, "explorer-light-results");
  await (await find(driver, "open-ip")).click();
  await find(driver, "timeline");
  await screenshot(driver, "explorer-light-ip-view");
  await (await driver.findElement(By.css('[data-testid="holder-row"] button'))).click();
  await waitFor(async () => (await driver.findElements(byTestId("risk-component"))).length >= 4, "the device view loads");
  await screenshot(driver, "explorer-light-device-view");
  await driver.actions().sendKeys(Key.ESCAPE).perform();
  await find(driver, "ip-view");
  await driver.actions().sendKeys(Key.ESCAPE).perform();
  await find(driver, "results-table");
});

test("sync history lists a succeeded sync with its figures; settings show where data lives and switch the theme", async () => {
  await (await find(driver, "nav-history")).click();
  const succeeded = await waitFor(
    async () => (await driver.findElements(By.css('[data-testid="history-run"][data-status="succeeded"]')))[0],
    "a succeeded run in the history",
  );
  const calls = Number((await text(await succeeded.findElement(byTestId("history-run-calls")))).replace(/\D/g, ""));
  assert.ok(calls >= 5, `a full sync makes at least 5 API calls (token, machines, alerts, hunting, export): ${calls}`);
  await (await succeeded.findElement(byTestId("history-run-toggle"))).click();
  const detail = await text(await find(driver, "history-run-detail"));
  assert.match(detail, /API calls by endpoint/i);
  assert.match(detail, /Devices \(machines\)\s*\d/, `the calls are listed per endpoint: ${detail}`);
  assert.match(detail, new RegExp(`Total\\s*${calls}\\b`), `the endpoints add up to the run's ${calls} calls: ${detail}`);
  await screenshot(driver, "history-light");

  await (await find(driver, "nav-settings")).click();
  const folder = await text(await find(driver, "info-data-dir"));
  assert.ok(folder.length > 0, "the data folder is shown");
  if (process.env.MDE_CAR_DATA_DIR) assert.equal(folder, process.env.MDE_CAR_DATA_DIR);
  assert.match(await text(await find(driver, "info-settings-file")), /settings\.json$/);
  assert.match(await text(await find(driver, "info-database-file")), /\.sqlite3$/);
  assert.match(await text(await find(driver, "info-version")), /^\d+\.\d+\.\d+/);
  // The theme is chosen here and applies at once: light, dark, then back to the OS's. (The
  // webview keeps the choice between runs, so each click is a change from the one before.)
  const theme = () => driver.executeScript("return document.documentElement.dataset.theme ?? null");
  const choose = async (value) =>
    (await driver.findElement(By.xpath(`//input[@data-testid="theme-${value}"]/..`))).click();
  await choose("light");
  await waitFor(async () => (await theme()) === "light", "the light theme");
  await choose("dark");
  await waitFor(async () => (await theme()) === "dark", "the dark theme");
  await screenshot(driver, "settings-dark");
  await (await find(driver, "nav-history")).click();
  await find(driver, "history-table");
  await screenshot(driver, "history-dark");
  await (await find(driver, "nav-settings")).click();
  await choose("system");
  await waitFor(async () => (await theme()) === null, "the OS theme");
});
