// Which rail page is shown. A store rather than App's own state so a page can send the user to
// another one (a card's "History" opens Sync history on that connection).
import { DEFAULT_ROUTE } from "./defaultRoute";

class Nav {
  current = $state(DEFAULT_ROUTE);

  go(id: string): void {
    this.current = id;
  }

  reset(): void {
    this.current = DEFAULT_ROUTE;
  }
}

export const nav = new Nav();
