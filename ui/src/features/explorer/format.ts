// Wording and small calculations of the Explorer's tables and views. Times are formatted by
// lib/time (in UTC, as its policy says for what Defender recorded).
import type { AlertCounts, AssetHit, OsInfo, Relation, RiskLevel } from "../../ipc";
import { NONE, utcDate } from "../../lib/time";

export const DASH = NONE;

/** "7.4", or a dash when the score is missing. */
export function score(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? DASH : value.toFixed(1);
}

export function riskLevelLabel(level: RiskLevel): string {
  return { none: "None", low: "Low", medium: "Medium", high: "High", critical: "Critical" }[level];
}

/** Signed points of a risk component: "+3.9", "−0.4". */
export function points(value: number | null): string {
  if (value === null || Number.isNaN(value)) return DASH;
  return value < 0 ? `−${Math.abs(value).toFixed(1)}` : `+${value.toFixed(1)}`;
}

export type SeverityKey = "high" | "medium" | "low" | "informational";
export const SEVERITIES: { key: SeverityKey; short: string; label: string }[] = [
  { key: "high", short: "H", label: "High" },
  { key: "medium", short: "M", label: "Medium" },
  { key: "low", short: "L", label: "Low" },
  { key: "informational", short: "I", label: "Informational" },
];

/** Active alerts of every severity. */
export function alertTotal(counts: AlertCounts): number {
  return counts.high + counts.medium + counts.low + counts.informational;
}

/** "Windows11 23H2 (build 22631)": the parts Defender reported, as the CLI writes them. */
export function osDescription(os: OsInfo): string {
  const parts = [os.platform, os.version, os.release].filter((part): part is string => !!part);
  if (os.build !== null) parts.push(`(build ${os.build})`);
  return parts.join(" ");
}

/** "1 High, 2 Medium" or "No active alerts", for tooltips and screen readers. */
export function alertsText(counts: AlertCounts): string {
  const parts = SEVERITIES.filter((s) => counts[s.key] > 0).map((s) => `${counts[s.key]} ${s.label}`);
  return parts.length ? `Active alerts: ${parts.join(", ")}` : "No active alerts";
}

/** A Defender severity word as a severity key ("UnSpecified" and others count as informational). */
export function severityKey(severity: string | null | undefined): SeverityKey {
  const s = (severity ?? "").toLowerCase();
  return s === "high" || s === "critical" ? "high" : s === "medium" ? "medium" : s === "low" ? "low" : "informational";
}

/** The words of a relation for the table: "Current holder since 2026-11-20". */
export function relationLabel(relation: Relation): string {
  const since = utcDate(relation.firstSeen);
  switch (relation.kind) {
    case "current_holder":
      return `Current · since ${since}`;
    case "past_holder":
      return `Past · ${since} – ${utcDate(relation.until ?? relation.lastSeen)}`;
    case "holder_at_time":
      return `At that time · ${since} – ${relation.until ? utcDate(relation.until) : "now"}`;
    case "host_name":
      return relation.current ? `Host name · current` : `Former host name · until ${utcDate(relation.lastSeen)}`;
    case "mac_address":
      return relation.current ? `MAC · current` : `Former MAC · until ${utcDate(relation.lastSeen)}`;
  }
}

/** The address class in words: "private", "public", "external (NAT, 12 devices)". */
export function classLabel(relation: Pick<Relation, "addressClass" | "sharedBy">): string | null {
  const cls = relation.addressClass;
  if (!cls) return null;
  if (cls === "external") return relation.sharedBy && relation.sharedBy > 1 ? `external · NAT, ${relation.sharedBy} devices` : "external";
  return cls.replace("_", "-");
}

/** The name a device is shown by. */
export function deviceName(hit: Pick<AssetHit, "name" | "deviceId">): string {
  return hit.name ?? hit.deviceId;
}

/**
 * A host name cut at its first dot, so a list shows what tells devices apart first:
 * "lt-00005.corp.contoso.com" → ["lt-00005", ".corp.contoso.com"]. A name without a dot, or
 * one that is an IP address, stays whole.
 */
export function splitHostName(name: string): [string, string] {
  const dot = name.indexOf(".");
  if (dot <= 0 || /^[\d.]+$/.test(name) || name.includes(":")) return [name, ""];
  return [name.slice(0, dot), name.slice(dot)];
}

export function connectionLabel(connection: { id: string; name: string | null }): string {
  return connection.name ?? `${connection.id} (removed)`;
}

/** "12 · 9.8" for the vulnerabilities column. */
export function vulnText(active: number, maxCvss: number | null): string {
  if (active === 0) return "0";
  return maxCvss === null ? `${active}` : `${active} · ${maxCvss.toFixed(1)}`;
}

/** A reading of a Defender level (None, Low, Medium, High, Informational) as a tone for a chip. */
export function levelTone(level: string | null | undefined): "high" | "medium" | "low" | "none" {
  const l = (level ?? "").toLowerCase();
  return l === "high" || l === "critical" ? "high" : l === "medium" ? "medium" : l === "low" ? "low" : "none";
}

/** A time typed in the Explorer's time field is within Defender's live window (30 days back). */
export function withinLiveWindow(iso: string | null, now: number = Date.now(), days = 30): boolean {
  if (!iso) return false;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return false;
  return t >= now - days * 86_400_000 && t <= now + 15 * 60_000;
}

/** The CIDR /24 (IPv4) around an address, to suggest when an exact address found nothing. */
export function rangeSuggestion(address: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address.trim());
  if (!m) return null;
  return `${m[1]}.${m[2]}.${m[3]}.0/24`;
}
