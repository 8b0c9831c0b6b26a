// Layout of the IP timeline: one lane per device, bars from `from` to `until` (or now) on a
// shared time axis, and tick marks at whole days or months that fit the width.
import type { AssetHit, RelationSource, TimelineSpan } from "../../ipc";
import { utcDate, utcShort } from "../../lib/time";

export type Lane = { assetId: number; label: string; hit: AssetHit | null; bars: Bar[] };
export type Bar = { x: number; width: number; from: number; until: number; open: boolean; source: RelationSource; title: string };
export type Tick = { x: number; label: string; anchor: "start" | "middle" | "end" };
export type TimelineLayout = { lanes: Lane[]; ticks: Tick[]; start: number; end: number; marker: number | null };

const DAY = 86_400_000;
/** Bars never get thinner than this, so a one-sync snapshot is still visible. */
export const MIN_BAR = 3;

export function sourceLabel(source: RelationSource): string {
  switch (source) {
    case "ip_history":
      return "IP history (network reports)";
    case "device_record":
      return "Device record (seen at syncs)";
    case "external_address":
      return "External address (egress / NAT)";
    case "host_name":
      return "Host name";
    case "mac_address":
      return "MAC address";
  }
}

function ticksFor(start: number, end: number, width: number, scale: (t: number) => number): Tick[] {
  const span = end - start;
  const maxTicks = Math.max(2, Math.floor(width / 90));
  const steps = [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];
  const step = steps.find((s) => span / s <= maxTicks) ?? 365 * DAY;
  const ticks: Tick[] = [];
  const first = Math.ceil(start / DAY) * DAY;
  for (let t = first; t <= end && ticks.length < 50; t += step) {
    const x = scale(t);
    // Labels near an edge are anchored inside the chart so they are not cut off.
    const anchor = x < 36 ? "start" : x > width - 36 ? "end" : "middle";
    ticks.push({ x, label: utcDate(t), anchor });
  }
  return ticks;
}

/**
 * Places `spans` in a `width`-pixel-wide chart: a lane per asset in the order of their first
 * interval, `now` as the end of open intervals, and `at` (the asked time) as a marker.
 */
export function layoutTimeline(
  spans: TimelineSpan[],
  holders: AssetHit[],
  width: number,
  now: number = Date.now(),
  at: string | null = null,
): TimelineLayout {
  const times = spans.flatMap((s) => [Date.parse(s.from), s.until ? Date.parse(s.until) : now]).filter((t) => !Number.isNaN(t));
  const marker = at ? Date.parse(at) : NaN;
  if (!Number.isNaN(marker)) times.push(marker);
  if (times.length === 0) return { lanes: [], ticks: [], start: now, end: now, marker: null };
  let start = Math.min(...times);
  let end = Math.max(...times);
  // A little room on both sides, and at least a day, so a lone snapshot is not a full-width bar.
  const pad = Math.max((end - start) * 0.03, DAY / 2);
  start -= pad;
  end += pad;
  const scale = (t: number) => ((t - start) / (end - start)) * width;
  // The same device name in two tenants needs its connection to tell the lanes apart.
  const several = new Set(holders.map((h) => h.connection?.id)).size > 1;
  // Lanes are labelled by the host part of the name (the full name is in each bar's tooltip).
  const labelOf = (hit: AssetHit) => {
    const name = hit.name ? (hit.name.split(".")[0] ?? hit.name) : hit.deviceId;
    return several && hit.connection ? `${name} · ${hit.connection.name ?? hit.connection.id}` : name;
  };
  const lanes: Lane[] = [];
  for (const span of spans) {
    let lane = lanes.find((l) => l.assetId === span.assetId);
    if (!lane) {
      const hit = holders.find((h) => h.assetId === span.assetId) ?? null;
      lane = { assetId: span.assetId, label: hit ? labelOf(hit) : `asset ${span.assetId}`, hit, bars: [] };
      lanes.push(lane);
    }
    const from = Date.parse(span.from);
    const until = span.until ? Date.parse(span.until) : now;
    const x = scale(from);
    lane.bars.push({
      x,
      width: Math.max(MIN_BAR, scale(until) - x),
      from,
      until,
      open: span.until === null,
      source: span.source,
      title: `${lane.hit?.name ?? lane.label}: ${utcShort(from)} – ${span.until ? utcShort(until) : "now"} UTC · ${sourceLabel(span.source)}`,
    });
  }
  return {
    lanes,
    ticks: ticksFor(start, end, width, scale),
    start,
    end,
    marker: Number.isNaN(marker) ? null : scale(marker),
  };
}
