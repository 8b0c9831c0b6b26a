import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "./App.svelte";
import { syncState } from "./features/sync/syncState.svelte";
import { emitSync, mockBackend } from "./mock/backend";
import { run, view } from "./mock/fixtures";

describe("App shell", () => {
  it("has a rail with only the screens that exist, and switches between them", async () => {
    mockBackend();
    const user = userEvent.setup();
    render(App);
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(nav).toHaveTextContent("MDE Connected Assets & Risk");
    expect(screen.getAllByRole("button").filter((b) => b.dataset.testid?.startsWith("nav-")).map((b) => b.dataset.testid))
      .toEqual(["nav-explorer", "nav-connections", "nav-history", "nav-settings"]);
    // No connection yet: the welcome panel, not the Explorer.
    expect(await screen.findByTestId("welcome-add")).toBeInTheDocument();
    expect(screen.getByTestId("nav-connections")).toHaveAttribute("aria-current", "page");

    await user.click(screen.getByTestId("nav-settings"));
    expect(screen.getByRole("heading", { name: "Settings" })).toBeInTheDocument();
    expect(screen.getByTestId("nav-settings")).toHaveAttribute("aria-current", "page");
    expect(screen.queryByTestId("welcome-add")).toBeNull();
  });

  it("says why when Rust could not open the data, in place of the app", async () => {
    mockBackend({
      startupProblem: () => ({
        message: "the database /data/mde-car.sqlite3 is damaged or not an mde-car database (file is not a database); move it aside and sync again to rebuild it",
        dataDir: "/data",
      }),
      listConnections: () => {
        throw { code: "internal", message: "state not managed", fields: [] };
      },
    });
    render(App);
    const problem = await screen.findByTestId("startup-problem");
    expect(problem).toHaveTextContent("mde-car could not open its data");
    expect(screen.getByTestId("startup-problem-message")).toHaveTextContent(/^The database \/data\/mde-car\.sqlite3 is damaged/);
    expect(screen.getByTestId("startup-problem-folder")).toHaveTextContent("/data");
    expect(screen.queryByRole("navigation", { name: "Main" })).toBeNull();
  });

  it("a card's History opens Sync history on that connection", async () => {
    const list = [view(), view({ id: "c2", name: "Fabrikam", lastRun: run({ id: 4, connectionId: "c2" }) })];
    const backend = mockBackend({ listConnections: () => list, syncRuns: () => [run({ id: 4, connectionId: "c2" })] });
    const user = userEvent.setup();
    render(App);
    await waitFor(() => expect(screen.getByTestId("nav-explorer")).toHaveAttribute("aria-current", "page"));
    await user.click(screen.getByTestId("nav-connections"));
    const fabrikam = (await screen.findAllByTestId("connection-card")).find((c) => c.dataset.name === "Fabrikam")!;
    await user.click(within(fabrikam).getByTestId("card-history"));
    expect(screen.getByTestId("nav-history")).toHaveAttribute("aria-current", "page");
    expect(screen.getByRole("heading", { name: "Sync history" })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("history-connection")).toHaveValue("c2"));
    await screen.findByTestId("history-run");
    expect(backend.to("sync_runs").map((c) => c.args.id)).toEqual(["c2"]);
  });

  it("listens to sync updates from the start, whichever page is open", async () => {
    mockBackend({ listConnections: () => [view()], syncRuns: () => [] });
    const user = userEvent.setup();
    render(App);
    await user.click(screen.getByTestId("nav-settings"));
    await waitFor(() => expect(syncState.listening).toBe(true));
    await emitSync({ kind: "started", connectionId: "c1", runId: 1, full: false });
    await user.click(screen.getByTestId("nav-connections"));
    const card = await screen.findByTestId("connection-card");
    expect(within(card).getByTestId("card-cancel")).toBeInTheDocument();
  });

  it("opens the Explorer at start once a connection exists, and Ctrl+K brings its search box from anywhere", async () => {
    mockBackend({ listConnections: () => [view()] });
    const user = userEvent.setup();
    render(App);
    const box = await screen.findByTestId("explorer-query");
    expect(screen.getByTestId("nav-explorer")).toHaveAttribute("aria-current", "page");
    expect(box).toHaveFocus();

    await user.click(screen.getByTestId("nav-settings"));
    expect(screen.queryByTestId("explorer-query")).toBeNull();
    await user.keyboard("{Control>}k{/Control}");
    expect(screen.getByTestId("nav-explorer")).toHaveAttribute("aria-current", "page");
    await waitFor(() => expect(screen.getByTestId("explorer-query")).toHaveFocus());
  });
});
