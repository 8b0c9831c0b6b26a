// The Rust side for `npm run dev` in a plain browser: main.ts loads this only in dev builds without
// a Tauri runtime, so `vite build` leaves it out. `?seed` adds three connections and a month of
// runs; Sync now plays a run out over about ten seconds; the Explorer answers any search.
// The answers are examples, not the core's logic: nothing is validated, the permissions do not
// follow the data choices, and the hosts a connection would use are placeholders. Two fixed values
// show how problems look: the tenant ID `bad` in the connection form, and the search `300.1.1.1`.
// Any file imports as a certificate (ending in 20 days), except a PFX opened with the password
// `wrong`; the seeded Northwind lab signs in with a certificate that ends in 12 days.
import type { AssetHit, ConnectionDraft, ConnectionView, FieldError, Relation, SyncRun, SyncUpdate, TestReport } from "../ipc";
import { emitSync, installMock, ipcError, type CommandName, type Handlers } from "./backend";
import { certificateInfo, detail, hit, report, results, run, timeline, view } from "./fixtures";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

const BAD_TENANT = "bad";
const BAD_QUERY = "300.1.1.1";

function exampleProblems(draft: ConnectionDraft): FieldError[] {
  return draft.tenantId.trim() === BAD_TENANT
    ? [{ field: "tenantId", message: "Tenant ID must be a GUID or a verified domain." }]
    : [];
}

const PERMISSIONS = ["Machine.Read.All", "Alert.Read.All", "Vulnerability.Read.All", "AdvancedQuery.Read.All"];
const COUNTS: ConnectionView["counts"] = {
  devices: 12402,
  ipAddresses: 30511,
  alerts: 14,
  vulnerabilities: 2001,
  risk: { critical: 38, high: 412, medium: 2975, low: 6120, none: 2857 },
};

/** What a saved draft shows: its own values echoed; the core's words and hosts as placeholders. */
function fromDraft(d: ConnectionDraft): Partial<ConnectionView> {
  const f = d.frequency;
  return {
    name: d.name,
    description: d.description,
    tenantId: d.tenantId,
    clientId: d.clientId,
    cloud: d.cloud,
    cloudLabel: d.cloud,
    frequency: f,
    frequencyText: f.kind === "cron" ? `Cron ${f.expression}` : `Every ${f.minutes} minutes`,
    apiBaseUrl: d.apiBaseUrl,
    loginAuthority: d.loginAuthority,
    proxyUrl: d.proxyUrl,
    caCertificateFile: d.caCertificateFile,
    effectiveApiBase: d.apiBaseUrl ?? `(dev mock: the core's API host for ${d.cloud})`,
    effectiveAuthority: d.loginAuthority ?? `(dev mock: the core's sign-in host for ${d.cloud})`,
    data: d.data,
    requiredPermissions: PERMISSIONS,
    credential: d.credential,
    certificate: d.credential === "certificate" ? d.certificate : null,
    certificateState: d.credential === "certificate" && d.certificate ? "expires_soon" : null,
    certificateNotice:
      d.credential === "certificate" && d.certificate
        ? `Certificate expires in 20 days (${d.certificate.notAfter.slice(0, 10)}) — renew it in Entra ID and import the new one`
        : null,
  };
}

/** A certificate ending `days` from now, as Rust reads one (public facts only). */
function endingIn(days: number) {
  return certificateInfo({ notBefore: ago(345 * DAY), notAfter: ago(-days * DAY - HOUR) });
}

const DEMO: ConnectionDraft = {
  name: "Demo tenant",
  description: "Simulated Defender tenant bundled with the app",
  tenantId: "00000000-0000-4000-8000-000000000001",
  clientId: "00000000-0000-4000-8000-0000000000d0",
  clientSecret: null,
  credential: "secret",
  certificate: null,
  privateKey: null,
  frequency: { kind: "interval", minutes: 240 },
  cloud: "commercial",
  apiBaseUrl: null,
  loginAuthority: null,
  proxyUrl: null,
  caCertificateFile: null,
  data: { alerts: true, vulnerabilities: true, loggedOnUsers: true, ipHistory: true },
};

