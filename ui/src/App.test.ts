import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "./App.svelte";
import { fakeBackend } from "./test/fakeBackend";

describe("App shell", () => {
  it("has a rail with only the screens that exist, and switches between them", async () => {
    fakeBackend();
    const user = userEvent.setup();
    render(App);
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(nav).toHaveTextContent("MDE Connected Assets & Risk");
    expect(screen.getAllByRole("button").filter((b) => b.dataset.testid?.startsWith("nav-")).map((b) => b.dataset.testid))
      .toEqual(["nav-connections", "nav-settings"]);
    expect(screen.getByTestId("nav-connections")).toHaveAttribute("aria-current", "page");
    expect(await screen.findByTestId("welcome-add")).toBeInTheDocument();

    await user.click(screen.getByTestId("nav-settings"));
    expect(screen.getByRole("heading", { name: "Settings" })).toBeInTheDocument();
    expect(screen.getByTestId("nav-settings")).toHaveAttribute("aria-current", "page");
    expect(screen.queryByTestId("welcome-add")).toBeNull();
  });
});
