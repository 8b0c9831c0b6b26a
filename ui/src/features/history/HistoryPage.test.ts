import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { SyncRun } from "../../ipc";
import { emitSync, mockBackend } from "../../mock/backend";
import { run, view } from "../../mock/fixtures";
import { syncState } from "../sync/syncState.svelte";
import HistoryPage from "./HistoryPage.svelte";
import { chartData } from "./charts";

const TWO = [view(), view({ id: "c2", name: "Fabrikam" })];

const RUNS: SyncRun[] = [
  run({
    id: 9,
    trigger: "manual",
    startedAt: "2026-11-28T11:59:00Z",
    finishedAt: "2026-11-28T11:59:12Z",
    durationMs: 12_000,
    status: "failed",
    errorCode: "network",
    error: "could not connect: connection refused",
    apiCalls: [{ endpoint: "token", calls: 1 }],
    totalApiCalls: 1,
    changes: [],
  }),
  run({
    id: 8,
    full: true,
    throttledMs: 12_500,
    notes: ["Alerts skipped: the app registration lacks Alert.Read.All; grant it in Entra ID to import them"],
  }),
];

describe("Sync history", () => {
  it("lists the runs of the first connection with mode, trigger, status, duration, calls and changes", async () => {
    const backend = mockBackend({ listConnections: () => TWO, syncRuns: () => RUNS });
    render(HistoryPage);
    const rows = await screen.findAllByTestId("history-run");
    expect(backend.to("sync_runs")[0]!.args).toEqual({ id: "c1", limit: 100 });
    expect(screen.getByTestId("history-connection")).toHaveValue("c1");
    expect(rows).toHaveLength(2);

    const [failed, ok] = rows as [HTMLElement, HTMLElement];
    expect(failed).toHaveAttribute("data-status", "failed");
    expect(failed).toHaveTextContent("Incremental");
    expect(failed).toHaveTextContent("Manual");
    expect(within(failed).getByTestId("run-status")).toHaveTextContent("Failed");
    expect(failed).toHaveTextContent("12 s");
    expect(failed).toHaveTextContent("Nothing saved");
    expect(failed).toHaveTextContent("Could not connect: connection refused. Check the network connection or proxy");

    expect(ok).toHaveTextContent("Full");
    expect(ok).toHaveTextContent("Scheduled");
    expect(within(ok).getByTestId("run-status")).toHaveTextContent("Succeeded");
    expect(ok).toHaveTextContent("50 s");
    expect(ok).toHaveTextContent("13 s"); // throttled
    expect(ok).toHaveTextContent("+12 / ~3 / −1 devices");
    expect(ok).toHaveTextContent("Alerts skipped: the app registration lacks Alert.Read.All");
    const calls = within(ok).getByTestId("history-run-calls");
    expect(calls).toHaveTextContent("12");
    expect(calls.getAttribute("title")).toBe(
      "Devices (machines): 5\nAdvanced hunting: 4\nAlerts: 2\nSign-in (token): 1",
    );
  });

  it("expands a run to its API calls per endpoint and its changes per kind", async () => {
    mockBackend({ listConnections: () => TWO, syncRuns: () => RUNS });
    const user = userEvent.setup();
    render(HistoryPage);
    const ok = (await screen.findAllByTestId("history-run"))[1]!;
    const toggle = within(ok).getByTestId("history-run-toggle");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    toggle.focus();
    await user.keyboard("{Enter}");
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    const detail = screen.getByTestId("history-run-detail");
    expect(detail).toHaveTextContent("Devices (machines)5");
    expect(detail).toHaveTextContent("Total12");
    expect(detail).toHaveTextContent("IP addresses2002");
    expect(detail).toHaveTextContent("alerts410");
    await user.keyboard("{Enter}");
    expect(screen.queryByTestId("history-run-detail")).toBeNull();
  });

  it("shows both charts with a readable summary", async () => {
    mockBackend({ listConnections: () => TWO, syncRuns: () => RUNS });
    render(HistoryPage);
    const duration = await screen.findByTestId("history-chart-duration");
    expect(duration).toHaveTextContent("Duration per run");
    expect(duration).toHaveTextContent("Last 2 runs: median 31 s, longest 50 s.");
    expect(screen.getByTestId("history-chart-calls")).toHaveTextContent("Last 2 runs: median 7 API calls, most 12.");
    expect(within(duration).getByRole("img")).toHaveAccessibleName(/Duration per run/);
  });

  it("says what to do when the connection has no runs yet", async () => {
    mockBackend({ listConnections: () => TWO, syncRuns: () => [] });
    render(HistoryPage);
    expect(await screen.findByTestId("history-empty")).toHaveTextContent(
      "No sync yet — press Sync now on the connection's card.",
    );
    expect(screen.queryByTestId("history-table")).toBeNull();
  });

  it("says so when there is no connection at all", async () => {
    mockBackend({ listConnections: () => [] });
    render(HistoryPage);
    expect(await screen.findByTestId("history-no-connections")).toHaveTextContent("No connections yet.");
  });

  it("switches connection, loads its runs and remembers the choice", async () => {
    const backend = mockBackend({
      listConnections: () => TWO,
      syncRuns: (id) => (id === "c2" ? [run({ id: 30, connectionId: "c2", trigger: "cli" })] : RUNS),
    });
    const user = userEvent.setup();
    const first = render(HistoryPage);
    await screen.findAllByTestId("history-run");
    await user.selectOptions(screen.getByTestId("history-connection"), "c2");
    await waitFor(() => expect(screen.getAllByTestId("history-run")).toHaveLength(1));
    expect(screen.getByTestId("history-run")).toHaveTextContent("CLI");
    expect(backend.to("sync_runs").at(-1)!.args).toEqual({ id: "c2", limit: 100 });

    first.unmount();
    render(HistoryPage);
    await waitFor(() => expect(screen.getByTestId("history-connection")).toHaveValue("c2"));
    await waitFor(() => expect(screen.getAllByTestId("history-run")).toHaveLength(1));
  });

  it("reloads the runs when a run starts and ends, and shows its progress meanwhile", async () => {
    let runs: SyncRun[] = [];
    mockBackend({ listConnections: () => [view()], syncRuns: () => runs });
    await syncState.start();
    render(HistoryPage);
    await screen.findByTestId("history-empty");

    runs = [run({ id: 10, status: "running", finishedAt: null, durationMs: null, changes: [], apiCalls: [], totalApiCalls: 0 })];
    await emitSync({ kind: "started", connectionId: "c1", runId: 10, full: false });
    await waitFor(() => expect(screen.getByTestId("history-run")).toHaveAttribute("data-status", "running"));
    await emitSync({ kind: "progress", connectionId: "c1", step: "Devices", page: 2, items: 1000 });
    await waitFor(() => expect(screen.getByTestId("history-progress-text")).toHaveTextContent("Devices: page 2, 1,000 items"));

    runs = [run({ id: 10 })];
    await emitSync({ kind: "finished", connectionId: "c1", runId: 10, status: "succeeded", summary: "" });
    await waitFor(() => expect(screen.getByTestId("history-run")).toHaveAttribute("data-status", "succeeded"));
    await waitFor(() => expect(screen.queryByTestId("history-progress")).toBeNull());
  });

  it("charts only finished runs, the newest 30, oldest first", () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      run({ id: 100 - i, startedAt: new Date(Date.UTC(2026, 10, 28, 12) - i * 3600_000).toISOString(), durationMs: (i + 1) * 1000 }),
    );
    const data = chartData([run({ id: 200, status: "running", durationMs: null, finishedAt: null }), ...many])!;
    expect(data.labels).toHaveLength(30);
    expect(data.duration).toHaveLength(1);
    expect(data.duration[0]!.values[0]).toBe(30);
    expect(data.duration[0]!.values[29]).toBe(1);
    expect(chartData([])).toBeNull();

    const mixed = chartData([run({ id: 2, status: "failed", durationMs: 2000 }), run({ id: 1 })])!;
    expect(mixed.duration.map((s) => [s.label, s.tone, s.values])).toEqual([
      ["Succeeded", "accent", [50, null]],
      ["Failed", "danger", [null, 2]],
    ]);
  });
});
