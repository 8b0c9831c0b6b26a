import cronstrue from "cronstrue";
import type { Frequency } from "../../ipc";

/** Select values are the interval in minutes, or "cron"; E2E tests select by these values. */
export const PRESETS: { value: string; label: string }[] = [
  { value: "15", label: "Every 15 minutes" },
  { value: "60", label: "Every hour" },
  { value: "240", label: "Every 4 hours" },
  { value: "360", label: "Every 6 hours" },
  { value: "720", label: "Every 12 hours" },
  { value: "1440", label: "Every 24 hours" },
];

export const CRON = "cron";
export const DEFAULT_CHOICE = "240";
export const DEFAULT_CRON = "0 */4 * * *";

export function choiceOf(frequency: Frequency): string {
  return frequency.kind === "cron" ? CRON : String(frequency.minutes);
}

export function frequencyOf(choice: string, cron: string): Frequency {
  return choice === CRON ? { kind: "cron", expression: cron } : { kind: "interval", minutes: Number(choice) };
}

export type CronEcho = { ok: true; text: string } | { ok: false; text: string };

/** A plain-language echo of a cron expression. Only an aid to reading: Rust decides what is valid. */
export function describeCron(expression: string): CronEcho {
  if (expression.trim() === "") return { ok: false, text: "Enter a cron expression, e.g. 0 */4 * * *" };
  try {
    return { ok: true, text: cronstrue.toString(expression, { use24HourTimeFormat: true, verbose: false }) };
  } catch (e) {
    // cronstrue throws plain strings prefixed with "Error: ".
    const text = e instanceof Error ? e.message : String(e);
    return { ok: false, text: text.replace(/^Error:\s*/, "") };
  }
}
