// Theme choice lives in localStorage (a UI preference, not app data). "system" follows prefers-color-scheme.

export type ThemeChoice = "system" | "light" | "dark";

const KEY = "mde-car.theme";

function read(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    if (v === "light" || v === "dark" || v === "system") return v;
  } catch {
    // storage unavailable: fall back to the OS
  }
  return "system";
}

let choice = $state<ThemeChoice>(read());

export function applyTheme(value: ThemeChoice = choice): void {
  const root = document.documentElement;
  if (value === "system") delete root.dataset.theme;
  else root.dataset.theme = value;
}

export const theme = {
  get choice(): ThemeChoice {
    return choice;
  },
  set(value: ThemeChoice): void {
    choice = value;
    try {
      localStorage.setItem(KEY, value);
    } catch {
      // still applied for this session
    }
    applyTheme(value);
  },
};
