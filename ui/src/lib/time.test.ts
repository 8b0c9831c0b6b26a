import { describe, expect, it } from "vitest";
import { shortId } from "./guid";
import { formatCount, NONE, relativeTime, utc, utcDate, utcShort } from "./time";

const NOW = Date.parse("2026-11-28T12:00:00Z");

describe("relativeTime", () => {
  it("words past and future times and shows a dash for none", () => {
    expect(relativeTime(null, NOW)).toBe("—");
    expect(relativeTime("2026-11-28T11:59:50Z", NOW)).toBe("just now");
    expect(relativeTime("2026-11-28T11:52:00Z", NOW)).toBe("8 minutes ago");
    expect(relativeTime("2026-11-28T16:00:00Z", NOW)).toBe("in 4 hours");
    expect(relativeTime("2026-11-27T12:00:00Z", NOW)).toBe("yesterday");
  });
});

describe("shortId", () => {
  it("shortens GUIDs and leaves domains alone", () => {
    expect(shortId("72f988bf-86f1-41af-91ab-2d7cd011db47")).toBe("72f988bf…db47");
    expect(shortId("contoso.onmicrosoft.com")).toBe("contoso.onmicrosoft.com");
  });
});

describe("UTC times and counts", () => {
  it("write Defender's times in UTC to the minute, from text or milliseconds, and a dash for none", () => {
    expect(utc("2026-11-20T14:00:59+01:00")).toBe("2026-11-20 13:00 UTC");
    expect(utcShort("2026-11-20T14:00:00Z")).toBe("2026-11-20 14:00");
    expect(utcShort(Date.UTC(2026, 10, 20, 14, 5))).toBe("2026-11-20 14:05");
    expect(utcDate("2026-11-20T23:59:00-02:00")).toBe("2026-11-21");
    expect(utcDate(Date.UTC(2026, 0, 2))).toBe("2026-01-02");
    expect([utc(null), utcShort(undefined), utcDate("")]).toEqual([NONE, NONE, NONE]);
    expect([utc("soon"), utcShort("soon"), utcDate("soon")]).toEqual(["soon", "soon", "soon"]);
  });

  it("group counts the en-US way", () => {
    expect(formatCount(12402)).toBe("12,402");
    expect(formatCount(7)).toBe("7");
  });
});
