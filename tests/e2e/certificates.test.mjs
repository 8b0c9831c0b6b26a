// Certificate sign-in end to end, in the real window: certificates made with openssl from the
// simulator's test key and registered with it; one imported as a PEM file (certificate and key),
// tested in the form and saved; one ending in 12 days imported from a PFX file with its password,
// whose card warns. The keyring holds the key, the settings file only the public facts.
// `make screenshots` copies the two shots the README shows into docs/screenshots/. At the end it
// deletes its connections, so the other test files start from a first start.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, openApp, find, card, type, expand, waitFor, screenshot, settings, keyringSecret, byTestId } from "./support.mjs";

const KEY = new URL("../../crates/mde-sim/test-keys/rsa-a.key.pem", import.meta.url).pathname;
const PFX_PASSWORD = "e2e-pfx-password";
const docs = process.env.E2E_DOCS_SCREENSHOTS;

let dir;
let sim;
let driver;
let files;

/** A self-signed certificate for the test key, valid for `days` from now (PEM). */
function makeCertificate(name, subject, days) {
  const file = join(dir, `${name}.crt`);
  execFileSync("openssl", ["req", "-x509", "-new", "-key", KEY, "-subj", subject, "-days", String(days), "-sha256", "-out", file], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return file;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mde-car-e2e-cert-"));
  const good = makeCertificate("good", "/CN=mde-car Contoso production/O=Contoso", 365);
  const soon = makeCertificate("soon", "/CN=mde-car Fabrikam lab/O=Fabrikam", 12);
  // The first as one PEM file with its key; the second as a PFX file.
  const pem = join(dir, "contoso.pem");
  writeFileSync(pem, readFileSync(good, "utf8") + readFileSync(KEY, "utf8"));
  const pfx = join(dir, "fabrikam.pfx");
  execFileSync("openssl", ["pkcs12", "-export", "-inkey", KEY, "-in", soon, "-passout", `pass:${PFX_PASSWORD}`, "-out", pfx]);
  files = { pem, pfx };
  sim = await startSimulator(["--certificate", good, "--certificate", soon]);
  driver = await openApp();
});

after(async () => {
  // The next test files start from an empty app: delete what this one added (the core forgets
  // its runs and data, and the keyring its keys).
  for (const { id } of settings().connections) {
    await driver?.executeAsyncScript(
      `const done = arguments[arguments.length - 1];
       window.__TAURI_INTERNALS__.invoke("delete_connection", { id: arguments[0] }).then(() => done(), () => done());`,
      id,
    );
  }
  assert.equal(settings().connections.length, 0, "the certificate connections were deleted");
  await driver?.quit();
  sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const text = async (element) => (await element.getText()).trim();

async function shot(name) {
  const file = await screenshot(driver, name);
  if (docs) copyFileSync(file, join(docs, `${name}.png`));
}

/** Fills the identity and the simulator's hosts, and picks certificate sign-in. */
async function fillForCertificate(name) {
  await type(driver, "field-name", name);
  await type(driver, "field-tenantId", sim.tenantId);
  await type(driver, "field-clientId", sim.clientId);
  await expand(driver, "form-advanced");
  await type(driver, "field-apiBaseUrl", sim.apiBase);
  await type(driver, "field-loginAuthority", sim.authority);
  const choice = await find(driver, "field-credential-certificate");
  await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", choice);
  await choice.click();
}

test("certificates: import a PEM file, test and save; a PFX ending soon warns on its card", async () => {
  await (await find(driver, "welcome-add")).click();
  await fillForCertificate("Contoso production");
  // The file input takes a path through WebDriver, as a file picked in the dialog.
  await (await find(driver, "field-certificateFile")).sendKeys(files.pem);
  const facts = await find(driver, "form-certificate-facts", 15_000);
  assert.equal(await text(await find(driver, "form-certificate-facts-subject")), "CN=mde-car Contoso production, O=Contoso");
  assert.match(await text(await find(driver, "form-certificate-facts-thumbprint")), /^[0-9A-F]{40}$/);
  assert.match(await text(await find(driver, "form-certificate-facts-expiry")), /^\d{4}-\d{2}-\d{2} \(in 36[45] days\)$/);
  // Test in the form signs in with the imported key.
  await (await find(driver, "form-test")).click();
  await waitFor(async () => /connected/i.test(await text(await find(driver, "form-test-report"))), "the form's test connects", 60_000);
  await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", facts);
  await shot("certificate-form");
  await (await find(driver, "form-save")).click();
  await card(driver, "Contoso production");
  const [saved] = settings().connections;
  assert.equal(saved.certificate.subject, "CN=mde-car Contoso production, O=Contoso");
  assert.doesNotMatch(JSON.stringify(saved), /PRIVATE KEY/, "the settings file holds no key");
  assert.match(keyringSecret(saved.id) ?? "", /BEGIN PRIVATE KEY/, "the key is in the Secret Service");

  // A PFX file: a wrong password is named at the password, the right one opens it.
  await (await find(driver, "add-connection")).click();
  await fillForCertificate("Fabrikam lab");
  await (await find(driver, "field-certificateFile")).sendKeys(files.pfx);
  await type(driver, "field-certificatePassword", "not-the-password");
  await (await find(driver, "form-import-certificate")).click();
  assert.match(await text(await find(driver, "error-certificatePassword", 15_000)), /Wrong password/);
  await type(driver, "field-certificatePassword", PFX_PASSWORD);
  await (await find(driver, "form-import-certificate")).click();
  const soonFacts = await find(driver, "form-certificate-facts", 15_000);
  assert.equal(await soonFacts.getAttribute("data-state"), "expires_soon");
  await (await find(driver, "form-save")).click();
  const fabrikam = await card(driver, "Fabrikam lab");
  const notice = await waitFor(async () => text(await fabrikam.findElement(byTestId("card-certificate-notice"))), "the card warns");
  assert.match(notice, /^Certificate expires in 12 days \(\d{4}-\d{2}-\d{2}\) — renew it in Entra ID and import the new one$/);
  // The scheduler's first sync signs in with the certificate; wait for it so the card is calm.
  await waitFor(
    async () => /synced/i.test(await text(await fabrikam.findElement(byTestId("card-status-text")))),
    "the first sync of the PFX connection succeeds",
    90_000,
  );
  await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", fabrikam);
  await shot("certificate-expiry");
});
