// Placeholder until the Rust side generates this file with tauri-specta; it mirrors that output's shape.
// Do not hand-edit once generated. UI code imports from `src/ipc`, never from here.

import { invoke as TAURI_INVOKE } from "@tauri-apps/api/core";

export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

export type Cloud = "commercial" | "gcc" | "gcc_high" | "dod";
export type Frequency = { kind: "interval"; minutes: number } | { kind: "cron"; expression: string };
export type DataSelection = {
  alerts: boolean;
  vulnerabilities: boolean;
  loggedOnUsers: boolean;
  ipHistory: boolean;
};
export type ConnectionDraft = {
  name: string;
  description: string;
  tenantId: string;
  clientId: string;
  clientSecret: string | null;
  frequency: Frequency;
  cloud: Cloud;
  apiBaseUrl: string | null;
  loginAuthority: string | null;
  data: DataSelection;
};
export type FieldError = { field: string; message: string };
export type ErrorCode =
  | "validation"
  | "not_found"
  | "duplicate_name"
  | "keyring"
  | "storage"
  | "demo"
  | "internal";
export type IpcError = { code: ErrorCode; message: string; fields: FieldError[] };
export type ConnectionStatus = "never_synced" | "connected" | "syncing" | "error";
export type TestCode =
  | "connected"
  | "unknown_tenant"
  | "unknown_client"
  | "wrong_secret"
  | "expired_secret"
  | "missing_permission"
  | "throttled"
  | "network_unreachable"
  | "tls_failure"
  | "wrong_host"
  | "timeout"
  | "unexpected";
export type TestReport = {
  ok: boolean;
  code: TestCode;
  title: string;
  detail: string;
  grantedRoles: string[];
  missingRoles: string[];
  testedAt: string;
  durationMs: number;
};
export type Counts = { devices: number; ipAddresses: number; alerts: number; vulnerabilities: number };
export type ConnectionView = {
  id: string;
  name: string;
  description: string;
  tenantId: string;
  clientId: string;
  cloud: Cloud;
  cloudLabel: string;
  frequency: Frequency;
  frequencyText: string;
  apiBaseUrl: string | null;
  loginAuthority: string | null;
  effectiveApiBase: string;
  effectiveAuthority: string;
  data: DataSelection;
  requiredPermissions: string[];
  isDemo: boolean;
  status: ConnectionStatus;
  statusText: string;
  lastTest: TestReport | null;
  lastSyncAt: string | null;
  nextSyncAt: string | null;
  counts: Counts | null;
  createdAt: string;
};
export type AppInfo = {
  version: string;
  dataDir: string;
  settingsFile: string;
  databaseFile: string;
  logDir: string;
};

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<Result<T, IpcError>> {
  try {
    return { status: "ok", data: await TAURI_INVOKE<T>(cmd, args) };
  } catch (e) {
    if (e instanceof Error) throw e;
    return { status: "error", error: e as IpcError };
  }
}

export const commands = {
  async listConnections(): Promise<Result<ConnectionView[], IpcError>> {
    return call("list_connections");
  },
  async validateConnection(
    draft: ConnectionDraft,
    editingId: string | null,
  ): Promise<Result<FieldError[], IpcError>> {
    return call("validate_connection", { draft, editingId });
  },
  async addConnection(draft: ConnectionDraft): Promise<Result<ConnectionView, IpcError>> {
    return call("add_connection", { draft });
  },
  async updateConnection(id: string, draft: ConnectionDraft): Promise<Result<ConnectionView, IpcError>> {
    return call("update_connection", { id, draft });
  },
  async deleteConnection(id: string): Promise<Result<null, IpcError>> {
    return call("delete_connection", { id });
  },
  async testConnection(id: string): Promise<Result<TestReport, IpcError>> {
    return call("test_connection", { id });
  },
  async testDraft(draft: ConnectionDraft, editingId: string | null): Promise<Result<TestReport, IpcError>> {
    return call("test_draft", { draft, editingId });
  },
  async requiredPermissions(data: DataSelection): Promise<Result<string[], IpcError>> {
    return call("required_permissions", { data });
  },
  async startDemo(): Promise<Result<ConnectionView, IpcError>> {
    return call("start_demo");
  },
  async appInfo(): Promise<Result<AppInfo, IpcError>> {
    return call("app_info");
  },
};
