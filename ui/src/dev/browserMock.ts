// Dev-only stand-in for the Rust backend so `npm run dev` works in a plain browser.
// Loaded only when there is no Tauri runtime and only in dev builds (tree-shaken from `vite build`).
// Its checks are a rough sketch for clicking around; the real rules live in Rust.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { ConnectionDraft, ConnectionView, FieldError, TestReport } from "../ipc";

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
    effectiveApiBase: d.apiBaseUrl ?? "https://api.securitycenter.microsoft.com",
    effectiveAuthority: d.loginAuthority ?? "https://login.microsoftonline.com",
    data: d.data,
    requiredPermissions: permissions(d.data),
    isDemo: false,
    status: "never_synced",
    statusText: "Not synced yet — sync arrives in the next release",
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

export function installBrowserMock(seed: boolean): void {
  let next = 1;
  const list: ConnectionView[] = [];
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
        counts: { devices: 12402, ipAddresses: 30511, alerts: 14, vulnerabilities: 2001 },
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
      case "start_demo": {
        let demo = list.find((c) => c.isDemo);
        if (!demo) {
          demo = toView("demo", demoDraft, { isDemo: true });
          list.push(demo);
        }
        return demo;
      }
      case "app_info":
        return {
          version: "0.1.0-dev",
          dataDir: "~/.local/share/mde-car",
          settingsFile: "~/.local/share/mde-car/settings.json",
          databaseFile: "~/.local/share/mde-car/mde-car.sqlite",
          logDir: "~/.local/share/mde-car/logs",
        };
      default:
        throw { code: "internal", message: `Command ${cmd} not found`, fields: [] };
    }
  });
}
