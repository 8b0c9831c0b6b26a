// Live sync state for the whole window. It listens to Rust's sync updates once (App starts it),
// keeps each connection's progress until its run finishes, then reloads the connection list so
// the card shows the new counts and status. It also runs the card's Sync now and Cancel.
import {
  api,
  errorText,
  isIpcError,
  subscribeSyncUpdates,
  type ConnectionView,
  type SyncSubscription,
  type SyncUpdate,
} from "../../ipc";
import { connectionList } from "../connections/connectionList.svelte";
import type { LiveRun } from "./progress";

export type Notice = { tone: "error" | "info"; text: string };

/** How long Sync now waits for its `started` before asking Rust whether the run is alive. */
export const START_CHECK_MS = 5000;

function blank(phase: LiveRun["phase"]): LiveRun {
  return {
    phase,
    runId: null,
    full: null,
    step: null,
    page: null,
    items: null,
    estimatedTotal: null,
    waitUntil: null,
    waitByService: null,
  };
}

class SyncState {
  /** Runs this window knows are going on, by connection id. */
  live = $state<Record<string, LiveRun>>({});
  /** One message per connection from the last Sync now / Cancel (already running, did not start, …). */
  notices = $state<Record<string, Notice>>({});
  /** Bumped whenever a run starts or ends, so views that show runs reload them. */
  runsVersion = $state(0);
  /** Whether the window hears sync updates; false until the listener is registered. */
  listening = $state(false);
  listenError = $state<string | null>(null);
  /** A clock that ticks every second while a rate-limit wait is counting down. */
  now = $state(Date.now());

  #subscription: SyncSubscription | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #attempt: Record<string, number> = {};
  // A list answer requested before a run's `finished` may still say it is syncing: per
  // connection, the last load number whose `syncing` is out of date.
  #staleUpTo = $state<Record<string, number>>({});

