import "@testing-library/jest-dom/vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach } from "vitest";

afterEach(() => {
  clearMocks();
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});
