import type { Component } from "svelte";
import type { IconName } from "../lib/Icon.svelte";
import ConnectionsPage from "../features/connections/ConnectionsPage.svelte";
import ExplorerPage from "../features/explorer/ExplorerPage.svelte";
import HistoryPage from "../features/history/HistoryPage.svelte";
import SettingsPage from "../features/settings/SettingsPage.svelte";

export { DEFAULT_ROUTE } from "./defaultRoute";

// One entry per rail item.
export type Route = { id: string; label: string; icon: IconName; page: Component; bottom?: boolean };

export const routes: Route[] = [
  { id: "explorer", label: "Explorer", icon: "search", page: ExplorerPage },
  { id: "connections", label: "Connections", icon: "plug", page: ConnectionsPage },
  { id: "history", label: "Sync history", icon: "history", page: HistoryPage },
  { id: "settings", label: "Settings", icon: "gear", page: SettingsPage, bottom: true },
];
