// Sync now / Cancel on the card, driven by sync updates emitted through the mocked event plugin.
import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConnectionView } from "../../ipc";
import { emitSync, ipcError, mockBackend } from "../../mock/backend";
import { run, view } from "../../mock/fixtures";
import ConnectionCard from "../connections/ConnectionCard.svelte";
import ConnectionsPage from "../connections/ConnectionsPage.svelte";
import { connectionList } from "../connections/connectionList.svelte";
import { START_CHECK_MS, syncState } from "./syncState.svelte";

const NOW = Date.parse("2026-11-28T12:00:00Z");

async function card(connection = view()) {
  await syncState.start();
  const user = userEvent.setup();
  render(ConnectionCard, { props: { connection, now: NOW, onedit: vi.fn(), ondelete: vi.fn() } });
  return { user, q: within(screen.getByTestId("connection-card")) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Sync now and Cancel on the card", () => {
  it("Sync now calls sync_now with {id, full:false}; the button becomes Cancel when the run starts", async () => {
    const backend = mockBackend({ syncNow: () => null });
    const { user, q } = await card();
    await user.click(q.getByTestId("card-sync"));
    expect(backend.to("sync_now")).toEqual([{ cmd: "sync_now", args: { id: "c1", full: false } }]);
    // Between the click and the run's start: no second run can be asked for.
    expect(q.getByTestId("card-sync")).toHaveTextContent("Starting…");
    expect(q.getByTestId("card-sync")).toHaveAttribute("aria-disabled", "true");
    expect(q.getByTestId("card-progress-text")).toHaveTextContent("Starting…");
    await user.click(q.getByTestId("card-sync"));
    expect(backend.to("sync_now")).toHaveLength(1);

    await emitSync({ kind: "started", connectionId: "c1", runId: 8, full: false });
    await waitFor(() => expect(q.getByTestId("card-cancel")).toHaveTextContent("Cancel"));
    expect(q.queryByTestId("card-sync")).toBeNull();
    expect(q.getByTestId("card-status")).toHaveTextContent("Syncing");
    expect(q.getByTestId("card-status-text")).toHaveTextContent("Syncing…");
  });

  it("keeps focus on the button as it turns from Sync now into Cancel", async () => {
    mockBackend({ syncNow: () => null });
    const { user, q } = await card();
    q.getByTestId("card-sync").focus();
    await user.keyboard("{Enter}");
    await emitSync({ kind: "started", connectionId: "c1", runId: 8, full: false });
    await waitFor(() => expect(q.getByTestId("card-cancel")).toHaveFocus());
  });

  it("the progress line follows progress and throttled updates", async () => {
    mockBackend();
    const { q } = await card();
    await emitSync({ kind: "started", connectionId: "c1", runId: 8, full: true });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("Starting a full sync…"));
    expect(q.getByTestId("card-status-text")).toHaveTextContent("Full sync running…");

    await emitSync({ kind: "progress", connectionId: "c1", step: "Signing in", page: 0, items: 0 });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("Signing in…"));

    await emitSync({ kind: "progress", connectionId: "c1", step: "Devices", page: 3, items: 2400 });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("Devices: page 3, 2,400 items"));
    expect(q.getByRole("progressbar")).not.toHaveAttribute("aria-valuenow");

    await emitSync({ kind: "progress", connectionId: "c1", step: "Devices", page: 3, items: 2400, estimatedTotal: 4000 });
    await waitFor(() =>
      expect(q.getByTestId("card-progress-text")).toHaveTextContent("Devices: page 3 of ~5, 2,400 items"),
    );
    expect(q.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "60");

    await emitSync({ kind: "throttled", connectionId: "c1", waitSecs: 12, byService: false });
    await waitFor(() =>
      expect(q.getByTestId("card-progress-text")).toHaveTextContent("Keeping within Defender's rate limit: waiting 12 s"),
    );

    await emitSync({ kind: "progress", connectionId: "c1", step: "IP history", page: 1, items: 800 });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("IP history: page 1, 800 items"));

    await emitSync({ kind: "progress", connectionId: "c1", step: "Saving", page: 0, items: 0 });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("Saving to the local database…"));
  });

  it("ignores updates of other connections", async () => {
    mockBackend();
    const { q } = await card();
    await emitSync({ kind: "started", connectionId: "other", runId: 1, full: false });
    await emitSync({ kind: "progress", connectionId: "other", step: "Devices", page: 1, items: 10 });
    expect(q.getByTestId("card-sync")).toHaveTextContent("Sync now");
    expect(q.queryByTestId("card-progress")).toBeNull();
  });

  it("Cancel calls cancel_sync and says Cancelling… until the run has ended", async () => {
    const backend = mockBackend({ cancelSync: () => true });
    const { user, q } = await card();
    await emitSync({ kind: "started", connectionId: "c1", runId: 8, full: false });
    await user.click(await q.findByTestId("card-cancel"));
    expect(backend.to("cancel_sync")).toEqual([{ cmd: "cancel_sync", args: { id: "c1" } }]);
    await waitFor(() => expect(q.getByTestId("card-cancel")).toHaveTextContent("Cancelling…"));
    expect(q.getByTestId("card-cancel")).toHaveAttribute("aria-disabled", "true");
    expect(q.getByTestId("card-progress-text")).toHaveTextContent("Cancelling…");
    // A late progress update does not bring the Cancel button back.
    await emitSync({ kind: "progress", connectionId: "c1", step: "Alerts", page: 1, items: 3 });
    expect(q.getByTestId("card-cancel")).toHaveTextContent("Cancelling…");

    await emitSync({ kind: "finished", connectionId: "c1", runId: 8, status: "cancelled", summary: "cancelled" });
    await waitFor(() => expect(q.getByTestId("card-sync")).toHaveTextContent("Sync now"));
    expect(q.queryByTestId("card-progress")).toBeNull();
  });

  it("explains a Cancel with nothing to stop in this app", async () => {
    mockBackend({ cancelSync: () => false });
    const { user, q } = await card(view({ syncing: true, status: "syncing" }));
    await user.click(q.getByTestId("card-cancel"));
    await waitFor(() =>
      expect(q.getByTestId("card-sync-notice")).toHaveTextContent("No sync of this connection is running in this app"),
    );
  });

  it("already_running: says a sync is going on instead of failing", async () => {
    mockBackend({
      syncNow: () => {
        throw ipcError("already_running", "a sync of 'Contoso production' is already running");
      },
    });
    const { user, q } = await card();
    await user.click(q.getByTestId("card-sync"));
    const notice = await q.findByTestId("card-sync-notice");
    expect(notice).toHaveTextContent("“Contoso production” is already syncing");
    expect(notice).toHaveTextContent("Wait for that run to finish.");
    expect(notice).toHaveAttribute("role", "status");
    expect(q.getByTestId("card-sync")).toHaveTextContent("Sync now");
  });

  it("any other failure to start is an error on the card", async () => {
    mockBackend({ syncNow: () => { throw ipcError("keyring", "the OS keyring is locked"); } });
    const { user, q } = await card();
    await user.click(q.getByTestId("card-sync"));
    const notice = await q.findByTestId("card-sync-notice");
    expect(notice).toHaveTextContent("Sync could not start: the OS keyring is locked");
    expect(notice).toHaveAttribute("role", "alert");
    expect(q.getByTestId("card-sync")).toHaveAttribute("aria-disabled", "false");
  });
});

