// The only door between the UI and Rust. Components call `api.*`, which throws an IpcError-shaped
// object on failure, so callers need a single try/catch instead of checking `status` everywhere.

import { commands, events } from "../bindings";
import type {
  ApiCallCount,
  AppInfo,
  CertificateFiles,
  CertificateImport,
  CertificateInfo,
  CertificateState,
  CredentialKind,
  Cloud,
  ConnectionDraft,
  ConnectionStatus,
  ConnectionView,
  Counts,
  DataCheck,
  DataKind,
  DataSelection,
  DataState,
  ErrorCode,
  FieldError,
  Frequency,
  EntityChange,
  IpcError,
  RiskCounts,
  RunStatus,
  StartupProblem,
  SyncRun,
  SyncUpdate,
  SyncUpdateKind,
  TestCode,
  TestReport,
} from "../bindings";
import type {
  AccountView,
  AddressLink,
  AlertCounts,
  AlertView,
  AssetDetail,
  AssetHit,
  AssetRisk,
  Attribution,
  ConnectionRef,
  DefenderRating,
  ExportFormat,
  ExportOutcome,
  IpTimeline,
  Lease,
  LinkedValue,
  LiveDevice,
  OsInfo,
  QueryInfo,
  Relation,
  RelationKind,
  RelationSource,
  RiskComponent,
  RiskFactor,
  RiskLevel,
  RunRef,
  SearchRequest,
  SearchResults,
  SortKey,
  TimelineSpan,
  VulnerabilityView,
  VulnerabilitySummary,
} from "../bindings";

export type {
  ApiCallCount,
  AppInfo,
  CertificateFiles,
  CertificateImport,
  CertificateInfo,
  CertificateState,
  CredentialKind,
  Cloud,
  ConnectionDraft,
  ConnectionStatus,
  ConnectionView,
  Counts,
  DataCheck,
  DataKind,
  DataSelection,
  DataState,
  ErrorCode,
  FieldError,
  Frequency,
  EntityChange,
  IpcError,
  RiskCounts,
  RunStatus,
  StartupProblem,
  SyncRun,
  SyncUpdate,
  SyncUpdateKind,
  TestCode,
  TestReport,
};
export type {
  AccountView,
  AddressLink,
  AlertCounts,
  AlertView,
  AssetDetail,
  AssetHit,
  AssetRisk,
  Attribution,
  ConnectionRef,
  DefenderRating,
  ExportFormat,
  ExportOutcome,
  IpTimeline,
  Lease,
  LinkedValue,
  LiveDevice,
  OsInfo,
  QueryInfo,
  Relation,
  RelationKind,
  RelationSource,
  RiskComponent,
  RiskFactor,
  RiskLevel,
  RunRef,
  SearchRequest,
  SearchResults,
  SortKey,
  TimelineSpan,
  VulnerabilityView,
  VulnerabilitySummary,
};

// A Record so that a code Rust adds fails the type check here until it is listed.
const ERROR_CODE_SET: Record<ErrorCode, true> = {
  validation: true,
  not_found: true,
  duplicate_name: true,
  keyring: true,
  storage: true,
  demo: true,
  already_running: true,
  defender: true,
  internal: true,
};
const ERROR_CODES = Object.keys(ERROR_CODE_SET) as readonly ErrorCode[];

export function isIpcError(e: unknown): e is IpcError {
  if (typeof e !== "object" || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    typeof o.code === "string" &&
    (ERROR_CODES as readonly string[]).includes(o.code) &&
    typeof o.message === "string" &&
    Array.isArray(o.fields)
  );
}

/** Turns anything thrown into an IpcError, so a missing command or a Tauri-level failure reads like ours. */
export function toIpcError(e: unknown): IpcError {
  if (isIpcError(e)) return e;
  return { code: "internal", message: errorText(e), fields: [] };
}

/** One readable line for any throwable: IpcError, Error, string, or something stranger. */
export function errorText(e: unknown): string {
  if (isIpcError(e)) return e.message;
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  if (typeof e === "object" && e !== null && "message" in e) {
    const m = (e as { message: unknown }).message;
    if (typeof m === "string") return m;
  }
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

// Fallible Rust commands come back as a Result (tauri-specta's typedError); infallible ones as the bare value.
async function unwrap<T>(pending: Promise<Result<T, IpcError>>): Promise<T> {
  let result: Result<T, IpcError>;
  try {
    result = await pending;
  } catch (e) {
    throw toIpcError(e);
  }
  if (result.status === "ok") return result.data;
  throw toIpcError(result.error);
}

async function plain<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (e) {
    throw toIpcError(e);
  }
}

