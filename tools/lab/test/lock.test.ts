import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withUpLock } from "../src/lock.js";

describe("the up lock", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lab-lock-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("runs two concurrent bodies one after the other and releases the lock", async () => {
    const events: string[] = [];
    const lines: string[] = [];
    const body = (name: string) => async () => {
      events.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      events.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([
      withUpLock(dir, (line) => lines.push(line), body("a")),
      withUpLock(dir, (line) => lines.push(line), body("b")),
    ]);
    expect(results).toEqual(["a", "b"]);
    expect(events).toEqual(["a start", "a end", "b start", "b end"]);
    expect(lines.join("\n")).toContain("waiting for it to finish");
    expect(existsSync(join(dir, "up.lock"))).toBe(false);
  });

  it("takes over a lock whose owner is gone", async () => {
    // pid 2^22 + 1 is above Linux's pid_max limit, so no process can hold it.
    await writeFile(join(dir, "up.lock"), `${2 ** 22 + 1}\n`);
    expect(
      await withUpLock(
        dir,
        () => undefined,
        async () => "ran",
        2_000,
      ),
    ).toBe("ran");
  });

  it("gives up with a clear error when the lock stays held past the deadline", async () => {
    await writeFile(join(dir, "up.lock"), `${process.pid}\n`);
    await expect(
      withUpLock(
        dir,
        () => undefined,
        async () => "never",
        300,
      ),
    ).rejects.toMatchObject({
      name: "TimeoutError",
      hint: expect.stringContaining(`remove ${join(dir, "up.lock")}`),
    });
    await rm(join(dir, "up.lock"), { force: true });
  });
});
