// Plain words for sync runs and their live progress: durations, changes, API call breakdowns,
// errors. Pure functions, shared by the card and the Sync history view.
import type { EntityChange, RunStatus, SyncRun } from "../../ipc";
import { formatCount } from "../../lib/time";

export function formatDuration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

const ENTITIES: Record<string, [singular: string, plural: string]> = {
  assets: ["device", "devices"],
  ip_addresses: ["IP address", "IP addresses"],
  mac_addresses: ["MAC address", "MAC addresses"],
  hostnames: ["host name", "host names"],
  accounts: ["account", "accounts"],
  alerts: ["alert", "alerts"],
  vulnerabilities: ["vulnerability", "vulnerabilities"],
  ip_leases: ["IP lease", "IP leases"],
};

/** The order entities are listed in; unknown keys follow in Rust's order. */
const ENTITY_ORDER = Object.keys(ENTITIES);

export function entityLabel(key: string): string {
  return ENTITIES[key]?.[1] ?? key.replaceAll("_", " ");
}

const ENDPOINTS: Record<string, string> = {
  token: "Sign-in (token)",
  machines: "Devices (machines)",
  alerts: "Alerts",
  advanced_hunting: "Advanced hunting",
  graph_hunting: "Graph hunting",
  vulnerability_export: "Vulnerability export",
  vulnerability_changes: "Vulnerability changes",
  logonusers: "Logged-on users",
  findbyip: "Find by IP",
};

export function endpointLabel(key: string): string {
  return ENDPOINTS[key] ?? key.replaceAll("_", " ");
}

export function sortedChanges(changes: EntityChange[]): EntityChange[] {
  const rank = (k: string) => {
    const i = ENTITY_ORDER.indexOf(k);
    return i === -1 ? ENTITY_ORDER.length : i;
  };
  return [...changes].sort((a, b) => rank(a.entity) - rank(b.entity));
}

export function isEmptyChange(c: EntityChange): boolean {
  return c.added === 0 && c.updated === 0 && c.deactivated === 0;
}

/** "+12 / ~3 / −1": added, updated, deactivated. */
export function changeCounts(c: EntityChange): string {
  return `+${formatCount(c.added)} / ~${formatCount(c.updated)} / −${formatCount(c.deactivated)}`;
}

export const CHANGE_LEGEND = "+ added, ~ updated, − deactivated (gone from Defender, or inactive for 15+ days)";

/** The devices' change of a run, or null when the run changed none (or did not finish). */
export function deviceChange(run: SyncRun): EntityChange | null {
  return run.changes.find((c) => c.entity === "assets") ?? null;
}

export function triggerLabel(trigger: string): string {
  switch (trigger) {
    case "schedule":
      return "Scheduled";
    case "manual":
      return "Manual";
    case "cli":
      return "CLI";
    default:
      return trigger ? trigger[0]!.toUpperCase() + trigger.slice(1) : "—";
  }
}

export const RUN_STATUS_LABELS: Record<RunStatus, string> = {
  running: "Running",
  succeeded: "Succeeded",
  partial: "Partial",
  failed: "Failed",
  cancelled: "Cancelled",
  interrupted: "Interrupted",
};

/** The API calls of a run as one line per endpoint, most calls first. */
export function apiCallLines(run: SyncRun): string[] {
  return [...run.apiCalls]
    .sort((a, b) => b.calls - a.calls)
    .map((c) => `${endpointLabel(c.endpoint)}: ${formatCount(c.calls)}`);
}

// Core messages are lowercase fragments meant to follow "sync failed: "; as a sentence of its own
// a message needs a capital, a full stop and the product names spelled as Microsoft does.
export function sentence(text: string): string {
  const t = text
    .trim()
    .replace(/\bentra id\b/gi, "Entra ID")
    .replace(/\bdefender\b/g, "Defender")
    // Not inside a path or URL: "Resource '/api/alerts' was not found" is quoted as sent.
    .replace(/(?<![/\w.-])api\b(?![/.])/g, "API");
  if (!t) return t;
  const s = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?)]$/.test(s) ? s : `${s}.`;
}

const HINTS: Record<string, string> = {
  auth: "Check the tenant, client ID and secret with Test, and correct them in Edit.",
  forbidden: "Grant the permission to the app registration in Entra ID, then sync again.",
  throttled: "Defender limited this app's requests; the next run tries again.",
  network: "Check the network connection or proxy; the next run tries again.",
  api: "The next run tries again; if it keeps failing, the app's log has the details.",
  decode: "Defender answered in an unexpected form; the app's log has the details.",
  delta_window_exceeded: "The next run fetches the full vulnerability list instead.",
};

/** What went wrong with a run and what to do, in plain words; null for a run that did not fail. */
export function runProblem(run: SyncRun): string | null {
  if (run.status === "interrupted") {
    return "The app stopped during this run; nothing was saved, and the next run catches up.";
  }
  if (run.status !== "failed") return null;
  const what = run.error ? sentence(run.error) : "The run failed.";
  const hint = run.errorCode ? HINTS[run.errorCode] : undefined;
  return hint ? `${what} ${hint}` : what;
}

export function runHint(run: SyncRun): string | null {
  return run.status === "failed" && run.errorCode ? (HINTS[run.errorCode] ?? null) : null;
}
