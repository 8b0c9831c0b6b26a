// Recent searches, kept in localStorage (a UI convenience, not app data): newest first,
// without repeats, at most MAX_RECENT. Storage that is missing or full only loses the list.

export type RecentSearch = { query: string; at: string | null };

export const MAX_RECENT = 10;
const KEY = "mde-car.recent-searches";

function same(a: RecentSearch, b: RecentSearch): boolean {
  return a.query.trim().toLowerCase() === b.query.trim().toLowerCase() && (a.at ?? "") === (b.at ?? "");
}

function valid(item: unknown): item is RecentSearch {
  if (typeof item !== "object" || item === null) return false;
  const o = item as Record<string, unknown>;
  return typeof o.query === "string" && o.query.trim() !== "" && (o.at === null || typeof o.at === "string");
}

export function loadRecent(): RecentSearch[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter(valid).slice(0, MAX_RECENT) : [];
  } catch {
    return [];
  }
}

function store(list: RecentSearch[]): void {
  try {
    if (list.length === 0) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    // kept for this session only
  }
}

/** Puts `search` first (moving an equal one up rather than repeating it) and saves the list. */
export function rememberSearch(list: RecentSearch[], search: RecentSearch): RecentSearch[] {
  const item = { query: search.query.trim(), at: search.at?.trim() ? search.at.trim() : null };
  if (!item.query) return list;
  const next = [item, ...list.filter((r) => !same(r, item))].slice(0, MAX_RECENT);
  store(next);
  return next;
}

export function clearRecent(): RecentSearch[] {
  store([]);
  return [];
}

/** "10.1.2.3 @ 2026-11-20 14:00" for a chip. */
export function recentLabel(search: RecentSearch): string {
  return search.at ? `${search.query} @ ${search.at}` : search.query;
}
