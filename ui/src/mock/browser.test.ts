import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "../App.svelte";
import { installBrowserMock } from "./browser";

// The browser mock only runs under `npm run dev`; this keeps it answering what the pages ask.
describe("browser mock", () => {
  it("serves the seeded connections, their runs and the Explorer, with its example problem", async () => {
    installBrowserMock(true);
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId("explorer-query"), "10.1.2.3{Enter}");
    expect(await screen.findAllByTestId("result-row")).toHaveLength(2);
    await user.clear(screen.getByTestId("explorer-query"));
    await user.type(screen.getByTestId("explorer-query"), "300.1.1.1{Enter}");
    expect(await screen.findByTestId("explorer-error")).toHaveTextContent("300 is greater than 255");

    await user.click(screen.getByTestId("nav-connections"));
    await waitFor(() => expect(screen.getAllByTestId("connection-card")).toHaveLength(3));
    await user.click(screen.getByTestId("nav-history"));
    await waitFor(() => expect(screen.getAllByTestId("history-run")).toHaveLength(36));
  });
});
