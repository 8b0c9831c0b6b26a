import { describe, expect, it } from "vitest";
import type { AssetHit, TimelineSpan } from "../../ipc";
import { problemOf } from "./explorer.svelte";
import { utc } from "../../lib/time";
import { alertTotal, classLabel, osDescription, points, rangeSuggestion, relationLabel, splitHostName, vulnText, withinLiveWindow } from "./format";
import { clearRecent, loadRecent, MAX_RECENT, rememberSearch } from "./recent";
import { layoutTimeline, MIN_BAR } from "./timeline";

describe("recent searches", () => {
  it("keep the newest first, without repeats (any case), at most ten, across a reload", () => {
    let list = loadRecent();
    for (let i = 0; i < 12; i++) list = rememberSearch(list, { query: `10.0.0.${i}`, at: null });
    expect(list).toHaveLength(MAX_RECENT);
    expect(list[0]).toEqual({ query: "10.0.0.11", at: null });
    list = rememberSearch(list, { query: " WEB01 ", at: "" });
    list = rememberSearch(list, { query: "web01", at: null });
    expect(list.filter((r) => r.query.toLowerCase() === "web01")).toHaveLength(1);
    list = rememberSearch(list, { query: "10.0.0.5", at: "2026-11-20 14:00" });
    expect(list[0]).toEqual({ query: "10.0.0.5", at: "2026-11-20 14:00" });
    expect(loadRecent()).toEqual(list);
    expect(rememberSearch(list, { query: "   ", at: null })).toBe(list);
    expect(clearRecent()).toEqual([]);
    expect(loadRecent()).toEqual([]);
  });

  it("ignore a damaged stored list", () => {
    localStorage.setItem("mde-car.recent-searches", "{not json");
    expect(loadRecent()).toEqual([]);
    localStorage.setItem("mde-car.recent-searches", JSON.stringify([{ query: "ok", at: null }, { query: 3 }, null]));
    expect(loadRecent()).toEqual([{ query: "ok", at: null }]);
  });
});

describe("values the core sends in parts", () => {
  it("describes an OS as the CLI does, from the parts Defender reported", () => {
    const os = { platform: "Windows11", version: null, build: 22631, release: "23H2", architecture: "64-bit" };
    expect(osDescription(os)).toBe("Windows11 23H2 (build 22631)");
    expect(osDescription({ ...os, build: null, release: null })).toBe("Windows11");
    expect(osDescription({ platform: null, version: null, build: null, release: null, architecture: null })).toBe("");
  });

  it("adds up active alerts of every severity", () => {
    expect(alertTotal({ high: 1, medium: 2, low: 3, informational: 4 })).toBe(10);
    expect(alertTotal({ high: 0, medium: 0, low: 0, informational: 0 })).toBe(0);
  });
});

describe("host names in lists", () => {
  it("put the first label first and keep the domain apart", () => {
    expect(splitHostName("lt-00005.corp.contoso.com")).toEqual(["lt-00005", ".corp.contoso.com"]);
    expect(splitHostName("web01")).toEqual(["web01", ""]);
  });
  it("leave device ids, IP addresses and odd names whole", () => {
    expect(splitHostName("02619221aeae47090ad31ee74ef8237ca0fb097f")).toEqual(["02619221aeae47090ad31ee74ef8237ca0fb097f", ""]);
    expect(splitHostName("10.1.2.3")).toEqual(["10.1.2.3", ""]);
    expect(splitHostName("fe80::1")).toEqual(["fe80::1", ""]);
    expect(splitHostName(".hidden")).toEqual([".hidden", ""]);
  });
});

