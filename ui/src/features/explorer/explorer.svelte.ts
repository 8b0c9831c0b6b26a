// The Explorer's state for the whole window: the search box, the last results, the stack of
// views opened from them (IP view, device view) and the recent searches. A store rather than
// page state, so leaving the Explorer for another rail page and coming back keeps the search.
import { api, errorText, isIpcError, type SearchRequest, type SearchResults, type SortKey } from "../../ipc";
import { latest } from "../../lib/latest";
import { clearRecent, loadRecent, rememberSearch, type RecentSearch } from "./recent";

export const PAGE_SIZE = 50;

export type View =
  | { kind: "results" }
  | { kind: "ip"; address: string; at: string | null; connection: string | null }
  | { kind: "asset"; reference: string; label: string };

/** Why the last search has no answer; `field` says which input the message belongs under. */
export type Problem = { field: "query" | "at" | null; message: string };

export function problemOf(error: unknown): Problem {
  if (isIpcError(error)) {
    const field = error.fields.find((f) => f.field === "query" || f.field === "at");
    if (field) return { field: field.field as "query" | "at", message: field.message };
    return { field: error.code === "validation" ? "query" : null, message: error.message };
  }
  return { field: null, message: errorText(error) };
}

class Explorer {
  query = $state("");
  at = $state("");
  /** A connection id, or "" for all of them. */
  connection = $state("");
  sort = $state<SortKey>("relevance");
  reverse = $state(false);
  results = $state.raw<SearchResults | null>(null);
  /** The request that gave `results`: paging and sorting repeat it, export sends it. */
  request = $state.raw<SearchRequest | null>(null);
  problem = $state<Problem | null>(null);
  busy = $state(false);
  views = $state.raw<View[]>([]);
  recent = $state.raw<RecentSearch[]>(loadRecent());
  /** Bumped to ask the search box to take the focus (Ctrl+K, Esc from the table). */
  focusToken = $state(0);
  /** The asset whose row gets the focus when the results show again. */
  returnTo = $state<number | null>(null);

  // Searches may overlap (Enter, then a sort while the first is out); only the newest one's answer counts.
  #search = latest((request: SearchRequest) => api.search(request));

  get view(): View {
    return this.views.at(-1) ?? { kind: "results" };
  }

  /** Runs the search box's search from the first page, and remembers it. */
  async search(): Promise<void> {
    await this.#run(
      {
        query: this.query,
        at: this.at.trim() ? this.at.trim() : null,
        connection: this.connection || null,
        sort: this.sort,
        reverse: this.reverse,
        offset: 0,
        limit: PAGE_SIZE,
      },
      true,
    );
  }

  /** Sorts by `key`; the same key again flips the direction. */
  async sortBy(key: SortKey): Promise<void> {
    if (this.sort === key) this.reverse = !this.reverse;
    else {
      this.sort = key;
      this.reverse = false;
    }
    if (this.request) await this.#run({ ...this.request, sort: this.sort, reverse: this.reverse, offset: 0 }, false);
  }

  /** Moves `pages` pages forward (or back when negative). */
  async page(pages: number): Promise<void> {
    const r = this.request;
    const total = this.results?.total ?? 0;
    if (!r) return;
    const offset = Math.min(Math.max(0, r.offset + pages * r.limit), Math.max(0, total - 1));
    if (offset === r.offset) return;
    await this.#run({ ...r, offset }, false);
  }

  async #run(request: SearchRequest, remember: boolean): Promise<void> {
    this.busy = true;
    const answer = await this.#search(request);
    if (!answer.current) return;
    this.busy = false;
    if (answer.ok) {
      this.results = answer.value;
      this.request = request;
      this.problem = null;
      this.views = [];
      this.returnTo = null;
      if (remember) this.recent = rememberSearch(this.recent, { query: request.query, at: request.at });
    } else {
      this.problem = problemOf(answer.error);
      this.results = null;
      this.request = null;
      this.views = [];
    }
  }

  useRecent(search: RecentSearch): Promise<void> {
    this.query = search.query;
    this.at = search.at ?? "";
    return this.search();
  }

  clearRecent(): void {
    this.recent = clearRecent();
  }

  openIp(address: string): void {
    const r = this.request;
    this.views = [...this.views, { kind: "ip", address, at: r?.at ?? this.results?.query.at ?? null, connection: r?.connection ?? null }];
  }

  openAsset(reference: string, label: string): void {
    if (this.views.length === 0) this.returnTo = Number(reference);
    this.views = [...this.views, { kind: "asset", reference, label }];
  }

  /** Closes the top view; true when there was one. */
  back(): boolean {
    if (this.views.length === 0) return false;
    this.views = this.views.slice(0, -1);
    if (this.views.length === 0 && this.returnTo === null) this.focusToken++;
    return true;
  }

  focusSearch(): void {
    this.views = [];
    this.focusToken++;
  }

  /** Back to a fresh start (tests). */
  reset(): void {
    this.#search.invalidate();
    this.query = "";
    this.at = "";
    this.connection = "";
    this.sort = "relevance";
    this.reverse = false;
    this.results = null;
    this.request = null;
    this.problem = null;
    this.busy = false;
    this.views = [];
    this.recent = loadRecent();
    this.focusToken = 0;
    this.returnTo = null;
  }
}

export const explorer = new Explorer();
