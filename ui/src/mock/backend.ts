// The one stand-in for the Rust commands, for the Vitest tests (`mockBackend`) and for `npm run
// dev` in a plain browser (`./browser.ts`). Handlers are typed against the generated bindings: a
// handler has the signature of its command in `commands` (same arguments, the command's data as
// the answer), so renaming a command or changing its types in Rust fails the type check here and
// in every handler. A handler that throws makes the command fail with that value, as a Rust
// `Err(IpcError)` does. Nothing here checks input: validation is the core's job.
import { mockIPC } from "@tauri-apps/api/mocks";
import { events, type commands } from "../bindings";
import type { IpcError, SyncUpdate } from "../ipc";

type Commands = typeof commands;
/** A command by its name in `commands` (camelCase). */
export type CommandName = keyof Commands;

/** What a command answers when it works: a fallible command's `data`, an infallible one's value. */
type Data<R> = R extends { status: "ok"; data: infer T } ? T : R extends { status: "error"; error: unknown } ? never : R;
export type Answer<K extends CommandName> = Data<Awaited<ReturnType<Commands[K]>>>;

/** Stands in for one command: its arguments in order, its data (or a promise of it) as the answer. */
export type Handler<K extends CommandName> = (...args: Parameters<Commands[K]>) => Answer<K> | Promise<Answer<K>>;
export type Handlers = { [K in CommandName]: Handler<K> };

/** One name per parameter of a command, in order (the tuple has the parameters' length). */
type ArgNames<P extends readonly unknown[]> = { readonly [I in keyof P]: string };

/**
 * How `commands.x(a, b)` reaches Rust: `invoke(cmd, { [args[0]]: a, [args[1]]: b })`, as written in
 * bindings.ts. The type makes this table list every command, no other, with one name per
 * parameter; backend.test.ts checks the strings against what the bindings really send.
 */
export const COMMANDS = {
  listConnections: { cmd: "list_connections", args: [] },
  validateConnection: { cmd: "validate_connection", args: ["draft", "editingId"] },
  addConnection: { cmd: "add_connection", args: ["draft"] },
  updateConnection: { cmd: "update_connection", args: ["id", "draft"] },
  deleteConnection: { cmd: "delete_connection", args: ["id"] },
  testConnection: { cmd: "test_connection", args: ["id"] },
  testDraft: { cmd: "test_draft", args: ["draft", "editingId"] },
  importCertificate: { cmd: "import_certificate", args: ["files"] },
  requiredPermissions: { cmd: "required_permissions", args: ["data"] },
  startDemo: { cmd: "start_demo", args: [] },
  appInfo: { cmd: "app_info", args: [] },
  syncNow: { cmd: "sync_now", args: ["id", "full"] },
  syncAcceptingShrink: { cmd: "sync_accepting_shrink", args: ["id"] },
  cancelSync: { cmd: "cancel_sync", args: ["id"] },
  syncRuns: { cmd: "sync_runs", args: ["id", "limit"] },
  search: { cmd: "search", args: ["request"] },
  ipTimeline: { cmd: "ip_timeline", args: ["address", "connection"] },
  assetDetail: { cmd: "asset_detail", args: ["reference"] },
  confirmAttribution: { cmd: "confirm_attribution", args: ["connection", "address", "at"] },
  exportSearch: { cmd: "export_search", args: ["request", "format"] },
  exportIpTimeline: { cmd: "export_ip_timeline", args: ["address", "connection", "format"] },
  exportAsset: { cmd: "export_asset", args: ["reference", "format"] },
  chooseCaCertificateFile: { cmd: "choose_ca_certificate_file", args: [] },
  startupProblem: { cmd: "startup_problem", args: [] },
} as const satisfies { [K in CommandName]: { cmd: string; args: ArgNames<Parameters<Commands[K]>> } };

/** A command by the string Rust knows it by (snake_case). */
export type CommandString = (typeof COMMANDS)[CommandName]["cmd"];

const BY_STRING = new Map<string, { name: CommandName; args: readonly string[] }>(
  (Object.keys(COMMANDS) as CommandName[]).map((name) => [COMMANDS[name].cmd, { name, args: COMMANDS[name].args }]),
);

/** One invoke as the window sent it: the command's string and its arguments by name. */
export type Call = { cmd: string; args: Record<string, unknown> };

export type MockBackend = {
  /** Every invoke, in order. */
  calls: Call[];
  /** The invokes of one command. */
  to: (cmd: CommandString) => Call[];
};

/**
 * Answers the window's invokes from `handlers` (and its event plugin, so `events.*.emit` reaches
 * listeners) until `clearMocks()`. A command without a handler fails with an `internal` IpcError.
 */
export function installMock(handlers: Partial<Handlers>): MockBackend {
  const calls: Call[] = [];
  mockIPC(
    (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args });
      const command = BY_STRING.get(cmd);
      const handler = command && (handlers[command.name] as ((...a: unknown[]) => unknown) | undefined);
      if (!command || !handler) throw ipcError("internal", `no mock for ${cmd}`);
      return handler(...command.args.map((name) => args[name]));
    },
    { shouldMockEvents: true },
  );
  return { calls, to: (cmd) => calls.filter((c) => c.cmd === cmd) };
}

/** What every test gets unless it says otherwise: no connections, no problem, no field errors. */
const TEST_DEFAULTS: Partial<Handlers> = {
  listConnections: () => [],
  startupProblem: () => null,
  validateConnection: () => [],
  requiredPermissions: () => ["Machine.Read.All"],
  appInfo: () => ({
    version: "0.1.0",
    dataDir: "/data/mde-car",
    settingsFile: "/data/mde-car/settings.json",
    databaseFile: "/data/mde-car/car.sqlite",
    logDir: "/data/mde-car/logs",
  }),
};

/** The backend of a test: the defaults above with `handlers` over them, recording every call. */
export function mockBackend(handlers: Partial<Handlers> = {}): MockBackend {
  return installMock({ ...TEST_DEFAULTS, ...handlers });
}

export function ipcError(code: IpcError["code"], message: string, fields: IpcError["fields"] = []): IpcError {
  return { code, message, fields };
}

/** Emits a sync update the way Rust does (through the mocked event plugin); unset fields are null. */
export async function emitSync(update: Partial<SyncUpdate> & Pick<SyncUpdate, "kind">): Promise<void> {
  await events.syncUpdate.emit({
    connectionId: null,
    runId: null,
    full: null,
    step: null,
    page: null,
    items: null,
    estimatedTotal: null,
    waitSecs: null,
    byService: null,
    status: null,
    summary: null,
    errorCode: null,
    ...update,
  });
}
