import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import { api, errorText, isIpcError } from ".";
import { fakeBackend, ipcError, view } from "../test/fakeBackend";

describe("ipc layer", () => {
  it("calls the snake_case command with camelCase arguments and returns the data", async () => {
    const backend = fakeBackend({ validate_connection: () => [{ field: "name", message: "Required" }] });
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
      data: { alerts: true, vulnerabilities: false, loggedOnUsers: false, ipHistory: true },
    };
    const errors = await api.validateConnection(draft, "c9");
    expect(errors).toEqual([{ field: "name", message: "Required" }]);
    expect(backend.calls).toEqual([{ cmd: "validate_connection", args: { draft, editingId: "c9" } }]);
  });

  it("passes ids under the `id` key", async () => {
    const backend = fakeBackend({ delete_connection: () => null, test_connection: () => null });
    await api.deleteConnection("abc");
    await api.testConnection("abc");
    expect(backend.calls.map((c) => [c.cmd, c.args])).toEqual([
      ["delete_connection", { id: "abc" }],
      ["test_connection", { id: "abc" }],
    ]);
  });

  it("throws the IpcError Rust returned", async () => {
    fakeBackend({ add_connection: () => { throw ipcError("duplicate_name", "A connection named X exists"); } });
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
});
