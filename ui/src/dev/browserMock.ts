// Dev-only stand-in for the Rust backend so `npm run dev` works in a plain browser.
// Loaded only when there is no Tauri runtime and only in dev builds (tree-shaken from `vite build`).
// Its checks are a rough sketch for clicking around; the real rules live in Rust.
import { mockIPC } from "@tauri-apps/api/mocks";
import { events } from "../bindings";
import { explorerAnswer } from "./explorerMock";
import type { ConnectionDraft, ConnectionView, FieldError, SyncRun, SyncUpdate, TestReport } from "../ipc";

const PERMS: Record<keyof ConnectionDraft["data"], string> = {
  alerts: "Alert.Read.All",
  vulnerabilities: "Vulnerability.Read.All",
  loggedOnUsers: "User.Read.All",
  ipHistory: "AdvancedQuery.Read.All",
};

function permissions(data: ConnectionDraft["data"]): string[] {
  return ["Machine.Read.All", ...Object.entries(PERMS).filter(([k]) => data[k as keyof typeof PERMS]).map(([, p]) => p)];
}

function validate(d: ConnectionDraft, editingId: string | null, list: ConnectionView[]): FieldError[] {
  const errors: FieldError[] = [];
  if (!d.name.trim()) errors.push({ field: "name", message: "Give the connection a name." });
  if (list.some((c) => c.id !== editingId && c.name.toLowerCase() === d.name.trim().toLowerCase()))
    errors.push({ field: "name", message: `A connection named “${d.name.trim()}” already exists.` });
  if (!/^[0-9a-f-]{36}$|^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(d.tenantId.trim()))
    errors.push({ field: "tenantId", message: "Enter the tenant ID as a GUID or a verified domain." });
  if (!/^[0-9a-f-]{36}$/i.test(d.clientId.trim()))
    errors.push({ field: "clientId", message: "The client ID is the application's GUID." });
  if (d.clientSecret !== null && !d.clientSecret) errors.push({ field: "clientSecret", message: "Enter the client secret." });
  return errors;
}

const LABELS = { commercial: "Commercial", gcc: "GCC", gcc_high: "GCC High", dod: "DoD" };

function toView(id: string, d: ConnectionDraft, extra: Partial<ConnectionView> = {}): ConnectionView {
  const f = d.frequency;
  return {
    id,
    name: d.name,
    description: d.description,
    tenantId: d.tenantId,
    clientId: d.clientId,
    cloud: d.cloud,
    cloudLabel: LABELS[d.cloud],
    frequency: f,
    frequencyText: f.kind === "cron" ? `Cron ${f.expression}` : `Every ${f.minutes >= 60 ? `${f.minutes / 60} hours` : `${f.minutes} minutes`}`,
    apiBaseUrl: d.apiBaseUrl,
    loginAuthority: d.loginAuthority,
    proxyUrl: d.proxyUrl,
    caCertificateFile: d.caCertificateFile,
    effectiveApiBase: d.apiBaseUrl ?? "https://api.securitycenter.microsoft.com",
    effectiveAuthority: d.loginAuthority ?? "https://login.microsoftonline.com",
    data: d.data,
    requiredPermissions: permissions(d.data),
    isDemo: false,
    status: "never_synced",
    statusText: "Not tested yet — run Test to check the credentials",
    lastTest: null,
    lastSyncAt: null,
    nextSyncAt: null,
    counts: null,
    lastRun: null,
    syncing: false,
    createdAt: new Date().toISOString(),
    ...extra,
  };
}

function okReport(): TestReport {
  return {
    ok: true,
    code: "connected",
    title: "Connected",
    detail: "Got a token and read one device from the API.",
    grantedRoles: ["Machine.Read.All", "Alert.Read.All", "Vulnerability.Read.All", "AdvancedQuery.Read.All"],
    missingRoles: [],
    testedAt: new Date().toISOString(),
    durationMs: 388,
  };
}

function fakeRun(id: number, connectionId: string, startedAt: number, over: Partial<SyncRun> = {}): SyncRun {
  const durationMs = over.durationMs ?? 30_000 + ((id * 7919) % 60_000);
  const machines = 10 + (id % 5);
  const hunting = 6 + (id % 4);
  return {
    id,
    connectionId,
    full: false,
    trigger: "schedule",
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(startedAt + durationMs).toISOString(),
    durationMs,
    status: "succeeded",
    errorCode: null,
    error: null,
    apiCalls: [
      { endpoint: "token", calls: 1 },
      { endpoint: "machines", calls: machines },
      { endpoint: "alerts", calls: 2 },
      { endpoint: "advanced_hunting", calls: hunting },
      { endpoint: "vulnerability_changes", calls: 1 },
    ],
    totalApiCalls: 4 + machines + hunting,
    throttledMs: id % 6 === 0 ? 12_000 : 0,
    changes: [
      { entity: "assets", added: id % 9, updated: 40 + (id % 30), deactivated: id % 3 },
      { entity: "ip_addresses", added: 20 + (id % 11), updated: 0, deactivated: id % 4 },
      { entity: "alerts", added: id % 5, updated: id % 2, deactivated: 0 },
    ],
    notes: [],
    ...over,
  };
}

