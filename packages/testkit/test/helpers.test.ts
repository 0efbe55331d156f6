// The small pure parts: secret masking, the GPU probe's runtime parsing, phase timing and polling.
import { describe, expect, it } from "vitest";
import {
  Masker,
  parseRuntimes,
  parseS3Uri,
  phase,
  phaseRecords,
  phaseTable,
  setPhaseWriter,
  until,
} from "../src/index.js";

describe("Masker", () => {
  it("replaces every secret by its name and says which occur", () => {
    const masker = new Masker();
    masker.add("postgres_password", "Zx8vQ2mLr7Tp0aWc4Ks9");
    masker.add("short", "abc"); // too short to be a generated secret: never masked (it would mangle ordinary text)
    const text = "url postgresql://airflow:Zx8vQ2mLr7Tp0aWc4Ks9@postgres/airflow abc";
    expect(masker.mask(text)).toBe("url postgresql://airflow:***postgres_password***@postgres/airflow abc");
    expect(masker.found(text)).toEqual(["postgres_password"]);
    expect(masker.found("nothing here")).toEqual([]);
  });
});

describe("parseRuntimes", () => {
  it("lists the engine's runtimes, nvidia included when present", () => {
    expect(
      parseRuntimes('{"io.containerd.runc.v2":{"path":"runc"},"nvidia":{"path":"nvidia-container-runtime"}}'),
    ).toEqual(["io.containerd.runc.v2", "nvidia"]);
    expect(parseRuntimes("not json")).toEqual([]);
  });
});

describe("parseS3Uri", () => {
  it("splits bucket and prefix and normalises the trailing slash", () => {
    expect(parseS3Uri("s3://e2e3d-input/sets/chair")).toEqual({ bucket: "e2e3d-input", prefix: "sets/chair/" });
    expect(parseS3Uri("s3://e2e3d-input")).toEqual({ bucket: "e2e3d-input", prefix: "" });
    expect(() => parseS3Uri("http://x/y")).toThrow(/not an s3:\/\/ URI/);
  });
});

describe("phases", () => {
  it("times each phase, failed ones included, and tabulates them", async () => {
    const lines: string[] = [];
    setPhaseWriter((l) => lines.push(l));
    await phase("quick", async () => 1);
    await expect(phase("broken", async () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    const names = phaseRecords().map((r) => `${r.name}:${r.ok}`);
    expect(names).toEqual(expect.arrayContaining(["quick:true", "broken:false"]));
    expect(lines.some((l) => /phase broken: FAILED in \d+\.\ds/.test(l))).toBe(true);
    expect(phaseTable()).toMatch(/^phase\s+seconds\s+result\n/);
  });

  it("polls until a value comes, and gives up with the last reason", async () => {
    let n = 0;
    expect(
      await until("count", async () => (++n >= 3 ? { value: n, reason: "" } : { reason: `n=${n}` }), {
        timeoutMs: 5000,
        intervalMs: 1,
      }),
    ).toBe(3);
    await expect(
      until("never", async () => ({ reason: "still no" }), { timeoutMs: 20, intervalMs: 5 }),
    ).rejects.toThrow(/never: gave up after \d+s: still no/);
  });
});
