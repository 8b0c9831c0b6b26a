// A stand-in for the Rust commands: records every invoke and answers from per-command handlers.
// A handler that throws makes invoke reject with that value, as a Rust `Err(IpcError)` would.
import { mockIPC } from "@tauri-apps/api/mocks";
import { events } from "../bindings";
import type { ConnectionView, IpcError, SyncRun, SyncUpdate, TestReport } from "../ipc";

export type Call = { cmd: string; args: Record<string, unknown> };
type Handler = (args: Record<string, unknown>) => unknown;

export function fakeBackend(handlers: Record<string, Handler> = {}) {
  const calls: Call[] = [];
  const all: Record<string, Handler> = {
    list_connections: () => [],
    startup_problem: () => null,
    validate_connection: () => [],
    required_permissions: () => ["Machine.Read.All"],
    app_info: () => ({
      version: "0.1.0",
      dataDir: "/data/mde-car",
      settingsFile: "/data/mde-car/settings.json",
      databaseFile: "/data/mde-car/car.sqlite",
      logDir: "/data/mde-car/logs",
    }),
    ...handlers,
  };
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    const handler = all[cmd];
    if (!handler) throw ipcError("internal", `no mock for ${cmd}`);
    return handler((args ?? {}) as Record<string, unknown>);
  }, { shouldMockEvents: true });
  return {
    calls,
    to: (cmd: string) => calls.filter((c) => c.cmd === cmd),
  };
}

export function ipcError(code: IpcError["code"], message: string, fields: IpcError["fields"] = []): IpcError {
  return { code, message, fields };
}

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const CLIENT = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

export function report(over: Partial<TestReport> = {}): TestReport {
  return {
    ok: true,
    code: "connected",
    title: "Connected",
    detail: "Token issued and the API answered in 412 ms.",
    grantedRoles: ["Machine.Read.All", "Alert.Read.All"],
    missingRoles: [],
    testedAt: "2026-11-28T10:00:00Z",
    durationMs: 412,
    ...over,
  };
}

export function view(over: Partial<ConnectionView> = {}): ConnectionView {
  return {
    id: "c1",
    name: "Contoso production",
    description: "EU servers and workstations",
    tenantId: TENANT,
    clientId: CLIENT,
    cloud: "commercial",
    cloudLabel: "Commercial",
    frequency: { kind: "interval", minutes: 240 },
    frequencyText: "Every 4 hours",
    apiBaseUrl: null,
    loginAuthority: null,
    proxyUrl: null,
    caCertificateFile: null,
    effectiveApiBase: "https://api.securitycenter.microsoft.com",
    effectiveAuthority: "https://login.microsoftonline.com",
    data: { alerts: true, vulnerabilities: true, loggedOnUsers: false, ipHistory: true },
    requiredPermissions: ["Machine.Read.All", "Alert.Read.All", "Vulnerability.Read.All"],
    isDemo: false,
    status: "never_synced",
    statusText: "Not synced yet",
    lastTest: null,
    lastSyncAt: null,
    nextSyncAt: null,
    counts: null,
    lastRun: null,
    syncing: false,
    createdAt: "2026-11-20T09:00:00Z",
    ...over,
  };
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

export function run(over: Partial<SyncRun> = {}): SyncRun {
  return {
    id: 7,
    connectionId: "c1",
    full: false,
    trigger: "schedule",
    startedAt: "2026-11-28T11:51:10Z",
    finishedAt: "2026-11-28T11:52:00Z",
    durationMs: 50_000,
    status: "succeeded",
    errorCode: null,
    error: null,
    apiCalls: [
      { endpoint: "token", calls: 1 },
      { endpoint: "machines", calls: 5 },
      { endpoint: "alerts", calls: 2 },
      { endpoint: "advanced_hunting", calls: 4 },
    ],
    totalApiCalls: 12,
    throttledMs: 0,
    changes: [
      { entity: "assets", added: 12, updated: 3, deactivated: 1 },
      { entity: "ip_addresses", added: 20, updated: 0, deactivated: 2 },
      { entity: "alerts", added: 4, updated: 1, deactivated: 0 },
    ],
    notes: [],
    ...over,
  };
}