function okReport(): TestReport {
  return report({ detail: "Got a token and read one device from the API.", grantedRoles: PERMISSIONS, testedAt: ago(0), durationMs: 388 });
}

/** A finished run of `connectionId` that started at `startedAt`, its numbers varied by `id`. */
function pastRun(id: number, connectionId: string, startedAt: number, over: Partial<SyncRun> = {}): SyncRun {
  const durationMs = over.durationMs ?? 30_000 + ((id * 7919) % 60_000);
  const machines = 10 + (id % 5);
  const hunting = 6 + (id % 4);
  return run({
    id,
    connectionId,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(startedAt + durationMs).toISOString(),
    durationMs,
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
    ...over,
  });
}

/** Four hours apart, newest first, with a few that went wrong. */
function seededRuns(): SyncRun[] {
  const runs: SyncRun[] = [];
  for (let k = 0; k < 36; k++) {
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
    runs.push(pastRun(200 - k, "c1", Date.now() - 8 * MINUTE - k * 4 * HOUR - 50_000, over));
  }
  return runs;
}

function seededConnections(lastRun: SyncRun | null): ConnectionView[] {
  return [
    view({
      status: "connected",
      statusText: "Synced 12,402 devices 8 minutes ago",
      lastSyncAt: ago(8 * MINUTE),
      nextSyncAt: ago(-232 * MINUTE),
      counts: COUNTS,
      lastTest: { ...okReport(), testedAt: ago(HOUR) },
      lastRun,
      createdAt: ago(30 * DAY),
    }),
    view({
      id: "c2",
      ...fromDraft({
        ...DEMO,
        name: "Fabrikam GCC High",
        description: "",
        cloud: "gcc_high",
        tenantId: "fabrikam.onmicrosoft.us",
        frequency: { kind: "cron", expression: "0 2 * * 1-5" },
      }),
      cloudLabel: "GCC High",
      frequencyText: "At 02:00, Monday through Friday",
      status: "error",
      statusText: "Wrong client secret — update it in Edit",
      lastTest: report({
        ok: false,
        code: "wrong_secret",
        title: "Wrong client secret",
        detail: "Entra ID rejected the secret (AADSTS7000215). Create a new secret and replace it in Edit.",
        grantedRoles: [],
        testedAt: ago(3 * MINUTE),
        durationMs: 512,
      }),
    }),
    view({
      id: "c3",
      name: "Northwind lab",
      description: "Test tenant",
      tenantId: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      statusText: "Not tested yet — run Test to check the credentials",
      credential: "certificate",
      certificate: endingIn(12),
      certificateState: "expires_soon",
      certificateNotice: `Certificate expires in 12 days (${endingIn(12).notAfter.slice(0, 10)}) — renew it in Entra ID and import the new one`,
    }),
  ];
}

/** A simulated run: the updates Rust would send, spread over about ten seconds. Returns a cancel. */
function simulate(update: (u: Partial<SyncUpdate>) => void, done: (status: "succeeded" | "cancelled") => void): () => void {
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

/** How `address` relates to a device that holds it now, or held it until a week ago. */
function holding(address: string, current: boolean): Relation {
  return {
    kind: current ? "current_holder" : "past_holder",
    source: "ip_history",
    value: address,
    addressClass: "private",
    current,
    firstSeen: ago((current ? 6 : 20) * DAY),
    lastSeen: ago(current ? 0 : 7 * DAY),
    until: current ? null : ago(7 * DAY),
    sharedBy: null,
    text: `${current ? "current" : "past"} holder of ${address} (private)`,
  };
}

/** web01 (asset 7) holds `address` now; laptop-17 (asset 5) held it before. */
function holders(address: string): { web01: AssetHit; laptop: AssetHit } {
  return {
    web01: hit({ relations: [holding(address, true)], lastSeen: ago(HOUR), lastSynced: ago(HOUR) }),
    laptop: hit({
      assetId: 5,
      deviceId: "e5f6a7",
      name: "laptop-17.contoso.com",
      risk: { ...hit().risk, score: 2.1, level: "low", summary: "2.1 (low)" },
      relations: [holding(address, false)],
      lastSeen: ago(7 * DAY),
      lastSynced: ago(HOUR),
    }),
  };
}

/** Like IPC: each answer arrives a little later (a test takes longer), and as a copy. */
function overIpc(handlers: Handlers): Handlers {
  const slow: CommandName[] = ["testConnection", "testDraft"];
  const entries = (Object.keys(handlers) as CommandName[]).map((name) => {
    const handler = handlers[name] as (...args: unknown[]) => unknown;
    return [
      name,
      async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, slow.includes(name) ? 700 : 40));
        return structuredClone(await handler(...args));
      },
    ];
  });
  return Object.fromEntries(entries) as Handlers;
}

