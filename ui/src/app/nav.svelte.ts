// Which rail page is shown. A store rather than App's own state so a page can send the user to
// another one (a card's "History" opens Sync history on that connection).
import { DEFAULT_ROUTE, FIRST_RUN_ROUTE } from "./defaultRoute";

class Nav {
  /** "" until the start page is settled, so the first start does not flash the Explorer. */
  current = $state("");
  /** Whether the person (or a page) has chosen a page yet; until then the start page may change. */
  #chosen = false;

  go(id: string): void {
    this.#chosen = true;
    this.current = id;
  }

  /**
   * Picks the start page once the connections are known: the Explorer when there is one, the
   * welcome panel on Connections when there is none. A page already chosen stays.
   */
  settle(connectionCount: number): void {
    if (this.#chosen) return;
    this.#chosen = true;
    this.current = connectionCount > 0 ? DEFAULT_ROUTE : FIRST_RUN_ROUTE;
  }

  reset(): void {
    this.#chosen = false;
    this.current = "";
  }
}

export const nav = new Nav();
