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
    // Ordered by gates the test opens, not by timers: `a` holds the lock until `b` has said it is waiting.
    const events: string[] = [];
    const lines: string[] = [];
    let aEntered!: () => void;
    const aHolds = new Promise<void>((resolve) => {
      aEntered = resolve;
    });
    let bWaiting!: () => void;
    const bIsWaiting = new Promise<void>((resolve) => {
      bWaiting = resolve;
    });
    const a = withUpLock(
      dir,
      (line) => lines.push(line),
      async () => {
        events.push("a start");
        aEntered();
        await bIsWaiting;
        events.push("a end");
        return "a";
      },
    );
    await aHolds;
    const b = withUpLock(
      dir,
      (line) => {
        lines.push(line);
        if (line.includes("waiting for it to finish")) bWaiting();
      },
      async () => {
        events.push("b start");
        events.push("b end");
        return "b";
      },
    );
    expect(await Promise.all([a, b])).toEqual(["a", "b"]);
    expect(events).toEqual(["a start", "a end", "b start", "b end"]);
    expect(lines.join("\n")).toContain(`another \`up\` (pid ${process.pid}) is running`);
    expect(existsSync(join(dir, "up.lock"))).toBe(false);
  });

  it("never lets two holders in when many start at once", async () => {
    let inside = 0;
    let most = 0;
    const body = async () => {
      inside++;
      most = Math.max(most, inside);
      // Let the other callers run their attempts while this one holds the lock.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      inside--;
    };
    await Promise.all(Array.from({ length: 3 }, () => withUpLock(dir, () => undefined, body, 60_000)));
    expect(most).toBe(1);
    expect(existsSync(join(dir, "up.lock"))).toBe(false);
  });

  it.each([
    // pid 2^22 + 1 is above Linux's pid_max limit, so no process can hold it.
    ["whose owner is gone", `${2 ** 22 + 1}\n`],
    ["that holds no pid (left by an older lab)", ""],
  ])("takes over a lock %s", async (_, content) => {
    await writeFile(join(dir, "up.lock"), content);
    const ran = await withUpLock(
      dir,
      () => undefined,
      async () => "ran",
      2_000,
    );
    expect(ran).toBe("ran");
    expect(existsSync(join(dir, "up.lock"))).toBe(false);
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