/** A simulated run: the updates Rust would send, spread over about ten seconds. */
function simulate(update: (u: Partial<SyncUpdate>) => void, done: (status: "succeeded" | "cancelled") => void) {
  const steps: [number, Partial<SyncUpdate>][] = [[300, { kind: "progress", step: "Signing in", page: 0, items: 0 }]];
  for (let page = 1; page <= 5; page++) {
    steps.push([700, { kind: "progress", step: "Devices", page, items: Math.min(12402, page * 2500), estimatedTotal: 12402 }]);
  }
  steps.push([600, { kind: "throttled", waitSecs: 3 }]);
  steps.push([3000, { kind: "progress", step: "Alerts", page: 1, items: 14 }]);
  for (let page = 1; page <= 3; page++) steps.push([600, { kind: "progress", step: "IP history", page, items: page * 9000 }]);
  steps.push([700, { kind: "progress", step: "Vulnerabilities", page: 1, items: 2001 }]);
  steps.push([600, { kind: "progress", step: "Saving", page: 0, items: 0 }]);
  let i = 0;
  let timer: ReturnType<typeof setTimeout>;
  const next = () => {
    const step = steps[i++];
    if (!step) {
      timer = setTimeout(() => done("succeeded"), 500);
      return;
    }
    timer = setTimeout(() => {
      update(step[1]);
      next();
    }, step[0]);
  };
  next();
  return () => {
    clearTimeout(timer);
    done("cancelled");
  };
}

