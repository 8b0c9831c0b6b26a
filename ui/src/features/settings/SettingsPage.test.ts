import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ipcError, mockBackend } from "../../mock/backend";
import SettingsPage from "./SettingsPage.svelte";

describe("SettingsPage", () => {
  it("shows where the data lives and the version", async () => {
    mockBackend();
    render(SettingsPage);
    expect(await screen.findByTestId("info-database-file")).toHaveTextContent("/data/mde-car/car.sqlite");
    expect(screen.getByTestId("info-log-dir")).toHaveTextContent("/data/mde-car/logs");
    expect(screen.getByTestId("info-version")).toHaveTextContent("0.1.0");
    expect(screen.getByRole("button", { name: "Copy database path" })).toBeInTheDocument();
  });

  it("stores the theme choice and applies it to the document", async () => {
    mockBackend();
    const user = userEvent.setup();
    render(SettingsPage);
    expect(screen.getByTestId("theme-system")).toBeChecked();
    await user.click(screen.getByTestId("theme-dark"));
    expect(localStorage.getItem("mde-car.theme")).toBe("dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
    await user.click(screen.getByTestId("theme-system"));
    expect(localStorage.getItem("mde-car.theme")).toBe("system");
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it("explains when the data location can't be read", async () => {
    mockBackend({ appInfo: () => { throw ipcError("internal", "no data dir"); } });
    render(SettingsPage);
    expect(await screen.findByRole("alert")).toHaveTextContent("no data dir");
  });
});
