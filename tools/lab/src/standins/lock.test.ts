// Unit tests of the build lock: callers take turns, and a lock left by a dead process is taken over.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TimeoutError } from "../errors.js";
import { withLock } from "./lock.js";

describe("withLock", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "standin-lock-"));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("runs one holder at a time and removes the lock afterwards", async () => {
    // Ordered by gates the test opens, not by timers: `a` holds the lock until `b` has said it is waiting.
    const lock = join(dir, "build.lock");
    const events: string[] = [];
    let aEntered!: () => void;
    const aHolds = new Promise<void>((resolve) => {
      aEntered = resolve;
    });
    let bWaiting!: () => void;
    const bIsWaiting = new Promise<void>((resolve) => {
      bWaiting = resolve;
    });
    const a = withLock(
      lock,
      () => {},
      10_000,
      async () => {
        events.push("a in");
        aEntered();
        await bIsWaiting;
        events.push("a out");
      },
    );
    await aHolds;
    const b = withLock(
      lock,
      (line) => {
        if (line.includes(`pid ${process.pid}`)) bWaiting();
      },
      10_000,
      async () => {
        events.push("b in");
        events.push("b out");
      },
    );
    await Promise.all([a, b]);
    expect(events).toEqual(["a in", "a out", "b in", "b out"]);
    expect(existsSync(lock)).toBe(false);
  });

  it("never lets two holders in when many start at once", async () => {
    const lock = join(dir, "build.lock");
    let inside = 0;
    let most = 0;
    const work = async () => {
      inside++;
      most = Math.max(most, inside);
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      inside--;
    };
    await Promise.all(Array.from({ length: 3 }, () => withLock(lock, () => {}, 60_000, work)));
    expect(most).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  it("takes over a lock whose owner is gone", async () => {
    const lock = join(dir, "build.lock");
    // PIDs are below 2^22 on Linux: this one cannot be running.
    await writeFile(lock, "99999999");
    expect(
      await withLock(
        lock,
        () => {},
        5_000,
        async () => "done",
      ),
    ).toBe("done");
  });

  it("gives up with a clear error when a live owner keeps it", async () => {
    const lock = join(dir, "build.lock");
    await writeFile(lock, String(process.pid));
    await expect(
      withLock(
        lock,
        () => {},
        10,
        async () => "never",
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
  });
});
