// The connections as Rust last listed them, shared by the Connections page, Sync history and the
// sync store (which reloads it when a run ends or a connection changes).
import { api, errorText, type ConnectionView } from "../../ipc";
import { latest } from "../../lib/latest";

export type ListPhase = "loading" | "ready" | "failed";

class ConnectionList {
  items = $state.raw<ConnectionView[]>([]);
  phase = $state<ListPhase>("loading");
  /** The last load's error; the list keeps what it had before. */
  error = $state<string | null>(null);

  /** The number of the load whose answer is shown (loads are numbered as they start). */
  shownLoad = $state(0);

  // Loads may overlap (a run ends while the page loads); only the newest one's answer counts.
  #list = latest(() => api.listConnections());

  /** The number of the last load started; an answer numbered at most this predates now. */
  get lastStarted(): number {
    return this.#list.started;
  }

  async load(): Promise<void> {
    const answer = await this.#list();
    if (!answer.current) return;
    if (answer.ok) {
      this.items = answer.value;
      this.shownLoad = answer.call;
      this.error = null;
      this.phase = "ready";
    } else {
      this.error = errorText(answer.error);
      if (this.phase === "loading") this.phase = "failed";
    }
  }

  /** Shows the loading state again, then loads (the "Try again" of a failed first load). */
  async reload(): Promise<void> {
    this.phase = "loading";
    await this.load();
  }

  byId(id: string): ConnectionView | undefined {
    return this.items.find((c) => c.id === id);
  }

  /** Drops a deleted connection at once, before the reload confirms it. */
  remove(id: string): void {
    this.items = this.items.filter((c) => c.id !== id);
  }

  /** Back to the first-load state (tests). */
  reset(): void {
    this.#list.invalidate();
    this.shownLoad = 0;
    this.items = [];
    this.phase = "loading";
    this.error = null;
  }
}

export const connectionList = new ConnectionList();