export const api = {
  listConnections: () => unwrap(commands.listConnections()),
  validateConnection: (draft: ConnectionDraft, editingId: string | null) =>
    unwrap(commands.validateConnection(draft, editingId)),
  addConnection: (draft: ConnectionDraft) => unwrap(commands.addConnection(draft)),
  updateConnection: (id: string, draft: ConnectionDraft) => unwrap(commands.updateConnection(id, draft)),
  deleteConnection: (id: string) => unwrap(commands.deleteConnection(id)),
  testConnection: (id: string) => unwrap(commands.testConnection(id)),
  testDraft: (draft: ConnectionDraft, editingId: string | null) => unwrap(commands.testDraft(draft, editingId)),
  /**
   * Reads a certificate and its key from file contents (PEM texts, or a PFX file with its password) and
   * answers with the public facts only; Rust keeps the key for the draft that names the certificate.
   */
  importCertificate: (files: CertificateFiles) => unwrap(commands.importCertificate(files)),
  requiredPermissions: (data: DataSelection) => plain(commands.requiredPermissions(data)),
  startDemo: () => unwrap(commands.startDemo()),
  appInfo: () => plain(commands.appInfo()),
  /** Starts a run in the background and returns at once; progress and the end arrive as sync updates. */
  syncNow: (id: string, full: boolean) => unwrap(commands.syncNow(id, full)),
  /** A full run that may take a much smaller device listing as true (after one was refused). */
  syncAcceptingShrink: (id: string) => unwrap(commands.syncAcceptingShrink(id)),
  /** True when a run of this connection was running in this app and has been asked to stop. */
  cancelSync: (id: string) => plain(commands.cancelSync(id)),
  /** Past runs of a connection, newest first. */
  syncRuns: (id: string, limit: number) => unwrap(commands.syncRuns(id, limit)),
  /** One page of the Explorer's results; bad input throws a `validation` error naming `query` or `at`. */
  search: (request: SearchRequest) => unwrap(commands.search(request)),
  /** Everyone who held one address, as bars on a timeline, with their risk. */
  ipTimeline: (address: string, connection: string | null) => unwrap(commands.ipTimeline(address, connection)),
  /** The device view; `reference` is the asset number from a result. */
  assetDetail: (reference: string) => unwrap(commands.assetDetail(reference)),
  /** Asks Defender live (findbyip) who had `address` at `at`; within the last 30 days only. */
  confirmAttribution: (connection: string, address: string, at: string) =>
    unwrap(commands.confirmAttribution(connection, address, at)),
  /** Every page of the results to a file (save dialog); `saved` is false when the dialog was cancelled. */
  exportSearch: (request: SearchRequest, format: ExportFormat) => unwrap(commands.exportSearch(request, format)),
  exportIpTimeline: (address: string, connection: string | null, format: ExportFormat) =>
    unwrap(commands.exportIpTimeline(address, connection, format)),
  exportAsset: (reference: string, format: ExportFormat) => unwrap(commands.exportAsset(reference, format)),
  /** Why the app could not open its data at start; null when it did. */
  startupProblem: () => plain(commands.startupProblem()),
  /** The native open dialog for a CA certificate file; null when cancelled. */
  chooseCaCertificateFile: () => unwrap(commands.chooseCaCertificateFile()),
};

export type SyncSubscription = {
  /** Resolves once the listener is registered (or failed to register: see `onError`). */
  ready: Promise<void>;
  stop: () => void;
};

/**
 * Calls `onUpdate` for every sync update Rust emits, until `stop`. Registration is asynchronous;
 * `stop` may be called at any time, also before it finished.
 */
export function subscribeSyncUpdates(
  onUpdate: (update: SyncUpdate) => void,
  onError: (message: string) => void = () => {},
): SyncSubscription {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  const ready = events.syncUpdate
    .listen((event) => {
      if (!stopped) onUpdate(event.payload);
    })
    .then(
      (off) => {
        if (stopped) off();
        else unlisten = off;
      },
      (e: unknown) => onError(errorText(e)),
    );
  return {
    ready,
    stop: () => {
      stopped = true;
      const off = unlisten;
      unlisten = null;
      // Unlistening can fail when the window is going away; nothing is left to do then.
      try {
        Promise.resolve(off?.()).catch(() => {});
      } catch {
        // as above
      }
    },
  };
}