describe("the connection list follows the runs", () => {
  it("finished refreshes the list: new counts, status and last run on the card", async () => {
    let list: ConnectionView[] = [view()];
    const backend = mockBackend({ listConnections: () => list, syncNow: () => null });
    await syncState.start();
    const user = userEvent.setup();
    render(ConnectionsPage);
    const cardEl = await screen.findByTestId("connection-card");
    const q = within(cardEl);
    await user.click(q.getByTestId("card-sync"));
    await emitSync({ kind: "started", connectionId: "c1", runId: 8, full: true });
    await emitSync({ kind: "progress", connectionId: "c1", step: "Devices", page: 1, items: 500, estimatedTotal: 500 });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("Devices: page 1, 500 items"));

    list = [
      view({
        status: "connected",
        statusText: "Synced 500 devices",
        lastSyncAt: new Date().toISOString(),
        counts: {
          devices: 500,
          ipAddresses: 1210,
          alerts: 7,
          vulnerabilities: 320,
          risk: { critical: 1, high: 20, medium: 100, low: 300, none: 79 },
        },
        lastRun: run({ id: 8, full: true, trigger: "manual" }),
      }),
    ];
    const before = backend.to("list_connections").length;
    await emitSync({ kind: "finished", connectionId: "c1", runId: 8, status: "succeeded", summary: "500 devices" });
    await waitFor(() => expect(q.getByTestId("card-counts")).toHaveTextContent("500 devices"));
    expect(backend.to("list_connections").length).toBeGreaterThan(before);
    expect(q.getByTestId("card-counts")).toHaveTextContent("1,210 IP addresses");
    expect(q.getByTestId("card-status-text")).toHaveTextContent("Synced 500 devices");
    expect(q.getByTestId("card-status")).toHaveTextContent("Connected");
    expect(q.getByTestId("card-last-run")).toHaveTextContent("12 API calls");
    expect(q.getByTestId("card-last-sync")).toHaveTextContent("just now");
    expect(q.queryByTestId("card-progress")).toBeNull();
    expect(q.getByTestId("card-sync")).toHaveTextContent("Sync now");
  });

  it("the card leaves the syncing state at once when the run ends, before the list reload answers", async () => {
    let hold = false;
    let release: () => void = () => {};
    mockBackend({
      listConnections: async () => {
        if (hold) await new Promise<void>((r) => (release = r));
        return [view({ syncing: !hold, status: hold ? "connected" : "syncing" })];
      },
    });
    await syncState.start();
    render(ConnectionsPage);
    const q = within(await screen.findByTestId("connection-card"));
    expect(q.getByTestId("card-cancel")).toBeInTheDocument();
    hold = true;
    await emitSync({ kind: "finished", connectionId: "c1", runId: 8, status: "succeeded", summary: "" });
    // The list on screen still says syncing; the finished update outranks it.
    await waitFor(() => expect(q.getByTestId("card-sync")).toHaveTextContent("Sync now"));
    expect(q.queryByTestId("card-progress")).toBeNull();
    release();
    await waitFor(() => expect(q.getByTestId("card-status")).toHaveTextContent("Connected"));
  });

  it("connections_changed refreshes the list", async () => {
    let list: ConnectionView[] = [view()];
    mockBackend({ listConnections: () => list });
    await syncState.start();
    render(ConnectionsPage);
    await screen.findByTestId("connection-card");
    list = [view(), view({ id: "c2", name: "Added by the CLI" })];
    await emitSync({ kind: "connections_changed" });
    await waitFor(() => expect(screen.getAllByTestId("connection-card")).toHaveLength(2));
  });

  it("a run the scheduler started shows up on the card", async () => {
    mockBackend({ listConnections: () => [view()] });
    await syncState.start();
    render(ConnectionsPage);
    const q = within(await screen.findByTestId("connection-card"));
    await emitSync({ kind: "progress", connectionId: "c1", step: "Alerts", page: 2, items: 150 });
    await waitFor(() => expect(q.getByTestId("card-progress-text")).toHaveTextContent("Alerts: page 2, 150 items"));
    expect(q.getByTestId("card-cancel")).toBeInTheDocument();
  });
});

