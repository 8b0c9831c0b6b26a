// The one line and the bar of a running sync, from what the sync updates said so far.
import { formatCount } from "../../lib/time";

export type LivePhase = "starting" | "running" | "cancelling";

export type LiveRun = {
  phase: LivePhase;
  runId: number | null;
  full: boolean | null;
  step: string | null;
  page: number | null;
  items: number | null;
  estimatedTotal: number | null;
  /** Local time (ms) until which the run waits for Defender's rate limit; null when not waiting. */
  waitUntil: number | null;
  /** Defender asked for the wait (429); false when the app keeps to its share of the limit. */
  waitByService: boolean | null;
};

export type ProgressView = {
  text: string;
  /** 0..1 when the step's total is known, otherwise null (indeterminate bar). */
  fraction: number | null;
};

/** Pages a listing will take, estimated from the items per page so far. */
export function estimatedPages(page: number | null, items: number | null, total: number | null): number | null {
  if (!page || page < 1 || !items || items <= 0 || !total || total <= 0) return null;
  const perPage = items / page;
  return Math.max(page, Math.ceil(total / perPage));
}

function stepLine(run: LiveRun): string {
  const { step, page, items, estimatedTotal } = run;
  if (!step) return run.full ? "Starting a full sync…" : "Starting…";
  if (step === "Signing in") return "Signing in…";
  if (step === "Saving") return "Saving to the local database…";
  const parts: string[] = [];
  if (page && page > 0) {
    const pages = estimatedPages(page, items, estimatedTotal);
    parts.push(pages && pages > page ? `page ${page} of ~${pages}` : `page ${page}`);
  }
  if (items !== null && (items > 0 || parts.length > 0)) {
    parts.push(`${formatCount(items)} ${items === 1 ? "item" : "items"}`);
  }
  return parts.length ? `${step}: ${parts.join(", ")}` : `${step}…`;
}

export function progressView(run: LiveRun | undefined, now: number): ProgressView {
  // The list says a run is going on but this window has heard nothing of it yet.
  if (!run) return { text: "Syncing…", fraction: null };
  const fraction =
    run.estimatedTotal && run.estimatedTotal > 0 && run.items !== null && run.step !== "Saving"
      ? Math.min(1, run.items / run.estimatedTotal)
      : null;
  if (run.phase === "cancelling") return { text: "Cancelling…", fraction };
  if (run.phase === "starting") return { text: "Starting…", fraction: null };
  if (run.waitUntil !== null) {
    const left = Math.ceil((run.waitUntil - now) / 1000);
    if (left <= 0) return { text: "Retrying after Defender's rate limit…", fraction };
    return {
      text: run.waitByService
        ? `Defender asked to slow down: waiting ${left} s`
        : `Keeping within Defender's rate limit: waiting ${left} s`,
      fraction,
    };
  }
  return { text: stepLine(run), fraction };
}
