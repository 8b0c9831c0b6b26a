import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { SearchRequest } from "../../ipc";
import { ipcError, mockBackend, type Handlers } from "../../mock/backend";
import { detail, hit, results, timeline, view } from "../../mock/fixtures";
import ExplorerPage from "./ExplorerPage.svelte";
import { explorer } from "./explorer.svelte";
import { loadRecent } from "./recent";

function setup(handlers: Partial<Handlers> = {}) {
  const backend = mockBackend({
    listConnections: () => [view({ lastSyncAt: "2026-11-28T08:00:00Z" })],
    search: () => results([hit()]),
    ...handlers,
  });
  const user = userEvent.setup();
  render(ExplorerPage);
  return { backend, user };
}

describe("Explorer", () => {
  it("searches on Enter and shows each device with its connection, risk, alerts, vulns and relation", async () => {
    const { backend, user } = setup();
    const box = screen.getByTestId("explorer-query");
    expect(box).toHaveFocus();
    expect(screen.getByTestId("explorer-hint")).toHaveTextContent("IP at a time");
    await user.type(box, "10.1.2.3{Enter}");
    const row = await screen.findByTestId("result-row");
    expect(backend.to("search")[0]!.args.request).toEqual({
      query: "10.1.2.3",
      at: null,
      connection: null,
      sort: "relevance",
      reverse: false,
      offset: 0,
      limit: 50,
    } satisfies SearchRequest);
    const cells = within(row);
    expect(row).toHaveTextContent("web01.contoso.com");
    expect(row).toHaveTextContent("Contoso production");
    expect(row).toHaveTextContent("Windows11 23H2");
    expect(cells.getByTestId("risk-badge")).toHaveTextContent("7.4");
    expect(cells.getByTestId("risk-badge")).toHaveAttribute("data-level", "high");
    expect(cells.getByTestId("alert-counts")).toHaveAttribute("title", "Active alerts: 1 Medium, 2 Low");
    expect(row).toHaveTextContent("12 · 9.8");
    expect(row).toHaveTextContent("Current · since 2026-11-20");
    expect(screen.getByTestId("results-count")).toHaveTextContent("1 device");
    expect(screen.getByTestId("results-interpretation")).toHaveTextContent("devices that held IP address 10.1.2.3");
  });

  it("shows the core's explanation under the box for bad input, and clears it on a good search", async () => {
    let bad = true;
    const { user } = setup({
      search: () => {
        if (bad) {
          throw ipcError("validation", "'300.1.1.1' is not an IPv4 address: 300 is greater than 255", [
            { field: "query", message: "'300.1.1.1' is not an IPv4 address: 300 is greater than 255" },
          ]);
        }
        return results([hit()]);
      },
    });
    await user.type(screen.getByTestId("explorer-query"), "300.1.1.1{Enter}");
    const error = await screen.findByTestId("explorer-error");
    expect(error).toHaveTextContent("300 is greater than 255");
    expect(error).toHaveAttribute("data-field", "query");
    expect(screen.getByTestId("explorer-query")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("results-table")).toBeNull();
    bad = false;
    await user.clear(screen.getByTestId("explorer-query"));
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3{Enter}");
    await screen.findByTestId("result-row");
    expect(screen.queryByTestId("explorer-error")).toBeNull();
  });

  it("puts a time problem under the time field's name and sends the time and connection filter", async () => {
    const { backend, user } = setup({
      search: () => {
        throw ipcError("validation", "bad time", [{ field: "at", message: "'noon' is not a time mde-car reads" }]);
      },
    });
    await user.type(screen.getByTestId("explorer-at"), "noon");
    await user.selectOptions(screen.getByTestId("explorer-connection"), "c1");
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3{Enter}");
    expect(await screen.findByTestId("explorer-error")).toHaveAttribute("data-field", "at");
    expect(screen.getByTestId("explorer-at")).toHaveAttribute("aria-invalid", "true");
    expect(backend.to("search")[0]!.args.request).toMatchObject({ at: "noon", connection: "c1" });
  });

  it("explains an empty answer and offers the range around an address", async () => {
    const { backend, user } = setup({
      search: (request) =>
        request.query === "10.9.9.9"
          ? results([], { query: { kind: "ip", value: "10.9.9.9", at: null }, notes: ["no synced device has had 10.9.9.9"] })
          : results([hit()], { query: { kind: "cidr", value: "10.9.9.0/24", at: null } }),
    });
    await user.type(screen.getByTestId("explorer-query"), "10.9.9.9{Enter}");
    const empty = await screen.findByTestId("results-empty");
    expect(empty).toHaveTextContent("No device matched");
    expect(empty).toHaveTextContent("no synced device has had 10.9.9.9");
    await user.click(screen.getByTestId("try-range"));
    await screen.findByTestId("result-row");
    expect(backend.to("search").map((c) => (c.args.request as SearchRequest).query)).toEqual(["10.9.9.9", "10.9.9.0/24"]);
  });

  it("says when no connection has been synced yet", async () => {
    mockBackend({ listConnections: () => [view()], search: () => results([]) });
    render(ExplorerPage);
    await waitFor(() => expect(screen.getByTestId("explorer-start")).toHaveTextContent("No connection has been synced yet"));
  });

  it("sorts by a column (again flips it) and pages through the total", async () => {
    const many = Array.from({ length: 50 }, (_, i) => hit({ assetId: i + 1, name: `host-${i + 1}` }));
    const { backend, user } = setup({
      search: (r) => results(many, { total: 120, offset: r.offset, sort: r.sort, reverse: r.reverse }),
    });
    await user.type(screen.getByTestId("explorer-query"), "10.1.0.0/16{Enter}");
    await screen.findAllByTestId("result-row");
    expect(screen.getByTestId("results-count")).toHaveTextContent("120 devices · showing 1–50");
    await user.click(screen.getByTestId("sort-risk"));
    await waitFor(() => expect(screen.getByTestId("sort-risk").closest("th")).toHaveAttribute("aria-sort", "descending"));
    await user.click(screen.getByTestId("sort-risk"));
    await waitFor(() => expect(screen.getByTestId("sort-risk").closest("th")).toHaveAttribute("aria-sort", "ascending"));
    await user.click(screen.getByTestId("page-next"));
    await waitFor(() => expect(screen.getByTestId("results-count")).toHaveTextContent("showing 51–100"));
    const sent = backend.to("search").map((c) => c.args.request as SearchRequest);
    expect(sent.map((r) => [r.query, r.sort, r.reverse, r.offset])).toEqual([
      ["10.1.0.0/16", "relevance", false, 0],
      ["10.1.0.0/16", "risk", false, 0],
      ["10.1.0.0/16", "risk", true, 0],
      ["10.1.0.0/16", "risk", true, 50],
    ]);
  });

  it("moves through rows with the arrows, opens a device with Enter and comes back with Esc", async () => {
    const { backend, user } = setup({
      search: () => results([hit(), hit({ assetId: 8, name: "db01" })]),
      assetDetail: () => detail(),
    });
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3{Enter}");
    await screen.findAllByTestId("result-row");
    await user.keyboard("{ArrowDown}");
    expect(document.activeElement).toHaveTextContent("web01.contoso.com");
    await user.keyboard("{ArrowDown}");
    expect(document.activeElement).toHaveTextContent("db01");
    await user.keyboard("{ArrowUp}{Enter}");
    const device = await screen.findByTestId("device-view");
    expect(backend.to("asset_detail")[0]!.args).toEqual({ reference: "7" });
    expect(await within(device).findByTestId("device-name")).toHaveTextContent("web01.contoso.com");
    await user.keyboard("{Escape}");
    await screen.findByTestId("results-table");
    expect(document.activeElement).toHaveTextContent("web01.contoso.com");
    await user.keyboard("{Escape}");
    expect(screen.getByTestId("explorer-query")).toHaveFocus();
  });

  it("device view: why this score, every section, copy buttons on identifiers, export", async () => {
    const { backend, user } = setup({
      assetDetail: () => detail(),
      exportAsset: () => ({ saved: true, path: "/tmp/x.csv", fileName: "x.csv", items: 1, total: 1, truncated: false, summary: "Exported the device view of web01.contoso.com" }),
    });
    explorer.openAsset("7", "web01.contoso.com");
    const device = await screen.findByTestId("device-view");
    const breakdown = await within(device).findByTestId("risk-breakdown");
    expect(breakdown).toHaveTextContent("Why this score: 7.4 of 10 (High)");
    expect(within(breakdown).getAllByTestId("risk-component").map((c) => Array.from(c.querySelectorAll("td"), (td) => td.textContent?.trim()).join(" "))).toEqual([
      "+3.9 highest CVSS of an active vulnerability 9.8 × 0.4 = +3.9",
      "+0.4 1 Critical vulnerability and 1 High × 0.2 = +0.4",
      "+2.0 1 Medium alert: +2.0",
      "+1.1 device value High × 1.3 = +1.1",
    ]);
    for (const text of ["a1b2c3", "Servers", "prod", "00:15:5D:AA:00:01", "CONTOSO\\alice", "Suspicious PowerShell", "CVE-2026-0001", "run 9"]) {
      expect(device).toHaveTextContent(text);
    }
    for (const label of ["Copy the device id", "Copy the Entra device id", "Copy the MAC", "Copy the CVE id", "Copy the address"]) {
      expect(within(device).getAllByRole("button", { name: label }).length).toBeGreaterThan(0);
    }
    await user.click(within(device).getByTestId("export-csv"));
    expect(await within(device).findByTestId("export-status")).toHaveTextContent("Exported the device view of web01.contoso.com to /tmp/x.csv");
    expect(backend.to("export_asset")[0]!.args).toEqual({ reference: "7", format: "csv" });
  });

  it("IP view: the timeline has a lane per holder, the holders have their risk, and an IP @ time in 30 days can be confirmed", async () => {
    const at = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const { backend, user } = setup({
      search: () => results([hit()], { query: { kind: "ip_at_time", value: "10.1.2.3", at } }),
      ipTimeline: () => timeline(),
      confirmAttribution: () => ({
        connection: { id: "c1", name: "Contoso production" },
        address: "10.1.2.3",
        at,
        live: [{ deviceId: "a1b2c3", name: "web01.contoso.com", lastSeen: null, assetId: 7 }],
        local: ["a1b2c3"],
        agrees: true,
        summary: "Defender confirms web01.contoso.com",
      }),
    });
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3 @ yesterday{Enter}");
    await user.click(await screen.findByTestId("open-ip"));
    const ipView = await screen.findByTestId("ip-view");
    await within(ipView).findByTestId("timeline");
    expect(within(ipView).getByTestId("ip-address")).toHaveTextContent("10.1.2.3");
    expect(within(ipView).getByTestId("ip-class")).toHaveTextContent("private");
    expect(within(ipView).getAllByTestId("timeline-lane").map((l) => l.dataset.assetId)).toEqual(["5", "7"]);
    const holders = within(ipView).getAllByTestId("holder-row");
    expect(holders.map((h) => within(h).getByTestId("risk-badge").textContent?.trim().slice(0, 3))).toEqual(["1.2", "7.4"]);
    expect(backend.to("ip_timeline")[0]!.args).toEqual({ address: "10.1.2.3", connection: null });
    await user.click(within(ipView).getByTestId("confirm-defender"));
    expect(await within(ipView).findByTestId("attribution")).toHaveTextContent("Defender confirms web01.contoso.com");
    expect(backend.to("confirm_attribution")[0]!.args).toEqual({ connection: "c1", address: "10.1.2.3", at });
    await user.click(within(ipView).getByTestId("back"));
    await screen.findByTestId("results-table");
  });

  it("offers no live confirmation for a plain address or an old time", async () => {
    const { user } = setup({ ipTimeline: () => timeline() });
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3{Enter}");
    await user.click(await screen.findByTestId("open-ip"));
    await screen.findByTestId("timeline");
    expect(screen.queryByTestId("live-check")).toBeNull();
  });

  it("exports every page of the results with the request that made them, and says what was left out", async () => {
    const { backend, user } = setup({
      exportSearch: () => ({ saved: true, path: "/exports/r.csv", fileName: "r.csv", items: 10000, total: 12000, truncated: true, summary: "Exported the first 10000 of 12000 results (an export holds at most 10000); narrow the search for the rest" }),
    });
    await user.type(screen.getByTestId("explorer-query"), "10.0.0.0/8{Enter}");
    await screen.findByTestId("result-row");
    await user.click(screen.getByTestId("export-json"));
    expect(await screen.findByTestId("export-status")).toHaveTextContent("Exported the first 10000 of 12000 results");
    expect(backend.to("export_search")[0]!.args).toEqual({
      request: { query: "10.0.0.0/8", at: null, connection: null, sort: "relevance", reverse: false, offset: 0, limit: 50 },
      format: "json",
    });
  });

  it("says when the save dialog was cancelled, and when the export failed", async () => {
    let fail = false;
    const { user } = setup({
      exportSearch: () => {
        if (fail) throw ipcError("storage", "the export could not be written to /ro/x.csv: permission denied; choose another folder");
        return { saved: false, path: null, fileName: "x.csv", items: 1, total: 1, truncated: false, summary: "Exported 1 result" };
      },
    });
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3{Enter}");
    await screen.findByTestId("result-row");
    await user.click(screen.getByTestId("export-csv"));
    expect(await screen.findByTestId("export-status")).toHaveTextContent("Export cancelled; nothing was saved");
    fail = true;
    await user.click(screen.getByTestId("export-csv"));
    await waitFor(() => expect(screen.getByTestId("export-status")).toHaveTextContent("Couldn't export: the export could not be written"));
  });

  it("remembers searches across restarts and runs one again from its chip", async () => {
    const { backend, user } = setup();
    await user.type(screen.getByTestId("explorer-query"), "10.1.2.3{Enter}");
    await screen.findByTestId("result-row");
    expect(loadRecent()).toEqual([{ query: "10.1.2.3", at: null }]);
    await user.clear(screen.getByTestId("explorer-query"));
    await user.click(screen.getByTestId("recent-search"));
    await waitFor(() => expect(backend.to("search")).toHaveLength(2));
    expect(screen.getByTestId("explorer-query")).toHaveValue("10.1.2.3");
    expect(screen.getAllByTestId("recent-search")).toHaveLength(1);
    await user.click(screen.getByTestId("recent-clear"));
    expect(screen.queryByTestId("explorer-recent")).toBeNull();
    expect(loadRecent()).toEqual([]);
  });
});
