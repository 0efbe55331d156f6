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
    const lock = join(dir, "build.lock");
    const events: string[] = [];
    const holder = (name: string) =>
      withLock(
        lock,
        () => {},
        10_000,
        async () => {
          events.push(`${name} in`);
          await new Promise((resolve) => setTimeout(resolve, 50));
          events.push(`${name} out`);
        },
      );
    await Promise.all([holder("a"), holder("b")]);
    expect(events).toHaveLength(4);
    expect(events[0]!.split(" ")[0]).toBe(events[1]!.split(" ")[0]);
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
