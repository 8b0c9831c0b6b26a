import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import { api } from "../ipc";
import { commands } from "../bindings";
import { COMMANDS, installMock, mockBackend, type CommandName } from "./backend";

describe("mock backend", () => {
  it("knows every command by the string and argument names the bindings really send", async () => {
    const sent: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      sent.push({ cmd, args: args ?? {} });
      return null;
    });
    const names = Object.keys(commands) as CommandName[];
    expect([...names].sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const name of names) {
      const command = commands[name] as (...args: unknown[]) => Promise<unknown>;
      const values = Array.from({ length: command.length }, (_, i) => `value ${i}`);
      await command(...values);
      const { cmd, args } = COMMANDS[name];
      expect(sent.pop(), name).toEqual({ cmd, args: Object.fromEntries(args.map((a, i) => [a, values[i]])) });
    }
  });

  it("hands a handler its command's arguments in order and records the call", async () => {
    const backend = installMock({
      syncRuns: () => [],
      confirmAttribution: (connection, address, at) => {
        throw { code: "defender", message: `${connection} ${address} ${at}`, fields: [] };
      },
    });
    expect(await api.syncRuns("c1", 5)).toEqual([]);
    expect(await api.confirmAttribution("c1", "10.1.2.3", "2026-11-28T10:00:00Z").catch((e: unknown) => e)).toEqual({
      code: "defender",
      message: "c1 10.1.2.3 2026-11-28T10:00:00Z",
      fields: [],
    });
    expect(backend.to("sync_runs")).toEqual([{ cmd: "sync_runs", args: { id: "c1", limit: 5 } }]);
  });

  it("fails a command without a handler like Rust fails an unknown one", async () => {
    mockBackend();
    expect(await api.startDemo().catch((e: unknown) => e)).toEqual({ code: "internal", message: "no mock for start_demo", fields: [] });
  });
});
