// The series of the two Sync history charts: one bar per finished run, oldest on the left,
// colored by how the run ended.
import type { RunStatus, SyncRun } from "../../ipc";
import type { BarSeries, BarTone } from "../../lib/BarChart.svelte";
import { formatCount, shortDate, shortDateTime, shortTime } from "../../lib/time";
import { formatDuration } from "../sync/runText";

export const CHART_RUNS = 30;

type Group = { label: string; tone: BarTone; statuses: RunStatus[] };

const GROUPS: Group[] = [
  { label: "Succeeded", tone: "accent", statuses: ["succeeded"] },
  { label: "Partial", tone: "warning", statuses: ["partial"] },
  { label: "Failed", tone: "danger", statuses: ["failed", "interrupted"] },
  { label: "Cancelled", tone: "muted", statuses: ["cancelled"] },
];

export type ChartData = {
  labels: string[];
  axisLabels: string[];
  duration: BarSeries[];
  calls: BarSeries[];
  durationSummary: string;
  callsSummary: string;
};

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `runs` newest first, as Rust lists them. */
export function chartData(runs: SyncRun[]): ChartData | null {
  const done = runs
    .filter((r) => r.status !== "running" && r.durationMs !== null)
    .slice(0, CHART_RUNS)
    .reverse();
  if (done.length === 0) return null;
  const first = Date.parse(done[0]!.startedAt);
  const last = Date.parse(done[done.length - 1]!.startedAt);
  const sameDay = last - first < 20 * 3600 * 1000;
  const split = (value: (r: SyncRun) => number): BarSeries[] =>
    GROUPS.map((g) => ({
      label: g.label,
      tone: g.tone,
      values: done.map((r) => (g.statuses.includes(r.status) ? value(r) : null)),
    })).filter((s, i) => i === 0 || s.values.some((v) => v !== null));
  const seconds = done.map((r) => (r.durationMs ?? 0) / 1000);
  const calls = done.map((r) => r.totalApiCalls);
  const n = done.length;
  return {
    labels: done.map((r) => shortDateTime(r.startedAt)),
    axisLabels: done.map((r) => (sameDay ? shortTime(r.startedAt) : shortDate(r.startedAt))),
    duration: split((r) => (r.durationMs ?? 0) / 1000),
    calls: split((r) => r.totalApiCalls),
    durationSummary: `${n === 1 ? "One run" : `Last ${n} runs`}: median ${formatDuration(median(seconds) * 1000)}, longest ${formatDuration(Math.max(...seconds) * 1000)}.`,
    callsSummary: `${n === 1 ? "One run" : `Last ${n} runs`}: median ${formatCount(Math.round(median(calls)))} API calls, most ${formatCount(Math.max(...calls))}.`,
  };
}

export function secondsText(v: number): string {
  return formatDuration(v * 1000);
}