export function installBrowserMock(seed: boolean): void {
  let next = 1;
  const list: ConnectionView[] = [];
  const runs = new Map<string, SyncRun[]>();
  const demoDraft: ConnectionDraft = {
    name: "Demo tenant",
    description: "Simulated Defender tenant bundled with the app",
    tenantId: "00000000-0000-4000-8000-000000000001",
    clientId: "00000000-0000-4000-8000-0000000000d0",
    clientSecret: null,
    frequency: { kind: "interval", minutes: 240 },
    cloud: "commercial",
    apiBaseUrl: null,
    loginAuthority: null,
    proxyUrl: null,
    caCertificateFile: null,
    data: { alerts: true, vulnerabilities: true, loggedOnUsers: true, ipHistory: true },
  };
  if (seed) {
    const ago = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    list.push(
      toView("c1", { ...demoDraft, name: "Contoso production", description: "EU servers and workstations", tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" }, {
        status: "connected",
        statusText: "Synced 12,402 devices 8 minutes ago",
        lastSyncAt: ago(8),
        nextSyncAt: ago(-232),
        counts: {
          devices: 12402,
          ipAddresses: 30511,
          alerts: 14,
          vulnerabilities: 2001,
          risk: { critical: 38, high: 412, medium: 2975, low: 6120, none: 2857 },
        },
        lastTest: { ...okReport(), testedAt: ago(60) },
      }),
      toView("c2", { ...demoDraft, name: "Fabrikam GCC High", description: "", cloud: "gcc_high", tenantId: "fabrikam.onmicrosoft.us", frequency: { kind: "cron", expression: "0 2 * * 1-5" } }, {
        status: "error",
        statusText: "Wrong client secret — update it in Edit",
        lastTest: {
          ok: false,
          code: "wrong_secret",
          title: "Wrong client secret",
          detail: "Entra ID rejected the secret (AADSTS7000215). Create a new secret and replace it in Edit.",
          grantedRoles: [],
          missingRoles: [],
          testedAt: ago(3),
          durationMs: 512,
        },
      }),
      toView("c3", { ...demoDraft, name: "Northwind lab", description: "Test tenant", tenantId: "3f2504e0-4f89-11d3-9a0c-0305e82c3301" }),
    );
    // Four hours apart, newest first, with a few that went wrong.
    const c1 = runs.get("c1") ?? [];
    for (let k = 0; k < 36; k++) {
      const id = 200 - k;
      const started = Date.now() - 8 * 60_000 - k * 4 * 3600_000 - 50_000;
      const over: Partial<SyncRun> =
        k === 3
          ? { status: "failed", errorCode: "network", error: "could not connect: connection reset by peer", durationMs: 9_000, changes: [], totalApiCalls: 3, apiCalls: [{ endpoint: "token", calls: 1 }, { endpoint: "machines", calls: 2 }] }
          : k === 9
            ? { status: "cancelled", trigger: "manual", error: "cancelled", errorCode: "cancelled", durationMs: 14_000, changes: [] }
            : k === 35
              ? { full: true, durationMs: 412_000, trigger: "manual", changes: [{ entity: "assets", added: 12402, updated: 0, deactivated: 0 }] }
              : k % 7 === 5
                ? { notes: ["Logged-on users skipped: the app registration lacks User.Read.All; grant it in Entra ID to import them"] }
                : {};
      c1.push(fakeRun(id, "c1", started, over));
    }
    runs.set("c1", c1);
    list[0]!.lastRun = c1[0]!;
  }
  let nextRun = 1000;
  const cancels = new Map<string, () => void>();
  const emit = (u: Partial<SyncUpdate>) =>
    events.syncUpdate.emit({
      kind: "progress",
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
      ...u,
    });
  function startRun(c: ConnectionView) {
    const runId = nextRun++;
    const startedAt = Date.now();
    c.syncing = true;
    c.status = "syncing";
    c.statusText = "Syncing…";
    const running = fakeRun(runId, c.id, startedAt, { status: "running", trigger: "manual", finishedAt: null, durationMs: null, changes: [], apiCalls: [], totalApiCalls: 0 });
    const history = runs.get(c.id) ?? [];
    history.unshift(running);
    runs.set(c.id, history);
    void emit({ kind: "started", connectionId: c.id, runId, full: false });
    cancels.set(
      c.id,
      simulate(
        (u) => void emit({ ...u, connectionId: c.id }),
        (status) => {
          cancels.delete(c.id);
          const finished = fakeRun(runId, c.id, startedAt, {
            trigger: "manual",
            durationMs: Date.now() - startedAt,
            status,
            ...(status === "cancelled" ? { error: "cancelled", errorCode: "cancelled", changes: [] } : {}),
          });
          history[history.indexOf(running)] = finished;
          c.syncing = false;
          c.lastRun = finished;
          if (status === "succeeded") {
            c.status = "connected";
            c.statusText = "Synced 12,402 devices";
            c.lastSyncAt = new Date().toISOString();
            c.counts = c.counts ?? {
              devices: 12402,
              ipAddresses: 30511,
              alerts: 14,
              vulnerabilities: 2001,
              risk: { critical: 38, high: 412, medium: 2975, low: 6120, none: 2857 },
            };
          } else {
            c.status = "connected";
            c.statusText = "Last sync was cancelled; nothing changed";
          }
          void emit({ kind: "finished", connectionId: c.id, runId, status, summary: status });
        },
      ),
    );
  }
  mockIPC(async (cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, cmd.startsWith("test") ? 700 : 40));
    const draft = args.draft as ConnectionDraft;
    const fail = (errors: FieldError[]) => {
      throw { code: "validation", message: "Some fields need attention.", fields: errors };
    };
    switch (cmd) {
      case "list_connections":
        return list;
      case "validate_connection":
        return validate(draft, args.editingId as string | null, list);
      case "required_permissions":
        return permissions(args.data as ConnectionDraft["data"]);
      case "add_connection": {
        const errors = validate(draft, null, list);
        if (errors.length) fail(errors);
        const v = toView(`c${100 + next++}`, draft);
        list.push(v);
        return v;
      }
      case "update_connection": {
        const i = list.findIndex((c) => c.id === args.id);
        const errors = validate(draft, args.id as string, list);
        if (errors.length) fail(errors);
        list[i] = { ...list[i]!, ...toView(args.id as string, draft), status: list[i]!.status, statusText: list[i]!.statusText };
        return list[i];
      }
      case "delete_connection":
        list.splice(list.findIndex((c) => c.id === args.id), 1);
        return null;
      case "test_connection":
      case "test_draft": {
        const r = okReport();
        const c = list.find((x) => x.id === (args.id ?? args.editingId));
        if (c && cmd === "test_connection") c.lastTest = r;
        return r;
      }
      case "startup_problem":
        return null;
      case "choose_ca_certificate_file":
        return "/usr/local/share/ca-certificates/corp-ca.pem";
      case "start_demo": {
        let demo = list.find((c) => c.isDemo);
        if (!demo) {
          demo = toView("demo", demoDraft, { isDemo: true });
          list.push(demo);
        }
        return demo;
      }
      case "sync_now": {
        const c = list.find((x) => x.id === args.id);
        if (!c) throw { code: "not_found", message: "no such connection", fields: [] };
        if (c.syncing) throw { code: "already_running", message: `a sync of '${c.name}' is already running`, fields: [] };
        startRun(c);
        return null;
      }
      case "cancel_sync": {
        const cancel = cancels.get(args.id as string);
        cancel?.();
        return cancel !== undefined;
      }
      case "sync_runs":
        return (runs.get(args.id as string) ?? []).slice(0, args.limit as number);
      case "app_info":
        return {
          version: "0.1.0-dev",
          dataDir: "~/.local/share/mde-car",
          settingsFile: "~/.local/share/mde-car/settings.json",
          databaseFile: "~/.local/share/mde-car/mde-car.sqlite",
          logDir: "~/.local/share/mde-car/logs",
        };
      default: {
        const answer = explorerAnswer(cmd, args);
        if (answer !== undefined) return answer;
        throw { code: "internal", message: `Command ${cmd} not found`, fields: [] };
      }
    }
  }, { shouldMockEvents: true });
}
