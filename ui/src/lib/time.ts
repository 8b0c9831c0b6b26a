// Every date, time and count the window shows is formatted here, by one policy:
//
// - Locale: always en-US, never the system's. The words around every value are English, and the
//   core's own texts next to them ("Synced 12,402 devices") are written that way too; so a page
//   reads the same on every machine: "12,402", "Nov 28, 07:50 AM", "8 minutes ago".
// - Zone: what Defender recorded (the Explorer: first and last seen, leases, alerts, timelines) is
//   shown in UTC and says so ("2026-11-20 14:00 UTC", or a column headed "(UTC)"), like the core's
//   messages, exports, the time field and cron schedules, so it matches log lines and hunting
//   queries. What this app did (syncs, tests) is worded relative to now ("8 minutes ago"), with
//   the local wall-clock time beside it or in a tooltip, so nothing is lost.
// - Nothing: a missing time is a dash (NONE), except in tooltips, which are left empty.
// A value that does not parse as a time is shown as it came.

const LOCALE = "en-US";

export const NONE = "—";

const rtf = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto" });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

/** "8 minutes ago", "in 4 hours", "yesterday", "just now". */
export function relativeTime(iso: string | null, now: number = Date.now()): string {
  if (!iso) return NONE;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now) / 1000);
  if (Math.abs(seconds) < 45) return seconds <= 0 ? "just now" : "in less than a minute";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return rtf.format(Math.round(seconds / 60), "minute");
}

/** The full local time, for tooltips and details: "Nov 28, 2026, 12:00:00 PM"; "" for none. */
export function absoluteTime(iso: string | null): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toLocaleString(LOCALE, {
    dateStyle: "medium",
    timeStyle: "medium",
  });
}

/** A compact local date and time for tables: "Nov 28, 07:50 AM", with the year only when it is not this one. */
export function shortDateTime(iso: string | null, now: number = Date.now()): string {
  if (!iso) return NONE;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = new Date(t);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleString(LOCALE, {
    year: sameYear ? undefined : "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** The local time of day alone, for a chart axis within a day: "07:50 AM". */
export function shortTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
}

/** The local day alone, for a chart axis over days: "Nov 28". */
export function shortDate(iso: string): string {
  return new Date(iso).toLocaleDateString(LOCALE, { day: "numeric", month: "short" });
}

/** A time (ISO text or milliseconds) as "2026-11-20 14:00" in UTC, or null when it is not one. */
function utcMinutes(time: string | number): string | null {
  const t = typeof time === "number" ? time : Date.parse(time);
  return Number.isNaN(t) ? null : new Date(t).toISOString().slice(0, 16).replace("T", " ");
}

/** "2026-11-20 14:00 UTC" (minutes are enough in a table). */
export function utc(iso: string | null | undefined): string {
  if (!iso) return NONE;
  const text = utcMinutes(iso);
  return text === null ? iso : `${text} UTC`;
}

/** "2026-11-20 14:00" for places that already say UTC (a column header, a tooltip's end). */
export function utcShort(time: string | number | null | undefined): string {
  if (time === null || time === undefined || time === "") return NONE;
  return utcMinutes(time) ?? String(time);
}

/** "2026-11-20" (UTC) for dense cells and axis ticks. */
export function utcDate(time: string | number | null | undefined): string {
  if (time === null || time === undefined || time === "") return NONE;
  return utcMinutes(time)?.slice(0, 10) ?? String(time);
}

/** "12,402". */
export function formatCount(n: number): string {
  return n.toLocaleString(LOCALE);
}