  /** Starts listening (once; later calls return the same registration). */
  start(): Promise<void> {
    if (this.#subscription) return this.#subscription.ready;
    this.listenError = null;
    const sub = subscribeSyncUpdates(
      (update) => this.handle(update),
      (message) => {
        this.listenError = message;
      },
    );
    this.#subscription = sub;
    return sub.ready.then(() => {
      if (this.#subscription === sub && this.listenError === null) this.listening = true;
    });
  }

  /** Stops listening and forgets everything (app teardown, tests). */
  reset(): void {
    this.#subscription?.stop();
    this.#subscription = null;
    this.listening = false;
    this.listenError = null;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#stopTicker();
    this.#attempt = {};
    this.#staleUpTo = {};
    this.live = {};
    this.notices = {};
  }

  isSyncing(c: ConnectionView): boolean {
    if (c.id in this.live) return true;
    const stale = this.#staleUpTo[c.id];
    return c.syncing && (stale === undefined || connectionList.shownLoad > stale);
  }

  run(id: string): LiveRun | undefined {
    return this.live[id];
  }

  notice(id: string): Notice | undefined {
    return this.notices[id];
  }

  dismiss(id: string): void {
    delete this.notices[id];
  }

  handle(u: SyncUpdate): void {
    if (u.kind === "connections_changed") {
      void connectionList.load();
      return;
    }
    if (u.kind === "store_changed") {
      // The CLI or a daemon synced into the same database: new counts, statuses and runs.
      this.runsVersion++;
      void connectionList.load();
      return;
    }
    const id = u.connectionId;
    if (!id) return;
    const current = this.live[id];
    switch (u.kind) {
      case "started":
        this.live[id] = {
          ...blank(current?.phase === "cancelling" ? "cancelling" : "running"),
          runId: u.runId,
          full: u.full,
        };
        delete this.notices[id];
        delete this.#staleUpTo[id];
        this.runsVersion++;
        // The card's pill and next-sync follow Rust; a run started by the scheduler needs the list too.
        void connectionList.load();
        break;
      case "progress":
        this.live[id] = {
          ...(current ?? blank("running")),
          phase: current?.phase === "cancelling" ? "cancelling" : "running",
          step: u.step,
          page: u.page,
          items: u.items,
          estimatedTotal: u.estimatedTotal,
          waitUntil: null,
        };
        break;
      case "throttled":
        this.live[id] = {
          ...(current ?? blank("running")),
          phase: current?.phase === "cancelling" ? "cancelling" : "running",
          waitUntil: Date.now() + (u.waitSecs ?? 0) * 1000,
          waitByService: u.byService ?? null,
        };
        this.#startTicker();
        break;
      case "finished":
        delete this.live[id];
        if (u.runId === null) {
          // The run could not start: Rust says why (no secret in the keyring, another process
          // is syncing this connection, …).
          this.notices[id] =
            u.errorCode === "already_running"
              ? {
                  tone: "info",
                  text: "This connection is already syncing in another mde-car process (the command line or a daemon). Wait for that run to finish.",
                }
              : { tone: "error", text: `Sync could not start: ${u.summary ?? "unknown error"}` };
        }
        this.#staleUpTo[id] = connectionList.lastStarted;
        this.#attempt[id] = (this.#attempt[id] ?? 0) + 1;
        this.runsVersion++;
        void connectionList.load();
        break;
    }
  }

  /** Sync now: starts an incremental run (Rust makes it full when nothing was synced yet). */
  async syncNow(c: ConnectionView): Promise<void> {
    return this.#start(c, () => api.syncNow(c.id, false));
  }

  /** A full run that accepts a much smaller device listing than the last one refused. */
  async syncAcceptingShrink(c: ConnectionView): Promise<void> {
    return this.#start(c, () => api.syncAcceptingShrink(c.id));
  }

  async #start(c: ConnectionView, start: () => Promise<null>): Promise<void> {
    if (this.isSyncing(c)) return;
    const id = c.id;
    const attempt = (this.#attempt[id] = (this.#attempt[id] ?? 0) + 1);
    this.live[id] = blank("starting");
    delete this.notices[id];
    try {
      await start();
      this.#checkStarted(id, attempt);
    } catch (e) {
      if (this.live[id]?.phase === "starting") delete this.live[id];
      if (isIpcError(e) && e.code === "already_running") {
        this.notices[id] = {
          tone: "info",
          text: `“${c.name}” is already syncing — in this window or in the mde-car command line. Wait for that run to finish.`,
        };
        void connectionList.load();
      } else {
        this.notices[id] = { tone: "error", text: `Sync could not start: ${errorText(e)}` };
      }
    }
  }

  async cancel(c: ConnectionView): Promise<void> {
    const id = c.id;
    const before = this.live[id];
    this.live[id] = { ...(before ?? blank("running")), phase: "cancelling" };
    delete this.notices[id];
    try {
      const stopping = await api.cancelSync(id);
      if (!stopping) {
        if (this.live[id]?.phase === "cancelling") delete this.live[id];
        this.notices[id] = {
          tone: "info",
          text: "No sync of this connection is running in this app. A run started from the mde-car command line stops only there.",
        };
        void connectionList.load();
      }
      // Otherwise the run ends with a `finished` update (status cancelled).
    } catch (e) {
      if (this.live[id]?.phase === "cancelling") {
        if (before) this.live[id] = before;
        else delete this.live[id];
      }
      this.notices[id] = { tone: "error", text: `Couldn't cancel the sync: ${errorText(e)}` };
    }
  }

  // Rust answers Sync now before the run begins, and a run that cannot begin ends with a
  // `finished` without a run id. Should neither `started` nor that arrive (an event lost to a
  // window that lagged), ask the list whether the connection is still syncing.
  #checkStarted(id: string, attempt: number): void {
    const timer = setTimeout(async () => {
      this.#timers.delete(timer);
      if (this.#attempt[id] !== attempt || this.live[id]?.phase !== "starting") return;
      await connectionList.load();
      if (this.#attempt[id] !== attempt || this.live[id]?.phase !== "starting") return;
      const c = connectionList.byId(id);
      if (c?.syncing) {
        this.#checkStarted(id, attempt);
        return;
      }
      delete this.live[id];
      if (c) {
        this.notices[id] = {
          tone: "error",
          text: "The sync did not start. The app's log (its folder is shown in Settings) says why; try Test to check the connection.",
        };
      }
    }, START_CHECK_MS);
    this.#timers.add(timer);
  }

  #startTicker(): void {
    this.now = Date.now();
    if (this.#ticker) return;
    this.#ticker = setInterval(() => {
      this.now = Date.now();
      const waiting = Object.values(this.live).some((r) => r.waitUntil !== null && r.waitUntil > this.now - 1000);
      if (!waiting) this.#stopTicker();
    }, 1000);
  }

  #stopTicker(): void {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
  }
}

export const syncState = new SyncState();
