import { describe, expect, it } from "vitest";
import { latest } from "./latest";

/** A promise to settle by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("latest", () => {
  it("passes the arguments and numbers the calls as they start", async () => {
    const load = latest(async (a: number, b: string) => `${a}${b}`);
    expect(load.started).toBe(0);
    const first = load(1, "x");
    expect(load.started).toBe(1);
    expect(await first).toEqual({ current: true, ok: true, value: "1x", call: 1 });
    expect(await load(2, "y")).toEqual({ current: true, ok: true, value: "2y", call: 2 });
  });

  it("only the newest call is current, whichever answers first", async () => {
    const pending = [deferred<string>(), deferred<string>()];
    let n = 0;
    const load = latest(() => pending[n++]!.promise);
    const older = load();
    const newer = load();
    pending[1]!.resolve("new");
    pending[0]!.resolve("old");
    expect(await newer).toEqual({ current: true, ok: true, value: "new", call: 2 });
    expect(await older).toEqual({ current: false, call: 1 });
  });

  it("hands the newest call's failure over instead of rejecting, and drops an older one's", async () => {
    const pending = [deferred<string>(), deferred<string>()];
    let n = 0;
    const load = latest(() => pending[n++]!.promise);
    const older = load();
    const newer = load();
    pending[0]!.reject(new Error("old failure"));
    pending[1]!.reject("new failure");
    expect(await older).toEqual({ current: false, call: 1 });
    expect(await newer).toEqual({ current: true, ok: false, error: "new failure", call: 2 });
    const thrown = latest((): Promise<never> => {
      throw new Error("at once");
    });
    expect(await thrown()).toMatchObject({ current: true, ok: false, error: new Error("at once") });
  });

  it("invalidate makes pending calls stale; a later call is current again", async () => {
    const gate = deferred<number>();
    const load = latest((v: number) => (v === 1 ? gate.promise : Promise.resolve(v)));
    const pending = load(1);
    load.invalidate();
    gate.resolve(1);
    expect(await pending).toEqual({ current: false, call: 1 });
    expect(load.started).toBe(1);
    expect(await load(2)).toEqual({ current: true, ok: true, value: 2, call: 2 });
  });
});
