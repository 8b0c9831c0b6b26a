// Helpers for the end-to-end tests: the simulator process, the app session, waits, screenshots.

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Builder, By, Key, until } from "selenium-webdriver";

export const output = process.env.E2E_OUTPUT ?? "output";
export const dataDir = process.env.MDE_CAR_DATA_DIR;

/** Starts `mde-sim` on a free port and resolves with the credentials it prints as JSON. */
export async function startSimulator(args = []) {
  const child = spawn(process.env.MDE_SIM_BIN, ["--devices", "50", "--seed", "7", "--port", "0", "--json", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("mde-sim did not print its credentials within 30 s")), 30_000);
    child.once("exit", (code) => reject(new Error(`mde-sim exited early with ${code}`)));
    lines.on("line", (line) => {
      try {
        const parsed = JSON.parse(line);
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // Human-readable lines before the JSON one are fine.
      }
    });
  });
  return { ...info, stop: () => child.kill() };
}

/** A WebDriver session on the real app window. */
export async function openApp() {
  const capabilities = {
    browserName: "wry",
    "tauri:options": { application: process.env.MDE_CAR_APP },
  };
  const driver = await new Builder().withCapabilities(capabilities).usingServer("http://127.0.0.1:4444/").build();
  await driver.manage().setTimeouts({ implicit: 0 });
  // Every screenshot checks that nothing the window rendered since was blocked by the CSP
  // (tauri.conf.json allows no inline styles or scripts): a blocked style would be a silent
  // visual bug.
  await driver.wait(async () => driver.executeScript("return document.getElementById('app')?.childElementCount > 0"), 20_000);
  await driver.executeScript(`
    window.__e2eCspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__e2eCspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " at " + event.sourceFile + ":" + event.lineNumber);
    });`);
  return driver;
}

export const byTestId = (id) => By.css(`[data-testid="${id}"]`);

export async function find(driver, id, timeout = 10_000) {
  return driver.wait(until.elementLocated(byTestId(id)), timeout, `element [data-testid=${id}] did not appear`);
}

export async function card(driver, name, timeout = 10_000) {
  return driver.wait(
    until.elementLocated(By.css(`[data-testid="connection-card"][data-name="${name}"]`)),
    timeout,
    `the card of "${name}" did not appear`,
  );
}

export async function waitFor(check, message, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${message} (last: ${last})`);
}

/** Replaces an input's value the way a person would: select all, type. */
export async function type(driver, id, text) {
  const input = await find(driver, id);
  if (text) {
    await input.clear();
    await input.sendKeys(text);
  } else if (await input.getAttribute("value")) {
    // clear() fires no input event, so a bound value would keep the old text: delete by keys.
    await input.sendKeys(Key.chord(Key.CONTROL, "a"), Key.BACK_SPACE);
  }
  return input;
}

/**
 * Opens a disclosure button (aria-expanded), clicking again if a click was lost. The button is
 * scrolled to the middle first: WebKit's own scroll-into-view may leave it under the form's
 * sticky footer when validation messages have just grown the form above it.
 */
export async function expand(driver, id) {
  await waitFor(async () => {
    const button = await find(driver, id);
    await driver.executeScript("arguments[0].scrollIntoView({block: 'center'})", button);
    if ((await button.getAttribute("aria-expanded")) !== "true") await button.click();
    await new Promise((r) => setTimeout(r, 200));
    return (await button.getAttribute("aria-expanded")) === "true";
  }, `${id} opens`);
}

let shotIndex = 0;
/** Saves a screenshot of the window; a short pause first lets WebKit paint the last change. */
export async function screenshot(driver, name) {
  mkdirSync(output, { recursive: true });
  await new Promise((r) => setTimeout(r, 300));
  shotIndex += 1;
  const file = join(output, `${String(shotIndex).padStart(2, "0")}-${name}.png`);
  writeFileSync(file, await driver.takeScreenshot(), "base64");
  const violations = await driver.executeScript("return window.__e2eCspViolations ?? []");
  if (violations.length > 0) throw new Error(`the CSP blocked what ${name} shows: ${violations.join("; ")}`);
  return file;
}

export function settings() {
  const file = join(dataDir, "settings.json");
  if (!existsSync(file)) return { connections: [] };
  const parsed = JSON.parse(readFileSync(file, "utf8"));
  return { connections: parsed.connections ?? [], ...parsed };
}

/** The secret of a connection as the Secret Service holds it, or null. */
export function keyringSecret(connectionId) {
  try {
    return execFileSync("secret-tool", ["lookup", "service", "mde-car", "username", `connection:${connectionId}`], {
      encoding: "utf8",
    });
  } catch {
    return null;
  }
}

/** Every file below the data folder, recursively. */
export function dataFiles(dir = dataDir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? dataFiles(path) : [path];
  });
}

/** Adds a connection to the simulator `sim` through the form, from the Connections page. */
export async function addSimConnection(driver, name, sim) {
  await (await find(driver, "nav-connections", 20_000)).click();
  await (await driver.wait(async () => {
    const add = await driver.findElements(byTestId("add-connection"));
    const welcome = await driver.findElements(byTestId("welcome-add"));
    return add[0] ?? welcome[0];
  }, 10_000, "an Add connection button")).click();
  await type(driver, "field-name", name);
  await type(driver, "field-tenantId", sim.tenantId);
  await type(driver, "field-clientId", sim.clientId);
  await type(driver, "field-clientSecret", sim.clientSecret);
  await expand(driver, "form-advanced");
  await type(driver, "field-apiBaseUrl", sim.apiBase);
  await type(driver, "field-loginAuthority", sim.authority);
  await (await find(driver, "form-save")).click();
}

/**
 * Waits until the card of `name` shows a last run of `status` (one status, or a list of the
 * statuses accepted). The scheduler may start the first sync of a new connection by itself;
 * otherwise this clicks Sync now once — and when the scheduler's run ended just before the
 * click reached the card, that click starts a second run, which is what a user's click asks.
 */
export async function waitForFirstRun(driver, name, status, message) {
  const statuses = [status].flat();
  let clicked = false;
  try {
    await waitForRun();
  } catch (error) {
    // What the card showed instead, and a screenshot of it: a timeout alone tells nothing.
    const shown = await card(driver, name).then((c) => c.getText(), () => "(no card)");
    await screenshot(driver, `timeout-${statuses.join("-")}`).catch(() => {});
    throw new Error(`${error.message}; clicked Sync now: ${clicked}; the card showed: ${shown}`);
  }

  async function waitForRun() {
  await waitFor(
    async () => {
      const connection = await card(driver, name);
      const runs = await connection.findElements(byTestId("card-last-run"));
      if (runs.length && statuses.includes(await runs[0].getAttribute("data-status"))) return true;
      const sync = await connection.findElements(byTestId("card-sync"));
      if (!clicked && runs.length === 0 && sync.length) {
        await sync[0].click();
        clicked = true;
      }
      return false;
    },
    message,
    120_000,
  );
  }
}
