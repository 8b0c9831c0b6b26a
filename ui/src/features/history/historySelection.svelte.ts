// The connection Sync history shows, remembered across restarts (a UI preference, like the theme).

const KEY = "mde-car.history.connection";

function read(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

class HistorySelection {
  id = $state<string | null>(read());

  set(id: string): void {
    this.id = id;
    try {
      localStorage.setItem(KEY, id);
    } catch {
      // kept for this session
    }
  }

  /** The remembered connection when it still exists, else the first one. */
  pick<T extends { id: string }>(list: T[]): T | undefined {
    return list.find((c) => c.id === this.id) ?? list[0];
  }

  reset(): void {
    this.id = read();
  }
}

export const historySelection = new HistorySelection();