describe("wording", () => {
  const relation = {
    kind: "past_holder" as const,
    source: "ip_history" as const,
    value: "10.1.2.3",
    addressClass: "external",
    current: false,
    firstSeen: "2026-11-20T08:00:00Z",
    lastSeen: "2026-11-22T08:00:00Z",
    until: "2026-11-22T08:00:00Z",
    sharedBy: 12,
    text: "",
  };

  it("says how a device relates to the query, with dates", () => {
    expect(relationLabel(relation)).toBe("Past · 2026-11-20 – 2026-11-22");
    expect(relationLabel({ ...relation, kind: "current_holder", current: true })).toBe("Current · since 2026-11-20");
    expect(relationLabel({ ...relation, kind: "holder_at_time", until: null })).toBe("At that time · 2026-11-20 – now");
    expect(classLabel(relation)).toBe("external · NAT, 12 devices");
    expect(classLabel({ addressClass: "link_local", sharedBy: null })).toBe("link-local");
  });

  it("formats times in UTC, points with their sign, and vulnerabilities with the highest CVSS", () => {
    expect(utc("2026-11-20T15:00:00+01:00")).toBe("2026-11-20 14:00 UTC");
    expect(utc(null)).toBe("—");
    expect(points(-0.4)).toBe("−0.4");
    expect(points(3.9)).toBe("+3.9");
    expect(points(null)).toBe("—");
    expect(vulnText(12, 9.8)).toBe("12 · 9.8");
    expect(vulnText(0, null)).toBe("0");
  });

  it("suggests the /24 around an IPv4 address only", () => {
    expect(rangeSuggestion("10.1.2.3")).toBe("10.1.2.0/24");
    expect(rangeSuggestion("2001:db8::1")).toBeNull();
  });

  it("knows Defender's live window: the last 30 days, up to 15 minutes ahead", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    expect(withinLiveWindow("2026-11-20T12:00:00Z", now)).toBe(true);
    expect(withinLiveWindow("2026-10-20T12:00:00Z", now)).toBe(false);
    expect(withinLiveWindow("2026-11-28T13:00:00Z", now)).toBe(false);
    expect(withinLiveWindow(null, now)).toBe(false);
  });

  it("reads which field an error is about", () => {
    expect(problemOf({ code: "validation", message: "m", fields: [{ field: "at", message: "bad time" }] })).toEqual({ field: "at", message: "bad time" });
    expect(problemOf({ code: "storage", message: "disk", fields: [] })).toEqual({ field: null, message: "disk" });
    expect(problemOf(new Error("boom"))).toEqual({ field: null, message: "boom" });
  });
});

describe("timeline layout", () => {
  const span = (assetId: number, from: string, until: string | null): TimelineSpan => ({
    assetId,
    source: "ip_history",
    from,
    until,
    lastSeen: until ?? from,
  });
  const holder = (assetId: number, name: string) => ({ assetId, name, deviceId: `d${assetId}` }) as AssetHit;

  it("puts one lane per device in first-held order, bars in time order within the width", () => {
    const now = Date.parse("2026-11-30T00:00:00Z");
    const layout = layoutTimeline(
      [
        span(2, "2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z"),
        span(1, "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z"),
        span(2, "2026-11-20T00:00:00Z", null),
      ],
      [holder(1, "b"), holder(2, "a")],
      600,
      now,
      "2026-11-15T00:00:00Z",
    );
    expect(layout.lanes.map((l) => [l.assetId, l.label, l.bars.length])).toEqual([
      [2, "a", 2],
      [1, "b", 1],
    ]);
    const [first, open] = layout.lanes[0]!.bars;
    const middle = layout.lanes[1]!.bars[0]!;
    expect(first!.x).toBeGreaterThanOrEqual(0);
    expect(first!.x + first!.width).toBeCloseTo(middle.x, 5);
    expect(open!.open).toBe(true);
    expect(open!.x + open!.width).toBeLessThanOrEqual(600);
    expect(layout.marker).toBeGreaterThan(middle.x);
    expect(layout.marker).toBeLessThan(middle.x + middle.width);
    expect(layout.ticks.length).toBeGreaterThan(1);
    expect(layout.ticks.every((t) => t.x >= 0 && t.x <= 600)).toBe(true);
  });

  it("keeps a one-sync snapshot visible and an empty timeline empty", () => {
    const layout = layoutTimeline([span(1, "2026-11-10T00:00:00Z", "2026-11-10T00:00:00Z")], [], 400, Date.parse("2026-11-30T00:00:00Z"));
    expect(layout.lanes[0]!.bars[0]!.width).toBe(MIN_BAR);
    expect(layout.lanes[0]!.label).toBe("asset 1");
    expect(layoutTimeline([], [], 400).lanes).toEqual([]);
  });
});
