import "@testing-library/jest-dom/vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach } from "vitest";
import { nav } from "../app/nav.svelte";
import { connectionList } from "../features/connections/connectionList.svelte";
import { explorer } from "../features/explorer/explorer.svelte";
import { historySelection } from "../features/history/historySelection.svelte";
import { syncState } from "../features/sync/syncState.svelte";

// jsdom has no canvas: say so quietly (null) instead of logging "not implemented"; charts fall back to text.
HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;

// jsdom has no matchMedia either; uPlot asks it for the pixel ratio when it loads.
window.matchMedia ??= ((query: string) => ({
  matches: false,
  media: query,
  onchange: null,
  addEventListener: () => {},
  removeEventListener: () => {},
  addListener: () => {},
  removeListener: () => {},
  dispatchEvent: () => false,
})) as typeof window.matchMedia;

// Nor ResizeObserver, which `bind:clientWidth` uses; charts then lay out at their default width.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

afterEach(() => {
  // The window-wide stores outlive a rendered component; each test starts from scratch.
  syncState.reset();
  connectionList.reset();
  nav.reset();
  clearMocks();
  localStorage.clear();
  explorer.reset();
  historySelection.reset();
  delete document.documentElement.dataset.theme;
});
