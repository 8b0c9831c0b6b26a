import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ConnectionView } from "../../ipc";
import { ipcError, mockBackend } from "../../mock/backend";
import { report, view } from "../../mock/fixtures";
import ConnectionsPage from "./ConnectionsPage.svelte";

describe("ConnectionsPage", () => {
  it("welcomes a first-time user with the two actions", async () => {
    mockBackend();
    render(ConnectionsPage);
    expect(await screen.findByTestId("welcome-add")).toHaveTextContent("Add a Defender connection");
    expect(screen.getByTestId("welcome-demo")).toHaveTextContent("Try the demo tenant");
    expect(screen.queryByTestId("add-connection")).toBeNull();
    expect(screen.queryAllByTestId("connection-card")).toHaveLength(0);
  });

  it("opens the add form from the welcome panel", async () => {
    mockBackend();
    const user = userEvent.setup();
    render(ConnectionsPage);
    await user.click(await screen.findByTestId("welcome-add"));
    expect(screen.getByRole("dialog", { name: "Add Defender connection" })).toBeInTheDocument();
    expect(screen.getByTestId("field-name")).toHaveFocus();
    await user.click(screen.getByTestId("form-cancel"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("starts the demo tenant and shows its card", async () => {
    let list: ConnectionView[] = [];
    const demo = view({ id: "demo", name: "Demo tenant", isDemo: true });
    const backend = mockBackend({
      listConnections: () => list,
      startDemo: () => {
        list = [demo];
        return demo;
      },
    });
    const user = userEvent.setup();
    render(ConnectionsPage);
    await user.click(await screen.findByTestId("welcome-demo"));
    const card = await screen.findByTestId("connection-card");
    expect(card).toHaveAttribute("data-name", "Demo tenant");
    expect(within(card).getByText("Demo")).toBeInTheDocument();
    expect(backend.to("start_demo")).toHaveLength(1);
    expect(screen.queryByTestId("welcome-demo")).toBeNull();
    expect(screen.getByTestId("add-connection")).toBeInTheDocument();
  });

  it("explains a demo that fails to start", async () => {
    mockBackend({ startDemo: () => { throw ipcError("demo", "The simulator could not bind a local port."); } });
    const user = userEvent.setup();
    render(ConnectionsPage);
    await user.click(await screen.findByTestId("welcome-demo"));
    expect(await screen.findByTestId("welcome-error")).toHaveTextContent("The simulator could not bind a local port.");
  });

  it("says what failed and offers a retry when the list cannot load", async () => {
    let fail = true;
    mockBackend({
      listConnections: () => {
        if (fail) throw ipcError("storage", "database is locked");
        return [view()];
      },
    });
    const user = userEvent.setup();
    render(ConnectionsPage);
    expect(await screen.findByRole("alert")).toHaveTextContent("Database is locked");
    expect(screen.getByRole("alert")).toHaveTextContent("Nothing was changed");
    fail = false;
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("connection-card")).toBeInTheDocument();
  });

  it("asks before deleting, names the connection and the keyring, and deletes only on confirm", async () => {
    let list = [view(), view({ id: "c2", name: "Fabrikam" })];
    const backend = mockBackend({
      listConnections: () => list,
      deleteConnection: (id) => {
        list = list.filter((c) => c.id !== id);
        return null;
      },
    });
    const user = userEvent.setup();
    render(ConnectionsPage);
    await waitFor(() => expect(screen.getAllByTestId("connection-card")).toHaveLength(2));
    const contoso = screen.getAllByTestId("connection-card").find((c) => c.dataset.name === "Contoso production")!;

    await user.click(within(contoso).getByTestId("card-delete"));
    const dialog = screen.getByRole("dialog");
    expect(dialog).toHaveTextContent("Contoso production");
    expect(dialog).toHaveTextContent(/removed from the OS keyring/);
    await user.click(screen.getByTestId("cancel-delete"));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(backend.to("delete_connection")).toHaveLength(0);

    await user.click(within(contoso).getByTestId("card-delete"));
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(backend.to("delete_connection")).toHaveLength(0);

    await user.click(within(contoso).getByTestId("card-delete"));
    await user.click(screen.getByTestId("confirm-delete"));
    await waitFor(() => expect(screen.getAllByTestId("connection-card")).toHaveLength(1));
    expect(backend.to("delete_connection")).toEqual([{ cmd: "delete_connection", args: { id: "c1" } }]);
    expect(screen.getByTestId("connection-card")).toHaveAttribute("data-name", "Fabrikam");
  });

  it("opens Edit with the connection's values and refreshes the card after saving", async () => {
    let list = [view()];
    mockBackend({
      listConnections: () => list,
      updateConnection: (_id, draft) => {
        list = [view({ name: draft.name })];
        return list[0]!;
      },
    });
    const user = userEvent.setup();
    render(ConnectionsPage);
    await user.click(await screen.findByTestId("card-edit"));
    const name = screen.getByTestId("field-name");
    expect(name).toHaveValue("Contoso production");
    await user.clear(name);
    await user.type(name, "Contoso EU{Enter}");
    await waitFor(() => expect(screen.getByTestId("connection-card")).toHaveAttribute("data-name", "Contoso EU"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("refreshes the card after Test so the pill and the stored result follow Rust", async () => {
    let list = [view()];
    mockBackend({
      listConnections: () => list,
      testConnection: () => {
        const r = report({ title: "Connected", testedAt: new Date().toISOString() });
        list = [view({ status: "connected", statusText: "Credentials work", lastTest: r })];
        return r;
      },
    });
    const user = userEvent.setup();
    render(ConnectionsPage);
    const card = await screen.findByTestId("connection-card");
    expect(within(card).getByTestId("card-status")).toHaveTextContent("Never synced");
    await user.click(within(card).getByTestId("card-test"));
    await waitFor(() => expect(within(card).getByTestId("card-status")).toHaveTextContent("Connected"));
    expect(within(card).getByTestId("card-status-text")).toHaveTextContent("Credentials work");
    expect(within(card).getByTestId("card-roles")).toHaveTextContent("Alert.Read.All");
  });
});
