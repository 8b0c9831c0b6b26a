// Connections end to end, in the real window: field messages, a card for good values, Test
// connection against the simulator, a wrong secret, delete — with the keyring and the files
// checked at each step, and a screenshot after each step (tests/e2e/output/).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { By } from "selenium-webdriver";
import {
  startSimulator, openApp, find, card, type, expand, waitFor, screenshot, settings, keyringSecret, dataFiles, byTestId,
} from "./support.mjs";

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

/** Calls a command the way the UI does and returns the raw JSON text of the answer or error. */
async function rawInvoke(command, args = {}) {
  return driver.executeAsyncScript(
    `const done = arguments[arguments.length - 1];
     window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
       .then((value) => done(JSON.stringify(value)), (error) => done(JSON.stringify(error)));`,
    command,
    args,
  );
}

test("connections: validate, add, test, wrong secret, delete", async () => {
  // First start: the welcome panel offers the two ways in.
  await find(driver, "welcome-demo");
  await screenshot(driver, "welcome");
  await (await find(driver, "welcome-add")).click();

  // Bad values: each field says what is wrong, and nothing is saved.
  await type(driver, "field-name", "");
  await type(driver, "field-tenantId", "common");
  await type(driver, "field-clientId", "my-app");
  await type(driver, "field-clientSecret", "");
  await expand(driver, "form-advanced");
  await type(driver, "field-apiBaseUrl", "http://defender.example.com");
  await type(driver, "field-proxyUrl", "socks5://proxy.corp.example:1080");
  await type(driver, "field-caCertificateFile", "corp-ca.pem");
  await (await find(driver, "form-save")).click();
  for (const field of ["name", "tenantId", "clientId", "clientSecret", "apiBaseUrl", "proxyUrl", "caCertificateFile"]) {
    const message = await find(driver, `error-${field}`);
    assert.notEqual(await text(message), "", `a message for ${field}`);
  }
  assert.match(await text(await find(driver, "error-tenantId")), /multi-tenant alias/);
  assert.match(await text(await find(driver, "error-apiBaseUrl")), /https/);
  assert.match(await text(await find(driver, "error-proxyUrl")), /http:\/\/ or https:\/\//);
  assert.match(await text(await find(driver, "error-caCertificateFile")), /full path/);
  await screenshot(driver, "form-invalid");
  await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", await find(driver, "field-proxyUrl"));
  await screenshot(driver, "form-invalid-advanced");
  assert.equal(settings().connections.length, 0, "nothing saved while fields are invalid");

  // Good values pointing at the simulator create a card.
  await type(driver, "field-name", "Contoso E2E");
  await type(driver, "field-tenantId", sim.tenantId);
  await type(driver, "field-clientId", sim.clientId);
  await type(driver, "field-clientSecret", sim.clientSecret);
  await type(driver, "field-apiBaseUrl", sim.apiBase);
  await type(driver, "field-loginAuthority", sim.authority);
  await type(driver, "field-proxyUrl", "");
  await type(driver, "field-caCertificateFile", "");
  await waitFor(async () => (await driver.findElements(byTestId("error-tenantId"))).length === 0, "the tenant message clears");
  await screenshot(driver, "form-valid");
  await (await find(driver, "form-save")).click();
  const contoso = await card(driver, "Contoso E2E");
  await screenshot(driver, "card-created");
  const [saved] = settings().connections;
  assert.equal(saved.name, "Contoso E2E");
  assert.equal(saved.tenantId, sim.tenantId);
  assert.equal(keyringSecret(saved.id), sim.clientSecret, "the secret is in the Secret Service");

  // Test connection: Connected, with the granted permissions.
  await (await contoso.findElement(byTestId("card-test"))).click();
  // The test's own result, not the status pill: the scheduler's first sync may set that first.
  // The result is recorded in the store before it is shown, so it waits for that sync's save
  // (its write transaction) to end: on a loaded CI machine that took over 15 s once.
  await waitFor(
    async () => /connected/i.test(await text(await contoso.findElement(byTestId("card-test-result")))),
    "the test result says Connected",
    60_000,
  );
  await waitFor(async () => /connected/i.test(await text(await contoso.findElement(byTestId("card-status")))), "the card says Connected");
  const roles = await waitFor(
    async () => text(await contoso.findElement(byTestId("card-roles"))),
    "the granted roles are shown",
  );
  for (const role of ["Machine.Read.All", "Alert.Read.All", "AdvancedQuery.Read.All", "User.Read.All", "Vulnerability.Read.All"]) {
    assert.ok(roles.includes(role), `${role} is shown as granted (got: ${roles})`);
  }
  await screenshot(driver, "test-connected");
  // A new connection has never synced, so the scheduler syncs it at once. Let that run end
  // before the edit: a run that ends after the next Test would rightly set the card's status.
  await waitFor(
    async () => (await contoso.findElements(byTestId("card-progress"))).length === 0,
    "the first sync ends",
    90_000,
  );

  // Edit with a wrong secret: the test names the problem and the fix.
  await (await contoso.findElement(byTestId("card-edit"))).click();
  await (await find(driver, "form-replace-secret")).click();
  await type(driver, "field-clientSecret", "Wrong~secret.value.e2e");
  await (await find(driver, "form-save")).click();
  await waitFor(async () => (await driver.findElements(byTestId("form-save"))).length === 0, "the form closes");
  assert.equal(keyringSecret(saved.id), "Wrong~secret.value.e2e");
  const edited = await card(driver, "Contoso E2E");
  await (await edited.findElement(byTestId("card-test"))).click();
  await waitFor(
    async () => /wrong client secret/i.test(await text(await edited.findElement(byTestId("card-test-result")))),
    "the card reports a wrong client secret",
  );
  assert.match(await text(await edited.findElement(byTestId("card-status"))), /error/i);
  await screenshot(driver, "test-wrong-secret");

  // Pointing the connection at another API host asks for the secret again; without it Save is
  // refused next to the secret field and nothing changes.
  await (await edited.findElement(byTestId("card-edit"))).click();
  await expand(driver, "form-advanced");
  await type(driver, "field-apiBaseUrl", "https://api.elsewhere.example");
  assert.match(await text(await find(driver, "form-secret-moved")), /only sent where it was entered for/);
  await (await find(driver, "form-save")).click();
  assert.match(await text(await find(driver, "error-clientSecret")), /Enter the client secret again/);
  await screenshot(driver, "edit-secret-moved");
  await (await find(driver, "form-cancel")).click();
  await waitFor(async () => (await driver.findElements(byTestId("form-save"))).length === 0, "the form closes");
  assert.equal(keyringSecret(saved.id), "Wrong~secret.value.e2e", "the stored secret is unchanged");

  // No IPC answer or error carries a secret.
  const answers = [
    await rawInvoke("list_connections"),
    await rawInvoke("test_connection", { id: saved.id }),
    await rawInvoke("add_connection", {
      draft: {
        name: "Contoso E2E", description: "", tenantId: sim.tenantId, clientId: sim.clientId, clientSecret: sim.clientSecret,
        frequency: { kind: "interval", minutes: 60 }, cloud: "commercial", apiBaseUrl: null, loginAuthority: null,
        data: { alerts: true, vulnerabilities: true, loggedOnUsers: true, ipHistory: true },
      },
    }),
  ];
  assert.match(answers[2], /duplicate_name/, "adding a duplicate fails with its code");
  for (const answer of answers) {
    assert.ok(!answer.includes(sim.clientSecret) && !answer.includes("Wrong~secret.value.e2e"), `IPC answer holds a secret: ${answer}`);
  }

  // Delete asks first, then removes the card and the keyring entry.
  await (await (await card(driver, "Contoso E2E")).findElement(byTestId("card-delete"))).click();
  await (await find(driver, "confirm-delete")).click();
  await waitFor(
    async () => (await driver.findElements(By.css('[data-testid="connection-card"][data-name="Contoso E2E"]'))).length === 0,
    "the card disappears",
  );
  await screenshot(driver, "deleted");
  assert.equal(settings().connections.length, 0);
  assert.equal(keyringSecret(saved.id), null, "the keyring entry is gone");

  // The secrets were never written to the data folder: settings, database, logs.
  for (const file of dataFiles()) {
    const bytes = readFileSync(file);
    for (const secret of [sim.clientSecret, "Wrong~secret.value.e2e"]) {
      assert.ok(!bytes.includes(Buffer.from(secret)), `${file} holds a secret`);
    }
  }
});

test("demo tenant: one click from the welcome panel", async () => {
  await find(driver, "welcome-demo");
  await (await find(driver, "welcome-demo")).click();
  const demo = await card(driver, "Demo tenant", 30_000);
  await (await demo.findElement(byTestId("card-test"))).click();
  await waitFor(async () => /connected/i.test(await text(await demo.findElement(byTestId("card-status")))), "the demo connects");
  await screenshot(driver, "demo-connected");
});
