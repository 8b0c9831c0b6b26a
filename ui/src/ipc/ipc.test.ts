import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import { api, errorText, isIpcError, subscribeSyncUpdates, type SyncUpdate } from ".";
import { emitSync, ipcError, mockBackend } from "../mock/backend";
import { report, run, view } from "../mock/fixtures";

describe("ipc layer", () => {
  it("calls the snake_case command with camelCase arguments and returns the data", async () => {
    const backend = mockBackend({ validateConnection: () => [{ field: "name", message: "Required" }] });
    const draft = {
      name: "",
      description: "",
      tenantId: "t",
      clientId: "c",
      clientSecret: null,
      frequency: { kind: "interval" as const, minutes: 60 },
      cloud: "gcc" as const,
      apiBaseUrl: null,
      loginAuthority: null,
      proxyUrl: null,
      caCertificateFile: null,
      data: { alerts: true, vulnerabilities: false, loggedOnUsers: false, ipHistory: true },
    };
    const errors = await api.validateConnection(draft, "c9");
    expect(errors).toEqual([{ field: "name", message: "Required" }]);
    expect(backend.calls).toEqual([{ cmd: "validate_connection", args: { draft, editingId: "c9" } }]);
  });

  it("passes ids under the `id` key", async () => {
    const backend = mockBackend({ deleteConnection: () => null, testConnection: () => report() });
    await api.deleteConnection("abc");
    await api.testConnection("abc");
    expect(backend.calls.map((c) => [c.cmd, c.args])).toEqual([
      ["delete_connection", { id: "abc" }],
      ["test_connection", { id: "abc" }],
    ]);
  });

  it("throws the IpcError Rust returned", async () => {
    mockBackend({ addConnection: () => { throw ipcError("duplicate_name", "A connection named X exists"); } });
    const thrown = await api.addConnection(view() as never).catch((e: unknown) => e);
    expect(isIpcError(thrown)).toBe(true);
    expect(thrown).toEqual({ code: "duplicate_name", message: "A connection named X exists", fields: [] });
  });

  it("turns a non-IpcError rejection (e.g. a missing command) into an internal IpcError", async () => {
    mockIPC(() => Promise.reject("Command list_connections not found"));
    const thrown = await api.listConnections().catch((e: unknown) => e);
    expect(thrown).toEqual({ code: "internal", message: "Command list_connections not found", fields: [] });
  });

  it("errorText reads any throwable", () => {
    expect(errorText(ipcError("storage", "disk full"))).toBe("disk full");
    expect(errorText(new Error("boom"))).toBe("boom");
    expect(errorText("plain")).toBe("plain");
    expect(errorText({ message: "shaped" })).toBe("shaped");
    expect(errorText(42)).toBe("42");
    expect(isIpcError({ code: "nope", message: "x", fields: [] })).toBe(false);
  });

  it("sync commands: sync_now with {id, full}, cancel_sync's boolean, sync_runs with {id, limit}", async () => {
    const backend = mockBackend({ syncNow: () => null, cancelSync: () => false, syncRuns: () => [run()] });
    await api.syncNow("c1", true);
    expect(await api.cancelSync("c1")).toBe(false);
    expect(await api.syncRuns("c1", 30)).toEqual([run()]);
    expect(backend.calls.map((c) => [c.cmd, c.args])).toEqual([
      ["sync_now", { id: "c1", full: true }],
      ["cancel_sync", { id: "c1" }],
      ["sync_runs", { id: "c1", limit: 30 }],
    ]);
  });

  it("already_running is an IpcError like the others", async () => {
    mockBackend({ syncNow: () => { throw ipcError("already_running", "a sync of 'X' is already running"); } });
    const thrown = await api.syncNow("c1", false).catch((e: unknown) => e);
    expect(isIpcError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: "already_running" });
  });

  it("subscribeSyncUpdates delivers sync updates until stopped", async () => {
    mockBackend();
    const seen: SyncUpdate[] = [];
    const sub = subscribeSyncUpdates((u) => seen.push(u));
    await sub.ready;
    await emitSync({ kind: "started", connectionId: "c1", runId: 3, full: false });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: "started", connectionId: "c1", runId: 3, full: false, step: null });
    sub.stop();
    await emitSync({ kind: "finished", connectionId: "c1", runId: 3, status: "succeeded" });
    expect(seen).toHaveLength(1);
  });

  it("subscribeSyncUpdates can be stopped before it is registered", async () => {
    mockBackend();
    const seen: SyncUpdate[] = [];
    const sub = subscribeSyncUpdates((u) => seen.push(u));
    sub.stop();
    await sub.ready;
    await emitSync({ kind: "connections_changed" });
    expect(seen).toHaveLength(0);
  });

  it("subscribeSyncUpdates reports a listener that cannot be registered", async () => {
    mockIPC(() => Promise.reject("event plugin missing"));
    let error = "";
    const sub = subscribeSyncUpdates(() => {}, (m) => (error = m));
    await sub.ready;
    expect(error).toBe("event plugin missing");
  });
});
