import { cleanup, render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { TestReport } from "../../ipc";
import { ipcError, mockBackend } from "../../mock/backend";
import { certificateInfo, report, run, view } from "../../mock/fixtures";
import ConnectionCard from "./ConnectionCard.svelte";

const NOW = Date.parse("2026-11-28T12:00:00Z");

function setup(connection = view()) {
  const onedit = vi.fn();
  const ondelete = vi.fn();
  const ontested = vi.fn();
  const user = userEvent.setup();
  render(ConnectionCard, { props: { connection, now: NOW, onedit, ondelete, ontested } });
  const card = screen.getByTestId("connection-card");
  return { user, card, onedit, ondelete, ontested, q: within(card) };
}

describe("ConnectionCard", () => {
  it("renders identity, status, schedule, sync times and counts", () => {
    const { card, q } = setup(
      view({
        status: "connected",
        statusText: "Synced 12,402 devices 8 minutes ago",
        isDemo: true,
        cloudLabel: "GCC High",
        frequencyText: "Every 6 hours",
        lastSyncAt: "2026-11-28T11:52:00Z",
        nextSyncAt: "2026-11-28T17:52:00Z",
        counts: {
          devices: 12402,
          ipAddresses: 30511,
          alerts: 14,
          vulnerabilities: 2001,
          risk: { critical: 38, high: 0, medium: 2975, low: 6120, none: 3269 },
        },
      }),
    );
    expect(card).toHaveAttribute("data-name", "Contoso production");
    expect(q.getByText("EU servers and workstations")).toBeInTheDocument();
    expect(q.getByText("Demo")).toBeInTheDocument();
    expect(q.getByTestId("card-status")).toHaveTextContent("Connected");
    expect(q.getByTestId("card-status-text")).toHaveTextContent("Synced 12,402 devices 8 minutes ago");
    expect(q.getByText("72f988bf…db47")).toHaveAttribute("title", "72f988bf-86f1-41af-91ab-2d7cd011db47");
    expect(q.getByText("GCC High")).toBeInTheDocument();
    expect(q.getByText("Every 6 hours")).toBeInTheDocument();
    expect(q.getByTestId("card-last-sync")).toHaveTextContent("8 minutes ago");
    expect(q.getByTestId("card-last-sync").getAttribute("title")).toMatch(/2026/);
    expect(q.getByTestId("card-next-sync")).toHaveTextContent("in 6 hours");
    const counts = q.getByTestId("card-counts");
    expect(counts).toHaveTextContent("12,402 devices");
    expect(counts).toHaveTextContent("30,511 IP addresses");
    expect(counts).toHaveTextContent("14 open alerts");
    expect(counts).toHaveTextContent("2,001 vulnerabilities");
    // Risk levels most severe first; empty levels and "none" stay out of the legend.
    const risk = q.getByTestId("card-risk");
    expect(within(risk).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "38 critical",
      "2,975 medium",
      "6,120 low",
    ]);
    expect(within(risk).getByRole("img")).toHaveAttribute(
      "aria-label",
      "38 critical-risk devices, 0 high-risk devices, 2975 medium-risk devices, 6120 low-risk devices, 3269 devices without risk",
    );
  });

  it("shows dashes, no counts and no test result for a connection never synced or tested", () => {
    const { q } = setup();
    expect(q.getByTestId("card-status")).toHaveTextContent("Never synced");
    expect(q.getByTestId("card-last-sync")).toHaveTextContent("—");
    expect(q.getByTestId("card-next-sync")).toHaveTextContent("—");
    expect(q.queryByTestId("card-counts")).toBeNull();
    expect(q.queryByTestId("card-test-result")).toBeNull();
    expect(q.queryByText("Demo")).toBeNull();
  });

  it("shows the last test: granted roles as chips when ok, missing roles named when not", () => {
    const { q } = setup(view({ status: "connected", lastTest: report() }));
    expect(q.getByTestId("card-test-result")).toHaveTextContent("Connected");
    expect(q.getByTestId("card-test-result")).toHaveTextContent("Token issued and the API answered");
    const roles = q.getByTestId("card-roles");
    expect(within(roles).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "Machine.Read.All",
      "Alert.Read.All",
    ]);
  });

  it("lists each data type only when one of them cannot be read, with why", () => {
    const { q } = setup(view({ status: "connected", lastTest: report() }));
    expect(q.queryByTestId("card-test-result-data")).toBeNull();
    cleanup();
    const notOffered = "defender answered 404 (ResourceNotFound): the tenant may lack a licence.";
    const { q: q2 } = setup(
      view({
        status: "connected",
        lastTest: report({
          data: [
            { data: "alerts", state: "available", detail: "" },
            { data: "ipHistory", state: "available", detail: "" },
            { data: "loggedOnUsers", state: "not_selected", detail: "" },
            { data: "vulnerabilities", state: "not_offered", detail: notOffered },
          ],
        }),
      }),
    );
    const list = q2.getByTestId("card-test-result-data");
    const rows = within(list).getAllByRole("listitem");
    expect(rows.map((row) => row.getAttribute("data-state"))).toEqual([
      "available",
      "available",
      "not_selected",
      "not_offered",
    ]);
    expect(rows[2]).toHaveTextContent(/Logged-on users\s*Turned off/);
    expect(rows[3]).toHaveTextContent(/Vulnerabilities\s*Not offered by this tenant/);
    // In a sentence's spelling.
    expect(rows[3]).toHaveTextContent("Defender answered 404 (ResourceNotFound): the tenant may lack a licence.");
  });

  it("names missing permissions of a failed test", () => {
    const { q } = setup(
      view({
        status: "error",
        statusText: "Missing permission Vulnerability.Read.All — grant it in Entra ID",
        lastTest: report({
          ok: false,
          code: "missing_permission",
          title: "Missing API permission",
          detail: "The token lacks a role the selected data needs.",
          grantedRoles: ["Machine.Read.All"],
          missingRoles: ["Vulnerability.Read.All"],
        }),
      }),
    );
    expect(q.getByTestId("card-status")).toHaveTextContent("Error");
    const result = q.getByTestId("card-test-result");
    expect(result).toHaveTextContent("Missing API permission");
    expect(result).toHaveTextContent("Missing: Vulnerability.Read.All");
    expect(q.queryByTestId("card-roles")).toBeNull();
  });

  it("Test shows a busy state, then the report", async () => {
    let finish: (v: TestReport) => void = () => {};
    const backend = mockBackend({ testConnection: () => new Promise((r) => (finish = r)) });
    const { user, q, ontested } = setup();
    await user.click(q.getByTestId("card-test"));
    expect(q.getByTestId("card-test")).toBeDisabled();
    expect(q.getByTestId("card-test")).toHaveTextContent("Testing…");
    expect(backend.to("test_connection")[0]!.args).toEqual({ id: "c1" });
    finish(report({ title: "Connected to Contoso", testedAt: "2026-11-28T11:59:00Z" }));
    await waitFor(() => expect(q.getByTestId("card-test-result")).toHaveTextContent("Connected to Contoso"));
    expect(q.getByTestId("card-test")).toBeEnabled();
    expect(ontested).toHaveBeenCalledTimes(1);
  });

  it("says so when the test itself could not run", async () => {
    mockBackend({ testConnection: () => { throw ipcError("keyring", "The OS keyring is locked."); } });
    const { user, q } = setup();
    await user.click(q.getByTestId("card-test"));
    await waitFor(() => expect(q.getByTestId("card-test-result")).toHaveTextContent("The OS keyring is locked."));
  });

  it("lists the values the settings file gives that the form refuses, and offers only Edit", async () => {
    const { user, q, onedit } = setup(
      view({
        status: "error",
        statusText:
          'Not synced or tested: the settings file gives values the form never accepts ("loginAuthority", "frequency"). Edit the connection to fix them.',
        problems: [
          { field: "loginAuthority", message: "Use https: the login authority receives credentials" },
          { field: "frequency", message: "Sync at most every 5 minutes" },
        ],
      }),
    );
    const problems = q.getByTestId("card-settings-problems");
    expect(within(problems).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "loginAuthority Use https: the login authority receives credentials",
      "frequency Sync at most every 5 minutes",
    ]);
    expect(q.getByTestId("card-test")).toBeDisabled();
    expect(q.getByTestId("card-sync")).toBeDisabled();
    expect(q.getByTestId("card-sync")).toHaveAttribute("title", expect.stringMatching(/Edit/));
    await user.click(q.getByTestId("card-edit"));
    expect(onedit).toHaveBeenCalledOnce();
  });

  it("shows no settings problems for a valid connection", () => {
    const { q } = setup(view());
    expect(q.queryByTestId("card-settings-problems")).toBeNull();
    expect(q.getByTestId("card-test")).toBeEnabled();
  });

  it("Edit and Delete hand the connection to the page", async () => {
    const { user, q, onedit, ondelete } = setup();
    await user.click(q.getByTestId("card-edit"));
    await user.click(q.getByTestId("card-delete"));
    expect(onedit).toHaveBeenCalledWith(expect.objectContaining({ id: "c1" }));
    expect(ondelete).toHaveBeenCalledWith(expect.objectContaining({ id: "c1" }));
  });

  it("shows the last run: duration, API calls and device changes, with a way to its history", () => {
    const { q } = setup(
      view({ status: "connected", statusText: "Synced 500 devices", lastSyncAt: "2026-11-28T11:52:00Z", lastRun: run() }),
    );
    const line = q.getByTestId("card-last-run");
    expect(line).toHaveTextContent("Last run 8 minutes ago: 50 s, 12 API calls, devices +12 / ~3 / −1");
    expect(line).toHaveAttribute("data-status", "succeeded");
    expect(q.getByTestId("card-history")).toHaveTextContent("History");
    expect(q.queryByTestId("card-notes")).toBeNull();
  });

  it("says in plain words why the last run failed, without repeating the status line", () => {
    const failed = run({
      status: "failed",
      errorCode: "auth",
      error: "sign-in failed: entra id rejected the client secret",
      changes: [],
    });
    const { q } = setup(
      view({ status: "error", statusText: "Sync failed: sign-in failed: entra id rejected the client secret", lastRun: failed }),
    );
    const line = q.getByTestId("card-last-run");
    expect(line).toHaveTextContent("failed after 50 s. Check the tenant, client ID and secret with Test, and correct them in Edit.");
    expect(line).not.toHaveTextContent("rejected");

    // When a newer test result is what the status line reports, the run's error is spelled out.
    cleanup();
    const { q: q2 } = setup(view({ status: "connected", statusText: "Connection works", lastRun: failed }));
    expect(q2.getByTestId("card-last-run")).toHaveTextContent("Sign-in failed: Entra ID rejected the client secret. Check the tenant");
  });

  it("shows a run's notes as warnings, once", () => {
    const note = "Alerts skipped: the app registration lacks Alert.Read.All; grant it in Entra ID to import them";
    const { q } = setup(
      view({ status: "connected", statusText: `Synced 500 devices; ${note}`, lastRun: run({ notes: [note] }) }),
    );
    expect(q.getByTestId("card-status-text")).toHaveTextContent(/^Synced 500 devices$/);
    expect(q.getByTestId("card-notes")).toHaveTextContent(`${note}.`);
  });

  it("shows Sync now, no progress and no Cancel while idle", () => {
    const { q } = setup();
    expect(q.getByTestId("card-sync")).toHaveTextContent("Sync now");
    expect(q.getByTestId("card-sync")).toHaveAttribute("aria-disabled", "false");
    expect(q.queryByTestId("card-cancel")).toBeNull();
    expect(q.queryByTestId("card-progress")).toBeNull();
  });

  it("a connection Rust reports as syncing shows Cancel and an indeterminate bar", () => {
    const { q } = setup(view({ status: "syncing", statusText: "Syncing…", syncing: true }));
    expect(q.getByTestId("card-cancel")).toHaveTextContent("Cancel");
    expect(q.getByTestId("card-status")).toHaveTextContent("Syncing");
    expect(q.getByTestId("card-progress-text")).toHaveTextContent("Syncing…");
    expect(q.getByRole("progressbar")).not.toHaveAttribute("aria-valuenow");
    expect(q.getByTestId("card-delete")).toBeDisabled();
  });

  it("shows a partial run as saved with its missing data, and offers to accept a refused shrink", async () => {
    const backend = mockBackend({ syncAcceptingShrink: () => null });
    const partial = run({
      status: "partial",
      errorCode: "listing_shrank",
      notes: ["Defender listed 3 devices where 120 were active at the last sync; no device was marked gone"],
    });
    const { user, q } = setup(view({ status: "connected", lastRun: partial }));
    const line = q.getByTestId("card-last-run");
    expect(line).toHaveAttribute("data-status", "partial");
    expect(line).toHaveTextContent("saved, but some data could not be updated");
    expect(q.getByTestId("card-notes")).toHaveTextContent("Defender listed 3 devices where 120 were active");
    await user.click(q.getByTestId("card-accept-shrink"));
    await waitFor(() => expect(backend.to("sync_accepting_shrink")).toHaveLength(1));
    expect(backend.to("sync_accepting_shrink")[0]!.args).toEqual({ id: view().id });
  });

  it("offers no shrink acceptance for a partial run that lost another stage", () => {
    mockBackend();
    const partial = run({ status: "partial", errorCode: "data_missing", notes: ["Alerts skipped: Defender answered 503"] });
    const { q } = setup(view({ status: "connected", lastRun: partial }));
    expect(q.getByTestId("card-last-run")).toHaveAttribute("data-status", "partial");
    expect(q.queryByTestId("card-accept-shrink")).toBeNull();
  });

  it("warns when the certificate ends within 30 days, as Rust words it, and names the certificate", () => {
    const notice = "Certificate expires in 12 days (2026-12-10) — renew it in Entra ID and import the new one";
    const { q } = setup(
      view({
        credential: "certificate",
        certificate: certificateInfo({ notAfter: "2026-12-10T09:00:00Z" }),
        certificateState: "expires_soon",
        certificateNotice: notice,
        status: "connected",
        statusText: "Connection works",
      }),
    );
    const line = q.getByTestId("card-certificate-notice");
    expect(line).toHaveTextContent(notice);
    expect(line).toHaveClass("warning");
    expect(line).toHaveAttribute("role", "status");
    expect(q.getByTestId("card-credential")).toHaveTextContent("Certificate until 2026-12-10");
    expect(q.getByTestId("card-status-text")).not.toHaveClass("error");
  });

  it("shows an ended certificate as the card's error, once", () => {
    const text = "Certificate expired on 2026-11-20 — create a new one, register it with the app and import it in Edit";
    const { q } = setup(
      view({
        credential: "certificate",
        certificate: certificateInfo({ notAfter: "2026-11-20T00:00:00Z" }),
        certificateState: "expired",
        certificateNotice: text,
        status: "error",
        statusText: text,
      }),
    );
    expect(q.getByTestId("card-status-text")).toHaveTextContent(text);
    expect(q.getByTestId("card-status-text")).toHaveClass("error");
    expect(q.queryByTestId("card-certificate-notice")).toBeNull();
  });

  it("says nothing of certificates for a secret connection or a certificate far from its end", () => {
    const { q } = setup();
    expect(q.getByTestId("card-credential")).toHaveTextContent("Client secret");
    expect(q.queryByTestId("card-certificate-notice")).toBeNull();
    cleanup();
    const far = setup(view({ credential: "certificate", certificate: certificateInfo(), certificateState: "valid" }));
    expect(far.q.queryByTestId("card-certificate-notice")).toBeNull();
  });
});
