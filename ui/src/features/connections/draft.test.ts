import { describe, expect, it } from "vitest";
import { certificateInfo, view } from "../../mock/fixtures";
import { expiryText } from "./certificate";
import { formFromView, newForm, toDraft } from "./draft";
import { choiceOf, describeCron } from "./schedule";

describe("draft mapping", () => {
  it("keeps the stored secret on edit unless it is replaced, and sends it as typed on add", () => {
    const form = { ...formFromView(view()), secret: "typed" };
    expect(toDraft(form, true).clientSecret).toBeNull();
    expect(toDraft({ ...form, replaceSecret: true }, true).clientSecret).toBe("typed");
    expect(toDraft({ ...newForm(), secret: "" }, false).clientSecret).toBe("");
  });

  it("sends a certificate draft with its certificate, never a secret or a key", () => {
    const info = certificateInfo();
    const form = { ...formFromView(view({ credential: "certificate", certificate: info })), secret: "left over" };
    expect(toDraft(form, true)).toMatchObject({ credential: "certificate", certificate: info, clientSecret: null, privateKey: null });
    // Back to a secret: the certificate is not sent, the typed secret is (the kind changed).
    expect(toDraft({ ...form, credential: "secret" }, true, true)).toMatchObject({ certificate: null, clientSecret: "left over" });
  });

  it("sends empty overrides as null and keeps a non-preset interval", () => {
    const form = formFromView(view({ frequency: { kind: "interval", minutes: 30 }, apiBaseUrl: "https://x" }));
    expect(form.frequencyChoice).toBe("30");
    const draft = toDraft({ ...form, loginAuthority: "   " }, true);
    expect(draft.frequency).toEqual({ kind: "interval", minutes: 30 });
    expect(draft.apiBaseUrl).toBe("https://x");
    expect(draft.loginAuthority).toBeNull();
  });

  it("carries the proxy and CA file both ways, blanks as null", () => {
    const form = formFromView(view({ proxyUrl: "http://proxy:8080", caCertificateFile: "/etc/ssl/ca.pem" }));
    expect([form.proxyUrl, form.caCertificateFile]).toEqual(["http://proxy:8080", "/etc/ssl/ca.pem"]);
    expect(toDraft(form, true)).toMatchObject({ proxyUrl: "http://proxy:8080", caCertificateFile: "/etc/ssl/ca.pem" });
    const cleared = toDraft({ ...form, proxyUrl: " ", caCertificateFile: "" }, true);
    expect([cleared.proxyUrl, cleared.caCertificateFile]).toEqual([null, null]);
    expect(formFromView(view()).proxyUrl).toBe("");
  });

  it("maps frequencies to select values", () => {
    expect(choiceOf({ kind: "interval", minutes: 1440 })).toBe("1440");
    expect(choiceOf({ kind: "cron", expression: "* * * * *" })).toBe("cron");
  });

  it("describes cron expressions and reports unreadable ones without throwing", () => {
    expect(describeCron("*/15 * * * *")).toEqual({ ok: true, text: "Every 15 minutes" });
    expect(describeCron("61 * * * *")).toEqual({ ok: false, text: "minutes part must be >= 0 and <= 59" });
    expect(describeCron(" ").ok).toBe(false);
  });
});

describe("certificate expiry words", () => {
  it("counts calendar days to the end's date, as Rust does", () => {
    const info = (notAfter: string) => ({ ...certificateInfo(), notAfter });
    const now = Date.parse("2026-12-01T20:00:00Z");
    expect(expiryText(info("2026-12-13T08:00:00Z"), now)).toBe("2026-12-13 (in 12 days)");
    expect(expiryText(info("2026-12-02T01:00:00Z"), now)).toBe("2026-12-02 (in 1 day)");
    expect(expiryText(info("2026-12-01T23:00:00Z"), now)).toBe("2026-12-01 (today)");
    expect(expiryText(info("2026-12-01T08:00:00Z"), now)).toBe("2026-12-01 (expired today)");
    expect(expiryText(info("2026-11-30T08:00:00Z"), now)).toBe("2026-11-30 (expired yesterday)");
    expect(expiryText(info("2026-11-20T08:00:00Z"), now)).toBe("2026-11-20 (expired 11 days ago)");
  });
});
