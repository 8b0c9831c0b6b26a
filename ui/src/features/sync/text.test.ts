import { describe, expect, it } from "vitest";
import { run } from "../../mock/fixtures";
import { estimatedPages, progressView, type LiveRun } from "./progress";
import { changeCounts, entityLabel, formatDuration, runProblem, sentence, triggerLabel } from "./runText";

const live = (over: Partial<LiveRun> = {}): LiveRun => ({
  phase: "running",
  runId: 1,
  full: false,
  step: "Devices",
  page: null,
  items: null,
  estimatedTotal: null,
  waitUntil: null,
  waitByService: null,
  ...over,
});

describe("progress line", () => {
  it("estimates pages from the items per page so far", () => {
    expect(estimatedPages(3, 2400, 4000)).toBe(5);
    expect(estimatedPages(1, 500, 500)).toBe(1);
    expect(estimatedPages(2, 100, 50)).toBe(2);
    expect(estimatedPages(0, 0, 4000)).toBeNull();
    expect(estimatedPages(3, 2400, null)).toBeNull();
  });

  it("words each moment of a run", () => {
    expect(progressView(undefined, 0)).toEqual({ text: "Syncing…", fraction: null });
    expect(progressView(live({ phase: "starting", step: null }), 0).text).toBe("Starting…");
    expect(progressView(live({ step: null, full: true }), 0).text).toBe("Starting a full sync…");
    expect(progressView(live({ step: "Alerts" }), 0).text).toBe("Alerts…");
    expect(progressView(live({ step: "Alerts", page: 1, items: 0 }), 0).text).toBe("Alerts: page 1, 0 items");
    expect(progressView(live({ step: "IP history", page: 2, items: 1 }), 0).text).toBe("IP history: page 2, 1 item");
    expect(progressView(live({ page: 3, items: 2400, estimatedTotal: 4000 }), 0)).toEqual({
      text: "Devices: page 3 of ~5, 2,400 items",
      fraction: 0.6,
    });
    expect(progressView(live({ step: "Saving", page: 0, items: 0 }), 0).text).toBe("Saving to the local database…");
    expect(progressView(live({ waitUntil: 12_000, waitByService: true }), 0).text).toBe(
      "Defender asked to slow down: waiting 12 s",
    );
    expect(progressView(live({ waitUntil: 12_000, waitByService: false }), 11_500).text).toBe(
      "Keeping within Defender's rate limit: waiting 1 s",
    );
    expect(progressView(live({ phase: "cancelling" }), 0).text).toBe("Cancelling…");
  });

  it("never shows more than a full bar", () => {
    expect(progressView(live({ page: 9, items: 5000, estimatedTotal: 4000 }), 0).fraction).toBe(1);
  });
});

describe("run text", () => {
  it("formats durations", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(192_000)).toBe("3 min 12 s");
    expect(formatDuration(120_000)).toBe("2 min");
    expect(formatDuration(3_900_000)).toBe("1 h 5 min");
  });

  it("names entities, triggers and change counts", () => {
    expect(entityLabel("assets")).toBe("devices");
    expect(entityLabel("ip_leases")).toBe("IP leases");
    expect(entityLabel("new_thing")).toBe("new thing");
    expect(triggerLabel("schedule")).toBe("Scheduled");
    expect(triggerLabel("cli")).toBe("CLI");
    expect(triggerLabel("webhook")).toBe("Webhook");
    expect(changeCounts({ entity: "assets", added: 1200, updated: 3, deactivated: 1 })).toBe("+1,200 / ~3 / −1");
  });

  it("turns core messages into sentences", () => {
    expect(sentence("entra id rejected the client secret")).toBe("Entra ID rejected the client secret.");
    expect(sentence("defender answered 500: oops")).toBe("Defender answered 500: oops.");
    expect(sentence("Already a sentence.")).toBe("Already a sentence.");
    expect(sentence("the api refused it")).toBe("The API refused it.");
    expect(sentence("defender answered 404 (ResourceNotFound): Resource '/api/alerts' was not found")).toBe(
      "Defender answered 404 (ResourceNotFound): Resource '/api/alerts' was not found.",
    );
  });

  it("says what went wrong and what to do", () => {
    expect(runProblem(run())).toBeNull();
    expect(runProblem(run({ status: "cancelled" }))).toBeNull();
    expect(runProblem(run({ status: "failed", errorCode: "forbidden", error: "the app registration lacks a permission (one of Machine.Read.All): denied" })))
      .toBe("The app registration lacks a permission (one of Machine.Read.All): denied. Grant the permission to the app registration in Entra ID, then sync again.");
    expect(runProblem(run({ status: "failed", errorCode: null, error: null }))).toBe("The run failed.");
    expect(runProblem(run({ status: "interrupted" }))).toMatch(/The app stopped during this run/);
  });
});