export function installBrowserMock(seed: boolean): void {
  const runs = new Map<string, SyncRun[]>();
  if (seed) runs.set("c1", seededRuns());
  let list: ConnectionView[] = seed ? seededConnections(runs.get("c1")?.[0] ?? null) : [];
  let nextId = 101;
  let nextRun = 1000;
  const cancels = new Map<string, () => void>();

  const find = (id: string): ConnectionView => {
    const c = list.find((x) => x.id === id);
    if (!c) throw ipcError("not_found", `no connection with id ${id}`);
    return c;
  };
  const checked = (draft: ConnectionDraft) => {
    const problems = exampleProblems(draft);
    if (problems.length) throw ipcError("validation", "Some fields need attention.", problems);
    return draft;
  };

  function startRun(c: ConnectionView, full: boolean) {
    const runId = nextRun++;
    const startedAt = Date.now();
    c.syncing = true;
    c.status = "syncing";
    c.statusText = "Syncing…";
    const running = pastRun(runId, c.id, startedAt, { full, status: "running", trigger: "manual", finishedAt: null, durationMs: null, changes: [], apiCalls: [], totalApiCalls: 0 });
    const history = runs.get(c.id) ?? [];
    history.unshift(running);
    runs.set(c.id, history);
    void emitSync({ kind: "started", connectionId: c.id, runId, full });
    const finish = (status: "succeeded" | "cancelled") => {
      cancels.delete(c.id);
      const finished = pastRun(runId, c.id, startedAt, {
        full,
        trigger: "manual",
        durationMs: Date.now() - startedAt,
        status,
        ...(status === "cancelled" ? { error: "cancelled", errorCode: "cancelled", changes: [] } : {}),
      });
      history[history.indexOf(running)] = finished;
      c.syncing = false;
      c.lastRun = finished;
      c.status = "connected";
      if (status === "succeeded") {
        c.statusText = "Synced 12,402 devices";
        c.lastSyncAt = new Date().toISOString();
        c.counts = c.counts ?? COUNTS;
      } else {
        c.statusText = "Last sync was cancelled; nothing changed";
      }
      void emitSync({ kind: "finished", connectionId: c.id, runId, status, summary: status });
    };
    cancels.set(c.id, simulate((u) => void emitSync({ kind: "progress", ...u, connectionId: c.id }), finish));
  }

  const exported = (fileName: string) => ({
    saved: true,
    path: `~/Downloads/${fileName}`,
    fileName,
    items: 2,
    total: 2,
    truncated: false,
    summary: "Exported 2 results (dev mock; nothing written)",
  });

  const handlers: Handlers = {
    listConnections: () => list,
    validateConnection: (draft) => exampleProblems(draft),
    addConnection: (draft) => {
      const added = view({ ...fromDraft(checked(draft)), id: `c${nextId++}`, statusText: "Not tested yet — run Test to check the credentials", createdAt: ago(0) });
      list = [...list, added];
      return added;
    },
    updateConnection: (id, draft) => {
      const updated = { ...find(id), ...fromDraft(checked(draft)) };
      list = list.map((c) => (c.id === id ? updated : c));
      return updated;
    },
    deleteConnection: (id) => {
      list = list.filter((c) => c.id !== id);
      return null;
    },
    testConnection: (id) => (find(id).lastTest = okReport()),
    testDraft: () => okReport(),
    importCertificate: (files) => {
      if (files.kind === "pfx" && files.password === "wrong") {
        throw ipcError("validation", "certificatePassword: Wrong password for the PFX file", [
          { field: "certificatePassword", message: "Wrong password for the PFX file" },
        ]);
      }
      return {
        certificate: endingIn(20),
        state: "expires_soon",
        warnings: [`the certificate expires on ${endingIn(20).notAfter.slice(0, 10)}: create its successor and register it with the app`],
      };
    },
    requiredPermissions: () => PERMISSIONS,
    startDemo: () => {
      let demo = list.find((c) => c.isDemo);
      if (!demo) {
        demo = view({ ...fromDraft(DEMO), id: "demo", isDemo: true, cloudLabel: "Commercial", frequencyText: "Every 4 hours" });
        list = [...list, demo];
      }
      return demo;
    },
    appInfo: () => ({
      version: "0.1.0-dev",
      dataDir: "~/.local/share/mde-car",
      settingsFile: "~/.local/share/mde-car/settings.json",
      databaseFile: "~/.local/share/mde-car/mde-car.sqlite3",
      logDir: "~/.local/share/mde-car/logs",
    }),
    syncNow: (id, full) => {
      const c = find(id);
      if (c.syncing) throw ipcError("already_running", `a sync of '${c.name}' is already running`);
      startRun(c, full);
      return null;
    },
    syncAcceptingShrink: (id) => {
      const c = find(id);
      if (c.syncing) throw ipcError("already_running", `a sync of '${c.name}' is already running`);
      startRun(c, true);
      return null;
    },
    cancelSync: (id) => {
      const cancel = cancels.get(id);
      cancel?.();
      return cancel !== undefined;
    },
    syncRuns: (id, limit) => (runs.get(id) ?? []).slice(0, limit),
    search: (request) => {
      const query = request.query.trim();
      if (query === BAD_QUERY) {
        const message = `'${BAD_QUERY}' is not an IPv4 address: 300 is greater than 255`;
        throw ipcError("validation", message, [{ field: "query", message }]);
      }
      const address = query.split("@")[0]!.trim();
      const atTime = Boolean(request.at) || query.includes("@");
      const { web01, laptop } = holders(address);
      return results([web01, laptop], {
        query: { kind: atTime ? "ip_at_time" : "ip", value: address, at: atTime ? ago(DAY) : null },
        interpretation: `devices that held ${address} (dev mock)`,
        sort: request.sort,
        reverse: request.reverse,
        offset: 0,
        limit: request.limit,
      });
    },
    ipTimeline: (address) => {
      const { web01, laptop } = holders(address);
      return timeline({
        address,
        spans: [
          { assetId: 5, source: "ip_history", from: ago(20 * DAY), until: ago(7 * DAY), lastSeen: ago(7 * DAY) },
          { assetId: 7, source: "ip_history", from: ago(6 * DAY), until: null, lastSeen: ago(HOUR) },
        ],
        holders: [laptop, web01],
      });
    },
    assetDetail: (reference) =>
      reference === "5" ? detail({ assetId: 5, deviceId: "e5f6a7", name: "laptop-17.contoso.com" }) : detail(),
    confirmAttribution: (connection, address, at) => ({
      connection: { id: connection, name: list.find((c) => c.id === connection)?.name ?? null },
      address,
      at,
      live: [],
      local: [],
      agrees: true,
      summary: "Defender confirms web01.contoso.com (dev mock)",
    }),
    exportSearch: (_request, format) => exported(`mde-car-search.${format}`),
    exportIpTimeline: (_address, _connection, format) => exported(`mde-car-ip-timeline.${format}`),
    exportAsset: (_reference, format) => exported(`mde-car-asset.${format}`),
    chooseCaCertificateFile: () => "/usr/local/share/ca-certificates/corp-ca.pem",
    startupProblem: () => null,
  };
  installMock(overIpc(handlers));
}
