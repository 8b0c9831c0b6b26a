import type { Component } from "svelte";
import type { IconName } from "../lib/Icon.svelte";
import ConnectionsPage from "../features/connections/ConnectionsPage.svelte";
import SettingsPage from "../features/settings/SettingsPage.svelte";

// One entry per rail item. Explorer and Sync history join here when they exist; no placeholders until then.
export type Route = { id: string; label: string; icon: IconName; page: Component; bottom?: boolean };

export const routes: Route[] = [
  { id: "connections", label: "Connections", icon: "plug", page: ConnectionsPage },
  { id: "settings", label: "Settings", icon: "gear", page: SettingsPage, bottom: true },
];

export const DEFAULT_ROUTE = "connections";