describe("a run that never starts", () => {
  it("Rust's finished without a run id says why, at once", async () => {
    mockBackend({ syncNow: () => null, listConnections: () => [view()] });
    await syncState.start();
    await syncState.syncNow(view());
    await emitSync({
      kind: "finished",
      connectionId: "c1",
      status: "failed",
      summary: "no client secret is stored for connection 'Contoso' in the OS keyring",
      errorCode: "keyring",
    });
    expect(syncState.run("c1")).toBeUndefined();
    expect(syncState.notice("c1")).toEqual({
      tone: "error",
      text: "Sync could not start: no client secret is stored for connection 'Contoso' in the OS keyring",
    });
  });

  it("another process holding the connection is news, not an error", async () => {
    mockBackend({ syncNow: () => null, listConnections: () => [view()] });
    await syncState.start();
    await syncState.syncNow(view());
    await emitSync({ kind: "finished", connectionId: "c1", status: "failed", summary: "x", errorCode: "already_running" });
    expect(syncState.notice("c1")?.tone).toBe("info");
    expect(syncState.notice("c1")?.text).toMatch(/another mde-car process/);
  });

  it("store_changed (the CLI synced) reloads the list and the runs", async () => {
    const backend = mockBackend({ listConnections: () => [view()] });
    await syncState.start();
    const before = syncState.runsVersion;
    await emitSync({ kind: "store_changed" });
    expect(syncState.runsVersion).toBe(before + 1);
    await waitFor(() => expect(backend.to("list_connections").length).toBeGreaterThan(0));
  });

  it("after a while asks Rust, and says the sync did not start when nothing runs", async () => {
    vi.useFakeTimers();
    const backend = mockBackend({ syncNow: () => null, listConnections: () => [view()] });
    await syncState.start();
    await syncState.syncNow(view());
    expect(syncState.run("c1")?.phase).toBe("starting");
    await vi.advanceTimersByTimeAsync(START_CHECK_MS + 10);
    expect(backend.to("list_connections")).toHaveLength(1);
    expect(syncState.run("c1")).toBeUndefined();
    expect(syncState.notice("c1")?.text).toMatch(/The sync did not start/);
  });

  it("keeps waiting while Rust says the connection is syncing (e.g. the demo tenant starting up)", async () => {
    vi.useFakeTimers();
    mockBackend({ syncNow: () => null, listConnections: () => [view({ syncing: true, status: "syncing" })] });
    await syncState.start();
    await syncState.syncNow(view());
    await vi.advanceTimersByTimeAsync(START_CHECK_MS + 10);
    expect(syncState.run("c1")?.phase).toBe("starting");
    expect(syncState.notice("c1")).toBeUndefined();
    await emitSync({ kind: "started", connectionId: "c1", runId: 9, full: false });
    expect(syncState.run("c1")?.phase).toBe("running");
  });

  it("a throttle countdown ticks down each second", async () => {
    vi.useFakeTimers();
    mockBackend();
    await syncState.start();
    await emitSync({ kind: "throttled", connectionId: "c1", waitSecs: 3, byService: true });
    const { progressView } = await import("./progress");
    expect(progressView(syncState.run("c1"), syncState.now).text).toBe("Defender asked to slow down: waiting 3 s");
    await vi.advanceTimersByTimeAsync(1000);
    expect(progressView(syncState.run("c1"), syncState.now).text).toBe("Defender asked to slow down: waiting 2 s");
    await vi.advanceTimersByTimeAsync(3000);
    expect(progressView(syncState.run("c1"), syncState.now).text).toBe("Retrying after Defender's rate limit…");
  });
});
