import { describe, expect, it } from "vitest";
import { shortId } from "./guid";
import { relativeTime } from "./time";

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
